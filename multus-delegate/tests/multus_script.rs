//! The multus runner against shell-script plugins that record what they
//! receive: `CNI_ARGS` as upstream builds them, capability arguments, plugin
//! directories, order of ADD/DEL, rollback, hooks, the delegate cache and
//! error texts. No root needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::script_plugin;
use multus_delegate::multus::{
    AddHooks, Attachment, DEVINFO_CNI_DIR, DelegateStep, PodContext, Runner, RuntimeRequests,
    delegate_runtime_config,
};
use multus_delegate::{Command, Error};
use multus_types::{CniArgs, CniResult, DelegateConf, RuntimeConfig};
use serde_json::{Value, json};
use tempfile::TempDir;

const RUNTIME_ARGS: &str = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee01;K8S_POD_UID=uid-1";
/// What every delegate gets before any MAC/IP: upstream's five pairs, then the runtime's again.
const DELEGATE_ARGS: &str = "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee01;K8S_POD_UID=uid-1;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee01;K8S_POD_UID=uid-1";

struct Fixture {
    tmp: TempDir,
    runner: Runner,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["bin", "rec"] {
            std::fs::create_dir(tmp.path().join(d)).unwrap();
        }
        // binDir first (empty here), then CNI_PATH entries, as upstream.
        let cni_path = format!("{}:", tmp.path().join("bin").display());
        let runner = Runner::new(
            tmp.path().join("multus"),
            tmp.path().join("bindir"),
            &cni_path,
        )
        .with_timeout(Some(Duration::from_secs(20)))
        .with_del_cni_version("0.4.0");
        Self { tmp, runner }
    }

    fn rec(&self) -> PathBuf {
        self.tmp.path().join("rec")
    }

    fn cni_dir(&self) -> PathBuf {
        self.tmp.path().join("multus")
    }

    /// A plugin that records its stdin and env per command, logs the call,
    /// prints a 1.0.0 result on ADD; `fail_on` commands print a CNI error
    /// and exit 1 instead.
    fn recorder(&self, name: &str, fail_on: &[&str]) {
        let fail = fail_on
            .iter()
            .map(|c| {
                format!(
                    r#"if [ "$CNI_COMMAND" = {c} ]; then printf '{{"cniVersion":"1.0.0","code":11,"msg":"{name} refuses {c}"}}'; exit 1; fi"#
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let body = format!(
            r#"D='{rec}'
N='{name}'
cat > "$D/$CNI_COMMAND-$N.json"
env | grep '^CNI_' | sort > "$D/$CNI_COMMAND-$N.env"
echo "$CNI_COMMAND $N $CNI_IFNAME" >> "$D/log"
{fail}
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{{"cniVersion":"1.0.0","interfaces":[{{"name":"%s","sandbox":"%s"}}],"ips":[{{"address":"10.0.0.5/24","interface":0}}]}}' "$CNI_IFNAME" "$CNI_NETNS"
fi
exit 0"#,
            rec = self.rec().display()
        );
        script_plugin(&self.tmp.path().join("bin"), name, &body);
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

    fn results(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.cni_dir().join("results"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn delegate_cache_exists(&self, cid: &str) -> bool {
        self.cni_dir().join(cid).exists()
    }
}

fn ctx(cid: &str) -> PodContext {
    PodContext::new(cid, "/run/netns/not-needed", "eth0")
        .with_runtime_args(CniArgs::parse(RUNTIME_ARGS).unwrap())
        .unwrap()
}

fn single(name: &str, plugin: &str, ifname: &str) -> Attachment {
    let conf = DelegateConf::from_value(
        json!({"cniVersion": "1.0.0", "name": name, "type": plugin, "capabilities": {"mac": true, "ips": true}}),
    )
    .unwrap();
    Attachment::new(conf, ifname, format!("ns1/{name}"))
}

fn list(name: &str, plugins: &[&str], ifname: &str) -> Attachment {
    let plugins: Vec<Value> = plugins
        .iter()
        .map(|t| json!({"type": t, "capabilities": {"mac": true, "portMappings": true}}))
        .collect();
    let conf =
        DelegateConf::from_value(json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins}))
            .unwrap();
    Attachment::new(conf, ifname, name)
}

/// Records every hook call.
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
    fail_before: Option<usize>,
    fail_after: Option<usize>,
}

impl AddHooks for Recorder {
    async fn before_add(&mut self, step: &DelegateStep<'_>) -> Result<(), Error> {
        self.calls.push(format!(
            "before {} {}",
            step.index, step.runtime_conf.ifname
        ));
        if self.fail_before == Some(step.index) {
            return Err(Error::hook(format!(
                "validateIfName: interface name {} already exists",
                step.runtime_conf.ifname
            )));
        }
        Ok(())
    }

    async fn after_add(
        &mut self,
        step: &DelegateStep<'_>,
        result: &CniResult,
    ) -> Result<(), Error> {
        let ips = result.to_v1().unwrap().ips.len();
        self.calls.push(format!("after {} {ips} ip(s)", step.index));
        if self.fail_after == Some(step.index) {
            return Err(Error::hook("error deleting default gateway: boom"));
        }
        Ok(())
    }

    fn rollback_failed(&mut self, step: &DelegateStep<'_>, error: &Error) {
        self.calls
            .push(format!("rollback of {} failed: {error}", step.index));
    }
}

#[tokio::test]
async fn add_gives_delegates_upstreams_arguments() {
    let f = Fixture::new();
    for p in ["rec-a", "rec-b1", "rec-b2", "rec-c"] {
        f.recorder(p, &[]);
    }
    let mut master = single("net-a", "rec-a", "eth0");
    master.master = true;
    master.runtime_config.mac = "c2:00:00:00:00:0a".into();
    let mut second = list("net-b", &["rec-b1", "rec-b2"], "net1");
    second.mac_request = "c2:11:22:33:44:55".into();
    second.ip_request = Some(vec!["10.1.1.7/24".into(), "2001:db8::7".into()]);
    second.runtime_config.mac = "c2:11:22:33:44:55".into();
    second.runtime_config.port_mappings = vec![multus_types::PortMapping {
        host_port: 8080,
        container_port: 80,
        protocol: "tcp".into(),
        host_ip: String::new(),
    }];
    let mut third = single("net-c", "rec-c", "ptp0");
    third.ip_request = Some(Vec::new());
    let plan = vec![master, second, third];
    let mut hooks = Recorder::default();
    let c = ctx("cid-args");

    let outcome = f.runner.add(&c, &plan, &mut hooks).await.unwrap();

    assert_eq!(outcome.master, 0);
    assert_eq!(outcome.results.len(), 3);
    let master_result = outcome.master_result().unwrap().to_v1().unwrap();
    assert_eq!(master_result.interfaces[0].name, "eth0");
    assert_eq!(
        f.log(),
        [
            "ADD rec-a eth0",
            "ADD rec-b1 net1",
            "ADD rec-b2 net1",
            "ADD rec-c ptp0"
        ]
    );
    assert_eq!(
        hooks.calls,
        [
            "before 0 eth0",
            "after 0 1 ip(s)",
            "before 1 net1",
            "after 1 1 ip(s)",
            "before 2 ptp0",
            "after 2 1 ip(s)"
        ]
    );

    // The environment: CNI_PATH = binDir then the CNI_PATH entries.
    let env = f.env("ADD", "rec-a");
    assert_eq!(env["CNI_ARGS"], DELEGATE_ARGS);
    assert_eq!(env["CNI_CONTAINERID"], "cid-args");
    assert_eq!(env["CNI_NETNS"], "/run/netns/not-needed");
    assert_eq!(
        env["CNI_PATH"],
        format!(
            "{}:{}",
            f.tmp.path().join("bindir").display(),
            f.tmp.path().join("bin").display()
        )
    );
    // MAC and IP requests appended on ADD, for every plugin of the list.
    for p in ["rec-b1", "rec-b2"] {
        assert_eq!(
            f.env("ADD", p)["CNI_ARGS"],
            format!("{DELEGATE_ARGS};MAC=c2:11:22:33:44:55;IP=10.1.1.7/24,2001:db8::7")
        );
    }
    // An empty ips request still says IP=.
    assert_eq!(
        f.env("ADD", "rec-c")["CNI_ARGS"],
        format!("{DELEGATE_ARGS};IP=")
    );
    assert_eq!(f.env("ADD", "rec-c")["CNI_IFNAME"], "ptp0");

    // Capability arguments: only what each plugin enables.
    assert_eq!(
        f.stdin("ADD", "rec-a")["runtimeConfig"],
        json!({"mac": "c2:00:00:00:00:0a"})
    );
    assert_eq!(
        f.stdin("ADD", "rec-b1")["runtimeConfig"],
        json!({"mac": "c2:11:22:33:44:55",
               "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    );
    assert!(f.stdin("ADD", "rec-c").get("runtimeConfig").is_none());
    // Chaining inside the list.
    assert_eq!(
        f.stdin("ADD", "rec-b2")["prevResult"]["interfaces"][0]["name"],
        "net1"
    );

    // libcni's result cache in cniDir, one entry per delegate.
    assert_eq!(
        f.results(),
        [
            "net-a-cid-args-eth0",
            "net-b-cid-args-net1",
            "net-c-cid-args-ptp0"
        ]
    );
    // The delegate cache, read back as the same plan.
    let cached = f
        .runner
        .delegate_cache()
        .read("cid-args", "eth0", &RuntimeConfig::default())
        .unwrap()
        .unwrap();
    let names: Vec<_> = cached
        .attachments()
        .map(|a| (a.ifname.as_str(), a.network_name()))
        .collect();
    assert_eq!(
        names,
        [("eth0", "net-a"), ("net1", "net-b"), ("ptp0", "net-c")]
    );

    // DEL from the cache: reverse order, no MAC/IP, the cached requests as capability args.
    f.runner.del_cached(&c, cached).await.unwrap();
    assert_eq!(
        &f.log()[4..],
        [
            "DEL rec-c ptp0",
            "DEL rec-b2 net1",
            "DEL rec-b1 net1",
            "DEL rec-a eth0"
        ]
    );
    assert_eq!(f.env("DEL", "rec-b1")["CNI_ARGS"], DELEGATE_ARGS);
    assert_eq!(
        f.stdin("DEL", "rec-b1")["runtimeConfig"],
        json!({"mac": "c2:11:22:33:44:55"})
    );
    assert!(f.stdin("DEL", "rec-a").get("runtimeConfig").is_none());
    assert!(f.results().is_empty());
}

#[tokio::test]
async fn a_failing_delegate_rolls_back_in_reverse_and_drops_the_cache() {
    let f = Fixture::new();
    for p in ["ok-a", "ok-b", "never"] {
        f.recorder(p, &[]);
    }
    f.recorder("bad-c", &["ADD"]);
    let mut master = list("net-a", &["ok-a"], "eth0");
    master.master = true;
    let plan = vec![
        master,
        single("net-b", "ok-b", "net1"),
        list("net-c", &["bad-c"], "net2"),
        single("net-d", "never", "net3"),
    ];
    let mut hooks = Recorder::default();
    let err = f
        .runner
        .add(&ctx("cid-fail"), &plan, &mut hooks)
        .await
        .unwrap_err();

    assert_eq!(
        err.to_string(),
        r#"[ns1/web-0/uid-1:net-c]: error adding container to network "net-c": plugin type="bad-c" name="net-c" failed (add): bad-c refuses ADD"#
    );
    let Error::DelegateAdd {
        index,
        ref rollback_errors,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(index, 2);
    assert!(rollback_errors.is_empty());
    assert_eq!(err.plugin_error().unwrap().msg, "bad-c refuses ADD");
    assert_eq!(
        f.log(),
        [
            "ADD ok-a eth0",
            "ADD ok-b net1",
            "ADD bad-c net2",
            "DEL bad-c net2",
            "DEL ok-b net1",
            "DEL ok-a eth0"
        ]
    );
    // Rollback DELs carry no MAC/IP either.
    assert_eq!(f.env("DEL", "ok-b")["CNI_ARGS"], DELEGATE_ARGS);
    // Nothing left: no result cache entry, no delegate cache.
    assert!(f.results().is_empty(), "{:?}", f.results());
    assert!(!f.delegate_cache_exists("cid-fail"));
}

/// A `.conf` (single plugin) delegate's error is the plugin's own, as
/// libcni's `AddNetwork` returns it: no `plugin type=... failed (add): `.
#[tokio::test]
async fn a_failing_single_plugin_delegate_reads_like_upstream() {
    let f = Fixture::new();
    f.recorder("ok-a", &[]);
    f.recorder("fail", &["ADD"]);
    let plan = vec![
        list("net-a", &["ok-a"], "eth0"),
        single("other1", "fail", "net1"),
    ];
    let err = f
        .runner
        .add(&ctx("cid-single"), &plan, &mut Recorder::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"[ns1/web-0/uid-1:other1]: error adding container to network "other1": fail refuses ADD"#
    );
    assert_eq!(err.plugin_error().unwrap().msg, "fail refuses ADD");
    assert_eq!(
        f.log(),
        [
            "ADD ok-a eth0",
            "ADD fail net1",
            "DEL fail net1",
            "DEL ok-a eth0"
        ]
    );
}

#[tokio::test]
async fn a_failed_rollback_keeps_the_delegate_cache_for_the_runtimes_del() {
    let f = Fixture::new();
    f.recorder("sticky", &["DEL"]);
    f.recorder("bad", &["ADD"]);
    let plan = vec![
        single("net-a", "sticky", "eth0"),
        single("net-b", "bad", "net1"),
    ];
    let mut hooks = Recorder::default();
    let err = f
        .runner
        .add(&ctx("cid-sticky"), &plan, &mut hooks)
        .await
        .unwrap_err();
    let Error::DelegateAdd {
        rollback_errors, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(rollback_errors.len(), 1);
    assert_eq!(
        rollback_errors[0].to_string(),
        r#"DelegateDel: error invoking DelegateDel - "sticky": error in getting result from DelNetwork: sticky refuses DEL"#
    );
    assert_eq!(
        hooks.calls.last().unwrap(),
        &format!("rollback of 0 failed: {}", rollback_errors[0])
    );
    // The runtime's DEL still has work: the cache stays, and is readable.
    assert!(f.delegate_cache_exists("cid-sticky"));
    let cached = f
        .runner
        .delegate_cache()
        .read("cid-sticky", "eth0", &RuntimeConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(cached.entries.len(), 2);
}

#[tokio::test]
async fn hook_failures_roll_back_like_delegate_failures() {
    let f = Fixture::new();
    for p in ["h-a", "h-b", "h-c"] {
        f.recorder(p, &[]);
    }
    let plan = vec![
        single("net-a", "h-a", "eth0"),
        single("net-b", "h-b", "net1"),
        single("net-c", "h-c", "net2"),
    ];
    // The interface-name check refuses the second delegate: it never runs, so
    // only the first is deleted (upstream also DELs the refused one, which
    // removes the pod's existing interface of that name).
    let mut hooks = Recorder {
        fail_before: Some(1),
        ..Recorder::default()
    };
    let err = f
        .runner
        .add(&ctx("cid-hook1"), &plan, &mut hooks)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"[ns1/web-0/uid-1:net-b]: error adding container to network "net-b": validateIfName: interface name net1 already exists"#
    );
    assert!(matches!(err.root(), Error::Hook(_)));
    assert_eq!(f.log(), ["ADD h-a eth0", "DEL h-a eth0"]);
    assert_eq!(
        hooks.calls,
        ["before 0 eth0", "after 0 1 ip(s)", "before 1 net1"]
    );
    assert!(!f.delegate_cache_exists("cid-hook1"));

    // A failure after a successful delegate (e.g. a default-route change): that delegate is undone too.
    std::fs::remove_file(f.rec().join("log")).unwrap();
    let mut hooks = Recorder {
        fail_after: Some(0),
        ..Recorder::default()
    };
    let err = f
        .runner
        .add(&ctx("cid-hook2"), &plan, &mut hooks)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"[ns1/web-0/uid-1:net-a]: error adding container to network "net-a": error deleting default gateway: boom"#
    );
    assert_eq!(f.log(), ["ADD h-a eth0", "DEL h-a eth0"]);
    assert!(f.results().is_empty());
}

#[tokio::test]
async fn invalid_mac_request_fails_before_the_delegate_runs() {
    let f = Fixture::new();
    f.recorder("m-a", &[]);
    f.recorder("m-b", &[]);
    let mut bad = single("net-b", "m-b", "net1");
    bad.mac_request = "not-a-mac".into();
    let plan = vec![single("net-a", "m-a", "eth0"), bad];
    let err = f
        .runner
        .add(&ctx("cid-mac"), &plan, &mut ())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"[ns1/web-0/uid-1:net-b]: error adding container to network "net-b": DelegateAdd: failed to parse mac address "not-a-mac""#
    );
    assert_eq!(f.log(), ["ADD m-a eth0", "DEL m-a eth0"]);
}

#[tokio::test]
async fn del_goes_on_after_errors_and_back_fills_list_versions() {
    let f = Fixture::new();
    f.recorder("d-ok", &[]);
    f.recorder("d-bad1", &["DEL"]);
    f.recorder("d-bad2", &["DEL"]);
    let no_version = DelegateConf::from_value(
        json!({"name": "net-a", "plugins": [{"type": "d-ok", "keep": {"x": 1}}]}),
    )
    .unwrap();
    let plan = vec![
        Attachment::new(no_version, "eth0", "net-a"),
        single("net-b", "d-bad1", "net1"),
        list("net-c", &["d-bad2"], "net2"),
    ];
    let err = f.runner.del(&ctx("cid-del"), &plan).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        concat!(
            r#"errors: DelegateDel: error invoking ConflistDel - "net-c": conflistDel: error in getting result from DelNetworkList: plugin type="d-bad2" name="net-c" failed (delete): d-bad2 refuses DEL"#,
            r#" / DelegateDel: error invoking DelegateDel - "d-bad1": error in getting result from DelNetwork: d-bad1 refuses DEL"#
        )
    );
    assert_eq!(
        f.log(),
        ["DEL d-bad2 net2", "DEL d-bad1 net1", "DEL d-ok eth0"]
    );
    // The list without cniVersion got the multus config's, the rest of it kept.
    let stdin = f.stdin("DEL", "d-ok");
    assert_eq!(stdin["cniVersion"], "0.4.0");
    assert_eq!(stdin["keep"], json!({"x": 1}));
    // DEL again: the same (plugins decide), and it is callable any number of times.
    assert!(f.runner.del(&ctx("cid-del"), &plan[..1]).await.is_ok());
}

/// The runtime's `CNIDeviceInfoFile` reaches the delegates on `DEL` (as
/// upstream), from the plan and from the delegate cache alike, but is never
/// removed: only the device-info file generated in `DEVINFO_CNI_DIR` for an
/// attachment with a device is.
#[tokio::test]
async fn del_never_removes_a_runtime_supplied_device_info_file() {
    let f = Fixture::new();
    f.recorder("dv", &[]);
    let cid = format!("cid-devinfo-{}", std::process::id());
    let precious = f.tmp.path().join("precious.json");
    std::fs::write(&precious, b"{}").unwrap();
    let base = RuntimeConfig {
        cni_device_info_file: precious.display().to_string(),
        ..RuntimeConfig::default()
    };
    let attachment = |name: &str, ifname: &str, index: usize, device: &str| {
        let conf = DelegateConf::from_value(json!({
            "cniVersion": "1.0.0", "name": name, "type": "dv",
            "capabilities": {"CNIDeviceInfoFile": true, "deviceID": true}
        }))
        .unwrap();
        let mut a = Attachment::new(conf, ifname, format!("ns1/{name}"));
        a.master = index == 0;
        a.device_id = device.to_owned();
        let requests = RuntimeRequests {
            device_id: device,
            ..RuntimeRequests::default()
        };
        a.runtime_config =
            delegate_runtime_config(&base, &requests, a.master, &a.status_name, &cid, ifname);
        a
    };
    let plan = vec![
        attachment("net-a", "eth0", 0, ""),
        attachment("net-b", "net1", 1, ""),
        attachment("net-c", "net2", 2, "0000:03:00.1"),
    ];
    let generated = PathBuf::from(DEVINFO_CNI_DIR).join(format!("ns1-net-c-{cid}_net2"));
    assert_eq!(
        plan[2].generated_device_info_file(&cid),
        Some(generated.to_str().unwrap())
    );
    assert_eq!(plan[1].generated_device_info_file(&cid), None);

    // The generated file is created when this process may (root); the
    // directories made for it are removed again at the end.
    let created_dirs: Vec<PathBuf> = generated
        .ancestors()
        .skip(1)
        .take_while(|d| !d.exists())
        .map(PathBuf::from)
        .collect();
    let made_generated = std::fs::create_dir_all(DEVINFO_CNI_DIR).is_ok()
        && std::fs::write(&generated, b"{}").is_ok();

    f.runner.del(&ctx(&cid), &plan).await.unwrap();
    assert!(precious.exists(), "the runtime's file was removed");
    // The delegates were given it (the master and a non-master without a device).
    let stdin = f.stdin("DEL", "dv");
    assert_eq!(
        stdin["runtimeConfig"]["CNIDeviceInfoFile"],
        precious.display().to_string()
    );
    if made_generated {
        assert!(!generated.exists(), "the generated file was left behind");
    }

    // The same through the delegate cache, as the DEL of a restarted node.
    let cache = f.runner.delegate_cache();
    cache.write(&cid, "eth0", &plan).unwrap();
    let cached = cache.read(&cid, "eth0", &base).unwrap().unwrap();
    let read: Vec<&Attachment> = cached.attachments().collect();
    for (a, b) in plan.iter().zip(&read) {
        assert_eq!(a.runtime_config, b.runtime_config, "{}", a.status_name);
    }
    f.runner.del_cached(&ctx(&cid), cached).await.unwrap();
    assert!(precious.exists(), "the runtime's file was removed");
    cache.remove(&cid).unwrap();

    for dir in created_dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

#[tokio::test]
async fn del_cached_counts_unusable_entries_and_skips_nothing_else() {
    let f = Fixture::new();
    f.recorder("u-a", &[]);
    f.recorder("u-c", &[]);
    let cni_dir = f.cni_dir();
    std::fs::create_dir_all(&cni_dir).unwrap();
    let b64 = |s: &str| {
        // Encoded by the crate itself through a round trip of a real plan.
        let a = Attachment::new(DelegateConf::from_bytes(s.as_bytes()).unwrap(), "x", "x");
        let v: Value = serde_json::from_slice(&multus_delegate::multus::DelegateCache::to_json(
            "eth0",
            &[a],
        ))
        .unwrap();
        v[0]["Bytes"].clone()
    };
    let fixture = json!([
        {"Name": "net-a", "Bytes": b64(r#"{"cniVersion":"1.0.0","name":"net-a","type":"u-a"}"#)},
        {"Name": "ns1/broken", "Bytes": "e30="},
        {"Name": "net-c", "ConfList": {"plugins": [{}]}, "Bytes": b64(r#"{"cniVersion":"1.0.0","name":"net-c","plugins":[{"type":"u-c"}]}"#)}
    ]);
    std::fs::write(cni_dir.join("cid-u"), fixture.to_string()).unwrap();
    let cached = f
        .runner
        .delegate_cache()
        .read("cid-u", "eth0", &RuntimeConfig::default())
        .unwrap()
        .unwrap();
    let err = f
        .runner
        .del_cached(&ctx("cid-u"), cached)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"errors: cached delegate 1 ("ns1/broken"): invalid network config: plugin config is missing the 'type' field"#
    );
    assert_eq!(f.log(), ["DEL u-c net2", "DEL u-a eth0"]);
}

#[tokio::test]
async fn check_runs_in_order_and_stops_at_the_first_failure() {
    let f = Fixture::new();
    f.recorder("k-a", &[]);
    f.recorder("k-b", &["CHECK"]);
    f.recorder("k-c", &[]);
    let plan = vec![
        list("net-a", &["k-a"], "eth0"),
        single("net-b", "k-b", "net1"),
        single("net-c", "k-c", "net2"),
    ];
    let c = ctx("cid-check");
    f.runner.add(&c, &plan, &mut ()).await.unwrap();
    let err = f.runner.check(&c, &plan).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"DelegateCheck: error invoking DelegateCheck - "k-b": error in getting result from CheckNetwork: k-b refuses CHECK"#
    );
    assert!(matches!(
        err,
        Error::DelegateOp {
            command: Command::Check,
            ..
        }
    ));
    assert_eq!(&f.log()[3..], ["CHECK k-a eth0", "CHECK k-b net1"]);
    assert_eq!(f.env("CHECK", "k-a")["CNI_ARGS"], DELEGATE_ARGS);
    // CHECK gets the cached result as prevResult.
    assert_eq!(
        f.stdin("CHECK", "k-a")["prevResult"]["interfaces"][0]["name"],
        "eth0"
    );
}

#[tokio::test]
async fn an_escaping_container_id_is_refused_before_anything_runs() {
    let f = Fixture::new();
    f.recorder("e-a", &[]);
    let plan = vec![single("net-a", "e-a", "eth0")];
    for cid in ["../x", "a/../../b", "..", ""] {
        let err = f.runner.add(&ctx(cid), &plan, &mut ()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{cid:?}: {err}");
        assert!(
            f.runner
                .delegate_cache()
                .read(cid, "eth0", &RuntimeConfig::default())
                .is_err()
        );
    }
    assert_eq!(
        f.runner
            .add(&ctx("../x"), &plan, &mut ())
            .await
            .unwrap_err()
            .to_string(),
        "invalid characters in containerID; ../x"
    );
    assert!(f.log().is_empty());
    assert!(!f.tmp.path().join("x").exists());
    assert!(!f.cni_dir().exists());
}

#[tokio::test]
async fn an_empty_plan_is_refused() {
    let f = Fixture::new();
    let err = f
        .runner
        .add(&ctx("cid-empty"), &[], &mut ())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no delegates to add");
    assert!(!f.delegate_cache_exists("cid-empty"));
}
