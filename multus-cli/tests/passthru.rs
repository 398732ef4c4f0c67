//! The built `passthru` plugin, run as a runtime runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn passthru(command: &str, stdin: &str, extra_env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "c0ffee")
        .env("CNI_NETNS", "/var/run/netns/passthru-test-not-there")
        .env("CNI_IFNAME", "eth9")
        .env("CNI_PATH", "/usr/lib/cni")
        .envs(extra_env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn conf(version: &str) -> String {
    json!({"cniVersion": version, "name": "aux-chain", "type": "passthru"}).to_string()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn add_prints_an_empty_result_in_the_config_version() {
    for version in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let out = passthru("ADD", &conf(version), &[]);
        assert!(out.status.success(), "{version}: {out:?}");
        let result = stdout_json(&out);
        assert_eq!(result["cniVersion"], version);
        for key in ["interfaces", "ips", "routes"] {
            assert!(
                result.get(key).is_none_or(|v| v == &json!([])),
                "{version}: {key} in {result}"
            );
        }
        assert!(
            result.get("dns").is_none_or(|v| v == &json!({})),
            "{version}: {result}"
        );
    }
}

#[test]
fn del_and_check_succeed_silently() {
    for (command, version) in [("DEL", "0.3.1"), ("DEL", "1.1.0"), ("CHECK", "1.0.0")] {
        let out = passthru(command, &conf(version), &[]);
        assert!(out.status.success(), "{command}: {out:?}");
        assert!(out.stdout.is_empty(), "{command}: {out:?}");
    }
}

#[test]
fn old_versions_are_refused() {
    for (version, shown) in [("0.2.0", "0.2.0"), ("", "0.1.0")] {
        let out = passthru("ADD", &conf(version), &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stdout_json(&out);
        assert_eq!(err["code"], 1);
        assert_eq!(err["msg"], "incompatible CNI versions");
        assert_eq!(
            err["details"],
            format!(
                r#"config is "{shown}", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]"#
            )
        );
    }
}

#[test]
fn version_about_and_skel_checks() {
    let out = passthru("VERSION", "", &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
    );
    let out = passthru("", "", &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Passthrough CNI Plugin v1.0\nCNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n"
    );
    // Missing variables and the plugin's own netns are refused as skel does.
    let out = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .env_clear()
        .env("CNI_COMMAND", "ADD")
        .output()
        .unwrap();
    assert_eq!(stdout_json(&out)["code"], 4);
    let out = passthru("ADD", &conf("1.0.0"), &[("CNI_NETNS", "/proc/self/ns/net")]);
    assert_eq!(stdout_json(&out)["code"], 8);
}

/// passthru as the runtime meets it: the first plugin of a conflist run by
/// multus-rs' libcni (VERSION negotiation, ADD with result caching, CHECK,
/// DEL), then a real plugin from `/usr/lib/cni` chained after it receiving
/// passthru's empty result as `prevResult`.
#[test]
fn runs_as_the_head_of_a_chain_through_libcni() {
    use multus_delegate::{CniConfig, RuntimeConf};
    use multus_types::NetConfList;

    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_passthru"))
        .parent()
        .unwrap()
        .to_path_buf();
    let cache = tempfile::tempdir().unwrap();
    // `static` (IPAM) ignores its namespace, so no netns is needed; it shows
    // that the chain goes on past passthru.
    let cni = CniConfig::new([bin, "/usr/lib/cni".into()]).with_cache_dir(cache.path());
    let list = NetConfList::from_bytes(
        br#"{"cniVersion":"1.0.0","name":"aux-chain","plugins":[
            {"type":"passthru"},
            {"type":"static","ipam":{"type":"static","addresses":[{"address":"192.0.2.7/24"}]}}]}"#,
    )
    .unwrap();
    let rt = RuntimeConf::new("c0ffee-aux", "/var/run/netns/passthru-chain-test", "eth0");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        cni.validate_network_list(&list).await.unwrap();
        let result = cni.add_network_list(&list, &rt).await.unwrap();
        let v = result.to_value().unwrap();
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(v["ips"][0]["address"], "192.0.2.7/24");
        cni.check_network_list(&list, &rt).await.unwrap();
        cni.del_network_list(&list, &rt).await.unwrap();

        // libcni's version check refuses a list passthru cannot speak.
        let old = NetConfList::from_bytes(
            br#"{"cniVersion":"0.2.0","name":"aux-chain","plugins":[{"type":"passthru"}]}"#,
        )
        .unwrap();
        let e = cni.validate_network_list(&old).await.unwrap_err();
        assert!(e.to_string().contains("0.2.0"), "{e}");
    });
}
