//! Rules of the IPAM plugins: host-local, static and dhcp (plugins/ipam/ in
//! containernetworking/plugins).

use std::net::IpAddr;
use std::path::Path;

use libcni::version::Version;
use serde_json::{Map, Value};

use super::net::{self, IpNet};
use super::{check_routes, fields, get, get_str, Cx, Kind};

/// plugins/ipam/host-local/backend/allocator/config.go `IPAMConfig` (with the single
/// `Range` it embeds for old-style configs) and range.go `Range`.
const HOST_LOCAL: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("routes", Kind::List),
    ("dataDir", Kind::Str),
    ("resolvConf", Kind::Str),
    ("ranges", Kind::List),
    ("subnet", Kind::Str),
    ("rangeStart", Kind::Str),
    ("rangeEnd", Kind::Str),
    ("gateway", Kind::Str),
];

/// plugins/ipam/host-local/backend/allocator/config.go `Range`.
const RANGE: &[(&str, Kind)] = &[
    ("subnet", Kind::Str),
    ("rangeStart", Kind::Str),
    ("rangeEnd", Kind::Str),
    ("gateway", Kind::Str),
];

/// plugins/ipam/static/main.go `IPAMConfig` and `Address`.
const STATIC: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("routes", Kind::List),
    ("addresses", Kind::List),
    ("dns", Kind::Obj),
];
const STATIC_ADDRESS: &[(&str, Kind)] = &[("address", Kind::Str), ("gateway", Kind::Str)];

/// plugins/ipam/dhcp/main.go `IPAMConfig`.
const DHCP: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("daemonSocketPath", Kind::Str),
    ("provide", Kind::List),
    ("request", Kind::List),
    ("priority", Kind::Int),
];

/// plugins/ipam/dhcp/main.go `defaultSocketPath`.
pub const DHCP_SOCKET: &str = "/run/cni/dhcp.sock";

/// The capabilities an IPAM plugin reads: host-local's `runtimeConfig.ipRanges` and `ips`
/// (allocator/config.go `Net.RuntimeConfig`), static's `ips` (static/main.go `Net`).
pub fn capabilities(ipam: &str) -> Option<&'static [&'static str]> {
    Some(match ipam {
        "host-local" => &["ipRanges", "ips"],
        "static" => &["ips"],
        "dhcp" => &[],
        _ => return None,
    })
}

/// Lints the `ipam` section of a plugin (`netconf` is the whole plugin config: host-local
/// reads its `cniVersion` and `runtimeConfig`).
pub fn lint(cx: &mut Cx<'_>, base: &str, netconf: &Map<String, Value>, ipam: &Map<String, Value>) {
    match get_str(ipam, "type") {
        Some("host-local") => host_local(cx, base, netconf, ipam),
        Some("static") => static_ipam(cx, base, ipam),
        Some("dhcp") => dhcp(cx, base, ipam),
        Some(_) => {}
        None => {
            cx.error(&format!("{base}.type"), "the ipam section has no \"type\"")
                .fix("add \"type\": \"host-local\" (or the IPAM plugin meant)");
        }
    }
}

/// One parsed range of host-local, for the checks across ranges.
struct ParsedRange {
    subnet: IpNet,
    start: IpAddr,
    end: IpAddr,
    path: String,
}

