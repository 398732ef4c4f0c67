//! `multus`: the thin Multus CNI plugin. The container runtime runs it once
//! per pod sandbox and operation, with the CNI environment and the multus
//! config on stdin.

use std::process::ExitCode;

use multus_cli::skel::{self, Invocation};
use multus_types::{CniError, ErrorCode, ToCniError};

fn main() -> ExitCode {
    // `multus explain ...`: the runtime never passes arguments, so this
    // cannot be a CNI call.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "explain") {
        return multus_cli::explain::main(args);
    }
    if let Some(code) = flags() {
        return code;
    }
    if let Err(e) = skel::check_env_encoding(|k| std::env::var_os(k)) {
        return skel::print_err(&e);
    }
    let invocation = skel::invocation(
        |k| std::env::var(k).ok(),
        || skel::read_config(std::io::stdin().lock()),
    );
    match invocation {
        Ok(Invocation::About) => {
            eprintln!("{}", skel::about_text());
            ExitCode::SUCCESS
        }
        Ok(Invocation::Version) => skel::print_ok(&skel::version_json()),
        Ok(Invocation::Run(args)) => {
            if matches!(args.command, skel::Command::Add | skel::Command::Del) {
                let override_var = std::env::var("CNI_NETNS_OVERRIDE").ok();
                if let Err(e) = skel::check_not_own_netns(&args.netns, override_var.as_deref()) {
                    return skel::print_err(&e);
                }
            }
            // One thread: the process lives for one operation, and netlink
            // work inside the pod's namespace happens on throwaway threads.
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    return skel::print_err(&CniError::new(
                        ErrorCode::Internal,
                        format!("tokio runtime: {e}"),
                    ));
                }
            };
            match runtime.block_on(multus_cli::pipeline::run(&args)) {
                Ok(Some(out)) => skel::print_ok(&out),
                Ok(None) => ExitCode::SUCCESS,
                Err(e) => {
                    multus_cli::error!("{e}");
                    skel::print_err(&e.to_cni_error())
                }
            }
        }
        Err(e) => skel::print_err(&e),
    }
}

/// `-v`/`-version` (Go flag spellings, one or two dashes) print the version;
/// any other flag is a usage error (exit 2), as Go's flag package.
fn flags() -> Option<ExitCode> {
    // Bytes, not `String`: a non-UTF-8 argument must not panic the plugin.
    let arg = std::env::args_os().nth(1)?;
    let arg = arg.to_string_lossy();
    if !arg.starts_with('-') {
        return None;
    }
    let usage = "Usage of multus:\n  -v, -version\n    \tShow application version";
    match arg.trim_start_matches('-') {
        "v" | "version" | "v=true" | "version=true" => {
            println!(
                "multus: version:{}, commit:{}, date:{}",
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
