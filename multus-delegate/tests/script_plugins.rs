//! The runtime protocol against small shell-script plugins that record what
//! they receive: environment, stdin, chaining, cache use, errors, timeouts,
//! STATUS, GC and VERSION. No root needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{process_gone, script_plugin};
use multus_delegate::{
    CacheEntry, CniConfig, Error, GcAttachment, PluginExec, RuntimeConf, list_with_version,
};
use multus_types::{CniVersion, ErrorCode, NetConf, NetConfList, ToCniError};
use serde_json::{Value, json};
use tempfile::TempDir;

struct Fixture {
    tmp: TempDir,
    cni: CniConfig,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["bin", "rec", "cache"] {
            std::fs::create_dir(tmp.path().join(d)).unwrap();
        }
        let cni = CniConfig::new([tmp.path().join("empty-bin"), tmp.path().join("bin")])
            .with_cache_dir(tmp.path().join("cache"))
            .with_timeout(Some(Duration::from_secs(20)));
        Self { tmp, cni }
    }

    fn bin(&self) -> PathBuf {
        self.tmp.path().join("bin")
    }

    fn rec(&self) -> PathBuf {
        self.tmp.path().join("rec")
    }

    /// A plugin that records stdin, `CNI_*` env and the call, and prints
    /// `add_result` on ADD.
    fn recorder(&self, name: &str, add_result: &str) {
        let body = format!(
            r#"D='{rec}'
N='{name}'
cat > "$D/$CNI_COMMAND-$N.json"
env | grep '^CNI_' | sort > "$D/$CNI_COMMAND-$N.env"
echo "$CNI_COMMAND $N $CNI_CONTAINERID" >> "$D/log"
if [ "$CNI_COMMAND" = ADD ]; then printf '%s' '{add_result}'; fi
exit 0"#,
            rec = self.rec().display()
        );
        script_plugin(&self.bin(), name, &body);
    }

    fn plugin(&self, name: &str, body: &str) -> PathBuf {
        script_plugin(&self.bin(), name, body)
    }

    fn stdin(&self, command: &str, name: &str) -> Value {
        common::recorded_stdin(&self.rec(), command, name)
    }

    fn env(&self, command: &str, name: &str) -> BTreeMap<String, String> {
        common::recorded_env(&self.rec(), command, name)
    }

    fn log(&self) -> Vec<String> {
        common::recorded_log(&self.rec())
    }

    fn cache_file(&self, network: &str, cid: &str, ifname: &str) -> PathBuf {
        self.cni.cache().path(network, cid, ifname).unwrap()
    }
}

fn list(v: Value) -> NetConfList {
    NetConfList::from_value(v).unwrap()
}

const RESULT_A: &str = r#"{"ips":[{"address":"10.0.0.5/24","gateway":"10.0.0.1"}]}"#;
const RESULT_B: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"address":"10.0.0.5/24","gateway":"10.0.0.1","interface":0}],"dns":{"nameservers":["10.0.0.53"]}}"#;

