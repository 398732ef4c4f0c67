//! Decoding helpers that mirror Go's `encoding/json` where serde differs.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer};

/// `default-route`: absent or `null` is `None`; a list is `Some`, even when
/// empty. Each entry must be a plain IP (Go's `net.IP` text form); an
/// IPv4-mapped IPv6 address is stored as IPv4, as Go treats it.
pub(crate) fn gateway_list<'de, D>(d: D) -> Result<Option<Vec<IpAddr>>, D::Error>
where
    D: Deserializer<'de>,
{
    let list = Option::<Vec<GatewayIp>>::deserialize(d)?;
    Ok(list.map(|l| l.into_iter().map(|g| g.0).collect()))
}

/// One `default-route` entry; its own type so decode errors carry the index.
struct GatewayIp(IpAddr);

impl<'de> Deserialize<'de> for GatewayIp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom(
                "invalid IP address: empty string (a gateway address is required)",
            ));
        }
        match crate::addr::parse_ip(&text) {
            Some(ip) => Ok(GatewayIp(ip.to_canonical())),
            None => Err(serde::de::Error::custom(format_args!(
                "invalid IP address: {text}"
            ))),
        }
    }
}
