//! Rules of the interface plugins: bridge, ptp, macvlan, ipvlan, vlan, host-device,
//! loopback, dummy and tap (plugins/main/ in containernetworking/plugins).

use serde_json::{Map, Value};

use super::{
    check_ifname, check_mac, check_mtu, fields, get, get_bool, get_int, get_str, Cx, Kind,
    NETCONF_KEYS,
};

/// plugins/main/bridge/bridge.go `NetConf`.
const BRIDGE: &[(&str, Kind)] = &[
    ("bridge", Kind::Str),
    ("isGateway", Kind::Bool),
    ("isDefaultGateway", Kind::Bool),
    ("forceAddress", Kind::Bool),
    ("ipMasq", Kind::Bool),
    ("ipMasqBackend", Kind::Str),
    ("mtu", Kind::Int),
    ("hairpinMode", Kind::Bool),
    ("promiscMode", Kind::Bool),
    ("vlan", Kind::Int),
    ("vlanTrunk", Kind::List),
    ("preserveDefaultVlan", Kind::Bool),
    ("macspoofchk", Kind::Bool),
    ("enabledad", Kind::Bool),
    ("disableContainerInterface", Kind::Bool),
    ("portIsolation", Kind::Bool),
];

/// plugins/main/ptp/ptp.go `NetConf`.
const PTP: &[(&str, Kind)] = &[
    ("ipMasq", Kind::Bool),
    ("ipMasqBackend", Kind::Str),
    ("mtu", Kind::Int),
];

/// plugins/main/macvlan/macvlan.go `NetConf`.
const MACVLAN: &[(&str, Kind)] = &[
    ("master", Kind::Str),
    ("mode", Kind::Str),
    ("mtu", Kind::Int),
    ("mac", Kind::Str),
    ("linkInContainer", Kind::Bool),
    ("bcqueuelen", Kind::UInt),
];

/// plugins/main/ipvlan/ipvlan.go `NetConf`.
const IPVLAN: &[(&str, Kind)] = &[
    ("master", Kind::Str),
    ("mode", Kind::Str),
    ("mtu", Kind::Int),
    ("linkInContainer", Kind::Bool),
];

/// plugins/main/vlan/vlan.go `NetConf`.
const VLAN: &[(&str, Kind)] = &[
    ("master", Kind::Str),
    ("vlanId", Kind::Int),
    ("mtu", Kind::Int),
    ("linkInContainer", Kind::Bool),
];

/// plugins/main/host-device/host-device.go `NetConf`.
const HOST_DEVICE: &[(&str, Kind)] = &[
    ("device", Kind::Str),
    ("hwaddr", Kind::Str),
    ("kernelpath", Kind::Str),
    ("pciBusID", Kind::Str),
];

/// plugins/main/tap/tap.go `NetConf`.
const TAP: &[(&str, Kind)] = &[
    ("multiQueue", Kind::Bool),
    ("mtu", Kind::Int),
    ("mac", Kind::Str),
    ("owner", Kind::UInt),
    ("group", Kind::UInt),
    ("selinuxContext", Kind::Str),
    ("bridge", Kind::Str),
];

/// The capabilities each plugin's `runtimeConfig` reads (the structs above): `mac` for
/// bridge, macvlan and tap, `deviceID` for host-device.
pub fn capabilities(plugin: &str) -> Option<&'static [&'static str]> {
    Some(match plugin {
        "bridge" | "macvlan" | "tap" => &["mac"],
        "host-device" => &["deviceID"],
        "ptp" | "ipvlan" | "vlan" | "loopback" | "dummy" => &[],
        _ => return None,
    })
}

