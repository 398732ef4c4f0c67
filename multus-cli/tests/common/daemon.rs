//! Helpers of the `multus-daemon` tests: running the built daemon with a
//! config of the test's own, and speaking its socket API the way an
//! upstream `multus-shim` does (HTTP/1.1 over the unix socket, one request
//! per connection, host `dummy`), written by hand over `UnixStream`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.body, self.status))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection and reads the answer to EOF
/// (the daemon closes the connection after it, keep-alive being off).
pub fn http(socket: &Path, method: &str, path: &str, body: &[u8]) -> Answer {
    let mut stream =
        UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: dummy\r\nUser-Agent: Go-http-client/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_answer(&raw)
}

/// Over TCP (the metrics port).
pub fn http_tcp(addr: &str, path: &str) -> Answer {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status: u16 = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = s.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

/// The body a shim sends: its environment, its stdin (base64) and optional
/// interface attributes.
pub fn request_body(env: &[(&str, String)], config: &Value, attributes: Option<Value>) -> Vec<u8> {
    let env: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut body = json!({
        "env": env,
        "config": base64::engine::general_purpose::STANDARD.encode(config.to_string()),
    });
    if let Some(a) = attributes {
        body["interfaceAttributes"] = a;
    }
    serde_json::to_vec(&body).unwrap()
}

/// A running `multus-daemon`, killed (by PID) when dropped.
pub struct Daemon {
    pub child: Option<Child>,
    pub config_path: PathBuf,
    pub socket: PathBuf,
    pub stderr_path: PathBuf,
}

impl Daemon {
    /// Writes `config` to `<dir>/daemon-config.json` and starts the daemon
    /// on it; waits until `/healthz` answers.
    pub fn start(dir: &Path, config: &Value) -> Self {
        let config_path = dir.join("daemon-config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let socket =
            PathBuf::from(config["socketDir"].as_str().expect("socketDir")).join("multus.sock");
        Self::start_with(&config_path, &socket, dir)
    }

    /// Starts the daemon on an existing config file.
    pub fn start_with(config_path: &Path, socket: &Path, dir: &Path) -> Self {
        let mut daemon = Self::spawn(config_path, socket, dir);
        daemon.wait_healthy();
        daemon
    }

    /// Starts the daemon without waiting for it.
    pub fn spawn(config_path: &Path, socket: &Path, dir: &Path) -> Self {
        let stderr_path = dir.join(format!(
            "daemon-{}.log",
            multus_testsupport::netns::random_hex(6)
        ));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_multus-daemon"))
            .arg("-config")
            .arg(config_path)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start multus-daemon");
        Self {
            child: Some(child),
            config_path: config_path.to_owned(),
            socket: socket.to_owned(),
            stderr_path,
        }
    }

    /// Waits until `/healthz` answers (panics if the daemon exits first).
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.socket.exists() && UnixStream::connect(&self.socket).is_ok() {
                let a = http(&self.socket, "GET", "/healthz", b"");
                assert_eq!(a.status, 200, "{a:?}");
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("multus-daemon exited with {status}: {}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "multus-daemon did not come up: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// What the daemon wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Answer {
        http(&self.socket, "POST", path, body)
    }

    pub fn get(&self, path: &str) -> Answer {
        http(&self.socket, "GET", path, b"")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    }

    /// Waits (at most `limit`) for the daemon to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "multus-daemon still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait; asserts a clean exit (0).
    pub fn stop(&mut self) {
        self.terminate();
        let status = self.wait(Duration::from_secs(20));
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
