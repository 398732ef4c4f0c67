//! `multus explain`: what multus would do with a pod at ADD, without running
//! anything.
//!
//! The pod and NAD files stand for the API server (as if the config had a
//! kubeconfig), or `--kubeconfig` reads both from a live cluster. The plan
//! comes from [`multus_k8s::resolve_with`], and each delegate's config and
//! `CNI_ARGS` are built by the same functions the plugin runs them with
//! ([`PodContext::runtime_conf`], [`plugin_request`]), so what is printed is
//! what the delegate would get on stdin and in its environment.
//!
//! Exit codes: 0 when ADD would succeed, 1 when it would fail (the error is
//! printed with upstream's text and a `kind`), 2 for usage errors (flags, an
//! unreadable or unparsable input file).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use k8s_openapi::api::core::v1::Pod;
use multus_delegate::multus::{Attachment, PodContext};
use multus_delegate::{
    Command, RuntimeConf, plugin_request, validate_ifname, validate_network_name,
};
use multus_k8s::devices::ResourceMap;
use multus_k8s::nad::NetworkAttachmentDefinition;
use multus_k8s::{NadSource, ResolveRequest, resolve_with};
use multus_types::{CniArgs, DelegateConf, MultusConf};
use serde_json::{Map, Value, json};

/// The container ID the explained ADD uses: kubelet's is not known yet.
pub const CONTAINER_ID: &str = "explain";
/// The network namespace path the explained ADD uses.
pub const NETNS: &str = "/var/run/netns/explain";

/// The flags of `multus explain`.
#[derive(Debug, Parser)]
#[command(
    name = "multus explain",
    about = "Print what multus would do at ADD for a pod, without running anything",
    long_about = "Print what multus would do at ADD for a pod, without running anything: each \
attachment in order (network, interface, master, device ID, the delegate config as the plugin \
would receive it, CNI_ARGS), warnings, and the error ADD would fail with.\n\nExit status: 0 when \
ADD would succeed, 1 when it would fail, 2 for usage errors."
)]
pub struct Args {
    /// The multus config (what the runtime passes on stdin).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The pod (YAML or JSON; the first Pod in the file).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "kubeconfig",
        conflicts_with = "kubeconfig"
    )]
    pub pod: Option<PathBuf>,
    /// NetworkAttachmentDefinitions: a YAML/JSON file (several documents or a
    /// `List`) or a directory of them; objects of other kinds are skipped.
    #[arg(long = "nad", value_name = "FILE_OR_DIR")]
    pub nads: Vec<PathBuf>,
    /// Replaces the config's `confDir`.
    #[arg(long, value_name = "DIR")]
    pub conf_dir: Option<PathBuf>,
    /// `CNI_IFNAME`: the master's interface name.
    #[arg(long, value_name = "NAME", default_value = "eth0")]
    pub ifname: String,
    /// The pod's devices: a JSON object, resource name -> device IDs.
    #[arg(long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Read the pod (and, without --nad, the NADs) from this cluster.
    #[arg(long, value_name = "FILE", requires = "name")]
    pub kubeconfig: Option<PathBuf>,
    /// The pod's namespace (with --kubeconfig).
    #[arg(
        long,
        value_name = "NS",
        default_value = "default",
        requires = "kubeconfig"
    )]
    pub namespace: String,
    /// The pod's name (with --kubeconfig).
    #[arg(long, value_name = "POD", requires = "kubeconfig")]
    pub name: Option<String>,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table, then each delegate's config.
    Table,
    /// One JSON object: `attachments`, `warnings`, `error`.
    Json,
}

/// What ADD would do: the report `multus explain` prints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The attachments in execution order (on failure: those resolved).
    pub attachments: Vec<Explained>,
    /// Warnings the resolver would log.
    pub warnings: Vec<String>,
    /// The error ADD would fail with.
    pub error: Option<Failure>,
}

/// One attachment as its delegate would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The resolved attachment.
    pub attachment: Attachment,
    /// The delegate config as the plugin receives it on ADD (for a list, the
    /// whole list with each plugin's request).
    pub config: Value,
    /// `CNI_ARGS` of the delegate.
    pub cni_args: String,
}

/// Why ADD would fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of problem: `namespace-isolation`, `nad-not-found`,
    /// `annotation`, `interface-name`, `config`, `default-route`, `request`,
    /// `devices`, `api`, `pod-not-found`.
    pub kind: &'static str,
    /// The error text, as the plugin would return it.
    pub message: String,
}

/// A usage problem (exit 2): bad flags or an input file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(String);

