//! The fuzz targets: every parser a pod author (annotations) or a node
//! admin (configs, kubeconfig, runtime arguments) can feed multus-rs.
//!
//! A target takes the raw input and returns a short description of what
//! happened (which the runner uses to notice inputs that reach new
//! outcomes). It panics when a parser panics or when an invariant that must
//! hold for every accepted input does not: such a panic is a finding.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::dict;
use multus_annotations::{
    NetworkStatus, parse_default_network, parse_network_status, parse_networks,
    render_network_status,
};
use multus_types::{
    CniArgs, CniResult, CniVersion, DelegateConf, MultusConf, NetConf, NetConfList,
};

/// One fuzz target.
#[derive(Debug)]
pub struct Target {
    /// Name on the command line and directory under `corpus/`.
    pub name: &'static str,
    /// What it covers.
    pub about: &'static str,
    /// Dictionary tokens added to [`crate::dict::COMMON_TOKENS`].
    pub tokens: &'static [&'static str],
    /// Whether inputs are JSON, so that JSON-aware mutations apply.
    pub json: bool,
    /// Runs one input; returns an outcome description, panics on a finding.
    pub run: fn(&[u8]) -> String,
}

/// Every target, in the order `all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "networks",
        about: "k8s.v1.cni.cncf.io/networks (comma and JSON form): parse_networks; accepted values render back (comma form via Display, JSON form via serde) and reparse to the same elements",
        tokens: dict::NETWORKS_TOKENS,
        json: true,
        run: networks,
    },
    Target {
        name: "default-network",
        about: "v1.multus-cni.io/default-network: parse_default_network; an accepted value is exactly what parse_networks gives as its only element",
        tokens: dict::NETWORKS_TOKENS,
        json: true,
        run: default_network,
    },
    Target {
        name: "multus-conf",
        about: "the multus config file: MultusConf::from_bytes, then effective_json and effective_global_namespaces; the effective config (what parse-config prints) loads again to the same effective config",
        tokens: dict::CONF_TOKENS,
        json: true,
        run: multus_conf,
    },
    Target {
        name: "delegate",
        about: "delegate configs and conflists: DelegateConf, NetConf and NetConfList::from_bytes with their accessors; an accepted config reparses from its own JSON to the same value",
        tokens: dict::CONF_TOKENS,
        json: true,
        run: delegate,
    },
    Target {
        name: "cni-result",
        about: "CNI results of every version: CniResult::parse, convert_to every version, to_v1, NetworkStatus::from_result; every result (parsed or converted) reparses from its JSON to the same value, and the network-status built from it renders and reparses to the same entries",
        tokens: dict::RESULT_TOKENS,
        json: true,
        run: cni_result,
    },
    Target {
        name: "network-status",
        about: "k8s.v1.cni.cncf.io/network-status: parse_network_status; accepted entries render (render_network_status) and reparse to the same entries, and rendering is stable",
        tokens: dict::STATUS_TOKENS,
        json: true,
        run: network_status,
    },
    Target {
        name: "cni-args",
        about: "CNI_ARGS: CniArgs::parse, k8s(), ignore_unknown(); accepted args render (Display) and reparse to the same pairs",
        tokens: dict::ARGS_TOKENS,
        json: false,
        run: cni_args,
    },
    Target {
        name: "kubeconfig",
        about: "the multus kubeconfig as kube reads it: kube::config::Kubeconfig::from_yaml (no invariant, no panic only)",
        tokens: dict::KUBECONFIG_TOKENS,
        json: false,
        run: kubeconfig,
    },
];

