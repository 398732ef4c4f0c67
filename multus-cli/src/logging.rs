//! Logging as upstream Multus does it: four levels, lines of the form
//! `<RFC 3339 time> [<level>] <message>`, to stderr and/or a log file with
//! size-based rotation (backups, age, gzip compression).
//!
//! Unlike upstream's thin plugin, `logOptions` take effect (upstream applies
//! them before the file logger exists, so they are silently ignored there).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use multus_types::{
    DEFAULT_LOG_COMPRESS, DEFAULT_LOG_MAX_AGE, DEFAULT_LOG_MAX_BACKUPS, DEFAULT_LOG_MAX_SIZE,
    LogOptions,
};

/// Log levels, least verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only panics (the default).
    Panic,
    /// Errors.
    Error,
    /// Progress of each operation.
    Verbose,
    /// Everything.
    Debug,
}

impl Level {
    /// Parses a level name, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => Self::Debug,
            "verbose" => Self::Verbose,
            "error" => Self::Error,
            "panic" => Self::Panic,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Error => "error",
            Self::Verbose => "verbose",
            Self::Debug => "debug",
        }
    }
}

struct Logger {
    level: Level,
    to_stderr: bool,
    file: Option<RotatingFile>,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    level: Level::Panic,
    to_stderr: true,
    file: None,
});

/// Applies the log settings of a multus config. An unknown level is reported
/// on stderr and leaves the level unchanged, as upstream; a log file that
/// cannot be opened is reported and skipped (logging never fails an operation).
pub fn configure(level: &str, to_stderr: bool, log_file: &str, options: Option<&LogOptions>) {
    let Ok(mut logger) = LOGGER.lock() else {
        return;
    };
    logger.to_stderr = to_stderr;
    if !level.is_empty() {
        match Level::parse(level) {
            Some(l) => logger.level = l,
            None => eprintln!("multus logging: cannot set logging level to {level}"),
        }
    }
    if !log_file.is_empty() {
        match RotatingFile::open(Path::new(log_file), &Rotation::from_options(options)) {
            Ok(f) => logger.file = Some(f),
            Err(e) => eprintln!("multus logging: cannot open log file {log_file}: {e}"),
        }
    }
}

/// Whether messages of `level` are written.
pub fn enabled(level: Level) -> bool {
    LOGGER.lock().is_ok_and(|l| level <= l.level)
}

/// Writes one message at `level`.
pub fn log(level: Level, message: &str) {
    let Ok(mut logger) = LOGGER.lock() else {
        return;
    };
    if level > logger.level {
        return;
    }
    let line = format!(
        "{} [{}] {}\n",
        humantime::format_rfc3339_seconds(SystemTime::now()),
        level.name(),
        message
    );
    if logger.to_stderr {
        let _ = io::stderr().write_all(line.as_bytes());
    }
    if let Some(Err(e)) = logger.file.as_mut().map(|f| f.write_line(line.as_bytes())) {
        let _ = writeln!(io::stderr(), "multus logging: cannot write log file: {e}");
    }
}

/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Debug) { $crate::logging::log($crate::logging::Level::Debug, &format!($($arg)*)) } };
}

/// Logs at verbose level.
#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Verbose) { $crate::logging::log($crate::logging::Level::Verbose, &format!($($arg)*)) } };
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Error) { $crate::logging::log($crate::logging::Level::Error, &format!($($arg)*)) } };
}

/// Logs a warning (error level, `warning: ` prefix, as upstream).
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Error) { $crate::logging::log($crate::logging::Level::Error, &format!("warning: {}", format!($($arg)*))) } };
}

/// Rotation settings (lumberjack's semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate when the file would grow past this many bytes.
    pub max_size: u64,
    /// Keep at most this many rotated files (0 = all).
    pub max_backups: usize,
    /// Remove rotated files older than this (zero = keep).
    pub max_age: Duration,
    /// Gzip rotated files.
    pub compress: bool,
}

impl Rotation {
    /// The settings of `logOptions`, defaults for absent keys.
    pub fn from_options(options: Option<&LogOptions>) -> Self {
        let o = options.cloned().unwrap_or_default();
        let non_negative = |v: i64| u64::try_from(v).unwrap_or(0);
        Self {
            max_size: non_negative(o.max_size.unwrap_or(DEFAULT_LOG_MAX_SIZE))
                .saturating_mul(1024 * 1024),
            max_backups: usize::try_from(o.max_backups.unwrap_or(DEFAULT_LOG_MAX_BACKUPS))
                .unwrap_or(0),
            max_age: Duration::from_secs(
                non_negative(o.max_age.unwrap_or(DEFAULT_LOG_MAX_AGE)).saturating_mul(86_400),
            ),
            compress: o.compress.unwrap_or(DEFAULT_LOG_COMPRESS),
        }
    }
}

