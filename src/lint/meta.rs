//! Rules of the meta (chained) plugins: portmap, firewall, tuning, bandwidth, sbr and vrf
//! (plugins/meta/ in containernetworking/plugins).

use std::path::Path;

use serde_json::{Map, Value};

use super::net;
use super::{check_ifname, check_mac, check_mtu, fields, get, get_str, Cx, Kind, NETCONF_KEYS};

/// plugins/meta/portmap/main.go `PortMapConf`.
const PORTMAP: &[(&str, Kind)] = &[
    ("backend", Kind::Str),
    ("snat", Kind::Bool),
    ("conditionsV4", Kind::StrList),
    ("conditionsV6", Kind::StrList),
    ("masqAll", Kind::Bool),
    ("markMasqBit", Kind::Int),
    ("externalSetMarkChain", Kind::Str),
];

/// plugins/meta/firewall/firewall.go `FirewallNetConf`.
const FIREWALL: &[(&str, Kind)] = &[
    ("backend", Kind::Str),
    ("iptablesAdminChainName", Kind::Str),
    ("firewalldZone", Kind::Str),
    ("ingressPolicy", Kind::Str),
];

/// plugins/meta/tuning/tuning.go `TuningConf`.
const TUNING: &[(&str, Kind)] = &[
    ("dataDir", Kind::Str),
    ("sysctl", Kind::StrMap),
    ("mac", Kind::Str),
    ("promisc", Kind::Bool),
    ("mtu", Kind::Int),
    ("txQLen", Kind::Int),
    ("allmulti", Kind::Bool),
];

/// plugins/meta/bandwidth/main.go `BandwidthEntry` (inline in `PluginConf`).
const BANDWIDTH: &[(&str, Kind)] = &[
    ("ingressRate", Kind::UInt),
    ("ingressBurst", Kind::UInt),
    ("egressRate", Kind::UInt),
    ("egressBurst", Kind::UInt),
];

/// plugins/meta/sbr/main.go `PluginConf`.
const SBR: &[(&str, Kind)] = &[
    ("table", Kind::Int),
    ("gateways", Kind::StrList),
    ("addSourceHints", Kind::Bool),
];

/// plugins/meta/vrf/main.go `VRFNetConf`.
const VRF: &[(&str, Kind)] = &[("vrfname", Kind::Str), ("table", Kind::UInt)];

/// The capabilities each plugin's `runtimeConfig` reads: portmap's `portMappings`,
/// bandwidth's `bandwidth`, tuning's `mac`.
pub fn capabilities(plugin: &str) -> Option<&'static [&'static str]> {
    Some(match plugin {
        "portmap" => &["portMappings"],
        "bandwidth" => &["bandwidth"],
        "tuning" => &["mac"],
        "firewall" | "sbr" | "vrf" => &[],
        _ => return None,
    })
}