/// host-local: plugins/ipam/host-local/backend/allocator/config.go `LoadIPAMConfig` and
/// range.go `Range.Canonicalize`, range_set.go `RangeSet.Canonicalize`.
fn host_local(
    cx: &mut Cx<'_>,
    base: &str,
    netconf: &Map<String, Value>,
    ipam: &Map<String, Value>,
) {
    fields(cx, base, ipam, "host-local", &[HOST_LOCAL]);
    check_routes(cx, &format!("{base}.routes"), get(ipam, "routes"));
    // main.go cmdAdd: `parseResolvConf(ipamConf.ResolvConf)` (dns.go) opens the file.
    if let Some(rc) = get_str(ipam, "resolvConf") {
        if cx.host.exists(Path::new(rc)) == Some(false) {
            cx.error(
                &format!("{base}.resolvConf"),
                format!("resolvConf {rc} does not exist on this host: host-local fails to open it"),
            )
            .fix("point it at an existing resolv.conf, or leave it out");
        }
    }
    let mut sets: Vec<Vec<ParsedRange>> = Vec::new();
    // config.go: an old-style single range (`subnet` in the ipam section) comes first.
    if get_str(ipam, "subnet").is_some() {
        if let Some(r) = range(cx, base, ipam) {
            sets.push(vec![r]);
        }
    }
    let runtime_ranges = get(netconf, "capabilities")
        .and_then(|c| get(c.as_object()?, "ipRanges"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match get(ipam, "ranges") {
        Some(Value::Array(ranges)) => {
            for (i, set) in ranges.iter().enumerate() {
                let set_path = format!("{base}.ranges[{i}]");
                let Some(set) = set.as_array() else {
                    cx.error(
                        &set_path,
                        "a range set must be a list of ranges: [[{\"subnet\": ...}]]",
                    )
                    .fix("wrap it in brackets: \"ranges\": [[ ... ]]");
                    continue;
                };
                // range_set.go: "empty range set".
                if set.is_empty() {
                    cx.error(&set_path, "empty range set (host-local refuses it)");
                    continue;
                }
                let mut parsed = Vec::new();
                for (j, r) in set.iter().enumerate() {
                    let path = format!("{set_path}[{j}]");
                    match r.as_object() {
                        Some(r) => {
                            fields(cx, &path, r, "host-local", &[RANGE]);
                            parsed.extend(range(cx, &path, r));
                        }
                        None => {
                            cx.error(&path, "a range must be an object with \"subnet\"");
                        }
                    }
                }
                // range_set.go: "mixed address families", "subnets %s and %s overlap".
                if parsed
                    .iter()
                    .any(|r| r.subnet.addr.is_ipv4() != parsed[0].subnet.addr.is_ipv4())
                {
                    cx.error(
                        &set_path,
                        "a range set mixes IPv4 and IPv6 (host-local refuses it)",
                    )
                    .fix("put each family in its own range set: [[v4 ranges], [v6 ranges]]");
                }
                for (a, r1) in parsed.iter().enumerate() {
                    for r2 in &parsed[a + 1..] {
                        if ranges_overlap(r1, r2) {
                            cx.error(
                                &r2.path,
                                format!(
                                    "range overlaps the range at {} (host-local refuses it)",
                                    r1.path
                                ),
                            );
                        }
                    }
                }
                sets.push(parsed);
            }
        }
        _ if !sets.is_empty() || runtime_ranges => {}
        _ => {
            // config.go: "no IP ranges specified".
            cx.error(
                &format!("{base}.ranges"),
                "host-local has no ranges (ADD fails: no IP ranges specified)",
            )
            .fix("add \"ranges\": [[{\"subnet\": \"10.22.0.0/16\"}]]");
        }
    }
    // config.go: "range set %d overlaps with %d".
    for (a, s1) in sets.iter().enumerate() {
        for s2 in &sets[a + 1..] {
            if let Some((r1, r2)) = s1
                .iter()
                .flat_map(|r1| s2.iter().map(move |r2| (r1, r2)))
                .find(|(r1, r2)| ranges_overlap(r1, r2))
            {
                cx.error(
                    &r2.path,
                    format!(
                        "range overlaps the range at {} (host-local refuses it)",
                        r1.path
                    ),
                );
            }
        }
    }
    // config.go: "CNI version %v does not support more than 1 address per family".
    let count = |v4: bool| {
        sets.iter()
            .filter(|s| s.first().is_some_and(|r| r.subnet.addr.is_ipv4() == v4))
            .count()
    };
    if cx.version < Version::new(0, 3, 0) && (count(true) > 1 || count(false) > 1) {
        cx.error(
            &format!("{base}.ranges"),
            "cniVersion before 0.3.0 takes one address per family: host-local refuses several \
             range sets of one family",
        )
        .fix("use cniVersion 0.3.1 or later");
    }
    for r in sets.iter().flatten() {
        cx.footprint
            .subnets
            .push((r.subnet.canonical(), format!("{}.subnet", r.path)));
    }
}

fn ranges_overlap(a: &ParsedRange, b: &ParsedRange) -> bool {
    a.subnet.addr.is_ipv4() == b.subnet.addr.is_ipv4()
        && net::cmp(a.start, b.end).is_le()
        && net::cmp(b.start, a.end).is_le()
}

/// One host-local range (range.go `Range.Canonicalize`).
fn range(cx: &mut Cx<'_>, path: &str, r: &Map<String, Value>) -> Option<ParsedRange> {
    let Some(subnet_str) = get_str(r, "subnet") else {
        cx.error(&format!("{path}.subnet"), "the range has no \"subnet\"")
            .fix("add \"subnet\": \"10.22.0.0/24\"");
        return None;
    };
    let sub_path = format!("{path}.subnet");
    let Some(subnet) = IpNet::parse(subnet_str) else {
        cx.error(
            &sub_path,
            format!("{subnet_str:?} is not a CIDR subnet (like 10.22.0.0/24)"),
        );
        return None;
    };
    let bits = if subnet.addr.is_ipv4() { 32 } else { 128 };
    // range.go: "Network %s too small to allocate from".
    if subnet.len > bits - 2 {
        cx.error(
            &sub_path,
            format!(
                "{subnet_str} is too small to allocate from (host-local needs at least a /{})",
                bits - 2
            ),
        )
        .fix(format!("use a /{} or larger", bits - 2));
        return None;
    }
    // range.go: "Network has host bits set".
    if subnet.network() != subnet.addr {
        cx.error(
            &sub_path,
            format!("{subnet_str} has host bits set (host-local refuses it)"),
        )
        .fix(format!("use {}", subnet.canonical()));
    }
    let subnet = subnet.canonical();
    let addr = |key: &str, cx: &mut Cx<'_>| -> Option<Option<IpAddr>> {
        let Some(s) = get_str(r, key) else {
            return Some(None);
        };
        match net::parse_ip(s) {
            Some(a) => Some(Some(a)),
            None => {
                cx.error(
                    &format!("{path}.{key}"),
                    format!("{s:?} is not an IP address"),
                );
                None
            }
        }
    };
    let start = addr("rangeStart", cx)?;
    let end = addr("rangeEnd", cx)?;
    let gateway = addr("gateway", cx)?;
    // range.go: "RangeStart %s not in network %s", "RangeEnd %s not in network %s".
    for (key, a) in [("rangeStart", start), ("rangeEnd", end)] {
        if let Some(a) = a {
            if !subnet.contains(a) {
                cx.error(
                    &format!("{path}.{key}"),
                    format!("{key} {a} is not in subnet {subnet} (host-local refuses it)"),
                );
                return None;
            }
        }
    }
    let first = start.unwrap_or_else(|| next(subnet.network()));
    // range.go `lastIP`: the last address before IPv4's broadcast.
    let last = end.unwrap_or_else(|| {
        let l = subnet.last();
        if l.is_ipv4() {
            prev(l)
        } else {
            l
        }
    });
    if net::cmp(first, last).is_gt() {
        cx.error(
            &format!("{path}.rangeEnd"),
            format!("rangeStart {first} is after rangeEnd {last}: no address to allocate"),
        )
        .fix("swap rangeStart and rangeEnd");
    }
    if let Some(gw) = gateway {
        let gw_path = format!("{path}.gateway");
        if !subnet.contains(gw) {
            // host-local takes it, but the plugins' routes via it fail (the kernel
            // refuses a gateway that no route reaches) or it is never used.
            cx.error(
                &gw_path,
                format!("gateway {gw} is not in subnet {subnet}: routes through it cannot work"),
            )
            .fix(format!(
                "use an address of {subnet}, e.g. {}",
                next(subnet.network())
            ));
        } else if gw == subnet.network() {
            cx.error(
                &gw_path,
                format!("gateway {gw} is the network address of {subnet}: no host can have it"),
            )
            .fix(format!("use {}", next(subnet.network())));
        } else if gw.is_ipv4() && gw == subnet.last() {
            cx.error(
                &gw_path,
                format!("gateway {gw} is the broadcast address of {subnet}: no host can have it"),
            )
            .fix(format!("use {}", next(subnet.network())));
        }
    }
    Some(ParsedRange {
        subnet,
        start: first,
        end: last,
        path: path.to_owned(),
    })
}

fn next(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(1).into()),
    }
}

