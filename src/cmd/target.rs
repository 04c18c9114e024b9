//! Which attachment a verb works on: the NETNS argument (one rule for every verb), the
//! container ID (Go's), the runtime configuration, and for DEL and CHECK the attachment
//! found in the cache under any spelling of its namespace path.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::cache::CacheEntry;
use libcni::{NetworkConfigList, RuntimeConf};
use sha2::{Digest, Sha512};

use super::{Context, PluginArgs, DEFAULT_IFNAME};
use crate::usage;

// Which attachment a verb works on, and how.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The network's name (from the netconf files).
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The target network namespace: a name in the netns directory (no `/`), or a path (with
    /// a `/`: ./NAME, /proc/PID/ns/net).
    #[arg(value_name = "NETNS", required_unless_present = "pid")]
    pub netns: Option<String>,
    /// Interface name inside the namespace.
    #[arg(short, long, env = crate::cli::env::CNI_IFNAME, default_value = DEFAULT_IFNAME)]
    pub ifname: String,
    /// Use the network namespace of this running process.
    #[arg(long, value_name = "PID", conflicts_with = "netns")]
    pub pid: Option<u32>,
    /// Container ID (default: derived from the namespace path, as the Go cnitool does).
    #[arg(long, value_name = "ID")]
    pub container_id: Option<String>,
    /// Plugin arguments and capabilities.
    #[command(flatten)]
    pub plugin: PluginArgs,
}

/// The resolved target namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Absolute, lexically cleaned path (what plugins get as `CNI_NETNS`).
    pub path: PathBuf,
    /// The container ID.
    pub container_id: String,
}

