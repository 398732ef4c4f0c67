//! The built `multus-shim` binary against a small test daemon: a unix socket
//! server thread that records each request and answers from a script.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// One request as the daemon received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Script = dyn Fn(&Seen, &[Seen]) -> String + Send + Sync;

/// A daemon on `<dir>/multus.sock`; `script` gets the request and the ones
/// before it and returns the raw HTTP answer.
struct Daemon {
    dir: tempfile::TempDir,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Daemon {
    fn start(script: impl Fn(&Seen, &[Seen]) -> String + Send + Sync + 'static) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("multus.sock")).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&seen);
        // Lives until the test process exits; the test only reads `seen`.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let Some(req) = read_request(&mut reader) else {
                    continue;
                };
                let before = log.lock().unwrap().clone();
                let answer = script(&req, &before);
                log.lock().unwrap().push(req);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Self { dir, seen }
    }

    fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }
}

fn read_request(r: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn ok(body: &str) -> String {
    answer("200 OK", body)
}

/// A daemon that is ready and answers `/cni` with `cni`.
fn ready_daemon(cni: String) -> Daemon {
    Daemon::start(move |req, _| {
        if req.path == "/cni" {
            cni.clone()
        } else {
            ok("")
        }
    })
}

const RESULT_1_1: &str = r#"{"Result":{"cniVersion":"1.1.0",
    "interfaces":[{"name":"eth0","mac":"0a:58:0a:80:00:05","mtu":1400,"sandbox":"/var/run/netns/p"}],
    "ips":[{"address":"10.128.0.5/23","gateway":"10.128.0.1","interface":0}],
    "routes":[{"dst":"0.0.0.0/0","gw":"10.128.0.1"}],
    "dns":{}}}"#;

fn config(socket_dir: &Path, version: &str, extra: Value) -> String {
    let mut conf = json!({
        "cniVersion": version,
        "name": "multus-cni-network",
        "type": "multus-shim",
        "daemonSocketDir": socket_dir,
    });
    for (k, v) in extra.as_object().unwrap() {
        conf[k] = v.clone();
    }
    conf.to_string()
}

fn shim(command: &str, stdin: &str) -> Output {
    shim_with(command, stdin, &[])
}

fn shim_with(command: &str, stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_multus-shim"));
    cmd.env_clear()
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "0123456789abcdef")
        .env("CNI_NETNS", "/var/run/netns/shim-test-not-there")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/opt/cni/bin")
        .env(
            "CNI_ARGS",
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a",
        )
        .env("SHIM_TEST_MARKER", "marker value=with equals")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn add_sends_env_and_base64_config_and_prints_the_result_in_the_config_version() {
    let daemon = ready_daemon(ok(RESULT_1_1));
    let stdin = config(daemon.socket_dir(), "0.4.0", json!({"clusterNetwork": "x"}));
    let out = shim("ADD", &stdin);
    assert!(out.status.success(), "{out:?}");

    assert_eq!(daemon.paths(), ["GET /readyz", "POST /cni"]);
    let req = &daemon.seen()[1];
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    assert_eq!(req.header("Host"), Some("dummy"));
    let body = req.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["env", "config"],
        "no interfaceAttributes from the shim"
    );
    assert_eq!(body["env"]["CNI_COMMAND"], "ADD");
    assert_eq!(body["env"]["CNI_CONTAINERID"], "0123456789abcdef");
    assert_eq!(
        body["env"]["CNI_ARGS"],
        "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-a"
    );
    assert_eq!(body["env"]["SHIM_TEST_MARKER"], "marker value=with equals");
    let config = base64::engine::general_purpose::STANDARD
        .decode(body["config"].as_str().unwrap())
        .unwrap();
    assert_eq!(config, stdin.as_bytes(), "config is stdin byte for byte");

    // 1.1.0 → 0.4.0: ips[].version computed, interface mtu dropped.
    let result = stdout_json(&out);
    assert_eq!(result["cniVersion"], "0.4.0");
    assert_eq!(result["ips"][0]["version"], "4");
    assert_eq!(result["ips"][0]["address"], "10.128.0.5/23");
    assert_eq!(result["interfaces"][0]["name"], "eth0");
    assert!(result["interfaces"][0].get("mtu").is_none());
    assert_eq!(result["routes"][0]["gw"], "10.128.0.1");
}

#[test]
fn add_result_in_1_0_0_and_chunked_answers() {
    let chunked = {
        let (a, b) = RESULT_1_1.split_at(40);
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    };
    let daemon = ready_daemon(chunked);
    let out = shim("ADD", &config(daemon.socket_dir(), "1.0.0", json!({})));
    assert!(out.status.success(), "{out:?}");
    let result = stdout_json(&out);
    assert_eq!(result["cniVersion"], "1.0.0");
    assert_eq!(result["interfaces"][0]["mtu"], 1400);
    assert!(result["ips"][0].get("version").is_none());
    // Go's PrintResult layout: four-space indentation.
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{\n    \"cniVersion\""));
}

