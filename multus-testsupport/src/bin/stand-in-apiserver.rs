//! `stand-in-apiserver`: the multus-rs stand-in Kubernetes API server as a process, for tests
//! that run binaries and for demo scripts. Run with `--help` for the flags and the control
//! endpoints.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use multus_testsupport::ApiServer;

const HELP: &str = "\
stand-in-apiserver: a stand-in Kubernetes API server for multus-rs tests (HTTP on loopback).

Serves v1 Pods (and pods/status), Namespaces and Events, events.k8s.io/v1 Events and
k8s.cni.cncf.io/v1 NetworkAttachmentDefinitions as real Kubernetes JSON, until it is killed.

USAGE:
    stand-in-apiserver [--listen ADDR] [--kubeconfig-out PATH] [--load FILE...] [--dump-on-exit PATH]

OPTIONS:
    --listen ADDR          address to listen on [default: 127.0.0.1:0, a free port]
    --kubeconfig-out PATH  write a kubeconfig for this server to PATH (mode 0600): cluster `local`,
                           user `multus` (dummy token), context `multus-context`
    --load FILE...         load the objects of YAML (multi-document) or JSON manifests; repeatable
    --dump-on-exit PATH    on SIGTERM or SIGINT, write every object as JSON to PATH, then exit
    -h, --help             print this help

Once loaded and listening it prints `listening on http://127.0.0.1:PORT` on stdout.

CONTROL ENDPOINTS (not logged, never faulted):
    GET    /_control/requests              the request log (method, path, status, body, ...)
    DELETE /_control/requests              empty the request log
    GET    /_control/events                events recorded, oldest first
    GET    /_control/state                 every object
    POST   /_control/conflicts?times=N     the next N pod status writes answer 409 Conflict
    POST   /_control/errors?times=N&code=C[&method=M][&path=PATTERN]
                                           the next N matching requests answer C (503, 500, ...)
    POST   /_control/faults                add a fault: {\"methods\":[..],\"path\":..,\"times\":N,\"code\":C}
    POST   /_control/delay?ms=N[&path=PATTERN]   delay answers (0 removes)
    POST   /_control/down?ms=N             refuse connections for N ms (starting ~20 ms later)
    POST   /_control/reset                 remove every fault and delay
    POST   /_control/compact               forget the watch history (older watches get 410)
    POST   /_control/load                  load the manifests of the body
";

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    listen: Option<SocketAddr>,
    kubeconfig_out: Option<PathBuf>,
    load: Vec<PathBuf>,
    dump_on_exit: Option<PathBuf>,
    help: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => out.help = true,
            "--listen" => {
                let v = value("--listen")?;
                out.listen = Some(
                    v.parse()
                        .map_err(|e| format!("--listen {v:?}: not an address:port ({e})"))?,
                );
            }
            "--kubeconfig-out" => out.kubeconfig_out = Some(value("--kubeconfig-out")?.into()),
            "--dump-on-exit" => out.dump_on_exit = Some(value("--dump-on-exit")?.into()),
            "--load" => {
                if let Some(v) = inline {
                    out.load.push(v.into());
                }
                while let Some(next) = args.next_if(|a| !a.starts_with('-')) {
                    out.load.push(next.into());
                }
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(out)
}

fn run(args: Args) -> Result<(), String> {
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = ApiServer::start_blocking_on(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    for file in &args.load {
        let objs = server.load_file(file).map_err(|e| e.to_string())?;
        eprintln!("loaded {} object(s) from {}", objs.len(), file.display());
    }
    if let Some(path) = &args.kubeconfig_out {
        server
            .write_kubeconfig(path)
            .map_err(|e| format!("cannot write the kubeconfig {}: {e}", path.display()))?;
    }
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", server.url())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let signal = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok::<_, std::io::Error>("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    });
    let signal = signal.map_err(|e| format!("cannot wait for signals: {e}"))?;
    eprintln!("{signal}: shutting down");
    if let Some(path) = &args.dump_on_exit {
        let text = serde_json::to_string_pretty(&server.dump())
            .map_err(|e| format!("cannot render the state: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stand-in-apiserver: {e}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stand-in-apiserver: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse_args(s.split_whitespace().map(str::to_string))
    }

    #[test]
    fn flags() {
        let a = args("--listen 127.0.0.1:0 --load a.yaml b.yaml --kubeconfig-out kc --load=c.json")
            .unwrap();
        assert_eq!(a.listen, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        assert_eq!(
            a.load,
            [PathBuf::from("a.yaml"), "b.yaml".into(), "c.json".into()]
        );
        assert_eq!(a.kubeconfig_out, Some(PathBuf::from("kc")));
        assert!(args("--listen nope").is_err());
        assert!(args("--kubeconfig-out").is_err());
        assert!(args("--bogus").is_err());
        assert!(args("-h").unwrap().help);
    }
}
