//! The CNI entry point, as libcni's `skel` runs a plugin: the `CNI_*`
//! environment, the checks made before the plugin's own code, VERSION, the
//! about text, and the error object printed on failure.

use std::path::Path;

use multus_types::{CniError, CniVersion, ErrorCode, ToCniError, compare_version_strings};

/// The text printed (with the supported versions) when no `CNI_COMMAND` is set.
pub const ABOUT: &str = "multus-rs: meta-plugin that delegates to other CNI plugins";

pub use multus_delegate::Command;

/// The variables skel requires for a command.
fn required_env(command: Command) -> &'static [&'static str] {
    match command {
        Command::Add | Command::Check => {
            &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        }
        Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
        Command::Gc | Command::Status => &["CNI_PATH"],
        Command::Version => &[],
    }
}

/// The variables of the CNI protocol; each must be UTF-8 when set.
pub const CNI_ENV: &[&str] = &[
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CNI_PATH",
    "CNI_NETNS_OVERRIDE",
];

/// The largest network config read from stdin (16 MiB: a config is a few
/// KiB; even a conflist carrying a large `prevResult` stays far below).
pub const MAX_STDIN: u64 = 16 << 20;

/// Refuses a CNI variable that is set but not UTF-8: read as "unset", a
/// `CNI_ARGS` would run the ADD without the pod's identity and a
/// `CNI_COMMAND` would print the about text and succeed. `env_os` looks up
/// a variable as the OS holds it.
///
/// ```
/// use std::ffi::OsString;
/// use std::os::unix::ffi::OsStringExt;
/// let bad = |k: &str| (k == "CNI_ARGS").then(|| OsString::from_vec(vec![b'K', 0xff]));
/// let e = multus_cli::skel::check_env_encoding(bad).unwrap_err();
/// assert_eq!(e.msg, "CNI_ARGS is not valid UTF-8");
/// assert_eq!(e.code.code(), 4);
/// ```
pub fn check_env_encoding(
    env_os: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(), CniError> {
    match CNI_ENV
        .iter()
        .find(|name| env_os(name).is_some_and(|v| v.to_str().is_none()))
    {
        Some(name) => Err(CniError::new(
            ErrorCode::InvalidEnvironmentVariables,
            format!("{name} is not valid UTF-8"),
        )),
        None => Ok(()),
    }
}

/// Reads the network config from `input`, at most [`MAX_STDIN`] bytes; a
/// larger input is an error naming the limit, not an unbounded allocation.
pub fn read_config(input: impl std::io::Read) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    input.take(MAX_STDIN + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_STDIN {
        return Err(std::io::Error::other(format!(
            "the network config is larger than the {} MiB limit",
            MAX_STDIN >> 20
        )));
    }
    Ok(buf)
}

/// Writes a plugin's answer on stdout; the exit code says whether it got out.
pub fn print_ok(text: &str) -> std::process::ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

/// Writes `err` as the CNI error object on stdout; always a failure.
pub fn print_err(err: &CniError) -> std::process::ExitCode {
    use std::io::Write as _;
    let _ = std::io::stdout()
        .lock()
        .write_all(error_json(err).as_bytes());
    std::process::ExitCode::FAILURE
}

/// Everything the runtime passed for one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdArgs {
    /// The operation.
    pub command: Command,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: String,
    /// `CNI_PATH`.
    pub path: String,
    /// The config on stdin.
    pub stdin: Vec<u8>,
    /// The config's `cniVersion` as written.
    pub cni_version: String,
}

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// No `CNI_COMMAND`: print the about text.
    About,
    /// `VERSION`: print the supported versions.
    Version,
    /// A network operation, checked as skel checks it.
    Run(CmdArgs),
}