#[tokio::test]
async fn add_check_del_chain_env_stdin_and_cache() {
    let f = Fixture::new();
    f.recorder("rec-a", RESULT_A);
    f.recorder("rec-b", RESULT_B);
    let l = list(json!({
        "cniVersion": "1.0.0", "name": "chain",
        "plugins": [
            {"type": "rec-a", "name": "ignored", "cniVersion": "0.3.1",
             "capabilities": {"mac": true, "portMappings": false}, "keep": {"x": [1, 2]}},
            {"type": "rec-b"}
        ]
    }));
    let rt = RuntimeConf::new("c0ffee", "/run/netns/x", "eth0")
        .with_arg("IgnoreUnknown", "1")
        .with_arg("K8S_POD_NAME", "web-0")
        .with_capability("mac", json!("c2:11:22:33:44:55"))
        .with_capability(
            "portMappings",
            json!([{"hostPort": 80, "containerPort": 80}]),
        );

    let result = f.cni.add_network_list(&l, &rt).await.unwrap();
    assert_eq!(result.version(), CniVersion::V1_0_0);
    assert_eq!(
        result.to_value().unwrap(),
        serde_json::from_str::<Value>(RESULT_B).unwrap()
    );

    // Environment: all six CNI_* variables, on top of the inherited environment.
    let env = f.env("ADD", "rec-a");
    let bin_path = format!(
        "{}:{}",
        f.tmp.path().join("empty-bin").display(),
        f.bin().display()
    );
    let expected: BTreeMap<String, String> = [
        ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web-0"),
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c0ffee"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_NETNS", "/run/netns/x"),
        ("CNI_PATH", bin_path.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(env, expected);

    // stdin: name and version of the list, runtimeConfig filtered, no prevResult first.
    let a = f.stdin("ADD", "rec-a");
    assert_eq!(a["name"], "chain");
    assert_eq!(a["cniVersion"], "1.0.0");
    assert_eq!(a["keep"], json!({"x": [1, 2]}));
    assert_eq!(a["runtimeConfig"], json!({"mac": "c2:11:22:33:44:55"}));
    assert!(a.get("prevResult").is_none());
    // The second plugin gets the first one's result (version filled in from the config).
    let b = f.stdin("ADD", "rec-b");
    assert!(
        b.get("runtimeConfig").is_none(),
        "no capabilities, no runtimeConfig"
    );
    assert_eq!(
        b["prevResult"],
        json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5/24", "gateway": "10.0.0.1"}]})
    );

    // The cache holds the final result and the attachment's arguments.
    let entry = f.cni.cached_entry("chain", &rt).unwrap().unwrap();
    assert_eq!(entry.config, l.to_string().into_bytes());
    assert_eq!(entry.netns, "/run/netns/x");
    assert_eq!(
        entry.cni_args.to_string(),
        "IgnoreUnknown=1;K8S_POD_NAME=web-0"
    );
    assert_eq!(entry.capability_args["mac"], "c2:11:22:33:44:55");
    assert_eq!(
        common::mode(&f.cache_file("chain", "c0ffee", "eth0")),
        0o600
    );
    assert_eq!(common::mode(&f.cni.cache().results_dir()), 0o700);

    // CHECK: forward order, prevResult = cached result.
    f.cni.check_network_list(&l, &rt).await.unwrap();
    for name in ["rec-a", "rec-b"] {
        assert_eq!(
            f.stdin("CHECK", name)["prevResult"],
            result.to_value().unwrap()
        );
    }

    // DEL: reverse order, prevResult = cached result, then the cache entry is gone.
    f.cni.del_network_list(&l, &rt).await.unwrap();
    assert_eq!(
        f.stdin("DEL", "rec-a")["prevResult"],
        result.to_value().unwrap()
    );
    assert_eq!(f.env("DEL", "rec-b")["CNI_COMMAND"], "DEL");
    assert!(!f.cache_file("chain", "c0ffee", "eth0").exists());
    assert_eq!(
        f.log(),
        [
            "ADD rec-a c0ffee",
            "ADD rec-b c0ffee",
            "CHECK rec-a c0ffee",
            "CHECK rec-b c0ffee",
            "DEL rec-b c0ffee",
            "DEL rec-a c0ffee",
        ]
    );

    // A second DEL runs the plugins again, without prevResult.
    f.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(f.stdin("DEL", "rec-a").get("prevResult").is_none());
}

#[tokio::test]
async fn inherited_environment_is_kept() {
    let f = Fixture::new();
    let out = f.rec().join("path");
    f.plugin(
        "envdump",
        &format!(r#"printf '%s' "$PATH" > '{}'; echo '{{}}'"#, out.display()),
    );
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "envdump"}]}));
    f.cni
        .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        std::env::var("PATH").unwrap()
    );
}