/// Lints `raw` if `ty` is one of these plugins; false if it is not.
pub fn lint(cx: &mut Cx<'_>, base: &str, ty: &str, raw: &Map<String, Value>) -> bool {
    let who = format!("the {ty} plugin");
    let schema: &[(&str, Kind)] = match ty {
        "bridge" => BRIDGE,
        "ptp" => PTP,
        "macvlan" => MACVLAN,
        "ipvlan" => IPVLAN,
        "vlan" => VLAN,
        "host-device" => HOST_DEVICE,
        "tap" => TAP,
        "loopback" | "dummy" => &[],
        _ => return false,
    };
    fields(cx, base, raw, &who, &[NETCONF_KEYS, schema]);
    let at = |key: &str| format!("{base}.{key}");
    if schema.iter().any(|(k, _)| *k == "mtu") {
        check_mtu(cx, &at("mtu"), raw);
    }
    if let Some(mac) = get_str(raw, "mac") {
        check_mac(cx, &at("mac"), mac);
    }
    let has_ipam = get(raw, "ipam")
        .and_then(Value::as_object)
        .is_some_and(|i| !i.is_empty());
    match ty {
        "bridge" => bridge(cx, base, raw, has_ipam),
        "ptp" => {
            masq_backend(cx, base, raw);
            // ptp.go cmdAdd: `ipam.ExecAdd(conf.IPAM.Type, ...)` with no type fails.
            if !has_ipam {
                cx.error(
                    &at("ipam"),
                    "ptp needs an ipam section (ADD runs the IPAM plugin unconditionally)",
                )
                .fix("add \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": ...}]]}");
            }
        }
        "macvlan" => {
            // macvlan.go `modeFromString`.
            if let Some(mode) = get_str(raw, "mode") {
                one_of(
                    cx,
                    &at("mode"),
                    "macvlan mode",
                    mode,
                    &["bridge", "private", "vepa", "passthru"],
                );
            }
            let parent = master(cx, base, raw, false);
            master_mtu(cx, base, raw, parent);
        }
        "ipvlan" => {
            // ipvlan.go `modeFromString`.
            if let Some(mode) = get_str(raw, "mode") {
                one_of(cx, &at("mode"), "ipvlan mode", mode, &["l2", "l3", "l3s"]);
            }
            master(cx, base, raw, false);
        }
        "vlan" => {
            // vlan.go loadConf: "invalid VLAN ID %d (must be between 0 and 4095 inclusive)".
            if let Some(id) = get_int(raw, "vlanId") {
                if !(0..=4095).contains(&id) {
                    cx.error(
                        &at("vlanId"),
                        format!("VLAN ID {id} is out of range: 0 to 4095"),
                    );
                }
            }
            // vlan.go loadConf: "\"master\" field is required".
            let parent = master(cx, base, raw, true);
            master_mtu(cx, base, raw, parent);
        }
        "host-device" => host_device(cx, base, raw),
        "tap" => {
            if let Some(br) = get_str(raw, "bridge") {
                // tap.go createTap: `LinkByName(conf.Bridge)` must find it.
                let path = at("bridge");
                if check_ifname(cx, &path, br) && cx.host.has_interface(br) == Some(false) {
                    let msg = format!(
                        "bridge {br:?} does not exist on this host (tap attaches to an existing one)"
                    );
                    cx.error(&path, msg).fix(format!(
                        "create it (ip link add {br} type bridge) or remove \"bridge\""
                    ));
                }
            }
        }
        // dummy.go cmdAdd: "dummy interface requires an IPAM configuration".
        "dummy" if !has_ipam => {
            cx.error(
                &at("ipam"),
                "dummy needs an ipam section (ADD fails: dummy interface requires an IPAM configuration)",
            );
        }
        _ => {}
    }
    true
}

/// A value from a fixed set; "" is the plugin's default.
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

/// pkg/ip/ipmasq_linux.go `SetupIPMasqForNetworks`: backend "iptables" or "nftables".
fn masq_backend(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>) {
    if let Some(b) = get_str(raw, "ipMasqBackend") {
        one_of(
            cx,
            &format!("{base}.ipMasqBackend"),
            "ipMasqBackend",
            b,
            &["iptables", "nftables"],
        );
    }
}

