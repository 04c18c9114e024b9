//! Result types of every spec family and conversion between them (SPEC.md "Section 5: Result
//! types"), mirroring Go's `pkg/types/{020,040,100}` byte for byte.
//!
//! - [`v02`]: 0.1.0, 0.2.0 (`ip4`, `ip6`, `dns`).
//! - [`v04`]: 0.3.0, 0.3.1, 0.4.0 (`interfaces`, `ips` with a per-IP `version`, `routes`, `dns`).
//! - [`v1`]: 1.0.0, 1.1.0 (no per-IP `version`; 1.1.0 adds interface `mtu`, `socketPath`,
//!   `pciID` and route `mtu`, `advmss`, `priority`, `table`, `scope`).
//!
//! [`Route`] and [`Dns`] are shared by all families, as Go's `types.Route` and `types.DNS` are.
//!
//! Where this differs from Go on purpose:
//! - Down-conversion to 0.2.0 picks the first IPv4 and first IPv6 address by the address
//!   itself; Go goes by the per-IP `version` label, so it finds no address at all in a 0.3/0.4
//!   result whose labels are empty or wrong.
//! - An address entry without its address (`{"interface":0}`) is a decode error; Go keeps it
//!   as a zero address and prints `"<nil>"`.
//! - A `null` entry in `interfaces`, `ips` or `routes` is a decode error; Go keeps a nil pointer
//!   that crashes the next conversion.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

use crate::error::Error;

mod json;
mod net;
pub mod v02;
pub mod v04;
pub mod v1;

#[cfg(test)]
mod tests;

use json::{decode_error, Fields};
pub use net::{parse_ip, AddrParseError, IpNet};

/// A CNI error as plugins print it: `{"code","msg","details"}` (SPEC.md "Error").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CniError {
    /// The error code; 0 when the object has none (as Go decodes it).
    #[serde(default)]
    pub code: u32,
    /// A short message.
    #[serde(default)]
    pub msg: String,
    /// Longer details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

/// A route (Go: `types.Route`), shared by every family.
///
/// JSON field order: `dst, gw, mtu, advmss, priority, table, scope`; everything but `dst` is
/// left out when unset (zero for `mtu`, `advmss`, `priority`; `None` for `table`, `scope`).
/// The last five are 1.1.0 fields; like Go, they are read and kept in every family except when
/// converting to 0.2.0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The destination.
    pub dst: IpNet,
    /// The next hop; `None` means the route's default gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    /// The route MTU (1.1.0).
    #[serde(skip_serializing_if = "is_zero")]
    pub mtu: i64,
    /// The advertised MSS (1.1.0).
    #[serde(skip_serializing_if = "is_zero")]
    pub advmss: i64,
    /// The route priority (1.1.0).
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: i64,
    /// The routing table (1.1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<i64>,
    /// The route scope (1.1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<i64>,
}

impl Route {
    /// A route to `dst` via `gw` with no 1.1.0 attributes.
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Route {
        Route {
            dst,
            gw,
            mtu: 0,
            advmss: 0,
            priority: 0,
            table: None,
            scope: None,
        }
    }

    fn decode(f: &Fields<'_>) -> Result<Route, Error> {
        Ok(Route {
            dst: f.ipnet("dst")?,
            gw: f.opt_ip("gw")?,
            mtu: f.int("mtu")?,
            advmss: f.int("advmss")?,
            priority: f.int("priority")?,
            table: f.opt_int("table")?,
            scope: f.opt_int("scope")?,
        })
    }

    fn decode_list(f: &Fields<'_>, key: &str) -> Result<Vec<Route>, Error> {
        f.objects(key)?.iter().map(Route::decode).collect()
    }
}

