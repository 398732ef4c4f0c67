//! `thin_entrypoint`: flags, kubeconfig, auto configuration, binary install,
//! and the real binary run as a process (watch loop, signals, cleanup).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use multus_cli::entrypoint::autoconf::{
    CONF_FILE_NAME, CONFLIST_FILE_NAME, ensure_multus_config, find_master, render_multus_config,
};
use multus_cli::entrypoint::flags::{HELP_EXIT_CODE, USAGE_EXIT_CODE, usage};
use multus_cli::entrypoint::install::copy_file_atomic;
use multus_cli::entrypoint::kubeconfig::{ApiServer, ensure_kubeconfig, kubeconfig_path};
use multus_cli::entrypoint::{Options, verify_paths};
use multus_types::{DelegateConf, MultusConf, NetConfList};
use serde_json::{Value, json};
use tempfile::TempDir;

const BRIDGE_CONFLIST: &str = r#"{
  "cniVersion": "1.0.0",
  "name": "cbr0",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.1.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}},
    {"type": "bandwidth", "capabilities": {"bandwidth": true}},
    {"type": "tuning", "capabilities": {"mac": false}}
  ]
}
"#;

const BRIDGE_CONF_031: &str = r#"{
  "cniVersion": "0.3.1",
  "name": "mynet",
  "type": "bridge",
  "bridge": "cni0",
  "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}
}
"#;

const FLANNEL_CONF_CAPS: &str = r#"{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "type": "flannel",
  "delegate": {"hairpinMode": true, "isDefaultGateway": true},
  "capabilities": {"portMappings": true, "ips": false}
}
"#;

/// A node's directories in a temp dir: CNI config dir, bin dir, service
/// account, the multus binary to install, multus' own config dir.
struct Node {
    _dir: TempDir,
    root: PathBuf,
    conf: PathBuf,
    bin: PathBuf,
    sa: PathBuf,
    multus_bin: PathBuf,
    multus_cni_conf: PathBuf,
}

fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let conf = root.join("net.d");
    let bin = root.join("bin");
    let sa = root.join("serviceaccount");
    let src = root.join("src");
    for d in [&conf, &bin, &sa, &src] {
        fs::create_dir(d).unwrap();
    }
    fs::write(
        sa.join("ca.crt"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    fs::write(sa.join("token"), "eyJhbGciOiJSUzI1NiJ9.payload.sig").unwrap();
    let multus_bin = src.join("multus");
    fs::write(&multus_bin, b"\x7fELF not really").unwrap();
    fs::set_permissions(&multus_bin, fs::Permissions::from_mode(0o751)).unwrap();
    Node {
        multus_cni_conf: root.join("multus").join("net.d"),
        _dir: dir,
        root,
        conf,
        bin,
        sa,
        multus_bin,
    }
}

impl Node {
    fn args(&self) -> Vec<String> {
        vec![
            format!("--cni-conf-dir={}", self.conf.display()),
            format!("--cni-bin-dir={}", self.bin.display()),
            format!("--multus-autoconfig-dir={}", self.conf.display()),
            format!("--multus-bin-file={}", self.multus_bin.display()),
            format!("--multus-cni-conf-dir={}", self.multus_cni_conf.display()),
        ]
    }

    fn options(&self, extra: &[&str]) -> Options {
        let mut args = vec!["thin_entrypoint".to_owned()];
        args.extend(self.args());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut o = Options::parse_from_args(args).unwrap();
        o.service_account_dir = self.sa.clone();
        o
    }

    /// Text with this node's temp path replaced, for snapshots.
    fn redact(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "[NODE]")
    }
}

fn parse(extra: &[&str]) -> Options {
    let mut args = vec!["thin_entrypoint"];
    args.extend_from_slice(extra);
    Options::parse_from_args(args).unwrap()
}

