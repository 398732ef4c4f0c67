//! Address syntax with Go's strictness: IPs, CIDRs and hardware addresses
//! exactly as upstream's `net.ParseIP`, `net.ParseCIDR` and `net.ParseMAC`
//! accept them.
//!
//! The networks annotation parser (multus-annotations) uses these to
//! validate `ips`, `mac` and `infiniband-guid`; the delegate runner
//! (multus-delegate) re-checks the `MAC`/`IP` requests it passes on with
//! them (upstream re-validates there too). [`is_ipv4`] is the one place that
//! decides an address's family the way Go does.

use std::net::IpAddr;

/// Go's `ip.To4() != nil`: IPv4, or an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`).
///
/// ```
/// use multus_types::addr::is_ipv4;
/// assert!(is_ipv4("192.0.2.1".parse().unwrap()));
/// assert!(is_ipv4("::ffff:192.0.2.1".parse().unwrap()));
/// assert!(!is_ipv4("2001:db8::1".parse().unwrap()));
/// ```
pub fn is_ipv4(ip: IpAddr) -> bool {
    ip.to_canonical().is_ipv4()
}

/// Parses a plain IP address as Go's `net.ParseIP` does.
///
/// Dotted-quad IPv4 without leading zeros, or IPv6 (an embedded IPv4 tail is
/// allowed); no zone (`%eth0`), no prefix, no surrounding whitespace.
///
/// ```
/// use multus_types::addr::parse_ip;
/// assert!(parse_ip("10.1.1.5").is_some());
/// assert!(parse_ip("2001:db8::1").is_some());
/// assert!(parse_ip("::ffff:10.1.1.5").is_some());
/// assert!(parse_ip("010.1.1.5").is_none());
/// assert!(parse_ip("fe80::1%eth0").is_none());
/// assert!(parse_ip("").is_none());
/// ```
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    // std's parsers already reject leading zeros in IPv4 octets (also inside
    // IPv6), zones, and anything but the exact address text.
    s.parse().ok()
}

/// Parses `address/prefix` as Go's `net.ParseCIDR` does, returning the
/// address (host bits kept) and the prefix length.
///
/// The address follows [`parse_ip`]; the prefix is decimal digits only
/// (leading zeros allowed, as in Go), at most 32 for IPv4 and 128 for IPv6
/// (IPv4-mapped IPv6 counts as IPv6).
///
/// ```
/// use multus_types::addr::parse_cidr;
/// assert_eq!(parse_cidr("10.1.1.5/24"), Some(("10.1.1.5".parse().unwrap(), 24)));
/// assert!(parse_cidr("10.1.1.5/33").is_none());
/// assert!(parse_cidr("10.1.1.5/+24").is_none());
/// assert!(parse_cidr("10.1.1.5").is_none());
/// ```
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let ip = parse_ip(addr)?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let max: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let mut n: u32 = 0;
    for b in prefix.bytes() {
        n = n * 10 + u32::from(b - b'0');
        if n > max {
            return None;
        }
    }
    u8::try_from(n).ok().map(|n| (ip, n))
}

/// Whether `s` is a valid `ips` request entry: a CIDR when it contains `/`,
/// else a plain IP (upstream's rule).
pub fn is_ip_request(s: &str) -> bool {
    if s.contains('/') {
        parse_cidr(s).is_some()
    } else {
        parse_ip(s).is_some()
    }
}

