//! `PluginExec::with_chroot`: the plugin path is looked up here and run
//! under the chroot directory. A tree with `/bin/sh` and its libraries is
//! built in a temporary directory; the same plugin path exists outside and
//! inside it, each copy printing where it is. Needs root (`chroot(2)`);
//! fails (never skips) without it unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use multus_delegate::{Command, PluginEnv, PluginExec, RuntimeConf};

fn copy_into(root: &Path, file: &Path) {
    let target = root.join(file.strip_prefix("/").unwrap());
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
}

/// `/bin/sh` and the libraries `ldd` names for it, under `root`.
fn shell_tree(root: &Path) {
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    copy_into(root, &sh);
    if sh != Path::new("/bin/sh") {
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy(&sh, root.join("bin/sh")).unwrap();
    }
    let ldd = std::process::Command::new("ldd").arg(&sh).output().unwrap();
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') && Path::new(word).exists() {
            copy_into(root, Path::new(word));
        }
    }
}

fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{text}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn plugins_run_under_the_chroot_directory() {
    if !multus_testsupport::netns::require_privileged("multus-delegate chroot", &[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    shell_tree(&root);
    let plugin: PathBuf = tmp.path().join("bin/where");
    script(&plugin, r#"echo "{\"outside\": \"$CNI_COMMAND\"}""#);
    script(
        &root.join(plugin.strip_prefix("/").unwrap()),
        r#"echo "{\"inside\": \"$CNI_COMMAND\", \"cwd\": \"$(pwd)\"}""#,
    );
    let env = PluginEnv::new(
        Command::Add,
        &RuntimeConf::new("c1", "/run/netns/x", "eth0"),
        &[tmp.path().join("bin")],
    );

    let out = PluginExec::new().run(&plugin, b"{}", &env).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        r#"{"outside": "ADD"}"#
    );

    let exec = PluginExec::new().with_chroot(&root).unwrap();
    assert_eq!(exec.chroot_dir(), Some(root.as_path()));
    let out = exec.run(&plugin, b"{}", &env).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        r#"{"inside": "ADD", "cwd": "/"}"#
    );

    // A chroot directory that does not exist: a spawn error naming the plugin.
    let exec = PluginExec::new()
        .with_chroot(tmp.path().join("missing"))
        .unwrap();
    let e = exec.run(&plugin, b"{}", &env).await.unwrap_err();
    assert!(e.to_string().contains("where"), "{e}");
    assert!(PluginExec::new().with_chroot("/a\0b").is_err());
}

/// A plugin still open for writing ("text file busy") is retried, one
/// second apart, until it can be executed.
#[tokio::test]
async fn text_file_busy_is_retried_under_chroot() {
    if !multus_testsupport::netns::require_privileged("multus-delegate chroot", &[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    shell_tree(&root);
    let plugin: PathBuf = tmp.path().join("bin/busy");
    script(&plugin, "echo outside");
    let inside = root.join(plugin.strip_prefix("/").unwrap());
    script(&inside, "echo '{}'");
    // Held open for writing for 1.5 s: exec fails with ETXTBSY meanwhile.
    let writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&inside)
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        drop(writer);
    });
    let env = PluginEnv::new(
        Command::Add,
        &RuntimeConf::new("c1", "/run/netns/x", "eth0"),
        &[tmp.path().join("bin")],
    );
    let started = std::time::Instant::now();
    let out = PluginExec::new()
        .with_chroot(&root)
        .unwrap()
        .run(&plugin, b"{}", &env)
        .await
        .unwrap();
    release.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "{}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(1500),
        "ran before the file was released: {elapsed:?}"
    );
}
