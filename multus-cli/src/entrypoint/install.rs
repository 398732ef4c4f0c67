//! Atomic file installation: the multus binary into the CNI bin dir, a
//! user-supplied multus config into the CNI config dir.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Error;

/// Temporary name of the binary while it is copied.
pub const BINARY_TEMP_NAME: &str = "_multus";
/// Final name of the installed binary.
pub const BINARY_NAME: &str = "multus";

/// Copies `src` to `dst_dir/final_name` so that a reader never sees a partial
/// file: the bytes go to `dst_dir/temp_name` first (created with `src`'s
/// permission bits, set again explicitly so the umask does not narrow them),
/// are synced, and the temporary file is renamed over the final one. A
/// leftover temporary file is replaced; on failure it is removed.
///
/// Returns the final path.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let src = dir.path().join("src-file");
/// # std::fs::write(&src, b"#!/bin/sh\n").unwrap();
/// use multus_cli::entrypoint::install::copy_file_atomic;
/// let dst = copy_file_atomic(&src, dir.path(), "_copy", "copy").unwrap();
/// assert_eq!(std::fs::read(dst).unwrap(), b"#!/bin/sh\n");
/// assert!(!dir.path().join("_copy").exists());
/// ```
pub fn copy_file_atomic(
    src: &Path,
    dst_dir: &Path,
    temp_name: &str,
    final_name: &str,
) -> Result<PathBuf, Error> {
    let io_err = |context: String| move |source: io::Error| Error::Io { context, source };
    let meta = fs::metadata(src).map_err(io_err(format!("cannot stat {}", src.display())))?;
    if !meta.is_file() {
        return Err(Error::Config(format!(
            "{} is not a regular file",
            src.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    let temp = dst_dir.join(temp_name);
    let dst = dst_dir.join(final_name);

    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("cannot remove {}", temp.display()))(e)),
    }

    let result = (|| {
        let mut input =
            File::open(src).map_err(io_err(format!("cannot open {}", src.display())))?;
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .map_err(io_err(format!("cannot create {}", temp.display())))?;
        io::copy(&mut input, &mut output).map_err(io_err(format!(
            "cannot copy {} to {}",
            src.display(),
            temp.display()
        )))?;
        output
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("cannot set the mode of {}", temp.display())))?;
        output
            .sync_all()
            .map_err(io_err(format!("cannot flush {}", temp.display())))?;
        drop(output);
        fs::rename(&temp, &dst).map_err(io_err(format!(
            "cannot rename {} to {}",
            temp.display(),
            dst.display()
        )))
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(dst)
}

/// Writes `contents` to `path` through the temporary file `temp` (a leftover
/// is removed first; created anew with `mode`, synced), then renames it into place.
pub(crate) fn write_atomic(
    path: &Path,
    temp: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<(), Error> {
    let io_err = |context: String| move |source: io::Error| Error::Io { context, source };
    let result = (|| {
        // A leftover temp file may have a wider mode or be a symlink: never
        // write secrets through it, start from a fresh file of our mode.
        match fs::remove_file(temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err(format!(
                    "cannot remove the leftover {}",
                    temp.display()
                ))(e));
            }
            _ => {}
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(temp)
            .map_err(io_err(format!("cannot create {}", temp.display())))?;
        io::Write::write_all(&mut file, contents)
            .map_err(io_err(format!("cannot write {}", temp.display())))?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("cannot set the mode of {}", temp.display())))?;
        file.sync_all()
            .map_err(io_err(format!("cannot flush {}", temp.display())))?;
        drop(file);
        fs::rename(temp, path).map_err(io_err(format!(
            "cannot replace {} with {}",
            path.display(),
            temp.display()
        )))
    })();
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_keeps_mode_and_replaces_stale_temp() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("bin");
        fs::write(&src, b"binary").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("_t"), b"stale leftover, longer than the source").unwrap();
        let dst = copy_file_atomic(&src, &out, "_t", "final").unwrap();
        assert_eq!(fs::read(&dst).unwrap(), b"binary");
        assert_eq!(
            fs::metadata(&dst).unwrap().permissions().mode() & 0o7777,
            0o750
        );
        assert!(!out.join("_t").exists());
    }

    #[test]
    fn copy_of_missing_source_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = copy_file_atomic(&dir.path().join("nope"), dir.path(), "_t", "f").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(!dir.path().join("_t").exists());
    }

    #[test]
    fn write_atomic_truncates_leftover_temp() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join("f.new");
        fs::write(&temp, b"a much longer leftover").unwrap();
        write_atomic(&dir.path().join("f"), &temp, b"short", 0o600).unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"short");
        assert!(!temp.exists());
    }
}
