//! The socket API: HTTP/1.1 over the unix socket, one request per
//! connection (keep-alive off, as upstream), routed to `/cni`, `/delegate`,
//! `/healthz` and `/readyz`. The handlers only adapt a request into the
//! pipeline the thin plugin runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::TokioIo;
use multus_types::{CniVersion, MultusConf};
use tokio::net::UnixListener;
use tokio::sync::{Notify, Semaphore, watch};

use super::config::DaemonConfig;
use super::metrics::Metrics;
use super::request::{self, Request, RequestError};
use crate::pipeline::{self, DelegateRequest, Options};
use crate::skel::Command;
use crate::{error, verbose};

/// The largest request body accepted (a shim sends one CNI config).
const MAX_BODY: usize = 16 << 20;

/// What every request handler shares.
pub(super) struct State {
    pub(super) config: DaemonConfig,
    /// Multus settings of `/delegate` (`binDir`, `cniDir`, `kubeconfig`):
    /// upstream's defaults under the daemon config's keys.
    pub(super) settings: MultusConf,
    pub(super) options: Options,
    pub(super) metrics: Arc<Metrics>,
    /// `/readyz` answers 200 while set; cleared at SIGTERM/SIGINT.
    pub(super) ready: AtomicBool,
    pub(super) in_flight: InFlight,
}

/// Counts the CNI requests being processed, so shutdown can wait for them.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// One request being processed.
pub(super) struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self)
    }

    /// Returns once no request is being processed.
    pub(super) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Accepts connections until `stop` turns true, each served on its own
/// task; with `connectionLimit`, at most that many at once.
pub(super) async fn accept_loop(
    listener: UnixListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let limit = state
        .config
        .connection_limit
        .map(|n| Arc::new(Semaphore::new(n)));
    loop {
        let permit = match &limit {
            Some(sem) => tokio::select! {
                p = Arc::clone(sem).acquire_owned() => match p {
                    Ok(p) => Some(p),
                    Err(_) => return,
                },
                () = stopped(&mut stop) => return,
            },
            None => None,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    error!("accept on the socket failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(state.handle(req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                verbose!("connection on the socket ended: {e}");
            }
        });
    }
}

/// Completes when `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow guard is dropped here, never held across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp
}

/// Go's `http.Error`: the text and a newline, as plain text.
fn text_error(status: StatusCode, text: &str) -> Reply {
    let mut resp = reply(status, format!("{text}\n"));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut resp = reply(status, body);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Why a `/cni` or `/delegate` request failed, and how it is answered.
enum Failure {
    /// A CNI error object: 400 with the object as JSON.
    Cni(multus_types::CniError),
    /// Anything else: 400 with the text.
    Text(String),
}

impl From<RequestError> for Failure {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Cni(e) => Self::Cni(e),
            other => Self::Text(other.to_string()),
        }
    }
}

impl State {
    async fn handle(&self, req: HttpRequest<Incoming>) -> Reply {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        // The counter's handler label: the endpoint, or `NotFound`.
        let handler = match path.as_str() {
            "/cni" => "/cni",
            "/delegate" => "/delegate",
            "/healthz" => "/healthz",
            "/readyz" => "/readyz",
            _ => "NotFound",
        };
        let allowed = match handler {
            "/cni" | "/delegate" => method == Method::POST,
            "/healthz" | "/readyz" => method == Method::GET || method == Method::POST,
            _ => true,
        };
        let resp = if !allowed {
            text_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        } else {
            match handler {
                "/cni" => self.cni_endpoint(req, false).await,
                "/delegate" => self.cni_endpoint(req, true).await,
                "/healthz" => reply(StatusCode::OK, ""),
                "/readyz" if self.ready.load(Ordering::SeqCst) => reply(StatusCode::OK, ""),
                "/readyz" => reply(StatusCode::INTERNAL_SERVER_ERROR, ""),
                _ => {
                    verbose!("http not found: {method} {path}");
                    reply(StatusCode::NOT_FOUND, "")
                }
            }
        };
        self.metrics.count(handler, resp.status(), &method);
        resp
    }

