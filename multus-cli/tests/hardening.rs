//! The holes found by attacking the built `multus` binary, each driven the
//! way it was found: real plugins in a netns of the test's own, the stand-in
//! API server through a kubeconfig. Each test failed on the code before its
//! fix.
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Fixture, MASTER, assert_attached, macvlan_conf_1};
use serde_json::json;

/// Hole 1: A kubeconfig that does not parse: its token must not reach the CNI
/// error (and from there the pod's events), stdout, stderr or the log.
#[test]
fn a_broken_kubeconfig_never_shows_its_contents() {
    let Some(fx) = Fixture::new() else { return };
    let pod = fx.insert_simple_pod("leak", "");
    let secret = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldC10b2tlbi1uZXZlci1zaG93In0";
    let log = fx.tmp.path().join("log/multus.log");
    let cases = [
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: multus\n  user:\n    token: {secret}\n  : [\n"
        ),
        format!("apiVersion: v1\nusers: [{{token: {secret}}}\n"),
        // `kubeconfig` pointed at another file of the node.
        format!("root:x:0:0:root:/root:/bin/bash\nsvc:{secret}:1001:1001::/:/bin/sh\n"),
    ];
    for (i, text) in cases.iter().enumerate() {
        std::fs::write(&fx.kubeconfig, text).unwrap();
        let mut conf = fx.conf("1.0.0");
        conf["logFile"] = json!(log);
        let run = fx.add(&conf, &pod);
        let error = run.assert_failed();
        let everything = format!(
            "{}{}{}",
            run.stdout,
            run.stderr,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(!everything.contains(secret), "case {i} leaks: {everything}");
        assert!(
            !everything.contains("root:x"),
            "case {i} leaks: {everything}"
        );
        let msg = error["msg"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "failed to load kubeconfig {}",
                fx.kubeconfig.display()
            )),
            "case {i}: {msg}"
        );
    }
    fx.assert_nothing_left(&[]);
}

/// Hole 2: `?` and `#` in a NAD or pod name are part of the name, not of the URL:
/// `good?x=y` must not GET NAD `good` (and attach it under an alias).
#[test]
fn names_cannot_alias_other_objects_through_the_url() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    for (i, alias) in ["macvlan-conf-1?x=y", "macvlan-conf-1#frag"]
        .iter()
        .enumerate()
    {
        let pod =
            fx.insert_simple_pod(&format!("alias-{i}"), &json!([{"name": alias}]).to_string());
        fx.server.clear_requests();
        let run = fx.add(&fx.conf("1.0.0"), &pod);
        let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
        assert!(
            msg.contains(&format!(
                "cannot find a network-attachment-definition ({alias}) in namespace (default)"
            )),
            "{msg}"
        );
        let nad_gets: Vec<String> = fx
            .server
            .requests_matching(
                "GET",
                "/apis/k8s.cni.cncf.io/v1/namespaces/*/network-attachment-definitions",
            )
            .into_iter()
            .map(|r| format!("{}?{}", r.path, r.query))
            .collect();
        let escaped = alias
            .replace('?', "%3F")
            .replace('=', "%3D")
            .replace('#', "%23");
        assert_eq!(
            nad_gets,
            [format!(
                "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/{escaped}?"
            )]
        );
        fx.assert_nothing_left(&[]);
    }

    // K8S_POD_NAME=<pod>#frag is not the pod <pod>: for the API it is a pod
    // that does not exist, so (as upstream for a missing pod) ADD returns the
    // empty result and attaches nothing, least of all the real pod's networks.
    let real = fx.insert_simple_pod("real", "macvlan-conf-1");
    let mut env = fx.cni_env("ADD", &real, fx.ns.path());
    env[4].1 = env[4]
        .1
        .replace("K8S_POD_NAME=real", "K8S_POD_NAME=real#frag");
    env[4].1 = env[4]
        .1
        .replace(&format!("K8S_POD_UID={}", real.uid), "K8S_POD_UID=");
    fx.server.clear_requests();
    let run = common::run_multus(&env, fx.conf("1.0.0").to_string().as_bytes());
    run.assert_ok();
    assert_eq!(run.json()["ips"][0]["address"], "0.0.0.0/0", "{run}");
    let pod_gets: Vec<String> = fx
        .server
        .requests_matching("GET", "/api/v1/namespaces/default/pods")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(!pod_gets.is_empty());
    assert!(
        pod_gets
            .iter()
            .all(|p| p == "/api/v1/namespaces/default/pods/real%23frag"),
        "{pod_gets:?}"
    );
    fx.assert_nothing_left(&[]);
}