/// Reads and checks the invocation. `env` looks up a variable, `read_stdin`
/// is called only for commands that take a config.
pub fn invocation(
    env: impl Fn(&str) -> Option<String>,
    read_stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Invocation, CniError> {
    let Some(cmd) = env("CNI_COMMAND").filter(|c| !c.is_empty()) else {
        return Ok(Invocation::About);
    };
    let command = Command::from_cni_command(&cmd).ok_or_else(|| {
        CniError::new(
            ErrorCode::InvalidEnvironmentVariables,
            format!("unknown CNI_COMMAND: {cmd}"),
        )
    })?;
    let missing: Vec<&str> = required_env(command)
        .iter()
        .copied()
        .filter(|v| env(v).is_none_or(|s| s.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(CniError::new(
            ErrorCode::InvalidEnvironmentVariables,
            format!("required env variables [{}] missing", missing.join(",")),
        ));
    }
    if command == Command::Version {
        return Ok(Invocation::Version);
    }
    let stdin = read_stdin().map_err(|e| {
        CniError::new(
            ErrorCode::IoFailure,
            format!("error reading from stdin: {e}"),
        )
    })?;
    let cni_version = validate_config(&stdin)?;
    let args = CmdArgs {
        command,
        container_id: env("CNI_CONTAINERID").unwrap_or_default(),
        netns: env("CNI_NETNS").unwrap_or_default(),
        ifname: env("CNI_IFNAME").unwrap_or_default(),
        args: env("CNI_ARGS").unwrap_or_default(),
        path: env("CNI_PATH").unwrap_or_default(),
        stdin,
        cni_version,
    };
    if matches!(command, Command::Add | Command::Del | Command::Check) {
        multus_delegate::validate_container_id(&args.container_id).map_err(|e| e.to_cni_error())?;
        multus_delegate::validate_ifname(&args.ifname).map_err(|e| e.to_cni_error())?;
    }
    check_version(command, &args.cni_version)?;
    Ok(Invocation::Run(args))
}

/// The config must be JSON with a valid `name`; returns its `cniVersion`.
fn validate_config(stdin: &[u8]) -> Result<String, CniError> {
    let value: serde_json::Value = serde_json::from_slice(stdin).map_err(|e| {
        CniError::new(
            ErrorCode::DecodingFailure,
            format!("error unmarshall network config: {e}"),
        )
    })?;
    let field = |k: &str| {
        value
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    multus_delegate::validate_network_name(&field("name")).map_err(|e| e.to_cni_error())?;
    Ok(field("cniVersion"))
}

/// The config's version must be one we speak, and new enough for the command.
fn check_version(command: Command, version: &str) -> Result<(), CniError> {
    let effective = if version.is_empty() {
        CniVersion::V0_1_0.as_str()
    } else {
        version
    };
    if effective.parse::<CniVersion>().is_err() {
        let supported: Vec<String> = CniVersion::ALL
            .iter()
            .map(|v| format!("{:?}", v.as_str()))
            .collect();
        return Err(CniError::new(
            ErrorCode::IncompatibleCniVersion,
            "incompatible CNI versions",
        )
        .with_details(format!(
            "config is {version:?}, plugin supports [{}]",
            supported.join(" ")
        )));
    }
    let minimum = match command {
        Command::Check => Some(("0.4.0", "CHECK")),
        Command::Status => Some(("1.1.0", "STATUS")),
        Command::Gc => Some(("1.1.0", "GC")),
        _ => None,
    };
    if let Some((min, name)) = minimum
        && compare_version_strings(effective, min).is_ok_and(|o| o.is_lt())
    {
        return Err(CniError::new(
            ErrorCode::IncompatibleCniVersion,
            format!("config version does not allow {name}"),
        ));
    }
    Ok(())
}

/// skel refuses ADD and DEL in the plugin's own network namespace unless
/// `CNI_NETNS_OVERRIDE` is `1`/`true`: a misconfigured runtime would otherwise
/// have multus rewire the host.
pub fn check_not_own_netns(netns: &str, override_var: Option<&str>) -> Result<(), CniError> {
    if netns.is_empty() || override_var.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    {
        return Ok(());
    }
    let same = |a: &Path, b: &Path| match (nix::sys::stat::stat(a), nix::sys::stat::stat(b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    };
    if same(Path::new("/proc/self/ns/net"), Path::new(netns)) {
        return Err(CniError::new(
            ErrorCode::InvalidNetNs,
            "plugin's netns and netns from CNI_NETNS should not be the same",
        ));
    }
    Ok(())
}

/// The `VERSION` answer: `{"cniVersion":"1.1.0","supportedVersions":[...]}`.
pub fn version_json() -> String {
    serde_json::json!({
        "cniVersion": CniVersion::CURRENT.as_str(),
        "supportedVersions": CniVersion::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
    })
    .to_string()
}

/// The about text with the supported versions, as skel prints it on stderr.
pub fn about_text() -> String {
    let versions: Vec<&str> = CniVersion::ALL.iter().map(|v| v.as_str()).collect();
    format!(
        "{ABOUT}\nCNI protocol versions supported: {}",
        versions.join(", ")
    )
}

/// The error object as skel prints it on stdout (4-space indented JSON).
pub fn error_json(err: &CniError) -> String {
    pretty(&serde_json::to_value(err).unwrap_or_default())
}

/// JSON indented with four spaces, as Go's `MarshalIndent(v, "", "    ")`.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    match serde::Serialize::serialize(value, &mut ser) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)], stdin: &str) -> Result<Invocation, CniError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let stdin = stdin.as_bytes().to_vec();
        invocation(|k| env.get(k).cloned(), move || Ok(stdin))
    }

    const ADD: &[(&str, &str)] = &[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_NETNS", "/run/netns/x"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin"),
    ];

    #[test]
    fn no_command_is_about() {
        assert_eq!(run(&[], "").unwrap(), Invocation::About);
        assert!(about_text().ends_with("0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"));
    }

    #[test]
    fn version_needs_nothing_else() {
        assert_eq!(
            run(&[("CNI_COMMAND", "VERSION")], "garbage").unwrap(),
            Invocation::Version
        );
        assert_eq!(
            version_json(),
            r#"{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
        );
    }

    #[test]
    fn unknown_command_and_missing_env() {
        let e = run(&[("CNI_COMMAND", "FOO")], "").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                ErrorCode::InvalidEnvironmentVariables,
                "unknown CNI_COMMAND: FOO"
            )
        );
        let e = run(&[("CNI_COMMAND", "ADD"), ("CNI_IFNAME", "eth0")], "").unwrap_err();
        assert_eq!(
            e.msg,
            "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_PATH] missing"
        );
        let e = run(&[("CNI_COMMAND", "DEL")], "").unwrap_err();
        assert_eq!(
            e.msg,
            "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing"
        );
        let e = run(&[("CNI_COMMAND", "STATUS")], "").unwrap_err();
        assert_eq!(e.msg, "required env variables [CNI_PATH] missing");
    }

    #[test]
    fn config_checks() {
        let ok = run(
            ADD,
            r#"{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus"}"#,
        )
        .unwrap();
        let Invocation::Run(args) = ok else {
            panic!("expected a run")
        };
        assert_eq!(
            (args.container_id.as_str(), args.cni_version.as_str()),
            ("c1", "0.3.1")
        );

        let e = run(ADD, "{").unwrap_err();
        assert_eq!(e.code, ErrorCode::DecodingFailure);
        let e = run(ADD, r#"{"type":"multus"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (ErrorCode::InvalidNetworkConfig, "missing network name")
        );
        let e = run(ADD, r#"{"name":"a b"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidNetworkConfig);
    }

    #[test]
    fn version_gates() {
        let e = run(ADD, r#"{"cniVersion":"0.5.0","name":"n"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::IncompatibleCniVersion);
        assert!(
            e.details
                .starts_with(r#"config is "0.5.0", plugin supports ["0.1.0" "0.2.0""#),
            "{}",
            e.details
        );
        let mut check = ADD.to_vec();
        check[0] = ("CNI_COMMAND", "CHECK");
        let e = run(&check, r#"{"cniVersion":"0.3.1","name":"n"}"#).unwrap_err();
        assert_eq!(e.msg, "config version does not allow CHECK");
        assert!(run(&check, r#"{"cniVersion":"0.4.0","name":"n"}"#).is_ok());
        let status = [("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")];
        let e = run(&status, r#"{"cniVersion":"1.0.0","name":"n"}"#).unwrap_err();
        assert_eq!(e.msg, "config version does not allow STATUS");
        assert!(run(&status, r#"{"cniVersion":"1.1.0","name":"n"}"#).is_ok());
    }

    #[test]
    fn container_id_and_ifname_are_validated() {
        let mut bad = ADD.to_vec();
        bad[1] = ("CNI_CONTAINERID", "../etc");
        let e = run(&bad, r#"{"name":"n"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidEnvironmentVariables);
        let mut bad = ADD.to_vec();
        bad[3] = ("CNI_IFNAME", "a-much-too-long-name");
        assert!(run(&bad, r#"{"name":"n"}"#).is_err());
    }

    #[test]
    fn own_netns_is_refused_without_override() {
        let e = check_not_own_netns("/proc/self/ns/net", None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidNetNs);
        assert!(check_not_own_netns("/proc/self/ns/net", Some("true")).is_ok());
        assert!(check_not_own_netns("", None).is_ok());
    }

    #[test]
    fn error_json_is_indented_like_go() {
        let e = CniError::new(ErrorCode::Internal, "boom");
        assert_eq!(
            error_json(&e),
            "{\n    \"code\": 999,\n    \"msg\": \"boom\"\n}"
        );
    }
}
