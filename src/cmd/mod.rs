//! Shared steps of the subcommands: directories, loading a network, the target namespace,
//! the container ID and the runtime configuration. Each verb lives in its own file.

pub mod add;
pub mod attachments;
pub mod check;
pub mod container;
pub mod del;
pub mod gc;
pub mod list;
pub mod netns;
pub mod run;
pub mod show;
pub mod status;
pub mod validate;
pub mod version;

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::cache::CacheEntry;
use libcni::fsutil::Durability;
use libcni::invoke::{Cancel, RawExec};
use libcni::{CniConfig, NetworkConfigList, RuntimeConf};
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

use crate::cli::{Global, Output};
use crate::observe::{CliObserver, Progress, TraceFile};

/// Plugin directories used when `CNI_PATH` and `--plugin-dir` are unset.
pub const DEFAULT_PLUGIN_DIRS: &[&str] = &["/opt/cni/bin", "/usr/libexec/cni", "/usr/lib/cni"];
/// The system netconf directory.
pub const SYSTEM_NETCONF_DIR: &str = "/etc/cni/net.d";
/// The interface name when none is given (`-i`, `CNI_IFNAME`), as in the Go cnitool.
pub const DEFAULT_IFNAME: &str = "eth0";
/// iproute2's directory of named network namespaces.
pub const SYSTEM_NETNS_DIR: &str = "/run/netns";

/// An error in what the user typed: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A conflict with what exists (already attached, not attached, not running): exit code 5.
#[derive(Debug)]
pub struct StateConflict(pub String);

impl fmt::Display for StateConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateConflict {}

/// Returns a [`StateConflict`] from a format string.
#[macro_export]
macro_rules! conflict {
    ($($t:tt)*) => { anyhow::Error::new($crate::cmd::StateConflict(format!($($t)*))) };
}

/// Returns a [`UsageError`] from a format string.
#[macro_export]
macro_rules! usage {
    ($($t:tt)*) => { anyhow::Error::new($crate::cmd::UsageError(format!($($t)*))) };
}

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
    #[arg(short, long, env = "CNI_IFNAME", default_value = DEFAULT_IFNAME)]
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

// `CNI_ARGS` and capability arguments, shared by `add`, `del`, `check` and `run`. A
// capability flag that no plugin of the network declares is refused (it would do nothing);
// see `PluginArgs::require_capabilities`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Plugin argument K=V, added to CNI_ARGS (repeatable).
    #[arg(long = "arg", value_name = "K=V")]
    pub args: Vec<String>,
    /// Plugin arguments K=V;K=V.
    #[arg(long = "cni-args", env = "CNI_ARGS", hide = true)]
    pub cni_args: Option<String>,
    /// Capability arguments as one JSON object.
    #[arg(long = "cap-args", env = "CAP_ARGS", hide = true)]
    pub cap_args: Option<String>,
    /// Capability argument NAME=JSON or NAME=@FILE (repeatable).
    #[arg(long = "cap", value_name = "NAME=JSON")]
    pub caps: Vec<String>,
    /// Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability).
    #[arg(short, long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable).
    #[arg(long, value_name = "CIDR")]
    pub ip: Vec<String>,
    /// Request a MAC address (mac capability).
    #[arg(long, value_name = "MAC")]
    pub mac: Option<String>,
    /// DNS server for the container (dns capability; repeatable; `run` writes it into the
    /// command's resolv.conf when no plugin takes it).
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain for the container (dns capability; repeatable; as --dns in `run`).
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
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

impl PluginArgs {
    /// The `CNI_ARGS` pairs: the `CNI_ARGS` variable, then each `--arg`.
    pub fn cni_args(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = match &self.cni_args {
            Some(s) => libcni::invoke::parse_cni_args(s).map_err(|e| usage!("{e}"))?,
            None => Vec::new(),
        };
        for a in &self.args {
            pairs.push(libcni::invoke::parse_pair(a).map_err(|e| usage!("--arg: {e}"))?);
        }
        Ok(pairs)
    }