/// The Go cnitool's container ID: `cnitool-` and the first 20 hex digits of the SHA-512 of
/// the absolute namespace path (symbolic links not resolved).
pub fn container_id_for(netns: &Path) -> String {
    let digest = Sha512::digest(netns.as_os_str().as_encoded_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

/// Go's `filepath.Abs`: joins a relative path to the working directory and cleans it
/// lexically (no symbolic link resolution).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("reading the working directory")?
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// Where a NETNS argument points, one rule for every verb: with a `/` it is a path (`./web`,
/// `netns/x`, `/proc/PID/ns/net`), made absolute against the working directory as the Go
/// tool does; without one it is the name of a namespace in the netns directory, as in
/// `ip netns` and `netns exec`, whatever the working directory holds. The container ID is
/// derived from the result, so it is Go's for the same path.
///
/// # Errors
/// The argument is empty, or a name that no namespace could have.
pub fn netns_arg(arg: &str, netns_dir: &Path) -> Result<PathBuf> {
    if arg.is_empty() {
        return Err(usage!("the network namespace argument is empty"));
    }
    if arg.contains('/') {
        return absolute(Path::new(arg));
    }
    libcni::netns::validate_name(arg)
        .map_err(|e| usage!("{e} (a path needs a '/', e.g. ./{arg})"))?;
    absolute(&netns_dir.join(arg))
}

impl AttachArgs {
    /// Resolves `<netns>` / `--pid` to a path (see [`netns_arg`]) and container ID.
    pub fn target(&self, netns_dir: &Path) -> Result<Target> {
        let path = match (&self.netns, self.pid) {
            (_, Some(pid)) => PathBuf::from(format!("/proc/{pid}/ns/net")),
            (Some(s), None) => netns_arg(s, netns_dir)?,
            (None, None) => return Err(usage!("give a network namespace (path or name) or --pid")),
        };
        let container_id = match &self.container_id {
            Some(id) => id.clone(),
            None => container_id_for(&path),
        };
        Ok(Target { path, container_id })
    }

    /// The runtime configuration for the library.
    pub fn runtime_conf(&self, target: &Target) -> Result<RuntimeConf> {
        Ok(RuntimeConf {
            container_id: target.container_id.clone(),
            netns: target.path.clone(),
            ifname: self.ifname.clone(),
            args: self.plugin.cni_args()?,
            capability_args: self.plugin.capability_args()?,
        })
    }
}

/// Finds the cache entry of an attachment, trying other spellings of the namespace path when
/// the derived container ID has none (`/var/run/netns/x` and `/run/netns/x`, symbolic links
/// resolved). Returns the target to use and the entry.
///
/// A corrupt cache file counts as no entry for the given target: DEL must still tear down
/// (the library removes the file), and CHECK reports the corruption itself.
pub fn find_cached(
    ctx: &Context,
    network: &str,
    args: &AttachArgs,
    target: Target,
) -> Result<(Target, Option<CacheEntry>)> {
    let lookup = |rt: &RuntimeConf| match ctx.cni.get_cached_attachment(network, rt) {
        Err(libcni::Error::CacheCorrupt { .. }) => Ok(None),
        other => other,
    };
    let rt = args.runtime_conf(&target)?;
    if let Some(entry) = lookup(&rt)? {
        return Ok((target, Some(entry)));
    }
    if args.container_id.is_some() {
        return Ok((target, None));
    }
    for path in libcni::cache::netns_path_spellings(&target.path) {
        let alt = Target {
            container_id: container_id_for(&path),
            path,
        };
        let rt = args.runtime_conf(&alt)?;
        if let Some(entry) = lookup(&rt)? {
            return Ok((alt, Some(entry)));
        }
    }
    // Last: an attachment of this network and interface recorded with the same namespace.
    let same = |p: &str| libcni::cache::same_netns_path(Path::new(p), &target.path);
    for att in ctx.cni.get_cached_attachments(Some(network))? {
        if att.ifname == args.ifname && att.netns.as_deref().is_some_and(same) {
            let alt = Target {
                path: att.netns.clone().unwrap_or_default().into(),
                container_id: att.container_id.clone(),
            };
            let rt = args.runtime_conf(&alt)?;
            let entry = lookup(&rt)?;
            return Ok((alt, entry));
        }
    }
    Ok((target, None))
}

// What `del` and `check` take: an attachment made earlier.
#[derive(Debug, Args)]
pub struct ExistingArgs {
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Print each plugin's CNI_* environment and exact stdin, in order; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the netconf files, not the configuration recorded at ADD.
    #[arg(long)]
    pub current_config: bool,
}

/// An attachment made earlier, as DEL and CHECK see it.
#[derive(Debug)]
pub struct Existing {
    /// The target, found under any spelling of its namespace path.
    pub target: Target,
    /// The network list recorded at ADD (or the netconf files').
    pub list: NetworkConfigList,
    /// The runtime configuration.
    pub rt: RuntimeConf,
}

impl ExistingArgs {
    /// Finds the attachment and the list to work on.
    pub fn resolve(&self, ctx: &Context) -> Result<Existing> {
        let target = self.attach.target(&ctx.netns_dir)?;
        let (target, entry) = find_cached(ctx, &self.attach.network, &self.attach, target)?;
        let list = list_for_teardown(
            ctx,
            &self.attach.network,
            entry.as_ref(),
            self.current_config,
        )?;
        self.attach.plugin.require_capabilities(&[&list], &[])?;
        let rt = self.attach.runtime_conf(&target)?;
        Ok(Existing { target, list, rt })
    }
}

/// The network list to DEL or CHECK with: the one recorded at ADD (so an edited or deleted
/// netconf can still be torn down), unless `current` asks for the netconf files.
pub fn list_for_teardown(
    ctx: &Context,
    network: &str,
    entry: Option<&CacheEntry>,
    current: bool,
) -> Result<NetworkConfigList> {
    let cached = entry
        .and_then(CacheEntry::attachment)
        .filter(|a| !a.config.is_empty() && !current);
    match cached {
        Some(att) => match libcni::conf::conf_list_from_bytes(&att.config, None) {
            Ok(list) if list.name == network => Ok(list),
            _ => ctx.load_list(network),
        },
        None => ctx.load_list(network),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_match_go() {
        // From the Go recordings (crates/libcni/tests/fixtures/go/container-ids.txt).
        let cases = [
            ("/var/run/netns/cnt1", "cnitool-e05c6126311fb99b80c7"),
            ("/run/netns/fx1", "cnitool-aa3b289e5e55be8e4b09"),
            ("/var/run/netns/fxsym", "cnitool-174befa1f3005bb5ff38"),
            ("/run/netns/fxsym", "cnitool-9d03d041a51538ae4ec0"),
        ];
        for (path, id) in cases {
            assert_eq!(container_id_for(Path::new(path)), id, "{path}");
        }
    }

    #[test]
    fn absolute_cleans_like_go() {
        assert_eq!(
            absolute(Path::new("/run//netns/./x/../y/")).unwrap(),
            Path::new("/run/netns/y")
        );
        assert_eq!(absolute(Path::new("/..")).unwrap(), Path::new("/"));
    }
}
