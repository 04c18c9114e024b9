//! The [`Context`] every verb gets: the global flags resolved (directories, the library
//! configuration with its executor and observer, output and verbosity).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use libcni::fsutil::Durability;
use libcni::invoke::{Cancel, RawExec};
use libcni::{CniConfig, NetworkConfigList};

use crate::cli::Global;
use crate::observe::{CliObserver, Progress, TraceFile};
use crate::output::Output;

/// Plugin directories used when `CNI_PATH` and `--plugin-dir` are unset.
pub const DEFAULT_PLUGIN_DIRS: &[&str] = &["/opt/cni/bin", "/usr/libexec/cni", "/usr/lib/cni"];
/// The system netconf directory.
pub const SYSTEM_NETCONF_DIR: &str = "/etc/cni/net.d";
/// The interface name when none is given (`-i`, `CNI_IFNAME`), as in the Go cnitool.
pub const DEFAULT_IFNAME: &str = "eth0";
/// iproute2's directory of named network namespaces.
pub const SYSTEM_NETNS_DIR: &str = "/run/netns";

/// Splits a `:`-separated directory list, dropping empty entries.
pub fn split_dirs(s: &str) -> Vec<PathBuf> {
    s.split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Everything a verb needs from the global flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// Netconf directories, in lookup order.
    pub netconf_dirs: Vec<PathBuf>,
    /// The library configuration.
    pub cni: CniConfig,
    /// Directory of named network namespaces.
    pub netns_dir: PathBuf,
    /// `--output`, if given.
    pub output: Option<Output>,
    /// `--quiet`.
    pub quiet: bool,
    /// `--verbose`.
    pub verbose: bool,
    /// `--timeout` (each plugin call; zero: none).
    pub timeout: std::time::Duration,
    /// Interrupts the plugin calls and operations under way (shared by the executor and
    /// `cni`); fired by [`crate::interrupt`] in the verbs that install it.
    pub cancel: Cancel,
}

impl Context {
    /// Resolves the global flags.
    ///
    /// # Errors
    /// The trace file cannot be opened.
    pub fn new(global: &Global) -> Result<Context> {
        let netconf_dirs = match &global.netconf_dir {
            Some(s) => split_dirs(s),
            None => default_netconf_dirs(),
        };
        let mut plugin_dirs = match &global.plugin_dir {
            Some(s) => split_dirs(s),
            None => DEFAULT_PLUGIN_DIRS.iter().map(PathBuf::from).collect(),
        };
        // A relative entry would make the plugin search depend on the working directory
        // (Go searches it there); the library skips it, and the user hears why.
        plugin_dirs.retain(|d| {
            if !d.is_absolute() && !global.quiet {
                crate::diag!(
                    "warning: plugin directory {:?} (CNI_PATH / --plugin-dir) is not an \
                     absolute path: ignored (give it as an absolute path)",
                    d.display().to_string()
                );
            }
            d.is_absolute()
        });
        let cancel = Cancel::new();
        let exec = RawExec {
            timeout: Some(global.timeout).filter(|t| !t.is_zero()),
            cancel: Some(cancel.clone()),
            ..RawExec::default()
        };
        let trace = match &global.trace {
            Some(path) => Some(TraceFile::open(path)?),
            None => None,
        };
        let observer = CliObserver {
            // RUST_LOG=debug (or trace/info) asks for the same as -v.
            verbose: global.verbose
                || std::env::var("RUST_LOG").is_ok_and(|v| {
                    let v = v.to_ascii_lowercase();
                    ["debug", "trace", "info"].iter().any(|l| v.contains(l))
                }),
            quiet: global.quiet,
            trace,
            progress: Progress::for_stderr(global.quiet),
        };
        let durability = if global.sync_cache {
            Durability::Synced
        } else {
            Durability::Atomic
        };
        let cni = CniConfig::new(plugin_dirs, &global.cache_dir)
            .with_cache_durability(durability)
            .with_exec(Arc::new(exec))
            .with_cancel(cancel.clone())
            .with_observer(Arc::new(observer));
        Ok(Context {
            netconf_dirs,
            cni,
            netns_dir: global.netns_dir.clone().unwrap_or_else(default_netns_dir),
            output: global.output,
            quiet: global.quiet,
            verbose: global.verbose,
            timeout: global.timeout,
            cancel,
        })
    }

    /// Loads a network list by name from the netconf directories, printing warnings about
    /// other files that could not be parsed. A name no netconf could carry is a usage error,
    /// not a network that is merely missing. The built-in network (see [`crate::builtin`]) is
    /// found when no file defines its name.
    pub fn load_list(&self, name: &str) -> Result<NetworkConfigList> {
        libcni::validate::network_name(name)?;
        match libcni::conf::load_conf_list(&self.netconf_dirs, name) {
            Ok(lookup) => {
                self.warn_all(&lookup.warnings);
                Ok(lookup.list)
            }
            Err(
                libcni::Error::NoConfigs { .. }
                | libcni::Error::NetworkNotFound { .. }
                | libcni::Error::NetworkNotFoundBroken { .. },
            ) if name == crate::builtin::NAME => self.builtin_list(),
            Err(e) => Err(e.into()),
        }
    }

    /// The built-in network for this host (its subnet depends on the host's routes: see
    /// [`crate::builtin::choose_subnet`]); under `-v`, says when a subnet was passed over.
    pub fn builtin_list(&self) -> Result<NetworkConfigList> {
        let (list, note) = crate::builtin::list()?;
        if let Some(note) = note.filter(|_| self.verbose) {
            crate::diag!("cnitool: {note}");
        }
        Ok(list)
    }

    /// Prints warnings on stderr unless `--quiet`.
    pub fn warn_all(&self, warnings: &[libcni::Error]) {
        if !self.quiet {
            for w in warnings {
                crate::diag!("warning: {w}");
            }
        }
    }
}

/// `/run/netns` for root (iproute2's directory); `$XDG_RUNTIME_DIR/netns` for other users.
pub fn default_netns_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(SYSTEM_NETNS_DIR);
    }
    match dirs::runtime_dir() {
        Some(dir) => dir.join("netns"),
        None => PathBuf::from(SYSTEM_NETNS_DIR),
    }
}

/// `/etc/cni/net.d`, then the user's `~/.config/cni/net.d` (`$XDG_CONFIG_HOME`, through the
/// `dirs` crate).
pub fn default_netconf_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(SYSTEM_NETCONF_DIR)];
    if let Some(home) = dirs::config_dir() {
        dirs.push(home.join("cni/net.d"));
    }
    dirs
}
