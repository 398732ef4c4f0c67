//! The `multus` binary's CNI protocol around the network work: STATUS and GC
//! (asked of the master network), logging, the about text and flags. Script
//! plugins stand in for delegates here, so no root is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const MULTUS: &str = env!("CARGO_BIN_EXE_multus");

/// A temp dir with a `bin/` holding a recording script plugin `rec`, and a `cni/` dir.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        // Appends "<command> <stdin>" to calls.log; fails with code 50 while `down` exists.
        let script = format!(
            "#!/bin/sh\nin=$(cat)\nprintf '%s %s\\n' \"$CNI_COMMAND\" \"$in\" >> {calls}\n\
             if [ -e {down} ]; then printf '{{\"code\":50,\"msg\":\"plugin not available\"}}'; exit 1; fi\nexit 0\n",
            calls = dir.path().join("calls.log").display(),
            down = dir.path().join("down").display(),
        );
        let plugin = dir.path().join("bin/rec");
        std::fs::write(&plugin, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn conf(&self, version: &str, extra: Value) -> Vec<u8> {
        let mut conf = json!({
            "cniVersion": version,
            "name": "multus-cni-network",
            "type": "multus",
            "binDir": self.path("bin"),
            "cniDir": self.path("cni"),
            "delegates": [{"cniVersion": version, "name": "status-net", "plugins": [{"type": "rec"}]}],
        });
        if let (Some(conf), Some(extra)) = (conf.as_object_mut(), extra.as_object()) {
            conf.extend(extra.clone());
        }
        serde_json::to_vec(&conf).unwrap()
    }

    fn calls(&self) -> Vec<(String, Value)> {
        std::fs::read_to_string(self.path("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (cmd, stdin) = l.split_once(' ').unwrap();
                (cmd.to_owned(), serde_json::from_str(stdin).unwrap())
            })
            .collect()
    }
}

