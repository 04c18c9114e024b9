//! Addresses as results carry them: `"10.1.0.5/24"` (host address and prefix) and bare IPs.
//!
//! Go parses these with `net.ParseCIDR` / `net.ParseIP` and prints them with `IPNet.String` /
//! `IP.String`; the rules below reproduce what those accept and print.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address with a prefix length, as in `"10.1.0.5/24"` (Go: `types.IPNet`).
///
/// Unlike a network, it keeps the host address: `"10.1.0.5/24"` prints back as
/// `"10.1.0.5/24"`, not `"10.1.0.0/24"` (Go's `types.ParseCIDR` does the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (at most 32 for IPv4, 128 for IPv6).
    pub prefix: u8,
}

impl IpNet {
    /// Whether the address is an IPv4 address (Go: `IP.To4() != nil`).
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

/// Why a string is not an address or an address with a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrParseError {
    kind: &'static str,
    text: String,
}

impl fmt::Display for AddrParseError {
    // Go's `net.ParseError` text: `invalid CIDR address: x`, `invalid IP address: x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.kind, self.text)
    }
}

impl std::error::Error for AddrParseError {}

impl FromStr for IpNet {
    type Err = AddrParseError;

    /// Parses `addr/prefix` as Go's `net.ParseCIDR` does: the prefix is plain decimal digits
    /// (no sign), at most the address length in bits. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.0.5/120`) becomes the IPv4 address with the prefix of its last 32 bits
    /// (`10.1.0.5/24`), which is what Go prints for it.
    fn from_str(s: &str) -> Result<IpNet, AddrParseError> {
        let err = || AddrParseError {
            kind: "CIDR address",
            text: s.to_owned(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        let addr = IpAddr::from_str(addr).map_err(|_| err())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        // Go's `dtoi` takes leading zeros ("/008" is /8); more than three significant digits
        // is out of range anyway, and checking it first keeps the parse from overflowing.
        let digits = prefix.trim_start_matches('0');
        if digits.len() > 3 {
            return Err(err());
        }
        let prefix: u8 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| err())?
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(err());
        }
        Ok(match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpNet {
                    addr: IpAddr::V4(v4),
                    prefix: prefix.saturating_sub(96),
                },
                None => IpNet { addr, prefix },
            },
            IpAddr::V4(_) => IpNet { addr, prefix },
        })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IpNet, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a bare IP address as Go's `net.ParseIP` does; an IPv4-mapped IPv6 address becomes
/// the IPv4 address (Go stores and prints it as one).
///
/// # Errors
/// When `s` is not an IPv4 or IPv6 address (`invalid IP address: ...`).
pub fn parse_ip(s: &str) -> Result<IpAddr, AddrParseError> {
    let addr = IpAddr::from_str(s).map_err(|_| AddrParseError {
        kind: "IP address",
        text: s.to_owned(),
    })?;
    Ok(match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipnet_parses_and_prints_like_go() {
        // (input, Some(printed)) or (input, None) for a parse error.
        let cases: &[(&str, Option<&str>)] = &[
            ("10.1.0.5/24", Some("10.1.0.5/24")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("10.1.0.5/32", Some("10.1.0.5/32")),
            ("10.1.0.5/024", Some("10.1.0.5/24")),
            ("::1/128", Some("::1/128")),
            ("::/0", Some("::/0")),
            ("FD00:0:0:0:0:0:0:5/64", Some("fd00::5/64")),
            ("2001:db8:0:0:1:0:0:1/64", Some("2001:db8::1:0:0:1/64")),
            ("::ffff:10.1.0.5/120", Some("10.1.0.5/24")),
            ("::ffff:10.1.0.5/64", Some("10.1.0.5/0")),
            ("10.1.0.5", None),
            ("10.1.0.5/", None),
            ("10.1.0.5/33", None),
            ("10.1.0.5/+8", None),
            ("10.1.0.5/-1", None),
            ("10.1.0.5/ 8", None),
            ("10.1.0.5/0008", Some("10.1.0.5/8")),
            ("10.1.0.5/000", Some("10.1.0.5/0")),
            ("10.1.0.5/256", None),
            ("10.1.0.5/99999999999", None),
            ("::1/129", None),
            ("010.1.0.5/24", None),
            ("fe80::1%eth0/64", None),
            ("", None),
            ("garbage", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<IpNet>().map(|n| n.to_string()).ok();
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
        assert_eq!(
            "x/1".parse::<IpNet>().unwrap_err().to_string(),
            "invalid CIDR address: x/1"
        );
    }

    #[test]
    fn ip_parses_like_go() {
        let cases: &[(&str, Option<&str>)] = &[
            ("10.1.0.1", Some("10.1.0.1")),
            ("fd00:0::1", Some("fd00::1")),
            ("::ffff:10.1.0.1", Some("10.1.0.1")),
            ("10.1.0.1/24", None),
            ("", None),
        ];
        for (input, want) in cases {
            let got = parse_ip(input).map(|a| a.to_string()).ok();
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
    }

    #[test]
    fn ipnet_serde_is_a_string() {
        let n: IpNet = serde_json::from_str("\"fd00::5/64\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"fd00::5/64\"");
        assert!(serde_json::from_str::<IpNet>("5").is_err());
        assert!(serde_json::from_str::<IpNet>("\"fd00::5\"").is_err());
    }
}