fn prev(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_sub(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_sub(1).into()),
    }
}

/// static: plugins/ipam/static/main.go `LoadIPAMConfig`: each address in CIDR notation
/// ("the 'ip' field is expected to be in CIDR notation"), "CNI version %v does not support
/// more than 1 address per family".
fn static_ipam(cx: &mut Cx<'_>, base: &str, ipam: &Map<String, Value>) {
    fields(cx, base, ipam, "static", &[STATIC]);
    check_routes(cx, &format!("{base}.routes"), get(ipam, "routes"));
    super::check_dns(cx, &format!("{base}.dns"), get(ipam, "dns"));
    let Some(Value::Array(addrs)) = get(ipam, "addresses") else {
        return;
    };
    let (mut v4, mut v6) = (0, 0);
    for (i, a) in addrs.iter().enumerate() {
        let path = format!("{base}.addresses[{i}]");
        let Some(a) = a.as_object() else {
            cx.error(&path, "an address must be an object with \"address\"");
            continue;
        };
        fields(cx, &path, a, "static", &[STATIC_ADDRESS]);
        let Some(s) = get_str(a, "address") else {
            cx.error(&format!("{path}.address"), "the entry has no \"address\"");
            continue;
        };
        let Some(n) = IpNet::parse(s) else {
            cx.error(
                &format!("{path}.address"),
                format!("{s:?} is not in CIDR notation (like 10.10.0.5/24)"),
            );
            continue;
        };
        if n.addr.is_ipv4() {
            v4 += 1
        } else {
            v6 += 1
        }
        let bits = if n.addr.is_ipv4() { 32 } else { 128 };
        if n.len < bits
            && n.addr.is_ipv4()
            && n.len < 31
            && (n.addr == n.network() || n.addr == n.last())
        {
            cx.error(
                &format!("{path}.address"),
                format!(
                    "{} is the network or broadcast address of {}",
                    n.addr,
                    n.canonical()
                ),
            );
        }
        if let Some(gw) = get_str(a, "gateway") {
            let gw_path = format!("{path}.gateway");
            match net::parse_ip(gw) {
                // static/main.go: "invalid gateway address".
                None => {
                    cx.error(&gw_path, format!("{gw:?} is not an IP address"));
                }
                Some(g) if !n.contains(g) => {
                    cx.error(
                        &gw_path,
                        format!(
                            "gateway {g} is not in {}: routes through it cannot work",
                            n.canonical()
                        ),
                    );
                }
                Some(g) if g == n.addr => {
                    cx.error(&gw_path, format!("gateway {g} is the address itself"));
                }
                Some(_) => {}
            }
        }
        cx.footprint
            .subnets
            .push((n.canonical(), format!("{path}.address")));
    }
    if cx.version < Version::new(0, 3, 0) && (v4 > 1 || v6 > 1) {
        cx.error(
            &format!("{base}.addresses"),
            "cniVersion before 0.3.0 takes one address per family",
        )
        .fix("use cniVersion 0.3.1 or later");
    }
}

