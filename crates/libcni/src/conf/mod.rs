//! Finding and parsing network configurations ([SPEC.md "Section 1: Network configuration
//! format"](https://github.com/containernetworking/cni/blob/main/SPEC.md#section-1-network-configuration-format)),
//! mirroring Go's `libcni/conf.go` (v1.1.2 and upstream main).
//!
//! # Where a network comes from
//! [`load_conf_list`] searches the given directories in order (Go has one directory; several
//! is our extension). Within one directory:
//! 1. `.conflist` files, in byte order of the path; the first whose `name` matches wins;
//! 2. then `.conf` and `.json` files (one plugin each, `type` required), in byte order, turned
//!    into a one-plugin list by [`conf_list_from_conf`].
//!
//! A missing directory counts as empty. A `.conflist` also gets the plugins in
//! `<dir>/<network name>/*.conf`, after its inlined ones, unless it sets
//! `loadOnlyInlinedPlugins` (Go v1.3.0).
//!
//! # Where we differ from Go on purpose
//! - Go stops the whole lookup at the first file it cannot parse, without naming it. Here a
//!   broken file that is not the network asked for is returned as a warning in
//!   [`Lookup::warnings`]. A file is known not to be the one asked for when its `name` can
//!   still be read and differs. When a file is too broken to read its `name` and the network
//!   is then not found anywhere, the error is [`Error::NetworkNotFoundBroken`], which lists
//!   the networks found *and* the unreadable files with their errors (line and column for
//!   JSON errors), because any of them may have held the network.
//! - Everything is checked at load time, with the field named (`plugins[1].type`): the network
//!   name, every plugin `type` and `ipam.type` (no path tricks, CVE-2021-20206), `plugins` is a
//!   non-empty array of objects, `cniVersion` and every `cniVersions` entry parse.
//! - A directory, or a symbolic link to one, named like a netconf is skipped rather than
//!   failing the lookup.

mod lookup;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::Error;

pub use lookup::{conf_files, list_networks, load_conf_list, ConfKind, ListedNetwork, Listing};

/// One plugin of a network list.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginConfig {
    /// `type`: the plugin binary's name.
    pub plugin_type: String,
    /// `capabilities`: which runtime capabilities the plugin accepts.
    pub capabilities: BTreeMap<String, bool>,
    /// `ipam.type`, when there is an `ipam` section with a non-empty `type`.
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
    /// With `cniVersions`: the spec versions this library implements among `cniVersions` and
    /// `cniVersion`, highest first (`cni_version` is the first). [`crate::CniConfig`] runs the
    /// list at the highest of them that every plugin supports. Empty without `cniVersions`.
    pub cni_versions: Vec<String>,
    /// `disableCheck`.
    pub disable_check: bool,
    /// `disableGC`.
    pub disable_gc: bool,
    /// The plugins, in order.
    pub plugins: Vec<PluginConfig>,
    /// The bytes of the list: the file's exact bytes for a `.conflist`, a synthesized compact
    /// list for a converted `.conf` (what Go caches as `config`). As in Go, plugins loaded from
    /// `<dir>/<name>/*.conf` are not in these bytes: see [`NetworkConfigList::full_bytes`].
    pub bytes: Vec<u8>,
    /// The file it came from.
    pub source: Option<PathBuf>,
}

