//! The thick config generator and manager on real files in temp dirs, with
//! real inotify: generation, regeneration, the last good file kept,
//! readiness loss, capabilities accumulating, and the exact bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use multus_cli::confgen::manager::READINESS_LOST_EXIT_CODE;
use multus_cli::confgen::{
    ConfigEvent, ConfigManager, ConfigManagerHandle, Error, GENERATED_FILE_NAME, Generator,
    GeneratorConfig, ManagerSettings, PrimaryConfig,
};
use tempfile::TempDir;
use tokio::sync::mpsc::UnboundedReceiver;

const FLANNEL_040: &str = r#"{
  "name": "cbr0",
  "cniVersion": "0.4.0",
  "plugins": [
    {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
"#;

const BRIDGE_031: &str = r#"{"cniVersion": "0.3.1", "name": "mynet", "type": "bridge"}"#;

/// A node: the CNI config dir (autoconfig dir too) and a readiness dir.
struct Node {
    _dir: TempDir,
    conf: PathBuf,
    ready_dir: PathBuf,
}

fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("net.d");
    let ready_dir = dir.path().join("run-flannel");
    fs::create_dir_all(&conf).unwrap();
    fs::create_dir_all(&ready_dir).unwrap();
    Node {
        _dir: dir,
        conf,
        ready_dir,
    }
}

impl Node {
    fn config(&self, extra: serde_json::Value) -> GeneratorConfig {
        let mut v = serde_json::json!({
            "cniVersion": "0.4.0",
            "cniConfigDir": self.conf,
            "multusAutoconfigDir": self.conf,
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        GeneratorConfig::from_slice(v.to_string().as_bytes()).unwrap()
    }

    fn generated(&self) -> PathBuf {
        self.conf.join(GENERATED_FILE_NAME)
    }

    fn read_generated(&self) -> String {
        fs::read_to_string(self.generated()).unwrap()
    }

    /// The generated text with the temp dir replaced by `<conf>`.
    fn redacted(&self) -> String {
        self.read_generated()
            .replace(self.conf.to_str().unwrap(), "<conf>")
    }
}

fn settings(config: GeneratorConfig) -> ManagerSettings {
    let mut s = ManagerSettings::new(config);
    s.find_attempts = 3;
    s.find_interval = Duration::from_millis(20);
    s
}

async fn start(config: GeneratorConfig) -> (ConfigManagerHandle, UnboundedReceiver<ConfigEvent>) {
    ConfigManager::start(settings(config)).await.unwrap()
}

async fn next(events: &mut UnboundedReceiver<ConfigEvent>) -> ConfigEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("no event within 5 s")
        .expect("the manager stopped")
}

/// The next event `want` accepts, skipping others: an in-place write is a
/// truncation and a write, so a read in between may see an empty file and
/// report it before the real change arrives.
async fn wait_for(
    events: &mut UnboundedReceiver<ConfigEvent>,
    want: impl Fn(&ConfigEvent) -> bool,
) -> ConfigEvent {
    loop {
        let ev = next(events).await;
        if want(&ev) {
            return ev;
        }
        assert!(
            matches!(&ev, ConfigEvent::KeptLastGood { error } if error.contains("unmarshall")),
            "unexpected {ev:?}"
        );
    }
}

/// Lets the events of one file operation arrive, then drops them.
async fn settle(events: &mut UnboundedReceiver<ConfigEvent>) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(ev) = events.try_recv() {
        assert!(
            regenerated(&ev)
                || matches!(&ev, ConfigEvent::KeptLastGood { error } if error.contains("unmarshall")),
            "unexpected {ev:?}"
        );
    }
}

fn regenerated(ev: &ConfigEvent) -> bool {
    matches!(ev, ConfigEvent::Regenerated { .. })
}

/// Writes a file the way a CNI plugin's installer usually does: in place.
fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

// ---------------------------------------------------------------- generation

#[tokio::test]
async fn generates_upstreams_bytes_mode_0600() {
    let n = node();
    write(&n.conf.join("10-flannel.conflist"), FLANNEL_040);
    let (handle, _events) = start(n.config(serde_json::json!({}))).await;
    let primary = n.conf.join("10-flannel.conflist");
    assert_eq!(handle.primary_path(), primary);
    assert_eq!(handle.generated_path(), n.generated());
    // Upstream's own test expects exactly this shape (Go json.Marshal).
    assert_eq!(
        n.read_generated(),
        format!(
            r#"{{"capabilities":{{"portMappings":true}},"cniVersion":"0.4.0","name":"multus-cni-network","clusterNetwork":"{}","type":"multus-shim"}}"#,
            primary.display()
        )
    );
    let mode = fs::metadata(n.generated()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!n.conf.join("00-multus.conf.new").exists());
    insta::assert_snapshot!("generated_flannel", n.redacted());
    handle.shutdown().await.unwrap();
    assert!(
        !n.generated().exists(),
        "shutdown removes the generated file"
    );
}

#[tokio::test]
async fn upstreams_thick_daemon_config() {
    // The daemon-config.json of deployments/multus-daemonset-thick.yml, with
    // the host paths moved into the temp dir.
    let n = node();
    write(
        &n.conf.join("10-flannel.conflist"),
        FLANNEL_040.replace("0.4.0", "0.3.1").as_str(),
    );
    let text = format!(
        r#"{{
        "chrootDir": "/hostroot",
        "cniVersion": "0.3.1",
        "logLevel": "verbose",
        "logToStderr": true,
        "cniConfigDir": "{conf}",
        "multusAutoconfigDir": "{conf}/",
        "multusConfigFile": "auto",
        "socketDir": "/host/run/multus/"
    }}"#,
        conf = n.conf.display()
    );
    let config = GeneratorConfig::from_slice(text.as_bytes()).unwrap();
    assert!(config.is_auto());
    let (handle, _events) = start(config).await;
    // filepath.Join cleans the trailing slash of the autoconfig dir.
    insta::assert_snapshot!("generated_thick_defaults", n.redacted());
    handle.shutdown().await.unwrap();
}

