//! Checks a pod's `k8s.v1.cni.cncf.io/networks` annotation against
//! NetworkAttachmentDefinitions held in memory, the way a validating
//! admission webhook would before the pod is created: the annotation must
//! parse, respect namespace isolation, name NADs that exist and load, and
//! give every attachment its own interface name. No API server, no files:
//! the resolver reads NADs from a `Vec` through the `NadSource` trait.
//!
//! Prints an AdmissionReview-style response and exits 1 when the pod would
//! be denied.
//!
//! ```text
//! cargo run -q --example validate-networks -- 'macvlan-conf-1@macvlan1, testns1/macvlan-conf-3'
//! cargo run -q --example validate-networks -- --isolation 'testns1/macvlan-conf-3'
//! ```

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Parser;
use k8s_openapi::api::core::v1::Pod;
use multus_k8s::nad::NetworkAttachmentDefinition;
use multus_k8s::{ResolveRequest, resolve_with};
use multus_types::{CniArgs, MultusConf};
use serde_json::json;

/// Validate a pod's networks annotation against in-memory NADs.
#[derive(Parser)]
struct Args {
    /// The pod's namespace.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Enable multus's `namespaceIsolation`.
    #[arg(long)]
    isolation: bool,
    /// The annotation value (comma form or JSON list).
    networks: String,
}

/// The NADs the webhook knows of (a real one would keep an informer's cache).
fn nads() -> Result<Vec<NetworkAttachmentDefinition>, serde_json::Error> {
    let macvlan = |namespace: &str, name: &str, subnet: &str| {
        let config = json!({
            "cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "mode": "bridge",
            "ipam": {"type": "host-local", "subnet": subnet}
        });
        serde_json::from_value(json!({
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"config": config.to_string()}
        }))
    };
    [
        macvlan("default", "macvlan-conf-1", "10.10.0.0/16"),
        macvlan("default", "macvlan-conf-2", "11.10.0.0/16"),
        macvlan("testns1", "macvlan-conf-3", "12.10.0.0/16"),
    ]
    .into_iter()
    .collect()
}

/// `Ok(interfaces)` when multus would accept the pod, `Err(reason)` otherwise.
async fn validate(args: &Args) -> Result<Vec<String>, String> {
    let conf = MultusConf::from_bytes(
        json!({
            "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
            "namespaceIsolation": args.isolation,
            "delegates": [{"cniVersion": "0.3.1", "name": "cluster", "type": "flannel"}]
        })
        .to_string()
        .as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": "candidate", "namespace": args.namespace,
            "annotations": {"k8s.v1.cni.cncf.io/networks": args.networks}
        }
    }))
    .map_err(|e| e.to_string())?;
    let k8s = CniArgs::parse(&format!(
        "K8S_POD_NAMESPACE={};K8S_POD_NAME=candidate",
        args.namespace
    ))
    .and_then(|a| a.k8s())
    .map_err(|e| e.to_string())?;
    let nads = nads().map_err(|e| e.to_string())?;

    // The container ID only names device-info files; none is written here.
    let request = ResolveRequest::new(&conf, &k8s, "admission", "eth0").with_pod(Some(&pod));
    let plan = resolve_with(Some(&nads), None, &request)
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    let mut interfaces = Vec::new();
    for a in &plan.attachments {
        if !seen.insert(a.ifname.as_str()) {
            return Err(format!(
                "interface name {} is asked for twice (network {})",
                a.ifname, a.status_name
            ));
        }
        interfaces.push(format!("{} <- {}", a.ifname, a.status_name));
    }
    Ok(interfaces)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (response, code) = match runtime.block_on(validate(&args)) {
        Ok(interfaces) => (
            json!({"allowed": true, "interfaces": interfaces}),
            ExitCode::SUCCESS,
        ),
        Err(reason) => (
            json!({"allowed": false, "status": {"code": 403, "message": reason}}),
            ExitCode::FAILURE,
        ),
    };
    println!("{response:#}");
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(isolation: bool, networks: &str) -> Result<Vec<String>, String> {
        let args = Args {
            namespace: "default".into(),
            isolation,
            networks: networks.into(),
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(validate(&args))
    }

    #[test]
    fn admits_and_denies_like_multus() {
        assert_eq!(
            check(false, "macvlan-conf-1@macvlan1, testns1/macvlan-conf-3"),
            Ok(vec![
                "eth0 <- cluster".to_owned(),
                "macvlan1 <- default/macvlan-conf-1".to_owned(),
                "net2 <- testns1/macvlan-conf-3".to_owned(),
            ])
        );
        let denied = |isolation, networks| check(isolation, networks).err().unwrap_or_default();
        assert!(denied(true, "testns1/macvlan-conf-3").contains("namespace isolation enabled"));
        assert!(denied(false, "nope").contains("(nope) in namespace (default)"));
        assert!(
            denied(false, "macvlan-conf-1@net2, macvlan-conf-2")
                .contains("net2 is asked for twice")
        );
        assert!(denied(false, "[{").contains("k8s.v1.cni.cncf.io/networks"));
    }
}
