//! Upstream's log line format, `<RFC 3339 time> [<level>] <message>`, to
//! stderr and/or an appended log file. Unlike upstream (lumberjack) the file
//! is not rotated: the shim logs a few lines per call, and only when asked.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Log levels, least verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing but panics (the default).
    Panic,
    /// Errors.
    Error,
    /// Progress.
    Verbose,
    /// Everything.
    Debug,
}

impl Level {
    /// Parses a level name, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "panic" => Self::Panic,
            "error" => Self::Error,
            "verbose" => Self::Verbose,
            "debug" => Self::Debug,
            _ => return None,
        })
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Error => "error",
            Self::Verbose => "verbose",
            Self::Debug => "debug",
        }
    }
}

/// Where log lines go.
#[derive(Debug)]
pub struct Logger {
    level: Level,
    to_stderr: bool,
    file: Option<File>,
}

impl Default for Logger {
    fn default() -> Self {
        Self {
            level: Level::Panic,
            to_stderr: false,
            file: None,
        }
    }
}

impl Logger {
    /// A logger from the config's `logLevel`, `logToStderr` and `logFile`.
    /// Problems with these settings are reported on stderr and never fail
    /// the operation.
    pub fn new(level: &str, to_stderr: bool, file: &str) -> Self {
        let mut logger = Self {
            to_stderr,
            ..Self::default()
        };
        if !level.is_empty() {
            match Level::parse(level) {
                Some(l) => logger.level = l,
                None => eprintln!("multus logging: cannot set logging level to {level}"),
            }
        }
        if !file.is_empty() {
            match OpenOptions::new().create(true).append(true).open(file) {
                Ok(f) => logger.file = Some(f),
                Err(e) => eprintln!("multus logging: cannot open log file {file}: {e}"),
            }
        }
        logger
    }

    /// Writes `message` at `level` if the level is enabled.
    pub fn log(&mut self, level: Level, message: impl std::fmt::Display) {
        if level > self.level || (!self.to_stderr && self.file.is_none()) {
            return;
        }
        let line = format!(
            "{} [{}] {message}\n",
            rfc3339_utc(SystemTime::now()),
            level.name()
        );
        if self.to_stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if let Some(f) = self.file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723); // 2000-02-29
        assert_eq!(rfc3339_utc(t), "2000-02-29T01:02:03Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_636_399);
        assert_eq!(rfc3339_utc(t), "2026-12-07T09:39:59Z");
    }

    #[test]
    fn lines_go_to_the_file_at_the_level() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shim.log");
        let mut log = Logger::new("VERBOSE", false, path.to_str().unwrap());
        log.log(Level::Debug, "hidden");
        log.log(Level::Verbose, "shown");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("Z [verbose] shown\n"), "{text}");
        assert!(!text.contains("hidden"));
    }
}
