//! Prometheus metrics: `multus_server_request_total{handler,code,method}`,
//! counted for every request on the socket, served as text on
//! `:<metricsPort>/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::{error, verbose};

/// The labels of the request counter, as Go's `promhttp` sets them.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    handler: String,
    code: String,
    method: String,
}

/// The daemon's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding the request counter.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // prometheus-client adds the `_total` suffix of counters.
        registry.register(
            "multus_server_request",
            "Counter of HTTP requests",
            requests.clone(),
        );
        Self { registry, requests }
    }

    /// Counts one answered request: `handler` is the endpoint path (or
    /// `NotFound`), `code` the status, `method` lower case as promhttp writes it.
    pub fn count(&self, handler: &str, code: StatusCode, method: &Method) {
        self.requests
            .get_or_create(&RequestLabels {
                handler: handler.to_owned(),
                code: code.as_u16().to_string(),
                method: promhttp_method(method),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            error!("encoding metrics: {e}");
        }
        out
    }
}

/// promhttp's method label: the standard methods in lower case, anything else `unknown`.
fn promhttp_method(method: &Method) -> String {
    match *method {
        Method::GET
        | Method::PUT
        | Method::HEAD
        | Method::POST
        | Method::DELETE
        | Method::CONNECT
        | Method::OPTIONS
        | Method::PATCH
        | Method::TRACE => method.as_str().to_ascii_lowercase(),
        _ => "unknown".to_owned(),
    }
}

/// Binds the metrics port on every address, as upstream (`:<port>`): IPv6
/// wildcard (dual stack) when the host has IPv6, else IPv4.
///
/// # Errors
/// The bind error.
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
        Ok(l) => Ok(l),
        Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port))).await,
    }
}

/// Binds `:<port>` (retrying every second, errors logged, as upstream's
/// daemon keeps trying) and serves the metrics until the task is dropped.
pub async fn run(port: u16, metrics: Arc<Metrics>) {
    loop {
        match bind(port).await {
            Ok(listener) => return serve(listener, metrics).await,
            Err(e) => {
                error!("metrics: cannot listen on :{port}: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serves `GET /metrics` (anything else: 404) until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    if let Ok(addr) = listener.local_addr() {
        verbose!("metrics on http://{addr}/metrics");
    }
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                error!("metrics: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let metrics = Arc::clone(&metrics);
                async move { Ok::<_, std::convert::Infallible>(answer(&req, &metrics)) }
            });
            // Like upstream's ReadHeaderTimeout: a client that never sends is dropped.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
}

fn answer(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, body) = if req.uri().path() == "/metrics" {
        (StatusCode::OK, metrics.encode())
    } else {
        (StatusCode::NOT_FOUND, String::new())
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if status == StatusCode::OK {
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
        );
    }
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counter_text() {
        let m = Metrics::new();
        m.count("/cni", StatusCode::OK, &Method::POST);
        m.count("/cni", StatusCode::OK, &Method::POST);
        m.count("NotFound", StatusCode::NOT_FOUND, &Method::GET);
        let text = m.encode();
        assert!(
            text.contains(
                r#"multus_server_request_total{handler="/cni",code="200",method="post"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"multus_server_request_total{handler="NotFound",code="404",method="get"} 1"#
            ),
            "{text}"
        );
    }
}