#[tokio::test]
async fn cached_result_is_converted_to_the_list_version() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    let l = list(json!({"cniVersion": "1.0.0", "name": "conv", "plugins": [{"type": "rec"}]}));
    let rt = RuntimeConf::new("c1", "/run/netns/x", "eth0");

    // A legacy cache file: the bare 0.4.0 result.
    std::fs::create_dir_all(f.cni.cache().results_dir()).unwrap();
    std::fs::write(
        f.cache_file("conv", "c1", "eth0"),
        r#"{"cniVersion":"0.4.0","interfaces":[{"name":"eth0"}],"ips":[{"version":"4","address":"10.1.0.2/16","interface":0}],"dns":{}}"#,
    )
    .unwrap();
    f.cni.check_network_list(&l, &rt).await.unwrap();
    let expected = json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
                          "ips": [{"address": "10.1.0.2/16", "interface": 0}]});
    assert_eq!(f.stdin("CHECK", "rec")["prevResult"], expected);

    // A cniCacheV1 entry holding a 0.3.1 result.
    let mut entry = CacheEntry::from_json(
        br#"{"kind":"cniCacheV1","containerId":"c1","config":"","ifName":"eth0","networkName":"conv",
             "result":{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.1.0.2/16"}]}}"#,
    )
    .unwrap();
    f.cni.cache().write(&entry).unwrap();
    f.cni.del_network_list(&l, &rt).await.unwrap();
    assert_eq!(
        f.stdin("DEL", "rec")["prevResult"],
        json!({"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/16"}]})
    );
    assert!(!f.cache_file("conv", "c1", "eth0").exists());

    // Pre-0.4.0 lists get no prevResult on DEL, and cannot CHECK.
    entry.result = None;
    f.cni.cache().write(&entry).unwrap();
    let old = list_with_version(&l, CniVersion::V0_3_1).unwrap();
    f.cni.del_network_list(&old, &rt).await.unwrap();
    assert!(f.stdin("DEL", "rec").get("prevResult").is_none());
    assert!(!f.cache_file("conv", "c1", "eth0").exists());
    let err = f.cni.check_network_list(&old, &rt).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"configuration version "0.3.1" does not support the CHECK command"#
    );
}

#[tokio::test]
async fn corrupt_cache_fails_check_but_not_del() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    let l = list(json!({"cniVersion": "0.4.0", "name": "bad", "plugins": [{"type": "rec"}]}));
    let rt = RuntimeConf::new("c1", "", "eth0");
    std::fs::create_dir_all(f.cni.cache().results_dir()).unwrap();
    std::fs::write(f.cache_file("bad", "c1", "eth0"), "garbage").unwrap();

    let err = f.cni.check_network_list(&l, &rt).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(r#"failed to get network "bad" cached result: "#),
        "{err}"
    );
    assert!(
        f.log().is_empty(),
        "CHECK must not run plugins after a cache error"
    );

    f.cni.del_network_list(&l, &rt).await.unwrap();
    assert!(f.stdin("DEL", "rec").get("prevResult").is_none());
    assert!(!f.cache_file("bad", "c1", "eth0").exists());
}

#[tokio::test]
async fn disable_check_runs_nothing() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    let l = list(
        json!({"cniVersion": "1.0.0", "name": "n", "disableCheck": true,
                        "plugins": [{"type": "rec"}]}),
    );
    f.cni
        .check_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap();
    assert!(f.log().is_empty());
}

#[tokio::test]
async fn plugin_error_object_keeps_its_code() {
    let f = Fixture::new();
    f.recorder("first", "{}");
    f.plugin(
        "busy",
        r#"cat >/dev/null; echo "lock held by pid 42" >&2; echo '{"code":11,"msg":"busy","details":"try later"}'; exit 1"#,
    );
    f.recorder("never", "{}");
    let l = list(json!({"cniVersion": "1.0.0", "name": "blue",
        "plugins": [{"type": "first"}, {"type": "busy"}, {"type": "never"}]}));
    let rt = RuntimeConf::new("c1", "/x", "eth0");
    let err = f.cni.add_network_list(&l, &rt).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"plugin type="busy" name="blue" failed (add): busy; try later"#
    );
    assert_eq!(err.cni_code(), ErrorCode::TryAgainLater);
    assert_eq!(err.to_cni_error().msg, err.to_string());
    assert_eq!(err.plugin_error().unwrap().details, "try later");
    assert_eq!(err.stderr(), Some("lock held by pid 42\n"));
    assert_eq!(err.exit_status().unwrap().code(), Some(1));
    assert_eq!(f.log(), ["ADD first c1"], "the chain stops at the failure");
    assert!(
        !f.cache_file("blue", "c1", "eth0").exists(),
        "no cache after a failed ADD"
    );
}

