//! `passthru`: the trivial CNI plugin upstream Multus ships as the first
//! plugin of the auxiliary CNI chain. ADD prints an empty result (no
//! interfaces, addresses, routes or DNS) in the config's version; DEL, CHECK,
//! STATUS and GC succeed without doing anything. Spec versions 0.3.0 to 1.1.0.

use std::io::Read;
use std::process::ExitCode;

use multus_cli::skel::{self, Command, Invocation};
use multus_types::result::v1;
use multus_types::{CniError, CniResult, CniVersion, ErrorCode};

/// The about text (printed when no `CNI_COMMAND` is set).
const ABOUT: &str = "Passthrough CNI Plugin v1.0";

/// The versions passthru speaks (upstream's list: no 0.1.0/0.2.0).
const SUPPORTED: [CniVersion; 5] = [
    CniVersion::V0_3_0,
    CniVersion::V0_3_1,
    CniVersion::V0_4_0,
    CniVersion::V1_0_0,
    CniVersion::V1_1_0,
];

fn main() -> ExitCode {
    let invocation = skel::invocation(
        |k| std::env::var(k).ok(),
        || {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        },
    );
    let args = match invocation {
        Ok(Invocation::About) => {
            eprintln!(
                "{ABOUT}\nCNI protocol versions supported: {}",
                names().join(", ")
            );
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            let out = serde_json::json!({
                "cniVersion": CniVersion::CURRENT.as_str(),
                "supportedVersions": names(),
            });
            return skel::print_ok(&out.to_string());
        }
        Ok(Invocation::Run(args)) => args,
        Err(e) => return skel::print_err(&e),
    };
    // skel has accepted any of the seven versions; narrow to ours.
    let version = match CniVersion::parse_or_default(&args.cni_version) {
        Ok(v) if SUPPORTED.contains(&v) => v,
        Ok(v) => return skel::print_err(&incompatible(v.as_str())),
        Err(_) => return skel::print_err(&incompatible(&args.cni_version)),
    };
    if matches!(args.command, Command::Add | Command::Del) {
        let override_var = std::env::var("CNI_NETNS_OVERRIDE").ok();
        if let Err(e) = skel::check_not_own_netns(&args.netns, override_var.as_deref()) {
            return skel::print_err(&e);
        }
    }
    if args.command != Command::Add {
        return ExitCode::SUCCESS;
    }
    let empty = CniResult::V1(v1::Result {
        cni_version: CniVersion::V1_1_0,
        ..v1::Result::default()
    });
    match empty.convert_to(version).and_then(|r| r.to_json_string()) {
        Ok(out) => skel::print_ok(&out),
        Err(e) => skel::print_err(&CniError::new(
            ErrorCode::Internal,
            format!("passthru cni: {e}"),
        )),
    }
}

fn names() -> Vec<&'static str> {
    SUPPORTED.iter().map(|v| v.as_str()).collect()
}

/// skel's version mismatch error, with passthru's list.
fn incompatible(config: &str) -> CniError {
    let quoted: Vec<String> = names().iter().map(|v| format!("{v:?}")).collect();
    CniError::new(
        ErrorCode::IncompatibleCniVersion,
        "incompatible CNI versions",
    )
    .with_details(format!(
        "config is {config:?}, plugin supports [{}]",
        quoted.join(" ")
    ))
}
