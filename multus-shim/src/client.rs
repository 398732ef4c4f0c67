//! The daemon's socket API as the shim uses it: readiness checks, the
//! `/cni` request, and what each CNI command makes of the answer.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use multus_types::{CniError, CniResult, CniVersion};
use serde::Serialize;

use crate::Error;
use crate::conf::{READY_POLL_INTERVAL, ShimConf};
use crate::http;
use crate::log::{Level, Logger};
use crate::skel::Command;

/// The CNI endpoint.
pub const CNI_PATH: &str = "/cni";
/// Readiness: 200 once the daemon serves requests, 500 while it shuts down.
pub const READY_PATH: &str = "/readyz";
/// Liveness: 200 whenever the daemon answers (the only check v4.3 daemons have).
pub const HEALTH_PATH: &str = "/healthz";

/// The body of a `/cni` request, as upstream's `api.Request` marshals it.
///
/// ```
/// use std::collections::BTreeMap;
/// use multus_shim::Request;
/// let env = BTreeMap::from([("CNI_COMMAND".to_owned(), "ADD".to_owned())]);
/// let req = Request::new(env, b"{}");
/// assert_eq!(serde_json::to_string(&req)?, r#"{"env":{"CNI_COMMAND":"ADD"},"config":"e30="}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request<'a> {
    /// The process environment (`CNI_*` and everything else).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The CNI config bytes; base64 in JSON, as Go marshals `[]byte`.
    #[serde(serialize_with = "as_base64", skip_serializing_if = "<[u8]>::is_empty")]
    pub config: &'a [u8],
    /// Per-interface IPs, MAC and CNI args of a `/delegate` request; the
    /// shim itself never sends them.
    #[serde(
        rename = "interfaceAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub interface_attributes: Option<serde_json::Value>,
}

impl<'a> Request<'a> {
    /// A request carrying `env` and `config`, without interface attributes.
    pub fn new(env: BTreeMap<String, String>, config: &'a [u8]) -> Self {
        Self {
            env,
            config,
            interface_attributes: None,
        }
    }
}

/// This process's environment as upstream's shim collects it: every
/// `KEY=value` entry, the key trimmed; entries without a key are skipped.
/// Non-UTF-8 bytes are replaced rather than failing the call.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy().trim().to_owned();
            (!k.is_empty()).then(|| (k, v.to_string_lossy().into_owned()))
        })
        .collect()
}

fn as_base64<S: serde::Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64(bytes))
}

/// Standard base64 with padding (what Go's `encoding/json` writes for `[]byte`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Polls the daemon's readiness every [`READY_POLL_INTERVAL`] until it
/// answers 200 or `timeout` has passed. A daemon that answers 404 on
/// `/readyz` (upstream v4.3 and older have no such endpoint) is asked
/// `/healthz` instead.
///
/// # Errors
/// [`Error::NotReady`] with the last poll's failure.
pub fn wait_ready(socket: &Path, timeout: Duration, log: &mut Logger) -> Result<(), Error> {
    let start = Instant::now();
    let mut path = READY_PATH;
    loop {
        let remaining = timeout.saturating_sub(start.elapsed());
        // Each attempt may wait for the rest of the budget, but at least one
        // interval, so a daemon that accepted the connection can answer.
        let attempt = http::request(
            socket,
            "GET",
            path,
            None,
            Some(remaining.max(READY_POLL_INTERVAL)),
        );
        let last = match attempt {
            Ok(r) if r.status == 200 => return Ok(()),
            Ok(r) if r.status == 404 && path == READY_PATH => {
                log.log(
                    Level::Debug,
                    "daemon has no /readyz (upstream v4.3 or older), using /healthz",
                );
                path = HEALTH_PATH;
                continue;
            }
            Ok(r) => Error::Status {
                status: r.status,
                body: String::from_utf8_lossy(&r.body).into_owned(),
            },
            Err(e) => e,
        };
        if start.elapsed() + READY_POLL_INTERVAL > timeout {
            return Err(Error::NotReady {
                socket: socket.to_path_buf(),
                waited: start.elapsed(),
                last: Box::new(last),
            });
        }
        thread::sleep(READY_POLL_INTERVAL);
    }
}

/// The one liveness call upstream makes before DEL.
///
/// # Errors
/// [`Error::Unhealthy`] when the daemon cannot be reached or does not answer 200.
pub fn check_healthy(socket: &Path, timeout: Duration) -> Result<(), Error> {
    match http::request(socket, "GET", HEALTH_PATH, None, Some(timeout)) {
        Ok(r) if r.status == 200 => Ok(()),
        Ok(r) => Err(Error::Unhealthy(Box::new(Error::Status {
            status: r.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }))),
        Err(e) => Err(Error::Unhealthy(Box::new(e))),
    }
}