    /// The capability arguments: `CAP_ARGS`, then `--cap`, `--publish`, `--ip`, `--mac`,
    /// `--dns` and `--dns-search`.
    pub fn capability_args(&self) -> Result<Map<String, Value>> {
        let mut caps = match &self.cap_args {
            Some(s) if !s.trim().is_empty() => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(usage!("invalid CAP_ARGS: must be a JSON object")),
                Err(e) => return Err(usage!("invalid CAP_ARGS: {e}")),
            },
            _ => Map::new(),
        };
        for c in &self.caps {
            let (name, value) = c
                .split_once('=')
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| usage!("--cap {c:?}: expected NAME=JSON or NAME=@FILE"))?;
            let text = match value.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .map_err(|e| usage!("--cap {name}: reading {file}: {e}"))?,
                None => value.to_owned(),
            };
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| usage!("--cap {name}: invalid JSON: {e}"))?;
            caps.insert(name.to_owned(), v);
        }
        if !self.publish.is_empty() {
            let mut list = match caps.remove("portMappings") {
                Some(Value::Array(a)) => a,
                Some(_) => return Err(usage!("invalid CAP_ARGS: portMappings must be an array")),
                None => Vec::new(),
            };
            for p in &self.publish {
                list.push(parse_publish(p)?);
            }
            caps.insert("portMappings".into(), Value::Array(list));
        }
        if !self.ip.is_empty() {
            for ip in &self.ip {
                validate_cidr_or_ip(ip).map_err(|e| usage!("--ip {ip:?}: {e}"))?;
            }
            caps.insert("ips".into(), self.ip.clone().into());
        }
        if let Some(mac) = &self.mac {
            if !is_mac(mac) {
                return Err(usage!(
                    "--mac {mac:?}: expected six hex bytes like 02:42:ac:11:00:02"
                ));
            }
            caps.insert("mac".into(), mac.clone().into());
        }
        if !self.dns.is_empty() || !self.dns_search.is_empty() {
            for d in &self.dns {
                d.parse::<std::net::IpAddr>()
                    .map_err(|_| usage!("--dns {d:?}: not an IP address"))?;
            }
            let mut dns = Map::new();
            if !self.dns.is_empty() {
                dns.insert("servers".into(), self.dns.clone().into());
            }
            if !self.dns_search.is_empty() {
                dns.insert("searches".into(), self.dns_search.clone().into());
            }
            caps.insert("dns".into(), Value::Object(dns));
        }
        if let Some(pm) = caps.get("portMappings") {
            check_port_mappings(pm)?;
        }
        Ok(caps)
    }
}

/// The capability flags and the capability each one feeds (`runtimeConfig` key).
const CAPABILITY_FLAGS: &[(&str, &str, &str)] = &[
    ("-p/--publish", "portMappings", "such as portmap"),
    (
        "--ip",
        "ips",
        "such as bridge or macvlan with host-local or static IPAM",
    ),
    ("--mac", "mac", "such as tuning"),
    ("--dns", "dns", "that applies DNS settings"),
    ("--dns-search", "dns", "that applies DNS settings"),
];

impl PluginArgs {
    /// The capability flags given: `(flag, capability, example plugins)`.
    fn given_capability_flags(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let given = [
            !self.publish.is_empty(),
            !self.ip.is_empty(),
            self.mac.is_some(),
            !self.dns.is_empty(),
            !self.dns_search.is_empty(),
        ];
        CAPABILITY_FLAGS
            .iter()
            .zip(given)
            .filter(|(_, g)| *g)
            .map(|(f, _)| *f)
            .collect()
    }

    /// Refuses a capability flag (`-p`, `--ip`, `--mac`, `--dns`, `--dns-search`) that no
    /// plugin of `lists` declares: the library passes a capability argument only to the
    /// plugins that declare it, so the flag would do nothing. Capabilities in `except` are
    /// not checked (`run` applies DNS itself when no plugin takes it). `--cap` and
    /// `CAP_ARGS` are passed on unchecked, as Go's tool does.
    ///
    /// # Errors
    /// A [`UsageError`] naming the flag, the network(s) and the capability.
    pub fn require_capabilities(
        &self,
        lists: &[&NetworkConfigList],
        except: &[&str],
    ) -> Result<()> {
        for (flag, cap, example) in self.given_capability_flags() {
            if except.contains(&cap) || lists.iter().any(|l| declares(l, cap)) {
                continue;
            }
            let names: Vec<String> = lists.iter().map(|l| format!("{:?}", l.name)).collect();
            let which = match names.as_slice() {
                [one] => format!("network {one}"),
                many => format!("networks {}", many.join(", ")),
            };
            return Err(usage!(
                "{flag}: no plugin of {which} declares the {cap:?} capability, so the flag \
                 would do nothing (add a plugin {example} with \"capabilities\": {{\"{cap}\": true}}, \
                 or drop the flag)"
            ));
        }
        Ok(())
    }

    /// `--dns` and `--dns-search` when no plugin of `lists` declares the `dns` capability:
    /// `run` writes them into the command's resolv.conf itself.
    pub fn dns_for_runtime(
        &self,
        lists: &[&NetworkConfigList],
    ) -> crate::supervise::resolv::DnsFlags {
        if lists.iter().any(|l| declares(l, "dns")) {
            return crate::supervise::resolv::DnsFlags::default();
        }
        crate::supervise::resolv::DnsFlags {
            servers: self.dns.clone(),
            searches: self.dns_search.clone(),
        }
    }
}