/// dhcp: plugins/ipam/dhcp/main.go: ADD asks the daemon on `daemonSocketPath` (default
/// `/run/cni/dhcp.sock`); without a daemon there it fails.
fn dhcp(cx: &mut Cx<'_>, base: &str, ipam: &Map<String, Value>) {
    fields(cx, base, ipam, "dhcp", &[DHCP]);
    let socket = get_str(ipam, "daemonSocketPath").unwrap_or(DHCP_SOCKET);
    if cx.host.is_socket(Path::new(socket)) == Some(false) {
        let path = if get(ipam, "daemonSocketPath").is_some() {
            format!("{base}.daemonSocketPath")
        } else {
            format!("{base}.type")
        };
        cx.error(
            &path,
            format!("no dhcp daemon socket at {socket}: ADD fails until the daemon runs"),
        )
        .fix(format!(
            "start it: /usr/lib/cni/dhcp daemon -socketpath {socket} (or its systemd unit)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::*;
    use super::super::HostView;

    fn hl(ipam: serde_json::Value) -> Vec<String> {
        let mut ipam = ipam;
        ipam["type"] = "host-local".into();
        lint(json!({"type": "bridge", "ipam": ipam}))
    }

    fn one_range(r: serde_json::Value) -> Vec<String> {
        hl(json!({"ranges": [[r]]}))
    }

    #[test]
    fn host_local_subnets() {
        assert_one(
            &one_range(json!({"subnet": "10.300.0.0/24"})),
            "error .ipam.ranges[0][0].subnet: \"10.300.0.0/24\" is not a CIDR subnet",
        );
        assert_one(
            &one_range(json!({"subnet": "10.3.0.5/24"})),
            "has host bits set",
        );
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/31"})),
            "is too small to allocate from",
        );
        assert_one(
            &one_range(json!({})),
            "error .ipam.ranges[0][0].subnet: the range has no \"subnet\"",
        );
        assert_one(
            &hl(json!({})),
            "error .ipam.ranges: host-local has no ranges",
        );
        assert_clean(&one_range(json!({"subnet": "10.3.0.0/24"})));
        // The old single-range form.
        assert_clean(&hl(json!({"subnet": "10.3.0.0/24", "gateway": "10.3.0.1"})));
        assert_one(
            &hl(json!({"subnet": "10.3.0.0/24", "gateway": "10.4.0.1"})),
            "is not in subnet",
        );
    }

    #[test]
    fn host_local_ranges_inside_their_subnet() {
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/24", "rangeStart": "10.3.1.10"})),
            "error .ipam.ranges[0][0].rangeStart: rangeStart 10.3.1.10 is not in subnet 10.3.0.0/24",
        );
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/24", "rangeEnd": "10.4.0.1"})),
            "rangeEnd 10.4.0.1 is not in subnet",
        );
        assert_one(
            &one_range(
                json!({"subnet": "10.3.0.0/24", "rangeStart": "10.3.0.100", "rangeEnd": "10.3.0.50"}),
            ),
            "rangeStart 10.3.0.100 is after rangeEnd 10.3.0.50",
        );
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/24", "rangeStart": "10.3.0.x"})),
            "\"10.3.0.x\" is not an IP address",
        );
        assert_clean(&one_range(
            json!({"subnet": "10.3.0.0/24", "rangeStart": "10.3.0.10", "rangeEnd": "10.3.0.50"}),
        ));
    }

    #[test]
    fn host_local_gateway() {
        let gw = |g: &str| one_range(json!({"subnet": "10.3.0.0/24", "gateway": g}));
        assert_one(
            &gw("10.3.0.0"),
            "error .ipam.ranges[0][0].gateway: gateway 10.3.0.0 is the network address",
        );
        assert_one(&gw("10.3.0.255"), "is the broadcast address");
        assert_one(
            &gw("10.9.0.1"),
            "gateway 10.9.0.1 is not in subnet 10.3.0.0/24",
        );
        assert_clean(&gw("10.3.0.254"));
        // IPv6 has no broadcast address.
        assert_clean(&one_range(
            json!({"subnet": "fd00::/120", "gateway": "fd00::ff"}),
        ));
    }

    #[test]
    fn host_local_range_sets() {
        assert_one(
            &hl(json!({"ranges": [[{"subnet": "10.3.0.0/24"}, {"subnet": "fd00::/64"}]]})),
            "error .ipam.ranges[0]: a range set mixes IPv4 and IPv6",
        );
        assert_one(
            &hl(json!({"ranges": [[{"subnet": "10.3.0.0/24"}, {"subnet": "10.3.0.0/25"}]]})),
            "error .ipam.ranges[0][1]: range overlaps the range at .ipam.ranges[0][0]",
        );
        assert_one(
            &hl(json!({"ranges": [[{"subnet": "10.3.0.0/24"}], [{"subnet": "10.3.0.0/16"}]]})),
            "error .ipam.ranges[1][0]: range overlaps",
        );
        assert_one(
            &hl(json!({"ranges": [{"subnet": "10.3.0.0/24"}]})),
            "a range set must be a list of ranges",
        );
        assert_one(&hl(json!({"ranges": [[]]})), "empty range set");
        assert_clean(&hl(
            json!({"ranges": [[{"subnet": "10.3.0.0/24"}, {"subnet": "10.4.0.0/24"}], [{"subnet": "fd00::/64"}]]}),
        ));
        // Before 0.3.0, one range set per family.
        let two_v4 = json!({"type": "bridge", "cniVersion": "0.2.0", "ipam": {"type": "host-local",
            "ranges": [[{"subnet": "10.3.0.0/24"}], [{"subnet": "10.4.0.0/24"}]]}});
        let none = HostView::none();
        let mut cx = super::super::Cx::new(&none, libcni::version::Version::new(0, 2, 0));
        super::super::lint_plugin(&mut cx, "", 0, two_v4.as_object().unwrap());
        assert!(
            cx.found.iter().any(|f| f.message.contains("before 0.3.0")),
            "{:?}",
            cx.found
        );
    }

    #[test]
    fn host_local_unknown_keys() {
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/24", "rangestart": "10.3.0.9"})),
            "info .ipam.ranges[0][0].rangestart: host-local reads key",
        );
        assert_one(
            &one_range(json!({"subnet": "10.3.0.0/24", "rangeStrat": "10.3.0.9"})),
            "did you mean \"rangeStart\"?",
        );
    }

    #[test]
    fn host_local_resolv_conf_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let rc = tmp.path().join("resolv.conf");
        let conf = || {
            json!({"type": "bridge", "ipam": {"type": "host-local", "resolvConf": rc,
                "ranges": [[{"subnet": "10.3.0.0/24"}]]}})
        };
        let host = HostView {
            checked: true,
            ..HostView::default()
        };
        assert_one(
            &lint_on(conf(), &host),
            "error .ipam.resolvConf: resolvConf",
        );
        std::fs::write(&rc, "nameserver 10.0.0.53\n").unwrap();
        assert_clean(&lint_on(conf(), &host));
    }

    #[test]
    fn ipam_needs_a_type() {
        assert_one(
            &lint(json!({"type": "bridge", "ipam": {"subnet": "10.3.0.0/24"}})),
            "error .ipam.type: the ipam section has no \"type\"",
        );
    }

    #[test]
    fn static_addresses() {
        let st = |addr: serde_json::Value| {
            lint(json!({"type": "macvlan", "ipam": {"type": "static", "addresses": [addr]}}))
        };
        assert_one(
            &st(json!({"address": "10.10.0.5"})),
            "error .ipam.addresses[0].address: \"10.10.0.5\" is not in CIDR notation",
        );
        assert_one(
            &st(json!({"address": "10.10.0.5/24", "gateway": "10.11.0.1"})),
            "gateway 10.11.0.1 is not in 10.10.0.0/24",
        );
        assert_one(
            &st(json!({"address": "10.10.0.5/24", "gateway": "nope"})),
            "\"nope\" is not an IP address",
        );
        assert_one(
            &st(json!({"address": "10.10.0.0/24"})),
            "is the network or broadcast address",
        );
        assert_one(
            &st(json!({"adress": "10.10.0.5/24"})),
            "did you mean \"address\"?",
        );
        assert_clean(&st(
            json!({"address": "10.10.0.5/24", "gateway": "10.10.0.1"}),
        ));
    }

    #[test]
    fn dhcp_needs_its_daemon() {
        let tmp = tempfile::tempdir().unwrap();
        let sock = tmp.path().join("dhcp.sock");
        let conf = |s: &std::path::Path| json!({"type": "macvlan", "master": "eth0", "ipam": {"type": "dhcp", "daemonSocketPath": s}});
        let host = HostView {
            checked: true,
            ..HostView::default()
        };
        assert_one(
            &lint_on(conf(&sock), &host),
            "error .ipam.daemonSocketPath: no dhcp daemon socket at",
        );
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_clean(&lint_on(conf(&sock), &host));
        // Without host checks, nothing is said.
        assert_clean(&lint(json!({"type": "macvlan", "ipam": {"type": "dhcp"}})));
    }
}