/// Lints `raw` if `ty` is one of these plugins (at `index` in its list); false if not.
pub fn lint(cx: &mut Cx<'_>, base: &str, ty: &str, index: usize, raw: &Map<String, Value>) -> bool {
    let schema = match ty {
        "portmap" => PORTMAP,
        "firewall" => FIREWALL,
        "tuning" => TUNING,
        "bandwidth" => BANDWIDTH,
        "sbr" => SBR,
        "vrf" => VRF,
        _ => return false,
    };
    fields(
        cx,
        base,
        raw,
        &format!("the {ty} plugin"),
        &[NETCONF_KEYS, schema],
    );
    let at = |key: &str| format!("{base}.{key}");
    // portmap, bandwidth, sbr, vrf and firewall act on the result of the plugins before them: first in
    // a list they fail ("must be called as chained plugin", "missing prevResult").
    if index == 0 && ty != "tuning" {
        cx.error(
            base,
            format!("{ty} is a chained plugin: it needs an interface plugin before it in the list"),
        )
        .fix("put it after the interface plugin (e.g. bridge) in \"plugins\"");
    }
    let caps = |cap: &str| {
        get(raw, "capabilities")
            .and_then(|c| get(c.as_object()?, cap))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    match ty {
        "portmap" => {
            // main.go parseConfig: "unrecognized backend %q".
            if let Some(b) = get_str(raw, "backend") {
                one_of(cx, &at("backend"), "backend", b, &["iptables", "nftables"]);
            }
            // main.go parseConfig: "MasqMarkBit must be between 0 and 31", and
            // "Cannot specify externalSetMarkChain and markMasqBit".
            if let Some(bit) = super::get_int(raw, "markMasqBit") {
                if !(0..=31).contains(&bit) {
                    cx.error(
                        &at("markMasqBit"),
                        format!("markMasqBit {bit} is out of range: 0 to 31"),
                    );
                }
                if get_str(raw, "externalSetMarkChain").is_some() {
                    cx.error(
                        &at("markMasqBit"),
                        "markMasqBit and externalSetMarkChain exclude each other (portmap refuses both)",
                    );
                }
            }
            if !caps("portMappings") && get(raw, "runtimeConfig").is_none() {
                cx.warn(
                    base,
                    "portmap without capabilities {\"portMappings\": true} gets no port mappings: \
                     it does nothing",
                )
                .fix("add \"capabilities\": {\"portMappings\": true}");
            }
            port_mappings(cx, base, raw);
        }
        "firewall" => {
            // firewall.go getBackend: "iptables" or "firewalld" ("" picks).
            if let Some(b) = get_str(raw, "backend") {
                one_of(cx, &at("backend"), "backend", b, &["iptables", "firewalld"]);
            }
            // ingresspolicy.go: "open" (the default), "same-bridge", "isolated".
            if let Some(p) = get_str(raw, "ingressPolicy") {
                one_of(
                    cx,
                    &at("ingressPolicy"),
                    "ingressPolicy",
                    p,
                    &["open", "same-bridge", "isolated"],
                );
            }
            if let Some(c) = get_str(raw, "iptablesAdminChainName") {
                // iptables' chain names are at most 28 characters (XT_EXTENSION_MAXNAMELEN - 1).
                if c.len() > 28 {
                    cx.error(
                        &at("iptablesAdminChainName"),
                        format!("chain name {c:?} is longer than iptables' 28 characters"),
                    );
                }
            }
        }
        "tuning" => tuning(cx, base, raw),
        "bandwidth" => {
            // main.go validateRateAndBurst.
            for (rate, burst) in [
                ("ingressRate", "ingressBurst"),
                ("egressRate", "egressBurst"),
            ] {
                rate_and_burst(cx, base, raw, rate, burst);
            }
            let any = BANDWIDTH
                .iter()
                .any(|(k, _)| get(raw, k).is_some_and(|v| v.as_u64() != Some(0)));
            if !any && !caps("bandwidth") {
                cx.warn(
                    base,
                    "bandwidth has no rates and no capabilities {\"bandwidth\": true}: it does nothing",
                )
                .fix(
                    "set ingressRate/ingressBurst or egressRate/egressBurst, or add \
                     \"capabilities\": {\"bandwidth\": true}",
                );
            }
        }
        "sbr" => {
            // sbr/main.go parseConfig: at most 2 gateways, one per family, valid addresses.
            if let Some(Value::Array(gws)) = get(raw, "gateways") {
                if gws.len() > 2 {
                    cx.error(
                        &at("gateways"),
                        "gateways list cannot contain more than 2 entries (one IPv4, one IPv6)",
                    );
                }
                let (mut v4, mut v6) = (0, 0);
                for (i, g) in gws.iter().enumerate() {
                    let Some(s) = g.as_str() else { continue };
                    match net::parse_ip(s) {
                        None => {
                            cx.error(
                                &format!("{base}.gateways[{i}]"),
                                format!("{s:?} is not an IP address"),
                            );
                        }
                        Some(a) if a.is_ipv4() => v4 += 1,
                        Some(_) => v6 += 1,
                    }
                }
                if v4 > 1 || v6 > 1 {
                    cx.error(
                        &at("gateways"),
                        "gateways list has two addresses of one family (one IPv4, one IPv6 at most)",
                    );
                }
            }
        }
        "vrf" => {
            // vrf/main.go parseConf: "configuration is expected to have a valid vrf name".
            match get_str(raw, "vrfname") {
                None => {
                    cx.error(&at("vrfname"), "vrf needs \"vrfname\"")
                        .fix("add \"vrfname\": \"blue\"");
                }
                Some(v) => {
                    check_ifname(cx, &at("vrfname"), v);
                }
            }
        }
        _ => {}
    }
    true
}

fn one_of(cx: &mut Cx<'_>, path: &str, what: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        let f = cx.error(
            path,
            format!("unknown {what} {value:?} (one of: {})", allowed.join(", ")),
        );
        if let Some(near) = super::nearest(value, allowed.iter().copied()) {
            f.fix(format!("use {near:?}"));
        }
    }
}

