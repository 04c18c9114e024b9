//! The built-in default network: what `run` uses on a machine with no netconf at all, so
//! `cnitool run -- ip addr` works with only the plugins installed. A netconf file with the same
//! name overrides it.

use std::io;
use std::net::Ipv4Addr;

use anyhow::Context as _;
use libcni::NetworkConfigList;

/// The built-in network's name.
pub const NAME: &str = "cnitool";

/// bridge (with masquerade) + host-local on a private subnet + portmap. `SUBNET` and
/// `GATEWAY` are filled in by [`list`].
///
/// No `loopback` plugin: `run` brings `lo` up itself when it creates the namespace, and the
/// loopback plugin's DEL sets `lo` *down*, which would break a namespace joined with
/// `run --netns` (or `add` to a namespace someone else uses).
const TEMPLATE: &str = r#"{
  "cniVersion": "1.0.0",
  "name": "cnitool",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cnitool0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "SUBNET", "gateway": "GATEWAY" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
"#;

/// The built-in network's bridge.
pub const BRIDGE: &str = "cnitool0";

/// The subnets the built-in network may take, in order: `10.231.N.0/24` for N in 0..16. Away
/// from what other tools hand out by default (podman 10.88 and 10.89, docker 172.17-172.31 and
/// 192.168, Kubernetes distributions 10.42, 10.43, 10.96, 10.244).
const CANDIDATES: std::ops::Range<u8> = 0..16;

/// An IPv4 route of the host's main table, as `/proc/net/route` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dev: String,
    pub dst: Ipv4Addr,
    pub prefix: u8,
    /// Whether it goes through a gateway (not a subnet on a link of the host).
    pub via_gateway: bool,
}

impl Route {
    fn overlaps(&self, net: Ipv4Addr, prefix: u8) -> bool {
        let common = self.prefix.min(prefix);
        let mask = |p: u8| u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
        u32::from(self.dst) & mask(common) == u32::from(net) & mask(common)
    }
}

/// The calling thread's network namespace's IPv4 routes (main table). A subnet on a link of
/// the host shows here as its prefix route.
pub fn host_routes() -> io::Result<Vec<Route>> {
    let text = std::fs::read_to_string("/proc/thread-self/net/route")?;
    Ok(parse_routes(&text))
}

fn parse_routes(text: &str) -> Vec<Route> {
    // Addresses are the kernel's __be32 printed as a host-order %08X.
    let addr = |hex: &str| u32::from_str_radix(hex, 16).map(|v| Ipv4Addr::from(v.to_ne_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (dev, dst, gateway, mask) = (f.first()?, f.get(1)?, f.get(2)?, f.get(7)?);
            let mask = addr(mask).ok()?;
            Some(Route {
                dev: (*dev).to_owned(),
                dst: addr(dst).ok()?,
                prefix: u32::from(mask).count_ones() as u8,
                via_gateway: addr(gateway).ok()? != Ipv4Addr::UNSPECIFIED,
            })
        })
        .collect()
}

/// The subnet the built-in network takes on a host with `routes`: the one its bridge already
/// has (runs may be using it), else the first candidate no route of the host overlaps (a
/// default route overlaps everything and is not counted). With a note when a candidate was
/// passed over.
///
/// # Errors
/// When every candidate overlaps a route; the message says what to do.
pub fn choose_subnet(routes: &[Route]) -> Result<(Ipv4Addr, Option<String>), String> {
    if let Some(own) = routes
        .iter()
        .find(|r| r.dev == BRIDGE && !r.via_gateway && r.prefix > 0 && r.prefix <= 30)
    {
        return Ok((own.dst, None));
    }
    let mut passed = Vec::new();
    for n in CANDIDATES {
        let net = Ipv4Addr::new(10, 231, n, 0);
        match routes.iter().find(|r| r.prefix > 0 && r.overlaps(net, 24)) {
            None => {
                let note = (!passed.is_empty()).then(|| {
                    format!(
                        "built-in network: {} in use on this host; using {net}/24",
                        passed.join(", ")
                    )
                });
                return Ok((net, note));
            }
            Some(r) => passed.push(format!(
                "{net}/24 (route {}/{} dev {})",
                r.dst, r.prefix, r.dev
            )),
        }
    }
    Err(format!(
        "the built-in network finds no free subnet: 10.231.0.0/24 to 10.231.15.0/24 all overlap \
         routes of this host; write a netconf named {NAME} with a free subnet \
         (e.g. in /etc/cni/net.d/{NAME}.conflist)"
    ))
}

