//! Locating a plugin binary by its `type` in an ordered list of directories.

use std::path::{Path, PathBuf};

use crate::Error;

/// Finds the plugin binary `plugin_type` in `dirs`: the first `<dir>/<type>`
/// that is a regular file (symlinks followed), as libcni's `FindInPath`.
///
/// A `type` that is empty, `.` or `..`, or contains a `/` or a NUL byte is
/// refused before any directory is looked at, so a config can never point
/// outside the bin directories.
///
/// # Errors
/// [`Error::InvalidPluginName`] for a refused `type`, [`Error::PluginNotFound`]
/// (listing every directory searched) when no directory has it.
///
/// ```
/// use multus_delegate::find_in_path;
/// let err = find_in_path("no-such-plugin", &["/nonexistent/a", "/nonexistent/b"]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"failed to find plugin "no-such-plugin" in path [/nonexistent/a /nonexistent/b]"#
/// );
/// assert!(find_in_path("../bin/sh", &["/usr/lib/cni"]).is_err());
/// ```
pub fn find_in_path<P: AsRef<Path>>(plugin_type: &str, dirs: &[P]) -> Result<PathBuf, Error> {
    validate_plugin_type(plugin_type)?;
    for dir in dirs {
        let candidate = dir.as_ref().join(plugin_type);
        if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            return Ok(candidate);
        }
    }
    Err(Error::PluginNotFound {
        plugin_type: plugin_type.to_owned(),
        dirs: dirs.iter().map(|d| d.as_ref().to_path_buf()).collect(),
    })
}

/// Checks that a plugin `type` can only name a file inside a bin directory.
///
/// # Errors
/// [`Error::InvalidPluginName`] for an empty name, `.`, `..`, or a name with
/// a path separator or NUL byte.
pub fn validate_plugin_type(plugin_type: &str) -> Result<(), Error> {
    let reason = if plugin_type.is_empty() {
        "no plugin name provided"
    } else if plugin_type == "." || plugin_type == ".." {
        "not a file name"
    } else if plugin_type.contains('/') {
        "contains a path separator"
    } else if plugin_type.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidPluginName {
        plugin_type: plugin_type.to_owned(),
        reason,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn first_dir_with_a_regular_file_wins() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        // In `a` the name is a directory: skipped.
        std::fs::create_dir(a.path().join("p")).unwrap();
        std::fs::write(b.path().join("p"), "").unwrap();
        std::fs::write(c.path().join("p"), "").unwrap();
        let found = find_in_path("p", &[a.path(), b.path(), c.path()]).unwrap();
        assert_eq!(found, b.path().join("p"));
    }

    #[test]
    fn symlinks_to_files_count() {
        let a = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("real"), "").unwrap();
        std::os::unix::fs::symlink(a.path().join("real"), a.path().join("link")).unwrap();
        std::os::unix::fs::symlink(a.path().join("gone"), a.path().join("dangling")).unwrap();
        assert!(find_in_path("link", &[a.path()]).is_ok());
        assert!(matches!(
            find_in_path("dangling", &[a.path()]),
            Err(Error::PluginNotFound { .. })
        ));
    }

    #[test]
    fn refuses_names_that_escape_the_dir() {
        for bad in ["", ".", "..", "a/b", "/bin/sh", "../sh", "a\0b"] {
            let err = find_in_path(bad, &["/usr/lib/cni"]).unwrap_err();
            assert!(
                matches!(err, Error::InvalidPluginName { .. }),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            validate_plugin_type("a/b").unwrap_err().to_string(),
            r#"invalid plugin name "a/b": contains a path separator"#
        );
    }

    #[test]
    fn no_dirs_is_not_found_with_an_empty_list() {
        let err = find_in_path::<&str>("bridge", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"failed to find plugin "bridge" in path []"#
        );
    }
}
