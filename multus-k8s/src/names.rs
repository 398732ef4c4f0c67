//! Names that go into API paths.
//!
//! The JSON form of the networks annotation does not validate names (as
//! upstream), and `CNI_ARGS` can carry anything, so every namespace and name
//! is checked and escaped before it becomes part of a URL. kube's `Api`
//! pastes names into the path as they are, so `good?x=y` would GET `good`
//! with a query and `pod#frag` would GET `pod`: a different object than the
//! one named, under an alias that admission policies keyed on the name never
//! see. Like Go's client, every byte outside the URL's unreserved set is
//! percent-encoded, so the API server sees the name as written (and answers
//! 404 for a name no object can have). Names that would change the path's
//! shape even when escaped (empty, `.`, `..`, containing `/`) and control
//! characters are refused without a request.

use std::borrow::Cow;

use crate::Error;

/// Checks that `value` can be used as one segment of an API path and returns
/// it percent-encoded for the path (borrowed when nothing needs escaping).
///
/// ```
/// use multus_k8s::names::path_segment;
/// assert_eq!(path_segment("name", "macvlan-conf-1").unwrap(), "macvlan-conf-1");
/// assert_eq!(path_segment("name", "good?x=y").unwrap(), "good%3Fx%3Dy");
/// assert_eq!(path_segment("name", "pod#frag").unwrap(), "pod%23frag");
/// assert!(path_segment("name", "../pods/x").is_err());
/// assert!(path_segment("namespace", "").is_err());
/// ```
pub fn path_segment<'a>(what: &'static str, value: &'a str) -> Result<Cow<'a, str>, Error> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value == "." || value == ".." {
        "it may not be '.' or '..'"
    } else if value.contains('/') {
        "it may not contain '/'"
    } else if value.chars().any(char::is_control) {
        "it may not contain control characters"
    } else {
        return Ok(escape(value));
    };
    Err(Error::InvalidName {
        what,
        value: value.to_owned(),
        reason,
    })
}

/// RFC 3986 unreserved characters stay; every other byte becomes `%XX`.
fn escape(value: &str) -> Cow<'_, str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if value.bytes().all(unreserved) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    Cow::Owned(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        for ok in ["a", "macvlan-conf", "UPPER", "a.b", "x@y", "名前", "a%2f"] {
            assert!(path_segment("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            let e = path_segment("name", bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid name"), "{e}");
        }
    }

    #[test]
    fn everything_that_could_change_the_request_is_escaped() {
        let cases = [
            ("good?x=y", "good%3Fx%3Dy"),
            ("pod#frag", "pod%23frag"),
            ("a%2f", "a%252f"),
            ("x@y", "x%40y"),
            ("sp ace", "sp%20ace"),
            ("名", "%E5%90%8D"),
            ("a;b", "a%3Bb"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(path_segment("name", raw).unwrap(), escaped, "{raw}");
        }
        assert!(matches!(
            path_segment("name", "plain-name.1").unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
