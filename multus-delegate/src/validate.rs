//! libcni's checks of the runtime arguments of an `ADD`.

use multus_types::{CniError, ErrorCode, is_cni_identifier};

use crate::Error;

/// The longest interface name Linux accepts (`IFNAMSIZ - 1`).
pub const MAX_IFNAME_LEN: usize = 15;

/// Checks a container id as libcni does before an `ADD`: non-empty and
/// matching `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
///
/// # Errors
/// [`Error::InvalidArgument`] with code 3 (`missing containerID`) or 4
/// (`invalid characters in containerID`).
///
/// ```
/// use multus_delegate::validate_container_id;
/// assert!(validate_container_id("c0ffee-1").is_ok());
/// assert!(validate_container_id("-bad").is_err());
/// ```
pub fn validate_container_id(container_id: &str) -> Result<(), Error> {
    if container_id.is_empty() {
        return Err(invalid(
            ErrorCode::UnknownContainer,
            "missing containerID",
            "",
        ));
    }
    if !is_cni_identifier(container_id) {
        return Err(invalid(
            ErrorCode::InvalidEnvironmentVariables,
            "invalid characters in containerID",
            container_id,
        ));
    }
    Ok(())
}

/// Checks a network name as libcni does before an `ADD`: the rule of
/// [`multus_types::validate_network_name`], with libcni's error object.
///
/// # Errors
/// [`Error::InvalidArgument`] with code 7: `missing network name`, or
/// `invalid characters found in network name` with the name as details.
///
/// ```
/// use multus_delegate::validate_network_name;
/// assert!(validate_network_name("blue-1.x").is_ok());
/// assert_eq!(
///     validate_network_name("a/b").unwrap_err().to_string(),
///     "invalid characters found in network name; a/b"
/// );
/// ```
pub fn validate_network_name(name: &str) -> Result<(), Error> {
    multus_types::validate_network_name(name).map_err(|_| {
        if name.is_empty() {
            invalid(ErrorCode::InvalidNetworkConfig, "missing network name", "")
        } else {
            invalid(
                ErrorCode::InvalidNetworkConfig,
                "invalid characters found in network name",
                name,
            )
        }
    })
}

/// Checks an interface name as libcni does before an `ADD`: 1 to 15 bytes,
/// not `.` or `..`, without `/`, `:` or whitespace.
///
/// # Errors
/// [`Error::InvalidArgument`] with code 4 and libcni's message.
///
/// ```
/// use multus_delegate::validate_ifname;
/// assert!(validate_ifname("net1").is_ok());
/// assert!(validate_ifname("a-very-long-ifname").is_err());
/// assert!(validate_ifname("eth0:1").is_err());
/// ```
pub fn validate_ifname(ifname: &str) -> Result<(), Error> {
    let code = ErrorCode::InvalidEnvironmentVariables;
    if ifname.is_empty() {
        return Err(invalid(code, "interface name is empty", ""));
    }
    if ifname.len() > MAX_IFNAME_LEN {
        return Err(invalid(
            code,
            "interface name is too long",
            &format!(
                "interface name should be less than {} characters",
                MAX_IFNAME_LEN + 1
            ),
        ));
    }
    if ifname == "." || ifname == ".." {
        return Err(invalid(code, "interface name is . or ..", ""));
    }
    if ifname
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Err(invalid(
            code,
            "interface name contains / or : or whitespace characters",
            "",
        ));
    }
    Ok(())
}

fn invalid(code: ErrorCode, msg: &str, details: &str) -> Error {
    Error::InvalidArgument(CniError::new(code, msg).with_details(details))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use multus_types::ToCniError;

    use super::*;

    #[test]
    fn container_ids() {
        assert!(validate_container_id("a").is_ok());
        assert!(validate_container_id("A0_.-z").is_ok());
        let e = validate_container_id("").unwrap_err();
        assert_eq!(e.cni_code(), ErrorCode::UnknownContainer);
        let e = validate_container_id("a b").unwrap_err();
        assert_eq!(e.cni_code().code(), 4);
        assert_eq!(e.to_string(), "invalid characters in containerID; a b");
    }

    #[test]
    fn ifnames() {
        assert!(validate_ifname("eth0").is_ok());
        assert!(validate_ifname("123456789012345").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "1234567890123456",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
        ] {
            let e = validate_ifname(bad).unwrap_err();
            assert_eq!(e.cni_code().code(), 4, "{bad:?}");
        }
        assert_eq!(
            validate_ifname("1234567890123456").unwrap_err().to_string(),
            "interface name is too long; interface name should be less than 16 characters"
        );
    }

    #[test]
    fn network_names() {
        assert!(validate_network_name("blue-1.x").is_ok());
        assert_eq!(
            validate_network_name("").unwrap_err().cni_code(),
            ErrorCode::InvalidNetworkConfig
        );
        assert!(validate_network_name("a/b").is_err());
        // libcni's texts, code 7 for both.
        let e = validate_network_name("").unwrap_err();
        assert_eq!(e.to_string(), "missing network name");
        let e = validate_network_name("-a").unwrap_err();
        assert_eq!(e.cni_code().code(), 7);
        assert_eq!(
            e.to_string(),
            "invalid characters found in network name; -a"
        );
    }
}
