//! The socket API's request body and its adaptation into the pipeline's
//! [`CmdArgs`]: the checks upstream's server makes before running anything.

use std::collections::BTreeMap;

use base64::Engine as _;
use multus_types::{CniError, ToCniError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::skel::{CmdArgs, Command};

/// What a shim sends: its whole environment, its stdin (base64) and, for
/// `/delegate`, the attributes of the interface to hot-plug.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct Request {
    /// The shim's environment (`CNI_COMMAND`, `CNI_ARGS`, ...).
    #[serde(default, deserialize_with = "multus_types::casefold::null_as_default")]
    pub env: BTreeMap<String, String>,
    /// The CNI config the runtime gave the shim (base64 on the wire).
    #[serde(
        default,
        deserialize_with = "base64_bytes",
        serialize_with = "to_base64"
    )]
    pub config: Vec<u8>,
    /// `/delegate` only: MAC, IPs and `cni-args` of the interface.
    #[serde(rename = "interfaceAttributes", default)]
    pub interface_attributes: Option<InterfaceAttributes>,
}
multus_types::case_insensitive_serde!(Request);

/// The `interfaceAttributes` of a `/delegate` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(remote = "Self")]
pub struct InterfaceAttributes {
    /// Requested IPs (`IP=` and the `ips` capability).
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    /// Requested MAC (`MAC=` and the `mac` capability).
    #[serde(default, deserialize_with = "multus_types::casefold::null_as_default")]
    pub mac: String,
    /// Merged into the delegate config's `args.cni`.
    #[serde(rename = "cni-args", default)]
    pub cni_args: Option<Map<String, Value>>,
}
multus_types::case_insensitive_serde!(InterfaceAttributes);

fn base64_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = Option::<String>::deserialize(d)?.unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| serde::de::Error::custom(format!("config is not base64: {e}")))
}

fn to_base64<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Why a request was refused before any work was done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The body is not a request (`<serde error>`), as upstream words it.
    #[error("{0}")]
    Body(String),
    /// `could not extract the CNI command args: <reason>`.
    #[error("could not extract the CNI command args: {0}")]
    CmdArgs(String),
    /// `could not extract the kubernetes runtime args: <reason>`.
    #[error("could not extract the kubernetes runtime args: {0}")]
    K8sArgs(String),
    /// Pod name or namespace empty on ADD/DEL/CHECK.
    #[error("required CNI variable missing. pod name: {name}; pod namespace: {namespace}")]
    PodMissing {
        /// `K8S_POD_NAME`.
        name: String,
        /// `K8S_POD_NAMESPACE`.
        namespace: String,
    },
    /// A CNI error (container id or interface name libcni would refuse):
    /// answered as the CNI error object.
    #[error("{}", .0.msg)]
    Cni(CniError),
}

/// A request turned into the pipeline's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapted {
    /// The arguments; `stdin` is the request config with the daemon's keys overlaid.
    pub args: CmdArgs,
    /// `K8S_POD_NAMESPACE` (empty for STATUS/GC).
    pub pod_namespace: String,
    /// `K8S_POD_NAME` (empty for STATUS/GC).
    pub pod_name: String,
}