/// Runs `multus explain` with `args` (without the program name and the
/// `explain` word), printing to stdout/stderr; returns the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("multus explain")).chain(args);
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("multus explain: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(explain(&args)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("multus explain: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.output {
        Output::Json => {
            let mut s = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
            s.push('\n');
            s
        }
        Output::Table => report.to_table(),
    };
    print!("{text}");
    if report.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Builds the report for `args`: reads the inputs, resolves, and renders
/// every delegate's request. `Err` only for usage problems.
pub async fn explain(args: &Args) -> Result<Report, Usage> {
    let config = read(&args.config)?;
    let mut conf = match MultusConf::from_bytes(&config) {
        Ok(conf) => conf,
        Err(e) => {
            return Ok(Report::failed(Failure {
                kind: "config",
                message: e.to_string(),
            }));
        }
    };
    if let Some(dir) = &args.conf_dir {
        conf.conf_dir = dir.display().to_string();
    }
    let resources: ResourceMap = match &args.resources {
        Some(path) => serde_json::from_slice(&read(path)?).map_err(|e| {
            Usage(format!(
                "{}: expected a JSON object of resource name -> device IDs: {e}",
                path.display()
            ))
        })?,
        None => ResourceMap::new(),
    };
    let nads = read_nads(&args.nads)?;

    let Some(kubeconfig) = &args.kubeconfig else {
        let Some(pod_path) = &args.pod else {
            return Err(Usage("one of --pod or --kubeconfig is required".into()));
        };
        let pod = read_pod(pod_path)?;
        return Ok(explain_pod(&conf, &pod, &nads, &resources, &args.ifname).await);
    };
    let client = match multus_k8s::client::client_from_kubeconfig(kubeconfig).await {
        Ok(client) => client,
        Err(e) => return Err(Usage(e.to_string())),
    };
    let name = args.name.as_deref().unwrap_or_default();
    let lookup = multus_k8s::pod::lookup_pod(
        &client,
        &args.namespace,
        name,
        "",
        multus_k8s::PodRetry::THIN,
    )
    .await
    .and_then(multus_k8s::PodLookup::for_add);
    let pod = match lookup {
        Ok(Some(pod)) => pod,
        Ok(None) => {
            return Ok(Report::failed(Failure {
                kind: "pod-not-found",
                message: format!(
                    "pod {}/{name} not found (ADD would return an empty result)",
                    args.namespace
                ),
            }));
        }
        Err(e) => {
            return Ok(Report::failed(Failure {
                kind: kind_of(&e),
                message: e.to_string(),
            }));
        }
    };
    if args.nads.is_empty() {
        Ok(explain_pod(&conf, &pod, &client, &resources, &args.ifname).await)
    } else {
        Ok(explain_pod(&conf, &pod, &nads, &resources, &args.ifname).await)
    }
}

/// The report for `pod` with NADs from `nads`: the pure part of `explain`.
pub async fn explain_pod<S: NadSource + Sync + ?Sized>(
    conf: &MultusConf,
    pod: &Pod,
    nads: &S,
    resources: &ResourceMap,
    ifname: &str,
) -> Report {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    // What kubelet (through the runtime) puts in CNI_ARGS.
    let runtime_args = format!(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};\
         K8S_POD_INFRA_CONTAINER_ID={CONTAINER_ID};K8S_POD_UID={uid}"
    );
    let ctx = match CniArgs::parse(&runtime_args)
        .map_err(multus_delegate::Error::from)
        .and_then(|a| PodContext::new(CONTAINER_ID, NETNS, ifname).with_runtime_args(a))
    {
        Ok(ctx) => ctx,
        Err(e) => {
            return Report::failed(Failure {
                kind: "annotation",
                message: crate::Error::from(e).to_string(),
            });
        }
    };
    let in_pod = |e: crate::Error| e.in_pod(ctx.pod_label()).to_string();

    let request = ResolveRequest::new(conf, &ctx.k8s, CONTAINER_ID, ifname)
        .with_pod(Some(pod))
        .with_device_source(resources);
    let mut report = Report::default();
    let plan = match resolve_with(Some(nads), None, &request).await {
        Ok(plan) => plan,
        Err(e) => {
            report.error = Some(Failure {
                kind: kind_of(&e),
                message: in_pod(e.into()),
            });
            // What does not depend on the pod's annotations still resolves
            // (the master, the config's delegates): show it.
            let tolerant = request.clone().tolerating_annotation_errors();
            match resolve_with(Some(nads), None, &tolerant).await {
                Ok(plan) => plan,
                Err(_) => return report,
            }
        }
    };
    if report.error.is_none() {
        report.warnings = plan.warnings;
    }

    let mut ifnames = BTreeSet::new();
    for (index, attachment) in plan.attachments.into_iter().enumerate() {
        // The checks the runner makes before each delegate's ADD, in its
        // order; a failure reads as the pipeline reports it.
        let taken = !ifnames.insert(attachment.ifname.clone());
        let (rt, refused) = match ctx.runtime_conf(&attachment, Command::Add) {
            Ok(rt) => (Some(rt), None),
            Err(e) => (None, Some(("request", e))),
        };
        let refused = refused
            .or_else(|| {
                // The earlier attachment created it.
                taken.then(|| {
                    let e = crate::Error::IfnameTaken(attachment.ifname.clone());
                    ("interface-name", multus_delegate::Error::hook(e))
                })
            })
            .or_else(|| {
                let version = match &attachment.conf {
                    DelegateConf::Single(c) => c.cni_version().map(drop),
                    DelegateConf::List(l) => l.cni_version().map(drop),
                };
                version
                    .map_err(multus_delegate::Error::from)
                    .and_then(|()| validate_network_name(attachment.network_name()))
                    .err()
                    .map(|e| ("config", e))
            })
            .or_else(|| {
                validate_ifname(&attachment.ifname)
                    .err()
                    .map(|e| ("interface-name", e))
            });
        if let (None, Some((kind, source))) = (&report.error, refused) {
            let e = multus_delegate::Error::DelegateAdd {
                pod: ctx.pod_label(),
                network: attachment.network_name().to_owned(),
                index,
                source: Box::new(source),
                rollback_errors: Vec::new(),
            };
            report.error = Some(Failure {
                kind,
                message: e.to_string(),
            });
        }
        let rt = rt.unwrap_or_else(|| {
            RuntimeConf::new(CONTAINER_ID, NETNS, attachment.ifname.as_str())
                .with_args(ctx.delegate_args())
        });
        report.attachments.push(Explained {
            config: delegate_request(&attachment.conf, &rt),
            cni_args: rt.args.to_string(),
            attachment,
        });
    }
    report
}

