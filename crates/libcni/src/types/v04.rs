//! Results of spec versions 0.3.0, 0.3.1 and 0.4.0 (Go: `pkg/types/040`).

use std::net::IpAddr;

use serde::Serialize;

use super::json::Fields;
pub use super::{Dns, IpNet, Route};
use crate::error::Error;

/// A 0.3.0/0.3.1/0.4.0 result.
///
/// JSON field order: `cniVersion, interfaces, ips, routes, dns` (empty lists left out, `dns`
/// always present).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Result {
    /// The version the result is labelled with.
    #[serde(rename = "cniVersion", skip_serializing_if = "String::is_empty")]
    pub cni_version: String,
    /// Interfaces the plugin created or configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Addresses assigned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS settings.
    pub dns: Dns,
}

/// An interface of a 0.3/0.4 result.
///
/// JSON field order: `name, mac, sandbox`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// The interface name (always printed, even empty).
    pub name: String,
    /// The hardware address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// The netns path, or empty for a host interface.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
}

/// An address of a 0.3/0.4 result.
///
/// JSON field order: `version, interface, address, gateway`; `version` is always printed,
/// even when empty (a 1.0.0-shaped result read as 0.3.1 has `"version":""`, as Go prints it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpConfig {
    /// `"4"` or `"6"` as the plugin wrote it (not checked against the address, as in Go).
    pub version: String,
    /// Index into [`Result::interfaces`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<i64>,
    /// The address and prefix length.
    pub address: IpNet,
    /// The gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl Result {
    pub(crate) fn decode(f: &Fields<'_>, cni_version: String) -> std::result::Result<Self, Error> {
        Ok(Result {
            cni_version,
            interfaces: f
                .objects("interfaces")?
                .iter()
                .map(Interface::decode)
                .collect::<std::result::Result<_, _>>()?,
            ips: f
                .objects("ips")?
                .iter()
                .map(IpConfig::decode)
                .collect::<std::result::Result<_, _>>()?,
            routes: Route::decode_list(f, "routes")?,
            dns: Dns::decode_field(f)?,
        })
    }
}

impl Interface {
    fn decode(f: &Fields<'_>) -> std::result::Result<Self, Error> {
        Ok(Interface {
            name: f.string("name")?,
            mac: f.string("mac")?,
            sandbox: f.string("sandbox")?,
        })
    }
}

impl IpConfig {
    fn decode(f: &Fields<'_>) -> std::result::Result<Self, Error> {
        Ok(IpConfig {
            version: f.string("version")?,
            interface: f.opt_int("interface")?,
            address: f.ipnet("address")?,
            gateway: f.opt_ip("gateway")?,
        })
    }
}