/// Loads a generated file as the plugin would see it: the conflist's plugin
/// gets the list's `cniVersion` and `name`, as the runtime injects them.
fn load_generated(path: &Path) -> MultusConf {
    let bytes = fs::read(path).unwrap();
    let is_list = path.extension().is_some_and(|e| e == "conflist");
    if !is_list {
        return MultusConf::from_bytes(&bytes).unwrap();
    }
    NetConfList::from_bytes(&bytes).unwrap();
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    let plugins = list["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 1);
    let mut plugin = plugins[0].as_object().unwrap().clone();
    plugin.insert("cniVersion".into(), list["cniVersion"].clone());
    plugin.insert("name".into(), list["name"].clone());
    MultusConf::from_bytes(&serde_json::to_vec(&plugin).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

// ---------------------------------------------------------------- flags

#[test]
fn defaults_are_upstreams() {
    let o = parse(&[]);
    assert_eq!(o.cni_bin_dir, Path::new("/host/opt/cni/bin"));
    assert_eq!(o.cni_conf_dir, Path::new("/host/etc/cni/net.d"));
    assert_eq!(o.cni_version, "");
    assert_eq!(o.multus_conf_file, "auto");
    assert_eq!(
        o.multus_bin_file,
        Path::new("/usr/src/multus-cni/bin/multus")
    );
    assert_eq!(
        o.multus_cni_conf_dir,
        Path::new("/host/etc/cni/multus/net.d")
    );
    assert!(!o.skip_multus_binary_copy);
    assert_eq!(
        o.multus_kubeconfig_file_host,
        "/etc/cni/net.d/multus.d/multus.kubeconfig"
    );
    assert_eq!(o.multus_master_cni_file_name, "");
    assert!(!o.namespace_isolation);
    assert_eq!(o.global_namespaces, "");
    assert_eq!(o.multus_autoconfig_dir, Path::new("/host/etc/cni/net.d"));
    assert!(o.multus_log_to_stderr);
    assert_eq!(o.multus_log_level, "");
    assert_eq!(o.multus_log_file, "");
    assert!(!o.override_network_name);
    assert!(!o.cleanup_config_on_exit);
    assert!(!o.skip_config_watch);
    assert!(!o.rename_conf_file);
    assert_eq!(o.readiness_indicator_file, "");
    assert_eq!(o.additional_bin_dir, "");
    assert!(!o.skip_tls_verify);
    assert!(!o.force_cni_version);
    assert!(o.is_auto());
    assert!(!o.watch_enabled());
}

#[test]
fn values_with_equals_or_separate() {
    let a = parse(&["--cni-version=0.4.0", "--global-namespaces", "default,foo"]);
    assert_eq!(a.cni_version, "0.4.0");
    assert_eq!(a.global_namespaces, "default,foo");
    // A value may start with a dash, as pflag takes the next word whatever it is.
    let b = parse(&["--multus-log-file", "-weird"]);
    assert_eq!(b.multus_log_file, "-weird");
    // Empty values are values.
    let c = parse(&["--multus-conf-file=", "--cni-version="]);
    assert_eq!(c.multus_conf_file, "");
    assert!(!c.is_auto());
}

#[test]
fn booleans_as_pflag() {
    let o = parse(&[
        "--namespace-isolation",
        "--multus-log-to-stderr=false",
        "--cleanup-config-on-exit=true",
        "--skip-multus-binary-copy=T",
        "--override-network-name=1",
        "--rename-conf-file=False",
        "--skip-tls-verify",
        "--force-cni-version=true",
    ]);
    assert!(o.namespace_isolation);
    assert!(!o.multus_log_to_stderr);
    assert!(o.cleanup_config_on_exit);
    assert!(o.skip_multus_binary_copy);
    assert!(o.override_network_name);
    assert!(!o.rename_conf_file);
    assert!(o.skip_tls_verify);
    assert!(o.force_cni_version);
    assert!(o.watch_enabled());
    assert!(!parse(&["--cleanup-config-on-exit", "--skip-config-watch"]).watch_enabled());
    assert!(!parse(&["--cleanup-config-on-exit", "--multus-conf-file=/x.conf"]).watch_enabled());
    // `--flag false` is the flag plus a stray word (ignored), as with pflag.
    let p = parse(&["--namespace-isolation", "false"]);
    assert!(p.namespace_isolation);
    assert_eq!(p.ignored_args, ["false"]);
}

#[test]
fn last_repeated_flag_wins() {
    let o = parse(&[
        "--cni-version=0.3.1",
        "--cni-version=1.0.0",
        "--namespace-isolation",
        "--namespace-isolation=false",
    ]);
    assert_eq!(o.cni_version, "1.0.0");
    assert!(!o.namespace_isolation);
}

#[test]
fn bad_command_lines() {
    for bad in [
        vec!["x", "--no-such-flag"],
        vec!["x", "--namespace-isolation=maybe"],
        vec!["x", "--cni-version"],
    ] {
        let err = Options::parse_from_args(bad.clone()).unwrap_err();
        assert_eq!(err.code, USAGE_EXIT_CODE, "{bad:?}");
        assert!(
            err.message.contains("Usage of thin_entrypoint:"),
            "{}",
            err.message
        );
    }
}

#[test]
fn help_lists_every_visible_flag_with_its_default() {
    for h in ["-h", "--help"] {
        let err = Options::parse_from_args(["x", h]).unwrap_err();
        assert_eq!(err.code, HELP_EXIT_CODE);
        assert_eq!(err.message, usage());
    }
    let text = usage();
    assert!(!text.contains("skip-tls-verify"));
    assert!(!text.contains("force-cni-version"));
    assert!(!text.contains("ignored"));
    insta::assert_snapshot!("help", text);
}

#[test]
fn help_from_the_binary_exits_1() {
    let out = Command::new(env!("CARGO_BIN_EXE_thin_entrypoint"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"--cni-bin-dir string                   directory the multus binary is installed into (default "/host/opt/cni/bin")"#), "{stderr}");
    assert!(stderr.contains("--multus-log-to-stderr") && stderr.contains("(default true)"));
    assert!(out.stdout.is_empty());

    let out = Command::new(env!("CARGO_BIN_EXE_thin_entrypoint"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------- path checks

#[test]
fn missing_paths_are_reported_and_exit_0_without_writing() {
    let n = node();
    let mut o = n.options(&[]);
    assert!(verify_paths(&o).is_ok());
    o.multus_bin_file = n.root.join("nope");
    let err = verify_paths(&o).unwrap_err().to_string();
    assert!(err.starts_with("multus-bin-file is not found: "), "{err}");
    let o = n.options(&["--multus-conf-file=/no/such/70-multus.conf"]);
    let err = verify_paths(&o).unwrap_err().to_string();
    assert!(err.starts_with("multus-conf-file is not found: "), "{err}");

    // The binary: status 0, the reason on stderr, nothing written.
    let mut args = n.args();
    args.push(format!("--cni-bin-dir={}", n.root.join("no-bin").display()));
    let out = Command::new(env!("CARGO_BIN_EXE_thin_entrypoint"))
        .args(&args)
        .env("MULTUS_SERVICE_ACCOUNT_DIR", &n.sa)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("cni-bin-dir is not found: "));
    assert_eq!(fs::read_dir(&n.conf).unwrap().count(), 0);
}

// ---------------------------------------------------------------- binary copy

#[test]
fn binary_copy_is_atomic_and_keeps_the_mode() {
    let n = node();
    fs::write(
        n.bin.join("multus"),
        b"old version, longer than the new one",
    )
    .unwrap();
    fs::write(n.bin.join("_multus"), b"leftover").unwrap();
    let dst = copy_file_atomic(&n.multus_bin, &n.bin, "_multus", "multus").unwrap();
    assert_eq!(dst, n.bin.join("multus"));
    assert_eq!(fs::read(&dst).unwrap(), b"\x7fELF not really");
    assert_eq!(mode(&dst), 0o751);
    assert!(!n.bin.join("_multus").exists());
}

// ---------------------------------------------------------------- kubeconfig

fn api(host: &str) -> ApiServer {
    ApiServer {
        protocol: "https".into(),
        host: host.into(),
        port: "443".into(),
    }
}

#[test]
fn kubeconfig_content_and_mode() {
    let n = node();
    let o = n.options(&[]);
    let upd = ensure_kubeconfig(&o, &api("10.96.0.1"), None).unwrap();
    let path = kubeconfig_path(&n.conf);
    assert_eq!(upd.written.as_deref(), Some(path.as_path()));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&n.conf.join("multus.d")), 0o755);
    assert_eq!(mode(&n.multus_cni_conf), 0o755);
    assert!(!n.conf.join("multus.d/multus.kubeconfig.new").exists());
    insta::assert_snapshot!("kubeconfig", fs::read_to_string(&path).unwrap());
}

#[test]
fn kubeconfig_ipv6_protocol_and_skip_tls() {
    let n = node();
    let o = n.options(&["--skip-tls-verify"]);
    let server = ApiServer {
        protocol: "http".into(),
        host: "fd00:10:96::1".into(),
        port: "6443".into(),
    };
    ensure_kubeconfig(&o, &server, None).unwrap();
    let text = fs::read_to_string(kubeconfig_path(&n.conf)).unwrap();
    assert!(
        text.contains("    server: http://[fd00:10:96::1]:6443\n"),
        "{text}"
    );
    assert!(
        text.contains("    insecure-skip-tls-verify: true\n"),
        "{text}"
    );
    assert!(!text.contains("certificate-authority-data"));
    assert!(!ApiServer::from_env().protocol.is_empty());
}

#[test]
fn kubeconfig_is_rewritten_only_when_ca_or_token_change() {
    let n = node();
    let o = n.options(&[]);
    let first = ensure_kubeconfig(&o, &api("10.96.0.1"), None).unwrap();
    let again = ensure_kubeconfig(&o, &api("10.96.0.1"), Some(&first.hashes)).unwrap();
    assert_eq!(again.written, None);
    assert_eq!(again.hashes, first.hashes);

    fs::write(n.sa.join("token"), "rotated-token\n").unwrap();
    let rotated = ensure_kubeconfig(&o, &api("10.96.0.1"), Some(&again.hashes)).unwrap();
    assert!(rotated.written.is_some());
    let text = fs::read_to_string(kubeconfig_path(&n.conf)).unwrap();
    // Surrounding whitespace is trimmed, as client-go trims a token file.
    assert!(text.contains("    token: \"rotated-token\"\n"), "{text}");

    fs::write(n.sa.join("ca.crt"), "another CA").unwrap();
    let new_ca = ensure_kubeconfig(&o, &api("10.96.0.1"), Some(&rotated.hashes)).unwrap();
    assert!(new_ca.written.is_some());

    // With --skip-tls-verify a CA change alone does not count.
    let insecure = n.options(&["--skip-tls-verify"]);
    fs::write(n.sa.join("ca.crt"), "yet another CA").unwrap();
    let skip = ensure_kubeconfig(&insecure, &api("10.96.0.1"), Some(&new_ca.hashes)).unwrap();
    assert_eq!(skip.written, None);
}

#[test]
fn kubeconfig_needs_the_service_account() {
    let n = node();
    fs::remove_file(n.sa.join("token")).unwrap();
    let err = ensure_kubeconfig(&n.options(&[]), &api("h"), None).unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
}

// ---------------------------------------------------------------- rendering

fn render(extra: &[&str], master: &str) -> (String, String) {
    let o = parse(extra);
    let g = render_multus_config(
        &o,
        Path::new("/etc/cni/net.d/10-master.conf"),
        master.as_bytes(),
    )
    .unwrap();
    (g.file_name.to_owned(), g.text)
}

#[test]
fn conflist_from_a_one_zero_zero_master() {
    let (name, text) = render(&[], BRIDGE_CONFLIST);
    assert_eq!(name, CONFLIST_FILE_NAME);
    insta::assert_snapshot!("conflist_bridge", text);
}

#[test]
fn conf_from_a_zero_three_one_master() {
    let (name, text) = render(&[], BRIDGE_CONF_031);
    assert_eq!(name, CONF_FILE_NAME);
    assert!(!text.contains("capabilities"));
    insta::assert_snapshot!("conf_bridge_031", text);
}

#[test]
fn conf_with_top_level_capabilities() {
    let (name, text) = render(&[], FLANNEL_CONF_CAPS);
    assert_eq!(name, CONF_FILE_NAME);
    insta::assert_snapshot!("conf_flannel_capabilities", text);
}

const ALL_OPTIONS: &[&str] = &[
    "--override-network-name",
    "--namespace-isolation=true",
    "--global-namespaces=default,kube-system",
    "--multus-log-to-stderr=false",
    "--multus-log-level=VERBOSE",
    "--multus-log-file=/var/log/multus.log",
    "--readiness-indicator-file=/run/flannel/subnet.env",
    "--additional-bin-dir=/opt/multus/bin",
    "--multus-kubeconfig-file-host=/etc/kubernetes/multus.kubeconfig",
    "--multus-cni-conf-dir=/etc/cni/multus/net.d",
];

#[test]
fn every_option_in_a_conflist() {
    let (name, text) = render(ALL_OPTIONS, BRIDGE_CONFLIST);
    assert_eq!(name, CONFLIST_FILE_NAME);
    insta::assert_snapshot!("conflist_all_options", text);
}

#[test]
fn every_option_in_a_conf() {
    let (name, text) = render(ALL_OPTIONS, FLANNEL_CONF_CAPS);
    assert_eq!(name, CONF_FILE_NAME);
    insta::assert_snapshot!("conf_all_options", text);
}

#[test]
fn forced_version_replaces_the_masters() {
    let (name, text) = render(
        &["--cni-version=0.4.0", "--force-cni-version"],
        BRIDGE_CONF_031,
    );
    assert_eq!(name, CONF_FILE_NAME);
    insta::assert_snapshot!("conf_forced_040", text);
}

#[test]
fn only_a_one_zero_zero_master_gets_a_conflist_as_upstream() {
    // Upstream compares with "1.0.0" for equality: a 1.1.0 master is wrapped
    // in a plain .conf.
    let master = BRIDGE_CONFLIST.replace("1.0.0", "1.1.0");
    let (name, text) = render(&["--namespace-isolation"], &master);
    assert_eq!(name, CONF_FILE_NAME);
    insta::assert_snapshot!("conf_from_a_one_one_zero_conflist", text);
}

#[test]
fn conf_bytes_exactly_as_upstreams_template() {
    let master = r#"{"cniVersion":"0.4.0","name":"n","type":"x","mtu":1500.0,"f":1e-7,"s":"a<b"}"#;
    let (_, text) = render(&["--multus-cni-conf-dir="], master);
    assert_eq!(
        text,
        "{\n        \"cniVersion\": \"0.4.0\",\n        \"name\": \"multus-cni-network\",\n        \
         \"type\": \"multus\",\n        \"kubeconfig\": \"/etc/cni/net.d/multus.d/multus.kubeconfig\",\n        \
         \"delegates\": [\n                \
         {\"cniVersion\":\"0.4.0\",\"f\":1e-7,\"mtu\":1500,\"name\":\"n\",\"s\":\"a\\u003cb\",\"type\":\"x\"}\n        \
         ]\n}\n"
    );
}

#[test]
fn conflist_bytes_exactly_as_upstreams_template() {
    let master =
        r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"x","capabilities":{"ips":true}}]}"#;
    let (_, text) = render(
        &["--multus-cni-conf-dir=", "--override-network-name"],
        master,
    );
    assert_eq!(
        text,
        "{\n    \"cniVersion\": \"1.0.0\",\n    \"name\": \"n\",\n    \"plugins\": [ {\n        \
         \"type\": \"multus\",\n        \"capabilities\": {\"ips\":true},\n        \
         \"kubeconfig\": \"/etc/cni/net.d/multus.d/multus.kubeconfig\",\n        \
         \"delegates\": [\n            \
         {\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"capabilities\":{\"ips\":true},\"type\":\"x\"}]}\n        \
         ]\n    }]\n}\n"
    );
}

#[test]
fn empty_multus_cni_conf_dir_leaves_cni_conf_out() {
    let (_, text) = render(&["--multus-cni-conf-dir="], BRIDGE_CONF_031);
    assert!(!text.contains("cniConf"), "{text}");
}

#[test]
fn delegate_is_compact_with_sorted_keys_and_unknown_keys_kept() {
    let master = r#"{"type":"x","cniVersion":"0.4.0","name":"n","zeta":{"b":[1,2.5,"<&>"],"a":null},"alpha":true}"#;
    let (_, text) = render(&[], master);
    assert!(
        text.contains(r#"{"alpha":true,"cniVersion":"0.4.0","name":"n","type":"x","zeta":{"a":null,"b":[1,2.5,"\u003c\u0026\u003e"]}}"#),
        "{text}"
    );
}

#[test]
fn cni_version_must_match_unless_forced() {
    let o = parse(&["--cni-version=0.4.0"]);
    let err = render_multus_config(&o, Path::new("m.conf"), BRIDGE_CONF_031.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"Multus cni version is "0.4.0" while master plugin cni version is "0.3.1""#
    );
    let same = parse(&["--cni-version=0.3.1"]);
    assert!(render_multus_config(&same, Path::new("m.conf"), BRIDGE_CONF_031.as_bytes()).is_ok());

    let forced = parse(&["--cni-version=1.0.0", "--force-cni-version"]);
    let g = render_multus_config(&forced, Path::new("m.conf"), BRIDGE_CONF_031.as_bytes()).unwrap();
    assert_eq!(g.file_name, CONFLIST_FILE_NAME);
    assert_eq!(g.cni_version, "1.0.0");
    assert!(
        g.text.contains(r#"{"bridge":"cni0","cniVersion":"1.0.0","#),
        "{}",
        g.text
    );

    let forced_empty = parse(&["--force-cni-version"]);
    assert!(
        render_multus_config(
            &forced_empty,
            Path::new("m.conf"),
            BRIDGE_CONF_031.as_bytes()
        )
        .is_err()
    );
}

#[test]
fn bad_masters_and_options_are_errors_not_panics() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "not json", "cannot read master CNI config json"),
        (&[], "[1,2]", "not a JSON object"),
        (&[], r#"{"name":"n","type":"t"}"#, "cannot get cniVersion"),
        (&[], r#"{"cniVersion":1,"type":"t"}"#, "is not a string"),
        (
            &[],
            r#"{"cniVersion":"0.3.1","plugins":{}}"#,
            "is not a list",
        ),
        (
            &[],
            r#"{"cniVersion":"0.3.1","plugins":[1]}"#,
            "is not an object",
        ),
        (
            &[],
            r#"{"cniVersion":"0.3.1","capabilities":[]}"#,
            "is not an object",
        ),
        (
            &[],
            r#"{"cniVersion":"0.3.1","capabilities":{"ips":"yes"}}"#,
            "is not a boolean",
        ),
        (
            &["--override-network-name"],
            r#"{"cniVersion":"0.3.1","type":"t"}"#,
            "cannot get name",
        ),
        (
            &["--multus-log-level=loud"],
            BRIDGE_CONF_031,
            "Log levels should be one of: debug/verbose/error/panic, did not understand: \"loud\"",
        ),
    ];
    for (flags, master, want) in cases {
        let o = parse(flags);
        let err = render_multus_config(&o, Path::new("m.conf"), master.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{master}: {err}");
    }
}

// ---------------------------------------------------------------- master selection

#[test]
fn master_is_the_first_config_by_name_skipping_multus_files() {
    let n = node();
    let d = &n.conf;
    for f in [
        "00-multus.conf",
        "00-multus.conflist",
        "00-multus.conf.new",
        "05-notes.json",
        "20-b.conf",
        "10-a.conflist",
        "10-a.conflist.old",
    ] {
        fs::write(d.join(f), "{}").unwrap();
    }
    fs::create_dir(d.join("01-dir.conf")).unwrap();
    fs::create_dir(d.join("multus.d")).unwrap();
    assert_eq!(find_master(d, "").unwrap(), d.join("10-a.conflist"));
    // Byte order, as Go sorts: upper case before lower case.
    fs::write(d.join("10-B.conf"), "{}").unwrap();
    assert_eq!(find_master(d, "").unwrap(), d.join("10-B.conf"));
    // An explicit name wins, whatever it is.
    assert_eq!(find_master(d, "20-b.conf").unwrap(), d.join("20-b.conf"));
    assert_eq!(
        find_master(d, "00-multus.conf").unwrap(),
        d.join("00-multus.conf")
    );

    let empty = n.root.join("empty");
    fs::create_dir(&empty).unwrap();
    fs::write(empty.join("00-multus.conflist"), "{}").unwrap();
    let err = find_master(&empty, "").unwrap_err().to_string();
    assert!(
        err.starts_with("cannot find valid master CNI config in"),
        "{err}"
    );
    assert!(find_master(&n.root.join("missing"), "").is_err());
}

// ---------------------------------------------------------------- writing

#[test]
fn writes_a_conflist_the_plugin_can_load() {
    let n = node();
    fs::write(n.conf.join("10-bridge.conflist"), BRIDGE_CONFLIST).unwrap();
    let o = n.options(&[]);
    let upd = ensure_multus_config(&o, None).unwrap();
    let path = n.conf.join(CONFLIST_FILE_NAME);
    assert_eq!(upd.master, n.conf.join("10-bridge.conflist"));
    assert_eq!(upd.master_hash, sha256(BRIDGE_CONFLIST.as_bytes()));
    assert_eq!(upd.written.as_deref(), Some(path.as_path()));
    assert_eq!(mode(&path), 0o600);
    assert!(!n.conf.join("00-multus.conf.new").exists());
    assert!(!n.conf.join(CONF_FILE_NAME).exists());

    let conf = load_generated(&path);
    assert_eq!(conf.cni_version, "1.0.0");
    assert_eq!(conf.name, "multus-cni-network");
    assert_eq!(conf.plugin_type, "multus");
    assert_eq!(conf.kubeconfig, "/etc/cni/net.d/multus.d/multus.kubeconfig");
    assert_eq!(
        conf.capabilities.into_iter().collect::<Vec<_>>(),
        [
            ("bandwidth".into(), true),
            ("mac".into(), false),
            ("portMappings".into(), true)
        ]
    );
    assert_eq!(conf.delegates.len(), 1);
    let DelegateConf::List(list) = &conf.delegates[0] else {
        panic!("the master conflist must be a list delegate");
    };
    assert_eq!(list.plugins().len(), 4);
    let written: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let master: Value = serde_json::from_str(BRIDGE_CONFLIST).unwrap();
    assert_eq!(written["plugins"][0]["delegates"][0], master);
    insta::assert_snapshot!(
        "written_conflist",
        n.redact(&fs::read_to_string(&path).unwrap())
    );
}

#[test]
fn writes_a_conf_the_plugin_can_load() {
    let n = node();
    fs::write(n.conf.join("10-flannel.conf"), FLANNEL_CONF_CAPS).unwrap();
    let o = n.options(ALL_OPTIONS);
    ensure_multus_config(&o, None).unwrap();
    let path = n.conf.join(CONF_FILE_NAME);
    assert!(!n.conf.join(CONFLIST_FILE_NAME).exists());
    let conf = load_generated(&path);
    assert_eq!(conf.cni_version, "0.3.1");
    assert_eq!(conf.name, "cbr0");
    assert!(conf.namespace_isolation);
    assert_eq!(conf.global_namespaces, "default,kube-system");
    assert!(!conf.log_to_stderr);
    assert_eq!(conf.log_level, "verbose");
    assert_eq!(conf.log_file, "/var/log/multus.log");
    assert_eq!(conf.readiness_indicator_file, "/run/flannel/subnet.env");
    assert_eq!(conf.bin_dir, "/opt/multus/bin");
    assert_eq!(conf.kubeconfig, "/etc/kubernetes/multus.kubeconfig");
    // `cniConf` is upstream's key and has no effect: confDir keeps its default.
    assert_eq!(conf.conf_dir, multus_types::DEFAULT_CONF_DIR);
    assert_eq!(conf.delegates.len(), 1);
    assert_eq!(conf.delegates[0].name(), "cbr0");
    let written: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(written["cniConf"], json!("/etc/cni/multus/net.d"));
    assert_eq!(
        written["capabilities"],
        json!({"ips": false, "portMappings": true})
    );
}

#[test]
fn regenerates_only_when_the_master_changes() {
    let n = node();
    let master = n.conf.join("10-bridge.conf");
    fs::write(&master, BRIDGE_CONF_031).unwrap();
    let o = n.options(&[]);
    let first = ensure_multus_config(&o, None).unwrap();
    let same = ensure_multus_config(&o, Some(&first.master_hash)).unwrap();
    assert_eq!(same.written, None);
    fs::write(
        &master,
        BRIDGE_CONF_031.replace("10.22.0.0/16", "10.33.0.0/16"),
    )
    .unwrap();
    let changed = ensure_multus_config(&o, Some(&first.master_hash)).unwrap();
    assert!(changed.written.is_some());
    let text = fs::read_to_string(n.conf.join(CONF_FILE_NAME)).unwrap();
    assert!(text.contains("10.33.0.0/16"));
}

#[test]
fn master_file_name_flag_selects_the_master() {
    let n = node();
    fs::write(n.conf.join("10-bridge.conf"), BRIDGE_CONF_031).unwrap();
    fs::write(n.conf.join("20-flannel.conf"), FLANNEL_CONF_CAPS).unwrap();
    let o = n.options(&["--multus-master-cni-file-name=20-flannel.conf"]);
    let upd = ensure_multus_config(&o, None).unwrap();
    assert_eq!(upd.master, n.conf.join("20-flannel.conf"));
    assert_eq!(
        load_generated(&n.conf.join(CONF_FILE_NAME)).delegates[0].name(),
        "cbr0"
    );

    let missing = n.options(&["--multus-master-cni-file-name=99-none.conf"]);
    let err = ensure_multus_config(&missing, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("99-none.conf"), "{err}");
}

#[test]
fn rename_conf_file_moves_the_master_aside() {
    let n = node();
    let master = n.conf.join("10-bridge.conflist");
    fs::write(&master, BRIDGE_CONFLIST).unwrap();
    let o = n.options(&["--rename-conf-file"]);
    let upd = ensure_multus_config(&o, None).unwrap();
    let old = n.conf.join("10-bridge.conflist.old");
    assert_eq!(upd.renamed_master.as_deref(), Some(old.as_path()));
    assert!(!master.exists());
    assert_eq!(fs::read_to_string(&old).unwrap(), BRIDGE_CONFLIST);
    assert!(n.conf.join(CONFLIST_FILE_NAME).exists());
}

// ---------------------------------------------------------------- the process

/// Kills the child if a test fails half-way.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        nix::sys::signal::kill(pid, sig).unwrap();
    }

    /// Waits for the exit; returns the status code and stdout + stderr.
    fn wait_exit(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut out = String::new();
                use std::io::Read as _;
                if let Some(mut s) = self.0.stdout.take() {
                    s.read_to_string(&mut out).unwrap();
                }
                if let Some(mut s) = self.0.stderr.take() {
                    s.read_to_string(&mut out).unwrap();
                }
                return (status.code(), out);
            }
            assert!(Instant::now() < deadline, "the entrypoint did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn spawn(n: &Node, extra: &[&str]) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_thin_entrypoint"))
        .args(n.args())
        .args(extra)
        .env("MULTUS_SERVICE_ACCOUNT_DIR", &n.sa)
        .env("KUBERNETES_SERVICE_HOST", "fd00:10:96::1")
        .env("KUBERNETES_SERVICE_PORT", "443")
        .env_remove("KUBERNETES_SERVICE_PROTOCOL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running(child)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn process_watches_regenerates_and_cleans_up_on_sigterm() {
    let n = node();
    let master = n.conf.join("10-bridge.conflist");
    fs::write(&master, BRIDGE_CONFLIST).unwrap();
    let mut child = spawn(&n, &["--cleanup-config-on-exit=true"]);

    let conflist = n.conf.join(CONFLIST_FILE_NAME);
    let conf = n.conf.join(CONF_FILE_NAME);
    let kubeconfig = kubeconfig_path(&n.conf);
    wait_for("the generated conflist", || {
        read(&conflist).contains("10.244.1.0/24")
    });
    // The binary was installed with its mode, the kubeconfig written.
    assert_eq!(
        fs::read(n.bin.join("multus")).unwrap(),
        b"\x7fELF not really"
    );
    assert_eq!(mode(&n.bin.join("multus")), 0o751);
    assert!(!n.bin.join("_multus").exists());
    assert!(read(&kubeconfig).contains("server: https://[fd00:10:96::1]:443\n"));
    load_generated(&conflist);

    // The master changes: regenerated.
    fs::write(
        &master,
        BRIDGE_CONFLIST.replace("10.244.1.0/24", "10.244.9.0/24"),
    )
    .unwrap();
    wait_for("the regenerated conflist", || {
        read(&conflist).contains("10.244.9.0/24")
    });

    // The token rotates: the kubeconfig follows.
    fs::write(n.sa.join("token"), "second-token").unwrap();
    wait_for("the new token", || {
        read(&kubeconfig).contains("\"second-token\"")
    });

    // The master goes away, then comes back as a 0.3.1 .conf at the same path:
    // the .conflist this process wrote makes way for 00-multus.conf.
    fs::remove_file(&master).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        conflist.exists(),
        "the config stays while the master is missing"
    );
    fs::write(&master, BRIDGE_CONF_031).unwrap();
    wait_for("the regenerated conf", || {
        read(&conf).contains("10.22.0.0/16")
    });
    wait_for("the stale conflist to go", || !conflist.exists());
    assert_eq!(load_generated(&conf).cni_version, "0.3.1");

    child.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, out) = child.wait_exit();
    assert_eq!(code, Some(0), "{out}");
    assert!(!conf.exists(), "cleanup removes the generated config");
    assert!(!conflist.exists());
    assert!(kubeconfig.exists(), "the kubeconfig stays");
    assert!(master.exists());
    assert!(out.contains("Entering watch loop..."), "{out}");
    assert!(out.contains("has been deleted"), "{out}");
    assert!(out.contains("received SIGTERM"), "{out}");
}

