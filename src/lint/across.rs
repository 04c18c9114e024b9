//! Findings about networks together: subnets that overlap each other or the host's routes,
//! and one bridge shared by networks with different subnets. (Two files with one name are
//! found by the lookup itself: `libcni::conf::list_networks`' `shadowed_by`.)

use std::collections::HashMap;
use std::path::PathBuf;

use super::net::IpNet;
use super::{Finding, Footprint, HostView, Severity};

/// One network as the checks across networks see it.
#[derive(Debug)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// Its file (none for the built-in network).
    pub file: Option<PathBuf>,
    /// Its subnets, bridge and parents.
    pub footprint: Footprint,
}

/// Every finding across `networks` (in lookup order) and with `host`. Each overlap is
/// reported once, on the later network. Linear in the number of subnets but for the
/// overlaps found (a sweep over the subnets sorted by address, a map of bridges), so that
/// thousands of networks take milliseconds.
pub fn check(networks: &[Network], host: &HostView) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |n: &Network, path: &str, message: String| {
        let mut f = Finding::new(Severity::Warning, &n.name, "", message);
        f.file = n.file.clone();
        f.path = path.to_owned();
        f
    };
    let overlaps = overlapping(networks);
    // The distinct subnet sets seen on each bridge, with the first network that had each.
    let mut bridges: HashMap<&str, Vec<(Vec<IpNet>, usize)>> = HashMap::new();
    for (i, b) in networks.iter().enumerate() {
        for (k, (subnet, path)) in b.footprint.subnets.iter().enumerate() {
            // Overlaps with the networks before this one.
            if let Some(earlier) = overlaps.get(&(i, k)) {
                let (a, s) = earlier[0];
                let (a, s) = (&networks[a], &networks[a].footprint.subnets[s].0);
                let mut msg = format!(
                    "subnet {subnet} overlaps {s} of network {:?}{}",
                    a.name,
                    a.file
                        .as_ref()
                        .map(|f| format!(" ({})", f.display()))
                        .unwrap_or_default()
                );
                if earlier.len() > 1 {
                    msg.push_str(&format!(" and {} more", earlier.len() - 1));
                }
                msg.push_str(
                    ": containers of both can get the same addresses and their routes clash",
                );
                out.push(finding(b, path, msg).with_fix("give each network its own subnet"));
            }
            // Overlaps with the host's own routes, except through the network's own bridge
            // or parent interface (macvlan and friends share their parent's subnet).
            let own = |dev: &str| {
                b.footprint.bridge.as_ref().is_some_and(|(br, _)| br == dev)
                    || b.footprint.parents.iter().any(|p| p == dev)
            };
            if let Some(r) = host
                .routes
                .iter()
                .find(|r| r.dst.overlaps(subnet) && !own(&r.dev))
            {
                out.push(
                    finding(
                        b,
                        path,
                        format!(
                            "subnet {subnet} overlaps this host's route {} dev {}: traffic to one \
                             of them goes the wrong way",
                            r.dst, r.dev
                        ),
                    )
                    .with_fix("pick a subnet no route of the host covers"),
                );
            } else if let Some((addr, dev)) = host
                .addresses
                .iter()
                .find(|(a, dev)| subnet.contains(*a) && !own(dev))
            {
                // An address without a prefix route (a /32, `noprefixroute`).
                out.push(
                    finding(
                        b,
                        path,
                        format!(
                            "subnet {subnet} holds this host's address {addr} (dev {dev}): a \
                             container given it clashes with the host"
                        ),
                    )
                    .with_fix("pick a subnet without the host's addresses"),
                );
            }
        }
        // One bridge, different subnets.
        if let Some((bridge, path)) = &b.footprint.bridge {
            let mine = subnet_set(&b.footprint);
            let seen = bridges.entry(bridge.as_str()).or_default();
            let other = seen
                .iter()
                .find(|(set, a)| *set != mine && networks[*a].name != b.name)
                .map(|(_, a)| &networks[*a]);
            if let Some(a) = other {
                let list = |f: &Footprint| {
                    let s: Vec<String> = f.subnets.iter().map(|(s, _)| s.to_string()).collect();
                    if s.is_empty() {
                        "none".to_owned()
                    } else {
                        s.join(", ")
                    }
                };
                out.push(
                    finding(
                        b,
                        path,
                        format!(
                            "bridge {bridge:?} is also used by network {:?} with other subnets \
                             ({} here, {} there): the bridge gets both gateways and the networks \
                             are not isolated",
                            a.name,
                            list(&b.footprint),
                            list(&a.footprint)
                        ),
                    )
                    .with_fix("give each network its own \"bridge\""),
                );
            }
            if !seen.iter().any(|(set, _)| *set == mine) {
                seen.push((mine, i));
            }
        }
    }
    out
}