#[test]
fn every_key_in_upstreams_field_order() {
    let config = GeneratorConfig::from_slice(
        br#"{
        "cniVersion": "1.1.0",
        "type": "multus-shim",
        "binDir": "/opt/cni/bin",
        "capabilities": {"zeta": false, "bandwidth": true},
        "logFile": "/var/log/multus.log",
        "logLevel": "debug",
        "logToStderr": true,
        "logOptions": {"compress": false, "maxAge": 3, "maxBackups": 2, "maxSize": 50},
        "clusterNetwork": "ignored, replaced by the primary's path",
        "namespaceIsolation": true,
        "globalNamespaces": "default,kube-system",
        "readinessindicatorfile": "/run/flannel/subnet.env",
        "cniDir": "/var/lib/cni/multus",
        "cniConfigDir": "/host/etc/cni/net.d",
        "auxiliaryCNIChainName": "aux<&>",
        "daemonSocketDir": "/run/multus",
        "multusConfigFile": "auto",
        "multusMasterCNI": "10-x.conf",
        "multusAutoconfigDir": "/host/etc/cni/net.d",
        "forceCNIVersion": true,
        "overrideNetworkName": true,
        "socketDir": "/run/multus/",
        "chrootDir": "/hostroot"
    }"#,
    )
    .unwrap();
    let mut g = Generator::new(config);
    let primary = PrimaryConfig::parse(
        "/host/etc/cni/net.d/10-x.conf",
        br#"{"cniVersion":"1.0.0","name":"x","type":"x","capabilities":{"ips":true,"mac":false}}"#
            .to_vec(),
    )
    .unwrap();
    g.load(&primary).unwrap();
    g.override_name(&primary).unwrap();
    let text = g.render();
    assert_eq!(
        text,
        r#"{"binDir":"/opt/cni/bin","capabilities":{"bandwidth":true,"ips":true,"zeta":false},"cniVersion":"1.1.0","logFile":"/var/log/multus.log","logLevel":"debug","logToStderr":true,"logOptions":{"maxAge":3,"maxSize":50,"maxBackups":2,"compress":false},"name":"x","clusterNetwork":"/host/etc/cni/net.d/10-x.conf","namespaceIsolation":true,"globalNamespaces":"default,kube-system","type":"multus-shim","cniDir":"/var/lib/cni/multus","auxiliaryCNIChainName":"aux\u003c\u0026\u003e","daemonSocketDir":"/run/multus"}"#
    );
    insta::assert_snapshot!("generated_every_key", text);
}

