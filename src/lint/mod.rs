//! The netconf lint behind `cnitool validate`: what ADD of the reference plugins
//! (containernetworking/plugins) would reject, or accept but cannot work, found without
//! running a plugin.
//!
//! Each plugin family has its file of rules, each rule citing the plugin source it follows
//! (paths in the containernetworking/plugins repository):
//! - [`interfaces`]: bridge, ptp, macvlan, ipvlan, vlan, host-device, loopback, dummy, tap;
//! - [`ipam`]: host-local, static, dhcp;
//! - [`meta`]: portmap, firewall, tuning, bandwidth, sbr, vrf;
//! - [`across`]: findings about several networks together (names, subnets, bridges);
//! - [`host`]: what this host has (links, routes, addresses, sockets), read, never changed.
//!
//! The rules read a plugin's JSON as the plugin's Go decoder would: keys match without
//! regard to case, `null` is the zero value, a value of the wrong type fails the whole ADD.
//!
//! Length: about 660 lines of code: the rule engine and the rules every plugin shares (the per-
//! plugin rules are in this directory's other files), and their tests.

pub mod across;
pub mod host;
pub mod interfaces;
pub mod ipam;
pub mod meta;
pub mod net;

use std::fmt;
use std::path::PathBuf;

use libcni::version::Version;
use libcni::NetworkConfigList;
use serde_json::{Map, Value};

pub use self::host::HostView;
use self::net::IpNet;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The network cannot work: ADD would fail, or succeed with something that cannot work.
    Error,
    /// It works, but probably not as meant.
    Warning,
    /// For information.
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One finding of `validate`.
#[derive(Debug, Clone)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The network (or `?` when no name could be read, empty for the directories).
    pub network: String,
    /// The plugin type, if the finding is about one.
    pub plugin: String,
    /// The netconf file, when the finding is about one (not for the built-in network).
    pub file: Option<PathBuf>,
    /// Where in the file, as a jq path (`.plugins[0].ipam.ranges[0][0].subnet`); empty for
    /// the whole file.
    pub path: String,
    /// What was found.
    pub message: String,
    /// What to change, when it is obvious.
    pub fix: Option<String>,
}

impl Finding {
    /// A finding with no file, path or fix yet.
    pub fn new(severity: Severity, network: &str, plugin: &str, message: String) -> Finding {
        Finding {
            severity,
            network: network.to_owned(),
            plugin: plugin.to_owned(),
            file: None,
            path: String::new(),
            message,
            fix: None,
        }
    }

    /// The same finding, about `file`.
    pub fn in_file(mut self, file: &std::path::Path) -> Finding {
        self.file = Some(file.to_owned());
        self
    }

    /// The same finding, with a fix.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// A finding about one place of one plugin, before it is tied to its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The type of the plugin it is about (set by [`lint_list`]).
    pub plugin: String,
    /// How bad.
    pub severity: Severity,
    /// The jq path.
    pub path: String,
    /// What was found.
    pub message: String,
    /// What to change.
    pub fix: Option<String>,
}

impl Found {
    /// Adds the fix.
    pub fn fix(&mut self, fix: impl Into<String>) -> &mut Found {
        self.fix = Some(fix.into());
        self
    }
}

/// The subnets and bridge of one network, for the checks across networks.
#[derive(Debug, Default, Clone)]
pub struct Footprint {
    /// Every subnet the network's IPAM hands addresses from, with its jq path.
    pub subnets: Vec<(IpNet, String)>,
    /// The host bridge the network's plugin attaches to, with its jq path.
    pub bridge: Option<(String, String)>,
    /// Host interfaces the network's plugins use as parents: routes through them are the
    /// network's own, not overlaps.
    pub parents: Vec<String>,
}

/// What the rules of one plugin read and write.
#[derive(Debug)]
pub struct Cx<'a> {
    /// The host (or no host checks).
    pub host: &'a HostView,
    /// The list's `cniVersion`.
    pub version: Version,
    /// The findings so far.
    pub found: Vec<Found>,
    /// The network's subnets, bridge and parents, collected on the way.
    pub footprint: Footprint,
}

