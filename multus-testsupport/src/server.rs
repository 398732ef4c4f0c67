//! The HTTP side: accept loop with down/up switching, routing, and the `/_control/` endpoints.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::faults::{Fault, Faults, POD_STATUS_PATH, RequestRecord};
use crate::manifest::parse_manifests;
use crate::patch::PatchKind;
use crate::resources::{ApiError, CORE_EVENT_TYPE, EVENT_TYPE, TYPES, TypeId, by_kind, by_plural};
use crate::selector::Selector;
use crate::store::{Part, Store};
use crate::watches::{self, ChannelBody, WatchRequest};

/// The body of every answer: a whole JSON document, or a watch's stream of events.
pub(crate) type ReplyBody = BoxBody<Bytes, Infallible>;

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the handle asks of the accept loop.
#[derive(Debug, Clone, Default)]
pub(crate) struct Control {
    /// Refuse connections (listener closed, open connections dropped).
    pub down: bool,
    /// Stop serving for good.
    pub shutdown: bool,
    /// Bumped on every change, acknowledged through [`Ack`].
    pub generation: u64,
}

/// The accept loop's acknowledgement of a [`Control`] generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ack {
    /// The generation now in force.
    pub generation: u64,
    /// Why coming back up failed, if it did.
    pub error: Option<String>,
}

/// The request log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    next_id: u64,
    pub records: Vec<RequestRecord>,
}

/// State shared by the handle and the server tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<Log>,
    pub control: watch::Sender<Control>,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Log::default()),
            control: watch::Sender::new(Control::default()),
        }
    }

    /// Changes the down switch; returns the generation to wait for.
    pub fn set_down(&self, down: bool) -> u64 {
        let mut generation = 0;
        self.control.send_modify(|c| {
            c.down = down;
            c.generation += 1;
            generation = c.generation;
        });
        generation
    }

    /// Inserts (or replaces) a fixture object of any served kind.
    pub fn insert(&self, obj: Value) -> Result<Value, crate::Error> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let t = by_kind(api_version, kind).ok_or_else(|| crate::Error::Unsupported {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })?;
        lock(&self.store)
            .upsert(t, obj)
            .map_err(|e| crate::Error::Rejected(e.message))
    }

    /// Events of both APIs in the order they were created.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.store).items_by_creation(&[CORE_EVENT_TYPE, EVENT_TYPE])
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Coming back up after "down" binds the same port again while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept(listener: &Option<TcpListener>) -> io::Result<TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