/// bridge.go `loadNetConf`, `collectVlanTrunk`, `cmdAdd`.
fn bridge(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>, has_ipam: bool) {
    let at = |key: &str| format!("{base}.{key}");
    masq_backend(cx, base, raw);
    // bridge.go `defaultBrName`.
    let name = get_str(raw, "bridge").unwrap_or("cni0");
    let path = if get(raw, "bridge").is_some() {
        at("bridge")
    } else {
        base.to_owned()
    };
    if check_ifname(cx, &path, name) {
        cx.footprint.bridge = Some((name.to_owned(), path));
    }
    // loadNetConf: "invalid VLAN ID %d (must be between 0 and 4094)".
    if let Some(v) = get_int(raw, "vlan") {
        if !(0..=4094).contains(&v) {
            cx.error(
                &at("vlan"),
                format!("VLAN ID {v} is out of range: 0 to 4094"),
            );
        }
    }
    // collectVlanTrunk: ids 1..4094, minID and maxID together, minID <= maxID.
    if let Some(Value::Array(trunks)) = get(raw, "vlanTrunk") {
        for (i, t) in trunks.iter().enumerate() {
            let path = format!("{base}.vlanTrunk[{i}]");
            let Some(t) = t.as_object() else {
                cx.error(
                    &path,
                    "a vlanTrunk entry must be an object ({\"id\": N} or {\"minID\": N, \"maxID\": M})",
                );
                continue;
            };
            fields(
                cx,
                &path,
                t,
                "the bridge plugin",
                &[&[
                    ("id", Kind::Int),
                    ("minID", Kind::Int),
                    ("maxID", Kind::Int),
                ]],
            );
            let (min, max, id) = (get_int(t, "minID"), get_int(t, "maxID"), get_int(t, "id"));
            for (key, v) in [("minID", min), ("maxID", max), ("id", id)] {
                if let Some(v) = v {
                    if !(1..=4094).contains(&v) {
                        cx.error(
                            &format!("{path}.{key}"),
                            format!("trunk VLAN {key} {v} is out of range: 1 to 4094"),
                        );
                    }
                }
            }
            match (min, max) {
                (Some(a), Some(b)) if a > b => {
                    cx.error(&path, format!("minID {a} is greater than maxID {b}"))
                        .fix("swap them");
                }
                (Some(_), None) => {
                    cx.error(&path, "minID without maxID (give both)");
                }
                (None, Some(_)) => {
                    cx.error(&path, "maxID without minID (give both)");
                }
                _ => {}
            }
        }
    }
    // cmdAdd: "cannot set hairpin mode and promiscuous mode at the same time".
    if get_bool(raw, "hairpinMode") && get_bool(raw, "promiscMode") {
        cx.error(
            &at("promiscMode"),
            "hairpinMode and promiscMode cannot both be set (bridge refuses it)",
        )
        .fix("drop one of them");
    }
    // cmdAdd: "cannot use IPAM when DisableContainerInterface flag is set".
    if get_bool(raw, "disableContainerInterface") && has_ipam {
        cx.error(
            &at("disableContainerInterface"),
            "disableContainerInterface cannot be used with IPAM (bridge refuses it)",
        )
        .fix("remove the ipam section or disableContainerInterface");
    }
    // loadNetConf: isDefaultGateway forces isGateway.
    if get_bool(raw, "isDefaultGateway") && get(raw, "isGateway") == Some(&Value::Bool(false)) {
        cx.info(
            &at("isGateway"),
            "isDefaultGateway implies isGateway: the bridge gets the gateway address anyway",
        );
    }
    if (get_bool(raw, "isGateway") || get_bool(raw, "ipMasq")) && !has_ipam {
        cx.warn(
            &at("ipam"),
            "isGateway/ipMasq have no addresses to work with without an ipam section",
        );
    }
}