#[test]
fn process_keeps_the_last_config_while_the_master_is_bad() {
    let n = node();
    let master = n.conf.join("10-bridge.conf");
    fs::write(&master, BRIDGE_CONF_031).unwrap();
    let mut child = spawn(
        &n,
        &["--cleanup-config-on-exit", "--skip-multus-binary-copy"],
    );
    let conf = n.conf.join(CONF_FILE_NAME);
    wait_for("the generated conf", || conf.exists());
    assert!(!n.bin.join("multus").exists(), "--skip-multus-binary-copy");
    let good = fs::read_to_string(&conf).unwrap();
    // A master caught half-written: multus stays on the node with the last good config.
    fs::write(&master, "{ broken").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(fs::read_to_string(&conf).unwrap(), good);
    // Fixed (with a new bridge name): regenerated.
    fs::write(&master, BRIDGE_CONF_031.replace("cni0", "cni9")).unwrap();
    wait_for("the regenerated conf", || {
        fs::read_to_string(&conf).is_ok_and(|c| c.contains("cni9"))
    });
    child.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, out) = child.wait_exit();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("cannot read master CNI config json"), "{out}");
    assert_eq!(
        out.matches("keeping the last one").count(),
        1,
        "reported once: {out}"
    );
    assert!(!conf.exists(), "cleanup after the signal");
}