/// For each (network, subnet index) that overlaps a subnet of an earlier network of another
/// name, those earlier (network, subnet index) pairs in lookup order.
fn overlapping(networks: &[Network]) -> HashMap<(usize, usize), Vec<(usize, usize)>> {
    struct Span {
        v6: bool,
        lo: u128,
        hi: u128,
        net: usize,
        sub: usize,
    }
    let mut spans: Vec<Span> = networks
        .iter()
        .enumerate()
        .flat_map(|(net, n)| {
            n.footprint
                .subnets
                .iter()
                .enumerate()
                .map(move |(sub, (s, _))| {
                    let (lo, hi) = s.span();
                    Span {
                        v6: s.addr.is_ipv6(),
                        lo,
                        hi,
                        net,
                        sub,
                    }
                })
        })
        .collect();
    spans.sort_by_key(|s| (s.v6, s.lo));
    let mut hits: HashMap<(usize, usize), Vec<(usize, usize)>> = HashMap::new();
    // The spans that may still overlap the next ones: those not ending before its start.
    let mut active: Vec<usize> = Vec::new();
    for (k, s) in spans.iter().enumerate() {
        active.retain(|&j| spans[j].v6 == s.v6 && spans[j].hi >= s.lo);
        for &j in &active {
            let o = &spans[j];
            if o.net == s.net || networks[o.net].name == networks[s.net].name {
                continue;
            }
            let (later, earlier) = if o.net > s.net { (o, s) } else { (s, o) };
            hits.entry((later.net, later.sub))
                .or_default()
                .push((earlier.net, earlier.sub));
        }
        active.push(k);
    }
    for v in hits.values_mut() {
        v.sort_unstable();
    }
    hits
}

/// A network's subnets as a sorted set, to compare networks.
fn subnet_set(f: &Footprint) -> Vec<IpNet> {
    let mut s: Vec<IpNet> = f.subnets.iter().map(|(s, _)| s.canonical()).collect();
    s.sort_by_key(|n| (n.addr.is_ipv6(), n.span(), n.len));
    s.dedup();
    s
}

#[cfg(test)]
mod tests {
    use super::super::host::HostRoute;
    use super::super::net::IpNet;
    use super::*;

    fn net(name: &str, subnets: &[&str], bridge: Option<&str>) -> Network {
        Network {
            name: name.into(),
            file: Some(format!("/etc/cni/net.d/{name}.conflist").into()),
            footprint: Footprint {
                subnets: subnets
                    .iter()
                    .map(|s| {
                        (
                            IpNet::parse(s).unwrap(),
                            ".plugins[0].ipam.ranges[0][0].subnet".into(),
                        )
                    })
                    .collect(),
                bridge: bridge.map(|b| (b.into(), ".plugins[0].bridge".into())),
                parents: Vec::new(),
            },
        }
    }

    fn messages(f: &[Finding]) -> Vec<String> {
        f.iter()
            .map(|f| format!("{} {}", f.network, f.message))
            .collect()
    }