impl<'a> Cx<'a> {
    /// A context for one network list at `version`.
    pub fn new(host: &'a HostView, version: Version) -> Cx<'a> {
        Cx {
            host,
            version,
            found: Vec::new(),
            footprint: Footprint::default(),
        }
    }

    fn push(&mut self, severity: Severity, path: &str, message: String) -> &mut Found {
        self.found.push(Found {
            plugin: String::new(),
            severity,
            path: if path.is_empty() {
                ".".to_owned()
            } else {
                path.to_owned()
            },
            message,
            fix: None,
        });
        self.found.last_mut().expect("just pushed")
    }

    /// An error at `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>) -> &mut Found {
        self.push(Severity::Error, path, message.into())
    }

    /// A warning at `path`.
    pub fn warn(&mut self, path: &str, message: impl Into<String>) -> &mut Found {
        self.push(Severity::Warning, path, message.into())
    }

    /// An info at `path`.
    pub fn info(&mut self, path: &str, message: impl Into<String>) -> &mut Found {
        self.push(Severity::Info, path, message.into())
    }
}

/// The JSON type a field must have for Go's decoder to accept it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `bool`.
    Bool,
    /// `int`: an integral number.
    Int,
    /// `uint32`/`uint64`: a non-negative integral number.
    UInt,
    /// `string`.
    Str,
    /// `[]string`.
    StrList,
    /// `map[string]string`.
    StrMap,
    /// A struct or map.
    Obj,
    /// A slice of structs.
    List,
}

impl Kind {
    fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) => true,
            (Kind::Bool, Value::Bool(_)) => true,
            (Kind::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Kind::UInt, Value::Number(n)) => n.is_u64(),
            (Kind::Str, Value::String(_)) => true,
            (Kind::StrList, Value::Array(a)) => a.iter().all(|e| e.is_string() || e.is_null()),
            (Kind::StrMap, Value::Object(m)) => m.values().all(|e| e.is_string() || e.is_null()),
            (Kind::Obj, Value::Object(_)) => true,
            (Kind::List, Value::Array(_)) => true,
            _ => false,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Bool => "true or false",
            Kind::Int => "an integer",
            Kind::UInt => "a non-negative integer",
            Kind::Str => "a string",
            Kind::StrList => "a list of strings",
            Kind::StrMap => "an object of strings",
            Kind::Obj => "an object",
            Kind::List => "a list",
        }
    }
}

/// The keys every plugin's config may have: the spec's netconf keys (the runtime sets or
/// reads them) and `cniVersions`/`disableCheck`/`disableGC` of a single-plugin `.conf`.
pub const NETCONF_KEYS: &[(&str, Kind)] = &[
    ("cniVersion", Kind::Str),
    ("cniVersions", Kind::StrList),
    ("name", Kind::Str),
    ("type", Kind::Str),
    ("capabilities", Kind::Obj),
    ("ipam", Kind::Obj),
    ("dns", Kind::Obj),
    ("args", Kind::Obj),
    ("runtimeConfig", Kind::Obj),
    ("prevResult", Kind::Obj),
    ("disableCheck", Kind::Bool),
    ("disableGC", Kind::Bool),
];

/// The keys of a `.conflist`'s top level (libcni's `NetworkConfigList`).
const LIST_KEYS: &[(&str, Kind)] = &[
    ("cniVersion", Kind::Str),
    ("cniVersions", Kind::StrList),
    ("name", Kind::Str),
    ("plugins", Kind::List),
    ("disableCheck", Kind::Bool),
    ("disableGC", Kind::Bool),
    ("loadOnlyInlinedPlugins", Kind::Bool),
];