/// DNS settings (Go: `types.DNS`).
///
/// JSON field order: `nameservers, domain, search, options`, each left out when empty; an
/// empty `Dns` prints as `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Dns {
    /// Name server addresses, as written by the plugin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// The local domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }

    /// The `dns` field of a result object.
    fn decode_field(f: &Fields<'_>) -> Result<Dns, Error> {
        let Some(d) = f.object("dns")? else {
            return Ok(Dns::default());
        };
        Ok(Dns {
            nameservers: d.strings("nameservers")?,
            domain: d.string("domain")?,
            search: d.strings("search")?,
            options: d.strings("options")?,
        })
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The result families: which Go package (and which Rust module) handles a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V02,
    V04,
    V1,
}

impl Family {
    /// The family of an exact version string; no other spelling is accepted (as in Go).
    fn of(version: &str) -> Option<Family> {
        match version {
            "0.1.0" | "0.2.0" => Some(Family::V02),
            "0.3.0" | "0.3.1" | "0.4.0" => Some(Family::V04),
            "1.0.0" | "1.1.0" => Some(Family::V1),
            _ => None,
        }
    }
}

/// A result of any supported version.
///
/// The variant is the family; the version string inside (see [`CniResult::version`]) is the
/// one it was read as or converted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CniResult {
    /// A 0.1.0 or 0.2.0 result.
    V02(v02::Result),
    /// A 0.3.0, 0.3.1 or 0.4.0 result.
    V04(v04::Result),
    /// A 1.0.0 or 1.1.0 result.
    V1(v1::Result),
}

