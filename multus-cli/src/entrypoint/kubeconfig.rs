//! The kubeconfig the thin plugin uses to reach the API server, made from the
//! entrypoint pod's own service account: `<cni-conf-dir>/multus.d/multus.kubeconfig`.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::install::write_atomic;
use super::{Error, Options};

/// Sub-directory of the CNI config dir that holds the kubeconfig.
pub const KUBECONFIG_DIR: &str = "multus.d";
/// File name of the kubeconfig.
pub const KUBECONFIG_NAME: &str = "multus.kubeconfig";
/// Name of the cluster entry.
pub const CLUSTER_NAME: &str = "local";
/// Name of the user entry.
pub const USER_NAME: &str = "multus";
/// Name of the (current) context.
pub const CONTEXT_NAME: &str = "multus-context";

/// Where the API server is, as the kubelet tells every pod (`KUBERNETES_SERVICE_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServer {
    /// `KUBERNETES_SERVICE_PROTOCOL`, `https` when unset or empty.
    pub protocol: String,
    /// `KUBERNETES_SERVICE_HOST`.
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`.
    pub port: String,
}

impl ApiServer {
    /// Reads the `KUBERNETES_SERVICE_*` variables of this process.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let protocol = var("KUBERNETES_SERVICE_PROTOCOL");
        Self {
            protocol: if protocol.is_empty() {
                "https".to_owned()
            } else {
                protocol
            },
            host: var("KUBERNETES_SERVICE_HOST"),
            port: var("KUBERNETES_SERVICE_PORT"),
        }
    }

    /// The server URL; an IPv6 host is bracketed.
    ///
    /// ```
    /// use multus_cli::entrypoint::kubeconfig::ApiServer;
    /// let s = |h: &str| ApiServer { protocol: "https".into(), host: h.into(), port: "443".into() };
    /// assert_eq!(s("10.96.0.1").url(), "https://10.96.0.1:443");
    /// assert_eq!(s("fd00:10:96::1").url(), "https://[fd00:10:96::1]:443");
    /// ```
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{}:{}", self.protocol, host, self.port)
    }
}

/// SHA-256 digests of the service account's CA and token, as last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeconfigHashes {
    /// Digest of `ca.crt`.
    pub ca: [u8; 32],
    /// Digest of `token`.
    pub token: [u8; 32],
}

/// What [`ensure_kubeconfig`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigUpdate {
    /// Digests to pass to the next call.
    pub hashes: KubeconfigHashes,
    /// The kubeconfig path when it was (re)written, `None` when nothing changed.
    pub written: Option<PathBuf>,
}

/// Path of the kubeconfig inside the CNI config dir.
pub fn kubeconfig_path(cni_conf_dir: &Path) -> PathBuf {
    cni_conf_dir.join(KUBECONFIG_DIR).join(KUBECONFIG_NAME)
}

/// Renders the kubeconfig: one cluster `local` (the CA inline as base64, or
/// `insecure-skip-tls-verify` when `ca` is `None`), one user `multus` with the
/// bearer token, one context `multus-context`, which is current.
///
/// ```
/// use multus_cli::entrypoint::kubeconfig::render_kubeconfig;
/// let k = render_kubeconfig("https://10.96.0.1:443", Some(b"PEM"), "tok");
/// assert!(k.contains("certificate-authority-data: UEVN\n"));
/// assert!(k.contains("token: \"tok\"\n"));
/// ```
pub fn render_kubeconfig(server: &str, ca: Option<&[u8]>, token: &str) -> String {
    let tls = match ca {
        Some(ca) => format!(
            "certificate-authority-data: {}",
            base64::engine::general_purpose::STANDARD.encode(ca)
        ),
        None => "insecure-skip-tls-verify: true".to_owned(),
    };
    let token = yaml_double_quoted(token.trim());
    format!(
        "# kubeconfig of the multus CNI plugin, written by thin_entrypoint\n\
         apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {CLUSTER_NAME}\n\
         \x20 cluster:\n\
         \x20   server: {server}\n\
         \x20   {tls}\n\
         users:\n\
         - name: {USER_NAME}\n\
         \x20 user:\n\
         \x20   token: {token}\n\
         contexts:\n\
         - name: {CONTEXT_NAME}\n\
         \x20 context:\n\
         \x20   cluster: {CLUSTER_NAME}\n\
         \x20   user: {USER_NAME}\n\
         current-context: {CONTEXT_NAME}\n"
    )
}

/// A YAML double-quoted scalar.
fn yaml_double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn read_and_hash(path: &Path) -> Result<(Vec<u8>, [u8; 32]), Error> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        context: format!("cannot read {}", path.display()),
        source,
    })?;
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    Ok((bytes, hash))
}

/// Creates `dir` (and parents) with mode 0755 when missing.
pub(crate) fn create_dir_0755(dir: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|source| Error::Io {
            context: format!("cannot create directory {}", dir.display()),
            source,
        })
}

/// Writes the kubeconfig unless the service account's CA and token are
/// unchanged since `previous` (the CA does not count with
/// `--skip-tls-verify`). Creates `<cni-conf-dir>/multus.d` and
/// `--multus-cni-conf-dir` (0755) first; the file is written as
/// `multus.kubeconfig.new` (0600) and renamed into place.
pub fn ensure_kubeconfig(
    options: &Options,
    server: &ApiServer,
    previous: Option<&KubeconfigHashes>,
) -> Result<KubeconfigUpdate, Error> {
    let (ca, ca_hash) = read_and_hash(&options.service_account_dir.join("ca.crt"))?;
    let (token, token_hash) = read_and_hash(&options.service_account_dir.join("token"))?;
    let hashes = KubeconfigHashes {
        ca: ca_hash,
        token: token_hash,
    };
    if let Some(prev) = previous {
        let ca_changed = prev.ca != ca_hash;
        let token_changed = prev.token != token_hash;
        if !token_changed && (options.skip_tls_verify || !ca_changed) {
            return Ok(KubeconfigUpdate {
                hashes,
                written: None,
            });
        }
        println!(
            "service account changed (CA: {ca_changed}, token: {token_changed}): rewriting the kubeconfig"
        );
    }

    let dir = options.cni_conf_dir.join(KUBECONFIG_DIR);
    create_dir_0755(&dir)?;
    create_dir_0755(&options.multus_cni_conf_dir)?;

    let token = String::from_utf8_lossy(&token);
    let ca = (!options.skip_tls_verify).then_some(ca.as_slice());
    let text = render_kubeconfig(&server.url(), ca, &token);
    let path = dir.join(KUBECONFIG_NAME);
    let temp = dir.join(format!("{KUBECONFIG_NAME}.new"));
    write_atomic(&path, &temp, text.as_bytes(), 0o600)?;
    println!("kubeconfig is created in {}", path.display());
    Ok(KubeconfigUpdate {
        hashes,
        written: Some(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quoting() {
        assert_eq!(yaml_double_quoted("a.b-c_d"), "\"a.b-c_d\"");
        assert_eq!(yaml_double_quoted("q\"b\\"), "\"q\\\"b\\\\\"");
        assert_eq!(yaml_double_quoted("x\ny"), "\"x\\x0ay\"");
    }

    #[test]
    fn url_forms() {
        let s = |p: &str, h: &str| ApiServer {
            protocol: p.into(),
            host: h.into(),
            port: "6443".into(),
        };
        assert_eq!(s("http", "::1").url(), "http://[::1]:6443");
        assert_eq!(s("https", "[::1]").url(), "https://[::1]:6443");
        assert_eq!(s("https", "api.local").url(), "https://api.local:6443");
    }
}
