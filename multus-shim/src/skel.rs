//! The CNI entry checks libcni's `skel` makes before a plugin's own code runs:
//! the `CNI_*` environment, container id, interface and network names, the
//! config's `cniVersion`, and the answers to `VERSION` and to no command.
//!
//! The same rules as `multus_cli::skel`, restated here because this crate must
//! not link multus-cli (kube, TLS, netlink); the texts and codes are libcni's.

use multus_types::{CniError, CniVersion, ErrorCode, compare_version_strings, is_cni_identifier};

/// The text printed (with the supported versions) when no `CNI_COMMAND` is set.
pub const ABOUT: &str = "multus-rs shim: meta-plugin that delegates to other CNI plugins";

/// The longest interface name Linux accepts (`IFNAMSIZ - 1`).
const MAX_IFNAME_LEN: usize = 15;

/// A CNI command (`CNI_COMMAND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `ADD`.
    Add,
    /// `DEL`.
    Del,
    /// `CHECK` (0.4.0+).
    Check,
    /// `STATUS` (1.1.0).
    Status,
    /// `GC` (1.1.0).
    Gc,
    /// `VERSION`.
    Version,
}

impl Command {
    /// The value of `CNI_COMMAND`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "ADD",
            Self::Del => "DEL",
            Self::Check => "CHECK",
            Self::Status => "STATUS",
            Self::Gc => "GC",
            Self::Version => "VERSION",
        }
    }

    /// The command named by an exact `CNI_COMMAND` value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Add,
            Self::Del,
            Self::Check,
            Self::Status,
            Self::Gc,
            Self::Version,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// The handler name upstream's shim puts in front of its errors
    /// (`CmdAdd (shim): ...`).
    pub const fn handler(self) -> &'static str {
        match self {
            Self::Add => "CmdAdd",
            Self::Del => "CmdDel",
            Self::Check => "CmdCheck",
            Self::Status => "CmdStatus",
            Self::Gc => "CmdGC",
            Self::Version => "CmdVersion",
        }
    }

    fn required_env(self) -> &'static [&'static str] {
        match self {
            Self::Add | Self::Check => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
            Self::Del => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
            Self::Gc | Self::Status => &["CNI_PATH"],
            Self::Version => &[],
        }
    }
}

/// One checked network operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdArgs {
    /// The operation (never [`Command::Version`]).
    pub command: Command,
    /// `CNI_NETNS`, for the own-namespace check.
    pub netns: String,
    /// The config on stdin, byte for byte.
    pub stdin: Vec<u8>,
}

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// No `CNI_COMMAND`: print the about text.
    About,
    /// `VERSION`: print the supported versions.
    Version,
    /// A network operation that passed skel's checks.
    Run(CmdArgs),
}

/// Reads and checks the invocation. `env` looks a variable up; `read_stdin` is
/// called only for commands that take a config.
///
/// # Errors
/// The CNI error object skel would print, with its code.
pub fn invocation(
    env: impl Fn(&str) -> Option<String>,
    read_stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Invocation, CniError> {
    let Some(cmd) = env("CNI_COMMAND").filter(|c| !c.is_empty()) else {
        return Ok(Invocation::About);
    };
    let command = Command::parse(&cmd).ok_or_else(|| {
        CniError::new(
            ErrorCode::InvalidEnvironmentVariables,
            format!("unknown CNI_COMMAND: {cmd}"),
        )
    })?;
    let missing: Vec<&str> = command
        .required_env()
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
    let version = validate_config(&stdin)?;
    if matches!(command, Command::Add | Command::Del | Command::Check) {
        validate_container_id(&env("CNI_CONTAINERID").unwrap_or_default())?;
        validate_ifname(&env("CNI_IFNAME").unwrap_or_default())?;
    }
    check_version(command, &version)?;
    Ok(Invocation::Run(CmdArgs {
        command,
        netns: env("CNI_NETNS").unwrap_or_default(),
        stdin,
    }))
}

/// The config must be a JSON object with a valid `name`; returns its `cniVersion`.
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
    let name = field("name");
    if name.is_empty() {
        return Err(CniError::new(
            ErrorCode::InvalidNetworkConfig,
            "missing network name",
        ));
    }
    if !is_cni_identifier(&name) {
        return Err(CniError::new(
            ErrorCode::InvalidNetworkConfig,
            "invalid characters found in network name",
        )
        .with_details(name));
    }
    Ok(field("cniVersion"))
}

