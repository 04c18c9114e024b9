//! Results of spec versions 1.0.0 and 1.1.0 (Go: `pkg/types/100`; the types are the same for
//! both, 1.1.0 only adds optional fields).

use std::net::IpAddr;

use serde::Serialize;

use super::json::Fields;
pub use super::{Dns, IpNet, Route};
use crate::error::Error;

/// A 1.0.0/1.1.0 result.
///
/// JSON field order: `cniVersion, interfaces, ips, routes, dns` (empty lists left out, `dns`
/// always present, `{}` when empty, as Go libcni v1.1.2 prints it).
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

/// An interface of a 1.x result.
///
/// JSON field order: `name, mac, mtu, sandbox, socketPath, pciID` (all but `name` left out when
/// empty or zero).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// The interface name (always printed, even empty).
    pub name: String,
    /// The hardware address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// The MTU (1.1.0); 0 when not reported.
    #[serde(skip_serializing_if = "super::is_zero")]
    pub mtu: i64,
    /// The netns path, or empty for a host interface.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
    /// The vhost-user socket path (1.1.0).
    #[serde(rename = "socketPath", skip_serializing_if = "String::is_empty")]
    pub socket_path: String,
    /// The PCI address of a device (1.1.0).
    #[serde(rename = "pciID", skip_serializing_if = "String::is_empty")]
    pub pci_id: String,
}

/// An address of a 1.x result.
///
/// JSON field order: `interface, address, gateway`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpConfig {
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
            mtu: f.int("mtu")?,
            sandbox: f.string("sandbox")?,
            socket_path: f.string("socketPath")?,
            pci_id: f.string("pciID")?,
        })
    }
}

impl IpConfig {
    fn decode(f: &Fields<'_>) -> std::result::Result<Self, Error> {
        Ok(IpConfig {
            interface: f.opt_int("interface")?,
            address: f.ipnet("address")?,
            gateway: f.opt_ip("gateway")?,
        })
    }
}
