//! Fault injection (error answers, delays) and the request log.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether `path` matches `pattern`.
///
/// Patterns are URL paths compared segment by segment; `*` inside a segment matches any run of
/// characters within that segment. A pattern matches every path it is a segment-wise prefix of
/// (`/api/v1/namespaces/default` matches every URL of that namespace), unless it ends with `$`,
/// which anchors it to the whole path. `/` and the empty pattern match every path.
///
/// ```
/// use multus_testsupport::path_matches;
/// assert!(path_matches("/api/v1/namespaces/*/pods/*/status", "/api/v1/namespaces/default/pods/p/status"));
/// assert!(path_matches("/api/v1/namespaces/*/pods", "/api/v1/namespaces/default/pods/p/status"));
/// assert!(!path_matches("/api/v1/namespaces/*/pods/*$", "/api/v1/namespaces/default/pods/p/status"));
/// assert!(path_matches("/apis/k8s.cni.cncf.io", "/apis/k8s.cni.cncf.io/v1/namespaces/a/network-attachment-definitions/b"));
/// assert!(!path_matches("/api/v1/namespaces/def", "/api/v1/namespaces/default"));
/// ```
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if pat.len() > segs.len() || (anchored && pat.len() != segs.len()) {
        return false;
    }
    pat.iter().zip(&segs).all(|(p, s)| glob(p, s))
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = (parts[0], &parts[1..]);
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some((last, middle)) => (*last, middle),
        None => return true,
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// An injected error: the next `times` requests that match get the `Status` error for `code`
/// instead of being served.
///
/// The answer is worded as the real API server words it: 409 is the optimistic-concurrency
/// `Conflict` naming the object of the URL, 500 `InternalError`, 503 `ServiceUnavailable`, 429
/// `TooManyRequests` (with `retryAfterSeconds: 1`), 504 `Timeout`, 404 `NotFound`.
///
/// ```
/// use multus_testsupport::Fault;
/// // Two 503s on any PUT to a pod's status.
/// let fault = Fault::new(503, 2).method("PUT").path("/api/v1/namespaces/*/pods/*/status");
/// assert_eq!(fault.times, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// HTTP methods the fault applies to (upper case); empty means every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path pattern, as for [`path_matches`]; `/` matches every path.
    #[serde(default = "root")]
    pub path: String,
    /// How many matching requests still fail.
    pub times: usize,
    /// HTTP status code of the answer.
    pub code: u16,
}

fn root() -> String {
    "/".to_string()
}

impl Fault {
    /// A fault answering `code` to the next `times` requests, whatever their method and path.
    pub fn new(code: u16, times: usize) -> Self {
        Fault {
            methods: Vec::new(),
            path: root(),
            times,
            code,
        }
    }

    /// Restricts the fault to a method (call again to add more methods).
    pub fn method(mut self, method: &str) -> Self {
        self.methods.push(method.to_ascii_uppercase());
        self
    }

    /// Restricts the fault to paths matching `pattern` (see [`path_matches`]).
    pub fn path(mut self, pattern: &str) -> Self {
        self.path = pattern.to_string();
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && path_matches(&self.path, path)
    }
}

/// The pattern of a pod's status subresource, in every namespace.
pub(crate) const POD_STATUS_PATH: &str = "/api/v1/namespaces/*/pods/*/status$";

/// Fault injection state.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub rules: Vec<Fault>,
    pub delays: Vec<(String, Duration)>,
}

impl Faults {
    /// Takes one use of the first fault that matches and answers its code.
    pub fn take(&mut self, method: &str, path: &str) -> Option<u16> {
        let rule = self.rules.iter_mut().find(|f| f.matches(method, path))?;
        rule.times -= 1;
        let code = rule.code;
        self.rules.retain(|f| f.times > 0);
        Some(code)
    }

    /// The delay before answering: the sum of every delay whose pattern matches.
    pub fn delay(&self, path: &str) -> Duration {
        self.delays
            .iter()
            .filter(|(p, _)| path_matches(p, path))
            .map(|(_, d)| *d)
            .sum()
    }

    /// Sets (or, with zero, removes) the delay for a pattern.
    pub fn set_delay(&mut self, pattern: &str, delay: Duration) {
        self.delays.retain(|(p, _)| p != pattern);
        if !delay.is_zero() {
            self.delays.push((pattern.to_string(), delay));
        }
    }
}

/// One request the stand-in API server received (control requests under `/_control/` are not
/// logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Position in the log since the server started (kept across [`crate::ApiServer::clear_requests`]).
    pub id: u64,
    /// HTTP method, upper case.
    pub method: String,
    /// URL path, without the query.
    pub path: String,
    /// Raw query string, empty when there was none.
    pub query: String,
    /// `Content-Type` of the request, if any.
    pub content_type: Option<String>,
    /// `Authorization` header, if any (the stand-in accepts every credential).
    pub authorization: Option<String>,
    /// Request body, as text (lossy UTF-8).
    pub body: String,
    /// HTTP status answered; `None` while the request is being served or when the client went
    /// away before the answer (for example after a client-side timeout during an injected delay).
    pub status: Option<u16>,
    /// Whether the answer was an injected fault.
    pub injected: bool,
}

impl RequestRecord {
    /// Whether this request had `method` and a path matching `pattern` (see [`path_matches`]).
    pub fn is(&self, method: &str, pattern: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && path_matches(pattern, &self.path)
    }

    /// The request body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("a*", "abc"));
        assert!(glob("*c", "abc"));
        assert!(glob("a*c", "abc"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(!glob("abc", "abd"));
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let mut f = Faults::default();
        f.rules
            .push(Fault::new(409, 2).method("PUT").path(POD_STATUS_PATH));
        f.rules.push(Fault::new(503, 1));
        let status = "/api/v1/namespaces/default/pods/p/status";
        assert_eq!(f.take("GET", status), Some(503));
        assert_eq!(f.take("GET", status), None);
        assert_eq!(f.take("PUT", "/api/v1/namespaces/default/pods/p"), None);
        assert_eq!(f.take("PUT", status), Some(409));
        assert_eq!(f.take("PUT", status), Some(409));
        assert_eq!(f.take("PUT", status), None);
        assert!(f.rules.is_empty());
    }

    #[test]
    fn delays_add_up() {
        let mut f = Faults::default();
        f.set_delay("/", Duration::from_millis(10));
        f.set_delay("/api/v1", Duration::from_millis(5));
        assert_eq!(f.delay("/api/v1/pods"), Duration::from_millis(15));
        assert_eq!(f.delay("/apis"), Duration::from_millis(10));
        f.set_delay("/", Duration::ZERO);
        assert_eq!(f.delay("/apis"), Duration::ZERO);
    }
}
