//! `thin_entrypoint`: the container entrypoint of the thin-plugin DaemonSet,
//! a drop-in for upstream's Go `cmd/thin_entrypoint` (same flags, defaults,
//! files and file names).
//!
//! Flow: parse the flags ([`flags`]); check that the CNI config dir, the CNI
//! bin dir, the multus binary and (unless `auto`) the multus config file exist
//! — if not, print why and exit with status 0 without doing anything, as
//! upstream; install the binary ([`install`]); write the kubeconfig
//! ([`kubeconfig`]); copy the user's multus config or generate one from the
//! master CNI config ([`autoconf`]); then wait for SIGTERM/SIGINT, or watch
//! and regenerate ([`watch`]); on exit, with `--cleanup-config-on-exit`,
//! remove the config written.
//!
//! ```no_run
//! std::process::exit(multus_cli::entrypoint::main_with_args(std::env::args_os()));
//! ```

pub mod autoconf;
pub mod flags;
pub mod install;
pub mod kubeconfig;
pub mod watch;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

pub use flags::{FlagsExit, Options};

/// Everything that stops the entrypoint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path given on the command line does not exist.
    #[error("{what} is not found: {}: {source}", path.display())]
    NotFound {
        /// The flag without dashes, e.g. `cni-conf-dir`.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// Why `stat` failed.
        source: io::Error,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The master config or the options do not allow a config to be made.
    #[error("{0}")]
    Config(String),
}

/// Checks that `--cni-conf-dir`, `--cni-bin-dir`, `--multus-bin-file` and,
/// unless `auto`, `--multus-conf-file` exist (the bin file is checked even
/// with `--skip-multus-binary-copy`, as upstream).
pub fn verify_paths(options: &Options) -> Result<(), Error> {
    let check = |what: &'static str, path: &Path| {
        std::fs::metadata(path)
            .map(drop)
            .map_err(|source| Error::NotFound {
                what,
                path: path.to_owned(),
                source,
            })
    };
    check("cni-conf-dir", &options.cni_conf_dir)?;
    check("cni-bin-dir", &options.cni_bin_dir)?;
    check("multus-bin-file", &options.multus_bin_file)?;
    if !options.is_auto() {
        check("multus-conf-file", Path::new(&options.multus_conf_file))?;
    }
    Ok(())
}

/// Runs the entrypoint with parsed options; returns the exit status: 0 after
/// a signal (and after failed path checks, as upstream), 1 when installing or
/// updating fails.
pub fn run(options: &Options) -> i32 {
    if let Err(e) = verify_paths(options) {
        eprintln!("{e}");
        return 0;
    }
    if !options.skip_multus_binary_copy {
        if let Err(e) = install::copy_file_atomic(
            &options.multus_bin_file,
            &options.cni_bin_dir,
            install::BINARY_TEMP_NAME,
            install::BINARY_NAME,
        ) {
            eprintln!("failed at multus copy: {e}");
            return 1;
        }
        println!(
            "multus binary {} is copied to {}.",
            options.multus_bin_file.display(),
            options.cni_bin_dir.display()
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let server = kubeconfig::ApiServer::from_env();
    runtime.block_on(watch::serve(options, &server))
}

/// Parses `args` (program name first) and runs; `-h/--help` and bad command
/// lines print to stderr and return 1 and 2.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Options::parse_from_args(args) {
        Ok(options) => run(&options),
        Err(exit) => {
            eprint!("{}", exit.message);
            if !exit.message.ends_with('\n') {
                eprintln!();
            }
            exit.code
        }
    }
}
