//! `CNI_ARGS`: `K=V` pairs joined by `;`.

use std::fmt;
use std::net::IpAddr;

use crate::Error;

/// The pairs of a `CNI_ARGS` string, in order.
///
/// Parsing is strict as libcni's: every pair must have exactly one `=`.
///
/// ```
/// use multus_types::CniArgs;
/// let a = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web").unwrap();
/// assert_eq!(a.get("K8S_POD_NAME"), Some("web"));
/// assert_eq!(a.to_string(), "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web");
/// assert!(CniArgs::parse("A=b=c").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CniArgs {
    pairs: Vec<(String, String)>,
}

impl CniArgs {
    /// Parses `K1=V1;K2=V2`; the empty string is no pairs.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Ok(Self::default());
        }
        let pairs = s
            .split(';')
            .map(|pair| match pair.split('=').collect::<Vec<_>>()[..] {
                [k, v] => Ok((k.to_owned(), v.to_owned())),
                _ => Err(Error::InvalidArgs(format!("invalid pair {pair:?}"))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { pairs })
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Appends a pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((key.into(), value.into()));
    }

    /// The pairs in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether `IgnoreUnknown` is set to a true value (`1`, `true`, any case).
    pub fn ignore_unknown(&self) -> Result<bool, Error> {
        self.get("IgnoreUnknown").map_or(Ok(false), parse_bool)
    }

    /// Reads the keys a Kubernetes runtime passes. Unknown keys are an error
    /// unless `IgnoreUnknown` is true, as with libcni's `LoadArgs`.
    pub fn k8s(&self) -> Result<K8sArgs, Error> {
        let ignore_unknown = self.ignore_unknown()?;
        let mut out = K8sArgs {
            ignore_unknown,
            ..K8sArgs::default()
        };
        for (key, value) in &self.pairs {
            let slot = match key.as_str() {
                "IgnoreUnknown" => continue,
                "IP" => {
                    let ip = value.parse().map_err(|_| {
                        Error::InvalidArgs(format!("IP={value:?} is not an IP address"))
                    })?;
                    out.ip = Some(ip);
                    continue;
                }
                "K8S_POD_NAMESPACE" => &mut out.pod_namespace,
                "K8S_POD_NAME" => &mut out.pod_name,
                "K8S_POD_INFRA_CONTAINER_ID" => &mut out.pod_infra_container_id,
                "K8S_POD_UID" => &mut out.pod_uid,
                _ if ignore_unknown => continue,
                _ => {
                    return Err(Error::InvalidArgs(format!(
                        "unknown key {key:?} (set IgnoreUnknown=1 to allow it)"
                    )));
                }
            };
            value.clone_into(slot);
        }
        Ok(out)
    }
}

impl fmt::Display for CniArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl FromIterator<(String, String)> for CniArgs {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self {
            pairs: iter.into_iter().collect(),
        }
    }
}

/// The `CNI_ARGS` keys a Kubernetes runtime passes to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct K8sArgs {
    /// `IgnoreUnknown`.
    pub ignore_unknown: bool,
    /// `IP` (the deprecated static-IP convention).
    pub ip: Option<IpAddr>,
    /// `K8S_POD_NAMESPACE`.
    pub pod_namespace: String,
    /// `K8S_POD_NAME`.
    pub pod_name: String,
    /// `K8S_POD_INFRA_CONTAINER_ID`.
    pub pod_infra_container_id: String,
    /// `K8S_POD_UID`.
    pub pod_uid: String,
}

fn parse_bool(s: &str) -> Result<bool, Error> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(Error::InvalidArgs(format!(
            "IgnoreUnknown={s:?} is not a boolean"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBELET: &str = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1";

    #[test]
    fn kubelet_args() {
        let k = CniArgs::parse(KUBELET).unwrap().k8s().unwrap();
        assert!(k.ignore_unknown);
        assert_eq!((k.pod_namespace.as_str(), k.pod_name.as_str()), ("ns", "p"));
        assert_eq!(
            (k.pod_infra_container_id.as_str(), k.pod_uid.as_str()),
            ("abc", "u-1")
        );
    }

    #[test]
    fn strict_pairs() {
        for bad in ["A", "A=b;", ";A=b", "A=b=c", "A=b;;C=d"] {
            let e = CniArgs::parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("invalid CNI_ARGS: invalid pair"),
                "{bad}: {e}"
            );
        }
        assert_eq!(CniArgs::parse("").unwrap().pairs().len(), 0);
        assert_eq!(CniArgs::parse("A=").unwrap().get("A"), Some(""));
    }

    #[test]
    fn unknown_keys_need_ignore_unknown() {
        let e = CniArgs::parse("FOO=1;K8S_POD_NAME=p")
            .unwrap()
            .k8s()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key \"FOO\""), "{e}");
        assert!(
            CniArgs::parse("FOO=1;IgnoreUnknown=TRUE")
                .unwrap()
                .k8s()
                .is_ok()
        );
        assert!(
            CniArgs::parse("FOO=1;IgnoreUnknown=0")
                .unwrap()
                .k8s()
                .is_err()
        );
        assert!(CniArgs::parse("IgnoreUnknown=yes").unwrap().k8s().is_err());
    }

    #[test]
    fn ip_key_is_checked() {
        assert_eq!(
            CniArgs::parse("IP=10.1.1.1").unwrap().k8s().unwrap().ip,
            Some("10.1.1.1".parse().unwrap())
        );
        assert!(CniArgs::parse("IP=10.1.1").unwrap().k8s().is_err());
    }

    #[test]
    fn render_round_trips() {
        let a = CniArgs::parse(KUBELET).unwrap();
        assert_eq!(a.to_string(), KUBELET);
        let mut b = CniArgs::default();
        b.push("MAC", "c2:11:22:33:44:55");
        assert_eq!(b.to_string(), "MAC=c2:11:22:33:44:55");
    }
}