#[tokio::test]
async fn failure_without_error_object_carries_exit_status_and_stderr() {
    let f = Fixture::new();
    f.plugin("crash", r#"echo "panic: something broke" >&2; exit 3"#);
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "crash"}]}));
    let err = f
        .cni
        .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap_err();
    let path = f.bin().join("crash");
    assert_eq!(
        err.to_string(),
        format!(
            r#"plugin type="crash" name="n" failed (add): plugin {} failed (exit status: 3); stderr: "panic: something broke""#,
            path.display()
        )
    );
    assert_eq!(err.exit_status().unwrap().code(), Some(3));
    assert!(matches!(err.root(), Error::PluginFailed { .. }));

    f.plugin("words", r#"echo "not json at all"; exit 1"#);
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "words"}]}));
    let err = f
        .cni
        .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("failed (exit status: 1) and its output is not a CNI error")
            && text.contains(r#""not json at all""#),
        "{text}"
    );
}

#[tokio::test]
async fn garbage_result_is_a_clear_error() {
    let f = Fixture::new();
    f.plugin("garbage", r#"echo 'hello, I am not a result'"#);
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "garbage"}]}));
    let rt = RuntimeConf::new("c", "/x", "eth0");
    let err = f.cni.add_network_list(&l, &rt).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            r#"plugin type="garbage" name="n" failed (add): plugin {} returned an invalid result: CNI result: "#,
            f.bin().join("garbage").display()
        )) && text.ends_with(r#"; output: "hello, I am not a result\n""#),
        "{text}"
    );
    assert_eq!(err.cni_code(), ErrorCode::DecodingFailure);
    assert!(!f.cache_file("n", "c", "eth0").exists());

    // A result of a version nobody knows.
    f.plugin("future", r#"echo '{"cniVersion":"9.0.0"}'"#);
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "future"}]}));
    let err = f.cni.add_network_list(&l, &rt).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"unsupported CNI result version "9.0.0""#),
        "{err}"
    );
}

#[tokio::test]
async fn hanging_plugin_is_killed_with_its_children() {
    let f = Fixture::new();
    let rec = f.rec();
    f.plugin(
        "hang",
        &format!(
            "echo $$ > '{0}/sh.pid'\nsleep 300 &\necho $! > '{0}/child.pid'\necho 'about to hang' >&2\nwait",
            rec.display()
        ),
    );
    let cni = CniConfig::new([f.bin()])
        .with_cache_dir(f.tmp.path().join("cache"))
        .with_timeout(Some(Duration::from_millis(1500)));
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "hang"}]}));
    let started = Instant::now();
    let err = cni
        .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            r#"plugin type="hang" name="n" failed (add): plugin {} timed out after 1.5s and was killed; stderr: "about to hang""#,
            f.bin().join("hang").display()
        )
    );
    assert_eq!(err.cni_code(), ErrorCode::TryAgainLater);
    for file in ["sh.pid", "child.pid"] {
        let pid: u32 = std::fs::read_to_string(rec.join(file))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !process_gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            process_gone(pid),
            "{file}: process {pid} survived the timeout"
        );
    }
}

