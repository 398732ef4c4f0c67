//! `auxiliaryCNIChainName` through the built binary: the chain
//! `passthru` + `<dir of clusterNetwork>/<name>/*.conf` runs last on ADD (a
//! real `tuning` sets a sysctl in the pod, a recording plugin sees the call),
//! is deleted on DEL, and rolls the whole pod back when one of its plugins
//! fails.
//!
//! Needs root; fails (never skips) without it, unless `MULTUS_SKIP_PRIVILEGED=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use common::{Fixture, MASTER, MASTER_NAME, assert_attached, macvlan_conf_1};
use serde_json::{Value, json};

/// A chained plugin that records `<command> <ifname>` and answers ADD with an
/// empty 1.0.0 result (what the chain's last plugin returns to multus).
const RECORD: &str = "#!/bin/sh\necho \"$CNI_COMMAND $CNI_IFNAME\" >> \"$(dirname \"$0\")/calls\"\n[ \"$CNI_COMMAND\" = ADD ] && printf '{\"cniVersion\":\"1.0.0\"}'\nexit 0\n";

struct Aux {
    fx: Fixture,
    bin: PathBuf,
    conf: Value,
}

impl Aux {
    /// clusterNetwork mode with the master in a file, and the chain `aux`
    /// of `plugins` (one `.conf` each, in order) next to it.
    fn new(plugins: &[Value]) -> Option<Self> {
        let fx = Fixture::new()?;
        let bin = fx.tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_passthru"), bin.join("passthru")).unwrap();
        std::fs::write(bin.join("mrs-record"), RECORD).unwrap();
        std::fs::set_permissions(
            bin.join("mrs-record"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();

        let net_dir = fx.tmp.path().join("cluster");
        let aux_dir = net_dir.join("aux");
        std::fs::create_dir_all(&aux_dir).unwrap();
        let mut master = fx.master_delegate("1.0.0");
        let master_plugin = {
            let m = master.as_object_mut().unwrap();
            m.remove("cniVersion");
            m.remove("name");
            master.clone()
        };
        let master_file = net_dir.join("10-master.conflist");
        std::fs::write(
            &master_file,
            json!({"cniVersion": "1.0.0", "name": MASTER_NAME, "plugins": [master_plugin]})
                .to_string(),
        )
        .unwrap();
        for (i, plugin) in plugins.iter().enumerate() {
            std::fs::write(
                aux_dir.join(format!("{:02}-aux.conf", 10 * (i + 1))),
                plugin.to_string(),
            )
            .unwrap();
        }

        let mut conf = fx.conf("1.0.0");
        let map = conf.as_object_mut().unwrap();
        map.remove("delegates");
        map.insert("clusterNetwork".into(), json!(master_file));
        map.insert("auxiliaryCNIChainName".into(), json!("aux"));
        map.insert("binDir".into(), json!(bin));
        Some(Self { fx, bin, conf })
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn sysctl(&self, key: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", self.fx.ns.name(), "cat"])
            .arg(format!("/proc/sys/{}", key.replace('.', "/")))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

fn tuning_sysctl(key: &str, value: &str) -> Value {
    json!({"type": "tuning", "sysctl": {key: value}})
}

#[test]
fn the_auxiliary_chain_runs_last_and_is_deleted() {
    let Some(aux) = Aux::new(&[
        tuning_sysctl("net.ipv4.conf.all.arp_announce", "2"),
        json!({"type": "mrs-record"}),
    ]) else {
        return;
    };
    let fx = &aux.fx;
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("aux", "macvlan-conf-1");
    assert_eq!(aux.sysctl("net.ipv4.conf.all.arp_announce"), "0");

    fx.add(&aux.conf, &pod).assert_ok();
    // Last, after the master (eth0) and the pod's network (net1): net2.
    assert_eq!(aux.calls(), ["ADD net2"]);
    assert_eq!(aux.sysctl("net.ipv4.conf.all.arp_announce"), "2");
    // The chain's result has no interface: no network-status entry, as upstream.
    assert_attached(
        fx,
        &pod,
        &[MASTER, macvlan_conf_1("net1", "default/macvlan-conf-1")],
    );
    let cached = fx.result_cache_entries();
    assert!(
        cached.contains(&format!("aux-{}-net2", fx.container_id)),
        "{cached:?}"
    );

    fx.del(&aux.conf, &pod).assert_ok();
    assert_eq!(aux.calls(), ["ADD net2", "DEL net2"]);
    fx.assert_nothing_left(&[]);
}

#[test]
fn a_failing_auxiliary_chain_rolls_the_pod_back() {
    let Some(aux) = Aux::new(&[
        json!({"type": "mrs-record"}),
        tuning_sysctl("net.core.mrs_no_such_sysctl", "1"),
    ]) else {
        return;
    };
    let fx = &aux.fx;
    fx.load_guide_nad("nad-macvlan-conf-1.yaml", None);
    let pod = fx.insert_simple_pod("aux-bad", "macvlan-conf-1");

    let run = fx.add(&aux.conf, &pod);
    let msg = run.assert_failed()["msg"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("error adding container to network \"aux\"")
            && msg.contains("mrs_no_such_sysctl"),
        "{msg}"
    );
    // The chain ran, failed, and was deleted with everything before it.
    assert_eq!(aux.calls(), ["ADD net2", "DEL net2"]);
    fx.assert_nothing_left(&[]);
    fx.del(&aux.conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}