fn validate_container_id(id: &str) -> Result<(), CniError> {
    if id.is_empty() {
        return Err(CniError::new(
            ErrorCode::UnknownContainer,
            "missing containerID",
        ));
    }
    if !is_cni_identifier(id) {
        return Err(CniError::new(
            ErrorCode::InvalidEnvironmentVariables,
            "invalid characters in containerID",
        )
        .with_details(id));
    }
    Ok(())
}

fn validate_ifname(ifname: &str) -> Result<(), CniError> {
    let err = |msg: &str| CniError::new(ErrorCode::InvalidEnvironmentVariables, msg);
    if ifname.is_empty() {
        return Err(err("interface name is empty"));
    }
    if ifname.len() > MAX_IFNAME_LEN {
        return Err(err("interface name is too long").with_details(format!(
            "interface name should be less than {} characters",
            MAX_IFNAME_LEN + 1
        )));
    }
    if ifname == "." || ifname == ".." {
        return Err(err("interface name is . or .."));
    }
    if ifname
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Err(err(
            "interface name contains / or : or whitespace characters",
        ));
    }
    Ok(())
}

/// The config's version must be one of the seven, and new enough for the command.
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
        Command::Check => Some("0.4.0"),
        Command::Status | Command::Gc => Some("1.1.0"),
        _ => None,
    };
    if let Some(min) = minimum
        && compare_version_strings(effective, min).is_ok_and(|o| o.is_lt())
    {
        return Err(CniError::new(
            ErrorCode::IncompatibleCniVersion,
            format!("config version does not allow {}", command.as_str()),
        ));
    }
    Ok(())
}

/// skel refuses ADD and DEL in the plugin's own network namespace unless
/// `CNI_NETNS_OVERRIDE` is `1`/`true`.
///
/// # Errors
/// Code 5 when `netns` is the namespace this process runs in.
pub fn check_not_own_netns(netns: &str, override_var: Option<&str>) -> Result<(), CniError> {
    use std::os::unix::fs::MetadataExt;
    if netns.is_empty() || override_var.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    {
        return Ok(());
    }
    let id = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    match (id("/proc/self/ns/net"), id(netns)) {
        (Some(a), Some(b)) if a == b => Err(CniError::new(
            ErrorCode::InvalidNetNs,
            "plugin's netns and netns from CNI_NETNS should not be the same",
        )),
        _ => Ok(()),
    }
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

/// The error object as skel prints it on stdout (four-space indented JSON).
pub fn error_json(err: &CniError) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    match serde::Serialize::serialize(err, &mut ser) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => format!("{{\"code\":{},\"msg\":{:?}}}", err.code.code(), err.msg),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
    fn about_and_version() {
        assert_eq!(run(&[], "").unwrap(), Invocation::About);
        assert!(about_text().ends_with("0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"));
        assert_eq!(
            run(&[("CNI_COMMAND", "VERSION")], "not json").unwrap(),
            Invocation::Version
        );
        assert_eq!(
            version_json(),
            r#"{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#
        );
    }

    #[test]
    fn environment_checks() {
        let e = run(&[("CNI_COMMAND", "FOO")], "").unwrap_err();
        assert_eq!(e.msg, "unknown CNI_COMMAND: FOO");
        let e = run(&[("CNI_COMMAND", "DEL")], "").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                ErrorCode::InvalidEnvironmentVariables,
                "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing"
            )
        );
        let mut bad = ADD.to_vec();
        bad[1] = ("CNI_CONTAINERID", "../x");
        assert_eq!(run(&bad, r#"{"name":"n"}"#).unwrap_err().code.code(), 4);
        let mut bad = ADD.to_vec();
        bad[3] = ("CNI_IFNAME", "eth0:1");
        assert_eq!(run(&bad, r#"{"name":"n"}"#).unwrap_err().code.code(), 4);
    }

    #[test]
    fn config_checks() {
        let Invocation::Run(args) = run(ADD, r#"{"cniVersion":"0.3.1","name":"m"}"#).unwrap()
        else {
            panic!("expected a run")
        };
        assert_eq!(args.command, Command::Add);
        assert_eq!(run(ADD, "{").unwrap_err().code, ErrorCode::DecodingFailure);
        assert_eq!(run(ADD, "{}").unwrap_err().msg, "missing network name");
        let e = run(ADD, r#"{"cniVersion":"9.9.9","name":"m"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::IncompatibleCniVersion);
        let status = [("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/x")];
        let e = run(&status, r#"{"cniVersion":"1.0.0","name":"m"}"#).unwrap_err();
        assert_eq!(e.msg, "config version does not allow STATUS");
    }

    #[test]
    fn own_netns_is_refused() {
        let e = check_not_own_netns("/proc/self/ns/net", None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidNetNs);
        assert!(check_not_own_netns("/proc/self/ns/net", Some("1")).is_ok());
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
