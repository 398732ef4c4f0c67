//! `install_multus`: the init-container helper of upstream's DaemonSets. Copies
//! the plugin binary (`multus-shim` for `--type thick`, `multus` for
//! `--type thin`) and `passthru` from the image into the host's CNI bin
//! directory, each atomically (temporary `<name>.temp`, then rename).
//!
//! Flags as upstream (pflag): `-t/--type thick|thin` (required),
//! `-d/--dest-dir` (default `/host/opt/cni/bin`), `-h/--help` (prints the
//! flags and exits 1). `--source-dir` (default `/usr/src/multus-cni/bin`,
//! where upstream's images keep the binaries) is this port's addition, hidden
//! from the help as it only serves tests and custom images. Any failure exits 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use multus_cli::entrypoint::install::copy_file_atomic;

/// Where upstream's images keep the binaries.
const SOURCE_DIR: &str = "/usr/src/multus-cni/bin";

#[derive(Debug, Parser)]
#[command(
    name = "install_multus",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Flags {
    /// specify installer type (thick/thin)
    #[arg(short = 't', long = "type", default_value = "")]
    kind: String,
    /// destination directory
    #[arg(short = 'd', long = "dest-dir", default_value = "/host/opt/cni/bin")]
    dest_dir: PathBuf,
    /// directory holding the binaries to install
    #[arg(long = "source-dir", default_value = SOURCE_DIR, hide = true)]
    source_dir: PathBuf,
    /// show help message and quit
    #[arg(short = 'h', long = "help", action = ArgAction::SetTrue)]
    help: bool,
}

const USAGE: &str =
    "  -d, --dest-dir string   destination directory (default \"/host/opt/cni/bin\")
  -h, --help              show help message and quit
  -t, --type string       specify installer type (thick/thin)";

fn main() -> ExitCode {
    let flags = match Flags::try_parse() {
        Ok(f) => f,
        Err(e) => {
            // Usage errors exit 2, as pflag's ExitOnError: clap's first
            // paragraph (the error itself), then pflag-style usage.
            let rendered = e.render().to_string();
            let first = rendered.split("\n\n").next().unwrap_or_default().trim_end();
            eprintln!("{first}\nUsage of install_multus:\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if flags.help {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    }
    let plugin = match flags.kind.as_str() {
        "thick" => "multus-shim",
        "thin" => "multus",
        _ => {
            eprintln!("--type is missing or --type has invalid value");
            return ExitCode::FAILURE;
        }
    };
    for name in [plugin, "passthru"] {
        let src = flags.source_dir.join(name);
        if let Err(e) = copy_file_atomic(&src, &flags.dest_dir, &format!("{name}.temp"), name) {
            eprintln!("failed to copy file {name}: {e}");
            return ExitCode::FAILURE;
        }
        println!("multus {name} copy succeeded!");
    }
    ExitCode::SUCCESS
}