/// The parent of macvlan, ipvlan and vlan: `master` (required for vlan; for the others
/// the default route's interface when empty: macvlan.go/ipvlan.go `getDefaultRouteInterfaceName`).
/// With `linkInContainer` the parent is in the container's namespace, not on the host.
///
/// Returns the parent on this host, if it exists there.
fn master(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>, required: bool) -> Option<String> {
    let at = format!("{base}.master");
    let in_container = get_bool(raw, "linkInContainer");
    match get_str(raw, "master") {
        Some(m) => {
            if !check_ifname(cx, &at, m) {
                return None;
            }
            if !in_container {
                cx.footprint.parents.push(m.to_owned());
                if cx.host.has_interface(m) == Some(true) {
                    return Some(m.to_owned());
                }
                if cx.host.has_interface(m) == Some(false) {
                    let mut known: Vec<&str> = cx
                        .host
                        .interfaces
                        .iter()
                        .map(String::as_str)
                        .filter(|i| *i != "lo")
                        .collect();
                    known.truncate(8);
                    cx.error(
                        &at,
                        format!(
                            "master interface {m:?} does not exist on this host (interfaces: {})",
                            known.join(", ")
                        ),
                    )
                    .fix("set \"master\" to an existing interface");
                }
            }
        }
        None if required => {
            cx.error(
                &at,
                "\"master\" is required: the host interface the VLAN is created on",
            )
            .fix("add \"master\": \"eth0\" (the parent interface)");
        }
        None => {
            if cx.host.checked && !in_container {
                match cx.host.default_devs.first() {
                    Some(dev) => {
                        let dev = dev.clone();
                        cx.footprint.parents.push(dev.clone());
                        cx.info(
                            &at,
                            format!("no master: the default route's interface {dev} is used"),
                        );
                        return Some(dev);
                    }
                    None => {
                        cx.error(&at, "no master and no default route on this host: ADD fails (no default route interface found)")
                            .fix("set \"master\" to the parent interface");
                    }
                }
            }
        }
    }
    None
}

/// macvlan.go and vlan.go `loadConf`: "invalid MTU %d, must be [0, master MTU(%d)]".
fn master_mtu(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>, parent: Option<String>) {
    let (Some(parent), Some(mtu)) = (parent, get_int(raw, "mtu")) else {
        return;
    };
    if let Some(max) = cx.host.mtu(&parent) {
        if mtu > i64::from(max) {
            cx.error(
                &format!("{base}.mtu"),
                format!("MTU {mtu} is above the MTU {max} of master {parent} (ADD refuses it)"),
            )
            .fix(format!(
                "use at most {max}, or leave \"mtu\" out to take the master's"
            ));
        }
    }
}

