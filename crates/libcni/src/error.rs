//! The library's one error type.
//!
//! Every variant carries the context a user needs to act: the file, the field, the value, the
//! plugin and its place in the chain. [`Error::kind`] sorts them into the few classes a caller
//! maps to exit codes.
//!
//! Length: the one error type with its messages and its classification; the variants and the
//! text users read belong together (about 60 lines are unit tests).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::invoke::Command;

/// What kind of identifier failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// `CNI_CONTAINERID`.
    ContainerId,
    /// A network (list) name.
    NetworkName,
    /// `CNI_IFNAME`.
    IfName,
    /// A plugin `type`.
    PluginType,
    /// An `ipam.type`.
    IpamType,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::ContainerId => "container ID",
            IdKind::NetworkName => "network name",
            IdKind::IfName => "interface name",
            IdKind::PluginType => "plugin type",
            IdKind::IpamType => "IPAM type",
        })
    }
}

/// Broad classes of [`Error`], for mapping to exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value given by the caller is invalid (identifier, argument, version string).
    Invalid,
    /// A netconf is missing, unparsable or inconsistent, or a plugin is not installed.
    Config,
    /// A plugin ran and failed, timed out, died, or printed something unusable.
    Plugin,
    /// The request conflicts with what exists (already attached, not attached, own netns).
    State,
    /// The file system or the operating system failed.
    Io,
    /// The caller cancelled the operation (see [`crate::invoke::Cancel`]).
    Interrupted,
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec version string does not parse.
    #[error("invalid CNI version {version:?}: {reason}")]
    InvalidVersion {
        /// The string given.
        version: String,
        /// Why it is invalid.
        reason: String,
    },

    /// A result claims a version this library has no type for.
    #[error("unsupported CNI result version {version:?}")]
    UnsupportedResultVersion {
        /// The version found.
        version: String,
    },

    /// Bytes that should be JSON of a known shape are not.
    #[error("decoding {what}: {reason}")]
    Decode {
        /// What was being decoded ("result", "version info", ...).
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },

    /// A file system or system call failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done ("reading", "creating directory", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// No netconf at all in the searched directories.
    #[error("no net configurations found in {}", display_dirs(dirs))]
    NoConfigs {
        /// The directories searched.
        dirs: Vec<PathBuf>,
    },

    /// No netconf with the requested name.
    #[error(
        "network {name:?} not found in {} ({})",
        display_dirs(dirs),
        display_found(found)
    )]
    NetworkNotFound {
        /// The name asked for.
        name: String,
        /// The directories searched.
        dirs: Vec<PathBuf>,
        /// The names of the networks that were found.
        found: Vec<String>,
    },

    /// A netconf file is not valid JSON.
    #[error("{}: line {line} column {column}: {reason}", path.display())]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        reason: String,
    },

    /// A netconf is valid JSON but breaks a rule of the spec.
    #[error("{}: {field}: {reason}", display_origin(path))]
    ConfigInvalid {
        /// The file, when the config came from one.
        path: Option<PathBuf>,
        /// The field at fault (`name`, `plugins[1].type`, ...).
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An identifier breaks the CNI naming rules.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidIdentifier {
        /// What the identifier is.
        kind: IdKind,
        /// The value given.
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// A `CNI_ARGS` string or capability argument is malformed.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument (`CNI_ARGS`, `capability args`, ...).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The plugin binary is not in any plugin directory.
    #[error("plugin {plugin:?} not found in {}", display_dirs(dirs))]
    PluginNotFound {
        /// The plugin type.
        plugin: String,
        /// The directories searched.
        dirs: Vec<PathBuf>,
    },

    /// The plugin binary exists in a plugin directory but may not be executed (no exec bit,
    /// or a `noexec` mount), and no later directory has an executable one.
    #[error(
        "plugin {plugin:?} at {} cannot be executed: permission denied (make it executable, \
         e.g. chmod +x {})",
        path.display(),
        path.display()
    )]
    PluginNotExecutable {
        /// The plugin type.
        plugin: String,
        /// The file found.
        path: PathBuf,
    },

    /// A plugin ran and reported a CNI error.
    #[error(
        "plugin {plugin:?} failed ({command}, CNI code {code}{}): {msg}{}",
        code_name(*code).map(|n| format!(": {n}")).unwrap_or_default(),
        if details.is_empty() { String::new() } else { format!("; {details}") }
    )]
    Plugin {
        /// The plugin type.
        plugin: String,
        /// Its index in the network list (0-based).
        index: usize,
        /// The verb it was running.
        command: Command,
        /// The CNI error code.
        code: u32,
        /// The error message.
        msg: String,
        /// The error details.
        details: String,
    },

    /// A plugin's output could not be understood.
    #[error("plugin {plugin:?} ({command}) printed unusable output: {reason}")]
    PluginOutput {
        /// The plugin type.
        plugin: String,
        /// Its index in the network list.
        index: usize,
        /// The verb it was running.
        command: Command,
        /// What is wrong with the output (includes a bounded excerpt).
        reason: String,
    },

    /// A plugin was killed by a signal.
    #[error("plugin {plugin:?} ({command}) was killed by signal {signal}")]
    PluginSignaled {
        /// The plugin type.
        plugin: String,
        /// Its index in the network list.
        index: usize,
        /// The verb it was running.
        command: Command,
        /// The signal number.
        signal: i32,
    },

    /// A plugin did not finish in time and was killed.
    #[error("plugin {plugin:?} ({command}) timed out after {timeout:?} and was killed")]
    PluginTimeout {
        /// The plugin type.
        plugin: String,
        /// Its index in the network list.
        index: usize,
        /// The verb it was running.
        command: Command,
        /// The limit that was exceeded.
        timeout: Duration,
    },

    /// The caller cancelled the operation (see [`crate::invoke::Cancel`]): the plugin running
    /// then was stopped (`stopped`), or the operation ended before this plugin ran.
    #[error("{command} interrupted{}", if *stopped {
        format!(": plugin {plugin:?} was stopped")
    } else {
        format!(" before plugin {plugin:?} ran")
    })]
    Interrupted {
        /// The verb.
        command: Command,
        /// The plugin type that was stopped, or the one that was not started.
        plugin: String,
        /// Its index in the network list.
        index: usize,
        /// Whether the plugin was running (and stopped).
        stopped: bool,
    },

    /// The plugin binary could not be started.
    #[error("plugin {plugin:?} ({command}) could not be executed: {}", path.display())]
    PluginExec {
        /// The plugin type.
        plugin: String,
        /// Its index in the network list.
        index: usize,
        /// The verb it was to run.
        command: Command,
        /// The binary.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A result cannot be expressed in the requested version.
    #[error("cannot convert result from {from} to {to}: {reason}")]
    ResultConversion {
        /// The result's version.
        from: String,
        /// The requested version.
        to: String,
        /// Why not.
        reason: String,
    },

    /// The configuration's version predates the verb.
    #[error("configuration version {version:?} does not support the {command} command")]
    VerbUnsupported {
        /// The verb.
        command: Command,
        /// The configuration's `cniVersion`.
        version: String,
    },

    /// The target network namespace is unusable (not a netns, or the caller's own).
    #[error("network namespace {}: {reason}", path.display())]
    Netns {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// A cache file is unreadable or does not describe the requested attachment.
    #[error("cache file {}: {reason}", path.display())]
    CacheCorrupt {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// ADD of an attachment that the cache says exists already.
    #[error("network {network:?} is already attached to container {container_id:?} as {ifname:?} (cache: {}); delete it first", path.display())]
    AlreadyAttached {
        /// The network name.
        network: String,
        /// The container ID.
        container_id: String,
        /// The interface name.
        ifname: String,
        /// The cache file that records it.
        path: PathBuf,
    },

    /// ADD of an interface that another attachment holds: the same container ID and interface
    /// name on another network (the spec keys an attachment by container ID and interface
    /// name), or the same interface name in the same network namespace. The plugins would
    /// fail on the existing interface, and the rollback DEL (same `CNI_IFNAME`) would delete
    /// it from under the other attachment. Also DEL of an attachment the cache does not know
    /// while another holds its interface: the plugins' DEL would delete that one's interface.
    #[error("interface {ifname:?} is already attached to network {other_network:?} (container {other_container_id:?}, cache: {}); use another interface name, or delete that attachment first", path.display())]
    InterfaceInUse {
        /// The interface name.
        ifname: String,
        /// The network that holds the interface.
        other_network: String,
        /// The container ID of the attachment that holds it.
        other_container_id: String,
        /// The cache file that records that attachment.
        path: PathBuf,
    },

    /// CHECK of an attachment that the cache does not know.
    #[error("network {network:?} is not attached to container {container_id:?} as {ifname:?} (no cached result)")]
    NotAttached {
        /// The network name.
        network: String,
        /// The container ID.
        container_id: String,
        /// The interface name.
        ifname: String,
    },

    /// An ADD failed and was rolled back. When the rollback failed too, the attachment's
    /// cache entry is kept (`kept`), so that a DEL or GC finds it and can finish the job.
    #[error("{error}{}", display_rollback(rollback.as_deref(), kept.as_deref()))]
    AddFailed {
        /// Why ADD failed.
        error: Box<Error>,
        /// Why the rollback DEL failed, if it did.
        rollback: Option<Box<Error>>,
        /// The cache file still recording the attachment, when the rollback failed.
        kept: Option<PathBuf>,
    },

    /// A plugin does not support the configuration's `cniVersion` (from its VERSION reply).
    #[error("plugin {plugin:?} does not support config version {version:?} (it supports {})", supported.join(", "))]
    PluginVersionUnsupported {
        /// The plugin type.
        plugin: String,
        /// The configuration's version.
        version: String,
        /// What the plugin reported.
        supported: Vec<String>,
    },

    /// No version of a list's `cniVersions` is supported by every plugin of the list.
    #[error(
        "network {network:?}: no version of {} is supported by every plugin ({})",
        candidates.join(", "),
        plugins.iter().map(|(p, v)| format!("{p} supports {}", v.join(", "))).collect::<Vec<_>>().join("; ")
    )]
    NoCommonVersion {
        /// The network.
        network: String,
        /// The candidate versions, highest first.
        candidates: Vec<String>,
        /// Each plugin type with the versions it reported.
        plugins: Vec<(String, Vec<String>)>,
    },

    /// Several independent steps failed (GC).
    #[error("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple {
        /// Each failure.
        errors: Vec<Error>,
    },

    /// No netconf with the requested name was found, but some files (or directories) could
    /// not be read far enough to know which network they hold, so one of them may be it.
    #[error(
        "network {name:?} not found in {} ({}); it may be in what could not be read: {}",
        display_dirs(dirs),
        display_found(found),
        display_chains(broken)
    )]
    NetworkNotFoundBroken {
        /// The name asked for.
        name: String,
        /// The directories searched.
        dirs: Vec<PathBuf>,
        /// The names of the networks that were found.
        found: Vec<String>,
        /// Why each unreadable file or directory could not be read (each names its path).
        broken: Vec<Error>,
    },
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidVersion { .. }
            | Error::InvalidIdentifier { .. }
            | Error::InvalidArgument { .. } => ErrorKind::Invalid,
            Error::NoConfigs { .. }
            | Error::NetworkNotFound { .. }
            | Error::NetworkNotFoundBroken { .. }
            | Error::ConfigParse { .. }
            | Error::ConfigInvalid { .. }
            | Error::PluginNotFound { .. }
            | Error::PluginNotExecutable { .. }
            | Error::VerbUnsupported { .. }
            | Error::UnsupportedResultVersion { .. }
            | Error::PluginVersionUnsupported { .. }
            | Error::NoCommonVersion { .. } => ErrorKind::Config,
            Error::Plugin { .. }
            | Error::PluginOutput { .. }
            | Error::PluginSignaled { .. }
            | Error::PluginTimeout { .. }
            | Error::PluginExec { .. }
            | Error::ResultConversion { .. }
            | Error::Decode { .. } => ErrorKind::Plugin,
            Error::Netns { .. }
            | Error::CacheCorrupt { .. }
            | Error::AlreadyAttached { .. }
            | Error::InterfaceInUse { .. }
            | Error::NotAttached { .. } => ErrorKind::State,
            Error::Io { .. } => ErrorKind::Io,
            Error::Interrupted { .. } => ErrorKind::Interrupted,
            Error::AddFailed { error, .. } => error.kind(),
            Error::Multiple { errors } => errors.first().map_or(ErrorKind::Io, Error::kind),
        }
    }

    /// The CNI error code this error carries or corresponds to (SPEC.md "Error").
    pub fn cni_code(&self) -> u32 {
        match self {
            Error::Plugin { code, .. } => *code,
            Error::AddFailed { error, .. } => error.cni_code(),
            Error::Multiple { errors } => errors.first().map_or(999, Error::cni_code),
            Error::InvalidVersion { .. } | Error::UnsupportedResultVersion { .. } => 1,
            Error::VerbUnsupported { .. }
            | Error::PluginVersionUnsupported { .. }
            | Error::NoCommonVersion { .. } => 1,
            Error::NotAttached { .. } => 3,
            Error::InvalidIdentifier { .. } | Error::InvalidArgument { .. } => 4,
            Error::Io { .. } | Error::CacheCorrupt { .. } => 5,
            Error::Decode { .. } | Error::PluginOutput { .. } | Error::ConfigParse { .. } => 6,
            Error::ConfigInvalid { .. }
            | Error::NoConfigs { .. }
            | Error::NetworkNotFound { .. }
            | Error::NetworkNotFoundBroken { .. } => 7,
            Error::PluginNotFound { .. } | Error::PluginNotExecutable { .. } => 50,
            _ => 999,
        }
    }

    /// The plugin error inside this one, if any: `(plugin, index, command, code, msg, details)`.
    pub fn plugin_failure(&self) -> Option<&Error> {
        match self {
            Error::Plugin { .. }
            | Error::PluginOutput { .. }
            | Error::PluginSignaled { .. }
            | Error::PluginTimeout { .. }
            | Error::PluginExec { .. } => Some(self),
            Error::AddFailed { error, .. } => error.plugin_failure(),
            _ => None,
        }
    }
}