fn multus(env: &[(&str, &str)], stdin: &[u8], args: &[&str]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(MULTUS);
    cmd.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn status_asks_the_master_network_and_passes_its_error_code() {
    let f = Fixture::new();
    let env = [("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/nonexistent")];
    let out = multus(&env, &f.conf("1.1.0", json!({})), &[]);
    assert!(out.status.success(), "{out:?}");
    let calls = f.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "STATUS");
    assert_eq!(calls[0].1["name"], "status-net");

    std::fs::write(f.path("down"), "").unwrap();
    let out = multus(&env, &f.conf("1.1.0", json!({})), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stdout_json(&out);
    assert_eq!(err["code"], 50, "{err}");
    assert!(
        err["msg"]
            .as_str()
            .unwrap()
            .contains("plugin not available"),
        "{err}"
    );
}

#[test]
fn status_and_gc_need_a_1_1_0_config() {
    let f = Fixture::new();
    for command in ["STATUS", "GC"] {
        let out = multus(
            &[("CNI_COMMAND", command), ("CNI_PATH", "/x")],
            &f.conf("1.0.0", json!({})),
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stdout_json(&out);
        assert_eq!(err["code"], 1);
        assert_eq!(
            err["msg"],
            format!("config version does not allow {command}")
        );
    }
    assert!(f.calls().is_empty());
}

#[test]
fn status_of_an_older_master_list_is_ready_without_asking() {
    let f = Fixture::new();
    let conf = json!({
        "cniVersion": "1.1.0", "name": "multus-cni-network", "type": "multus",
        "binDir": f.path("bin"), "cniDir": f.path("cni"),
        "delegates": [{"cniVersion": "1.0.0", "name": "old-net", "plugins": [{"type": "rec"}]}],
    });
    let out = multus(
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")],
        &serde_json::to_vec(&conf).unwrap(),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(f.calls().is_empty());
}

#[test]
fn status_of_a_single_plugin_master_is_ready_without_asking() {
    let f = Fixture::new();
    // No `name` either: a single-plugin master is never asked, so nothing can fail.
    let conf = json!({
        "cniVersion": "1.1.0", "name": "multus-cli-network", "type": "multus",
        "binDir": f.path("bin"), "cniDir": f.path("cni"),
        "delegates": [{"cniVersion": "1.1.0", "type": "rec"}],
    });
    std::fs::write(f.path("down"), "").unwrap();
    let out = multus(
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")],
        &serde_json::to_vec(&conf).unwrap(),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(f.calls().is_empty());
}

#[test]
fn gc_passes_every_cached_attachment_as_valid() {
    let f = Fixture::new();
    let results = f.path("cni/results");
    std::fs::create_dir_all(&results).unwrap();
    for (cid, ifname) in [("c1", "eth0"), ("c2", "net1")] {
        let entry = json!({
            "kind": "cniCacheV1", "containerId": cid, "ifName": ifname, "networkName": "other-net",
            "config": "e30=", "result": {"cniVersion": "1.0.0"},
        });
        std::fs::write(
            results.join(format!("other-net-{cid}-{ifname}")),
            entry.to_string(),
        )
        .unwrap();
    }
    let out = multus(
        &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")],
        &f.conf("1.1.0", json!({})),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let calls = f.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "GC");
    let mut valid: Vec<String> = calls[0].1["cni.dev/valid-attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["containerID"].as_str().unwrap(),
                a["ifname"].as_str().unwrap()
            )
        })
        .collect();
    valid.sort();
    assert_eq!(valid, ["c1/eth0", "c2/net1"]);
}

#[test]
fn logs_go_to_the_log_file_in_upstreams_format() {
    let f = Fixture::new();
    let log = f.path("logs/multus.log");
    let extra = json!({"logLevel": "Debug", "logFile": log, "logToStderr": false});
    let out = multus(
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")],
        &f.conf("1.1.0", extra),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "logToStderr false: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text.lines().next().unwrap_or_default();
    // `2026-11-28T01:47:11Z [debug] ...`
    let (stamp, rest) = first.split_once(' ').unwrap();
    assert_eq!(stamp.len(), 20, "{first}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{first}"
    );
    assert!(rest.starts_with("[debug] "), "{first}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // An unknown level is reported and leaves the default (panic: nothing logged).
    let log2 = f.path("logs/other.log");
    let extra = json!({"logLevel": "chatty", "logFile": log2});
    let out = multus(
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")],
        &f.conf("1.1.0", extra),
        &[],
    );
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("multus logging: cannot set logging level to chatty")
    );
    assert_eq!(std::fs::read_to_string(&log2).unwrap(), "");
}

#[test]
fn about_text_version_flag_and_bad_flags() {
    let out = multus(&[], b"", &[]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
        ),
        "{stderr}"
    );

    for flag in ["-v", "--version", "-version"] {
        let out = multus(&[], b"", &[flag]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("multus: version:"),
            "{flag}"
        );
    }
    let out = multus(&[], b"", &["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_input_gets_cni_errors_not_panics() {
    let f = Fixture::new();
    let add = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/var/run/netns/none"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/x"),
    ];
    for (stdin, code, needle) in [
        (&b"{"[..], 6, "error unmarshall network config"),
        (
            br#"{"cniVersion":"0.3.1","type":"multus"}"#,
            7,
            "missing network name",
        ),
        (
            br#"{"cniVersion":"9.9.9","name":"n"}"#,
            1,
            "incompatible CNI versions",
        ),
        (
            br#"{"cniVersion":"0.3.1","name":"n","type":"multus"}"#,
            7,
            "at least one delegate/clusterNetwork must be specified",
        ),
    ] {
        let out = multus(&add, stdin, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stdout_json(&out);
        assert_eq!(err["code"], code, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
    let bad_args = f.conf("0.3.1", json!({}));
    let mut env = add.to_vec();
    env.push(("CNI_ARGS", "K8S_POD_NAME=a=b"));
    let out = multus(&env, &bad_args, &[]);
    let err = stdout_json(&out);
    assert!(
        err["msg"].as_str().unwrap().contains("invalid CNI_ARGS"),
        "{err}"
    );
    assert!(
        Path::new(&f.path("cni")).read_dir().is_err(),
        "nothing written for a refused ADD"
    );
}