/// host-device.go `loadConf`: one of device, hwaddr, kernelpath, pciBusID (or a runtime
/// `deviceID`); kernelpath under /sys/devices/.
fn host_device(cx: &mut Cx<'_>, base: &str, raw: &Map<String, Value>) {
    let at = |key: &str| format!("{base}.{key}");
    let given: Vec<&str> = ["device", "hwaddr", "kernelpath", "pciBusID"]
        .into_iter()
        .filter(|k| get_str(raw, k).is_some())
        .collect();
    let runtime_device = get(raw, "capabilities").and_then(|c| get(c.as_object()?, "deviceID"))
        == Some(&Value::Bool(true));
    if given.is_empty() && !runtime_device {
        cx.error(
            base,
            "host-device needs one of \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"",
        )
        .fix("add \"device\": \"eth1\" (the host interface to move into the container)");
    }
    if given.len() > 1 {
        cx.warn(base, format!("{} are all given: host-device uses the first of device, hwaddr, kernelpath, pciBusID", given.join(", ")));
    }
    if let Some(mac) = get_str(raw, "hwaddr") {
        check_mac(cx, &at("hwaddr"), mac);
    }
    if let Some(p) = get_str(raw, "kernelpath") {
        if !p.starts_with("/sys/devices/") {
            cx.error(
                &at("kernelpath"),
                format!("kernelpath {p:?} must be absolute and begin with /sys/devices/"),
            );
        }
    }
    if let Some(dev) = get_str(raw, "device") {
        if check_ifname(cx, &at("device"), dev) && cx.host.has_interface(dev) == Some(false) {
            cx.error(
                &at("device"),
                format!("device {dev:?} does not exist on this host"),
            )
            .fix("set \"device\" to an existing interface");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::super::testing::*;
    use super::super::HostView;

    fn host(ifaces: &[&str]) -> HostView {
        HostView {
            checked: true,
            interfaces: ifaces
                .iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<_>>(),
            default_devs: vec!["eth0".into()],
            ..HostView::default()
        }
    }

    #[test]
    fn bridge_rules() {
        assert_one(
            &lint(json!({"type": "bridge", "bridge": "a-very-long-bridge-name"})),
            "error .bridge: interface name \"a-very-long-bridge-name\" is not valid",
        );
        assert_one(
            &lint(json!({"type": "bridge", "vlan": 4095})),
            "error .vlan: VLAN ID 4095 is out of range",
        );
        assert_one(
            &lint(json!({"type": "bridge", "vlanTrunk": [{"minID": 20, "maxID": 10}]})),
            "minID 20 is greater than maxID 10",
        );
        assert_one(
            &lint(json!({"type": "bridge", "vlanTrunk": [{"minID": 20}]})),
            "minID without maxID",
        );
        assert_one(
            &lint(json!({"type": "bridge", "vlanTrunk": [{"id": 0}]})),
            "trunk VLAN id 0 is out of range",
        );
        assert_one(
            &lint(json!({"type": "bridge", "hairpinMode": true, "promiscMode": true})),
            "hairpinMode and promiscMode cannot both be set",
        );
        assert_one(
            &lint(
                json!({"type": "bridge", "disableContainerInterface": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]}}),
            ),
            "disableContainerInterface cannot be used with IPAM",
        );
        assert_one(
            &lint(json!({"type": "bridge", "ipMasqBackend": "nft"})),
            "error .ipMasqBackend: unknown ipMasqBackend \"nft\"",
        );
        assert_one(
            &lint(json!({"type": "bridge", "isGateway": true})),
            "warning .ipam: isGateway/ipMasq have no addresses",
        );
        assert_clean(&lint(
            json!({"type": "bridge", "bridge": "cni1", "vlan": 10, "hairpinMode": true,
            "vlanTrunk": [{"minID": 10, "maxID": 20}, {"id": 30}], "ipMasqBackend": "nftables",
            "isGateway": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]}}),
        ));
    }

    #[test]
    fn ptp_and_dummy_need_ipam() {
        assert_one(
            &lint(json!({"type": "ptp"})),
            "error .ipam: ptp needs an ipam section",
        );
        assert_one(
            &lint(json!({"type": "dummy"})),
            "error .ipam: dummy needs an ipam section",
        );
        let ipam = json!({"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]});
        assert_clean(&lint(json!({"type": "ptp", "ipMasq": true, "ipam": ipam})));
        assert_clean(&lint(json!({"type": "dummy", "ipam": ipam})));
    }

    #[test]
    fn macvlan_ipvlan_vlan() {
        assert_one(
            &lint(json!({"type": "macvlan", "mode": "bridged"})),
            "error .mode: unknown macvlan mode \"bridged\"",
        );
        assert_clean(&lint(
            json!({"type": "macvlan", "mode": "vepa", "master": "eth0"}),
        ));
        assert_one(
            &lint(json!({"type": "ipvlan", "mode": "l4"})),
            "unknown ipvlan mode \"l4\"",
        );
        assert_clean(&lint(json!({"type": "ipvlan", "mode": "l3s"})));
        assert_one(
            &lint(json!({"type": "vlan", "master": "eth0", "vlanId": 5000})),
            "error .vlanId: VLAN ID 5000 is out of range",
        );
        assert_one(
            &lint(json!({"type": "vlan", "vlanId": 5})),
            "error .master: \"master\" is required",
        );
        assert_clean(&lint(
            json!({"type": "vlan", "master": "eth0", "vlanId": 5}),
        ));
        assert_one(
            &lint(json!({"type": "macvlan", "bcqueuelen": -5})),
            "\"bcqueuelen\" must be a non-negative integer",
        );
    }

    #[test]
    fn master_must_exist_on_the_host() {
        let h = host(&["lo", "eth0"]);
        assert_one(
            &lint_on(json!({"type": "macvlan", "master": "eth9"}), &h),
            "error .master: master interface \"eth9\" does not exist on this host (interfaces: eth0)",
        );
        assert_clean(&lint_on(json!({"type": "macvlan", "master": "eth0"}), &h));
        // In the container's namespace: not a host interface.
        assert_clean(&lint_on(
            json!({"type": "ipvlan", "master": "eth9", "linkInContainer": true}),
            &h,
        ));
        assert_one(
            &lint_on(json!({"type": "vlan", "master": "eth9", "vlanId": 3}), &h),
            "does not exist on this host",
        );
        // No master: the default route's interface; none: ADD fails.
        assert_clean(&lint_on(json!({"type": "macvlan"}), &h));
        let no_default = HostView {
            default_devs: vec![],
            ..h
        };
        assert_one(
            &lint_on(json!({"type": "macvlan"}), &no_default),
            "no master and no default route",
        );
    }

    #[test]
    fn mtu_at_most_the_masters() {
        let mut h = host(&["lo", "eth0"]);
        h.mtus.insert("eth0".into(), 1500);
        assert_one(
            &lint_on(
                json!({"type": "macvlan", "master": "eth0", "mtu": 9000}),
                &h,
            ),
            "error .mtu: MTU 9000 is above the MTU 1500 of master eth0",
        );
        // No master: the default route's interface (eth0).
        assert_one(
            &lint_on(json!({"type": "macvlan", "mtu": 1501}), &h),
            "above the MTU 1500",
        );
        assert_one(
            &lint_on(
                json!({"type": "vlan", "master": "eth0", "vlanId": 2, "mtu": 1600}),
                &h,
            ),
            "above the MTU 1500",
        );
        assert_clean(&lint_on(
            json!({"type": "macvlan", "master": "eth0", "mtu": 1500}),
            &h,
        ));
        assert_clean(&lint_on(
            json!({"type": "vlan", "master": "eth0", "vlanId": 2, "mtu": 1400}),
            &h,
        ));
    }

    #[test]
    fn host_device_rules() {
        assert_one(
            &lint(json!({"type": "host-device"})),
            "host-device needs one of",
        );
        assert_clean(&lint(
            json!({"type": "host-device", "capabilities": {"deviceID": true}}),
        ));
        assert_one(
            &lint(json!({"type": "host-device", "hwaddr": "nope"})),
            "error .hwaddr: \"nope\" is not a MAC",
        );
        assert_one(
            &lint(json!({"type": "host-device", "kernelpath": "/dev/x"})),
            "must be absolute and begin with /sys/devices/",
        );
        assert_one(
            &lint(json!({"type": "host-device", "device": "eth1", "pciBusID": "0000:00:1f.6"})),
            "are all given",
        );
        let h = host(&["lo", "eth1"]);
        assert_one(
            &lint_on(json!({"type": "host-device", "device": "eth2"}), &h),
            "error .device: device \"eth2\" does not exist",
        );
        assert_clean(&lint_on(
            json!({"type": "host-device", "device": "eth1"}),
            &h,
        ));
    }

    #[test]
    fn tap_and_loopback() {
        let h = host(&["lo", "br0"]);
        assert_one(
            &lint_on(json!({"type": "tap", "bridge": "br1"}), &h),
            "error .bridge: bridge \"br1\" does not exist",
        );
        assert_clean(&lint_on(
            json!({"type": "tap", "bridge": "br0", "multiQueue": true, "owner": 1000}),
            &h,
        ));
        assert_one(
            &lint(json!({"type": "tap", "owner": "root"})),
            "\"owner\" must be a non-negative integer",
        );
        assert_one(
            &lint(json!({"type": "loopback", "mtu": 1500})),
            "warning .mtu: unknown key \"mtu\": the loopback plugin ignores it",
        );
        assert_clean(&lint(json!({"type": "loopback"})));
    }
}