#[test]
fn process_without_watch_keeps_the_config_unless_cleanup() {
    let n = node();
    let master = n.conf.join("10-bridge.conf");
    fs::write(&master, BRIDGE_CONF_031).unwrap();
    let conf = n.conf.join(CONF_FILE_NAME);

    // No cleanup: no watch, the config outlives the process.
    let mut child = spawn(&n, &[]);
    wait_for("the generated conf", || conf.exists());
    fs::write(
        &master,
        BRIDGE_CONF_031.replace("10.22.0.0/16", "10.99.0.0/16"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !read(&conf).contains("10.99.0.0/16"),
        "no watch without cleanup"
    );
    child.signal(nix::sys::signal::Signal::SIGINT);
    let (code, out) = child.wait_exit();
    assert_eq!(code, Some(0), "{out}");
    assert!(conf.exists());
    fs::remove_file(&conf).unwrap();

    // Cleanup with --skip-config-watch: no watch, but the config goes on exit.
    let mut child = spawn(&n, &["--cleanup-config-on-exit", "--skip-config-watch"]);
    wait_for("the generated conf", || {
        read(&conf).contains("10.99.0.0/16")
    });
    child.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, out) = child.wait_exit();
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("Entering watch loop"), "{out}");
    assert!(!conf.exists());
}

#[test]
fn process_copies_a_user_config_and_removes_it_on_exit() {
    let n = node();
    let user = n.root.join("src").join("70-multus.conf");
    fs::write(&user, r#"{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus","kubeconfig":"/etc/cni/net.d/multus.d/multus.kubeconfig","delegates":[{"type":"bridge"}]}"#).unwrap();
    let flag = format!("--multus-conf-file={}", user.display());
    let mut child = spawn(&n, &[flag.as_str(), "--cleanup-config-on-exit"]);
    let copied = n.conf.join("70-multus.conf");
    wait_for("the copied config", || copied.exists());
    assert_eq!(fs::read(&copied).unwrap(), fs::read(&user).unwrap());
    assert!(!n.conf.join("70-multus.conf.temp").exists());
    assert!(kubeconfig_path(&n.conf).exists());
    assert!(!n.conf.join(CONF_FILE_NAME).exists());
    child.signal(nix::sys::signal::Signal::SIGINT);
    let (code, out) = child.wait_exit();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("received SIGINT"), "{out}");
    assert!(!copied.exists());
    assert!(user.exists());
}
