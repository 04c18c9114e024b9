//! From bytes to checked netconfs: JSON errors with line and column, and every rule of the
//! format checked with the field named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{NetworkConfigList, PluginConfig};
use crate::error::{Error, IdKind};
use crate::validate;
use crate::version::{self, Version};

/// What [`Error::ConfigParse`] names when the bytes came from no file.
const NO_FILE: &str = "network configuration";

/// The UTF-8 byte order mark, which Go's decoder rejects too.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A parsed list, with what [`list`] cannot decide alone: whether plugins may still come
/// from `<dir>/<name>/*.conf`.
pub(super) struct ParsedList {
    pub(super) list: NetworkConfigList,
    pub(super) load_only_inlined: bool,
}

/// Builds an [`Error::ConfigInvalid`].
pub(super) fn invalid(
    path: Option<&Path>,
    field: impl Into<String>,
    reason: impl Into<String>,
) -> Error {
    Error::ConfigInvalid {
        path: path.map(Path::to_path_buf),
        field: field.into(),
        reason: reason.into(),
    }
}

fn parse_error(path: Option<&Path>, (line, column): (usize, usize), reason: String) -> Error {
    Error::ConfigParse {
        path: path.map_or_else(|| PathBuf::from(NO_FILE), Path::to_path_buf),
        line,
        column,
        reason,
    }
}

/// 1-based line and column of byte `offset` (columns count characters).
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    (line, column)
}

/// How a JSON value's type reads in a message.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses bytes that must hold one JSON object.
pub(super) fn object(bytes: &[u8], path: Option<&Path>) -> Result<Map<String, Value>, Error> {
    if bytes.starts_with(BOM) {
        return Err(parse_error(
            path,
            (1, 1),
            "starts with a UTF-8 byte order mark; remove it".into(),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        parse_error(
            path,
            position(bytes, e.valid_up_to()),
            "not valid UTF-8".into(),
        )
    })?;
    let is_json_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    if text.trim_matches(is_json_space).is_empty() {
        return Err(parse_error(
            path,
            (1, 1),
            "empty, expected a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C" to its message; we report those apart.
        let full = e.to_string();
        let reason = full
            .rfind(" at line ")
            .map_or(full.as_str(), |i| &full[..i])
            .to_owned();
        parse_error(path, (e.line().max(1), e.column().max(1)), reason)
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => {
            let start = text.len() - text.trim_start_matches(is_json_space).len();
            Err(parse_error(
                path,
                position(bytes, start),
                format!("expected a JSON object, found {}", kind_of(&other)),
            ))
        }
    }
}

/// Checks an identifier, reporting a failure as [`Error::ConfigInvalid`] on `field`.
fn check_id(
    check: impl FnOnce(&str) -> Result<(), Error>,
    value: &str,
    path: Option<&Path>,
    field: &str,
) -> Result<(), Error> {
    check(value).map_err(|e| match e {
        Error::InvalidIdentifier { value, reason, .. } => {
            invalid(path, field, format!("{value:?} {reason}"))
        }
        other => invalid(path, field, other.to_string()),
    })
}

/// A string field of a plugin object: absent or `null` is `None` (Go's struct decoding leaves
/// the field empty), anything but a string is an error.
fn plugin_str<'a>(
    raw: &'a Map<String, Value>,
    key: &str,
    field: &str,
    path: Option<&Path>,
) -> Result<Option<&'a str>, Error> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            path,
            field,
            format!("must be a string, found {}", kind_of(other)),
        )),
    }
}

/// Checks one plugin object. `prefix` is prepended to field names (`plugins[1].`).
pub(super) fn plugin(
    raw: Map<String, Value>,
    prefix: &str,
    path: Option<&Path>,
) -> Result<PluginConfig, Error> {
    let field = |key: &str| format!("{prefix}{key}");

    let plugin_type = match plugin_str(&raw, "type", &field("type"), path)? {
        None => return Err(invalid(path, field("type"), "missing")),
        Some(t) => t.to_owned(),
    };
    check_id(
        |v| validate::plugin_type(IdKind::PluginType, v),
        &plugin_type,
        path,
        &field("type"),
    )?;
    // The list's values replace these when the plugin runs, but Go still rejects other types.
    plugin_str(&raw, "name", &field("name"), path)?;
    plugin_str(&raw, "cniVersion", &field("cniVersion"), path)?;

    let mut capabilities = BTreeMap::new();
    match raw.get("capabilities") {
        None | Some(Value::Null) => {}
        Some(Value::Object(caps)) => {
            for (name, v) in caps {
                let Value::Bool(b) = v else {
                    return Err(invalid(
                        path,
                        field(&format!("capabilities.{name}")),
                        format!("must be true or false, found {}", kind_of(v)),
                    ));
                };
                capabilities.insert(name.clone(), *b);
            }
        }
        Some(other) => {
            return Err(invalid(
                path,
                field("capabilities"),
                format!("must be an object, found {}", kind_of(other)),
            ))
        }
    }

    // An `ipam` section without a type (or with `""`) means "no IPAM" to plugins such as
    // bridge (`n.IPAM.Type != ""`), so it is accepted and gives `None`.
    let ipam_type = match raw.get("ipam") {
        None | Some(Value::Null) => None,
        Some(Value::Object(ipam)) => match plugin_str(ipam, "type", &field("ipam.type"), path)? {
            None | Some("") => None,
            Some(t) => {
                check_id(
                    |v| validate::plugin_type(IdKind::IpamType, v),
                    t,
                    path,
                    &field("ipam.type"),
                )?;
                Some(t.to_owned())
            }
        },
        Some(other) => {
            return Err(invalid(
                path,
                field("ipam"),
                format!("must be an object, found {}", kind_of(other)),
            ))
        }
    };

    Ok(PluginConfig {
        plugin_type,
        capabilities,
        ipam_type,
        raw,
    })
}

