//! The fuzzer's error type: what stops a run before it can report.

use std::io;
use std::path::PathBuf;

/// Why a fuzz run could not be carried out (a finding is not an error: it
/// is reported in [`crate::runner::Report::crash`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target's corpus directory exists but cannot be listed.
    #[error("cannot list corpus directory {path}: {source}")]
    CorpusDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A corpus file (or a `--replay` file) cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No target was named.
    #[error("name a target, or `all` (`--list` shows the targets)")]
    NoTarget,
    /// No target has this name.
    #[error("unknown target {name:?} (`--list` shows the targets)")]
    UnknownTarget {
        /// The name given.
        name: String,
    },
    /// The worker thread could not be started.
    #[error("cannot start the fuzz worker thread: {0}")]
    Thread(#[source] io::Error),
    /// The worker thread died outside of a target call (a fuzzer bug).
    #[error("the fuzz worker thread panicked outside a target call")]
    Worker,
}