/// An append-only log file that rotates itself by size.
pub struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens (creating, mode 0600) the log file for appending.
    pub fn open(path: &Path, rotation: &Rotation) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Explicitly private: the process umask may be 0 under a runtime.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            rotation: rotation.clone(),
            file,
            size,
        })
    }

    /// Appends a line, rotating first when it would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if self.rotation.max_size > 0 && self.size > 0 && self.size + len > self.rotation.max_size {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let backup = self.backup_name(SystemTime::now());
        fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        self.size = 0;
        if self.rotation.compress {
            compress(&backup)?;
        }
        self.prune()
    }

    /// `<dir>/<stem>-<UTC time with millis><.ext>`, lumberjack's backup name.
    fn backup_name(&self, at: SystemTime) -> PathBuf {
        let stamp = humantime::format_rfc3339_millis(at)
            .to_string()
            .replace(':', "-")
            .replace('Z', "");
        let (stem, ext) = self.stem_and_ext();
        self.path.with_file_name(format!("{stem}-{stamp}{ext}"))
    }

    fn stem_and_ext(&self) -> (String, String) {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.rfind('.') {
            Some(i) if i > 0 => (name[..i].to_owned(), name[i..].to_owned()),
            _ => (name, String::new()),
        }
    }

    /// Removes backups beyond `max_backups` (oldest first) and older than `max_age`.
    fn prune(&self) -> io::Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let (stem, ext) = self.stem_and_ext();
        let prefix = format!("{stem}-");
        let mut backups: Vec<(String, PathBuf)> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stamp = name.strip_prefix(&prefix)?;
                let stamp = stamp
                    .strip_suffix(".gz")
                    .unwrap_or(stamp)
                    .strip_suffix(ext.as_str())?;
                // Only our own backups: other files sharing the prefix (multus-shim.log) stay.
                is_backup_stamp(stamp).then(|| (stamp.to_owned(), e.path()))
            })
            .collect();
        // The stamp sorts chronologically; newest first.
        backups.sort_by(|a, b| b.0.cmp(&a.0));
        let now = SystemTime::now();
        for (i, (_, path)) in backups.iter().enumerate() {
            let too_many = self.rotation.max_backups > 0 && i >= self.rotation.max_backups;
            let too_old = !self.rotation.max_age.is_zero()
                && fs::metadata(path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| {
                        now.duration_since(t).unwrap_or_default() > self.rotation.max_age
                    });
            if too_many || too_old {
                fs::remove_file(path)?;
            }
        }
        Ok(())
    }
}

/// Whether `s` is a backup time stamp as [`RotatingFile`] writes it:
/// `YYYY-MM-DDTHH-MM-SS.mmm` (fixed width, so the strings sort by time).
fn is_backup_stamp(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd-dd-dd.ddd";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE).all(|(c, want)| match want {
            b'd' => c.is_ascii_digit(),
            other => c == *other,
        })
}

fn compress(path: &Path) -> io::Result<()> {
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let gz_path = PathBuf::from(gz_name);
    let mut input = File::open(path)?;
    let output = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&gz_path)?;
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    io::copy(&mut input, &mut encoder)?;
    encoder.finish()?;
    fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn levels_parse_ignoring_case() {
        assert_eq!(Level::parse("VERBOSE"), Some(Level::Verbose));
        assert_eq!(Level::parse("Debug"), Some(Level::Debug));
        assert_eq!(Level::parse("info"), None);
        assert!(Level::Panic < Level::Error && Level::Verbose < Level::Debug);
    }

    #[test]
    fn rotation_defaults_and_options() {
        let d = Rotation::from_options(None);
        assert_eq!(d.max_size, 100 * 1024 * 1024);
        assert_eq!((d.max_backups, d.compress), (5, true));
        let o = LogOptions {
            max_size: Some(1),
            max_backups: Some(2),
            max_age: Some(0),
            compress: Some(false),
        };
        let r = Rotation::from_options(Some(&o));
        assert_eq!(
            (r.max_size, r.max_backups, r.max_age, r.compress),
            (1 << 20, 2, Duration::ZERO, false)
        );
    }

    #[test]
    fn only_our_backups_are_pruned() {
        assert!(is_backup_stamp("2026-11-28T01-47-11.123"));
        assert!(!is_backup_stamp("shim"));
        assert!(!is_backup_stamp("2026-11-28T01-47-11"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multus.log");
        // Neighbours that share the prefix and extension, old and "newer" by name.
        for other in ["multus-shim.log", "multus-daemon.log", "multus-zzz.log.gz"] {
            fs::write(dir.path().join(other), b"keep").unwrap();
        }
        let rotation = Rotation {
            max_size: 10,
            max_backups: 1,
            max_age: Duration::ZERO,
            compress: false,
        };
        let mut f = RotatingFile::open(&path, &rotation).unwrap();
        for _ in 0..3 {
            f.write_line(b"0123456789").unwrap();
            std::thread::sleep(Duration::from_millis(3));
        }
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for other in ["multus-shim.log", "multus-daemon.log", "multus-zzz.log.gz"] {
            assert!(
                names.contains(&other.to_owned()),
                "{other} was removed: {names:?}"
            );
        }
        let backups = names
            .iter()
            .filter(|n| n.len() == "multus-".len() + 23 + ".log".len())
            .count();
        assert_eq!(backups, 1, "{names:?}");
    }

    #[test]
    fn rotates_compresses_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("multus.log");
        let rotation = Rotation {
            max_size: 100,
            max_backups: 2,
            max_age: Duration::ZERO,
            compress: true,
        };
        let mut f = RotatingFile::open(&path, &rotation).unwrap();
        let line = [b'x'; 60];
        for _ in 0..5 {
            f.write_line(&line).unwrap();
            // Distinct backup names need distinct milliseconds.
            std::thread::sleep(Duration::from_millis(3));
        }
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"multus.log".to_owned()));
        let gz: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("multus-") && n.ends_with(".log.gz"))
            .collect();
        assert_eq!(gz.len(), 2, "{names:?}");
        // A backup holds one rotated line, gzipped.
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(File::open(dir.path().join(gz[0])).unwrap())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, line);
        assert_eq!(fs::metadata(&path).unwrap().len(), 60);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
