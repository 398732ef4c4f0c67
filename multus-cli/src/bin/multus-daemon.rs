//! `multus-daemon`: the thick Multus plugin's per-node server. The
//! `multus-shim` CNI plugin forwards each CNI call to it over a unix socket.
//!
//! Flags (Go spellings, one or two dashes): `-config <path>` (default
//! `/etc/cni/net.d/multus.d/daemon-config.json`), `-version` (prints the
//! version and exits 4, as upstream).

use std::path::PathBuf;
use std::process::ExitCode;

use multus_cli::daemon::{self, DaemonConfig, GeneratedConfig, config::DEFAULT_CONFIG_PATH};

const USAGE: &str = "Usage of multus-daemon:
  -config string
    \tSpecify the path to the multus-daemon configuration (default \"/etc/cni/net.d/multus.d/daemon-config.json\")
  -version
    \tShow version";

/// What the command line asks for.
enum Flags {
    Run(PathBuf),
    Exit(ExitCode),
}

/// Go's `flag` package rules: `-name value`, `-name=value`, one or two
/// dashes, `--` ends the flags; an unknown flag is a usage error (exit 2).
fn flags() -> Flags {
    let mut config = PathBuf::from(DEFAULT_CONFIG_PATH);
    let mut version = false;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            break;
        }
        let flag = arg.trim_start_matches('-');
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        match name {
            "config" => {
                match value.or_else(|| args.next().map(|v| v.to_string_lossy().into_owned())) {
                    Some(v) => config = PathBuf::from(v),
                    None => {
                        eprintln!("flag needs an argument: -config\n{USAGE}");
                        return Flags::Exit(ExitCode::from(2));
                    }
                }
            }
            "version" => match value.as_deref() {
                None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => version = true,
                Some("false" | "0" | "f" | "F" | "FALSE" | "False") => version = false,
                Some(v) => {
                    eprintln!("invalid boolean value {v:?} for -version: parse error\n{USAGE}");
                    return Flags::Exit(ExitCode::from(2));
                }
            },
            "h" | "help" => {
                eprintln!("{USAGE}");
                return Flags::Exit(ExitCode::SUCCESS);
            }
            _ => {
                eprintln!("flag provided but not defined: -{name}\n{USAGE}");
                return Flags::Exit(ExitCode::from(2));
            }
        }
    }
    if version {
        println!(
            "multus-daemon: version:{}, commit:{}, date:{}",
            env!("CARGO_PKG_VERSION"),
            option_env!("MULTUS_COMMIT").unwrap_or("unknown"),
            option_env!("MULTUS_BUILD_DATE").unwrap_or("unknown"),
        );
        return Flags::Exit(ExitCode::from(4));
    }
    Flags::Run(config)
}

fn main() -> ExitCode {
    let config_path = match flags() {
        Flags::Run(p) => p,
        Flags::Exit(code) => return code,
    };
    let fail = |e: daemon::DaemonError| {
        // The logger may not be set up yet: errors always reach stderr.
        eprintln!("multus-daemon: {e}");
        multus_cli::error!("{e}");
        ExitCode::from(e.exit_code())
    };
    let mut config = match DaemonConfig::load(&config_path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // The DaemonSet sets it from spec.nodeName: the pod cache then holds only this node's pods.
    config.node_name = std::env::var("MULTUS_NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty());
    daemon::configure_logging(&config, &config_path);
    if let Err(e) = daemon::require_root() {
        return fail(e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("multus-daemon: tokio runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(daemon::run(config, GeneratedConfig::new(), signals())) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

/// Completes at the first SIGTERM or SIGINT.
async fn signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        multus_cli::error!("cannot install signal handlers: SIGTERM/SIGINT end the daemon at once");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => multus_cli::verbose!("caught SIGTERM, stopping..."),
        _ = int.recv() => multus_cli::verbose!("caught SIGINT, stopping..."),
    }
}
