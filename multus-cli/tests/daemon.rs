//! End to end tests of `multus-daemon` (filled in below).