/// Sends the CNI request and returns the body of a 200 answer.
///
/// # Errors
/// [`Error::Cni`] when the daemon answered with a CNI error object (its code
/// kept); otherwise the failure with the config appended, as upstream does.
pub fn post_cni(socket: &Path, request: &Request<'_>) -> Result<Vec<u8>, Error> {
    let with_stdin = |e: Error| Error::WithStdin {
        source: Box::new(e),
        stdin: String::from_utf8_lossy(request.config).into_owned(),
    };
    let body = serde_json::to_vec(request)
        .map_err(|e| with_stdin(Error::Http(format!("failed to marshal CNI request: {e}"))))?;
    let answer = http::request(socket, "POST", CNI_PATH, Some(&body), None).map_err(with_stdin)?;
    if answer.status == 200 {
        return Ok(answer.body);
    }
    if let Some(err) = cni_error(&answer.body) {
        return Err(Error::Cni(err));
    }
    Err(with_stdin(Error::Status {
        status: answer.status,
        body: String::from_utf8_lossy(&answer.body).into_owned(),
    }))
}

/// A body that is a JSON object with a numeric `code`: the daemon's CNI error.
fn cni_error(body: &[u8]) -> Option<CniError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("code")?.as_u64()?;
    serde_json::from_value(value).ok()
}

/// The ADD answer `{"Result": <1.1.0 result>}`, written in `version`
/// (the shim config's `cniVersion`; empty means 0.1.0, as libcni).
///
/// # Errors
/// [`Error::BadResponse`] for a body that is not such an answer,
/// [`Error::Result`] when the result cannot be written in `version`.
pub fn add_result(body: &[u8], version: &str) -> Result<String, Error> {
    let bad = |reason: String| Error::BadResponse {
        body: String::from_utf8_lossy(body).into_owned(),
        reason,
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let result = value
        .get_mut("Result")
        .map(serde_json::Value::take)
        .filter(|r| !r.is_null())
        .ok_or_else(|| bad("no \"Result\" in the daemon's ADD answer".into()))?;
    let result =
        CniResult::from_value(result, CniVersion::V1_1_0).map_err(|e| bad(e.to_string()))?;
    let to_err = |source| Error::Result {
        version: version.to_owned(),
        source,
    };
    let to = CniVersion::parse_or_default(version).map_err(to_err)?;
    result
        .convert_to(to)
        .and_then(|r| r.to_json_string())
        .map_err(to_err)
}

/// Runs one checked CNI command against the daemon. Returns what to print on
/// stdout (ADD's result), or nothing.
///
/// DEL never fails: its errors are logged and `Ok(None)` is returned, as
/// upstream's shim does, so a pod can always be torn down.
///
/// # Errors
/// For ADD, CHECK, STATUS and GC, the first failure.
pub fn run(
    command: Command,
    stdin: &[u8],
    env: BTreeMap<String, String>,
    log: &mut Logger,
) -> Result<Option<String>, Error> {
    let outcome = run_inner(command, stdin, env, log);
    match outcome {
        Err(e) if command == Command::Del => {
            log.log(
                Level::Error,
                format_args!("{} (shim): {e}", command.handler()),
            );
            Ok(None)
        }
        Err(e) => {
            log.log(
                Level::Error,
                format_args!("{} (shim): {e}", command.handler()),
            );
            Err(e)
        }
        ok => ok,
    }
}

fn run_inner(
    command: Command,
    stdin: &[u8],
    env: BTreeMap<String, String>,
    log: &mut Logger,
) -> Result<Option<String>, Error> {
    let conf = ShimConf::from_bytes(stdin)?;
    *log = Logger::new(&conf.log_level, conf.log_to_stderr, &conf.log_file);
    let socket = conf.socket_path();
    if command == Command::Del {
        check_healthy(&socket, conf.ready_timeout())?;
    } else {
        wait_ready(&socket, conf.ready_timeout(), log)?;
    }
    let body = post_cni(&socket, &Request::new(env, stdin))?;
    if command != Command::Add {
        return Ok(None);
    }
    let out = add_result(&body, &conf.cni_version)?;
    log.log(Level::Verbose, format_args!("CmdAdd (shim): {out}"));
    Ok(Some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("{\"a\":\"?>\"}", "eyJhIjoiPz4ifQ=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn cni_error_bodies() {
        let e = cni_error(br#"{"code":11,"msg":"busy","details":"d"}"#).unwrap();
        assert_eq!((e.code.code(), e.msg.as_str()), (11, "busy"));
        assert!(cni_error(b"plain text\n").is_none());
        assert!(cni_error(br#"{"msg":"no code"}"#).is_none());
        assert!(cni_error(br#"{"code":"7"}"#).is_none());
    }

    #[test]
    fn add_results_are_converted() {
        let body =
            br#"{"Result":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/x"}],
            "ips":[{"address":"10.1.2.3/24","interface":0}]}}"#;
        let out = add_result(body, "0.3.1").unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["cniVersion"], "0.3.1");
        assert_eq!(v["ips"][0]["version"], "4");
        let e = add_result(b"{}", "1.0.0").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("failed to unmarshal response '{}'"),
            "{e}"
        );
        let e = add_result(br#"{"Result":{"interfaces":[{"name":"e"}]}}"#, "0.2.0").unwrap_err();
        assert!(matches!(e, Error::Result { .. }), "{e}");
    }
}