/// The built-in network list for this host (see [`choose_subnet`]), and the note to show
/// under `-v` when a candidate subnet was passed over.
///
/// # Errors
/// When the host's routes cannot be read, or no candidate subnet is free.
pub fn list() -> anyhow::Result<(NetworkConfigList, Option<String>)> {
    let routes = host_routes().context("reading the host's routes (/proc/net/route)")?;
    let (net, note) = choose_subnet(&routes).map_err(|e| anyhow::anyhow!(e))?;
    Ok((list_on(net), note))
}

/// The built-in network list on the /24 at `net`.
pub fn list_on(net: Ipv4Addr) -> NetworkConfigList {
    let [a, b, c, _] = net.octets();
    let text = TEMPLATE
        .replace("SUBNET", &format!("{a}.{b}.{c}.0/24"))
        .replace("GATEWAY", &format!("{a}.{b}.{c}.1"));
    let mut list = libcni::conf::conf_list_from_bytes(text.as_bytes(), None)
        .expect("the built-in netconf is valid");
    list.source = None;
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dev: &str, dst: [u8; 4], prefix: u8, via_gateway: bool) -> Route {
        Route {
            dev: dev.into(),
            dst: dst.into(),
            prefix,
            via_gateway,
        }
    }

    #[test]
    fn parses_proc_net_route() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    cni-podman0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(text),
            [
                route("eth0", [0, 0, 0, 0], 0, true),
                route("cni-podman0", [10, 89, 0, 0], 24, false),
            ]
        );
    }

    #[test]
    fn chooses_a_free_subnet() {
        let default = route("eth0", [0, 0, 0, 0], 0, true);
        assert_eq!(
            choose_subnet(std::slice::from_ref(&default)),
            Ok((Ipv4Addr::new(10, 231, 0, 0), None))
        );
        // Taken by a /16 elsewhere: passed over, with a note.
        let (net, note) =
            choose_subnet(&[default.clone(), route("br-x", [10, 231, 0, 0], 23, false)]).unwrap();
        assert_eq!(net, Ipv4Addr::new(10, 231, 2, 0));
        assert_eq!(
            note.as_deref(),
            Some(
                "built-in network: 10.231.0.0/24 (route 10.231.0.0/23 dev br-x), 10.231.1.0/24 \
                 (route 10.231.0.0/23 dev br-x) in use on this host; using 10.231.2.0/24"
            )
        );
        // Its own bridge's subnet wins (runs may be on it), even an older default.
        assert_eq!(
            choose_subnet(&[default, route(BRIDGE, [10, 89, 0, 0], 24, false)]),
            Ok((Ipv4Addr::new(10, 89, 0, 0), None))
        );
        // Nothing free.
        let err = choose_subnet(&[route("big", [10, 0, 0, 0], 8, false)]).unwrap_err();
        assert!(err.contains("no free subnet"), "{err}");
    }

    #[test]
    fn builtin_parses() {
        let list = list_on(Ipv4Addr::new(10, 231, 0, 0));
        assert_eq!(list.name, super::NAME);
        let types: Vec<_> = list
            .plugins
            .iter()
            .map(|p| p.plugin_type.as_str())
            .collect();
        assert_eq!(types, ["bridge", "portmap"]);
    }
}