/// A plugin that leaves a background process holding its stdout and stderr
/// (here a short `sleep 3`) and exits 0: the call returns its result about
/// one second (the pipe grace) after it exited, without waiting for the
/// pipes to close, and is no timeout.
#[tokio::test]
async fn background_child_holding_the_pipes_does_not_hold_up_the_call() {
    let f = Fixture::new();
    f.plugin(
        "leaver",
        r#"cat > /dev/null
sleep 3 &
echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.5/24"}]}'
echo 'left a child behind' >&2
exit 0"#,
    );
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "leaver"}]}));
    let rt = RuntimeConf::new("c", "/x", "eth0");
    for timeout in [None, Some(Duration::from_secs(2))] {
        let cni = CniConfig::new([f.bin()])
            .with_cache_dir(f.tmp.path().join("cache"))
            .with_exec(
                PluginExec::new()
                    .with_timeout(timeout)
                    .with_forward_stderr(false),
            );
        let started = Instant::now();
        let result = cni.add_network_list(&l, &rt).await;
        let took = started.elapsed();
        let result = result.unwrap_or_else(|e| panic!("timeout {timeout:?}: {e}"));
        assert_eq!(
            result.to_value().unwrap()["ips"][0]["address"],
            "10.9.0.5/24"
        );
        assert!(
            took < Duration::from_millis(2500),
            "timeout {timeout:?}: took {took:?}"
        );
    }
    // What the plugin printed before it exited is all there.
    let exec = PluginExec::new().with_timeout(Some(Duration::from_secs(2)));
    let env = multus_delegate::PluginEnv::new(multus_delegate::Command::Add, &rt, &[f.bin()]);
    let out = exec
        .run_raw(&f.bin().join("leaver"), b"{}", &env)
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        b"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.0.5/24\"}]}\n"
    );
    assert_eq!(out.stderr, b"left a child behind\n");
}

#[tokio::test]
async fn large_config_to_a_plugin_that_ignores_stdin() {
    let f = Fixture::new();
    f.plugin("deaf", r#"echo '{"cniVersion":"1.0.0"}'"#);
    f.plugin("reader", r#"wc -c > /dev/null; echo '{}'"#);
    let big = "x".repeat(1 << 20);
    for t in ["deaf", "reader"] {
        let l = list(
            json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": t, "blob": big}]}),
        );
        f.cni
            .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn missing_and_invalid_plugin_types() {
    let f = Fixture::new();
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "nope"}]}));
    let err = f
        .cni
        .add_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r#"plugin type="nope" name="n" failed (add): failed to find plugin "nope" in path [{} {}]"#,
            f.tmp.path().join("empty-bin").display(),
            f.bin().display()
        )
    );
    for bad in ["../bin/sh", "/bin/sh", ".."] {
        let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": bad}]}));
        let err = f
            .cni
            .del_network_list(&l, &RuntimeConf::new("c", "/x", "eth0"))
            .await
            .unwrap_err();
        assert!(
            matches!(err.root(), Error::InvalidPluginName { .. }),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn add_validates_runtime_arguments_del_does_not() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    let l = list(json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "rec"}]}));
    for (cid, ifname, code) in [
        ("", "eth0", 3),
        ("bad id", "eth0", 4),
        ("c", "", 4),
        ("c", "way-too-long-ifname", 4),
        ("c", "a:b", 4),
    ] {
        let err = f
            .cni
            .add_network_list(&l, &RuntimeConf::new(cid, "/x", ifname))
            .await
            .unwrap_err();
        assert_eq!(err.cni_code().code(), code, "{cid:?}/{ifname:?}: {err}");
    }
    assert!(
        f.log().is_empty(),
        "no plugin runs after a validation error"
    );
    // DEL passes whatever it is given on to the plugins.
    f.cni
        .del_network_list(&l, &RuntimeConf::new("bad id", "", "a:b"))
        .await
        .unwrap();
    assert_eq!(f.env("DEL", "rec")["CNI_IFNAME"], "a:b");
}

#[tokio::test]
async fn single_plugin_config() {
    let f = Fixture::new();
    f.recorder("rec", RESULT_B);
    let conf =
        NetConf::from_value(json!({"cniVersion": "1.0.0", "name": "solo", "type": "rec"})).unwrap();
    let rt = RuntimeConf::new("c9", "/x", "net1");
    let r = f.cni.add_network(&conf, &rt).await.unwrap();
    assert_eq!(r.version(), CniVersion::V1_0_0);
    let entry = f.cni.cached_entry("solo", &rt).unwrap().unwrap();
    assert_eq!(entry.config, conf.to_string().into_bytes());
    f.cni.check_network(&conf, &rt).await.unwrap();
    f.cni.del_network(&conf, &rt).await.unwrap();
    assert_eq!(f.stdin("DEL", "rec")["prevResult"], r.to_value().unwrap());
    assert!(f.cni.cached_entry("solo", &rt).unwrap().is_none());
}

