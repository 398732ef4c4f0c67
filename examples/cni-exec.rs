//! A small `cnitool`: runs a network configuration list (or a single `.conf`)
//! against a network namespace through `multus-delegate`, and prints the
//! result JSON of `add`. On failure it prints the CNI error object on stdout
//! and the message on stderr, and exits 1.
//!
//! ```text
//! ip netns add demo
//! sudo CNI_PATH=/usr/lib/cni cargo run -q --example cni-exec -- add net.conflist /run/netns/demo
//! sudo CNI_PATH=/usr/lib/cni cargo run -q --example cni-exec -- del net.conflist /run/netns/demo
//! ```
//!
//! Environment (as cnitool's):
//! * `CNI_PATH`: plugin directories, `:`-separated (default `/opt/cni/bin`);
//! * `CNI_IFNAME`: interface name (default `eth0`);
//! * `CNI_ARGS`: `K=V;K2=V2`;
//! * `CAP_ARGS`: capability arguments as a JSON object, e.g. `{"mac":"c2:11:22:33:44:55"}`;
//! * `CNI_CONTAINERID`: default derived from the netns path;
//! * `CNI_CACHE_DIR`: result cache directory (default `/var/lib/cni`);
//! * `CNI_TIMEOUT`: seconds after which a plugin is killed (default: none).
//!
//! `gc` deletes every cached attachment of the network (no attachment is
//! declared valid, as with cnitool) and sends `GC` to the plugins (1.1.0 lists).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use multus_delegate::{CniConfig, Error, RuntimeConf};
use multus_types::{CniArgs, NetConf, NetConfList, ToCniError};
use serde_json::{Map, Value};

/// Run a CNI network configuration against a network namespace.
#[derive(Parser)]
struct Args {
    /// What to do.
    #[arg(value_enum)]
    command: Cmd,
    /// The `.conflist` (or single-plugin `.conf`) file.
    config: String,
    /// The network namespace path (not needed for `status` and `gc`).
    netns: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Cmd {
    Add,
    Check,
    Del,
    Status,
    Gc,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(Some(out)) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Cni(e)) => {
            if let Ok(json) = serde_json::to_string(&e.to_cni_error()) {
                println!("{json}");
            }
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Cni(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Cni(e)
    }
}

impl From<multus_types::Error> for Failure {
    fn from(e: multus_types::Error) -> Self {
        Self::Cni(e.into())
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn run(args: &Args) -> Result<Option<String>, Failure> {
    let bytes = std::fs::read(&args.config)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", args.config)))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Usage(format!("{}: {e}", args.config)))?;
    // A file with a top-level `type` is a single plugin: wrap it as a list.
    let list = if value.get("type").is_some() {
        NetConfList::from_conf(NetConf::from_value(value)?)?
    } else {
        NetConfList::from_value(value)?
    };

    let mut cni =
        CniConfig::from_cni_path(&env("CNI_PATH").unwrap_or_else(|| "/opt/cni/bin".into()))
            .with_cache_dir(
                env("CNI_CACHE_DIR").unwrap_or_else(|| multus_delegate::DEFAULT_CACHE_DIR.into()),
            );
    if let Some(secs) = env("CNI_TIMEOUT") {
        let secs: f64 = secs.parse().map_err(|_| {
            Failure::Usage(format!("CNI_TIMEOUT={secs:?} is not a number of seconds"))
        })?;
        let timeout = Duration::try_from_secs_f64(secs)
            .map_err(|e| Failure::Usage(format!("CNI_TIMEOUT: {e}")))?;
        cni = cni.with_timeout(Some(timeout));
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the runtime: {e}")))?;

    match args.command {
        Cmd::Status => {
            runtime.block_on(cni.status_network_list(&list))?;
            return Ok(None);
        }
        Cmd::Gc => {
            runtime.block_on(cni.gc_network_list(&list, None))?;
            return Ok(None);
        }
        Cmd::Add | Cmd::Check | Cmd::Del => {}
    }

    let netns = args
        .netns
        .clone()
        .ok_or_else(|| Failure::Usage("this command needs a netns path".into()))?;
    let cni_args = CniArgs::parse(&env("CNI_ARGS").unwrap_or_default())?;
    let caps: Map<String, Value> = match env("CAP_ARGS") {
        None => Map::new(),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Failure::Usage(format!("CAP_ARGS must be a JSON object: {e}")))?,
    };
    let container_id = env("CNI_CONTAINERID").unwrap_or_else(|| default_container_id(&netns));
    let rt = RuntimeConf::new(
        container_id,
        netns,
        env("CNI_IFNAME").unwrap_or_else(|| "eth0".into()),
    )
    .with_args(cni_args)
    .with_capability_args(caps);

    match args.command {
        Cmd::Add => {
            let result = runtime.block_on(cni.add_network_list(&list, &rt))?;
            Ok(Some(result.to_json_string()?))
        }
        Cmd::Check => runtime
            .block_on(cni.check_network_list(&list, &rt))
            .map(|()| None)
            .map_err(Into::into),
        _ => runtime
            .block_on(cni.del_network_list(&list, &rt))
            .map(|()| None)
            .map_err(Into::into),
    }
}

/// `cni-exec-` and 16 hex digits of a stable hash (FNV-1a) of the netns path,
/// so `add` and `del` of the same netns agree without configuration.
fn default_container_id(netns: &str) -> String {
    let hash = netns.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("cni-exec-{hash:016x}")
}
