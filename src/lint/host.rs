//! What the host offers the networks, as the calling thread's network namespace shows it
//! (`/proc/thread-self/net`, `getifaddrs`; no root needed, nothing changed): interfaces,
//! routes, addresses, sockets, sysctls.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use super::net::IpNet;

/// A route of the host's main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRoute {
    /// Its destination.
    pub dst: IpNet,
    /// Its interface.
    pub dev: String,
}

/// The host as the rules see it. [`HostView::none`] turns the host checks off (for
/// netconfs meant for another machine, and for the pure rules' tests).
#[derive(Clone, Debug, Default)]
pub struct HostView {
    /// Whether host checks run at all.
    pub checked: bool,
    /// Interface names.
    pub interfaces: BTreeSet<String>,
    /// Routes (IPv4 and IPv6; default, link-local and multicast routes left out).
    pub routes: Vec<HostRoute>,
    /// The host's addresses with their interfaces (loopback and IPv6 link-local left out).
    pub addresses: Vec<(IpAddr, String)>,
    /// Interface MTUs, where `/sys/class/net` shows this namespace's interfaces.
    pub mtus: BTreeMap<String, u32>,
    /// Interfaces of the IPv4 default routes (macvlan and ipvlan's master when none is
    /// given).
    pub default_devs: Vec<String>,
}

impl HostView {
    /// No host checks.
    pub fn none() -> HostView {
        HostView::default()
    }

    /// This host, as the calling thread's network namespace shows it. What cannot be read
    /// is left empty (interfaces: the checks that need them are skipped).
    pub fn read() -> HostView {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let v4 = read("/proc/thread-self/net/route");
        let mut routes = parse_ipv4_routes(&v4);
        routes.extend(parse_ipv6_routes(&read("/proc/thread-self/net/ipv6_route")));
        let interfaces = parse_dev(&read("/proc/thread-self/net/dev"));
        HostView {
            checked: true,
            mtus: mtus(&interfaces),
            interfaces,
            routes,
            addresses: addresses(),
            default_devs: default_devs(&v4),
        }
    }

    /// Whether the interface exists; `None` without host checks.
    pub fn has_interface(&self, name: &str) -> Option<bool> {
        (self.checked && !self.interfaces.is_empty()).then(|| self.interfaces.contains(name))
    }

    /// An interface's MTU, when known.
    pub fn mtu(&self, name: &str) -> Option<u32> {
        self.mtus.get(name).copied()
    }

    /// Whether `path` is a Unix socket; `None` without host checks.
    pub fn is_socket(&self, path: &Path) -> Option<bool> {
        use std::os::unix::fs::FileTypeExt as _;
        self.checked
            .then(|| std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket()))
    }

    /// Whether `path` exists; `None` without host checks.
    pub fn exists(&self, path: &Path) -> Option<bool> {
        self.checked.then(|| path.exists())
    }
}

/// The addresses of this thread's network namespace (`getifaddrs`, which asks the kernel
/// over netlink), so that an address without a prefix route (a /32, `noprefixroute`) is
/// seen too.
fn addresses() -> Vec<(IpAddr, String)> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    all.filter_map(|a| {
        let s = a.address?;
        let ip = match (s.as_sockaddr_in(), s.as_sockaddr_in6()) {
            (Some(v4), _) => IpAddr::V4(v4.ip()),
            (_, Some(v6)) => IpAddr::V6(v6.ip()),
            _ => return None,
        };
        let link_local = matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        (!ip.is_loopback() && !link_local).then_some((ip, a.interface_name))
    })
    .collect()
}

/// The MTUs of `interfaces` from `/sys/class/net/NAME/mtu`. sysfs shows the interfaces of
/// the network namespace it was mounted in, not necessarily the caller's: an MTU is taken
/// only when the interface's index there is the one this namespace gives the name.
fn mtus(interfaces: &BTreeSet<String>) -> BTreeMap<String, u32> {
    let sys = |name: &str, file: &str| -> Option<u32> {
        std::fs::read_to_string(Path::new("/sys/class/net").join(name).join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    interfaces
        .iter()
        .filter_map(|name| {
            let index = nix::net::if_::if_nametoindex(name.as_str()).ok()?;
            (sys(name, "ifindex")? == index)
                .then(|| Some((name.clone(), sys(name, "mtu")?)))
                .flatten()
        })
        .collect()
}

/// Interface names of `/proc/net/dev` (`  eth0: 123 ...`).
fn parse_dev(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

/// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, the
/// addresses as little-endian hex.
fn parse_ipv4_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            let len = mask.leading_ones() as u8;
            (len > 0).then(|| HostRoute {
                dst: IpNet {
                    addr: IpAddr::V4(dst.into()),
                    len,
                },
                dev: f[0].to_owned(),
            })
        })
        .collect()
}

/// The interfaces of `/proc/net/route`'s default routes.
fn default_devs(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000"))
                .then(|| f[0].to_owned())
        })
        .collect()
}

/// `/proc/net/ipv6_route`: `DST DSTLEN SRC SRCLEN NEXTHOP METRIC REFCNT USE FLAGS DEV`, hex.
fn parse_ipv6_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = Ipv6Addr::from(u128::from_str_radix(f.first()?, 16).ok()?);
            let len = u8::from_str_radix(f.get(1)?, 16).ok()?;
            let dev = f.get(9)?;
            let skip = len == 0
                || *dev == "lo"
                || dst.segments()[0] & 0xffc0 == 0xfe80
                || dst.segments()[0] & 0xff00 == 0xff00;
            (!skip).then(|| HostRoute {
                dst: IpNet {
                    addr: IpAddr::V6(dst),
                    len,
                },
                dev: (*dev).to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let dev = "Inter-|   Receive\n face |bytes\n    lo: 1 2\n  eth0: 3 4\nveth-a@x: 5\n";
        assert_eq!(
            parse_dev(dev).into_iter().collect::<Vec<_>>(),
            ["eth0", "lo", "veth-a@x"]
        );
        let v4 = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                  eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n\
                  cni0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        assert_eq!(
            parse_ipv4_routes(v4),
            [HostRoute {
                dst: IpNet::parse("10.88.0.0/16").unwrap(),
                dev: "cni0".into()
            }]
        );
        assert_eq!(default_devs(v4), ["eth0"]);
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth1\n\
                  fe800000000000000000000000000000 40 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth1\n";
        assert_eq!(
            parse_ipv6_routes(v6),
            [HostRoute {
                dst: IpNet::parse("fd00::/64").unwrap(),
                dev: "eth1".into()
            }]
        );
    }
}
