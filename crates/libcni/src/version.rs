//! Spec versions: parsing, comparison, result families and the VERSION reply.
//!
//! Implements [SPEC.md "Version"](https://github.com/containernetworking/cni/blob/main/SPEC.md#version)
//! and mirrors Go's `pkg/version`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The newest spec version this library implements.
pub const CURRENT: &str = "1.1.0";

/// Every spec version this library implements, oldest first.
pub const SUPPORTED: &[&str] = &[
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// A parsed `major.minor.patch` spec version.
///
/// Parsing follows Go's `version.ParseVersion`: the empty string means `0.1.0` (configs
/// written before versions existed), missing parts are zero, more than three parts is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major part.
    pub major: u32,
    /// Minor part.
    pub minor: u32,
    /// Patch part.
    pub patch: u32,
}

impl Version {
    /// `0.4.0`: the first version with CHECK and `prevResult` on DEL.
    pub const V0_4_0: Version = Version::new(0, 4, 0);
    /// `1.0.0`.
    pub const V1_0_0: Version = Version::new(1, 0, 0);
    /// `1.1.0`: the first version with GC and STATUS.
    pub const V1_1_0: Version = Version::new(1, 1, 0);

    /// Builds a version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parses a version string.
    ///
    /// # Errors
    /// [`Error::InvalidVersion`] when the string is not `N[.N[.N]]`.
    pub fn parse(s: &str) -> Result<Version, Error> {
        s.parse()
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Version::new(0, 1, 0));
        }
        let invalid = |reason: &str| Error::InvalidVersion {
            version: s.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() > 3 {
            return Err(invalid("too many parts"));
        }
        let mut nums = [0u32; 3];
        for (slot, part) in nums.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("each part must be a number"));
            }
            *slot = part.parse().map_err(|_| invalid("number too large"))?;
        }
        Ok(Version::new(nums[0], nums[1], nums[2]))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Compares two version strings (Go's `version.GreaterThan` family).
///
/// # Errors
/// [`Error::InvalidVersion`] if either side does not parse.
pub fn compare(a: &str, b: &str) -> Result<Ordering, Error> {
    Ok(Version::parse(a)?.cmp(&Version::parse(b)?))
}

/// The result families of the spec: results of versions in one family share a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `0.1.0`, `0.2.0`: `ip4` / `ip6` objects.
    V02,
    /// `0.3.0`, `0.3.1`, `0.4.0`: `interfaces` / `ips` with a per-IP `version`.
    V04,
    /// `1.0.0`, `1.1.0`: `interfaces` / `ips` without `version`.
    V1,
}

impl Family {
    /// The family of an exact version string, as Go's result factory matches them:
    /// `"0.3"` or `"1.0"` are not result versions.
    pub fn of(version: &str) -> Option<Family> {
        match version {
            "0.1.0" | "0.2.0" => Some(Family::V02),
            "0.3.0" | "0.3.1" | "0.4.0" => Some(Family::V04),
            "1.0.0" | "1.1.0" => Some(Family::V1),
            _ => None,
        }
    }
}

/// A plugin's answer to VERSION (SPEC.md "VERSION: probe plugin version support").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The version the reply itself is written in.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The spec versions the plugin accepts.
    #[serde(rename = "supportedVersions", default)]
    pub supported_versions: Vec<String>,
}

impl PluginInfo {
    /// What a plugin from before VERSION existed supports (Go: `PluginSupports("0.1.0")`).
    pub fn legacy() -> PluginInfo {
        PluginInfo {
            cni_version: "0.1.0".into(),
            supported_versions: vec!["0.1.0".into()],
        }
    }

    /// Decodes a VERSION reply like Go's `PluginDecoder.Decode`: `cniVersion` is required; a
    /// `0.2.0` reply without `supportedVersions` means `0.1.0` and `0.2.0`.
    ///
    /// # Errors
    /// [`Error::Decode`] when the reply is not JSON of that shape.
    pub fn decode(bytes: &[u8]) -> Result<PluginInfo, Error> {
        let mut info: PluginInfo = serde_json::from_slice(bytes).map_err(|e| Error::Decode {
            what: "version info",
            reason: e.to_string(),
        })?;
        if info.cni_version.is_empty() {
            return Err(Error::Decode {
                what: "version info",
                reason: "missing field cniVersion".into(),
            });
        }
        if info.supported_versions.is_empty() {
            if info.cni_version != "0.2.0" {
                return Err(Error::Decode {
                    what: "version info",
                    reason: "missing field supportedVersions".into(),
                });
            }
            info.supported_versions = vec!["0.1.0".into(), "0.2.0".into()];
        }
        Ok(info)
    }

    /// Whether the plugin lists `version` exactly.
    pub fn supports(&self, version: &str) -> bool {
        self.supported_versions.iter().any(|v| v == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let cases = [
            ("", Some((0, 1, 0))),
            ("1", Some((1, 0, 0))),
            ("0.3", Some((0, 3, 0))),
            ("0.3.1", Some((0, 3, 1))),
            ("1.1.0", Some((1, 1, 0))),
            ("1.2.3.4", None),
            ("a.b.c", None),
            ("1..0", None),
            ("-1.0.0", None),
        ];
        for (input, want) in cases {
            let got = Version::parse(input)
                .ok()
                .map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, want, "parsing {input:?}");
        }
    }

    #[test]
    fn orders_numerically() {
        assert_eq!(compare("0.10.0", "0.4.0").unwrap(), Ordering::Greater);
        assert_eq!(compare("1.0.0", "1.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("0.3.1", "0.4.0").unwrap(), Ordering::Less);
        assert!(compare("x", "1.0.0").is_err());
    }

    #[test]
    fn families_match_exact_strings() {
        assert_eq!(Family::of("0.2.0"), Some(Family::V02));
        assert_eq!(Family::of("0.3.1"), Some(Family::V04));
        assert_eq!(Family::of("1.1.0"), Some(Family::V1));
        assert_eq!(Family::of("1.0"), None);
        assert_eq!(Family::of("2.0.0"), None);
        for v in SUPPORTED {
            assert!(Family::of(v).is_some(), "{v}");
        }
    }

    #[test]
    fn decodes_version_replies() {
        let info =
            PluginInfo::decode(br#"{"cniVersion":"1.0.0","supportedVersions":["0.3.1","1.0.0"]}"#)
                .unwrap();
        assert!(info.supports("1.0.0"));
        assert!(!info.supports("1.1.0"));
        let old = PluginInfo::decode(br#"{"cniVersion":"0.2.0"}"#).unwrap();
        assert_eq!(old.supported_versions, ["0.1.0", "0.2.0"]);
        assert!(PluginInfo::decode(br#"{"cniVersion":"0.3.0"}"#).is_err());
        assert!(PluginInfo::decode(br#"{"supportedVersions":["1.0.0"]}"#).is_err());
        assert!(PluginInfo::decode(b"garbage").is_err());
    }
}