/// bandwidth/main.go `validateRateAndBurst`: a rate needs a burst and the other way round,
/// the burst (bits) under 4 GiB in bytes. Rates are in bits per second.
fn rate_and_burst(
    cx: &mut Cx<'_>,
    base: &str,
    raw: &Map<String, Value>,
    rate_key: &str,
    burst_key: &str,
) {
    let rate = get(raw, rate_key).and_then(Value::as_u64).unwrap_or(0);
    let burst = get(raw, burst_key).and_then(Value::as_u64).unwrap_or(0);
    if rate != 0 && burst == 0 {
        cx.error(
            &format!("{base}.{burst_key}"),
            format!(
                "{rate_key} is set without {burst_key}: bandwidth refuses a rate without a burst"
            ),
        )
        .fix(format!(
            "add \"{burst_key}\" (bits; e.g. {} for 100 ms at the rate)",
            rate / 10
        ));
    } else if rate == 0 && burst != 0 {
        cx.error(
            &format!("{base}.{rate_key}"),
            format!(
                "{burst_key} is set without {rate_key}: bandwidth refuses a burst without a rate"
            ),
        )
        .fix(format!("add \"{rate_key}\" (bits per second)"));
    } else if burst / 8 >= u64::from(u32::MAX) {
        cx.error(
            &format!("{base}.{burst_key}"),
            "burst cannot be more than 4GB (bandwidth refuses it)",
        );
    }
}

/// portmap's static `runtimeConfig.portMappings` (main.go parseConfig: "Invalid container
/// port number", "Invalid host port number").
fn port_mappings(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>) {
    let Some(Value::Array(maps)) = get(raw, "runtimeConfig")
        .and_then(Value::as_object)
        .and_then(|r| get(r, "portMappings"))
    else {
        return;
    };
    for (i, m) in maps.iter().enumerate() {
        let path = format!("{base}.runtimeConfig.portMappings[{i}]");
        let Some(m) = m.as_object() else { continue };
        for key in ["hostPort", "containerPort"] {
            match super::get_int(m, key) {
                Some(p) if (1..=65535).contains(&p) => {}
                p => {
                    cx.error(
                        &format!("{path}.{key}"),
                        format!(
                            "{key} {} is not a port (1 to 65535)",
                            p.map_or("missing".into(), |p| p.to_string())
                        ),
                    );
                }
            }
        }
        // portmap_iptables.go `fillDnatRules`: `net.ParseIP(entry.HostIP)`; text that does
        // not parse counts as IPv6 there, so the IPv4 mapping is silently left out.
        if let Some(hip) = get_str(m, "hostIP") {
            if net::parse_ip(hip).is_none() {
                cx.error(
                    &format!("{path}.hostIP"),
                    format!("hostIP {hip:?} is not an IP address"),
                );
            }
        }
        if let Some(proto) = get_str(m, "protocol") {
            if !["tcp", "udp", "sctp"].contains(&proto.to_ascii_lowercase().as_str()) {
                cx.error(
                    &format!("{path}.protocol"),
                    format!("protocol {proto:?} is not tcp, udp or sctp"),
                );
            }
        }
    }
}