/// The jq path of `key` in the object at `base`: `.key` for a plain name, `["a.b"]` for
/// anything else (a sysctl name, a key with spaces).
pub fn member(base: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{base}.{key}")
    } else {
        // jq: `.["a b"]` at the top, `.x["a b"]` below.
        let base = if base.is_empty() { "." } else { base };
        format!("{base}[{}]", serde_json::Value::from(key))
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known key nearest to `key`, if one is near enough to be a typo.
pub fn nearest<'k>(key: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Checks the keys of `obj` against `known` (plus `extra`): the type of each known one, a
/// warning naming the nearest known key for an unknown one. Go's `encoding/json` matches a
/// key that differs only in case, so such a key works but is written as the known one.
pub fn fields(
    cx: &mut Cx<'_>,
    base: &str,
    obj: &Map<String, Value>,
    who: &str,
    known: &[&[(&str, Kind)]],
) {
    let all = || known.iter().flat_map(|k| k.iter());
    for (key, value) in obj {
        let path = member(base, key);
        let exact = all().find(|(k, _)| k == key);
        let folded = exact.or_else(|| all().find(|(k, _)| k.eq_ignore_ascii_case(key)));
        match folded {
            Some((k, kind)) => {
                if exact.is_none() {
                    cx.info(
                        &path,
                        format!("{who} reads key {key:?} as {k:?} (Go's decoder ignores case)"),
                    )
                    .fix(format!("write it as {k:?}"));
                }
                if !kind.accepts(value) {
                    cx.error(
                        &path,
                        format!(
                            "{k:?} must be {}, not {} ({who} fails to parse the config)",
                            kind.describe(),
                            json_kind(value)
                        ),
                    );
                }
            }
            None => {
                let near = nearest(key, all().map(|(k, _)| *k));
                let f = cx.warn(&path, format!("unknown key {key:?}: {who} ignores it"));
                if let Some(near) = near {
                    f.message.push_str(&format!(" (did you mean {near:?}?)"));
                    f.fix(format!("rename it to {near:?}"));
                }
            }
        }
    }
}

/// A JSON value's type in words.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The value of `key` in `obj`, matched as Go matches it (exact, else without case).
pub fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// A string field, if it is one and not empty.
pub fn get_str<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    get(obj, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An integer field, if it is one.
pub fn get_int(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    get(obj, key).and_then(Value::as_i64)
}

/// A boolean field (false when absent or not a boolean).
pub fn get_bool(obj: &Map<String, Value>, key: &str) -> bool {
    get(obj, key).and_then(Value::as_bool).unwrap_or(false)
}

/// Linux's longest interface name (`IFNAMSIZ` - 1): a longer name fails with EINVAL.
pub const IFNAME_MAX: usize = 15;

/// An interface name the kernel accepts (`dev_valid_name` in net/core/dev.c).
pub fn check_ifname(cx: &mut Cx<'_>, path: &str, name: &str) -> bool {
    let bad = if name.len() > IFNAME_MAX {
        Some(format!("longer than {IFNAME_MAX} characters"))
    } else if name == "." || name == ".." {
        Some("not a name".to_owned())
    } else if name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        Some("'/', ':' and spaces are not allowed".to_owned())
    } else {
        None
    };
    match bad {
        Some(why) => {
            cx.error(path, format!("interface name {name:?} is not valid: {why}"));
            false
        }
        None => true,
    }
}

/// The `mtu` of an interface plugin: Go's `int`, 0 for the default; the kernel takes 68
/// (`ETH_MIN_MTU`, the IPv4 minimum) to 65535 for veth, macvlan and vlan links, and IPv6
/// needs 1280 (RFC 8200).
pub fn check_mtu(cx: &mut Cx<'_>, path: &str, obj: &Map<String, Value>) {
    let Some(mtu) = get_int(obj, "mtu") else {
        return;
    };
    if mtu == 0 {
        return;
    }
    if !(68..=65535).contains(&mtu) {
        cx.error(
            path,
            format!("MTU {mtu} is out of range: the kernel takes 68 to 65535 (0: the default)"),
        )
        .fix("use 1500 or leave it out");
    } else if mtu < 1280 && cx.footprint.subnets.iter().any(|(n, _)| n.addr.is_ipv6()) {
        cx.error(
            path,
            format!("MTU {mtu} is below IPv6's minimum of 1280: the IPv6 addresses cannot be used"),
        )
        .fix("use 1280 or more");
    }
}

/// A MAC address Go's `net.ParseMAC` accepts that the kernel also sets on an Ethernet link:
/// 6 octets, `:` or `-` separated, not multicast (the kernel refuses it: EADDRNOTAVAIL).
pub fn check_mac(cx: &mut Cx<'_>, path: &str, mac: &str) {
    let sep = if mac.contains('-') { '-' } else { ':' };
    let octets: Vec<Option<u8>> = mac
        .split(sep)
        .map(|o| {
            (o.len() == 2)
                .then(|| u8::from_str_radix(o, 16).ok())
                .flatten()
        })
        .collect();
    if octets.len() != 6 || octets.iter().any(Option::is_none) {
        cx.error(
            path,
            format!("{mac:?} is not a MAC address (6 hex octets like 02:42:ac:11:00:02)"),
        );
    } else if octets[0].is_some_and(|o| o & 1 == 1) {
        cx.error(
            path,
            format!("{mac:?} is a multicast MAC address: the kernel refuses it for an interface"),
        )
        .fix("clear the lowest bit of the first octet (02:... is a locally administered unicast MAC)");
    }
}

/// The `routes` of an IPAM config or netconf: CNI's `types.Route`, `dst` a CIDR (required),
/// `gw` an address of the same family (cni/pkg/types/types.go `Route.UnmarshalJSON`).
pub fn check_routes(cx: &mut Cx<'_>, base: &str, v: Option<&Value>) {
    let Some(Value::Array(routes)) = v else {
        return;
    };
    const ROUTE: &[(&str, Kind)] = &[
        ("dst", Kind::Str),
        ("gw", Kind::Str),
        ("mtu", Kind::Int),
        ("advmss", Kind::Int),
        ("priority", Kind::Int),
        ("table", Kind::Int),
        ("scope", Kind::Int),
    ];
    for (i, r) in routes.iter().enumerate() {
        let path = format!("{base}[{i}]");
        let Some(r) = r.as_object() else {
            cx.error(&path, "a route must be an object with \"dst\" (and \"gw\")");
            continue;
        };
        fields(cx, &path, r, "the route", &[ROUTE]);
        let dst = match get_str(r, "dst") {
            None => {
                cx.error(&format!("{path}.dst"), "a route needs \"dst\"")
                    .fix("add \"dst\": \"0.0.0.0/0\" for a default route");
                continue;
            }
            Some(d) => match IpNet::parse(d) {
                Some(n) => n,
                None => {
                    cx.error(
                        &format!("{path}.dst"),
                        format!("{d:?} is not a CIDR prefix (like 10.1.0.0/16)"),
                    );
                    continue;
                }
            },
        };
        if let Some(gw) = get_str(r, "gw") {
            match net::parse_ip(gw) {
                None => {
                    cx.error(
                        &format!("{path}.gw"),
                        format!("{gw:?} is not an IP address"),
                    );
                }
                Some(g) if g.is_ipv4() != dst.addr.is_ipv4() => {
                    cx.error(
                        &format!("{path}.gw"),
                        format!("gateway {gw} and destination {dst} are of different IP families"),
                    );
                }
                Some(_) => {}
            }
        }
    }
}

/// The `dns` of a netconf or IPAM config (CNI's `types.DNS`).
pub fn check_dns(cx: &mut Cx<'_>, base: &str, v: Option<&Value>) {
    let Some(Value::Object(dns)) = v else {
        return;
    };
    const DNS: &[(&str, Kind)] = &[
        ("nameservers", Kind::StrList),
        ("domain", Kind::Str),
        ("search", Kind::StrList),
        ("options", Kind::StrList),
    ];
    fields(cx, base, dns, "the dns section", &[DNS]);
    if let Some(Value::Array(ns)) = get(dns, "nameservers") {
        for (i, n) in ns.iter().enumerate() {
            if let Some(s) = n.as_str() {
                if net::parse_ip(s).is_none() {
                    cx.warn(
                        &format!("{base}.nameservers[{i}]"),
                        format!("{s:?} is not an IP address: resolvers need one"),
                    );
                }
            }
        }
    }
}

/// The capabilities (runtime-config keys) a reference plugin reads: the `runtimeConfig`
/// fields of its config struct in its source (listed per plugin in its rules file).
pub fn capabilities_of(plugin: &str) -> Option<&'static [&'static str]> {
    interfaces::capabilities(plugin)
        .or_else(|| meta::capabilities(plugin))
        .or_else(|| ipam::capabilities(plugin))
}

