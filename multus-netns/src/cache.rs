//! Rewriting default routes in cached CNI results.
//!
//! libcni caches each attachment's result at
//! `<cniDir>/results/<netName>-<containerID>-<ifName>`. When Multus moves
//! the pod's default route it rewrites that cached result too, so that a
//! later CHECK or a runtime reading the cache sees the routes the pod really
//! has. The cache file (its `cniCacheV1` envelope, legacy bare results, the
//! atomic 0600 write) belongs to `multus-delegate`
//! (`ResultCache::update_result`); this module only edits the result JSON,
//! as a pure function ([`rewrite_default_routes`]) that the caller hands to
//! it:
//!
//! ```text
//! results.update_result(net, container_id, ifname, |result| {
//!     multus_netns::rewrite_default_routes(result, remove_v4, remove_v6, &add)
//! })?;
//! ```

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::Error;
use crate::default_route::{IpFamily, family_of};

/// How a result lays out its routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// 0.1.0 / 0.2.0 (or no `cniVersion`): `ip4.routes` and `ip6.routes`.
    Legacy,
    /// 0.3.x, 0.4.0, 1.x: top-level `routes`.
    Current,
}

fn layout(result: &Map<String, Value>) -> Result<Layout, Error> {
    match result.get("cniVersion") {
        None => Ok(Layout::Legacy),
        Some(Value::String(v)) if v == "0.1.0" || v == "0.2.0" => Ok(Layout::Legacy),
        Some(Value::String(v)) if supported_current_version(v) => Ok(Layout::Current),
        Some(Value::String(v)) => Err(Error::CachedResult(format!("not supported version: {v}"))),
        Some(other) => Err(Error::CachedResult(format!(
            "wrong cniVersion format: {other}"
        ))),
    }
}

/// 0.3.0, 0.3.1, 0.4.0 and anything `>= 1.0.0` (upstream
/// `isSupportedGatewayResultVersion`).
fn supported_current_version(v: &str) -> bool {
    if matches!(v, "0.3.0" | "0.3.1" | "0.4.0") {
        return true;
    }
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
    matches!(nums.as_deref(), Some([major, _, _]) if *major >= 1)
}

/// Parses `addr/len`; `None` if it is not that.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    Some((addr, len))
}

/// What a cached route is, as far as default routes go.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A default route of a known family (`0.0.0.0/0`, `::/0`, `::0/0`, any
    /// `x/0`, or no `dst` with a gateway telling the family).
    Default(IpFamily),
    /// No `dst` and nothing telling the family.
    DefaultUnknownFamily,
    /// Anything else.
    Other,
}

fn route_kind(route: &Value, section: Option<IpFamily>) -> Result<Kind, Error> {
    let Value::Object(obj) = route else {
        return Err(Error::CachedResult(format!("wrong route format: {route}")));
    };
    match obj.get("dst") {
        None | Some(Value::Null) => {
            if let Some(f) = section {
                return Ok(Kind::Default(f));
            }
            let gw = obj
                .get("gw")
                .and_then(Value::as_str)
                .and_then(|g| g.parse::<IpAddr>().ok());
            Ok(gw.map_or(Kind::DefaultUnknownFamily, |g| Kind::Default(family_of(g))))
        }
        Some(Value::String(dst)) => match parse_cidr(dst) {
            Some((addr, 0)) => Ok(Kind::Default(section.unwrap_or(family_of(addr)))),
            _ => Ok(Kind::Other),
        },
        Some(other) => Err(Error::CachedResult(format!("wrong dst format: {other}"))),
    }
}

fn route_gw(route: &Value) -> Option<IpAddr> {
    route
        .get("gw")
        .and_then(Value::as_str)
        .and_then(|g| g.parse::<IpAddr>().ok())
        .map(|g| g.to_canonical())
}

/// Filters and extends one `routes` array in place. `section` is the family
/// of a 0.1/0.2 `ip4`/`ip6` section, `None` for the top-level list.
fn edit_routes(
    routes: &mut Vec<Value>,
    section: Option<IpFamily>,
    remove_v4: bool,
    remove_v6: bool,
    add: &[IpAddr],
) -> Result<(), Error> {
    let removes = |f: IpFamily| match f {
        IpFamily::V4 => remove_v4,
        IpFamily::V6 => remove_v6,
    };
    // Classify first so a malformed entry leaves the list untouched.
    let kinds = routes
        .iter()
        .map(|r| route_kind(r, section))
        .collect::<Result<Vec<_>, _>>()?;
    let mut kept = Vec::with_capacity(routes.len() + add.len());
    for (r, kind) in routes.drain(..).zip(kinds) {
        let drop = match kind {
            Kind::Default(f) => removes(f),
            Kind::DefaultUnknownFamily => remove_v4 || remove_v6,
            Kind::Other => false,
        };
        if !drop {
            kept.push(r);
        }
    }
    for gw in add.iter().map(IpAddr::to_canonical) {
        let family = family_of(gw);
        if section.is_some_and(|s| s != family) {
            continue;
        }
        let present = kept.iter().any(|r| {
            matches!(route_kind(r, section), Ok(Kind::Default(f)) if f == family)
                && route_gw(r) == Some(gw)
        });
        if present {
            continue;
        }
        let dst = match family {
            IpFamily::V4 => "0.0.0.0/0",
            IpFamily::V6 => "::/0",
        };
        let mut obj = Map::new();
        obj.insert("dst".into(), Value::String(dst.into()));
        obj.insert("gw".into(), Value::String(gw.to_string()));
        kept.push(Value::Object(obj));
    }
    *routes = kept;
    Ok(())
}