/// libcni's `AddNetwork`/`CheckNetwork`/`DelNetwork` return the plugin's
/// error as is; only the `*NetworkList` calls wrap it in
/// `plugin type=... name=... failed (<verb>): `.
#[tokio::test]
async fn single_plugin_config_errors_are_the_plugins_own() {
    let f = Fixture::new();
    f.plugin(
        "fail",
        r#"cat > /dev/null; echo '{"code":11,"msg":"boom","details":"try later"}'; exit 1"#,
    );
    let rt = RuntimeConf::new("c9", "/x", "net1");
    let conf =
        NetConf::from_value(json!({"cniVersion": "1.0.0", "name": "other1", "type": "fail"}))
            .unwrap();
    let add = f.cni.add_network(&conf, &rt).await.unwrap_err();
    assert_eq!(add.to_string(), "boom; try later");
    assert_eq!(add.cni_code(), ErrorCode::TryAgainLater);
    assert_eq!(add.plugin_error().unwrap().msg, "boom");
    assert!(matches!(add, Error::Plugin { .. }), "{add:?}");
    let check = f.cni.check_network(&conf, &rt).await.unwrap_err();
    assert_eq!(check.to_string(), "boom; try later");
    let del = f.cni.del_network(&conf, &rt).await.unwrap_err();
    assert_eq!(del.to_string(), "boom; try later");
    // A missing plugin, too.
    let conf =
        NetConf::from_value(json!({"cniVersion": "1.0.0", "name": "other1", "type": "nope"}))
            .unwrap();
    let err = f.cni.del_network(&conf, &rt).await.unwrap_err();
    assert!(matches!(err, Error::PluginNotFound { .. }), "{err:?}");

    // The same plugin in a list: wrapped.
    let l = list(json!({"cniVersion": "1.0.0", "name": "other1", "plugins": [{"type": "fail"}]}));
    let err = f.cni.add_network_list(&l, &rt).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"plugin type="fail" name="other1" failed (add): boom; try later"#
    );
    let err = f.cni.del_network_list(&l, &rt).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"plugin type="fail" name="other1" failed (delete): boom; try later"#
    );
}

#[tokio::test]
async fn status_stops_at_the_first_plugin_not_ready() {
    let f = Fixture::new();
    f.recorder("ok", "{}");
    f.plugin(
        "down",
        r#"cat > /dev/null; echo '{"code":50,"msg":"plugin not available","details":"daemon down"}'; exit 1"#,
    );
    f.recorder("never", "{}");
    let l = list(json!({"cniVersion": "1.1.0", "name": "st",
        "plugins": [{"type": "ok", "capabilities": {"mac": true}}, {"type": "down"}, {"type": "never"}]}));
    let err = f.cni.status_network_list(&l).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"plugin type="down" name="st" failed (status): plugin not available; daemon down"#
    );
    assert_eq!(err.cni_code(), ErrorCode::PluginNotAvailable);
    assert_eq!(f.log(), ["STATUS ok "]);
    assert_eq!(
        f.stdin("STATUS", "ok"),
        json!({"type": "ok", "capabilities": {"mac": true}, "name": "st", "cniVersion": "1.1.0"})
    );
    let env = f.env("STATUS", "ok");
    assert_eq!(
        (env["CNI_CONTAINERID"].as_str(), env["CNI_IFNAME"].as_str()),
        ("", "")
    );

    // Before 1.1.0 there is no STATUS: nothing runs.
    let old = list_with_version(&l, CniVersion::V1_0_0).unwrap();
    f.cni.status_network_list(&old).await.unwrap();
    assert_eq!(f.log().len(), 1);
}

