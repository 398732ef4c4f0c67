//! The built `install_multus`, copying from a stand-in image directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

/// An "image" directory with the three binaries upstream ships there.
fn image() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, mode) in [
        ("multus", 0o755),
        ("multus-shim", 0o750),
        ("passthru", 0o755),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, format!("#!/bin/sh\necho {name}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    dir
}

fn install(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_install_multus"))
        .args(args)
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn thick_installs_the_shim_and_passthru() {
    let src = image();
    let dest = tempfile::tempdir().unwrap();
    // A stale copy and a leftover temporary file are replaced.
    fs::write(dest.path().join("multus-shim"), "old").unwrap();
    fs::write(dest.path().join("passthru.temp"), "half").unwrap();
    let out = install(&[
        "-t",
        "thick",
        "-d",
        dest.path().to_str().unwrap(),
        "--source-dir",
        src.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "multus multus-shim copy succeeded!\nmultus passthru copy succeeded!\n"
    );
    assert_eq!(listing(dest.path()), ["multus-shim", "passthru"]);
    assert_eq!(
        fs::read(dest.path().join("multus-shim")).unwrap(),
        fs::read(src.path().join("multus-shim")).unwrap()
    );
    assert_eq!(mode(&dest.path().join("multus-shim")), 0o750, "mode kept");
    assert_eq!(mode(&dest.path().join("passthru")), 0o755);
}

#[test]
fn thin_installs_multus_and_passthru_with_long_flags() {
    let src = image();
    let dest = tempfile::tempdir().unwrap();
    let out = install(&[
        "--type=thin",
        &format!("--dest-dir={}", dest.path().display()),
        &format!("--source-dir={}", src.path().display()),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(listing(dest.path()), ["multus", "passthru"]);
    assert_eq!(
        fs::read_to_string(dest.path().join("multus")).unwrap(),
        "#!/bin/sh\necho multus\n"
    );
}

#[test]
fn a_missing_or_wrong_type_exits_1() {
    for args in [&[][..], &["-t", "thin-ish"][..]] {
        let out = install(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "--type is missing or --type has invalid value\n"
        );
    }
}

#[test]
fn a_missing_source_or_destination_exits_1_naming_the_file() {
    let src = image();
    fs::remove_file(src.path().join("passthru")).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = install(&[
        "-t",
        "thick",
        "-d",
        dest.path().to_str().unwrap(),
        "--source-dir",
        src.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("failed to copy file passthru: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&src.path().join("passthru").display().to_string()),
        "{stderr}"
    );
    assert_eq!(
        listing(dest.path()),
        ["multus-shim"],
        "no temporary file left"
    );

    let out = install(&[
        "-t",
        "thin",
        "-d",
        "/nonexistent/install-multus-test",
        "--source-dir",
        src.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("failed to copy file multus: "),
        "{out:?}"
    );
}

#[test]
fn help_exits_1_and_unknown_flags_exit_2() {
    let out = install(&["-h"]);
    assert_eq!(out.status.code(), Some(1));
    let help = String::from_utf8_lossy(&out.stderr);
    assert!(help.contains("-t, --type string"), "{help}");
    assert!(help.contains("(default \"/host/opt/cni/bin\")"), "{help}");
    assert!(!help.contains("source-dir"), "hidden flag");

    let out = install(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Usage of install_multus:"),
        "{out:?}"
    );
}