/// A top-level flag: a boolean, or the string "true"/"false" in any case (Go lowercases it).
fn flag(map: &Map<String, Value>, key: &str, path: Option<&Path>) -> Result<bool, Error> {
    match map.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(
                path,
                key,
                format!("must be true or false, found {s:?}"),
            )),
        },
        Some(other) => Err(invalid(
            path,
            key,
            format!(
                "must be true, false, \"true\" or \"false\", found {}",
                kind_of(other)
            ),
        )),
    }
}

/// A top-level string field. Here `null` is an error, as in Go's untyped decoding.
fn list_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: Option<&Path>,
) -> Result<Option<&'a str>, Error> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(
            path,
            key,
            format!("must be a string, found {}", kind_of(other)),
        )),
    }
}

fn parse_version(s: &str, path: Option<&Path>, field: &str) -> Result<Version, Error> {
    Version::parse(s).map_err(|e| match e {
        Error::InvalidVersion { version, reason } => invalid(
            path,
            field,
            format!("{version:?} is not a version: {reason}"),
        ),
        other => invalid(path, field, other.to_string()),
    })
}

/// The effective `cniVersion` and the candidates it was chosen from, as Go upstream
/// negotiates it: with a `cniVersions` list, the highest of its entries and `cniVersion` that
/// this library implements (an entry above [`version::CURRENT`] is for newer runtimes, one
/// that is no spec version, such as `1.0.1`, exists nowhere: both are skipped); without one
/// (or when nothing is left), `cniVersion` as written and no candidates. The candidates,
/// highest first, let [`crate::CniConfig`] step down to what every plugin supports.
fn negotiate_version(
    map: &Map<String, Value>,
    path: Option<&Path>,
) -> Result<(String, Vec<String>), Error> {
    let cni_version = list_str(map, "cniVersion", path)?.unwrap_or_default();
    // Go leaves `cniVersion` unchecked here when there is no `cniVersions`; a version that
    // does not parse fails later anyway, so we report it now, naming the file.
    let declared = parse_version(cni_version, path, "cniVersion")?;
    let Some(raw) = map.get("cniVersions") else {
        return Ok((cni_version.to_owned(), Vec::new()));
    };
    let Value::Array(entries) = raw else {
        return Err(invalid(
            path,
            "cniVersions",
            format!(
                "must be an array of version strings, found {}",
                kind_of(raw)
            ),
        ));
    };
    let exists = |s: &str| version::SUPPORTED.contains(&s);
    let mut usable: Vec<(Version, &str)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("cniVersions[{i}]");
        let Value::String(s) = entry else {
            return Err(invalid(
                path,
                field,
                format!("must be a string, found {}", kind_of(entry)),
            ));
        };
        let v = parse_version(s, path, &field)?;
        if exists(s) {
            usable.push((v, s));
        }
    }
    if exists(cni_version) {
        usable.push((declared, cni_version));
    }
    // Exact spec version strings only, so equal versions are equal strings.
    usable.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    usable.dedup();
    let candidates: Vec<String> = usable.iter().map(|(_, s)| (*s).to_owned()).collect();
    let chosen = candidates
        .first()
        .map_or_else(|| cni_version.to_owned(), Clone::clone);
    Ok((chosen, candidates))
}

/// Checks a list object. `plugins` may be absent (then [`NetworkConfigList::plugins`] is
/// empty) unless `loadOnlyInlinedPlugins` is set: the caller decides whether plugins from
/// `<dir>/<name>/*.conf` can fill it.
pub(super) fn list(
    map: &Map<String, Value>,
    bytes: Vec<u8>,
    path: Option<&Path>,
) -> Result<ParsedList, Error> {
    let name = list_str(map, "name", path)?.ok_or_else(|| invalid(path, "name", "missing"))?;
    check_id(validate::network_name, name, path, "name")?;
    let (cni_version, cni_versions) = negotiate_version(map, path)?;
    let disable_check = flag(map, "disableCheck", path)?;
    let disable_gc = flag(map, "disableGC", path)?;
    let load_only_inlined = flag(map, "loadOnlyInlinedPlugins", path)?;

    let plugins = match map.get("plugins") {
        None if load_only_inlined => {
            return Err(invalid(
                path,
                "plugins",
                "missing, and loadOnlyInlinedPlugins is true",
            ))
        }
        None => Vec::new(),
        Some(Value::Array(entries)) if entries.is_empty() => {
            return Err(invalid(path, "plugins", "must not be empty"))
        }
        Some(Value::Array(entries)) => {
            let mut plugins = Vec::with_capacity(entries.len());
            for (i, entry) in entries.iter().enumerate() {
                let Value::Object(obj) = entry else {
                    return Err(invalid(
                        path,
                        format!("plugins[{i}]"),
                        format!("must be an object, found {}", kind_of(entry)),
                    ));
                };
                plugins.push(plugin(obj.clone(), &format!("plugins[{i}]."), path)?);
            }
            plugins
        }
        Some(other) => {
            return Err(invalid(
                path,
                "plugins",
                format!(
                    "must be an array of plugin objects, found {}",
                    kind_of(other)
                ),
            ))
        }
    };

    Ok(ParsedList {
        list: NetworkConfigList {
            name: name.to_owned(),
            cni_version,
            cni_versions,
            disable_check,
            disable_gc,
            plugins,
            bytes,
            source: path.map(Path::to_path_buf),
        },
        load_only_inlined,
    })
}