#[tokio::test]
async fn gc_deletes_stale_attachments_then_gcs_every_plugin() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    f.plugin(
        "gcfail",
        &format!(
            r#"cat > /dev/null; echo "$CNI_COMMAND gcfail" >> '{}/log'; if [ "$CNI_COMMAND" = GC ]; then echo '{{"code":999,"msg":"gc exploded"}}'; exit 1; fi"#,
            f.rec().display()
        ),
    );
    let l = list(json!({"cniVersion": "1.1.0", "name": "gcnet",
        "plugins": [{"type": "gcfail"}, {"type": "rec"}]}));
    // Three attachments of this network and one of another network in the cache.
    for (net, cid) in [
        ("gcnet", "keep"),
        ("gcnet", "stale1"),
        ("gcnet", "stale2"),
        ("other", "stale3"),
    ] {
        let mut entry = CacheEntry::from_json(br#"{"kind":"cniCacheV1"}"#).unwrap();
        entry.network_name = net.into();
        entry.container_id = cid.into();
        entry.ifname = "eth0".into();
        entry.netns = format!("/run/netns/{cid}");
        entry.cni_args.push("K", cid);
        f.cni.cache().write(&entry).unwrap();
    }
    let valid = [GcAttachment::new("keep", "eth0")];
    let err = f.cni.gc_network_list(&l, Some(&valid)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"plugin type="gcfail" name="gcnet" failed (gc): gc exploded"#
    );
    // Stale attachments were deleted with their cached arguments, then every plugin got GC.
    assert_eq!(
        f.log(),
        [
            "DEL rec stale1",
            "DEL gcfail",
            "DEL rec stale2",
            "DEL gcfail",
            "GC gcfail",
            "GC rec ",
        ]
    );
    let del = f.env("DEL", "rec");
    assert_eq!(
        (del["CNI_NETNS"].as_str(), del["CNI_ARGS"].as_str()),
        ("/run/netns/stale2", "K=stale2")
    );
    let gc = f.stdin("GC", "rec");
    let expected = json!([{"containerID": "keep", "ifname": "eth0"}]);
    assert_eq!(gc["cni.dev/valid-attachments"], expected);
    assert_eq!(gc["cni.dev/attachments"], expected);
    assert_eq!(f.env("GC", "rec")["CNI_CONTAINERID"], "");
    let left: Vec<String> = f
        .cni
        .cached_attachments(None)
        .unwrap()
        .iter()
        .map(|e| format!("{}/{}", e.network_name, e.container_id))
        .collect();
    assert_eq!(left, ["gcnet/keep", "other/stale3"]);

    // disableGC: nothing at all.
    let mut map = l.as_map().clone();
    map.insert("disableGC".into(), json!(true));
    let disabled = NetConfList::from_map(map).unwrap();
    let before = f.log().len();
    f.cni.gc_network_list(&disabled, None).await.unwrap();
    assert_eq!(f.log().len(), before);
}

/// libcni's `GetCachedAttachments` reads a missing `results/` directory as
/// an empty cache, so `GC` still reaches the plugins.
#[tokio::test]
async fn gc_without_a_results_directory_still_gcs_the_plugins() {
    let f = Fixture::new();
    f.recorder("rec", "{}");
    assert!(!f.cni.cache().results_dir().exists());
    let l = list(json!({"cniVersion": "1.1.0", "name": "gcnet", "plugins": [{"type": "rec"}]}));
    f.cni.gc_network_list(&l, None).await.unwrap();
    assert_eq!(f.log(), ["GC rec "]);
}