/// tuning.go: sysctls only under net. (`getSysctlFilename`: "invalid net sysctl key"),
/// `IFNAME` replaced by the interface name; the host's allowlist file (`readAllowlist`,
/// /etc/cni/tuning/allowlist.conf) limits them further; mac, mtu, txQLen.
fn tuning(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>) {
    let at = |key: &str| format!("{base}.{key}");
    if let Some(mac) = get_str(raw, "mac") {
        check_mac(cx, &at("mac"), mac);
    }
    check_mtu(cx, &at("mtu"), raw);
    if let Some(q) = super::get_int(raw, "txQLen") {
        if q < 0 {
            cx.error(&at("txQLen"), format!("txQLen {q} is negative"));
        }
    }
    let Some(Value::Object(sysctls)) = get(raw, "sysctl") else {
        return;
    };
    for key in sysctls.keys() {
        let path = super::member(&format!("{base}.sysctl"), key);
        let file = key.replace('.', "/").replacen("IFNAME", "eth0", 1);
        let full = Path::new("/proc/sys").join(&file);
        // filepath.Join cleans `..`: what counts is where the path lands.
        let lands_in_net = clean(&full).starts_with("/proc/sys/net/");
        if !lands_in_net {
            cx.error(
                &path,
                format!("sysctl {key:?} is not under net.: tuning sets only network sysctls"),
            )
            .fix("use a net.* sysctl (e.g. net.ipv4.conf.IFNAME.arp_notify)");
            continue;
        }
        // Per-interface keys name the container's interface: nothing to look for on the host.
        // Others exist in every network namespace when they exist in this one.
        if !key.contains("IFNAME") && cx.host.exists(&full) == Some(false) {
            cx.warn(
                &path,
                format!("sysctl {key:?} does not exist on this host (/proc/sys/{file})"),
            );
        }
    }
    let allowlist = Path::new("/etc/cni/tuning/allowlist.conf");
    if cx.host.exists(allowlist) == Some(true) && !sysctls.is_empty() {
        cx.info(
            &at("sysctl"),
            format!(
                "{} limits the sysctls tuning sets (regular expressions, not evaluated here)",
                allowlist.display()
            ),
        );
    }
}