#[test]
fn minimal_config_and_empty_log_options() {
    let config = GeneratorConfig::from_slice(br#"{"cniVersion":"0.3.1","logOptions":{}}"#).unwrap();
    let g = Generator::new(config);
    assert_eq!(
        g.render(),
        r#"{"cniVersion":"0.3.1","logOptions":{},"name":"multus-cni-network","type":"multus-shim"}"#
    );
}

#[test]
fn daemon_config_keys_fold_case_nulls_keep_defaults_types_are_strict() {
    let c = GeneratorConfig::from_slice(
        br#"{"CNIVERSION":"0.4.0","cniconfigdir":null,"Type":null,"multusmastercni":"10-a.conf",
            "ReadinessIndicatorFile":"/r","capabilities":null,"unknown":[1]}"#,
    )
    .unwrap();
    assert_eq!(c.cni_version, "0.4.0");
    assert_eq!(c.cni_config_dir(), "/etc/cni/net.d");
    assert_eq!(c.plugin_type(), "multus-shim");
    assert_eq!(c.multus_master_cni, "10-a.conf");
    assert_eq!(c.readiness_indicator_file, "/r");
    assert!(c.capabilities.is_empty());
    assert_eq!(c.generated_path(), "/etc/cni/net.d/00-multus.conf");

    let err = GeneratorConfig::from_slice(br#"{"namespaceIsolation":"yes"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("namespaceIsolation"), "{err}");
    let err = GeneratorConfig::from_slice(b"[1]").unwrap_err().to_string();
    assert!(err.contains("daemon configuration"), "{err}");
}

// ---------------------------------------------------------------- primary

#[tokio::test]
async fn primary_is_the_first_config_by_name_skipping_multus_files() {
    let n = node();
    for name in [
        "00-multus.conf",
        "00-multus-old.conflist",
        "20-b.conf",
        "10-a.json",
    ] {
        write(&n.conf.join(name), BRIDGE_031);
    }
    fs::create_dir(n.conf.join("05-dir.conf")).unwrap();
    write(&n.conf.join("15-a.conf"), BRIDGE_031);
    let (handle, _e) = start(n.config(serde_json::json!({"cniVersion": "0.3.1"}))).await;
    assert_eq!(handle.primary_path(), n.conf.join("15-a.conf"));
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn multus_master_cni_names_the_primary() {
    let n = node();
    write(&n.conf.join("10-a.conf"), BRIDGE_031);
    write(&n.conf.join("99-b.conf"), BRIDGE_031);
    let (handle, _e) =
        start(n.config(serde_json::json!({"cniVersion": "0.3.1", "multusMasterCNI": "99-b.conf"})))
            .await;
    assert_eq!(handle.primary_path(), n.conf.join("99-b.conf"));
    assert!(n.read_generated().contains("99-b.conf"));
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn waits_for_the_primary_then_gives_up() {
    let n = node();
    let mut s = ManagerSettings::new(n.config(serde_json::json!({})));
    s.find_attempts = 100;
    s.find_interval = Duration::from_millis(20);
    let path = n.conf.join("10-flannel.conflist");
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        fs::write(path, FLANNEL_040).unwrap();
    });
    let (handle, _e) = ConfigManager::start(s).await.unwrap();
    writer.await.unwrap();
    assert_eq!(handle.primary_path(), n.conf.join("10-flannel.conflist"));
    handle.shutdown().await.unwrap();

    let empty = node();
    let err = ConfigManager::start(settings(empty.config(serde_json::json!({}))))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoPrimary(_)), "{err}");
    assert!(
        err.to_string()
            .contains("could not find a plugin configuration")
    );
    assert!(!empty.generated().exists());
}

#[tokio::test]
async fn versions_must_go_together() {
    let n = node();
    write(&n.conf.join("10-a.conf"), BRIDGE_031);
    let err = ConfigManager::start(settings(n.config(serde_json::json!({}))))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "delegate cni version is 0.3.1 while top level cni version is 0.4.0"
    );
    let err = ConfigManager::start(settings(n.config(serde_json::json!({"cniVersion": "1.0"}))))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "couldn't get top level cni version");
    // Below 0.4.0 anything goes.
    let (handle, _e) = start(n.config(serde_json::json!({"cniVersion": "0.3.0"}))).await;
    handle.shutdown().await.unwrap();
    assert!(!n.generated().exists());
}

