//! The committed seed corpus, `fuzz/corpus/<target>/`, one input per file,
//! and the list of corpus inputs that crash a crate today.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::Error;

/// `fuzz/corpus` in this source tree.
pub fn default_corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// `fuzz/artifacts` in this source tree (gitignored): where crashing inputs go.
pub fn default_artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

/// One corpus input.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The file name.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

/// A corpus input kept as a reproducer of a crash that is not fixed yet;
/// the smoke test and the fuzzer's replay skip it (it would stop every run).
#[derive(Debug, Clone, Copy)]
pub struct KnownCrash {
    /// The target.
    pub target: &'static str,
    /// The file name under `corpus/<target>/`.
    pub file: &'static str,
    /// What panics, for whoever fixes it; remove the entry with the fix.
    pub note: &'static str,
}

/// Crashing inputs committed to the corpus whose fix has not landed yet.
pub const KNOWN_CRASHES: &[KnownCrash] = &[];

/// Whether `corpus/<target>/<file>` is listed in [`KNOWN_CRASHES`].
pub fn is_known_crash(target: &str, file: &str) -> bool {
    KNOWN_CRASHES
        .iter()
        .any(|k| k.target == target && k.file == file)
}

/// The inputs in `dir/<target>/`, sorted by file name (so runs are
/// deterministic). A missing directory is an empty corpus.
pub fn load(dir: &Path, target: &str) -> Result<Vec<Seed>, Error> {
    let dir = dir.join(target);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::CorpusDir { path: dir, source }),
    };
    let mut seeds = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::CorpusDir {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path).map_err(|source| Error::ReadInput {
            path: path.clone(),
            source,
        })?;
        seeds.push(Seed {
            name: entry.file_name().to_string_lossy().into_owned(),
            bytes,
        });
    }
    seeds.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(seeds)
}