/// Hole 3: A NAD whose conflist names a plugin that does not exist: ADD fails and
/// leaves nothing, however often the runtime retries (the pool is not drained).
#[test]
fn a_missing_plugin_leaks_no_address_on_any_retry() {
    let Some(fx) = Fixture::new() else { return };
    fx.insert_nad(
        "default",
        "typo",
        json!({"cniVersion": "1.0.0", "name": "typo", "plugins": [
            {"type": "macvlan", "master": "eth1", "mode": "bridge",
             "ipam": {"type": "host-local", "subnet": "10.1.77.0/24"}},
            {"type": "no-such-plugin"}
        ]}),
    );
    let pod = fx.insert_simple_pod("typo", "typo");
    let conf = fx.conf("1.0.0");
    for attempt in 0..3 {
        let run = fx.add(&conf, &pod);
        let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
        assert!(
            msg.contains(r#"failed to find plugin "no-such-plugin""#),
            "attempt {attempt}: {msg}"
        );
        fx.assert_nothing_left(&[]);
        fx.del(&conf, &pod).assert_ok();
        fx.assert_nothing_left(&[]);
    }
}

/// Hole 4: An API server 700 ms away (a cluster spread across continents): every
/// ADD used to fail within 0.7 s ("error waiting for pod"); it now succeeds
/// inside the default budget, and `podLookupTimeout` sets the budget.
#[test]
fn a_slow_api_server_does_not_fail_the_pod() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("slow", "macvlan-conf-1");
    fx.server.set_delay(Duration::from_millis(700));
    let conf = fx.conf("1.0.0");
    let run = fx.add(&conf, &pod);
    run.assert_ok();
    fx.server.set_delay(Duration::ZERO);
    assert_attached(
        &fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);

    // A budget shorter than the latency fails, in about the budget.
    fx.server.set_delay(Duration::from_millis(900));
    let mut short = fx.conf("1.0.0");
    short["podLookupTimeout"] = json!("600ms");
    let run = fx.add(&short, &pod);
    let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("error waiting for pod: timed out after 600 ms"),
        "{msg}"
    );
    assert!(run.elapsed < Duration::from_secs(2), "{:?}", run.elapsed);
    fx.server.set_delay(Duration::ZERO);
    fx.assert_nothing_left(&[]);

    let mut bad = fx.conf("1.0.0");
    bad["podLookupTimeout"] = json!("soon");
    let msg = fx.add(&bad, &pod).assert_failed()["msg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("podLookupTimeout: \"soon\" is not a duration"),
        "{msg}"
    );
}

/// Hole 5: The network-status write fails for good (a 500, or 409 on every try):
/// the ADD fails and, as for any failure after a delegate ran, everything is
/// rolled back without waiting for a DEL that some runtimes never send.
#[test]
fn a_failed_status_write_is_rolled_back() {
    let Some(fx) = Fixture::new() else { return };
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("status", "macvlan-conf-1");
    let conf = fx.conf("1.0.0");
    for (code, what) in [(500, "InternalError"), (409, "Conflict")] {
        fx.server.inject(
            multus_testsupport::Fault::new(code, 1000)
                .method("PUT")
                .path("/api/v1/namespaces/*/pods/*/status"),
        );
        let run = fx.add(&conf, &pod);
        let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
        assert!(msg.contains("status"), "{code}: {msg}");
        fx.server.clear_faults();
        fx.assert_nothing_left(&[]);
        assert!(
            fx.server
                .pod_annotation("default", "status", common::NETWORK_STATUS)
                .is_none(),
            "{what}"
        );
    }
}

/// Hole 6a: A `CNI_ARGS` or `CNI_COMMAND` that is not UTF-8 is an error, not
/// "unset" (an ADD without the pod's identity, or the about text and exit 0).
#[test]
fn non_utf8_cni_variables_are_errors() {
    for var in ["CNI_ARGS", "CNI_COMMAND"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_multus"));
        cmd.env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", "c0ffee")
            .env("CNI_NETNS", "/run/netns/none")
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", "/usr/lib/cni")
            .env(var, OsString::from_vec(b"K8S_POD_NAME=\xff\xfe".to_vec()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"cniVersion":"1.0.0","name":"m","type":"multus","delegates":[{"type":"loopback","name":"lo"}]}"#);
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{var}");
        let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(error["code"], 4, "{var}: {error}");
        assert_eq!(error["msg"], format!("{var} is not valid UTF-8"));
    }
}

/// Hole 6b: stdin is read with a bound: an endless config is refused with a clear
/// error instead of filling memory.
#[test]
fn stdin_is_bounded() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_multus"))
        .env("CNI_COMMAND", "DEL")
        .env("CNI_CONTAINERID", "c0ffee")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 1 << 20];
        // 64 MiB, or until multus stops reading.
        for _ in 0..64 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["code"], 5, "{error}");
    assert_eq!(
        error["msg"],
        "error reading from stdin: the network config is larger than the 16 MiB limit"
    );
}

/// Hole 6c: A missing log directory is created private (0700), whatever the
/// process umask says.
#[test]
fn a_missing_log_directory_is_created_private() {
    let Some(fx) = Fixture::new() else { return };
    let dir = fx.tmp.path().join("newlogs/multus");
    let mut conf = fx.conf("1.0.0");
    conf["logFile"] = json!(dir.join("multus.log"));
    let pod = fx.insert_simple_pod("logs", "");
    // A runtime may run plugins with umask 0 (the test process's own umask is
    // left alone: other tests run beside this one).
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000 && exec \"$0\"")
        .arg(env!("CARGO_BIN_EXE_multus"))
        .envs(fx.cni_env("ADD", &pod, fx.ns.path()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for d in [fx.tmp.path().join("newlogs"), dir.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    let mode = std::fs::metadata(dir.join("multus.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    fx.del(&conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}