#[tokio::test]
async fn version_probe_and_negotiation() {
    let f = Fixture::new();
    f.plugin(
        "modern",
        r#"[ "$CNI_COMMAND" = VERSION ] && [ "$CNI_NETNS" = dummy ] && [ "$CNI_PATH" = dummy ] || exit 9
cat > /dev/null
echo '{"cniVersion":"1.1.0","supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]}'"#,
    );
    f.plugin(
        "older",
        r#"cat > /dev/null; echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}'"#,
    );
    f.plugin(
        "ancient",
        r#"echo '{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}'; exit 1"#,
    );
    f.plugin("broken", r#"echo '{"supportedVersions":["1.0.0"]}'"#);

    let modern = f.cni.version_info("modern").await.unwrap();
    assert!(modern.supports("1.1.0"));
    assert_eq!(
        f.cni
            .version_info("ancient")
            .await
            .unwrap()
            .supported_versions,
        ["0.1.0"]
    );
    let err = f.cni.version_info("broken").await.unwrap_err();
    assert!(
        err.to_string().ends_with(": missing field cniVersion"),
        "{err}"
    );

    let l = list(
        json!({"cniVersion": "1.1.0", "cniVersions": ["0.3.1", "0.4.0", "1.0.0"],
        "name": "neg", "plugins": [{"type": "modern"}, {"type": "older"}, {"type": "modern"}]}),
    );
    assert_eq!(
        f.cni.negotiate_version(&l).await.unwrap(),
        CniVersion::V0_4_0
    );

    let l2 = list(json!({"cniVersion": "1.1.0", "name": "neg",
        "plugins": [{"type": "modern"}, {"type": "older"}]}));
    let err = f.cni.negotiate_version(&l2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"network "neg": no CNI version of [1.1.0] is supported by every plugin (modern supports [0.3.1, 0.4.0, 1.0.0, 1.1.0]; older supports [0.3.0, 0.3.1, 0.4.0])"#
    );
    assert_eq!(err.cni_code(), ErrorCode::IncompatibleCniVersion);

    let caps = f
        .cni
        .validate_network_list(&list(json!({"cniVersion": "0.4.0", "name": "v",
            "plugins": [{"type": "modern", "capabilities": {"mac": true, "ips": false}},
                        {"type": "older", "capabilities": {"portMappings": true}}]})))
        .await
        .unwrap();
    assert_eq!(caps, ["mac", "portMappings"]);
    let err = f.cni.validate_network_list(&l2).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin older does not support config version \"1.1.0\" (it supports [0.3.0, 0.3.1, 0.4.0])"
    );
}

#[tokio::test]
async fn exec_can_be_used_directly() {
    let f = Fixture::new();
    let path = f.plugin("echo", r#"cat; echo "$CNI_COMMAND" >&2"#);
    let exec = PluginExec::new().with_forward_stderr(false);
    let env = multus_delegate::PluginEnv::new(
        multus_delegate::Command::Check,
        &RuntimeConf::new("c", "/x", "eth0"),
        &[Path::new("/a")],
    );
    let out = exec.run_raw(&path, b"hello", &env).await.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello");
    assert_eq!(out.stderr, b"CHECK\n");
}

/// Set in the environment of the child run by
/// `successful_plugin_stderr_into_a_broken_pipe_is_dropped`.
const BROKEN_STDERR_CHILD: &str = "MULTUS_DELEGATE_TEST_BROKEN_STDERR_CHILD";

/// The half of the test below that runs in a child test process whose stderr
/// is a pipe nobody reads (does nothing in a normal run).
#[tokio::test]
async fn forward_stderr_into_a_broken_pipe_child() {
    let Some(bin) = std::env::var_os(BROKEN_STDERR_CHILD) else {
        return;
    };
    let bin = PathBuf::from(bin);
    let out = PluginExec::new()
        .run(
            &bin.join("chatty"),
            b"{}",
            &multus_delegate::PluginEnv::without_attachment(
                multus_delegate::Command::Status,
                &[&bin],
            ),
        )
        .await
        .unwrap();
    assert_eq!(out, b"done\n");
}

/// Copying a successful plugin's stderr to ours must not panic when our
/// stderr is a closed pipe: the plugin's success stands.
#[test]
fn successful_plugin_stderr_into_a_broken_pipe_is_dropped() {
    let f = Fixture::new();
    f.plugin("chatty", "echo 'some chatter' >&2; echo done");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "forward_stderr_into_a_broken_pipe_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BROKEN_STDERR_CHILD, f.bin())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end: every write to the child's stderr fails with EPIPE.
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}", out.status);
    assert!(stdout.contains("1 passed"), "{stdout}");
}