/// Parses a hardware address as Go's `net.ParseMAC` does.
///
/// Accepted: 6 (Ethernet), 8 (EUI-64 / InfiniBand GUID) or 20 (IPoIB) octets,
/// written as two-hex-digit groups separated by all `:` or all `-`, or as
/// four-hex-digit groups separated by `.`.
///
/// ```
/// use multus_types::addr::parse_hardware_addr;
/// assert_eq!(parse_hardware_addr("c2:b0:57:49:47:f1").map(|a| a.len()), Some(6));
/// assert_eq!(parse_hardware_addr("C2-B0-57-49-47-F1").map(|a| a.len()), Some(6));
/// assert_eq!(parse_hardware_addr("c2b0.5749.47f1").map(|a| a.len()), Some(6));
/// assert_eq!(parse_hardware_addr("24:8a:07:03:00:8d:ae:2f").map(|a| a.len()), Some(8));
/// assert!(parse_hardware_addr("c2:b0:57:49:47").is_none());
/// assert!(parse_hardware_addr("c2:b0-57:49:47:f1").is_none());
/// ```
pub fn parse_hardware_addr(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() < 14 {
        return None;
    }
    let valid_len = |n: usize| matches!(n, 6 | 8 | 20);
    if b[2] == b':' || b[2] == b'-' {
        // "xx:xx:...": n groups of 2 digits and n-1 separators.
        if !(b.len() + 1).is_multiple_of(3) {
            return None;
        }
        let n = (b.len() + 1) / 3;
        if !valid_len(n) {
            return None;
        }
        let sep = b[2];
        let mut out = Vec::with_capacity(n);
        for (i, group) in b.chunks(3).enumerate() {
            let (digits, rest) = group.split_at(2.min(group.len()));
            if rest.first().is_some_and(|&c| c != sep) || (rest.is_empty() && i + 1 != n) {
                return None;
            }
            out.push(hex_byte(digits)?);
        }
        Some(out)
    } else if b[4] == b'.' {
        // "xxxx.xxxx.xxxx": n/2 groups of 4 digits and n/2-1 dots.
        if !(b.len() + 1).is_multiple_of(5) {
            return None;
        }
        let n = 2 * (b.len() + 1) / 5;
        if !valid_len(n) {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        for (i, group) in b.chunks(5).enumerate() {
            let (digits, rest) = group.split_at(4.min(group.len()));
            if rest.first().is_some_and(|&c| c != b'.') || (rest.is_empty() && 2 * (i + 1) != n) {
                return None;
            }
            if digits.len() != 4 {
                return None;
            }
            out.push(hex_byte(&digits[..2])?);
            out.push(hex_byte(&digits[2..])?);
        }
        Some(out)
    } else {
        None
    }
}

/// Two ASCII hex digits as a byte.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    match digits {
        [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_like_go_to4() {
        for v4 in ["0.0.0.0", "192.0.2.1", "::ffff:192.0.2.1", "::ffff:0.0.0.0"] {
            assert!(is_ipv4(v4.parse().unwrap()), "{v4}");
        }
        // IPv4-compatible (`::a.b.c.d`) and NAT64 addresses are IPv6 in Go.
        for v6 in [
            "::",
            "::1",
            "2001:db8::1",
            "::192.0.2.1",
            "64:ff9b::192.0.2.1",
        ] {
            assert!(!is_ipv4(v6.parse().unwrap()), "{v6}");
        }
    }

    #[test]
    fn ips_like_go() {
        for ok in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "::",
            "::1",
            "fd00::1",
            "2001:DB8::1",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
        ] {
            assert!(parse_ip(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            " 10.0.0.1",
            "10.0.0.1 ",
            "10.0.0.01",
            "010.0.0.1",
            "10.0.0",
            "10.0.0.256",
            "10.0.0.1.1",
            "fe80::1%eth0",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "::ffff:01.2.3.4",
            "[::1]",
            "10.0.0.1/24",
            "0x0a.0.0.1",
        ] {
            assert!(parse_ip(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn cidrs_like_go() {
        assert_eq!(
            parse_cidr("10.1.1.5/024"),
            Some(("10.1.1.5".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_cidr("fd00::5/128"),
            Some(("fd00::5".parse().unwrap(), 128))
        );
        assert_eq!(parse_cidr("::ffff:1.2.3.4/120").map(|c| c.1), Some(120));
        assert_eq!(parse_cidr("0.0.0.0/0").map(|c| c.1), Some(0));
        for bad in [
            "10.1.1.5/",
            "/24",
            "10.1.1.5/33",
            "fd00::5/129",
            "10.1.1.5/24/1",
            "10.1.1.5/ 24",
            "10.1.1.5/-1",
            "10.1.1.5/+1",
            "10.1.1.05/24",
            "fe80::1%eth0/64",
            "10.1.1.5/99999999999999999999",
        ] {
            assert!(parse_cidr(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ip_requests() {
        assert!(is_ip_request("10.1.1.5"));
        assert!(is_ip_request("10.1.1.5/24"));
        assert!(!is_ip_request("10.1.1.5/"));
        assert!(!is_ip_request(""));
    }

    #[test]
    fn hardware_addrs_like_go() {
        assert_eq!(
            parse_hardware_addr("00:00:5e:00:53:01"),
            Some(vec![0, 0, 0x5e, 0, 0x53, 1])
        );
        assert_eq!(
            parse_hardware_addr("0000.5e00.5301"),
            Some(vec![0, 0, 0x5e, 0, 0x53, 1])
        );
        assert_eq!(
            parse_hardware_addr("02-00-5E-10-00-00-00-01").map(|a| a.len()),
            Some(8)
        );
        assert_eq!(
            parse_hardware_addr("0200.5e10.0000.0001").map(|a| a.len()),
            Some(8)
        );
        let ipoib = "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01";
        assert_eq!(parse_hardware_addr(ipoib).map(|a| a.len()), Some(20));
        let ipoib_dotted = "0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001";
        assert_eq!(parse_hardware_addr(ipoib_dotted).map(|a| a.len()), Some(20));
        for bad in [
            "",
            "00:00:5e:00:53",
            "00:00:5e:00:53:01:02",
            "00:00:5e:00:53:0g",
            "00:00:5e:00:53-01",
            "00-00-5e-00-53:01",
            "00:00:5e:00:53:1",
            "0000.5e00.530",
            "0000.5e00.53011",
            "0000:5e00.5301",
            "00.00.5e.00.53.01",
            "00005e005301",
            "00:00:5e:00:53:01 ",
            " 00:00:5e:00:53:01",
            "é0:00:5e:00:53:0",
            "00:00:5e:00:53:é",
        ] {
            assert!(parse_hardware_addr(bad).is_none(), "{bad:?}");
        }
    }

    // The cases the delegate runner tested its own MAC/IP request checks
    // with, before it used this module.

    #[test]
    fn mac_requests_like_go() {
        for good in [
            "00:00:5e:00:53:01",
            "02:00:5e:10:00:00:00:01",
            "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
            "00-00-5e-00-53-01",
            "0000.5e00.5301",
            "0200.5e10.0000.0001",
            "C2:11:22:33:44:55",
        ] {
            assert!(parse_hardware_addr(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "00:00:5e:00:53",
            "00:00:5e:00:53:01:02",
            "00:00-5e:00:53:01",
            "0000.5e00.530",
            "zz:00:5e:00:53:01",
            "00:00:5e:00:53:0g",
            "00005e005301abcd",
            "é0:00:5e:00:53:01",
        ] {
            assert!(parse_hardware_addr(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ip_requests_like_go() {
        for good in [
            "10.1.1.1",
            "10.1.1.1/24",
            "2001:db8::1",
            "2001:db8::1/64",
            "::ffff:1.2.3.4",
            "0.0.0.0/0",
        ] {
            assert!(is_ip_request(good), "{good}");
        }
        for bad in [
            "",
            "10.1.1",
            "10.1.1.1/33",
            "10.1.1.1/",
            "10.1.1.1/+1",
            "2001:db8::1/129",
            "x/24",
            "10.01.1.1",
        ] {
            assert!(!is_ip_request(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn request_checks_never_panic(s in "\\PC{0,40}", hexish in "[0-9a-fA-F:.\\-]{0,60}") {
            let _ = (
                parse_hardware_addr(&s),
                is_ip_request(&s),
                parse_hardware_addr(&hexish),
                is_ip_request(&hexish),
            );
        }
    }
}