#[tokio::test]
async fn force_cni_version_rewrites_the_primary() {
    let n = node();
    let primary = n.conf.join("10-a.conf");
    write(
        &primary,
        r#"{"type": "bridge", "cniVersion": "0.3.1", "mtu": 1500, "name": "a<b"}"#,
    );
    fs::set_permissions(&primary, fs::Permissions::from_mode(0o640)).unwrap();
    let (handle, _e) =
        start(n.config(serde_json::json!({"cniVersion": "1.0.0", "forceCNIVersion": true}))).await;
    assert_eq!(
        fs::read_to_string(&primary).unwrap(),
        r#"{"cniVersion":"1.0.0","mtu":1500,"name":"a\u003cb","type":"bridge"}"#
    );
    assert_eq!(
        fs::metadata(&primary).unwrap().permissions().mode() & 0o777,
        0o640
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn override_network_name_takes_the_primarys() {
    let n = node();
    write(&n.conf.join("10-flannel.conflist"), FLANNEL_040);
    let (handle, _e) = start(n.config(serde_json::json!({"overrideNetworkName": true}))).await;
    assert!(
        n.read_generated().contains(r#""name":"cbr0""#),
        "{}",
        n.read_generated()
    );
    assert!(!n.read_generated().contains("overrideNetworkName"));
    handle.shutdown().await.unwrap();

    write(
        &n.conf.join("10-flannel.conflist"),
        r#"{"cniVersion":"0.4.0","type":"x"}"#,
    );
    let err = ConfigManager::start(settings(
        n.config(serde_json::json!({"overrideNetworkName": true})),
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not feature the network name"), "{err}");
}

#[tokio::test]
async fn the_generated_file_cannot_be_the_primary() {
    let n = node();
    write(&n.generated(), BRIDGE_031);
    let err = ConfigManager::start(settings(
        n.config(serde_json::json!({"multusMasterCNI": "00-multus.conf"})),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Recursive(_)), "{err}");
}

// ---------------------------------------------------------------- watching

#[tokio::test]
async fn regenerates_when_the_primary_changes_and_capabilities_accumulate() {
    let n = node();
    let primary = n.conf.join("10-flannel.conflist");
    write(&primary, FLANNEL_040);
    let (handle, mut events) = start(n.config(serde_json::json!({}))).await;
    assert!(n.read_generated().contains(r#"{"portMappings":true}"#));

    // In place: a write event.
    write(
        &primary,
        r#"{"cniVersion":"0.4.0","name":"cbr0","type":"x","capabilities":{"bandwidth":true,"mac":false}}"#,
    );
    assert_eq!(
        wait_for(&mut events, regenerated).await,
        ConfigEvent::Regenerated {
            path: n.generated()
        }
    );
    // portMappings stays: capabilities only accumulate while running.
    assert!(
        n.read_generated()
            .contains(r#""capabilities":{"bandwidth":true,"portMappings":true}"#),
        "{}",
        n.read_generated()
    );

    settle(&mut events).await;

    // Atomically, as most installers do: a rename onto the primary.
    let temp = n.conf.join("10-flannel.tmp");
    write(
        &temp,
        r#"{"cniVersion":"0.4.0","name":"cbr0","type":"x","capabilities":{"ips":true}}"#,
    );
    fs::rename(&temp, &primary).unwrap();
    wait_for(&mut events, regenerated).await;
    assert!(n.read_generated().contains("ips"), "{}", n.read_generated());
    insta::assert_snapshot!("generated_accumulated", n.redacted());
    settle(&mut events).await;

    // Another file in the dir changes nothing.
    write(&n.conf.join("20-other.conf"), BRIDGE_031);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), events.recv())
            .await
            .is_err(),
        "an unrelated file must not regenerate"
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_half_written_primary_keeps_the_last_good_file() {
    let n = node();
    let primary = n.conf.join("10-flannel.conflist");
    write(&primary, FLANNEL_040);
    let (handle, mut events) = start(n.config(serde_json::json!({}))).await;
    let good = n.read_generated();

    write(&primary, &FLANNEL_040[..40]);
    let ev = next(&mut events).await;
    let ConfigEvent::KeptLastGood { error } = ev else {
        panic!("expected KeptLastGood, got {ev:?}");
    };
    assert!(
        error.contains("failed to unmarshall primary CNI config"),
        "{error}"
    );
    assert!(error.contains("10-flannel.conflist"), "{error}");
    assert_eq!(
        n.read_generated(),
        good,
        "upstream would write an empty file here"
    );

    // An incompatible version is kept out the same way.
    write(&primary, BRIDGE_031);
    wait_for(&mut events, |ev| {
        matches!(ev, ConfigEvent::KeptLastGood { error } if error.contains("delegate cni version is 0.3.1"))
    })
    .await;
    assert_eq!(n.read_generated(), good);

    // Complete again: regenerated (same bytes: the name is not copied).
    write(&primary, &FLANNEL_040.replace("cbr0", "cbr1"));
    wait_for(&mut events, regenerated).await;
    assert_eq!(n.read_generated(), good);
    handle.shutdown().await.unwrap();
}

async fn readiness_case(remove: bool) {
    let n = node();
    write(&n.conf.join("10-flannel.conflist"), FLANNEL_040);
    let ready = n.ready_dir.join("subnet.env");
    write(&ready, "FLANNEL_NETWORK=10.244.0.0/16\n");
    let (handle, mut events) =
        start(n.config(serde_json::json!({"readinessindicatorfile": ready}))).await;
    assert!(
        !n.read_generated().contains("readinessindicatorfile"),
        "the shim never sees the readiness file"
    );
    // Touching it is fine.
    write(&ready, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450\n");
    if remove {
        fs::remove_file(&ready).unwrap();
    } else {
        fs::rename(&ready, n.ready_dir.join("subnet.env.old")).unwrap();
    }
    let ev = next(&mut events).await;
    assert_eq!(
        ev,
        ConfigEvent::ReadinessLost {
            readiness_file: ready.clone()
        }
    );
    assert_eq!(ev.exit_code(), Some(READINESS_LOST_EXIT_CODE));
    assert_eq!(READINESS_LOST_EXIT_CODE, 2);
    assert!(!n.generated().exists(), "00-multus.conf is removed");
    // The manager has stopped.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .unwrap()
            .is_none()
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn readiness_file_removed_removes_the_config_and_says_exit_2() {
    readiness_case(true).await;
}

#[tokio::test]
async fn readiness_file_renamed_removes_the_config_and_says_exit_2() {
    readiness_case(false).await;
}

#[tokio::test]
async fn readiness_file_in_the_autoconfig_dir() {
    let n = node();
    write(&n.conf.join("10-flannel.conflist"), FLANNEL_040);
    let ready = n.conf.join("ready");
    write(&ready, "");
    let (_handle, mut events) =
        start(n.config(serde_json::json!({"readinessindicatorfile": ready}))).await;
    fs::remove_file(&ready).unwrap();
    assert_eq!(next(&mut events).await.exit_code(), Some(2));
    assert!(!n.generated().exists());
}

// ---------------------------------------------------------------- manifest

/// The `daemon-config.json` of the thick manifest, as the daemon reads it.
fn manifest_daemon_config() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deployments/multus-daemonset-thick.yml");
    let yaml = fs::read_to_string(path).unwrap();
    let start = yaml.find("daemon-config.json: |\n").unwrap() + "daemon-config.json: |\n".len();
    yaml[start..]
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| &l[4..])
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_thick_manifests_daemon_config_has_upstreams_defaults() {
    let text = manifest_daemon_config();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(raw["chrootDir"], "/hostroot");
    assert_eq!(raw["socketDir"], "/host/run/multus/");
    let c = GeneratorConfig::from_slice(text.as_bytes()).unwrap();
    assert_eq!(c.cni_version, "0.3.1");
    assert_eq!(c.log_level, "verbose");
    assert!(c.log_to_stderr);
    assert_eq!(c.cni_config_dir(), "/host/etc/cni/net.d");
    assert_eq!(c.multus_autoconfig_dir, "/host/etc/cni/net.d");
    assert!(c.is_auto());
    assert_eq!(c.generated_path(), "/host/etc/cni/net.d/00-multus.conf");
}

#[tokio::test]
async fn dropping_the_handle_stops_watching_and_keeps_the_file() {
    let n = node();
    let primary = n.conf.join("10-flannel.conflist");
    write(&primary, FLANNEL_040);
    let (handle, mut events) = start(n.config(serde_json::json!({}))).await;
    let before = n.read_generated();
    drop(handle);
    assert!(
        tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .unwrap()
            .is_none(),
        "the event stream ends"
    );
    write(
        &primary,
        r#"{"cniVersion":"0.4.0","name":"x","type":"x","capabilities":{"ips":true}}"#,
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(n.read_generated(), before);
    assert!(multus_cli::confgen::remove_generated(&n.generated()).unwrap());
    assert!(!multus_cli::confgen::remove_generated(&n.generated()).unwrap());
}
