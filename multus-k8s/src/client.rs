//! The Kubernetes API client, built the way upstream's `GetK8sClient` picks
//! its configuration.
//!
//! * `kubeconfig` set in the multus config → that file;
//! * else `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` both set
//!   and non-empty → in-cluster (service account token and CA under
//!   [`SERVICE_ACCOUNT_DIR`]);
//! * else no client (`None`): only the config's `delegates` run, pod
//!   annotations are ignored, as upstream.
//!
//! TLS is rustls with the ring provider. The system trust store is loaded
//! only when the kubeconfig names no CA (that is the client library's rule);
//! a plain `http://` server needs no TLS at all. Requests time out after
//! [`REQUEST_TIMEOUT`] (upstream's one minute); the client's own retry of
//! 429/503/504 is switched off, because the callers implement upstream's
//! bounded retries (see [`crate::pod`]) and the thin plugin must not hang
//! for minutes when the API server is unhealthy.
//!
//! Building a client needs a tokio runtime (the client spawns its request
//! buffer task), so the functions are `async`.

use std::path::Path;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use multus_types::MultusConf;
use serde_json::json;

use crate::Error;
use crate::error::error_chain;

/// Upstream's client request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the in-cluster service account credentials are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The client for a multus config, or `None` when it names no kubeconfig and
/// the process does not run in a cluster.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let conf = multus_types::MultusConf::from_bytes(br#"{"name":"multus","type":"multus",
///     "kubeconfig":"/etc/cni/net.d/multus.d/multus.kubeconfig",
///     "delegates":[{"type":"flannel","name":"flannel.1"}]}"#)?;
/// let client = multus_k8s::client::client_for_conf(&conf).await?;
/// assert!(client.is_some());
/// # Ok(()) }
/// ```
pub async fn client_for_conf(conf: &MultusConf) -> Result<Option<Client>, Error> {
    if !conf.kubeconfig.is_empty() {
        return client_from_kubeconfig(Path::new(&conf.kubeconfig))
            .await
            .map(Some);
    }
    let host = std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default();
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default();
    if host.is_empty() || port.is_empty() {
        return Ok(None);
    }
    client_in_cluster(&host, &port, Path::new(SERVICE_ACCOUNT_DIR))
        .await
        .map(Some)
}

/// A client for the current context of the kubeconfig file at `path`.
/// Relative file references inside it are relative to the file's directory.
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client, Error> {
    let kubeconfig_error = |reason: String| Error::Kubeconfig {
        path: path.to_owned(),
        reason,
    };
    let kubeconfig =
        Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(describe_kubeconfig_error(&e)))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| kubeconfig_error(describe_kubeconfig_error(&e)))?;
    client_from_config(config)
}

/// A kubeconfig error without the file's contents.
///
/// The YAML parser's message quotes the lines around the fault (and serde's
/// messages quote unexpected values); in a kubeconfig those lines hold the
/// bearer token or key, and the message travels into the CNI error, the log
/// and the pod's events. So a parse error is reported by position only,
/// whatever file `kubeconfig` points at.
fn describe_kubeconfig_error(err: &KubeconfigError) -> String {
    match err {
        KubeconfigError::Parse(parse) => {
            let at = parse
                .location()
                .map(|at| format!(" at line {}, column {}", at.line(), at.column()))
                .unwrap_or_default();
            format!(
                "not a valid kubeconfig: YAML error{at} (the file's contents are not quoted, \
                 as they may hold credentials)"
            )
        }
        other => error_chain(other),
    }
}

/// The in-cluster client: `https://<host>:<port>` (IPv6 bracketed), the
/// service account token and CA from `service_account_dir` (`token`,
/// `ca.crt`). The token file is re-read when it rotates.
pub async fn client_in_cluster(
    host: &str,
    port: &str,
    service_account_dir: &Path,
) -> Result<Client, Error> {
    let in_cluster = |reason: String| Error::InCluster { reason };
    let port: u16 = port
        .parse()
        .map_err(|_| in_cluster(format!("KUBERNETES_SERVICE_PORT {port:?} is not a port")))?;
    let server = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("https://[{ip}]:{port}"),
        _ => format!("https://{host}:{port}"),
    };
    let token = service_account_dir.join("token");
    let ca = service_account_dir.join("ca.crt");
    for file in [&token, &ca] {
        if let Err(e) = std::fs::metadata(file) {
            return Err(in_cluster(format!("cannot read {}: {e}", file.display())));
        }
    }
    let kubeconfig: Kubeconfig = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": {
            "server": server,
            "certificate-authority": ca.to_string_lossy(),
        }}],
        "users": [{"name": "service-account", "user": {"tokenFile": token.to_string_lossy()}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "service-account"}}],
        "current-context": "in-cluster",
    }))
    .map_err(|e| in_cluster(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| in_cluster(error_chain(&e)))?;
    client_from_config(config)
}