impl CniResult {
    /// Parses a plugin's result (Go: `invoke`'s `fixupResultVersion` then `create.Create`).
    ///
    /// The version is the result's own `cniVersion` when that is a non-empty string, else
    /// `config_version` (itself `"0.1.0"` when empty, as Go's `DecodeVersion` says). The
    /// result is read with the types of that version's family and keeps that version, whatever
    /// its shape: a 1.0.0-shaped result labelled 0.3.1 reads as 0.3.1 with `"version":""`
    /// on every IP. Unknown fields are ignored; `null` counts as absent; `null` as the whole
    /// document is an empty result.
    ///
    /// # Errors
    /// [`Error::Decode`] (`what: "result"`) when the bytes are not a JSON object, a field has
    /// the wrong type, or an address does not parse; [`Error::UnsupportedResultVersion`] when
    /// the version is not one of 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0.
    #[doc(alias = "Create")]
    pub fn parse(bytes: &[u8], config_version: &str) -> Result<CniResult, Error> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| decode_error(e.to_string()))?;
        let empty = serde_json::Map::new();
        let map = match &value {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => &empty,
            other => {
                return Err(decode_error(format!(
                    "expected a JSON object, found {}",
                    match other {
                        serde_json::Value::Array(_) => "an array",
                        serde_json::Value::String(_) => "a string",
                        serde_json::Value::Number(_) => "a number",
                        _ => "a boolean",
                    }
                )))
            }
        };
        // Exact key, as Go's fixupResultVersion looks it up in a map.
        let version = match map.get("cniVersion") {
            Some(serde_json::Value::String(v)) if !v.is_empty() => v.clone(),
            _ if config_version.is_empty() => "0.1.0".to_owned(),
            _ => config_version.to_owned(),
        };
        let fields = Fields::root(map);
        match Family::of(&version) {
            Some(Family::V02) => Ok(CniResult::V02(v02::Result::decode(&fields, version)?)),
            Some(Family::V04) => Ok(CniResult::V04(v04::Result::decode(&fields, version)?)),
            Some(Family::V1) => Ok(CniResult::V1(v1::Result::decode(&fields, version)?)),
            None => Err(Error::UnsupportedResultVersion { version }),
        }
    }

    /// The result's `cniVersion`.
    #[doc(alias = "Version")]
    pub fn version(&self) -> &str {
        match self {
            CniResult::V02(r) => &r.cni_version,
            CniResult::V04(r) => &r.cni_version,
            CniResult::V1(r) => &r.cni_version,
        }
    }

    /// Converts to another version (Go: `result.GetAsVersion`).
    ///
    /// Within a family the result is only relabelled (a 1.1.0 route `mtu` survives a move to
    /// 1.0.0, as in Go). Across families:
    /// - 0.1/0.2 to later: `ip4` then `ip6` become `ips` (version `"4"`/`"6"` in 0.3/0.4, no
    ///   interface index) and their routes are collected, IPv4's first.
    /// - 0.3/0.4 to 1.x drops the per-IP `version`; 1.x to 0.3/0.4 sets it from the address
    ///   and drops the interface `mtu`, `socketPath` and `pciID`.
    /// - to 0.1/0.2 keeps the first IPv4 and the first IPv6 address, each with the routes whose
    ///   destination is of its family (only `dst` and `gw`); interfaces are dropped.
    ///
    /// # Errors
    /// [`Error::UnsupportedResultVersion`] when `version` is not a supported version (`""`
    /// is 0.1.0, as in Go);
    /// [`Error::ResultConversion`] when converting to 0.1.0/0.2.0 a result with no address.
    #[doc(alias = "GetAsVersion")]
    pub fn convert_to(&self, version: &str) -> Result<CniResult, Error> {
        // A list without `cniVersion` is 0.1.0, as Go's `convert.Convert` reads "".
        let version = if version.is_empty() { "0.1.0" } else { version };
        let to = Family::of(version).ok_or_else(|| Error::UnsupportedResultVersion {
            version: version.to_owned(),
        })?;
        let relabel = |mut r: CniResult| {
            match &mut r {
                CniResult::V02(r) => r.cni_version = version.to_owned(),
                CniResult::V04(r) => r.cni_version = version.to_owned(),
                CniResult::V1(r) => r.cni_version = version.to_owned(),
            }
            r
        };
        Ok(match (self, to) {
            (CniResult::V02(_), Family::V02)
            | (CniResult::V04(_), Family::V04)
            | (CniResult::V1(_), Family::V1) => relabel(self.clone()),
            (CniResult::V02(r), Family::V04) => CniResult::V04(v02_to_v04(r, version)),
            (CniResult::V02(r), Family::V1) => {
                CniResult::V1(v04_to_v1(&v02_to_v04(r, "0.4.0"), version))
            }
            (CniResult::V04(r), Family::V02) => {
                CniResult::V02(v04_to_v02(r, self.version(), version)?)
            }
            (CniResult::V04(r), Family::V1) => CniResult::V1(v04_to_v1(r, version)),
            (CniResult::V1(r), Family::V02) => {
                CniResult::V02(v04_to_v02(&v1_to_v04(r, "0.4.0"), self.version(), version)?)
            }
            (CniResult::V1(r), Family::V04) => CniResult::V04(v1_to_v04(r, version)),
        })
    }

    /// The result as a 1.1.0 result, for display (Go: `types100.GetResult`).
    ///
    /// # Errors
    /// None today: every family converts up to 1.1.0. The signature leaves room for a family
    /// that cannot.
    #[doc(alias = "GetResult")]
    pub fn to_v1(&self) -> Result<v1::Result, Error> {
        Ok(match self {
            CniResult::V02(r) => v04_to_v1(&v02_to_v04(r, "0.4.0"), "1.1.0"),
            CniResult::V04(r) => v04_to_v1(r, "1.1.0"),
            CniResult::V1(r) => v1::Result {
                cni_version: "1.1.0".to_owned(),
                ..r.clone()
            },
        })
    }

    /// Compact JSON in Go's struct field order (what a plugin gets as `prevResult`).
    pub fn to_json(&self) -> Vec<u8> {
        crate::json::to_vec(self)
    }

    /// JSON indented by 4 spaces in Go's struct field order, no trailing newline (what
    /// `cnitool add` prints; Go: `json.MarshalIndent(result, "", "    ")`).
    pub fn to_json_pretty(&self) -> Vec<u8> {
        crate::json::to_vec_pretty(self)
    }

    /// The result as a JSON value with sorted keys (what the cache file's `result` holds).
    pub fn to_sorted_value(&self) -> serde_json::Value {
        json::to_sorted_value(self)
    }
}

