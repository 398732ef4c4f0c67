//! Prints the effective Multus configuration of a file (or `-` for stdin):
//! every key with its default applied, under upstream's key names, plus
//! `effectiveGlobalNamespaces`. On a bad config, prints the error and exits 1.
//!
//! ```text
//! cargo run -q --example parse-config -- /etc/cni/net.d/00-multus.conf
//! ```

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use multus_types::MultusConf;

/// Print the effective Multus configuration of a file.
#[derive(Parser)]
struct Args {
    /// The config file, or `-` for standard input.
    file: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bytes = if args.file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(&args.file)
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file);
            return ExitCode::FAILURE;
        }
    };
    match MultusConf::from_bytes(&bytes) {
        Ok(conf) => match serde_json::to_string_pretty(&conf.effective_json()) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {}: {e}", args.file);
            ExitCode::FAILURE
        }
    }
}