/// The config a delegate receives on ADD: libcni's request for a single
/// plugin; for a list, the list with each plugin's request (without
/// `prevResult`, which only exists at run time).
pub fn delegate_request(conf: &DelegateConf, rt: &RuntimeConf) -> Value {
    match conf {
        DelegateConf::Single(plugin) => {
            plugin_request(plugin, plugin.name(), plugin.cni_version_str(), None, rt)
        }
        DelegateConf::List(list) => {
            let mut map = list.as_map().clone();
            let plugins = list
                .plugins()
                .iter()
                .map(|p| plugin_request(p, list.name(), list.cni_version_str(), None, rt))
                .collect();
            map.insert("plugins".into(), Value::Array(plugins));
            Value::Object(map)
        }
    }
}

/// The `kind` of a resolution error.
pub fn kind_of(error: &multus_k8s::Error) -> &'static str {
    use multus_k8s::Error as E;
    if error.is_nad_not_found() {
        return "nad-not-found";
    }
    match error.root() {
        E::NamespaceIsolation { .. } => "namespace-isolation",
        E::Annotation { .. } | E::InvalidName { .. } => "annotation",
        E::Ecmp(_) => "default-route",
        E::DeviceCheckpoint { .. } => "devices",
        E::GetPod { .. }
        | E::NadGet { .. }
        | E::Kubeconfig { .. }
        | E::InCluster { .. }
        | E::Client { .. } => "api",
        E::PodUidMismatch { .. } => "pod-not-found",
        _ => "config",
    }
}

impl Report {
    fn failed(failure: Failure) -> Self {
        Self {
            error: Some(failure),
            ..Self::default()
        }
    }

    /// The `--output json` object.
    pub fn to_json(&self) -> Value {
        let attachments: Vec<Value> = self
            .attachments
            .iter()
            .map(|e| {
                let a = &e.attachment;
                let mut m = Map::new();
                m.insert("network".into(), json!(a.status_name));
                m.insert("interface".into(), json!(a.ifname));
                m.insert("master".into(), json!(a.master));
                if !a.device_id.is_empty() {
                    m.insert("deviceID".into(), json!(a.device_id));
                }
                if !a.resource_name.is_empty() {
                    m.insert("resourceName".into(), json!(a.resource_name));
                }
                if let Some(gws) = &a.default_route {
                    m.insert("defaultRoute".into(), json!(gws));
                }
                let removed: Vec<&str> =
                    [(a.filter_v4_gateway, "ipv4"), (a.filter_v6_gateway, "ipv6")]
                        .into_iter()
                        .filter_map(|(on, family)| on.then_some(family))
                        .collect();
                if !removed.is_empty() {
                    m.insert("removesDefaultRoutes".into(), json!(removed));
                }
                m.insert("config".into(), e.config.clone());
                m.insert("cniArgs".into(), json!(e.cni_args));
                Value::Object(m)
            })
            .collect();
        json!({
            "attachments": attachments,
            "warnings": self.warnings,
            "error": self.error.as_ref().map(|f| json!({"kind": f.kind, "message": f.message})),
        })
    }