/// Checks a request and builds the pipeline's arguments, as upstream's
/// server does: `CNI_COMMAND` required; except for STATUS and GC the keys
/// `CNI_CONTAINERID`, `CNI_NETNS` and `CNI_ARGS` must be present,
/// `CNI_IFNAME` defaults to `eth0`, `CNI_ARGS` must parse strictly and name
/// `K8S_POD_NAMESPACE` and `K8S_POD_NAME` (non-empty for ADD/DEL/CHECK).
/// `overlay` lays the daemon config over the request config.
///
/// Beyond upstream, the container id and interface name are checked as
/// libcni checks them (a shim already did; the container id names a file in
/// `cniDir`, so the daemon does not trust it).
///
/// # Errors
/// [`RequestError`], worded as upstream.
pub fn adapt(
    req: &Request,
    overlay: impl Fn(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Adapted, RequestError> {
    let cmd = req
        .env
        .get("CNI_COMMAND")
        .ok_or_else(|| RequestError::CmdArgs("unexpected or missing CNI_COMMAND".into()))?;
    let command = Command::from_cni_command(cmd)
        .filter(|c| *c != Command::Version)
        .ok_or_else(|| RequestError::CmdArgs(format!("unknown CNI_COMMAND {cmd:?}")))?;
    let stdin = overlay(&req.config).map_err(RequestError::CmdArgs)?;
    let cni_version = serde_json::from_slice::<Value>(&stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let env = |k: &str| req.env.get(k).cloned();
    if matches!(command, Command::Status | Command::Gc) {
        let args = CmdArgs {
            command,
            container_id: env("CNI_CONTAINERID").unwrap_or_default(),
            netns: env("CNI_NETNS").unwrap_or_default(),
            ifname: env("CNI_IFNAME").unwrap_or_else(|| "eth0".into()),
            args: env("CNI_ARGS").unwrap_or_default(),
            // As upstream: delegates are looked up in binDir only.
            path: String::new(),
            stdin,
            cni_version,
        };
        return Ok(Adapted {
            args,
            pod_namespace: String::new(),
            pod_name: String::new(),
        });
    }
    let required = |k: &str| env(k).ok_or_else(|| RequestError::CmdArgs(format!("missing {k}")));
    let container_id = required("CNI_CONTAINERID")?;
    let netns = required("CNI_NETNS")?;
    let ifname = env("CNI_IFNAME").unwrap_or_else(|| "eth0".into());
    let cni_args = required("CNI_ARGS")?;
    let pairs = strict_cni_args(&cni_args).map_err(RequestError::K8sArgs)?;
    let pod_namespace = pairs
        .get("K8S_POD_NAMESPACE")
        .cloned()
        .ok_or_else(|| RequestError::K8sArgs("missing K8S_POD_NAMESPACE".into()))?;
    let pod_name = pairs
        .get("K8S_POD_NAME")
        .cloned()
        .ok_or_else(|| RequestError::K8sArgs("missing K8S_POD_NAME".into()))?;
    if pod_name.is_empty() || pod_namespace.is_empty() {
        return Err(RequestError::PodMissing {
            name: pod_name,
            namespace: pod_namespace,
        });
    }
    multus_delegate::validate_container_id(&container_id)
        .map_err(|e| RequestError::Cni(e.to_cni_error()))?;
    multus_delegate::validate_ifname(&ifname).map_err(|e| RequestError::Cni(e.to_cni_error()))?;
    Ok(Adapted {
        args: CmdArgs {
            command,
            container_id,
            netns,
            ifname,
            args: cni_args,
            path: String::new(),
            stdin,
            cni_version,
        },
        pod_namespace,
        pod_name,
    })
}

/// Upstream's server-side `CNI_ARGS` reading: `;`-separated pairs, each
/// exactly one `=` (an empty or trailing segment, or a value containing
/// `=`, is refused), keys and values trimmed.
fn strict_cni_args(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(';') {
        let parts: Vec<&str> = pair.split('=').collect();
        let [key, value] = parts.as_slice() else {
            return Err(format!("invalid CNI_ARG '{pair}'"));
        };
        out.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(out)
}

/// `ContainerID:"…" Netns:"…" IfName:"…" Args:"…" Path:"…"`: how upstream
/// names a request in its errors.
pub fn describe(args: &CmdArgs) -> String {
    format!(
        "ContainerID:{:?} Netns:{:?} IfName:{:?} Args:{:?} Path:{:?}",
        args.container_id, args.netns, args.ifname, args.args, args.path
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(env: &[(&str, &str)], config: &str) -> Request {
        Request {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            config: config.as_bytes().to_vec(),
            interface_attributes: None,
        }
    }

    fn identity(b: &[u8]) -> Result<Vec<u8>, String> {
        Ok(b.to_vec())
    }

    const ADD: &[(&str, &str)] = &[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/run/netns/x"),
        (
            "CNI_ARGS",
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web",
        ),
    ];

    #[test]
    fn wire_format_decodes_ignoring_case() {
        let body = r#"{"Env":{"CNI_COMMAND":"ADD"},"config":"eyJhIjoxfQ==","interfaceattributes":{"ips":["10.1.1.1/24"],"MAC":"c2:00:00:00:00:01","cni-args":{"x":1}}}"#;
        let r: Request = serde_json::from_str(body).unwrap();
        assert_eq!(r.env["CNI_COMMAND"], "ADD");
        assert_eq!(r.config, br#"{"a":1}"#);
        let attrs = r.interface_attributes.unwrap();
        assert_eq!(attrs.ips.unwrap(), ["10.1.1.1/24"]);
        assert_eq!(attrs.mac, "c2:00:00:00:00:01");
        assert_eq!(attrs.cni_args.unwrap()["x"], 1);
        assert!(serde_json::from_str::<Request>(r#"{"config":"***"}"#).is_err());
        let empty: Request = serde_json::from_str(r#"{"env":null,"config":null}"#).unwrap();
        assert!(empty.env.is_empty() && empty.config.is_empty());
    }

    #[test]
    fn add_needs_its_keys_and_defaults_ifname() {
        let a = adapt(&request(ADD, r#"{"cniVersion":"0.3.1"}"#), identity).unwrap();
        assert_eq!(a.args.ifname, "eth0");
        assert_eq!(a.args.cni_version, "0.3.1");
        assert_eq!(
            (a.pod_namespace.as_str(), a.pod_name.as_str()),
            ("ns", "web")
        );
        for missing in ["CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS"] {
            let env: Vec<_> = ADD.iter().copied().filter(|(k, _)| *k != missing).collect();
            let e = adapt(&request(&env, "{}"), identity).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("could not extract the CNI command args: missing {missing}")
            );
        }
        let e = adapt(&request(&[], "{}"), identity).unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not extract the CNI command args: unexpected or missing CNI_COMMAND"
        );
    }

    #[test]
    fn cni_args_are_strict() {
        for (args, msg) in [
            (
                "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;",
                "invalid CNI_ARG ''",
            ),
            (
                "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=a=b",
                "invalid CNI_ARG 'K8S_POD_NAME=a=b'",
            ),
            ("", "invalid CNI_ARG ''"),
            ("K8S_POD_NAME=web", "missing K8S_POD_NAMESPACE"),
            ("K8S_POD_NAMESPACE=ns", "missing K8S_POD_NAME"),
        ] {
            let mut env = ADD.to_vec();
            env[3] = ("CNI_ARGS", args);
            let e = adapt(&request(&env, "{}"), identity).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("could not extract the kubernetes runtime args: {msg}")
            );
        }
        let mut env = ADD.to_vec();
        env[3] = ("CNI_ARGS", " K8S_POD_NAMESPACE = ns ; K8S_POD_NAME= ");
        let e = adapt(&request(&env, "{}"), identity).unwrap_err();
        assert_eq!(
            e.to_string(),
            "required CNI variable missing. pod name: ; pod namespace: ns"
        );
    }

    #[test]
    fn status_needs_only_the_command_and_bad_ids_are_cni_errors() {
        let a = adapt(&request(&[("CNI_COMMAND", "STATUS")], "{}"), identity).unwrap();
        assert_eq!(a.args.command, Command::Status);
        let mut env = ADD.to_vec();
        env[1] = ("CNI_CONTAINERID", "../../etc");
        let e = adapt(&request(&env, "{}"), identity).unwrap_err();
        assert!(matches!(e, RequestError::Cni(_)), "{e:?}");
        let e = adapt(&request(&[("CNI_COMMAND", "VERSION")], "{}"), identity).unwrap_err();
        assert!(e.to_string().contains("VERSION"), "{e}");
    }

    #[test]
    fn describe_like_upstream() {
        let a = adapt(&request(ADD, "{}"), identity).unwrap();
        assert_eq!(
            describe(&a.args),
            r#"ContainerID:"c1" Netns:"/run/netns/x" IfName:"eth0" Args:"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web" Path:"""#
        );
    }
}