    #[test]
    fn overlapping_networks() {
        let found = check(
            &[
                net("podman", &["10.88.0.0/16"], Some("cni-podman0")),
                net("containerd", &["10.88.0.0/16"], Some("cni0")),
            ],
            &HostView::none(),
        );
        assert_eq!(
            messages(&found),
            ["containerd subnet 10.88.0.0/16 overlaps 10.88.0.0/16 of network \"podman\" (/etc/cni/net.d/podman.conflist): \
              containers of both can get the same addresses and their routes clash"]
        );
        assert_eq!(found[0].path, ".plugins[0].ipam.ranges[0][0].subnet");
        assert!(check(
            &[
                net("a", &["10.1.0.0/24"], None),
                net("b", &["10.2.0.0/24"], None)
            ],
            &HostView::none()
        )
        .is_empty());
    }

    #[test]
    fn overlaps_are_reported_once_on_the_later_network() {
        let found = check(
            &[
                net("a", &["10.0.0.0/8"], None),
                net("b", &["10.1.0.0/16", "fd00::/64"], None),
                net("c", &["10.1.2.0/24", "fd00::/48"], None),
                net("d", &["192.168.0.0/24"], None),
            ],
            &HostView::none(),
        );
        let m: Vec<String> = messages(&found)
            .iter()
            .map(|m| m[..m.find(": containers").unwrap()].to_owned())
            .collect();
        assert_eq!(
            m,
            [
                "b subnet 10.1.0.0/16 overlaps 10.0.0.0/8 of network \"a\" (/etc/cni/net.d/a.conflist)",
                "c subnet 10.1.2.0/24 overlaps 10.0.0.0/8 of network \"a\" (/etc/cni/net.d/a.conflist) and 1 more",
                "c subnet fd00::/48 overlaps fd00::/64 of network \"b\" (/etc/cni/net.d/b.conflist)",
            ]
        );
    }

    #[test]
    fn overlapping_the_host() {
        let host = HostView {
            checked: true,
            routes: vec![
                HostRoute {
                    dst: IpNet::parse("10.1.0.0/16").unwrap(),
                    dev: "eth0".into(),
                },
                HostRoute {
                    dst: IpNet::parse("10.2.0.0/24").unwrap(),
                    dev: "br2".into(),
                },
            ],
            ..HostView::default()
        };
        let found = check(&[net("a", &["10.1.5.0/24"], Some("cni0"))], &host);
        assert_eq!(messages(&found), ["a subnet 10.1.5.0/24 overlaps this host's route 10.1.0.0/16 dev eth0: traffic to one of them goes the wrong way"]);
        // The network's own bridge route is its own.
        assert!(check(&[net("b", &["10.2.0.0/24"], Some("br2"))], &host).is_empty());
        // An address without a route of its own.
        let host = HostView {
            addresses: vec![("10.3.0.9".parse().unwrap(), "lo0".into())],
            ..host
        };
        assert_eq!(
            messages(&check(&[net("c", &["10.3.0.0/24"], Some("cni0"))], &host)),
            [
                "c subnet 10.3.0.0/24 holds this host's address 10.3.0.9 (dev lo0): a container \
              given it clashes with the host"
            ]
        );
        assert!(check(&[net("c", &["10.3.1.0/24"], Some("cni0"))], &host).is_empty());
    }

    #[test]
    fn one_bridge_two_subnets() {
        let found = check(
            &[
                net("a", &["10.1.0.0/24"], Some("cni0")),
                net("b", &["10.2.0.0/24"], Some("cni0")),
            ],
            &HostView::none(),
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].message.starts_with("bridge \"cni0\" is also used by network \"a\" with other subnets (10.2.0.0/24 here, 10.1.0.0/24 there)"), "{found:?}");
        assert!(check(
            &[
                net("a", &["10.1.0.0/24"], Some("cni0")),
                net("b", &["10.2.0.0/24"], Some("cni1"))
            ],
            &HostView::none()
        )
        .is_empty());
    }
}