/// Edits the `routes` member of `obj` (creating it when routes are added,
/// removing it when it ends up empty).
fn edit_routes_member(
    obj: &mut Map<String, Value>,
    what: &str,
    section: Option<IpFamily>,
    remove_v4: bool,
    remove_v6: bool,
    add: &[IpAddr],
) -> Result<(), Error> {
    match obj.get_mut("routes") {
        None | Some(Value::Null) => {
            let mut routes = Vec::new();
            edit_routes(&mut routes, section, remove_v4, remove_v6, add)?;
            if !routes.is_empty() {
                obj.insert("routes".into(), Value::Array(routes));
            }
        }
        Some(Value::Array(routes)) => {
            edit_routes(routes, section, remove_v4, remove_v6, add)?;
            if routes.is_empty() {
                obj.shift_remove("routes");
            }
        }
        Some(other) => {
            return Err(Error::CachedResult(format!(
                "wrong {what}routes format: {other}"
            )));
        }
    }
    Ok(())
}

/// Rewrites the default routes of a CNI result of any version, in place.
///
/// * Removes the default routes of the families asked for: `dst`
///   `0.0.0.0/0` (IPv4), `::/0` or `::0/0` (IPv6) — any spelling with prefix
///   length 0 — and routes without `dst` (the family then comes from the
///   section or the gateway; without either such a route is removed when
///   either family is).
/// * Appends `{"dst": "0.0.0.0/0" | "::/0", "gw": <gw>}` for each gateway in
///   `add` unless an identical default route is already there (so applying
///   the same rewrite twice changes nothing).
///
/// Layouts: 0.1.0/0.2.0 results (and results without `cniVersion`) keep
/// routes per family in `ip4.routes` / `ip6.routes`; a gateway is only added
/// when the result has that family's section. 0.3.x, 0.4.0 and ≥ 1.0.0 use
/// the top-level `routes`. Other versions are refused with upstream's
/// `not supported version: <v>`. A `routes` list that ends up empty is
/// removed. Unknown keys and key order are kept; on error `result` is left
/// unchanged.
///
/// ```
/// use serde_json::json;
/// let mut r = json!({
///     "cniVersion": "1.0.0",
///     "ips": [{"address": "192.0.2.5/24", "gateway": "192.0.2.1"}],
///     "routes": [{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}, {"dst": "10.0.0.0/8"}, {"dst": "::0/0"}]
/// });
/// let gw = "198.51.100.1".parse().unwrap();
/// multus_netns::rewrite_default_routes(&mut r, true, true, &[gw]).unwrap();
/// assert_eq!(r["routes"], json!([{"dst": "10.0.0.0/8"}, {"dst": "0.0.0.0/0", "gw": "198.51.100.1"}]));
/// ```
pub fn rewrite_default_routes(
    result: &mut Value,
    remove_v4: bool,
    remove_v6: bool,
    add: &[IpAddr],
) -> Result<(), Error> {
    let Value::Object(original) = result else {
        return Err(Error::CachedResult(format!("wrong result type: {result}")));
    };
    // Edit a copy so an error leaves the caller's value untouched.
    let mut edited = original.clone();
    edit_result(&mut edited, remove_v4, remove_v6, add)?;
    *original = edited;
    Ok(())
}