/// The target named `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Pod annotations are strings (Kubernetes stores UTF-8); map other bytes
/// to U+FFFD instead of wasting the input.
fn text(input: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// Upstream's JSON-form test for the networks annotation.
fn is_json_form(value: &str) -> bool {
    value.contains(['[', '{', '"'])
}

/// An error outcome: the error's variant (which the message does not always
/// tell) and its message.
fn err(e: impl std::fmt::Display + std::fmt::Debug) -> String {
    let debug = format!("{e:?}");
    let variant = debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    format!("err: {variant}: {e}")
}

fn networks(input: &[u8]) -> String {
    let value = text(input);
    let elements = match parse_networks(&value, "fuzz-ns") {
        Ok(e) => e,
        Err(e) => return err(e),
    };
    let form = if is_json_form(&value) {
        "json"
    } else {
        "comma"
    };
    if elements.is_empty() {
        return format!("ok:{form}:empty");
    }
    // The namespace is always filled in, so the other pod namespace below
    // must not matter.
    let rendered = if form == "comma" {
        elements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        match serde_json::to_string(&elements) {
            Ok(json) => json,
            Err(e) => panic!("invariant violated: accepted elements do not serialize: {e}"),
        }
    };
    match parse_networks(&rendered, "other-ns") {
        Ok(again) => assert!(
            again == elements
                || matches!(
                    (serde_json::to_value(&again), serde_json::to_value(&elements)),
                    (Ok(a), Ok(b)) if a == b
                ),
            "invariant violated: {form} form does not round-trip:\n  input:    {value:?}\n  rendered: {rendered:?}\n  first:    {elements:?}\n  again:    {again:?}"
        ),
        Err(e) => panic!(
            "invariant violated: {form} form rendered from an accepted value does not parse:\n  input:    {value:?}\n  rendered: {rendered:?}\n  error:    {e}"
        ),
    }
    format!("ok:{form}:{}", elements.len().min(3))
}

fn default_network(input: &[u8]) -> String {
    let value = text(input);
    let element = match parse_default_network(&value, "kube-system") {
        Ok(e) => e,
        Err(e) => return err(e),
    };
    match parse_networks(&value, "kube-system") {
        Ok(all) => assert!(
            all.len() == 1 && all[0] == element,
            "invariant violated: default network {element:?} is not the only element of {all:?} (input {value:?})"
        ),
        Err(e) => panic!(
            "invariant violated: accepted as default network but parse_networks fails: {e} (input {value:?})"
        ),
    }
    format!("ok:{}", is_json_form(&value))
}

fn multus_conf(input: &[u8]) -> String {
    let conf = match MultusConf::from_bytes(input) {
        Ok(c) => c,
        Err(e) => return err(e),
    };
    // What `parse-config` prints must itself load, to the same effective
    // config (the defaults are filled in once and stay).
    let effective = conf.effective_json();
    let bytes = match serde_json::to_vec(&effective) {
        Ok(b) => b,
        Err(e) => panic!("invariant violated: effective_json does not serialize: {e}"),
    };
    match MultusConf::from_bytes(&bytes) {
        Ok(again) => {
            let twice = again.effective_json();
            assert!(
                twice == effective,
                "invariant violated: the effective config changes when loaded again:\n  once:  {effective}\n  twice: {twice}"
            );
        }
        Err(e) => panic!(
            "invariant violated: the effective config does not load: {e}\n  json: {effective}"
        ),
    }
    let globals = conf.effective_global_namespaces();
    assert!(
        !globals.is_empty(),
        "invariant violated: no effective global namespaces"
    );
    for d in &conf.delegates {
        let _ = (d.name(), d.cni_version_str());
    }
    format!(
        "ok:cluster={}:delegates={}",
        conf.is_cluster_network_mode(),
        conf.delegates.len().min(3)
    )
}

/// Checks that a config written from its own map reads back as the same
/// config; `view` gives what must match, as JSON.
fn reparse<T: std::fmt::Debug>(
    what: &str,
    original: &T,
    map: &Map<String, Value>,
    parse: fn(&[u8]) -> Result<T, multus_types::Error>,
    view: fn(&T) -> Value,
) {
    let bytes = match serde_json::to_vec(map) {
        Ok(b) => b,
        Err(e) => panic!("invariant violated: {what} map does not serialize: {e}"),
    };
    match parse(&bytes) {
        Ok(again) => assert!(
            view(&again) == view(original),
            "invariant violated: {what} does not reparse to itself:\n  first: {original:?}\n  again: {again:?}"
        ),
        Err(e) => panic!(
            "invariant violated: {what} does not reparse from its own JSON: {e}\n  json: {}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

fn delegate_view(d: &DelegateConf) -> Value {
    match d {
        DelegateConf::Single(c) => json!({ "single": conf_view(c) }),
        DelegateConf::List(l) => json!({ "list": list_view(l) }),
    }
}

fn conf_view(c: &NetConf) -> Value {
    Value::Object(c.as_map().clone())
}

fn list_view(l: &NetConfList) -> Value {
    json!({
        "map": l.as_map(),
        "version": l.cni_version_str(),
        "plugins": l.plugins().iter().map(conf_view).collect::<Vec<_>>(),
    })
}

fn delegate(input: &[u8]) -> String {
    let mut outcome = String::new();
    let mut accepted = false;
    match DelegateConf::from_bytes(input) {
        Ok(d) => {
            accepted = true;
            let _ = (d.name(), d.cni_version_str());
            reparse(
                "DelegateConf",
                &d,
                d.as_map(),
                DelegateConf::from_bytes,
                delegate_view,
            );
            outcome.push_str(match d {
                DelegateConf::Single(_) => "d:single;",
                DelegateConf::List(_) => "d:list;",
            });
        }
        Err(e) => outcome.push_str(&format!("d:{e};")),
    }
    match NetConf::from_bytes(input) {
        Ok(c) => {
            accepted = true;
            let _ = (c.plugin_type(), c.name(), c.capabilities());
            let version = c.cni_version();
            reparse("NetConf", &c, c.as_map(), NetConf::from_bytes, conf_view);
            let list = NetConfList::from_conf(c);
            outcome.push_str(&format!("c:{};l:{};", version.is_ok(), list.is_ok()));
        }
        Err(e) => outcome.push_str(&format!("c:{e};")),
    }
    match NetConfList::from_bytes(input) {
        Ok(l) => {
            accepted = true;
            let _ = (
                l.name(),
                l.cni_version_str(),
                l.disable_check(),
                l.disable_gc(),
                l.load_only_inlined_plugins(),
            );
            let version = l.cni_version();
            for p in l.plugins() {
                let _ = (p.plugin_type(), p.capabilities(), p.cni_version());
            }
            reparse(
                "NetConfList",
                &l,
                l.as_map(),
                NetConfList::from_bytes,
                list_view,
            );
            outcome.push_str(&format!(
                "l:{}:{}",
                version.is_ok(),
                l.plugins().len().min(3)
            ));
        }
        Err(e) => outcome.push_str(&format!("l:{e}")),
    }
    let verdict = if accepted { "ok" } else { "err" };
    format!("{verdict};{outcome}")
}

/// Checks that `result` written as JSON reads back as itself when parsed
/// with its own version as the default.
fn result_round_trip(what: &str, result: &CniResult) {
    let json = match result.to_json_string() {
        Ok(j) => j,
        Err(e) => panic!("invariant violated: {what} does not serialize: {e}"),
    };
    match CniResult::parse(json.as_bytes(), result.version()) {
        Ok(again) => assert!(
            &again == result,
            "invariant violated: {what} does not reparse to itself:\n  json:  {json}\n  first: {result:?}\n  again: {again:?}"
        ),
        Err(e) => panic!(
            "invariant violated: {what} does not reparse from its own JSON: {e}\n  json: {json}"
        ),
    }
}

fn cni_result(input: &[u8]) -> String {
    // The default version (used when the result names none) varies with the
    // input so that every layout is reached from version-less seeds.
    let default = CniVersion::ALL[input.len() % CniVersion::ALL.len()];
    let result = match CniResult::parse(input, default) {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    result_round_trip("parsed result", &result);
    let mut outcome = format!("ok:{}:", result.version());
    for to in CniVersion::ALL {
        match result.convert_to(to) {
            Ok(converted) => {
                assert!(
                    converted.version() == to,
                    "invariant violated: convert_to({to}) gave version {}",
                    converted.version()
                );
                result_round_trip(&format!("result converted to {to}"), &converted);
                outcome.push('+');
            }
            Err(_) => outcome.push('-'),
        }
    }
    let v1 = match result.to_v1() {
        Ok(r) => r,
        Err(e) => panic!("invariant violated: to_v1 failed: {e}"),
    };
    assert!(
        result.has_interfaces_or_ips() == v1.has_interfaces_or_ips(),
        "invariant violated: has_interfaces_or_ips differs before ({}) and after to_v1",
        result.has_interfaces_or_ips()
    );
    let status = NetworkStatus::from_result(&v1, "fuzz/net", input.len().is_multiple_of(2), None);
    let rendered = render_network_status(&status);
    match parse_network_status(&rendered) {
        Ok(again) => assert!(
            again == status,
            "invariant violated: network-status from a result does not reparse to itself:\n  rendered: {rendered}\n  first: {status:?}\n  again: {again:?}"
        ),
        Err(e) => panic!(
            "invariant violated: network-status rendered from a result does not parse: {e}\n  rendered: {rendered}"
        ),
    }
    outcome.push_str(&format!(":status={}", status.len().min(3)));
    outcome
}

fn network_status(input: &[u8]) -> String {
    let value = text(input);
    let entries = match parse_network_status(&value) {
        Ok(e) => e,
        Err(e) => return err(e),
    };
    let rendered = render_network_status(&entries);
    match parse_network_status(&rendered) {
        Ok(again) => {
            assert!(
                again == entries,
                "invariant violated: network-status does not round-trip:\n  input:    {value:?}\n  rendered: {rendered}\n  first: {entries:?}\n  again: {again:?}"
            );
            let twice = render_network_status(&again);
            assert!(
                twice == rendered,
                "invariant violated: rendering is not stable:\n  once:  {rendered}\n  twice: {twice}"
            );
        }
        Err(e) => panic!(
            "invariant violated: rendered network-status does not parse: {e}\n  input:    {value:?}\n  rendered: {rendered}"
        ),
    }
    format!(
        "ok:{}:{}",
        entries.len().min(3),
        entries.iter().any(|e| e.device_info.is_some())
    )
}

fn cni_args(input: &[u8]) -> String {
    let value = text(input);
    let args = match CniArgs::parse(&value) {
        Ok(a) => a,
        Err(e) => return err(e),
    };
    let rendered = args.to_string();
    match CniArgs::parse(&rendered) {
        Ok(again) => assert!(
            again == args,
            "invariant violated: CNI_ARGS do not round-trip: {value:?} -> {rendered:?}"
        ),
        Err(e) => panic!(
            "invariant violated: rendered CNI_ARGS do not parse: {e}: {value:?} -> {rendered:?}"
        ),
    }
    let ignore = args.ignore_unknown();
    match args.k8s() {
        Ok(k) => format!("ok:{}:{}", k.ignore_unknown, k.ip.is_some()),
        Err(e) => format!("ok:{}:{}", ignore.is_ok(), err(e)),
    }
}

fn kubeconfig(input: &[u8]) -> String {
    let value = text(input);
    match kube::config::Kubeconfig::from_yaml(&value) {
        Ok(k) => format!(
            "ok:{}:{}:{}:{}",
            k.clusters.len().min(2),
            k.auth_infos.len().min(2),
            k.contexts.len().min(2),
            k.current_context.is_some()
        ),
        Err(e) => err(e),
    }
}
