//! The command line of `thin_entrypoint`, flag for flag the one of upstream's
//! Go entrypoint (pflag): the same long names and defaults, values as
//! `--flag=value` or `--flag value`, booleans as `--flag`, `--flag=true` or
//! `--flag=false` (any spelling Go's `strconv.ParseBool` takes), the last of a
//! repeated flag wins, stray positional arguments are ignored, and `-h/--help`
//! prints the flags with their defaults on stderr and exits with status 1.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{ArgAction, CommandFactory, Parser};

/// `--multus-conf-file` value that selects generation instead of a copy.
pub const AUTO: &str = "auto";

/// Where the pod's service account is mounted.
pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Environment variable that replaces [`DEFAULT_SERVICE_ACCOUNT_DIR`] (for
/// tests and unusual mounts; upstream has no such knob).
pub const SERVICE_ACCOUNT_DIR_ENV: &str = "MULTUS_SERVICE_ACCOUNT_DIR";

/// Exit status after `-h/--help`, as upstream.
pub const HELP_EXIT_CODE: i32 = 1;

/// Exit status after a command line that does not parse (pflag's).
pub const USAGE_EXIT_CODE: i32 = 2;

/// The options of `thin_entrypoint`.
///
/// ```
/// use multus_cli::entrypoint::Options;
/// let o = Options::parse_from_args(["thin_entrypoint", "--cni-version", "0.3.1",
///     "--namespace-isolation", "--multus-log-to-stderr=false"]).unwrap();
/// assert_eq!(o.cni_version, "0.3.1");
/// assert!(o.namespace_isolation);
/// assert!(!o.multus_log_to_stderr);
/// assert_eq!(o.multus_conf_file, "auto");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "thin_entrypoint",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Options {
    /// directory the multus binary is installed into
    #[arg(long, default_value = "/host/opt/cni/bin", allow_hyphen_values = true, value_parser = path_value())]
    pub cni_bin_dir: PathBuf,

    /// CNI config directory: the multus config and multus.d/ are written here
    #[arg(long, default_value = "/host/etc/cni/net.d", allow_hyphen_values = true, value_parser = path_value())]
    pub cni_conf_dir: PathBuf,

    /// cniVersion the master CNI config must have (auto mode), e.g. '0.3.1'; empty takes the master's
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub cni_version: String,

    /// 'auto' to generate the multus config from the master CNI config, or a multus config file to copy
    #[arg(long, default_value = AUTO, allow_hyphen_values = true)]
    pub multus_conf_file: String,

    /// the multus binary to install
    #[arg(
        long,
        default_value = "/usr/src/multus-cni/bin/multus",
        allow_hyphen_values = true, value_parser = path_value()
    )]
    pub multus_bin_file: PathBuf,

    /// multus' own CNI config directory; created, and written into the generated config as 'cniConf'
    #[arg(
        long,
        default_value = "/host/etc/cni/multus/net.d",
        allow_hyphen_values = true, value_parser = path_value()
    )]
    pub multus_cni_conf_dir: PathBuf,

    /// do not install the multus binary
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub skip_multus_binary_copy: bool,

    /// kubeconfig path as seen from the host, written into the generated config (auto mode)
    #[arg(
        long,
        default_value = "/etc/cni/net.d/multus.d/multus.kubeconfig",
        allow_hyphen_values = true
    )]
    pub multus_kubeconfig_file_host: String,

    /// file name of the master CNI config in --multus-autoconfig-dir; empty: the first by name
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub multus_master_cni_file_name: String,

    /// add "namespaceIsolation": true to the generated config
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub namespace_isolation: bool,

    /// comma-separated namespaces usable from every namespace under namespace isolation (auto mode)
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub global_namespaces: String,

    /// directory searched for the master CNI config (auto mode)
    #[arg(long, default_value = "/host/etc/cni/net.d", allow_hyphen_values = true, value_parser = path_value())]
    pub multus_autoconfig_dir: PathBuf,

    /// multus logs to stderr; false adds "logToStderr": false
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub multus_log_to_stderr: bool,

    /// multus log level: debug, verbose, error or panic (auto mode)
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub multus_log_level: String,

    /// multus log file (auto mode)
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub multus_log_file: String,

    /// name the generated network after the master config instead of 'multus-cni-network' (auto mode)
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub override_network_name: bool,

    /// remove the generated or copied config on exit; in auto mode also watch and regenerate
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub cleanup_config_on_exit: bool,

    /// do not watch the master config and the service account (with --cleanup-config-on-exit)
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub skip_config_watch: bool,

    /// rename the master config to FILE.old once the multus config is written (auto mode)
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub rename_conf_file: bool,

    /// add "readinessindicatorfile" to the generated config (auto mode)
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub readiness_indicator_file: String,

    /// add "binDir" (an extra plugin directory) to the generated config (auto mode)
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub additional_bin_dir: String,

    /// write 'insecure-skip-tls-verify: true' into the kubeconfig instead of the CA
    #[arg(long, hide = true, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub skip_tls_verify: bool,

    /// replace the master's cniVersion with --cni-version (end-to-end tests)
    #[arg(long, hide = true, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub force_cni_version: bool,

    /// print the flags with their defaults and exit
    #[arg(short = 'h', long, default_value = "false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, action = ArgAction::Set)]
    pub help: bool,

    /// Positional arguments: ignored, as upstream ignores them.
    #[arg(hide = true, num_args = 0..)]
    pub ignored_args: Vec<String>,

    /// Directory holding the service account's `ca.crt` and `token`: not a
    /// flag; [`DEFAULT_SERVICE_ACCOUNT_DIR`] unless [`SERVICE_ACCOUNT_DIR_ENV`] is set.
    #[arg(skip = PathBuf::from(DEFAULT_SERVICE_ACCOUNT_DIR))]
    pub service_account_dir: PathBuf,
}