/// `path` with `.` and `..` components resolved lexically (as Go's `filepath.Clean`).
fn clean(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::*;

    fn second(p: serde_json::Value) -> Vec<String> {
        // As the second plugin of a list (index 1).
        let none = super::super::HostView::none();
        let mut cx = super::super::Cx::new(&none, libcni::version::Version::V1_0_0);
        super::super::lint_plugin(&mut cx, "", 1, p.as_object().unwrap());
        cx.found
            .iter()
            .map(|f| format!("{} {}: {}", f.severity, f.path, f.message))
            .collect()
    }

    #[test]
    fn chained_plugins_need_a_plugin_before() {
        assert_one(
            &lint(json!({"type": "portmap", "capabilities": {"portMappings": true}})),
            "error .: portmap is a chained plugin",
        );
        assert_clean(&second(
            json!({"type": "portmap", "capabilities": {"portMappings": true}}),
        ));
    }

    #[test]
    fn portmap_rules() {
        let pm = |extra: serde_json::Value| {
            let mut p = json!({"type": "portmap", "capabilities": {"portMappings": true}});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            second(p)
        };
        assert_one(
            &pm(json!({"backend": "nft"})),
            "error .backend: unknown backend \"nft\"",
        );
        assert_one(
            &pm(json!({"markMasqBit": 40})),
            "markMasqBit 40 is out of range",
        );
        assert_one(
            &pm(json!({"markMasqBit": 3, "externalSetMarkChain": "X"})),
            "exclude each other",
        );
        assert_one(
            &pm(
                json!({"runtimeConfig": {"portMappings": [{"hostPort": 0, "containerPort": 80, "protocol": "tcp"}]}}),
            ),
            "hostPort 0 is not a port",
        );
        assert_one(
            &pm(
                json!({"runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "icmp"}]}}),
            ),
            "protocol \"icmp\"",
        );
        assert_one(
            &pm(json!({"runtimeConfig": {"portMappings":
                [{"hostPort": 8080, "containerPort": 80, "hostIP": "localhost"}]}})),
            "hostIP \"localhost\" is not an IP address",
        );
        assert_clean(&pm(
            json!({"backend": "nftables", "snat": true, "markMasqBit": 13,
            "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}}),
        ));
        assert_one(
            &second(json!({"type": "portmap"})),
            "warning .: portmap without capabilities",
        );
    }

    #[test]
    fn firewall_rules() {
        assert_one(
            &second(json!({"type": "firewall", "backend": "nftables"})),
            "unknown backend \"nftables\"",
        );
        assert_one(
            &second(json!({"type": "firewall", "ingressPolicy": "closed"})),
            "unknown ingressPolicy \"closed\"",
        );
        assert_one(
            &second(
                json!({"type": "firewall", "iptablesAdminChainName": "A-VERY-LONG-ADMIN-CHAIN-NAME-X"}),
            ),
            "longer than iptables' 28",
        );
        assert_clean(&second(
            json!({"type": "firewall", "backend": "iptables", "ingressPolicy": "same-bridge"}),
        ));
    }

    #[test]
    fn bandwidth_needs_bursts_with_rates() {
        assert_one(
            &second(json!({"type": "bandwidth", "ingressRate": 1000000})),
            "error .ingressBurst: ingressRate is set without ingressBurst",
        );
        assert_one(
            &second(json!({"type": "bandwidth", "egressBurst": 1000})),
            "error .egressRate: egressBurst is set without egressRate",
        );
        assert_one(
            &second(json!({"type": "bandwidth", "egressRate": 1, "egressBurst": 40000000000u64})),
            "burst cannot be more than 4GB",
        );
        assert_one(
            &second(json!({"type": "bandwidth"})),
            "warning .: bandwidth has no rates",
        );
        assert_clean(&second(
            json!({"type": "bandwidth", "ingressRate": 1000000, "ingressBurst": 100000}),
        ));
        assert_clean(&second(
            json!({"type": "bandwidth", "capabilities": {"bandwidth": true}}),
        ));
    }

    #[test]
    fn tuning_sysctls() {
        let t = |s: serde_json::Value| second(json!({"type": "tuning", "sysctl": s}));
        assert_one(
            &t(json!({"kernel.panic": "1"})),
            "error .sysctl[\"kernel.panic\"]: sysctl \"kernel.panic\" is not under net.",
        );
        assert_one(&t(json!({"vm.swappiness": "1"})), "is not under net.");
        assert_one(
            &t(json!({"net.ipv4.ip_forward": 1})),
            "\"sysctl\" must be an object of strings",
        );
        assert_clean(&t(
            json!({"net.ipv4.conf.IFNAME.arp_notify": "1", "net.core.somaxconn": "500"}),
        ));
        assert_one(
            &second(json!({"type": "tuning", "mac": "01:00:00:00:00:01"})),
            "multicast",
        );
        assert_one(
            &second(json!({"type": "tuning", "txQLen": -1})),
            "txQLen -1 is negative",
        );
    }

    #[test]
    fn tuning_sysctl_must_exist_on_the_host() {
        let host = super::super::HostView {
            checked: true,
            ..Default::default()
        };
        let t = |k: &str| {
            let mut cx = super::super::Cx::new(&host, libcni::version::Version::V1_0_0);
            let p = json!({"type": "tuning", "sysctl": {k: "1"}});
            super::super::lint_plugin(&mut cx, "", 1, p.as_object().unwrap());
            cx.found
                .iter()
                .map(|f| format!("{} {}: {}", f.severity, f.path, f.message))
                .collect::<Vec<_>>()
        };
        assert_one(&t("net.ipv4.no_such_sysctl"), "does not exist on this host");
        assert!(t("net.ipv4.ip_forward")
            .iter()
            .all(|f| !f.starts_with("warning")));
    }

    #[test]
    fn sbr_and_vrf() {
        assert_one(
            &second(json!({"type": "sbr", "gateways": ["10.0.0.1", "10.0.0.2"]})),
            "two addresses of one family",
        );
        assert_one(
            &second(json!({"type": "sbr", "gateways": ["a", "b", "c"]})),
            "more than 2 entries",
        );
        assert_one(
            &second(json!({"type": "sbr", "gateways": ["x"]})),
            "\"x\" is not an IP address",
        );
        assert_clean(&second(
            json!({"type": "sbr", "table": 100, "gateways": ["10.0.0.1", "fd00::1"]}),
        ));
        assert_one(
            &second(json!({"type": "vrf"})),
            "error .vrfname: vrf needs \"vrfname\"",
        );
        assert_one(
            &second(json!({"type": "vrf", "vrfname": "blue", "table": -1})),
            "\"table\" must be a non-negative integer",
        );
        assert_clean(&second(
            json!({"type": "vrf", "vrfname": "blue", "table": 100}),
        ));
    }
}
