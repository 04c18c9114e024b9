//! Results of spec versions 0.1.0 and 0.2.0 (Go: `pkg/types/020`).

use std::net::IpAddr;

use serde::Serialize;

use super::json::Fields;
pub use super::{Dns, IpNet, Route};
use crate::error::Error;

/// A 0.1.0/0.2.0 result: at most one IPv4 and one IPv6 configuration.
///
/// JSON field order: `cniVersion, ip4, ip6, dns` (`dns` always present).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Result {
    /// The version the result is labelled with.
    #[serde(rename = "cniVersion", skip_serializing_if = "String::is_empty")]
    pub cni_version: String,
    /// The IPv4 configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip4: Option<IpConfig>,
    /// The IPv6 configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<IpConfig>,
    /// DNS settings.
    pub dns: Dns,
}

/// One address of a 0.1.0/0.2.0 result, with the routes that go with it.
///
/// JSON field order: `ip, gateway, routes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpConfig {
    /// The address and prefix length.
    pub ip: IpNet,
    /// The gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Routes through this interface. Go reads and prints every [`Route`] field here too,
    /// though the 0.2.0 spec only has `dst` and `gw`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

impl Result {
    pub(crate) fn decode(f: &Fields<'_>, cni_version: String) -> std::result::Result<Self, Error> {
        Ok(Result {
            cni_version,
            ip4: f.object("ip4")?.map(|o| IpConfig::decode(&o)).transpose()?,
            ip6: f.object("ip6")?.map(|o| IpConfig::decode(&o)).transpose()?,
            dns: Dns::decode_field(f)?,
        })
    }
}

impl IpConfig {
    fn decode(f: &Fields<'_>) -> std::result::Result<Self, Error> {
        Ok(IpConfig {
            ip: f.ipnet("ip")?,
            gateway: f.opt_ip("gateway")?,
            routes: Route::decode_list(f, "routes")?,
        })
    }
}
