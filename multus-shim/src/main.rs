//! `multus-shim`: the thick Multus CNI plugin. The container runtime runs it
//! once per pod sandbox and operation; it hands the call to the multus daemon.

use std::io::{Read, Write};
use std::process::ExitCode;

use multus_shim::client;
use multus_shim::log::Logger;
use multus_shim::skel::{self, Command, Invocation};
use multus_types::{CniError, ErrorCode};

fn main() -> ExitCode {
    if let Some(code) = flags() {
        return code;
    }
    let invocation = skel::invocation(
        |k| std::env::var(k).ok(),
        || {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        },
    );
    let args = match invocation {
        Ok(Invocation::About) => {
            eprintln!("{}", skel::about_text());
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => return print_ok(&skel::version_json()),
        Ok(Invocation::Run(args)) => args,
        Err(e) => return print_err(&e),
    };
    if matches!(args.command, Command::Add | Command::Del) {
        let override_var = std::env::var("CNI_NETNS_OVERRIDE").ok();
        if let Err(e) = skel::check_not_own_netns(&args.netns, override_var.as_deref()) {
            return print_err(&e);
        }
    }
    let mut log = Logger::default();
    match client::run(args.command, &args.stdin, client::process_env(), &mut log) {
        Ok(Some(out)) => print_ok(&out),
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => match e.daemon_cni_error() {
            // The daemon's own error object, code and all.
            Some(cni) => print_err(cni),
            None => {
                // Like Go's skel for any other error: code 999 and the text.
                print_err(&CniError::new(
                    ErrorCode::Internal,
                    format!("{} (shim): {e}", args.command.handler()),
                ))
            }
        },
    }
}

/// `-v`/`-version` (Go flag spellings, one or two dashes) print the version;
/// any other flag is a usage error (exit 2), as Go's flag package.
fn flags() -> Option<ExitCode> {
    let arg = std::env::args_os().nth(1)?;
    let arg = arg.to_string_lossy();
    if !arg.starts_with('-') {
        return None;
    }
    let usage = "Usage of multus-shim:\n  -v, -version\n    \tShow application version";
    match arg.trim_start_matches('-') {
        "v" | "version" | "v=true" | "version=true" => {
            println!(
                "multus-shim: version:{}, commit:{}, date:{}",
                env!("CARGO_PKG_VERSION"),
                option_env!("MULTUS_COMMIT").unwrap_or("unknown"),
                option_env!("MULTUS_BUILD_DATE").unwrap_or("unknown"),
            );
            Some(ExitCode::SUCCESS)
        }
        "h" | "help" => {
            eprintln!("{usage}");
            Some(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("flag provided but not defined: {arg}\n{usage}");
            Some(ExitCode::from(2))
        }
    }
}

fn print_ok(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn print_err(err: &CniError) -> ExitCode {
    let _ = std::io::stdout()
        .lock()
        .write_all(skel::error_json(err).as_bytes());
    ExitCode::FAILURE
}
