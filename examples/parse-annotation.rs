//! Parses a `k8s.v1.cni.cncf.io/networks` annotation value the way multus
//! does and prints the elements as a JSON array, using the annotation's own
//! keys (absent ones omitted, `namespace` always filled in). On a bad value,
//! prints the reason on one line and exits 1.
//!
//! ```text
//! cargo run -q --example parse-annotation -- --namespace default 'macvlan-conf-1@macvlan1'
//! ```

use std::process::ExitCode;

use clap::Parser;
use multus_annotations::parse_networks;

/// Parse a networks annotation value.
#[derive(Parser)]
struct Args {
    /// The pod's namespace: the default for elements that name none.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// The annotation value (comma form or JSON list).
    value: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let printed = parse_networks(&args.value, &args.namespace)
        .map_err(|e| e.to_string())
        .and_then(|elements| serde_json::to_string_pretty(&elements).map_err(|e| e.to_string()));
    match printed {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