    /// `/cni` (`delegate == false`) or `/delegate`.
    async fn cni_endpoint(&self, req: HttpRequest<Incoming>, delegate: bool) -> Reply {
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return text_error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let outcome = async {
            let request: Request = serde_json::from_slice(&body)
                .map_err(|e| Failure::Text(RequestError::Body(e.to_string()).to_string()))?;
            let adapted = request::adapt(&request, |b| self.config.overlay_onto(b))?;
            let _guard = self.in_flight.enter();
            if delegate {
                self.delegate(&request, adapted).await
            } else {
                self.cni(adapted).await
            }
        }
        .await;
        match outcome {
            Ok(body) if body.is_empty() => reply(StatusCode::OK, ""),
            Ok(body) => json(StatusCode::OK, body),
            Err(Failure::Cni(e)) => {
                error!("{}", e.msg);
                json(
                    StatusCode::BAD_REQUEST,
                    serde_json::to_vec(&e).unwrap_or_default(),
                )
            }
            Err(Failure::Text(text)) => {
                error!("{text}");
                text_error(StatusCode::BAD_REQUEST, &text)
            }
        }
    }

    /// A pod operation: the pipeline, exactly as the thin plugin runs it.
    async fn cni(&self, adapted: request::Adapted) -> Result<Vec<u8>, Failure> {
        let args = &adapted.args;
        verbose!(
            "{} for [{}/{}] ({})",
            args.command,
            adapted.pod_namespace,
            adapted.pod_name,
            request::describe(args)
        );
        let errored = |e: crate::Error, wrap: bool| {
            let e = if wrap {
                format!(
                    "error configuring pod [{}/{}] networking: {e}",
                    adapted.pod_namespace, adapted.pod_name
                )
            } else {
                e.to_string()
            };
            Failure::Text(format!("{} ERRORED: {e}", request::describe(args)))
        };
        if args.command == Command::Add {
            let result = pipeline::add_result(args, &self.options)
                .await
                .map_err(|e| errored(e, true))?;
            return add_response(&result).map_err(|e| errored(e, false));
        }
        pipeline::run_with(args, &self.options)
            .await
            .map_err(|e| errored(e, false))?;
        Ok(Vec::new())
    }

    /// A hot-plug operation on one delegate of a running pod.
    async fn delegate(
        &self,
        request: &Request,
        adapted: request::Adapted,
    ) -> Result<Vec<u8>, Failure> {
        let attributes = request.interface_attributes.clone().unwrap_or_default();
        let label = request::describe(&adapted.args);
        let command = adapted.args.command;
        verbose!(
            "delegate {command} for [{}/{}] ({label})",
            adapted.pod_namespace,
            adapted.pod_name
        );
        let req = DelegateRequest {
            args: adapted.args,
            mac: attributes.mac,
            ips: attributes.ips,
            cni_args: attributes.cni_args,
        };
        let errored = |e: crate::Error| {
            let e = if command == Command::Add {
                format!(
                    "error configuring pod [{}/{}] networking: {e}",
                    adapted.pod_namespace, adapted.pod_name
                )
            } else {
                e.to_string()
            };
            Failure::Text(format!("{label} ERRORED: {e}"))
        };
        match command {
            Command::Add => {
                let result = pipeline::delegate_add(&req, &self.settings, &self.options)
                    .await
                    .map_err(errored)?;
                add_response(&result).map_err(errored)
            }
            Command::Del => {
                pipeline::delegate_del(&req, &self.settings, &self.options)
                    .await
                    .map_err(errored)?;
                Ok(Vec::new())
            }
            Command::Check => {
                pipeline::delegate_check(&req, &self.settings, &self.options)
                    .await
                    .map_err(errored)?;
                Ok(Vec::new())
            }
            other => Err(Failure::Text(format!(
                "{label} ERRORED: unsupported command {other} for /delegate"
            ))),
        }
    }
}

/// `{"Result": <the result as CNI 1.1.0>}`: the shim converts it to the
/// version its runtime asked for.
fn add_response(result: &multus_types::CniResult) -> Result<Vec<u8>, crate::Error> {
    let latest = result.convert_to(CniVersion::V1_1_0)?;
    let body = serde_json::json!({ "Result": latest.to_value()? });
    serde_json::to_vec(&body).map_err(|e| multus_types::Error::Result(e.to_string()).into())
}