/// Lints one plugin of a list: its type's fields and values, its IPAM, its capabilities.
/// `base` is its jq path (`.plugins[0]`, or empty for a `.conf`). Unknown (third-party)
/// types get nothing here: only the generic checks of `validate`.
pub fn lint_plugin(cx: &mut Cx<'_>, base: &str, index: usize, raw: &Map<String, Value>) {
    let Some(ty) = get_str(raw, "type") else {
        return;
    };
    // IPAM first: its subnets are the network's, and MTU rules need the families. A
    // third-party plugin's ipam section is checked only when it names a reference IPAM
    // plugin (which then reads it); such a plugin may use the section its own way.
    let ipam = get(raw, "ipam").and_then(Value::as_object);
    let ipam_type = ipam.and_then(|i| get_str(i, "type"));
    let main_known = capabilities_of(ty).is_some();
    if let Some(ipam) = ipam {
        if main_known || ipam_type.and_then(ipam::capabilities).is_some() {
            ipam::lint(cx, &format!("{base}.ipam"), raw, ipam);
        }
    }
    let known = interfaces::lint(cx, base, ty, raw) || meta::lint(cx, base, ty, index, raw);
    if !known {
        return;
    }
    check_dns(cx, &format!("{base}.dns"), get(raw, "dns"));
    let Some(Value::Object(caps)) = get(raw, "capabilities") else {
        return;
    };
    let own = capabilities_of(ty).unwrap_or(&[]);
    let of_ipam = ipam_type.and_then(ipam::capabilities);
    for (cap, on) in caps {
        if on != &Value::Bool(true) {
            continue;
        }
        let read = own.contains(&cap.as_str())
            || of_ipam.is_some_and(|c| c.contains(&cap.as_str()))
            // An unknown IPAM plugin may read any capability.
            || (ipam_type.is_some() && of_ipam.is_none());
        if !read {
            let by = match ipam_type {
                Some(i) => format!("the {ty} plugin nor its IPAM {i}"),
                None => format!("the {ty} plugin"),
            };
            let mut all: Vec<&str> = own.to_vec();
            all.extend(of_ipam.unwrap_or(&[]));
            let f = cx.warn(
                &member(&format!("{base}.capabilities"), cap),
                format!(
                    "capability {cap:?} is not read by {by}: what the runtime passes is ignored \
                     (read: {})",
                    if all.is_empty() {
                        "none".to_owned()
                    } else {
                        all.join(", ")
                    }
                ),
            );
            f.fix(format!("remove {cap:?} from capabilities"));
        }
    }
}

