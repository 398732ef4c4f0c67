//! Go's JSON encoding (re-exported from [`multus_types::gojson`]) and the
//! `filepath` rules upstream builds the paths in generated files with.

pub use multus_types::gojson::*;

/// Go's `filepath.Clean`: the shortest lexically equal path (`//` and `/./`
/// collapsed, `..` resolved where it can be, no trailing slash, `.` for
/// empty). Upstream builds paths with `filepath.Join`, which cleans, and those
/// paths end up inside generated files.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join(dir, name)`: the non-empty parts joined by `/`, cleaned.
pub fn join_path(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean_path(name),
        (false, true) => clean_path(dir),
        (false, false) => clean_path(&format!("{dir}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cleaned_as_go() {
        let cases = [
            ("/host/etc/cni/net.d/", "/host/etc/cni/net.d"),
            ("a//b/./c/..", "a/b"),
            ("/../x", "/x"),
            ("../../x", "../../x"),
            ("", "."),
            ("/", "/"),
        ];
        for (p, want) in cases {
            assert_eq!(clean_path(p), want, "{p}");
        }
        assert_eq!(
            join_path("/etc/cni/net.d/", "10-a.conf"),
            "/etc/cni/net.d/10-a.conf"
        );
        assert_eq!(join_path("", "10-a.conf"), "10-a.conf");
        assert_eq!(join_path("/d", "/abs.conf"), "/d/abs.conf");
    }
}