/// Serialises the inner result, in Go's field order (no Go string escaping: use
/// [`CniResult::to_json`] for Go's exact bytes).
impl Serialize for CniResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CniResult::V02(r) => r.serialize(serializer),
            CniResult::V04(r) => r.serialize(serializer),
            CniResult::V1(r) => r.serialize(serializer),
        }
    }
}

impl From<v02::Result> for CniResult {
    fn from(r: v02::Result) -> CniResult {
        CniResult::V02(r)
    }
}

impl From<v04::Result> for CniResult {
    fn from(r: v04::Result) -> CniResult {
        CniResult::V04(r)
    }
}

impl From<v1::Result> for CniResult {
    fn from(r: v1::Result) -> CniResult {
        CniResult::V1(r)
    }
}

/// Go: `types040.convertFrom02x`.
fn v02_to_v04(r: &v02::Result, version: &str) -> v04::Result {
    let mut out = v04::Result {
        cni_version: version.to_owned(),
        dns: r.dns.clone(),
        ..v04::Result::default()
    };
    for (ipc, family) in [(&r.ip4, "4"), (&r.ip6, "6")] {
        if let Some(ipc) = ipc {
            out.ips.push(v04::IpConfig {
                version: family.to_owned(),
                interface: None,
                address: ipc.ip,
                gateway: ipc.gateway,
            });
            out.routes.extend(ipc.routes.iter().cloned());
        }
    }
    out
}

/// Go: `types040.convertTo02x`, except that the address decides its family (see the module
/// docs).
fn v04_to_v02(r: &v04::Result, from: &str, version: &str) -> Result<v02::Result, Error> {
    let first = |v4: bool| {
        r.ips
            .iter()
            .find(|ip| ip.address.is_ipv4() == v4)
            .map(|ip| v02::IpConfig {
                ip: ip.address,
                gateway: ip.gateway,
                routes: r
                    .routes
                    .iter()
                    .filter(|rt| rt.dst.is_ipv4() == v4)
                    .map(|rt| Route::new(rt.dst, rt.gw))
                    .collect(),
            })
    };
    let (ip4, ip6) = (first(true), first(false));
    if ip4.is_none() && ip6.is_none() {
        return Err(Error::ResultConversion {
            from: from.to_owned(),
            to: version.to_owned(),
            reason: "no valid IP addresses (a 0.2.0 result needs at least one)".to_owned(),
        });
    }
    Ok(v02::Result {
        cni_version: version.to_owned(),
        ip4,
        ip6,
        dns: r.dns.clone(),
    })
}

/// Go: `types100.convertFrom04x`.
fn v04_to_v1(r: &v04::Result, version: &str) -> v1::Result {
    v1::Result {
        cni_version: version.to_owned(),
        interfaces: r
            .interfaces
            .iter()
            .map(|i| v1::Interface {
                name: i.name.clone(),
                mac: i.mac.clone(),
                sandbox: i.sandbox.clone(),
                ..v1::Interface::default()
            })
            .collect(),
        ips: r
            .ips
            .iter()
            .map(|ip| v1::IpConfig {
                interface: ip.interface,
                address: ip.address,
                gateway: ip.gateway,
            })
            .collect(),
        routes: r.routes.clone(),
        dns: r.dns.clone(),
    }
}

/// Go: `types100.convertTo04x`.
fn v1_to_v04(r: &v1::Result, version: &str) -> v04::Result {
    v04::Result {
        cni_version: version.to_owned(),
        interfaces: r
            .interfaces
            .iter()
            .map(|i| v04::Interface {
                name: i.name.clone(),
                mac: i.mac.clone(),
                sandbox: i.sandbox.clone(),
            })
            .collect(),
        ips: r
            .ips
            .iter()
            .map(|ip| v04::IpConfig {
                version: if ip.address.is_ipv4() { "4" } else { "6" }.to_owned(),
                interface: ip.interface,
                address: ip.address,
                gateway: ip.gateway,
            })
            .collect(),
        routes: r.routes.clone(),
        dns: r.dns.clone(),
    }
}
