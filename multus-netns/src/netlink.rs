//! Netlink queries and default-route changes inside one namespace.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteVia,
};
use rtnetlink::RouteMessageBuilder;

use crate::Error;
use crate::default_route::{DefaultRouteAction, IpFamily, family_of};

/// A netlink (`NETLINK_ROUTE`) connection bound to one network namespace,
/// made by [`NetNs::netlink`](crate::NetNs::netlink).
///
/// Dropping it stops the connection task.
#[derive(Debug)]
pub struct Netlink {
    netns: PathBuf,
    handle: rtnetlink::Handle,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An interface, as `ip link` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, lowercase colon-separated hex (`0a:58:0a:f4:00:05`).
    pub mac: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
}

/// An interface address, as `ip addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddressInfo {
    /// Index of the interface that holds the address.
    pub index: u32,
    /// The address.
    pub address: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// A route, as `ip route` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// Address family.
    pub family: IpFamily,
    /// Destination network address; `None` when the kernel sends no
    /// destination (a default route).
    pub destination: Option<IpAddr>,
    /// Destination prefix length; `0` for a default route.
    pub prefix_len: u8,
    /// Gateway (`via`).
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Routing table (254 = main).
    pub table: u32,
    /// Metric (`RTA_PRIORITY`).
    pub metric: Option<u32>,
    message: RouteMessage,
}

impl RouteInfo {
    /// The main routing table's id.
    pub const MAIN_TABLE: u32 = 254;

    /// A default route: destination prefix length 0 (`0.0.0.0/0`, `::/0`, or
    /// no destination at all).
    pub fn is_default(&self) -> bool {
        self.prefix_len == 0
    }

    fn from_message(message: RouteMessage) -> Option<Self> {
        let family = match message.header.address_family {
            AddressFamily::Inet => IpFamily::V4,
            AddressFamily::Inet6 => IpFamily::V6,
            _ => return None,
        };
        let mut destination = None;
        let mut gateway = None;
        let mut oif = None;
        let mut table = u32::from(message.header.table);
        let mut metric = None;
        for attr in &message.attributes {
            match attr {
                RouteAttribute::Destination(a) => destination = route_address(a),
                RouteAttribute::Gateway(a) => gateway = route_address(a),
                RouteAttribute::Via(RouteVia::Inet(a)) => gateway = Some(IpAddr::V4(*a)),
                RouteAttribute::Via(RouteVia::Inet6(a)) => gateway = Some(IpAddr::V6(*a)),
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Priority(p) => metric = Some(*p),
                _ => {}
            }
        }
        Some(Self {
            family,
            destination,
            prefix_len: message.header.destination_prefix_length,
            gateway,
            oif,
            table,
            metric,
            message,
        })
    }
}

impl fmt::Display for RouteInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.destination, self.prefix_len) {
            (_, 0) => f.write_str("default")?,
            (Some(d), p) => write!(f, "{d}/{p}")?,
            (None, p) => write!(f, "?/{p}")?,
        }
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        if let Some(oif) = self.oif {
            write!(f, " dev #{oif}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        if self.table != Self::MAIN_TABLE {
            write!(f, " table {}", self.table)?;
        }
        Ok(())
    }
}

/// A route as `ip route` would print it, with interface names.
fn describe_route(r: &RouteInfo, links: &[LinkInfo]) -> String {
    let mut s = r.to_string();
    if let Some(oif) = r.oif
        && let Some(l) = links.iter().find(|l| l.index == oif)
    {
        s = s.replace(&format!(" dev #{oif}"), &format!(" dev {}", l.name));
    }
    s
}

fn route_address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn format_mac(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut name = String::new();
    let mut mac = None;
    let mut mtu = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name.clone_from(n),
            LinkAttribute::Address(a) => mac = Some(format_mac(a)),
            LinkAttribute::Mtu(m) => mtu = Some(*m),
            _ => {}
        }
    }
    LinkInfo {
        index: msg.header.index,
        name,
        mac,
        mtu,
        up: msg.header.flags.contains(LinkFlags::Up),
    }
}

fn address_info(msg: &AddressMessage) -> Option<AddressInfo> {
    // IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL the local
    // address. Prefer IFA_LOCAL like iproute2 does.
    let mut address = None;
    let mut local = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            _ => {}
        }
    }
    Some(AddressInfo {
        index: msg.header.index,
        address: local.or(address)?,
        prefix_len: msg.header.prefix_len,
    })
}