fn edit_result(
    obj: &mut Map<String, Value>,
    remove_v4: bool,
    remove_v6: bool,
    add: &[IpAddr],
) -> Result<(), Error> {
    match layout(obj)? {
        Layout::Current => edit_routes_member(obj, "", None, remove_v4, remove_v6, add),
        Layout::Legacy => {
            for (key, family) in [("ip4", IpFamily::V4), ("ip6", IpFamily::V6)] {
                let removes = match family {
                    IpFamily::V4 => remove_v4,
                    IpFamily::V6 => remove_v6,
                };
                let adds: Vec<IpAddr> = add
                    .iter()
                    .copied()
                    .filter(|g| family_of(*g) == family)
                    .collect();
                if !removes && adds.is_empty() {
                    continue;
                }
                match obj.get_mut(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(section)) => edit_routes_member(
                        section,
                        &format!("{key} "),
                        Some(family),
                        removes && family == IpFamily::V4,
                        removes && family == IpFamily::V6,
                        &adds,
                    )?,
                    Some(other) => {
                        return Err(Error::CachedResult(format!("wrong {key} format: {other}")));
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn versions() {
        for v in [
            "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0",
        ] {
            assert!(supported_current_version(v), "{v}");
        }
        for v in ["0.5.0", "1.0", "x", "", "0.2.0"] {
            assert!(!supported_current_version(v), "{v}");
        }
        let mut r = json!({"cniVersion": "0.5.0", "routes": []});
        let e = rewrite_default_routes(&mut r, true, true, &[]).unwrap_err();
        assert_eq!(e.to_string(), "not supported version: 0.5.0");
        let mut r = json!({"cniVersion": 1});
        assert_eq!(
            rewrite_default_routes(&mut r, true, true, &[])
                .unwrap_err()
                .to_string(),
            "wrong cniVersion format: 1"
        );
    }

    #[test]
    fn v1_removes_every_default_spelling_and_adds() {
        let mut r = json!({
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "net1", "sandbox": "/var/run/netns/x"}],
            "ips": [{"address": "198.51.100.5/24", "gateway": "198.51.100.1", "interface": 0}],
            "routes": [
                {"dst": "0.0.0.0/0", "gw": "192.0.2.1"},
                {"dst": "::/0", "gw": "2001:db8::1"},
                {"dst": "::0/0"},
                {"gw": "192.0.2.1"},
                {"dst": "10.96.0.0/12", "gw": "192.0.2.1"},
                {"dst": "2001:db8:1::/64"}
            ],
            "dns": {}
        });
        rewrite_default_routes(
            &mut r,
            true,
            true,
            &[ip("198.51.100.1"), ip("2001:db8:2::1")],
        )
        .unwrap();
        assert_eq!(
            r,
            json!({
                "cniVersion": "1.1.0",
                "interfaces": [{"name": "net1", "sandbox": "/var/run/netns/x"}],
                "ips": [{"address": "198.51.100.5/24", "gateway": "198.51.100.1", "interface": 0}],
                "routes": [
                    {"dst": "10.96.0.0/12", "gw": "192.0.2.1"},
                    {"dst": "2001:db8:1::/64"},
                    {"dst": "0.0.0.0/0", "gw": "198.51.100.1"},
                    {"dst": "::/0", "gw": "2001:db8:2::1"}
                ],
                "dns": {}
            })
        );
        // Key order preserved.
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["cniVersion", "interfaces", "ips", "routes", "dns"]);
    }

    #[test]
    fn per_family_removal() {
        let mut r = json!({
            "cniVersion": "0.4.0",
            "routes": [
                {"dst": "0.0.0.0/0", "gw": "192.0.2.1"},
                {"dst": "::0/0", "gw": "2001:db8::1"},
                {"gw": "2001:db8::1"}
            ]
        });
        rewrite_default_routes(&mut r, true, false, &[]).unwrap();
        assert_eq!(
            r["routes"],
            json!([{"dst": "::0/0", "gw": "2001:db8::1"}, {"gw": "2001:db8::1"}])
        );
        rewrite_default_routes(&mut r, false, true, &[]).unwrap();
        assert!(r.get("routes").is_none(), "empty routes are dropped: {r}");
    }

    #[test]
    fn dstless_route_without_family_goes_with_either() {
        let mut r = json!({"cniVersion": "0.3.1", "routes": [{"foo": 1}, {"dst": "10.0.0.0/8"}]});
        rewrite_default_routes(&mut r, false, true, &[]).unwrap();
        assert_eq!(r["routes"], json!([{"dst": "10.0.0.0/8"}]));
    }

    #[test]
    fn v03_and_v04_adds_into_missing_routes() {
        for v in ["0.3.0", "0.3.1", "0.4.0"] {
            let mut r =
                json!({"cniVersion": v, "ips": [{"version": "4", "address": "192.0.2.5/24"}]});
            rewrite_default_routes(&mut r, true, true, &[ip("192.0.2.1")]).unwrap();
            assert_eq!(
                r["routes"],
                json!([{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}]),
                "{v}"
            );
        }
    }

    #[test]
    fn idempotent() {
        let mut r = json!({
            "cniVersion": "1.0.0",
            "routes": [{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}, {"dst": "::/0", "gw": "2001:db8::1"}]
        });
        let gws = [ip("198.51.100.1"), ip("2001:db8:2::1")];
        rewrite_default_routes(&mut r, true, true, &gws).unwrap();
        let once = r.clone();
        rewrite_default_routes(&mut r, true, true, &gws).unwrap();
        assert_eq!(r, once);
        // Adding without removal does not duplicate either.
        rewrite_default_routes(&mut r, false, false, &gws).unwrap();
        assert_eq!(r, once);
    }

    #[test]
    fn empty_request_removes_all() {
        let mut r = json!({
            "cniVersion": "1.0.0",
            "routes": [{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}, {"dst": "::/0", "gw": "2001:db8::1"}]
        });
        rewrite_default_routes(&mut r, true, true, &[]).unwrap();
        assert!(r.get("routes").is_none());
    }

    #[test]
    fn v02_sections() {
        let mut r = json!({
            "cniVersion": "0.2.0",
            "ip4": {"ip": "192.0.2.5/24", "gateway": "192.0.2.1",
                    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.0.0.0/8", "gw": "192.0.2.1"}, {"gw": "192.0.2.1"}]},
            "ip6": {"ip": "2001:db8::5/64", "routes": [{"dst": "::0/0", "gw": "2001:db8::1"}]},
            "dns": {}
        });
        rewrite_default_routes(
            &mut r,
            true,
            true,
            &[ip("198.51.100.1"), ip("2001:db8:2::1")],
        )
        .unwrap();
        assert_eq!(
            r,
            json!({
                "cniVersion": "0.2.0",
                "ip4": {"ip": "192.0.2.5/24", "gateway": "192.0.2.1",
                        "routes": [{"dst": "10.0.0.0/8", "gw": "192.0.2.1"}, {"dst": "0.0.0.0/0", "gw": "198.51.100.1"}]},
                "ip6": {"ip": "2001:db8::5/64", "routes": [{"dst": "::/0", "gw": "2001:db8:2::1"}]},
                "dns": {}
            })
        );
    }

    #[test]
    fn v01_and_versionless_use_sections_and_skip_missing_family() {
        for mut r in [
            json!({"cniVersion": "0.1.0", "ip4": {"ip": "192.0.2.5/24", "routes": [{"dst": "0.0.0.0/0"}]}}),
            json!({"ip4": {"ip": "192.0.2.5/24", "routes": [{"dst": "0.0.0.0/0"}]}}),
        ] {
            rewrite_default_routes(&mut r, true, true, &[ip("2001:db8::1")]).unwrap();
            // No ip6 section: the IPv6 gateway is not added (as upstream);
            // the ip4 routes list ends up empty and is dropped.
            assert_eq!(r.get("ip6"), None);
            assert_eq!(r["ip4"], json!({"ip": "192.0.2.5/24"}));
        }
    }

    #[test]
    fn v02_per_family_flags() {
        let mut r = json!({
            "cniVersion": "0.2.0",
            "ip4": {"ip": "192.0.2.5/24", "routes": [{"dst": "0.0.0.0/0"}]},
            "ip6": {"ip": "2001:db8::5/64", "routes": [{"dst": "::/0"}]}
        });
        rewrite_default_routes(&mut r, false, true, &[]).unwrap();
        assert_eq!(r["ip4"]["routes"], json!([{"dst": "0.0.0.0/0"}]));
        assert_eq!(r["ip6"], json!({"ip": "2001:db8::5/64"}));
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let cases = [
            (json!([]), "wrong result type: []"),
            (
                json!({"cniVersion": "1.0.0", "routes": {}}),
                "wrong routes format: {}",
            ),
            (
                json!({"cniVersion": "1.0.0", "routes": [1]}),
                "wrong route format: 1",
            ),
            (
                json!({"cniVersion": "1.0.0", "routes": [{"dst": 5}]}),
                "wrong dst format: 5",
            ),
            (
                json!({"cniVersion": "0.2.0", "ip4": "x"}),
                "wrong ip4 format: \"x\"",
            ),
            (
                json!({"cniVersion": "0.2.0", "ip6": {"routes": 3}}),
                "wrong ip6 routes format: 3",
            ),
        ];
        for (mut r, msg) in cases {
            let e = rewrite_default_routes(&mut r, true, true, &[]).unwrap_err();
            assert_eq!(e.to_string(), msg);
        }
    }

    #[test]
    fn mapped_gateway_written_as_v4() {
        let mut r = json!({"cniVersion": "1.0.0"});
        rewrite_default_routes(&mut r, false, false, &[ip("::ffff:192.0.2.1")]).unwrap();
        assert_eq!(
            r["routes"],
            json!([{"dst": "0.0.0.0/0", "gw": "192.0.2.1"}])
        );
    }
}
