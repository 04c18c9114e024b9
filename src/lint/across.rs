//! Findings about networks together: subnets that overlap each other or the host's routes,
//! and one bridge shared by networks with different subnets. (Two files with one name are
//! found by the lookup itself: `libcni::conf::list_networks`' `shadowed_by`.)

use std::path::PathBuf;

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
/// reported once, on the later network.
pub fn check(networks: &[Network], host: &HostView) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |n: &Network, path: &str, message: String| {
        let mut f = Finding::new(Severity::Warning, &n.name, "", message);
        f.file = n.file.clone();
        f.path = path.to_owned();
        f
    };
    for (i, b) in networks.iter().enumerate() {
        for (subnet, path) in &b.footprint.subnets {
            // Overlaps with the networks before this one.
            let earlier: Vec<(&Network, &super::net::IpNet)> = networks[..i]
                .iter()
                .filter(|a| a.name != b.name)
                .flat_map(|a| a.footprint.subnets.iter().map(move |(s, _)| (a, s)))
                .filter(|(_, s)| s.overlaps(subnet))
                .collect();
            if let Some((a, s)) = earlier.first() {
                let more = earlier.len() - 1;
                let mut msg = format!(
                    "subnet {subnet} overlaps {s} of network {:?}{}",
                    a.name,
                    a.file
                        .as_ref()
                        .map(|f| format!(" ({})", f.display()))
                        .unwrap_or_default()
                );
                if more > 0 {
                    msg.push_str(&format!(" and {more} more"));
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
                            "subnet {subnet} overlaps this host's route {} dev {}: traffic to one of them goes the wrong way",
                            r.dst, r.dev
                        ),
                    )
                    .with_fix("pick a subnet no route of the host covers"),
                );
            }
        }
        // One bridge, different subnets.
        if let Some((bridge, path)) = &b.footprint.bridge {
            let other = networks[..i].iter().find(|a| {
                a.name != b.name
                    && a.footprint
                        .bridge
                        .as_ref()
                        .is_some_and(|(br, _)| br == bridge)
                    && !same_subnets(&a.footprint, &b.footprint)
            });
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
                            "bridge {bridge:?} is also used by network {:?} with other subnets ({} here, {} there): \
                             the bridge gets both gateways and the networks are not isolated",
                            a.name,
                            list(&b.footprint),
                            list(&a.footprint)
                        ),
                    )
                    .with_fix("give each network its own \"bridge\""),
                );
            }
        }
    }
    out
}

fn same_subnets(a: &Footprint, b: &Footprint) -> bool {
    let set = |f: &Footprint| {
        let mut s: Vec<String> = f.subnets.iter().map(|(s, _)| s.to_string()).collect();
        s.sort();
        s
    };
    set(a) == set(b)
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