/// Whether `gw` and `other` are the same gateway, treating an IPv4-mapped
/// IPv6 address as its IPv4 address.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl Netlink {
    pub(crate) fn new(
        netns: PathBuf,
        handle: rtnetlink::Handle,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            netns,
            handle,
            task,
        }
    }

    /// The namespace path this connection belongs to.
    pub fn netns(&self) -> &Path {
        &self.netns
    }

    /// The underlying rtnetlink handle, for requests this crate does not wrap.
    pub fn handle(&self) -> &rtnetlink::Handle {
        &self.handle
    }

    fn err(&self, op: impl Into<String>, source: rtnetlink::Error) -> Error {
        Error::Netlink {
            netns: self.netns.clone(),
            op: op.into(),
            source,
        }
    }

    /// All interfaces of the namespace.
    pub async fn links(&self) -> Result<Vec<LinkInfo>, Error> {
        let mut stream = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| self.err("list links", e))?
        {
            out.push(link_info(&msg));
        }
        Ok(out)
    }

    /// The interface named `name`, or `None` if there is none.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>, Error> {
        // The kernel limits names to 15 bytes; a longer name cannot exist and
        // would be rejected with EINVAL rather than ENODEV.
        if name.is_empty() || name.len() > 15 || name.contains('\0') {
            return Ok(None);
        }
        let mut stream = self.handle.link().get().match_name(name).execute();
        match stream.try_next().await {
            Ok(Some(msg)) => Ok(Some(link_info(&msg))),
            Ok(None) => Ok(None),
            Err(e) if Error::netlink_errno(&e) == Some(libc_enodev()) => Ok(None),
            Err(e) => Err(self.err(format!("look up interface {name:?}"), e)),
        }
    }

    /// The interface named `name`; [`Error::LinkNotFound`] if there is none.
    pub async fn link(&self, name: &str) -> Result<LinkInfo, Error> {
        self.link_by_name(name)
            .await?
            .ok_or_else(|| Error::LinkNotFound {
                netns: self.netns.clone(),
                name: name.to_string(),
            })
    }

    /// Whether an interface named `name` exists.
    pub async fn link_exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self.link_by_name(name).await?.is_some())
    }

    /// Addresses of every interface, or only of interface `index`.
    pub async fn addresses(&self, index: Option<u32>) -> Result<Vec<AddressInfo>, Error> {
        let mut req = self.handle.address().get();
        if let Some(i) = index {
            req = req.set_link_index_filter(i);
        }
        let mut stream = req.execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| self.err("list addresses", e))?
        {
            out.extend(address_info(&msg));
        }
        Ok(out)
    }

    /// Routes of one family in every table (filter on [`RouteInfo::table`]
    /// for the main table).
    pub async fn routes(&self, family: IpFamily) -> Result<Vec<RouteInfo>, Error> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = match family {
            IpFamily::V4 => AddressFamily::Inet,
            IpFamily::V6 => AddressFamily::Inet6,
        };
        let mut stream = self.handle.route().get(msg).execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| self.err(format!("list {family} routes"), e))?
        {
            out.extend(RouteInfo::from_message(msg));
        }
        Ok(out)
    }

    /// Default routes of the main table, of the given families, optionally
    /// only those whose output interface is `oif`.
    pub async fn default_routes(
        &self,
        families: &[IpFamily],
        oif: Option<u32>,
    ) -> Result<Vec<RouteInfo>, Error> {
        let mut out = Vec::new();
        for &family in families {
            for r in self.routes(family).await? {
                if r.is_default()
                    && r.table == RouteInfo::MAIN_TABLE
                    && oif.is_none_or(|i| r.oif == Some(i))
                {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Deletes one route (as returned by a listing).
    pub async fn delete_route(&self, route: &RouteInfo) -> Result<(), Error> {
        self.handle
            .route()
            .del(route.message.clone())
            .execute()
            .await
            .map_err(|e| self.err(format!("delete route {route}"), e))
    }

    /// Removes every main-table default route (`0.0.0.0/0`, `::/0`) of the
    /// given families whose output interface is `ifname`; returns what was
    /// removed. [`Error::LinkNotFound`] if the interface does not exist.
    pub async fn remove_default_routes(
        &self,
        ifname: &str,
        families: &[IpFamily],
    ) -> Result<Vec<RouteInfo>, Error> {
        let link = self.link(ifname).await?;
        self.remove_defaults_except(&link, families, &[]).await
    }

    async fn remove_defaults_except(
        &self,
        link: &LinkInfo,
        families: &[IpFamily],
        keep: &[IpAddr],
    ) -> Result<Vec<RouteInfo>, Error> {
        let mut removed = Vec::new();
        for r in self.default_routes(families, Some(link.index)).await? {
            if r.gateway
                .is_some_and(|g| keep.iter().any(|k| same_ip(*k, g)))
            {
                continue;
            }
            match self.delete_route(&r).await {
                Ok(()) => removed.push(r),
                // Gone meanwhile (e.g. removed with its address): fine.
                Err(Error::Netlink { source, .. })
                    if Error::netlink_errno(&source) == Some(libc_esrch()) => {}
                Err(Error::Netlink { source, .. }) => {
                    return Err(self.err(format!("delete route {r} dev {}", link.name), source));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// Adds a main-table default route via `gateway` on `ifname` (family from
    /// the gateway; an IPv4-mapped IPv6 gateway counts as IPv4).
    ///
    /// Idempotent: returns `Ok(false)` when a default route via that gateway
    /// on that interface is already there, `Ok(true)` when it was added.
    /// Another default route with the same metric that is in the way (the
    /// kernel answers `EEXIST`) is reported as
    /// [`Error::DefaultRouteConflict`] rather than ignored.
    pub async fn add_default_route(&self, ifname: &str, gateway: IpAddr) -> Result<bool, Error> {
        let link = self.link(ifname).await?;
        self.add_default_on(&link, gateway).await
    }

    async fn add_default_on(&self, link: &LinkInfo, gateway: IpAddr) -> Result<bool, Error> {
        let gateway = gateway.to_canonical();
        let family = family_of(gateway);
        let existing = self.default_routes(&[family], None).await?;
        if existing
            .iter()
            .any(|r| r.oif == Some(link.index) && r.gateway.is_some_and(|g| same_ip(g, gateway)))
        {
            return Ok(false);
        }
        let message = match gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
                .output_interface(link.index)
                .gateway(gw)
                .protocol(RouteProtocol::Boot)
                .build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(Ipv6Addr::UNSPECIFIED, 0)
                .output_interface(link.index)
                .gateway(gw)
                .protocol(RouteProtocol::Boot)
                .build(),
        };
        debug_assert_eq!(message.header.table, RouteHeader::RT_TABLE_MAIN);
        match self.handle.route().add(message).execute().await {
            Ok(()) => Ok(true),
            Err(e) if Error::netlink_errno(&e) == Some(libc_eexist()) => {
                // Raced with someone adding exactly our route?
                let now = self.default_routes(&[family], None).await?;
                if now.iter().any(|r| {
                    r.oif == Some(link.index) && r.gateway.is_some_and(|g| same_ip(g, gateway))
                }) {
                    return Ok(false);
                }
                let links = self.links().await.unwrap_or_default();
                let existing = now
                    .iter()
                    .map(|r| describe_route(r, &links))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(Error::DefaultRouteConflict {
                    netns: self.netns.clone(),
                    ifname: link.name.clone(),
                    gateway,
                    existing,
                })
            }
            Err(e) => Err(self.err(
                format!("add default route via {gateway} dev {}", link.name),
                e,
            )),
        }
    }

    /// Applies a [`DefaultRouteAction`] to interface `ifname`: removes its
    /// default routes of the families the action names, then adds a default
    /// route via each requested gateway.
    ///
    /// A default route that is already exactly what is requested (via one of
    /// the requested gateways on this interface) is kept rather than removed
    /// and re-added, so applying the same action twice changes nothing.
    /// Returns what was removed and which gateways were newly added.
    pub async fn apply_default_route_action(
        &self,
        ifname: &str,
        action: &DefaultRouteAction,
    ) -> Result<AppliedDefaultRoutes, Error> {
        let mut applied = AppliedDefaultRoutes::default();
        if action.is_noop() {
            return Ok(applied);
        }
        let link = self.link(ifname).await?;
        let families = action.removed_families();
        applied.removed = self
            .remove_defaults_except(&link, &families, &action.add)
            .await?;
        for &gw in &action.add {
            if self.add_default_on(&link, gw).await? {
                applied.added.push(gw.to_canonical());
            }
        }
        Ok(applied)
    }
}

/// What [`Netlink::apply_default_route_action`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedDefaultRoutes {
    /// The default routes that were deleted.
    pub removed: Vec<RouteInfo>,
    /// The gateways for which a default route was added (not those already present).
    pub added: Vec<IpAddr>,
}

const fn libc_eexist() -> i32 {
    17
}

const fn libc_esrch() -> i32 {
    3
}

const fn libc_enodev() -> i32 {
    19
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn mac_format() {
        assert_eq!(
            format_mac(&[0x0a, 0x58, 0, 0xff, 1, 2]),
            "0a:58:00:ff:01:02"
        );
        assert_eq!(format_mac(&[]), "");
    }

    #[test]
    fn mapped_gateways_are_v4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(same_ip(mapped, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(family_of(mapped.to_canonical()), IpFamily::V4);
    }

    #[test]
    fn route_info_from_message() {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(3)
            .gateway(Ipv4Addr::new(192, 0, 2, 1))
            .build();
        let r = RouteInfo::from_message(msg).expect("v4 route");
        assert!(r.is_default());
        assert_eq!(r.destination, None);
        assert_eq!(r.oif, Some(3));
        assert_eq!(r.table, RouteInfo::MAIN_TABLE);
        assert_eq!(r.to_string(), "default via 192.0.2.1 dev #3");
    }
}