/// Whether a plugin of `list` declares capability `cap`.
fn declares(list: &NetworkConfigList, cap: &str) -> bool {
    list.plugins
        .iter()
        .any(|p| p.capabilities.get(cap) == Some(&true))
}

fn validate_cidr_or_ip(s: &str) -> Result<(), String> {
    let (ip, prefix) = s.split_once('/').unwrap_or((s, ""));
    let ip: std::net::IpAddr = ip.parse().map_err(|_| "not an IP address".to_owned())?;
    if !prefix.is_empty() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(p) if p <= max => {}
            _ => return Err(format!("prefix length must be 0 to {max}")),
        }
    }
    Ok(())
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_port(s: &str, what: &str, spec: &str) -> Result<u16> {
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(usage!(
            "--publish {spec:?}: {what} {s:?} must be a number from 1 to 65535"
        )),
    }
}

/// Parses `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]` (IPv6 host addresses in brackets)
/// into a portmap `portMappings` entry.
pub fn parse_publish(spec: &str) -> Result<Value> {
    let (ports, proto) = match spec.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(usage!(
            "--publish {spec:?}: protocol must be tcp, udp or sctp"
        ));
    }
    let (host_ip, rest) = if let Some(stripped) = ports.strip_prefix('[') {
        let (ip, rest) = stripped
            .split_once("]:")
            .ok_or_else(|| usage!("--publish {spec:?}: unterminated [IPv6 address]"))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = ports.split(':').collect();
        match parts.as_slice() {
            [_, _] => (None, ports),
            [ip, _, _] => (Some(*ip), &ports[ip.len() + 1..]),
            _ => {
                return Err(usage!(
                    "--publish {spec:?}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]"
                ))
            }
        }
    };
    let (host, ctr) = rest.split_once(':').ok_or_else(|| {
        usage!("--publish {spec:?}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]")
    })?;
    let mut m = Map::new();
    m.insert(
        "hostPort".into(),
        parse_port(host, "host port", spec)?.into(),
    );
    m.insert(
        "containerPort".into(),
        parse_port(ctr, "container port", spec)?.into(),
    );
    m.insert("protocol".into(), proto.into());
    if let Some(ip) = host_ip.filter(|ip| !ip.is_empty()) {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| usage!("--publish {spec:?}: {ip:?} is not an IP address"))?;
        m.insert("hostIP".into(), ip.into());
    }
    Ok(Value::Object(m))
}