/// Why the command line did not lead to a run: help was asked for, or it did
/// not parse. `message` goes to stderr, the process exits with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsExit {
    /// Exit status: [`HELP_EXIT_CODE`] or [`USAGE_EXIT_CODE`].
    pub code: i32,
    /// Text for stderr.
    pub message: String,
}

impl Options {
    /// Parses a command line (the first item is the program name). The
    /// service account directory is taken from [`SERVICE_ACCOUNT_DIR_ENV`]
    /// when that is set and not empty.
    pub fn parse_from_args<I, T>(args: I) -> Result<Self, FlagsExit>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut options = match Self::try_parse_from(args) {
            Ok(o) => o,
            Err(e) => {
                let rendered = e.render().to_string();
                // clap's first paragraph is the error itself; then pflag-style usage.
                let first = rendered.split("\n\n").next().unwrap_or_default().trim_end();
                return Err(FlagsExit {
                    code: USAGE_EXIT_CODE,
                    message: format!("{first}\nUsage of thin_entrypoint:\n{}", usage()),
                });
            }
        };
        if options.help {
            return Err(FlagsExit {
                code: HELP_EXIT_CODE,
                message: usage(),
            });
        }
        if let Some(dir) = std::env::var_os(SERVICE_ACCOUNT_DIR_ENV).filter(|d| !d.is_empty()) {
            options.service_account_dir = PathBuf::from(dir);
        }
        Ok(options)
    }

    /// Whether a config is generated (`--multus-conf-file=auto`) rather than copied.
    pub fn is_auto(&self) -> bool {
        self.multus_conf_file == AUTO
    }

    /// Whether the watch loop runs: auto mode with `--cleanup-config-on-exit`
    /// and without `--skip-config-watch`.
    pub fn watch_enabled(&self) -> bool {
        self.cleanup_config_on_exit && self.is_auto() && !self.skip_config_watch
    }
}

/// A path; unlike clap's own path parser this takes an empty value, as pflag does.
fn path_value() -> impl TypedValueParser<Value = PathBuf> {
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {s:?}")),
    }
}

/// The flag list as pflag's `PrintDefaults` lays it out: sorted by name,
/// hidden flags left out, `(default ...)` for every non-zero default.
pub fn usage() -> String {
    let command = Options::command();
    let mut rows: Vec<(String, String)> = command
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            let is_bool = a.get_num_args().is_some_and(|n| n.min_values() == 0);
            let mut left = match a.get_short() {
                Some(s) => format!("  -{s}, --{long}"),
                None => format!("      --{long}"),
            };
            if !is_bool {
                left.push_str(" string");
            }
            let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let default = a
                .get_default_values()
                .first()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_bool && default == "true" {
                help.push_str(" (default true)");
            } else if !is_bool && !default.is_empty() {
                let _ = write!(help, " (default {default:?})");
            }
            Some((left, help))
        })
        .collect();
    rows.sort_by(|a, b| {
        let name = |l: &str| l.split("--").nth(1).unwrap_or_default().to_owned();
        name(&a.0).cmp(&name(&b.0))
    });
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (left, help) in rows {
        let _ = writeln!(out, "{left:width$}   {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bool_spellings() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(go_bool(f), Ok(false));
        }
        assert!(go_bool("yes").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        Options::command().debug_assert();
    }
}