/// The well-known name of a CNI error code (SPEC.md "Error").
pub fn code_name(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "incompatible CNI version",
        2 => "unsupported field in network configuration",
        3 => "container unknown or does not exist",
        4 => "invalid necessary environment variables",
        5 => "I/O failure",
        6 => "failed to decode content",
        7 => "invalid network config",
        11 => "try again later",
        50 => "plugin not available",
        51 => "plugin not available: limited connectivity",
        _ => return None,
    })
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    match dirs {
        [] => "(no directories)".into(),
        [one] => one.display().to_string(),
        many => many
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn display_found(found: &[String]) -> String {
    if found.is_empty() {
        "no networks there".into()
    } else {
        format!("networks there: {}", found.join(", "))
    }
}

/// Each error with its causes (`reading /x: Permission denied`), joined by `; `: these errors
/// sit in a list, out of reach of the `source()` chain that `{:#}` printing walks.
fn display_chains(errors: &[Error]) -> String {
    errors
        .iter()
        .map(|e| {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What follows the ADD error of [`Error::AddFailed`] when the rollback failed too.
fn display_rollback(rollback: Option<&Error>, kept: Option<&std::path::Path>) -> String {
    match (rollback, kept) {
        (None, _) => String::new(),
        (Some(r), None) => format!(" (rollback also failed: {r})"),
        (Some(r), Some(path)) => format!(
            " (rollback also failed: {r}; the attachment stays recorded in {} until a DEL of it succeeds)",
            path.display()
        ),
    }
}

fn display_origin(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(
        || "network configuration".into(),
        |p| p.display().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_error_names_plugin_verb_and_code() {
        let e = Error::Plugin {
            plugin: "bridge".into(),
            index: 1,
            command: Command::Add,
            code: 7,
            msg: "bad config".into(),
            details: "field x".into(),
        };
        assert_eq!(
            e.to_string(),
            "plugin \"bridge\" failed (ADD, CNI code 7: invalid network config): bad config; field x"
        );
        assert_eq!(e.kind(), ErrorKind::Plugin);
        assert_eq!(e.cni_code(), 7);
    }

    #[test]
    fn not_found_lists_networks() {
        let e = Error::NetworkNotFound {
            name: "mybr".into(),
            dirs: vec!["/etc/cni/net.d".into()],
            found: vec!["lo".into(), "podman".into()],
        };
        assert_eq!(
            e.to_string(),
            "network \"mybr\" not found in /etc/cni/net.d (networks there: lo, podman)"
        );
    }

    #[test]
    fn add_failed_keeps_both_errors() {
        let inner = Error::PluginNotFound {
            plugin: "nope".into(),
            dirs: vec!["/usr/lib/cni".into()],
        };
        let rb = Error::NotAttached {
            network: "n".into(),
            container_id: "c".into(),
            ifname: "eth0".into(),
        };
        let e = Error::AddFailed {
            error: Box::new(inner),
            rollback: Some(Box::new(rb)),
            kept: None,
        };
        let s = e.to_string();
        assert!(s.starts_with("plugin \"nope\" not found in /usr/lib/cni (rollback also failed: "));
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
