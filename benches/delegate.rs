//! The cost of running a delegate through `multus-delegate` against a bare
//! `std::process::Command` exec of the same plugin with the same environment
//! and stdin. The plugin is a shell script that reads its config and prints a
//! fixed 1.0.0 result, so the difference is the library's own work: request
//! building, a tokio child with piped stdio and a process group, result
//! parsing, and the result cache write.
//!
//! Run with `cargo bench -p benches --bench delegate`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use divan::Bencher;
use multus_delegate::{CniConfig, PluginEnv, RuntimeConf, plugin_request};
use multus_types::{CniResult, CniVersion, NetConfList};

fn main() {
    divan::main();
}

const RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"0a:58:0a:f4:01:07","sandbox":"/run/netns/bench"}],"ips":[{"address":"10.244.1.7/24","gateway":"10.244.1.1","interface":0}],"routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"}]}"#;

const LIST: &str = r#"{"cniVersion":"1.0.0","name":"bench","plugins":[{"type":"fixed","capabilities":{"mac":true}}]}"#;

struct Setup {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    cache: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let bin = tmp.path().join("bin");
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&bin).unwrap_or_else(|e| panic!("mkdir: {e}"));
    // Written by a child process, so this process never holds a write
    // descriptor to the script (which could make exec fail with ETXTBSY).
    let script = format!("#!/bin/sh\ncat > /dev/null\nprintf '%s' '{RESULT}'\n");
    let path = bin.join("fixed");
    let ok = Command::new("sh")
        .args(["-c", r#"printf '%s' "$1" > "$0" && chmod 755 "$0""#])
        .arg(&path)
        .arg(script)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "could not write the script plugin");
    Setup {
        _tmp: tmp,
        bin,
        cache,
    }
}

fn attachment() -> RuntimeConf {
    RuntimeConf::new("bench-container", "/run/netns/bench", "eth0")
        .with_arg("IgnoreUnknown", "1")
        .with_capability("mac", serde_json::json!("c2:11:22:33:44:55"))
}

/// `ADD` of a one-plugin list through `CniConfig` (includes the cache write).
#[divan::bench(sample_count = 200)]
fn add_via_multus_delegate(bencher: Bencher<'_, '_>) {
    let s = setup();
    let list = NetConfList::from_bytes(LIST.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let cni = CniConfig::new([&s.bin]).with_cache_dir(&s.cache);
    let rt = attachment();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    bencher.bench_local(|| {
        runtime
            .block_on(cni.add_network_list(&list, &rt))
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

/// The same plugin, environment and stdin through `std::process::Command`,
/// stdout parsed as a result (no cache).
#[divan::bench(sample_count = 200)]
fn add_via_bare_command(bencher: Bencher<'_, '_>) {
    let s = setup();
    let list = NetConfList::from_bytes(LIST.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let rt = attachment();
    let stdin = plugin_request(&list.plugins()[0], "bench", "1.0.0", None, &rt).to_string();
    let env = PluginEnv::new(multus_delegate::Command::Add, &rt, &[&s.bin]);
    let plugin = s.bin.join("fixed");
    bencher.bench_local(|| bare_exec(&plugin, &env, stdin.as_bytes()));
}

fn bare_exec(plugin: &Path, env: &PluginEnv, stdin: &[u8]) -> CniResult {
    let mut child = Command::new(plugin)
        .envs(env.vars())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(out.status.success());
    CniResult::parse(&out.stdout, CniVersion::V1_0_0).unwrap_or_else(|e| panic!("{e}"))
}