    /// The human-readable report.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let rows: Vec<[String; 5]> = self
            .attachments
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let a = &e.attachment;
                [
                    i.to_string(),
                    a.ifname.clone(),
                    a.status_name.clone(),
                    if a.master { "yes" } else { "no" }.to_owned(),
                    if a.device_id.is_empty() {
                        "-".to_owned()
                    } else {
                        a.device_id.clone()
                    },
                ]
            })
            .collect();
        let header = ["#", "INTERFACE", "NETWORK", "MASTER", "DEVICE"].map(str::to_owned);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        for (i, e) in self.attachments.iter().enumerate() {
            let a = &e.attachment;
            let _ = writeln!(out, "\n[{i}] {} on {}", a.status_name, a.ifname);
            if let Some(gws) = &a.default_route {
                let gws: Vec<String> = gws.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "default-route: {}", gws.join(", "));
            }
            if a.filter_v4_gateway || a.filter_v6_gateway {
                let _ = writeln!(
                    out,
                    "default routes removed after ADD:{}{}",
                    if a.filter_v4_gateway { " ipv4" } else { "" },
                    if a.filter_v6_gateway { " ipv6" } else { "" }
                );
            }
            let _ = writeln!(out, "CNI_ARGS: {}", e.cni_args);
            let config = serde_json::to_string_pretty(&e.config).unwrap_or_default();
            let _ = writeln!(out, "config: {config}");
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "\nwarnings:");
            for w in &self.warnings {
                let _ = writeln!(out, "  {w}");
            }
        }
        match &self.error {
            Some(f) => {
                let _ = writeln!(out, "\nADD would fail ({}): {}", f.kind, f.message);
            }
            None => {
                let _ = writeln!(out, "\nADD would succeed.");
            }
        }
        out
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

/// The objects of a manifest file: one JSON value or YAML documents, `List`s
/// and top-level arrays flattened, empty documents skipped.
fn manifests(path: &Path) -> Result<Vec<Value>, Usage> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Usage(format!("{}: not UTF-8 text", path.display())))?;
    let docs = match serde_json::from_str::<Value>(&text) {
        Ok(v) => vec![v],
        Err(_) => serde_saphyr::from_multiple_with_options::<Value>(
            &text,
            serde_saphyr::options! { strict_booleans: true },
        )
        .map_err(|e| Usage(format!("{}: {e}", path.display())))?,
    };
    let mut out = Vec::new();
    let mut stack: Vec<Value> = docs.into_iter().rev().collect();
    while let Some(doc) = stack.pop() {
        match doc {
            Value::Null => {}
            Value::Array(items) => stack.extend(items.into_iter().rev()),
            Value::Object(mut map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
                if let Some(Value::Array(items)) = map.remove("items") {
                    stack.extend(items.into_iter().rev());
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn kind(v: &Value) -> Option<&str> {
    v.get("kind").and_then(Value::as_str)
}

/// The first Pod of the file (or its only object, when it has no `kind`).
fn read_pod(path: &Path) -> Result<Pod, Usage> {
    let objects = manifests(path)?;
    let value = objects
        .iter()
        .find(|v| kind(v) == Some("Pod"))
        .or_else(|| objects.first().filter(|v| kind(v).is_none()))
        .ok_or_else(|| Usage(format!("{}: no Pod in the file", path.display())))?;
    let mut pod: Pod = serde_json::from_value(value.clone())
        .map_err(|e| Usage(format!("{}: not a Pod: {e}", path.display())))?;
    // As `kubectl apply` without a namespace.
    pod.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    Ok(pod)
}

/// The NADs of every `--nad` file or directory (its `.yaml`, `.yml` and
/// `.json` files, in name order).
fn read_nads(paths: &[PathBuf]) -> Result<Vec<NetworkAttachmentDefinition>, Usage> {
    let mut nads = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|x| x.to_str()),
                            Some("yaml" | "yml" | "json")
                        )
                })
                .collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            for value in manifests(&file)? {
                if kind(&value) != Some("NetworkAttachmentDefinition") {
                    continue;
                }
                let mut nad: NetworkAttachmentDefinition =
                    serde_json::from_value(value).map_err(|e| {
                        Usage(format!(
                            "{}: not a NetworkAttachmentDefinition: {e}",
                            file.display()
                        ))
                    })?;
                nad.metadata
                    .namespace
                    .get_or_insert_with(|| "default".into());
                nads.push(nad);
            }
        }
    }
    Ok(nads)
}
