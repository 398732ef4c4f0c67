//! Keeping the last good config while the primary is broken.
//!
//! A primary config caught mid-write (or broken for a while) must not take
//! Multus off the node. Upstream's thick manager writes an empty
//! `00-multus.conf` then; here, as in the thin entrypoint's watch loop, the
//! last good file stays, the failure is reported once (again only when it
//! changes), and the next change of the primary tries again.

/// Remembers the failure last reported, so a repeated one stays quiet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FailureLatch {
    last: Option<String>,
}

impl FailureLatch {
    /// A latch with no failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failed regeneration; `true` when it should be reported
    /// (the first failure, or one that differs from the previous).
    pub fn failed(&mut self, error: &str) -> bool {
        if self.last.as_deref() == Some(error) {
            return false;
        }
        self.last = Some(error.to_owned());
        true
    }

    /// Records a successful regeneration; `true` when it ends a run of failures.
    pub fn succeeded(&mut self) -> bool {
        self.last.take().is_some()
    }

    /// The failure being kept quiet, if any.
    pub fn current(&self) -> Option<&str> {
        self.last.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changes_only() {
        let mut l = FailureLatch::new();
        assert!(!l.succeeded());
        assert!(l.failed("a"));
        assert!(!l.failed("a"));
        assert!(l.failed("b"));
        assert_eq!(l.current(), Some("b"));
        assert!(l.succeeded());
        assert!(!l.succeeded());
        assert!(l.failed("b"));
    }
}