/// The accept loop; runs on the server thread's runtime until shutdown.
pub(crate) async fn serve(
    listen: SocketAddr,
    shared: Arc<Shared>,
    ready: oneshot::Sender<io::Result<SocketAddr>>,
    ack: watch::Sender<Ack>,
) {
    let mut control = shared.control.subscribe();
    let first = match bind(listen) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let addr = match first.local_addr() {
        Ok(a) => a,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(addr)).is_err() {
        return;
    }
    let mut listener = Some(first);
    let mut conns = JoinSet::new();
    loop {
        let state = control.borrow_and_update().clone();
        if state.shutdown {
            break;
        }
        let mut error = None;
        if state.down {
            listener = None;
            conns.abort_all();
            while conns.join_next().await.is_some() {}
        } else if listener.is_none() {
            match bind(addr) {
                Ok(l) => listener = Some(l),
                Err(e) => error = Some(format!("cannot listen on {addr} again: {e}")),
            }
        }
        ack.send_replace(Ack {
            generation: state.generation,
            error,
        });
        loop {
            tokio::select! {
                _ = control.changed() => break,
                accepted = accept(&listener) => match accepted {
                    Ok(stream) => {
                        conns.spawn(serve_connection(stream, shared.clone()));
                    }
                    // Out of file descriptors and the like: do not spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// An answer: status, body, content type.
struct Reply {
    status: u16,
    body: Bytes,
    content_type: &'static str,
    /// `Retry-After` seconds, as the API server sends with 429.
    retry_after: Option<u64>,
    /// A watch: the body is this stream instead of `body`.
    stream: Option<ChannelBody>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Self {
        Reply {
            status,
            body: Bytes::from(value.to_string()),
            content_type: "application/json",
            retry_after: None,
            stream: None,
        }
    }

    fn watch(stream: ChannelBody) -> Self {
        Reply {
            status: 200,
            body: Bytes::new(),
            content_type: "application/json",
            retry_after: None,
            stream: Some(stream),
        }
    }

    fn error(e: &ApiError) -> Self {
        let mut reply = Self::json(e.code, &e.to_status());
        reply.retry_after = e
            .details
            .as_ref()
            .and_then(|d| d.get("retryAfterSeconds"))
            .and_then(Value::as_u64);
        reply
    }

    fn text(status: u16, text: &'static str) -> Self {
        Reply {
            status,
            body: Bytes::from_static(text.as_bytes()),
            content_type: "text/plain; charset=utf-8",
            retry_after: None,
            stream: None,
        }
    }

    fn into_response(self) -> Response<ReplyBody> {
        let body = match self.stream {
            Some(stream) => stream.boxed(),
            None => Full::new(self.body).boxed(),
        };
        let mut resp = Response::new(body);
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// A parsed request.
struct Req {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Bytes,
}

impl Req {
    fn param(&self, key: &str) -> Option<String> {
        query_param(&self.query, key)
    }

    /// The body as JSON, or YAML when the content type says so.
    fn body_value(&self) -> Result<Value, ApiError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(v) => Ok(v),
            Err(_) if self.content_type.contains("yaml") => {
                let text = String::from_utf8_lossy(&self.body);
                crate::manifest::parse_yaml(&text).map_err(|e| {
                    ApiError::bad_request(format!("the request body is not valid YAML: {e}"))
                })
            }
            Err(json_err) => Err(ApiError::bad_request(format!(
                "the request body is not valid JSON: {json_err}"
            ))),
        }
    }
}

/// Decodes a query component (`+` is a space there).
fn percent_decode(s: &str) -> String {
    decode(s, true)
}

/// Decodes a path segment (`+` is itself there).
fn percent_decode_segment(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of a query parameter, percent-decoded.
fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<ReplyBody> {
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(CONTENT_TYPE);
    let authorization = header(AUTHORIZATION);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Reply::error(&ApiError::bad_request(format!(
                "cannot read the request body: {e}"
            )))
            .into_response();
        }
    };
    let req = Req {
        method,
        path,
        query,
        content_type: content_type.clone().unwrap_or_default(),
        body,
    };
    if let Some(what) = req.path.strip_prefix("/_control/") {
        return control(&shared, what, &req).into_response();
    }

    let id = {
        let mut log = lock(&shared.log);
        let id = log.next_id;
        log.next_id += 1;
        log.records.push(RequestRecord {
            id,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            content_type,
            authorization,
            body: String::from_utf8_lossy(&req.body).into_owned(),
            status: None,
            injected: false,
        });
        id
    };
    let delay = lock(&shared.faults).delay(&req.path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let injected = lock(&shared.faults).take(&req.method, &req.path);
    let reply = match injected {
        Some(code) => {
            let target = match route(&req.path) {
                Ok(Route::Object { t, name, .. }) => Some((TYPES[t], name)),
                _ => None,
            };
            let target = target.as_ref().map(|(t, n)| (*t, n.as_str()));
            Reply::error(&ApiError::injected(code, target))
        }
        None => dispatch(&shared, &req),
    };
    {
        let mut log = lock(&shared.log);
        if let Some(r) = log.records.iter_mut().rev().find(|r| r.id == id) {
            r.status = Some(reply.status);
            r.injected = injected.is_some();
        }
    }
    reply.into_response()
}

/// Where a URL points.
#[derive(Debug, PartialEq)]
enum Route {
    Version,
    Health,
    ApiVersions,
    GroupList,
    ResourceList(String, String),
    /// A collection; `ns` is `None` for all namespaces or a cluster-scoped type.
    Collection {
        t: TypeId,
        ns: Option<String>,
    },
    Object {
        t: TypeId,
        ns: String,
        name: String,
        part: Part,
    },
}

fn route(path: &str) -> Result<Route, ApiError> {
    // Segments are decoded one by one, as the API server does: `%3F` is part of a name, while a
    // raw `?` never reaches the path.
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode_segment)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz" | "readyz" | "livez"] => Ok(Route::Health),
        ["api"] => Ok(Route::ApiVersions),
        ["apis"] => Ok(Route::GroupList),
        ["api", v] => Ok(Route::ResourceList(String::new(), v.to_string())),
        ["apis", g, v] => Ok(Route::ResourceList(g.to_string(), v.to_string())),
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Err(ApiError::no_route()),
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Result<Route, ApiError> {
    let namespaced =
        |plural: &str| by_plural(group, version, plural).filter(|t| TYPES[*t].namespaced);
    if let ["namespaces", ns, plural, tail @ ..] = rest
        && let Some(t) = namespaced(plural)
    {
        let (ns, rt) = (ns.to_string(), TYPES[t]);
        return match tail {
            [] => Ok(Route::Collection { t, ns: Some(ns) }),
            [name] => Ok(Route::Object {
                t,
                ns,
                name: name.to_string(),
                part: Part::Main,
            }),
            [name, "status"] if rt.status_subresource => Ok(Route::Object {
                t,
                ns,
                name: name.to_string(),
                part: Part::Status,
            }),
            _ => Err(ApiError::no_route()),
        };
    }
    let [plural, tail @ ..] = rest else {
        return Err(ApiError::no_route());
    };
    let t = by_plural(group, version, plural).ok_or_else(ApiError::no_route)?;
    let rt = TYPES[t];
    match tail {
        [] => Ok(Route::Collection { t, ns: None }),
        [name] if !rt.namespaced => Ok(Route::Object {
            t,
            ns: String::new(),
            name: name.to_string(),
            part: Part::Main,
        }),
        [name, "status"] if !rt.namespaced && rt.status_subresource => Ok(Route::Object {
            t,
            ns: String::new(),
            name: name.to_string(),
            part: Part::Status,
        }),
        _ => Err(ApiError::no_route()),
    }
}

fn dispatch(shared: &Arc<Shared>, req: &Req) -> Reply {
    match route(&req.path) {
        Ok(route) => match serve_route(shared, req, route) {
            Ok(reply) => reply,
            Err(e) => Reply::error(&e),
        },
        Err(e) => Reply::error(&e),
    }
}

fn is_dry_run(req: &Req) -> bool {
    req.param("dryRun").is_some_and(|v| !v.is_empty())
}

/// Runs a write on the store, or on a scratch copy for `dryRun`.
fn write<T>(shared: &Shared, req: &Req, f: impl FnOnce(&mut Store) -> T) -> T {
    let mut store = lock(&shared.store);
    if is_dry_run(req) {
        let mut scratch = store.clone();
        f(&mut scratch)
    } else {
        f(&mut store)
    }
}

fn serve_route(shared: &Arc<Shared>, req: &Req, route: Route) -> Result<Reply, ApiError> {
    let method = req.method.as_str();
    match route {
        Route::Version if method == "GET" => Ok(Reply::json(200, &version())),
        Route::Health if method == "GET" => Ok(Reply::text(200, "ok")),
        Route::ApiVersions if method == "GET" => Ok(Reply::json(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        )),
        Route::GroupList if method == "GET" => Ok(Reply::json(200, &group_list())),
        Route::ResourceList(g, v) if method == "GET" => resource_list(&g, &v)
            .map(|l| Reply::json(200, &l))
            .ok_or_else(ApiError::no_route),
        Route::Collection { t, ns } => {
            let rt = TYPES[t];
            match method {
                "GET" => {
                    let labels = Selector::parse(&req.param("labelSelector").unwrap_or_default())
                        .map_err(ApiError::bad_request)?;
                    let fields = Selector::parse(&req.param("fieldSelector").unwrap_or_default())
                        .map_err(ApiError::bad_request)?;
                    if let Some(bad) = fields
                        .keys()
                        .find(|k| !rt.field_labels.is_empty() && !rt.field_labels.contains(k))
                    {
                        return Err(ApiError::bad_request(format!(
                            "field label not supported: {bad}"
                        )));
                    }
                    if req.param("watch").is_some_and(|w| w == "true" || w == "1") {
                        let watch = WatchRequest::new(t, ns, labels, fields, |k| req.param(k))?;
                        return Ok(Reply::watch(watches::start(shared.clone(), watch)));
                    }
                    let list = lock(&shared.store).list(t, ns.as_deref(), &labels, &fields);
                    Ok(Reply::json(200, &list))
                }
                "POST" => {
                    let ns = match (rt.namespaced, ns) {
                        (true, Some(ns)) => ns,
                        (false, None) => String::new(),
                        _ => {
                            return Err(ApiError::method_not_allowed(format!(
                                "create {} in a namespace URL",
                                rt.qualified()
                            )));
                        }
                    };
                    let body = req.body_value()?;
                    let created = write(shared, req, |s| s.create(t, &ns, body, true))?;
                    Ok(Reply::json(201, &created))
                }
                _ => Err(ApiError::method_not_allowed(format!(
                    "{method} is not supported on the {} collection",
                    rt.qualified()
                ))),
            }
        }
        Route::Object { t, ns, name, part } => match method {
            "GET" => Ok(Reply::json(200, &lock(&shared.store).get(t, &ns, &name)?)),
            "PUT" => {
                let body = req.body_value()?;
                let out = write(shared, req, |s| s.replace(t, &ns, &name, body, part))?;
                Ok(Reply::json(200, &out))
            }
            "PATCH" => {
                let kind = PatchKind::from_content_type(&req.content_type)
                    .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type))?;
                let patch = req.body_value()?;
                let existed = lock(&shared.store).get(t, &ns, &name).is_ok();
                let out = write(shared, req, |s| s.patch(t, &ns, &name, kind, &patch, part))?;
                Ok(Reply::json(if existed { 200 } else { 201 }, &out))
            }
            "DELETE" if part == Part::Main => {
                let options = if req.body.is_empty() {
                    None
                } else {
                    Some(req.body_value()?)
                };
                let out = write(shared, req, |s| s.delete(t, &ns, &name, options.as_ref()))?;
                Ok(Reply::json(200, &out))
            }
            _ => Err(ApiError::method_not_allowed(format!(
                "{method} is not supported on {}",
                req.path
            ))),
        },
        _ => Err(ApiError::method_not_allowed(format!(
            "{method} is not supported on {}",
            req.path
        ))),
    }
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0-stand-in",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn group_list() -> Value {
    let mut groups: Vec<Value> = Vec::new();
    for rt in TYPES.iter().filter(|t| !t.group.is_empty()) {
        if groups.iter().any(|g| g["name"] == rt.group) {
            continue;
        }
        let gv = json!({ "groupVersion": rt.api_version(), "version": rt.version });
        groups.push(json!({
            "name": rt.group,
            "versions": [gv.clone()],
            "preferredVersion": gv,
        }));
    }
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in TYPES
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        resources.push(json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update"],
            "shortNames": rt.short_names,
        }));
        if rt.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// `/_control/...`: fault switches and state for tests that run the server as a process.
fn control(shared: &Arc<Shared>, what: &str, req: &Req) -> Reply {
    let ok = || Reply::json(200, &json!({ "ok": true }));
    let bad = |m: String| Reply::error(&ApiError::bad_request(m));
    let number = |key: &str, default: u64| -> Result<u64, String> {
        match req.param(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("query parameter {key}={v:?} is not a number")),
        }
    };
    match (req.method.as_str(), what) {
        ("GET", "requests") => {
            let records = lock(&shared.log).records.clone();
            Reply::json(200, &json!(records))
        }
        ("DELETE", "requests") => {
            lock(&shared.log).records.clear();
            ok()
        }
        ("GET", "events") => Reply::json(200, &Value::Array(shared.events())),
        ("GET", "state") => Reply::json(200, &lock(&shared.store).dump()),
        ("POST", "faults") => match serde_json::from_slice::<Fault>(&req.body) {
            Ok(f) => {
                lock(&shared.faults).rules.push(f);
                ok()
            }
            Err(e) => bad(format!("not a fault: {e}")),
        },
        ("POST", "conflicts") => match number("times", 1) {
            Ok(times) => {
                lock(&shared.faults).rules.push(
                    Fault::new(409, times as usize)
                        .method("PUT")
                        .method("PATCH")
                        .path(POD_STATUS_PATH),
                );
                ok()
            }
            Err(e) => bad(e),
        },
        ("POST", "errors") => match (number("times", 1), number("code", 503)) {
            (Ok(times), Ok(code)) => {
                let mut f = Fault::new(code as u16, times as usize);
                if let Some(p) = req.param("path") {
                    f = f.path(&p);
                }
                if let Some(m) = req.param("method") {
                    f = f.method(&m);
                }
                lock(&shared.faults).rules.push(f);
                ok()
            }
            (Err(e), _) | (_, Err(e)) => bad(e),
        },
        ("POST", "delay") => match number("ms", 0) {
            Ok(ms) => {
                let pattern = req.param("path").unwrap_or_else(|| "/".to_string());
                lock(&shared.faults).set_delay(&pattern, Duration::from_millis(ms));
                ok()
            }
            Err(e) => bad(e),
        },
        ("POST", "down") => match number("ms", 1000) {
            Ok(ms) => {
                let shared = shared.clone();
                // Answer first; the switch closes this connection too.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    shared.set_down(true);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    shared.set_down(false);
                });
                ok()
            }
            Err(e) => bad(e),
        },
        ("POST", "compact") => {
            lock(&shared.store).compact();
            ok()
        }
        ("POST", "reset") => {
            let mut faults = lock(&shared.faults);
            faults.rules.clear();
            faults.delays.clear();
            ok()
        }
        ("POST", "load") => {
            let text = String::from_utf8_lossy(&req.body);
            let objs = match parse_manifests(&text, "request body") {
                Ok(o) => o,
                Err(e) => return bad(e.to_string()),
            };
            let mut loaded = Vec::new();
            for obj in objs {
                match shared.insert(obj) {
                    Ok(o) => loaded.push(o),
                    Err(e) => return bad(e.to_string()),
                }
            }
            Reply::json(200, &Value::Array(loaded))
        }
        _ => Reply::error(&ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{NAD_TYPE, NAMESPACE_TYPE, POD_TYPE};

    #[test]
    fn routes() {
        let pod = |ns: &str, name: &str, part| Route::Object {
            t: POD_TYPE,
            ns: ns.into(),
            name: name.into(),
            part,
        };
        assert_eq!(
            route("/api/v1/namespaces/default/pods/p"),
            Ok(pod("default", "p", Part::Main))
        );
        assert_eq!(
            route("/api/v1/namespaces/default/pods/p/status"),
            Ok(pod("default", "p", Part::Status))
        );
        assert_eq!(
            route("/api/v1/pods"),
            Ok(Route::Collection {
                t: POD_TYPE,
                ns: None
            })
        );
        assert_eq!(
            route("/apis/k8s.cni.cncf.io/v1/namespaces/testns1/network-attachment-definitions"),
            Ok(Route::Collection {
                t: NAD_TYPE,
                ns: Some("testns1".into())
            })
        );
        assert_eq!(
            route("/api/v1/namespaces/testns1"),
            Ok(Route::Object {
                t: NAMESPACE_TYPE,
                ns: String::new(),
                name: "testns1".into(),
                part: Part::Main
            })
        );
        assert_eq!(
            route("/api/v1/namespaces"),
            Ok(Route::Collection {
                t: NAMESPACE_TYPE,
                ns: None
            })
        );
        assert!(route("/api/v1/namespaces/default/secrets/s").is_err());
        assert!(route("/api/v1/namespaces/default/pods/p/log").is_err());
        assert!(
            route("/apis/k8s.cni.cncf.io/v1/namespaces/a/network-attachment-definitions/b/status")
                .is_err()
        );
        assert!(route("/api/v1/pods/p").is_err());
        assert_eq!(route("/version"), Ok(Route::Version));
    }

    #[test]
    fn query_params() {
        let q = "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=true&empty";
        assert_eq!(
            query_param(q, "labelSelector").as_deref(),
            Some("app=web,tier in (a)")
        );
        assert_eq!(query_param(q, "watch").as_deref(), Some("true"));
        assert_eq!(query_param(q, "empty").as_deref(), Some(""));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn discovery_lists_the_served_types() {
        let core = resource_list("", "v1").unwrap_or_default();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            names.contains(&"pods") && names.contains(&"pods/status") && names.contains(&"events")
        );
        assert!(resource_list("k8s.cni.cncf.io", "v1").is_some());
        assert!(resource_list("apps", "v1").is_none());
        let dra = resource_list("resource.k8s.io", "v1").unwrap_or_default();
        let names: Vec<&str> = dra["resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            names,
            [
                "resourceclaims",
                "resourceclaims/status",
                "resourceslices",
                "deviceclasses"
            ]
        );
        assert_eq!(group_list()["groups"].as_array().map(Vec::len), Some(3));
    }
}
