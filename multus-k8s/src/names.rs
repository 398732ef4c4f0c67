//! Names that go into API paths.
//!
//! The JSON form of the networks annotation does not validate names (as
//! upstream), and `CNI_ARGS` can carry anything, so every namespace and name
//! is checked before it becomes part of a URL: the API server's own rule for
//! path segments (not empty, not `.` or `..`, no `/` or `%`). A name that
//! breaks it could otherwise address a different resource.

use crate::Error;

/// Checks that `value` can be used as one segment of an API path.
///
/// ```
/// use multus_k8s::names::check_path_segment;
/// assert!(check_path_segment("name", "macvlan-conf-1").is_ok());
/// assert!(check_path_segment("name", "../pods/x").is_err());
/// assert!(check_path_segment("namespace", "").is_err());
/// ```
pub fn check_path_segment(what: &'static str, value: &str) -> Result<(), Error> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value == "." || value == ".." {
        "it may not be '.' or '..'"
    } else if value.contains('/') {
        "it may not contain '/'"
    } else if value.contains('%') {
        "it may not contain '%'"
    } else if value.chars().any(char::is_control) {
        "it may not contain control characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        what,
        value: value.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        for ok in ["a", "macvlan-conf", "UPPER", "a.b", "x@y", "名前"] {
            assert!(check_path_segment("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a%2f", "a\nb"] {
            let e = check_path_segment("name", bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid name"), "{e}");
        }
    }
}
