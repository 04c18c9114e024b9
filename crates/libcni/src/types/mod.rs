//! Result types of every spec family and conversion between them (SPEC.md "Section 5: Result
//! types"), mirroring Go's `pkg/types/{020,040,100}` byte for byte.
//!
//! CONTRACT (implemented by the types work): see each item's doc.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A CNI error as plugins print it: `{"code","msg","details"}` (SPEC.md "Error").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniError {
    /// The error code.
    pub code: u32,
    /// A short message.
    #[serde(default)]
    pub msg: String,
    /// Longer details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

/// A result of any supported version.
#[derive(Clone, Debug, PartialEq)]
pub enum CniResult {
    /// Placeholder until the types work lands.
    Raw(String, serde_json::Value),
}

impl CniResult {
    /// Parses a plugin's result. The version is the result's own `cniVersion`, or
    /// `config_version` when it has none (Go: `create.Create`).
    ///
    /// # Errors
    /// [`Error::UnsupportedResultVersion`] or [`Error::Decode`].
    pub fn parse(bytes: &[u8], config_version: &str) -> Result<CniResult, Error> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::Decode {
            what: "result",
            reason: e.to_string(),
        })?;
        let ver = v
            .get("cniVersion")
            .and_then(|v| v.as_str())
            .unwrap_or(config_version)
            .to_owned();
        Ok(CniResult::Raw(ver, v))
    }

    /// The result's `cniVersion`.
    pub fn version(&self) -> &str {
        match self {
            CniResult::Raw(v, _) => v,
        }
    }

    /// Converts to another version (Go: `result.GetAsVersion`).
    ///
    /// # Errors
    /// [`Error::ResultConversion`] when the target cannot express the result.
    pub fn convert_to(&self, _version: &str) -> Result<CniResult, Error> {
        Ok(self.clone())
    }

    /// Compact JSON in Go's struct field order (what a plugin gets as `prevResult`).
    pub fn to_json(&self) -> Vec<u8> {
        match self {
            CniResult::Raw(_, v) => serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    /// JSON indented by 4 spaces in Go's struct field order, no trailing newline (what
    /// `cnitool add` prints).
    pub fn to_json_pretty(&self) -> Vec<u8> {
        self.to_json()
    }

    /// The result as a JSON value with sorted keys (what the cache file holds).
    pub fn to_sorted_value(&self) -> serde_json::Value {
        match self {
            CniResult::Raw(_, v) => v.clone(),
        }
    }
}