impl NetworkConfigList {
    /// The list with every plugin it runs, as bytes that [`conf_list_from_bytes`] turns back
    /// into the same list: [`NetworkConfigList::bytes`] when every plugin is inlined in them;
    /// otherwise (plugins loaded from `<dir>/<name>/*.conf`) the top-level object of `bytes`
    /// with `plugins` holding every plugin in order and `loadOnlyInlinedPlugins` set (they
    /// are all inlined now), compact with keys sorted. This is what the result cache records
    /// as `config`, so that DEL and CHECK from the cache reach the same plugins as ADD.
    pub fn full_bytes(&self) -> Vec<u8> {
        let Ok(mut top) = serde_json::from_slice::<Map<String, Value>>(&self.bytes) else {
            return self.bytes.clone();
        };
        let inlined = top
            .get("plugins")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if inlined == self.plugins.len() {
            return self.bytes.clone();
        }
        top.insert(
            "plugins".into(),
            Value::Array(
                self.plugins
                    .iter()
                    .map(|p| Value::Object(p.raw.clone()))
                    .collect(),
            ),
        );
        top.insert("loadOnlyInlinedPlugins".into(), Value::Bool(true));
        crate::json::to_vec(&top)
    }
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
/// Only the inlined `plugins` are read: use [`conf_list_from_file`] to also load
/// `<dir>/<name>/*.conf`. `path` is only used to name the file in errors (without one, errors
/// say `network configuration`) and as [`NetworkConfigList::source`].
///
/// # Errors
/// [`Error::ConfigParse`] (with line and column) when the bytes are not a JSON object,
/// [`Error::ConfigInvalid`] naming the field when a rule is broken, including a missing or
/// empty `plugins`. Both name `path` when given.
#[doc(alias = "ConfListFromBytes")]
#[doc(alias = "NetworkConfFromBytes")]
pub fn conf_list_from_bytes(bytes: &[u8], path: Option<&Path>) -> Result<NetworkConfigList, Error> {
    let map = parse::object(bytes, path)?;
    let parsed = parse::list(&map, bytes.to_vec(), path)?;
    if parsed.list.plugins.is_empty() {
        return Err(parse::invalid(path, "plugins", "missing"));
    }
    Ok(parsed.list)
}

/// Reads and parses a `.conflist` file, appending the plugins of `<dir>/<name>/*.conf` unless
/// the list sets `loadOnlyInlinedPlugins`.
///
/// # Errors
/// [`Error::Io`] naming the file that could not be read, the errors of
/// [`conf_list_from_bytes`] and [`conf_from_bytes`] (for the plugin files), and
/// [`Error::ConfigInvalid`] on `plugins` when the list ends up with no plugin at all.
#[doc(alias = "ConfListFromFile")]
#[doc(alias = "NetworkConfFromFile")]
pub fn conf_list_from_file(path: &Path) -> Result<NetworkConfigList, Error> {
    let bytes = read(path)?;
    let map = parse::object(&bytes, Some(path))?;
    lookup::list_from_file_parts(&map, bytes, path)
}

/// Parses a single-plugin `.conf` (or `.json`) netconf. The result's `raw` keeps `name` and
/// `cniVersion`, which [`conf_list_from_conf`] needs.
///
/// # Errors
/// [`Error::ConfigParse`] when the bytes are not a JSON object, [`Error::ConfigInvalid`] when
/// `type` is missing or not a plain file name, `ipam.type` is not one, `capabilities` is not an
/// object of booleans, or `name`/`cniVersion` are not strings.
#[doc(alias = "ConfFromBytes")]
#[doc(alias = "NetworkPluginConfFromBytes")]
pub fn conf_from_bytes(bytes: &[u8], path: Option<&Path>) -> Result<PluginConfig, Error> {
    let map = parse::object(bytes, path)?;
    parse::plugin(map, "", path)
}

/// Reads and parses a single-plugin `.conf` file (see [`conf_from_bytes`]).
///
/// # Errors
/// [`Error::Io`] naming the file, or the errors of [`conf_from_bytes`].
#[doc(alias = "ConfFromFile")]
pub fn conf_from_file(path: &Path) -> Result<PluginConfig, Error> {
    let bytes = read(path)?;
    conf_from_bytes(&bytes, Some(path))
}

/// Most bytes a netconf file may hold; a larger file is refused rather than read.
const MAX_CONF_BYTES: u64 = 16 << 20;

/// Reads a whole file, naming it when that fails.
fn read(path: &Path) -> Result<Vec<u8>, Error> {
    let io_err = |e| Error::io("reading", path, e);
    let file = fs::File::open(path).map_err(io_err)?;
    // Not `fs::read`: the fstat it sizes its buffer with is one system call in five of a
    // lookup through a large directory, and netconfs are small.
    let mut bytes = Vec::with_capacity(4096);
    file.take(MAX_CONF_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_CONF_BYTES {
        return Err(io_err(io::Error::other(format!(
            "larger than {} MiB",
            MAX_CONF_BYTES >> 20
        ))));
    }
    Ok(bytes)
}

/// Turns a single-plugin config into a one-plugin list, as Go's `ConfListFromConf` does.
///
/// The list's `bytes` are `{"cniVersion":..,"name":..,"plugins":[<the plugin object>]}`,
/// compact, keys sorted at every level, with Go's escaping of `<`, `>`, `&`: byte for byte
/// what Go caches as `config`. A missing `cniVersion` becomes `""`, as in Go. `path` names the
/// file in errors and becomes [`NetworkConfigList::source`].
///
/// # Errors
/// [`Error::ConfigInvalid`] when the plugin's `name` is not a valid network name, or its
/// `cniVersion` does not parse.
#[doc(alias = "ConfListFromConf")]
pub fn conf_list_from_conf(
    conf: &PluginConfig,
    path: Option<&Path>,
) -> Result<NetworkConfigList, Error> {
    let text = |key: &str| {
        conf.raw
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut top = Map::new();
    top.insert("cniVersion".into(), Value::String(text("cniVersion")));
    top.insert("name".into(), Value::String(text("name")));
    top.insert(
        "plugins".into(),
        Value::Array(vec![Value::Object(conf.raw.clone())]),
    );
    let bytes = crate::json::to_vec(&top);
    Ok(parse::list(&top, bytes, path)?.list)
}
