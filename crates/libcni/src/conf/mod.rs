//! Finding and parsing network configurations (SPEC.md "Section 1: Network configuration
//! format"), mirroring Go's `libcni/conf.go`.
//!
//! CONTRACT (implemented by the conf work).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;

/// One plugin of a network list.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginConfig {
    /// `type`: the plugin binary's name.
    pub plugin_type: String,
    /// `capabilities`: which runtime capabilities the plugin accepts.
    pub capabilities: BTreeMap<String, bool>,
    /// `ipam.type`, when there is an `ipam` section.
    pub ipam_type: Option<String>,
    /// The whole plugin object as parsed, unknown keys included (keys sorted, as Go re-encodes).
    pub raw: Map<String, Value>,
}

/// A network configuration list: the unit that ADD, DEL, CHECK, GC and STATUS work on.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfigList {
    /// `name`.
    pub name: String,
    /// The effective `cniVersion` (after `cniVersions` negotiation).
    pub cni_version: String,
    /// `disableCheck`.
    pub disable_check: bool,
    /// `disableGC`.
    pub disable_gc: bool,
    /// The plugins, in order.
    pub plugins: Vec<PluginConfig>,
    /// The bytes of the list: the file's exact bytes for a `.conflist`, a synthesized compact
    /// list for a converted `.conf` (what Go caches as `config`).
    pub bytes: Vec<u8>,
    /// The file it came from.
    pub source: Option<PathBuf>,
}

/// What a lookup found: the list, and problems with other files that did not stop it.
#[derive(Debug)]
pub struct Lookup {
    /// The network asked for.
    pub list: NetworkConfigList,
    /// Files that could not be read or parsed on the way (each names its file).
    pub warnings: Vec<Error>,
}

/// Parses a `.conflist`.
///
/// # Errors
/// [`Error::ConfigParse`] / [`Error::ConfigInvalid`] naming `path` when given.
pub fn conf_list_from_bytes(bytes: &[u8], path: Option<&Path>) -> Result<NetworkConfigList, Error> {
    let _ = (bytes, path);
    Err(Error::NoConfigs { dirs: vec![] })
}

/// Finds the network `name` in `dirs` (in order; within a directory `.conflist` files first,
/// then `.conf`/`.json`, each group in byte order of the path).
///
/// # Errors
/// [`Error::NetworkNotFound`] listing the networks found, [`Error::NoConfigs`], or the parse
/// error of the file that has the name.
pub fn load_conf_list(dirs: &[PathBuf], name: &str) -> Result<Lookup, Error> {
    let _ = (dirs, name);
    Err(Error::NoConfigs {
        dirs: dirs.to_vec(),
    })
}
