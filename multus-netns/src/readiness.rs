//! Waiting for the readiness indicator file.
//!
//! With `readinessindicatorfile` set, Multus waits on ADD (and STATUS, GC)
//! until that file exists, i.e. until the default network is ready, instead
//! of failing pods while the cluster network plugin starts.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::Error;

/// Upstream's poll interval: 1 s.
pub const READINESS_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Upstream's timeout: 45 s.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(45);

/// Go's `filepath.Clean`: lexical, `.` removed, `..` resolved against the
/// preceding element (and dropped at the root), repeated slashes collapsed;
/// an empty result is `.`.
pub fn clean_path(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Go's `filepath.Abs`: joins a relative path to the current directory,
/// then cleans it.
pub fn absolute_clean_path(path: &Path) -> io::Result<PathBuf> {
    let cleaned = clean_path(path);
    if cleaned.is_absolute() {
        return Ok(cleaned);
    }
    Ok(clean_path(&std::env::current_dir()?.join(cleaned)))
}

/// Whether the readiness file exists right now (upstream
/// `ReadinessIndicatorExistsNow`, used on DEL only to warn): `false` when it
/// does not exist, [`Error::ReadinessCheck`] for any other `stat` failure.
pub fn readiness_indicator_exists_now(path: impl AsRef<Path>) -> Result<bool, Error> {
    let path = path.as_ref();
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(Error::ReadinessCheck {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Waits until the file at `path` exists: checks immediately, then every
/// `interval`, giving up after `timeout` (upstream: [`READINESS_POLL_INTERVAL`],
/// [`READINESS_TIMEOUT`]). The path is cleaned and made absolute first, as
/// upstream does.
///
/// Cancellable: dropping the future stops waiting. Needs a tokio runtime
/// with the time driver enabled (`enable_time` / `enable_all`).
///
/// The error is [`Error::ReadinessTimeout`], whose text is upstream's:
/// `have you checked that your default network is ready? still waiting for
/// readinessindicatorfile @ <path>. pollimmediate error: timed out waiting
/// for the condition` (with the path as given).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// let err = multus_netns::wait_for_readiness_indicator_file(
///     "/nonexistent/ready", Duration::from_millis(5), Duration::from_millis(20),
/// ).await.unwrap_err();
/// assert!(err.to_string().starts_with("have you checked that your default network is ready?"));
/// # });
/// ```
pub async fn wait_for_readiness_indicator_file(
    path: impl AsRef<Path>,
    interval: Duration,
    timeout: Duration,
) -> Result<(), Error> {
    let raw = path.as_ref();
    let shown = raw.display().to_string();
    let abs = absolute_clean_path(raw).map_err(|e| Error::ReadinessTimeout {
        path: shown.clone(),
        reason: format!("failed to get absolute path of readinessIndicatorFile: {e}"),
    })?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Any stat error (missing, permission) means "not yet", as upstream.
        if abs.exists() {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        let next = (now + interval).min(deadline);
        tokio::time::sleep_until(next).await;
        if next >= deadline {
            // PollImmediate checks once more at the deadline tick.
            if abs.exists() {
                return Ok(());
            }
            break;
        }
    }
    Err(Error::ReadinessTimeout {
        path: shown,
        reason: "timed out waiting for the condition".into(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (i, o) in [
            ("", "."),
            (".", "."),
            ("a/b/../c", "a/c"),
            ("/a/./b//c/", "/a/b/c"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("/run/flannel/subnet.env", "/run/flannel/subnet.env"),
        ] {
            assert_eq!(clean_path(Path::new(i)), PathBuf::from(o), "{i:?}");
        }
    }

    #[test]
    fn absolutises() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_clean_path(Path::new("x/../y")).unwrap(),
            cwd.join("y")
        );
        assert_eq!(
            absolute_clean_path(Path::new("/a/../b")).unwrap(),
            PathBuf::from("/b")
        );
    }

    #[tokio::test]
    async fn immediate_when_present() {
        let p = std::env::current_exe().unwrap();
        let start = std::time::Instant::now();
        wait_for_readiness_indicator_file(&p, Duration::from_secs(10), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(readiness_indicator_exists_now(&p).unwrap());
        assert!(!readiness_indicator_exists_now("/nonexistent/x").unwrap());
    }

    #[tokio::test]
    async fn appears_later() {
        let dir = std::env::temp_dir().join(format!("multus-netns-ready-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("ready");
        let _ = std::fs::remove_file(&f);
        let f2 = f.clone();
        let writer = async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::fs::write(&f2, b"").unwrap();
        };
        let (r, ()) = tokio::join!(
            wait_for_readiness_indicator_file(
                dir.join("./sub/../ready"),
                Duration::from_millis(10),
                Duration::from_secs(5)
            ),
            writer
        );
        r.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn times_out_with_upstream_text() {
        let start = std::time::Instant::now();
        let e = wait_for_readiness_indicator_file(
            "relative/never",
            Duration::from_millis(10),
            Duration::from_millis(60),
        )
        .await
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert_eq!(
            e.to_string(),
            "have you checked that your default network is ready? still waiting for readinessindicatorfile @ relative/never. pollimmediate error: timed out waiting for the condition"
        );
    }

    #[tokio::test]
    async fn cancellable() {
        let r = tokio::time::timeout(
            Duration::from_millis(30),
            wait_for_readiness_indicator_file(
                "/nonexistent/never",
                READINESS_POLL_INTERVAL,
                READINESS_TIMEOUT,
            ),
        )
        .await;
        assert!(r.is_err(), "the wait was dropped by the outer timeout");
    }
}