#[test]
fn add_polls_readyz_until_the_daemon_is_ready() {
    let daemon = Daemon::start(|req, before| match req.path.as_str() {
        "/readyz" if before.len() < 3 => answer("500 Internal Server Error", ""),
        "/readyz" => ok(""),
        _ => ok(RESULT_1_1),
    });
    let start = Instant::now();
    let stdin = config(
        daemon.socket_dir(),
        "1.1.0",
        json!({"shimReadyTimeoutMs": 3000}),
    );
    let out = shim("ADD", &stdin);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        daemon.paths(),
        [
            "GET /readyz",
            "GET /readyz",
            "GET /readyz",
            "GET /readyz",
            "POST /cni"
        ]
    );
    // Three failed polls, 100 ms apart.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_daemon_without_readyz_is_asked_healthz() {
    let daemon = Daemon::start(|req, _| match req.path.as_str() {
        "/readyz" => answer("404 Not Found", "404 page not found\n"),
        "/healthz" => ok(""),
        _ => ok(""),
    });
    // A short wait, so that a shim without the fallback fails fast.
    let stdin = config(
        daemon.socket_dir(),
        "0.4.0",
        json!({"shimReadyTimeoutMs": 3000}),
    );
    let out = shim("CHECK", &stdin);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "CHECK prints nothing");
    assert_eq!(daemon.paths(), ["GET /readyz", "GET /healthz", "POST /cni"]);
    assert_eq!(daemon.seen()[2].json()["env"]["CNI_COMMAND"], "CHECK");
}

#[test]
fn del_checks_healthz_once_and_never_fails() {
    // Daemon answers 500 on /cni: logged, exit 0.
    let daemon = ready_daemon(answer("500 Internal Server Error", "boom"));
    let stdin = config(
        daemon.socket_dir(),
        "0.3.1",
        json!({"logToStderr": true, "logLevel": "error"}),
    );
    let out = shim("DEL", &stdin);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(daemon.paths(), ["GET /healthz", "POST /cni"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Z [error] CmdDel (shim): CNI request failed with status 500: 'boom'"),
        "{stderr}"
    );

    // No daemon at all: one failed health check, logged to the log file, exit 0.
    let gone = tempfile::tempdir().unwrap();
    let log = gone.path().join("shim.log");
    let stdin = config(
        gone.path(),
        "0.3.1",
        json!({"logFile": log, "logLevel": "debug"}),
    );
    let start = Instant::now();
    let out = shim("DEL", &stdin);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "DEL does not poll"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("[error] CmdDel (shim): CheckAPIReadyNow: Daemon not reachable over socketfile: failed to send CNI request: dial unix"),
        "{text}"
    );
}

#[test]
fn a_daemon_cni_error_is_printed_with_its_code() {
    let daemon = ready_daemon(answer(
        "400 Bad Request",
        r#"{"code":11,"msg":"try again later","details":"pod informer not synced"}"#,
    ));
    let out = shim("ADD", &config(daemon.socket_dir(), "1.0.0", json!({})));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_json(&out),
        json!({"code": 11, "msg": "try again later", "details": "pod informer not synced"})
    );
}

#[test]
fn a_plain_error_is_reported_with_status_body_and_config() {
    let daemon = ready_daemon(answer("400 Bad Request", "pod default/pod-a not found\n"));
    let stdin = config(daemon.socket_dir(), "1.0.0", json!({}));
    let out = shim("ADD", &stdin);
    assert_eq!(out.status.code(), Some(1));
    let err = stdout_json(&out);
    assert_eq!(err["code"], 999);
    assert_eq!(
        err["msg"],
        format!(
            "CmdAdd (shim): CNI request failed with status 400: 'pod default/pod-a not found\n': StdinData: {stdin}"
        )
    );
}

#[test]
fn add_without_a_daemon_fails_clearly_when_the_wait_is_over() {
    let gone = tempfile::tempdir().unwrap();
    let stdin = config(gone.path(), "1.0.0", json!({"shimReadyTimeoutMs": 400}));
    let start = Instant::now();
    let out = shim("ADD", &stdin);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let err = stdout_json(&out);
    assert_eq!(err["code"], 999);
    let msg = err["msg"].as_str().unwrap();
    let socket: PathBuf = gone.path().join("multus.sock");
    assert!(
        msg.starts_with(&format!(
            "CmdAdd (shim): multus daemon at {} not ready after",
            socket.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("No such file or directory"), "{msg}");
}

#[test]
fn status_and_gc_wait_for_readiness_and_print_nothing() {
    let daemon = ready_daemon(ok(""));
    let stdin = config(daemon.socket_dir(), "1.1.0", json!({}));
    for command in ["STATUS", "GC"] {
        let out = shim(command, &stdin);
        assert!(out.status.success(), "{command}: {out:?}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        daemon.paths(),
        ["GET /readyz", "POST /cni", "GET /readyz", "POST /cni"]
    );
}

#[test]
fn skel_checks_run_before_the_daemon_is_asked() {
    let daemon = ready_daemon(ok(RESULT_1_1));
    // CHECK needs a 0.4.0+ config.
    let out = shim("CHECK", &config(daemon.socket_dir(), "0.3.1", json!({})));
    assert_eq!(
        stdout_json(&out)["msg"],
        "config version does not allow CHECK"
    );
    // ADD in the plugin's own netns is refused.
    let out = shim_with(
        "ADD",
        &config(daemon.socket_dir(), "1.0.0", json!({})),
        &[("CNI_NETNS", "/proc/self/ns/net")],
    );
    assert_eq!(stdout_json(&out)["code"], 8, "ErrInvalidNetNS");
    assert!(daemon.paths().is_empty(), "{:?}", daemon.paths());
}

#[test]
fn version_and_flags() {
    let out = shim("VERSION", "");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
    );
    let out = Command::new(env!("CARGO_BIN_EXE_multus-shim"))
        .arg("-version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("multus-shim: version:"),
        "{out:?}"
    );
}
