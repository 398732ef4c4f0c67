//! Test helpers of this crate: the privilege gate with the real plugins these
//! tests run, host-local reservations, script plugins, snapshot masks. The
//! network namespace and link guards and the `ip -j` readers are
//! `multus_testsupport::netns`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The fixed MAC address of the tests' bridges (see
/// `multus_testsupport::netns::HostLink::bridge`: the bridge plugin's CHECK
/// compares the bridge's MAC with the one it reported at ADD).
pub const BRIDGE_MAC: &str = "02:00:00:00:00:01";

/// Whether privileged tests should run: panics with a clear message when they cannot
/// (not root, `ip` or one of the real plugins missing) unless `MULTUS_SKIP_PRIVILEGED=1`
/// is set, in which case it returns `false`.
#[track_caller]
pub fn privileged() -> bool {
    multus_testsupport::netns::require_privileged(
        "multus-delegate tests",
        &[
            "bridge",
            "host-local",
            "macvlan",
            "ptp",
            "loopback",
            "tuning",
        ],
    )
}

/// The IP addresses host-local has reserved for `network` under `data_dir`
/// (one file per address; `lock` and `last_reserved_ip.*` are not reservations).
pub fn ipam_reservations(data_dir: &Path, network: &str) -> Vec<String> {
    let dir = data_dir.join(network);
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Writes an executable `#!/bin/sh` script plugin `dir/name`.
///
/// The file is written by a short-lived `sh` process, never opened for
/// writing by the test process itself: otherwise a child forked at the same
/// moment by a parallel test could inherit the write descriptor and make
/// the exec fail with "text file busy".
pub fn script_plugin(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let script = format!("#!/bin/sh\n{body}\n");
    let status = Command::new("sh")
        .args(["-c", r#"printf '%s' "$1" > "$0" && chmod 755 "$0""#])
        .arg(&path)
        .arg(&script)
        .status()
        .expect("run sh");
    assert!(status.success(), "writing {}", path.display());
    path
}

/// Replaces every occurrence of each needle in every string of `value`
/// (to mask random ids before a snapshot).
pub fn mask(value: &mut Value, replacements: &[(&str, &str)]) {
    match value {
        Value::String(s) => {
            for (needle, with) in replacements {
                if !needle.is_empty() && s.contains(needle) {
                    *s = s.replace(needle, with);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, replacements)),
        Value::Object(map) => map.values_mut().for_each(|v| mask(v, replacements)),
        _ => {}
    }
}

/// Replaces every value of key `key` (at any depth) that is a MAC address with `[mac]`.
pub fn mask_macs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "mac" && v.is_string() {
                    *v = Value::from("[mac]");
                } else {
                    mask_macs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_macs),
        _ => {}
    }
}

/// The mode bits of a file.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").mode() & 0o777
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// What a recording script plugin wrote for `<command>-<name>` in `rec`: its stdin as JSON.
pub fn recorded_stdin(rec: &Path, command: &str, name: &str) -> Value {
    let path = rec.join(format!("{command}-{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// ... and its environment.
pub fn recorded_env(
    rec: &Path,
    command: &str,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(rec.join(format!("{command}-{name}.env")))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The `log` of every recorded call in `rec`, in order (empty when none).
pub fn recorded_log(rec: &Path) -> Vec<String> {
    std::fs::read_to_string(rec.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