/// Lints a whole list: the top-level keys of a `.conflist`, then each plugin. Returns the
/// findings and the network's footprint.
pub fn lint_list(list: &NetworkConfigList, host: &HostView) -> (Vec<Found>, Footprint) {
    let version = Version::parse(&list.cni_version).unwrap_or(Version::V1_0_0);
    let mut cx = Cx::new(host, version);
    let is_conflist = list
        .source
        .as_ref()
        .is_none_or(|s| s.as_os_str().as_encoded_bytes().ends_with(b".conflist"));
    if is_conflist {
        if let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(&list.bytes) {
            fields(&mut cx, "", &top, "libcni", &[LIST_KEYS]);
        }
    }
    for (i, p) in list.plugins.iter().enumerate() {
        let base = if is_conflist {
            format!(".plugins[{i}]")
        } else {
            String::new()
        };
        let before = cx.found.len();
        lint_plugin(&mut cx, &base, i, &p.raw);
        // A finding in the ipam section is about the IPAM plugin.
        let ipam = format!("{base}.ipam");
        for f in &mut cx.found[before..] {
            f.plugin = match &p.ipam_type {
                Some(t) if f.path.starts_with(&ipam) => t.clone(),
                _ => p.plugin_type.clone(),
            };
        }
    }
    (cx.found, cx.footprint)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Running one plugin's rules on a JSON literal.

    use super::*;

    /// The findings of `plugin` (a JSON object) at cniVersion 1.0.0 with no host checks, as
    /// `severity path: message` lines.
    pub fn lint(plugin: Value) -> Vec<String> {
        lint_on(plugin, &HostView::none())
    }

    /// The same, on `host`.
    pub fn lint_on(plugin: Value, host: &HostView) -> Vec<String> {
        let mut cx = Cx::new(host, Version::V1_0_0);
        lint_plugin(&mut cx, "", 0, plugin.as_object().expect("an object"));
        cx.found
            .iter()
            .map(|f| format!("{} {}: {}", f.severity, f.path, f.message))
            .collect()
    }

    /// Asserts that exactly one finding contains `want`.
    pub fn assert_one(found: &[String], want: &str) {
        let n = found.iter().filter(|f| f.contains(want)).count();
        assert_eq!(n, 1, "want one finding with {want:?} in {found:#?}");
    }

    /// Asserts that no finding is an error or a warning.
    pub fn assert_clean(found: &[String]) {
        assert!(
            found.iter().all(|f| f.starts_with("info")),
            "want no errors or warnings: {found:#?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::*;
    use super::*;

    fn list_findings(bytes: &str, file: &str) -> Vec<String> {
        let path = std::path::Path::new(file);
        let list = if file.ends_with(".conflist") {
            libcni::conf::conf_list_from_bytes(bytes.as_bytes(), Some(path)).unwrap()
        } else {
            let conf = libcni::conf::conf_from_bytes(bytes.as_bytes(), Some(path)).unwrap();
            libcni::conf::conf_list_from_conf(&conf, Some(path)).unwrap()
        };
        let (found, _) = lint_list(&list, &HostView::none());
        found
            .iter()
            .map(|f| format!("{} {} {}: {}", f.severity, f.plugin, f.path, f.message))
            .collect()
    }

    #[test]
    fn a_list_has_its_own_keys_and_paths() {
        let found = list_findings(
            r#"{"cniVersion": "1.0.0", "name": "n", "disableChek": true,
                "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/33"}]]}}]}"#,
            "/etc/cni/net.d/n.conflist",
        );
        assert_eq!(
            found,
            [
                "warning  .disableChek: unknown key \"disableChek\": libcni ignores it (did you mean \"disableCheck\"?)",
                "error host-local .plugins[0].ipam.ranges[0][0].subnet: \"10.1.0.0/33\" is not a CIDR subnet (like 10.22.0.0/24)",
            ]
        );
        let clean = list_findings(
            r#"{"cniVersion": "1.0.0", "name": "n", "disableCheck": true, "plugins": [{"type": "loopback"}]}"#,
            "/etc/cni/net.d/n.conflist",
        );
        assert_eq!(clean, Vec::<String>::new());
        // A single-plugin .conf: paths from the file's top.
        let conf = list_findings(
            r#"{"cniVersion": "1.0.0", "name": "n", "type": "bridge", "mtu": "9000"}"#,
            "/etc/cni/net.d/n.conf",
        );
        assert_eq!(
            conf,
            ["error bridge .mtu: \"mtu\" must be an integer, not a string (the bridge plugin fails to parse the config)"]
        );
    }

    #[test]
    fn paths_are_jq_paths() {
        assert_eq!(member(".plugins[0]", "mtu"), ".plugins[0].mtu");
        assert_eq!(
            member(".sysctl", "net.ipv4.ip_forward"),
            ".sysctl[\"net.ipv4.ip_forward\"]"
        );
        assert_eq!(member("", "a b"), ".[\"a b\"]");
    }

    #[test]
    fn typo_names_the_nearest_key() {
        assert_eq!(nearest("mtus", ["mtu", "mac", "bridge"]), Some("mtu"));
        assert_eq!(
            nearest("isgateway", ["isGateway", "ipMasq"]),
            Some("isGateway")
        );
        assert_eq!(nearest("zzzzzz", ["mtu", "bridge"]), None);
        let found = lint(json!({"type": "bridge", "brige": "cni1"}));
        assert_one(
            &found,
            "warning .brige: unknown key \"brige\": the bridge plugin ignores it (did you mean \"bridge\"?)",
        );
        assert_clean(&lint(json!({"type": "bridge", "bridge": "cni1"})));
    }

    #[test]
    fn a_key_in_another_case_works_as_go_reads_it() {
        let found = lint(json!({"type": "bridge", "MTU": 1500}));
        assert_one(
            &found,
            "info .MTU: the bridge plugin reads key \"MTU\" as \"mtu\"",
        );
        assert_clean(&found);
        // ...and its type is still checked.
        assert_one(
            &lint(json!({"type": "bridge", "MTU": "1500"})),
            "error .MTU",
        );
    }

    #[test]
    fn wrong_types_fail_the_parse() {
        let found = lint(json!({"type": "bridge", "mtu": "1500", "isGateway": "true"}));
        assert_one(
            &found,
            "error .mtu: \"mtu\" must be an integer, not a string",
        );
        assert_one(
            &found,
            "error .isGateway: \"isGateway\" must be true or false",
        );
        assert_one(
            &lint(json!({"type": "bandwidth", "ingressRate": -1, "ingressBurst": 1})),
            "error .ingressRate: \"ingressRate\" must be a non-negative integer",
        );
        // null is the zero value for Go.
        assert_clean(&lint(json!({"type": "bridge", "mtu": null})));
    }

    #[test]
    fn mtu_range() {
        assert_one(
            &lint(json!({"type": "ptp", "mtu": 70000})),
            "error .mtu: MTU 70000 is out of range",
        );
        assert_one(
            &lint(json!({"type": "bridge", "mtu": 40})),
            "error .mtu: MTU 40",
        );
        assert_clean(&lint(json!({"type": "bridge", "mtu": 9000})));
        assert_clean(&lint(json!({"type": "bridge", "mtu": 0})));
        let v6 = json!({"type": "ptp", "mtu": 1000,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "fd00:5::/64"}]]}});
        assert_one(&lint(v6), "error .mtu: MTU 1000 is below IPv6's minimum");
    }

    #[test]
    fn mac_syntax() {
        let bad = |mac: &str| lint(json!({"type": "tuning", "mac": mac}));
        assert_one(
            &bad("02:42:ac:11:00"),
            "error .mac: \"02:42:ac:11:00\" is not a MAC",
        );
        assert_one(&bad("zz:42:ac:11:00:02"), "is not a MAC");
        assert_one(&bad("01:00:5e:00:00:01"), "is a multicast MAC address");
        assert_clean(&bad("02:42:ac:11:00:02"));
        assert_clean(&bad("02-42-AC-11-00-02"));
    }

    #[test]
    fn routes_and_dns() {
        let with = |routes: Value| {
            lint(json!({"type": "ptp", "ipam": {"type": "host-local",
                "ranges": [[{"subnet": "10.5.0.0/24"}]], "routes": routes}}))
        };
        assert_one(
            &with(json!([{"gw": "10.5.0.1"}])),
            "error .ipam.routes[0].dst: a route needs",
        );
        assert_one(&with(json!([{"dst": "0.0.0.0"}])), "is not a CIDR prefix");
        assert_one(
            &with(json!([{"dst": "0.0.0.0/0", "gw": "fd00::1"}])),
            "of different IP families",
        );
        assert_clean(&with(json!([{"dst": "0.0.0.0/0", "gw": "10.5.0.1"}])));
        assert_one(
            &lint(json!({"type": "bridge", "dns": {"nameservers": ["dns.example"]}})),
            "warning .dns.nameservers[0]: \"dns.example\" is not an IP address",
        );
        assert_clean(&lint(
            json!({"type": "bridge", "dns": {"nameservers": ["10.0.0.53"]}}),
        ));
    }

    #[test]
    fn capabilities_the_plugin_does_not_read() {
        let found = lint(json!({"type": "bridge", "capabilities": {"portMappings": true}}));
        assert_one(
            &found,
            "warning .capabilities.portMappings: capability \"portMappings\" is not read by the bridge plugin",
        );
        // The IPAM plugin's capabilities count; false ones are not asked for.
        assert_clean(&lint(json!({"type": "bridge",
            "capabilities": {"mac": true, "ips": true, "portMappings": false},
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.6.0.0/24"}]]}})));
        assert_clean(&lint(
            json!({"type": "tuning", "capabilities": {"mac": true}}),
        ));
        // A third-party plugin gets no plugin rules, its ipam section only those of a
        // reference IPAM plugin it names.
        assert_clean(&lint(json!({"type": "cilium-cni", "whatever": 1,
            "capabilities": {"portMappings": true}, "ipam": {"mode": "cluster-pool"}})));
        assert_one(
            &lint(json!({"type": "cilium-cni",
                "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/33"}]]}})),
            "is not a CIDR subnet",
        );
    }
}