/// Builds a client from a kube [`kube::Config`] after applying
/// [`apply_settings`].
pub fn client_from_config(mut config: kube::Config) -> Result<Client, Error> {
    apply_settings(&mut config);
    let server = config.cluster_url.to_string();
    Client::try_from(config).map_err(|e| Error::Client {
        server,
        reason: error_chain(&e),
    })
}

/// The settings every multus client uses: no automatic retries (callers
/// retry as upstream does) and upstream's one-minute request timeout (reads
/// and writes; the read timer restarts when a request is written, so a
/// pooled connection's idle time does not count).
///
/// When no server certificate will ever be verified (a plain `http://`
/// server, or `insecure-skip-tls-verify`) and the kubeconfig names no CA,
/// an empty CA list is set so that building the client does not load the
/// system trust store (several milliseconds, and an error on hosts that
/// have none).
pub fn apply_settings(config: &mut kube::Config) {
    config.default_retry = false;
    config.read_timeout = Some(REQUEST_TIMEOUT);
    config.write_timeout = Some(REQUEST_TIMEOUT);
    config.reset_reader_on_write = true;
    let plain_http = config.cluster_url.scheme_str() == Some("http");
    if config.root_cert.is_none()
        && config.root_cert_file.is_none()
        && (plain_http || config.accept_invalid_certs)
    {
        config.root_cert = Some(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_kubeconfig_names_the_file() {
        let e = client_from_kubeconfig(Path::new("/nonexistent/multus.kubeconfig"))
            .await
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(
            text.starts_with("failed to load kubeconfig /nonexistent/multus.kubeconfig: "),
            "{text}"
        );
    }

    /// A kubeconfig that does not parse: the error names the position, never the contents.
    #[tokio::test]
    async fn broken_kubeconfig_error_quotes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "s3cr3t-bearer-token-0123456789";
        let cases = [
            // Broken YAML right after the token.
            format!(
                "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {secret}\n  :: [\n"
            ),
            // Valid YAML of the wrong shape: serde quotes unexpected values.
            format!("apiVersion: v1\nusers: {secret}\n"),
            format!("apiVersion: v1\nusers:\n- name: u\n  user: {{token: [{secret}]}}\n"),
            // Not a kubeconfig at all (e.g. /etc/passwd).
            format!("root:x:0:0:root:/root:/bin/bash\n{secret}:x:1:1::/:/bin/sh\n"),
        ];
        for (i, text) in cases.iter().enumerate() {
            let path = dir.path().join(format!("k{i}"));
            std::fs::write(&path, text).unwrap();
            let e = client_from_kubeconfig(&path).await.err().unwrap();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(secret), "case {i} leaks: {shown}");
            assert!(!shown.contains("root:x"), "case {i} leaks: {shown}");
            assert!(
                shown.contains(&format!("failed to load kubeconfig {}", path.display())),
                "case {i}: {shown}"
            );
        }
    }

    #[tokio::test]
    async fn in_cluster_needs_the_service_account_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = client_in_cluster("10.96.0.1", "443", dir.path())
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("token"), "{e}");
        let e = client_in_cluster("10.96.0.1", "https", dir.path())
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("is not a port"), "{e}");
    }

    #[tokio::test]
    async fn in_cluster_client_builds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "abc").unwrap();
        std::fs::write(dir.path().join("ca.crt"), TEST_CA).unwrap();
        client_in_cluster("fd00::1", "6443", dir.path())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn no_kubeconfig_and_no_cluster_env_means_no_client() {
        // The test process does not run in a cluster.
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            return;
        }
        let conf = MultusConf::from_bytes(br#"{"delegates":[{"type":"x","name":"x"}]}"#).unwrap();
        assert!(client_for_conf(&conf).await.unwrap().is_none());
    }

    /// A self-signed CA (only parsed, never used to verify).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUFA7bJWX7OLt9pOnkUBFYmmUYMw0wCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdGNhMCAXDTI2MTEyODAxNTEwM1oYDzIxMjYxMTA0MDE1
MTAzWjARMQ8wDQYDVQQDDAZ0ZXN0Y2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAR8/WgDLnu4bJ/vulgIFOO5mtypsxOcJ2I89YfmPGtWuRy3FatAN69TF30W4E4h
hTJVwUTjwWdijtzV4tkThvfyo1MwUTAdBgNVHQ4EFgQUFb5xIiheqaXajmJjf6yD
jXq3gHwwHwYDVR0jBBgwFoAUFb5xIiheqaXajmJjf6yDjXq3gHwwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA1Vhg4A59Mg3aBWShxrtBOUShiWqS
YsT+y7wlZJmYM7MCIQC+W9nj5VAuQSuFXuAxQukfea3/Ld/ZYTefcx1AFf/+cA==
-----END CERTIFICATE-----
";
}