/// Checks the ports of a `portMappings` capability argument.
fn check_port_mappings(pm: &Value) -> Result<()> {
    let Value::Array(list) = pm else {
        return Err(usage!("invalid CAP_ARGS: portMappings must be an array"));
    };
    for (i, entry) in list.iter().enumerate() {
        for key in ["hostPort", "containerPort"] {
            match entry.get(key).and_then(Value::as_u64) {
                Some(p) if (1..=65535).contains(&p) => {}
                _ => {
                    return Err(usage!(
                        "invalid CAP_ARGS: portMappings[{i}].{key} = {} must be a number from 1 to 65535",
                        entry.get(key).unwrap_or(&Value::Null)
                    ))
                }
            }
        }
    }
    Ok(())
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

/// The `cnitool del` command line that deletes the attachment of `network` to `target` as
/// `rt` describes it (for messages telling how to finish): the cache directory when it is not
/// the default, `-i` and `--container-id` when they are not what `del` would take by itself,
/// each word quoted for a POSIX shell where it needs it.
pub fn del_command(ctx: &Context, network: &str, target: &Target, rt: &RuntimeConf) -> String {
    let cache_dir = ctx.cni.cache().dir();
    let cache_dir = (cache_dir != Path::new(libcni::api::DEFAULT_CACHE_DIR)).then_some(cache_dir);
    del_words(cache_dir, network, target, rt)
}

fn del_words(cache_dir: Option<&Path>, network: &str, target: &Target, rt: &RuntimeConf) -> String {
    let mut words = vec!["cnitool".to_owned()];
    if let Some(dir) = cache_dir {
        words.push("--cache-dir".into());
        words.push(shell_word(&dir.to_string_lossy()));
    }
    words.push("del".into());
    words.push(shell_word(network));
    words.push(shell_word(&target.path.to_string_lossy()));
    if rt.ifname != DEFAULT_IFNAME {
        words.push("-i".into());
        words.push(shell_word(&rt.ifname));
    }
    if rt.container_id != container_id_for(&target.path) {
        words.push("--container-id".into());
        words.push(shell_word(&rt.container_id));
    }
    words.join(" ")
}

/// The `cnitool gc` command line for this cache (for messages telling how to finish).
pub fn gc_command(ctx: &Context) -> String {
    let cache_dir = ctx.cni.cache().dir();
    if cache_dir == Path::new(libcni::api::DEFAULT_CACHE_DIR) {
        "cnitool gc".into()
    } else {
        format!(
            "cnitool --cache-dir {} gc",
            shell_word(&cache_dir.to_string_lossy())
        )
    }
}

/// `s` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Prints the plugin calls `command` would make (`--dry-run`).
pub fn print_dry_run(
    ctx: &Context,
    command: libcni::Command,
    list: &NetworkConfigList,
    rt: &RuntimeConf,
) -> Result<ExitCode> {
    let plan = ctx.cni.plan_network_list(command, list, rt)?;
    crate::output::print_plan(&plan, ctx.output.unwrap_or(Output::Table))?;
    Ok(ExitCode::SUCCESS)
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

/// The networks to attach (`--net NAME[:IFNAME]`) with their interface names.
pub fn resolve_networks(
    nets: &[String],
    ctx: &Context,
) -> Result<Vec<(NetworkConfigList, String)>> {
    if nets.is_empty() {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        let names = listing.names();
        if names.is_empty() {
            return Ok(vec![(ctx.builtin_list()?, DEFAULT_IFNAME.into())]);
        }
        return Err(crate::usage!(
            "no --net given and netconfs exist, so the built-in network is not used; \
             networks available: {} (pick with --net NAME, or --net {} for the built-in one)",
            names.join(", "),
            crate::builtin::NAME
        ));
    }
    let mut out = Vec::new();
    for (i, spec) in nets.iter().enumerate() {
        let (name, ifname) = match spec.split_once(':') {
            Some((n, i)) => (n, i.to_owned()),
            None => (spec.as_str(), format!("eth{i}")),
        };
        libcni::validate::ifname(&ifname)?;
        if out
            .iter()
            .any(|(_, f): &(NetworkConfigList, String)| *f == ifname)
        {
            return Err(crate::usage!(
                "--net {spec}: interface {ifname} is used twice"
            ));
        }
        out.push((ctx.load_list(name)?, ifname));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn del_command_repeats_what_is_needed_quoted() {
        let target = |p: &str| Target {
            path: PathBuf::from(p),
            container_id: container_id_for(Path::new(p)),
        };
        let rt = |t: &Target, ifname: &str, id: &str| RuntimeConf {
            container_id: id.to_owned(),
            netns: t.path.clone(),
            ifname: ifname.to_owned(),
            ..RuntimeConf::default()
        };
        let t = target("/run/netns/web");
        assert_eq!(
            del_words(None, "mynet", &t, &rt(&t, "eth0", &t.container_id)),
            "cnitool del mynet /run/netns/web"
        );
        let t = target("/tmp/my ns/it's");
        assert_eq!(
            del_words(
                Some(Path::new("/tmp/c d")),
                "mynet",
                &t,
                &rt(&t, "net1", "ctr1")
            ),
            r"cnitool --cache-dir '/tmp/c d' del mynet '/tmp/my ns/it'\''s' -i net1 --container-id ctr1"
        );
    }

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

    #[test]
    fn publish_specs() {
        let ok = [
            (
                "8080:80",
                r#"{"containerPort":80,"hostPort":8080,"protocol":"tcp"}"#,
            ),
            (
                "127.0.0.1:8080:80/udp",
                r#"{"containerPort":80,"hostIP":"127.0.0.1","hostPort":8080,"protocol":"udp"}"#,
            ),
            (
                "[::1]:8443:443/TCP",
                r#"{"containerPort":443,"hostIP":"::1","hostPort":8443,"protocol":"tcp"}"#,
            ),
        ];
        for (spec, want) in ok {
            assert_eq!(parse_publish(spec).unwrap().to_string(), want, "{spec}");
        }
        for bad in [
            "80",
            "0:80",
            "70000:80",
            "a:80",
            "1:2:3:4",
            "8080:80/icmp",
            "x.y:1:2",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn macs_and_cidrs() {
        assert!(is_mac("02:42:ac:11:00:02"));
        assert!(!is_mac("02:42:ac:11:00"));
        assert!(validate_cidr_or_ip("10.0.0.5/24").is_ok());
        assert!(validate_cidr_or_ip("fd00::5").is_ok());
        assert!(validate_cidr_or_ip("10.0.0.5/33").is_err());
    }
}
