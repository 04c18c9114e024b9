//! `cnitool doctor`: read-only checks of the host the networks will run on.
//!
//! Each check is OK, WARN (may break a network) or FAIL (makes a configured network
//! unusable), with a one-line fix. Nothing on the host is changed: the checks read `/proc`,
//! `/sys` and the files of the cache, and run only commands that list (`iptables -V`,
//! `iptables-legacy-save` of tables that already exist, `nft list tables`, `--version`), never
//! one that would load a table or module (`iptables -L` creates the table it lists).
//!
//! Length: about 950 lines of code, mostly one small function per host check.

use std::fs;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use libcni::NetworkConfigList;
use nix::unistd::{access, AccessFlags};
use serde_json::{json, Value};

use super::Context;
use crate::exit::Exit;
use crate::output::Output;
use crate::table;

/// The dhcp plugin's daemon socket when the netconf names none (`daemonSocketPath`).
const DHCP_SOCKET: &str = "/run/cni/dhcp.sock";

/// What `doctor` checks and its exit codes, shown in `doctor --help`.
pub const DOCTOR_HELP: &str = "\
Checks, each OK, WARN (may break a network) or FAIL (makes a configured network unusable),
with a one-line fix: plugin directories and the plugins the netconfs name; net.ipv4.ip_forward
(and IPv6 forwarding for dual-stack networks) when a bridge network routes through the host;
bridge-nf-call-iptables when a bridge network uses firewall or portmap; the iptables backend
against rules in the other one, nft; the netns directory's mount propagation; the cache
directory and its files; stale attachments and runs that `cnitool gc` would remove; the dhcp
daemon's socket. For a plain user (or with --rootless): user namespaces, /dev/net/tun,
pasta/slirp4netns and XDG_RUNTIME_DIR. Nothing on the host is changed.

Exit status: 0 no check failed, 3 a check failed (with --strict: or warned).";

// Arguments of `doctor`.
#[derive(Debug, Args)]
#[command(after_help = DOCTOR_HELP)]
pub struct DoctorArgs {
    /// Exit 3 on a warning too, not only on a failure.
    #[arg(long)]
    pub strict: bool,
    /// Also run the checks of rootless mode (user namespaces, /dev/net/tun, slirp4netns or
    /// pasta, XDG_RUNTIME_DIR); they run anyway when not root.
    #[arg(long)]
    pub rootless: bool,
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Fine.
    Ok,
    /// May break a network.
    Warn,
    /// Makes a configured network unusable.
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier (`ip_forward`, `cache-files`, ...).
    pub id: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to do, when not OK.
    pub fix: Option<String>,
}

fn ok(id: &'static str, message: impl Into<String>) -> Check {
    Check {
        id,
        status: Status::Ok,
        message: message.into(),
        fix: None,
    }
}

fn bad(
    id: &'static str,
    status: Status,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        id,
        status,
        message: message.into(),
        fix: Some(fix.into()),
    }
}

/// What the configured networks need from the host.
#[derive(Debug, Default)]
struct Needs {
    /// The usable, unshadowed networks.
    lists: Vec<NetworkConfigList>,
    /// Netconf files that could not be loaded (file: error).
    broken: Vec<String>,
    /// Networks that forward through the host: a bridge with a gateway, masquerade or portmap.
    forwarding: Vec<String>,
    /// Those of them with an IPv6 range.
    forwarding_v6: Vec<String>,
    /// Bridge networks with the firewall or portmap plugin.
    bridge_filtering: Vec<String>,
    /// Networks whose plugins write iptables rules.
    iptables: Vec<String>,
    /// Networks that ask for the nftables backend.
    nftables: Vec<String>,
    /// (network, dhcp daemon socket) for networks with dhcp IPAM.
    dhcp: Vec<(String, PathBuf)>,
}

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

/// Whether a JSON value holds an IPv6 subnet or address anywhere (`ranges`, `subnet`,
/// `addresses` of host-local or static).
fn has_ipv6(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (matches!(k.as_str(), "subnet" | "address" | "rangeStart")
                && v.as_str().is_some_and(|s| s.contains(':')))
                || has_ipv6(v)
        }),
        Value::Array(a) => a.iter().any(has_ipv6),
        _ => false,
    }
}

impl Needs {
    fn of(ctx: &Context) -> Needs {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        let mut needs = Needs::default();
        for e in &listing.errors {
            needs.broken.push(e.to_string());
        }
        for n in listing.networks {
            if n.is_shadowed() {
                continue;
            }
            match n.result {
                Ok(list) => needs.add(list),
                Err(e) => needs.broken.push(e.to_string()),
            }
        }
        needs
    }

    fn add(&mut self, list: NetworkConfigList) {
        let name = list.name.clone();
        let has = |t: &str| list.plugins.iter().any(|p| p.plugin_type == t);
        let bridge = list.plugins.iter().find(|p| p.plugin_type == "bridge");
        let push = |v: &mut Vec<String>| {
            if !v.contains(&name) {
                v.push(name.clone());
            }
        };
        if let Some(b) = bridge {
            let gw = is_true(b.raw.get("isGateway")) || is_true(b.raw.get("isDefaultGateway"));
            if gw || is_true(b.raw.get("ipMasq")) || has("portmap") {
                push(&mut self.forwarding);
                if b.raw.get("ipam").is_some_and(has_ipv6) {
                    push(&mut self.forwarding_v6);
                }
            }
            if has("firewall") || has("portmap") {
                push(&mut self.bridge_filtering);
            }
        }
        for p in &list.plugins {
            let backend = p.raw.get("backend").and_then(Value::as_str);
            if backend == Some("nftables") {
                push(&mut self.nftables);
            } else if matches!(p.plugin_type.as_str(), "portmap" | "firewall")
                && backend != Some("firewalld")
                || is_true(p.raw.get("ipMasq"))
            {
                push(&mut self.iptables);
            }
            if p.ipam_type.as_deref() == Some("dhcp") {
                let socket = p
                    .raw
                    .get("ipam")
                    .and_then(|i| i.get("daemonSocketPath"))
                    .and_then(Value::as_str)
                    .unwrap_or(DHCP_SOCKET);
                self.dhcp.push((name.clone(), PathBuf::from(socket)));
            }
        }
        self.lists.push(list);
    }
}

/// A program in `$PATH` or the sbin directories (root's tools are often not in a user's PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| access(p, AccessFlags::X_OK).is_ok() && p.is_file());
    found
}

fn read_sysctl(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

fn names(v: &[String]) -> String {
    v.iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_plugins(ctx: &Context, needs: &Needs) -> Vec<Check> {
    let dirs = ctx.cni.plugin_dirs();
    let present: Vec<&PathBuf> = dirs.iter().filter(|d| d.is_dir()).collect();
    let missing: Vec<String> = dirs
        .iter()
        .filter(|d| !d.is_dir())
        .map(|d| d.display().to_string())
        .collect();
    let mut out = Vec::new();
    out.push(if present.is_empty() {
        bad(
            "plugin-dirs",
            Status::Fail,
            format!("no plugin directory exists ({})", missing.join(", ")),
            "install the CNI plugins (e.g. containernetworking-plugins) or point CNI_PATH / \
             --plugin-dir at them",
        )
    } else {
        let mut msg = present
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        // Missing entries are normal in the default search list; only say so.
        if !missing.is_empty() {
            msg.push_str(&format!(" (not present: {})", missing.join(", ")));
        }
        ok("plugin-dirs", msg)
    });
    let mut absent = Vec::new();
    let mut wanted = 0;
    for list in &needs.lists {
        let types = list
            .plugins
            .iter()
            .flat_map(|p| std::iter::once(&p.plugin_type).chain(p.ipam_type.as_ref()));
        for t in types {
            wanted += 1;
            if let Err(e) = libcni::invoke::find_in_path(t, dirs) {
                let why = match e {
                    libcni::Error::PluginNotExecutable { path, .. } => {
                        format!("{} is not executable", path.display())
                    }
                    _ => "not found".into(),
                };
                let item = format!("{t} (network {:?}: {why})", list.name);
                if !absent.contains(&item) {
                    absent.push(item);
                }
            }
        }
    }
    out.push(if !absent.is_empty() {
        bad(
            "plugins",
            Status::Fail,
            format!("missing plugins: {}", absent.join("; ")),
            format!(
                "install them into one of {} (or set CNI_PATH)",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else if needs.lists.is_empty() {
        ok("plugins", "no netconf names a plugin")
    } else {
        ok(
            "plugins",
            format!(
                "all {wanted} plugin(s) of {} network(s) found",
                needs.lists.len()
            ),
        )
    });
    out.push(if needs.broken.is_empty() {
        ok(
            "netconfs",
            format!("{} network(s) loaded", needs.lists.len()),
        )
    } else {
        bad(
            "netconfs",
            Status::Warn,
            format!("unusable netconf files: {}", needs.broken.join("; ")),
            "run `cnitool validate` and fix or remove the files",
        )
    });
    out
}

fn check_forwarding(needs: &Needs) -> Vec<Check> {
    let mut out = Vec::new();
    let v4 = read_sysctl("/proc/sys/net/ipv4/ip_forward");
    out.push(match (v4.as_deref(), needs.forwarding.is_empty()) {
        (Some("1"), _) => ok("ip_forward", "net.ipv4.ip_forward = 1"),
        (_, true) => ok(
            "ip_forward",
            format!(
                "net.ipv4.ip_forward = {} (no bridge network routes through the host)",
                v4.as_deref().unwrap_or("?")
            ),
        ),
        (_, false) => bad(
            "ip_forward",
            Status::Fail,
            format!(
                "net.ipv4.ip_forward = {}: traffic of {} does not leave the host",
                v4.as_deref().unwrap_or("unreadable"),
                names(&needs.forwarding)
            ),
            "sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)",
        ),
    });
    let v6 = read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding");
    out.push(match (v6.as_deref(), needs.forwarding_v6.is_empty()) {
        (Some("1"), _) => ok("ipv6-forwarding", "net.ipv6.conf.all.forwarding = 1"),
        (_, true) => ok(
            "ipv6-forwarding",
            format!(
                "net.ipv6.conf.all.forwarding = {} (no dual-stack network routes through the host)",
                v6.as_deref().unwrap_or("?")
            ),
        ),
        (_, false) => bad(
            "ipv6-forwarding",
            Status::Fail,
            format!(
                "net.ipv6.conf.all.forwarding = {}: IPv6 traffic of {} does not leave the host",
                v6.as_deref().unwrap_or("unreadable"),
                names(&needs.forwarding_v6)
            ),
            "sysctl -w net.ipv6.conf.all.forwarding=1 (and persist it in /etc/sysctl.d/)",
        ),
    });
    out
}

fn check_bridge_netfilter(needs: &Needs) -> Check {
    const ID: &str = "bridge-nf-call-iptables";
    let value = read_sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables");
    if needs.bridge_filtering.is_empty() {
        return ok(
            ID,
            format!(
                "{} (no bridge network uses firewall or portmap)",
                value.map_or("br_netfilter not loaded".into(), |v| format!(
                    "net.bridge.bridge-nf-call-iptables = {v}"
                ))
            ),
        );
    }
    match value.as_deref() {
        Some("1") => ok(ID, "net.bridge.bridge-nf-call-iptables = 1"),
        None => bad(
            ID,
            Status::Warn,
            format!(
                "br_netfilter is not loaded: traffic between containers on the bridge of {} \
                 bypasses the firewall and portmap rules (hairpin to a published port fails)",
                names(&needs.bridge_filtering)
            ),
            "modprobe br_netfilter (and list it in /etc/modules-load.d/)",
        ),
        Some(v) => bad(
            ID,
            Status::Warn,
            format!(
                "net.bridge.bridge-nf-call-iptables = {v}: traffic between containers on the \
                 bridge of {} bypasses the firewall and portmap rules",
                names(&needs.bridge_filtering)
            ),
            "sysctl -w net.bridge.bridge-nf-call-iptables=1 (and persist it in /etc/sysctl.d/)",
        ),
    }
}

/// The `-A` lines of an `iptables-save` dump.
fn count_rules(dump: &str) -> usize {
    dump.lines().filter(|l| l.starts_with("-A ")).count()
}

/// The tables of the other iptables backend that hold rules.
fn check_iptables(needs: &Needs, root: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let nft = find_program("nft");
    let Some(iptables) = find_program("iptables") else {
        out.push(if needs.iptables.is_empty() {
            ok("iptables-backend", "iptables not installed (not needed)")
        } else {
            bad(
                "iptables-backend",
                Status::Fail,
                format!("iptables not found, needed by {}", names(&needs.iptables)),
                "install iptables",
            )
        });
        out.push(check_nft(needs, nft.as_deref()));
        return out;
    };
    let version = super::command_stdout(&iptables, &["-V"]).unwrap_or_default();
    let active = if version.contains("nf_tables") {
        "nf_tables"
    } else if version.contains("legacy") {
        "legacy"
    } else {
        "unknown"
    };
    let version = version.trim().to_owned();
    // Rules of the legacy backend: only tables that already exist are dumped (the kernel
    // lists them in /proc/net/ip_tables_names), so nothing gets loaded.
    let legacy_tables = read_sysctl("/proc/net/ip_tables_names").unwrap_or_default();
    let legacy_rules = if legacy_tables.is_empty() || active == "legacy" {
        0
    } else {
        find_program("iptables-legacy-save")
            .and_then(|p| super::command_stdout(&p, &[]))
            .map_or(0, |d| count_rules(&d))
    };
    // Tables of iptables-nft (ip/ip6 filter, nat, mangle, raw, security) while legacy is
    // active: listed by name only, nothing is created.
    let nft_tables: Vec<String> = if active == "legacy" && root {
        nft.as_deref()
            .and_then(|p| super::command_stdout(p, &["list", "tables"]))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let (_, fam, name) = (w.next()?, w.next()?, w.next()?);
                (matches!(fam, "ip" | "ip6")
                    && matches!(name, "filter" | "nat" | "mangle" | "raw" | "security"))
                .then(|| format!("{fam} {name}"))
            })
            .collect()
    } else {
        Vec::new()
    };
    out.push(if legacy_rules > 0 {
        bad(
            "iptables-backend",
            Status::Warn,
            format!(
                "{version}: iptables is nf_tables but {legacy_rules} rule(s) are in the legacy \
                 tables ({}); plugins write to nf_tables and both sets apply",
                legacy_tables.replace('\n', ", ")
            ),
            "use one backend: update-alternatives --set iptables /usr/sbin/iptables-legacy, \
             or move the legacy rules to nf_tables (iptables-legacy-save | iptables-nft-restore)",
        )
    } else if !nft_tables.is_empty() {
        bad(
            "iptables-backend",
            Status::Warn,
            format!(
                "{version}: iptables is legacy but iptables-nft tables exist ({}); plugins write \
                 to legacy and both sets apply",
                nft_tables.join(", ")
            ),
            "use one backend: update-alternatives --set iptables /usr/sbin/iptables-nft",
        )
    } else if active == "unknown" {
        bad(
            "iptables-backend",
            Status::Warn,
            format!("`iptables -V` says {version:?}: backend unknown"),
            "check the iptables installation",
        )
    } else {
        ok(
            "iptables-backend",
            format!("{version}; no rules in the other backend"),
        )
    });
    out.push(check_nft(needs, nft.as_deref()));
    out
}

fn check_nft(needs: &Needs, nft: Option<&Path>) -> Check {
    match nft.and_then(|p| super::command_stdout(p, &["--version"])) {
        Some(v) => ok("nft", v.trim().to_owned()),
        None if needs.nftables.is_empty() => ok("nft", "nft not installed (not needed)"),
        None => bad(
            "nft",
            Status::Fail,
            format!(
                "nft not found, needed by {} (backend nftables)",
                names(&needs.nftables)
            ),
            "install nftables",
        ),
    }
}

/// The optional fields (`shared:N`, `master:N`) of the mount at `dir`, or of the mount that
/// holds it; with whether `dir` is a mount point itself.
fn mount_propagation(dir: &Path) -> Option<(bool, String)> {
    let table = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, bool, String)> = None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(sep)) = (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let point = Path::new(point);
        if !dir.starts_with(point) {
            continue;
        }
        let len = point.as_os_str().len();
        // Later lines are mounted over earlier ones on the same point.
        if best.as_ref().is_none_or(|(l, _, _)| len >= *l) {
            best = Some((len, point == dir, fields[6..sep].join(" ")));
        }
    }
    best.map(|(_, at, opts)| (at, opts))
}

fn check_netns_dir(ctx: &Context) -> Check {
    const ID: &str = "netns-propagation";
    let dir = &ctx.netns_dir;
    let Some((is_mount, opts)) = mount_propagation(dir) else {
        return ok(ID, format!("{} (mount table unreadable)", dir.display()));
    };
    let shared = opts.split(' ').any(|o| o.starts_with("shared:"));
    match (is_mount, shared) {
        (true, true) => ok(ID, format!("{} is a shared mount", dir.display())),
        (true, false) => bad(
            ID,
            Status::Warn,
            format!(
                "{} is a mount but not shared: namespaces named there later stay invisible to \
                 other mount namespaces (container runtimes, ip netns in a service)",
                dir.display()
            ),
            format!("mount --make-shared {}", dir.display()),
        ),
        (false, _) => ok(
            ID,
            format!(
                "{} is not a mount yet: the first `cnitool netns create` or `ip netns add` \
                 makes it a shared one",
                dir.display()
            ),
        ),
    }
}

fn check_cache_dir(ctx: &Context) -> Check {
    const ID: &str = "cache-dir";
    let dir = ctx.cni.cache().dir();
    let mut probe = dir;
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    let writable = |p: &Path| access(p, AccessFlags::W_OK | AccessFlags::X_OK);
    let result = if probe != dir {
        writable(probe)
            .map_err(|e| (probe.to_path_buf(), e))
            .map(|()| {
                format!(
                    "{} does not exist yet; {} is writable, so it can be created",
                    dir.display(),
                    probe.display()
                )
            })
    } else if !dir.is_dir() {
        return bad(
            ID,
            Status::Fail,
            format!("{} is not a directory", dir.display()),
            format!(
                "remove it or point --cache-dir elsewhere ({})",
                dir.display()
            ),
        );
    } else {
        let sub = ["results", "cnitool-runs", "cnitool-containers"]
            .into_iter()
            .map(|s| dir.join(s))
            .filter(|p| p.exists());
        let mut result = Ok(format!("{} is writable", dir.display()));
        for p in std::iter::once(dir.to_path_buf()).chain(sub) {
            if let Err(e) = writable(&p) {
                result = Err((p, e));
                break;
            }
        }
        result
    };
    match result {
        Ok(msg) => ok(ID, msg),
        Err((path, e)) => bad(
            ID,
            Status::Fail,
            format!("{} is not writable: {}", path.display(), e.desc()),
            "make it writable (remount read-write, fix ownership) or point --cache-dir / \
             CNITOOL_CACHE_DIR elsewhere",
        ),
    }
}

fn check_cache_files(ctx: &Context) -> Check {
    const ID: &str = "cache-files";
    let listing = match ctx.cni.cache().list(None) {
        Ok(l) => l,
        Err(e) => {
            return bad(
                ID,
                Status::Warn,
                e.to_string(),
                "make the cache directory readable",
            )
        }
    };
    if listing.unreadable.is_empty() {
        return ok(
            ID,
            format!(
                "{} cached attachment(s), all readable",
                listing.attachments.len()
            ),
        );
    }
    let files: Vec<String> = listing
        .unreadable
        .iter()
        .map(|(path, why)| {
            if fs::metadata(path).is_ok_and(|m| m.len() == 0) {
                format!("{}: empty", path.display())
            } else {
                format!("{}: {why}", path.display())
            }
        })
        .collect();
    let paths: Vec<String> = listing
        .unreadable
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    bad(
        ID,
        Status::Warn,
        format!(
            "{} unusable cache file(s) (DEL and CHECK of those attachments cannot use them): {}",
            files.len(),
            files.join("; ")
        ),
        format!(
            "after tearing the attachments down by hand, remove them: rm {}",
            paths.join(" ")
        ),
    )
}

fn check_stale(ctx: &Context) -> Check {
    const ID: &str = "stale-attachments";
    let mut stale = Vec::new();
    if let Ok(listing) = ctx.cni.cache().list(None) {
        for (_, att) in &listing.attachments {
            if super::gc::is_stale(att) {
                stale.push(format!(
                    "{}/{}/{} (namespace {} is gone)",
                    att.network_name,
                    att.container_id,
                    att.ifname,
                    att.netns.as_deref().unwrap_or("")
                ));
            }
        }
    }
    if let Ok(records) = crate::supervise::record::RunRecord::list(ctx.cni.cache().dir()) {
        for (path, rec) in records {
            if let Ok(rec) = rec {
                if !rec.owner.is_alive() {
                    stale.push(format!(
                        "run record {} (pid {} is gone)",
                        path.display(),
                        rec.owner.pid
                    ));
                }
            }
        }
    }
    if stale.is_empty() {
        return ok(ID, "none");
    }
    bad(
        ID,
        Status::Warn,
        format!(
            "{} stale, holding addresses and rules: {}",
            stale.len(),
            stale.join("; ")
        ),
        super::gc_command(ctx),
    )
}

fn check_dhcp(ctx: &Context, needs: &Needs) -> Check {
    const ID: &str = "dhcp-daemon";
    if needs.dhcp.is_empty() {
        return ok(ID, "no network uses dhcp");
    }
    let mut missing = Vec::new();
    for (net, socket) in &needs.dhcp {
        let is_socket = fs::metadata(socket).is_ok_and(|m| m.file_type().is_socket());
        if !is_socket {
            missing.push(format!("{} (network {net:?})", socket.display()));
        }
    }
    if missing.is_empty() {
        return ok(ID, "the dhcp daemon's socket is there");
    }
    bad(
        ID,
        Status::Fail,
        format!("no dhcp daemon socket: {}", missing.join(", ")),
        format!(
            "start the daemon: {} daemon (or its systemd socket, cni-dhcp.socket)",
            libcni::invoke::find_in_path("dhcp", ctx.cni.plugin_dirs())
                .map_or("dhcp".into(), |p| p.display().to_string())
        ),
    )
}

fn check_userns() -> Check {
    const ID: &str = "user-namespaces";
    let max = read_sysctl("/proc/sys/user/max_user_namespaces");
    let debian = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
    let apparmor = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    if max.as_deref() == Some("0") {
        return bad(
            ID,
            Status::Fail,
            "user.max_user_namespaces = 0: no user namespace can be made",
            "sysctl -w user.max_user_namespaces=15000",
        );
    }
    if debian.as_deref() == Some("0") {
        return bad(
            ID,
            Status::Fail,
            "kernel.unprivileged_userns_clone = 0: users cannot make user namespaces",
            "sysctl -w kernel.unprivileged_userns_clone=1",
        );
    }
    if apparmor.as_deref() == Some("1") {
        return bad(
            ID,
            Status::Warn,
            "kernel.apparmor_restrict_unprivileged_userns = 1: AppArmor may refuse user \
             namespaces to unconfined programs",
            "give cnitool an AppArmor profile with `userns,` or sysctl -w \
             kernel.apparmor_restrict_unprivileged_userns=0",
        );
    }
    ok(
        ID,
        format!(
            "allowed (user.max_user_namespaces = {})",
            max.as_deref().unwrap_or("?")
        ),
    )
}

fn check_tun() -> Check {
    const ID: &str = "dev-net-tun";
    match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        Ok(_) => ok(ID, "/dev/net/tun opens read-write"),
        Err(e) => bad(
            ID,
            Status::Fail,
            format!("/dev/net/tun: {e}: slirp4netns and pasta need it"),
            "modprobe tun; make /dev/net/tun mode 0666 (crw-rw-rw-)",
        ),
    }
}

fn check_uplink_tools() -> Check {
    const ID: &str = "rootless-uplink";
    let mut found = Vec::new();
    for tool in ["pasta", "slirp4netns"] {
        if let Some(p) = find_program(tool) {
            let v = super::command_stdout(&p, &["--version"]).unwrap_or_default();
            let first = v
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            found.push(format!("{tool}: {first}"));
        }
    }
    if found.is_empty() {
        return bad(
            ID,
            Status::Warn,
            "neither pasta nor slirp4netns is installed: rootless networks have no way out",
            "install passt (pasta) or slirp4netns",
        );
    }
    ok(ID, found.join("; "))
}

fn check_xdg_runtime_dir() -> Check {
    const ID: &str = "xdg-runtime-dir";
    let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) else {
        return bad(
            ID,
            Status::Warn,
            "XDG_RUNTIME_DIR is unset: rootless state goes to a fallback directory",
            "log in through a PAM session (systemd-logind sets it) or export \
             XDG_RUNTIME_DIR=/run/user/$(id -u)",
        );
    };
    let dir = PathBuf::from(dir);
    if !dir.is_absolute() {
        return bad(
            ID,
            Status::Fail,
            format!("XDG_RUNTIME_DIR={} is not an absolute path", dir.display()),
            "export XDG_RUNTIME_DIR=/run/user/$(id -u)",
        );
    }
    match crate::rootless::dirs::check_private(&dir) {
        Ok(()) => {
            let mode = fs::metadata(&dir).map_or(0, |m| m.mode() & 0o777);
            ok(ID, format!("{} (mode {mode:o}, yours)", dir.display()))
        }
        Err(why) => bad(
            ID,
            Status::Fail,
            format!("unsafe XDG_RUNTIME_DIR: {why}"),
            "point XDG_RUNTIME_DIR at a directory you own with mode 0700",
        ),
    }
}

/// Runs every check and returns them in a fixed order.
pub fn checks(ctx: &Context, rootless: bool) -> Vec<Check> {
    let root = nix::unistd::geteuid().is_root();
    let needs = Needs::of(ctx);
    let mut out = check_plugins(ctx, &needs);
    out.extend(check_forwarding(&needs));
    out.push(check_bridge_netfilter(&needs));
    out.extend(check_iptables(&needs, root));
    out.push(check_netns_dir(ctx));
    out.push(check_cache_dir(ctx));
    out.push(check_cache_files(ctx));
    out.push(check_stale(ctx));
    out.push(check_dhcp(ctx, &needs));
    if rootless || !root {
        out.push(check_userns());
        out.push(check_tun());
        out.push(check_uplink_tools());
        out.push(check_xdg_runtime_dir());
    }
    out
}

/// Runs `doctor`: exit 3 when a check fails (with `--strict`, or warns).
pub fn run(args: DoctorArgs, ctx: &Context) -> Result<ExitCode> {
    let checks = checks(ctx, args.rootless);
    let worst = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    let failed = worst == Status::Fail || (args.strict && worst == Status::Warn);
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<Value> = checks
                .iter()
                .map(|c| {
                    json!({"check": c.id, "status": c.status.as_str(), "message": c.message,
                           "fix": c.fix})
                })
                .collect();
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"ok": !failed, "checks": items}))?
            )?;
        }
        Output::Table => {
            let mut t = table::new(&["status", "check", "finding"]);
            for c in &checks {
                let mut text = c.message.clone();
                if let Some(fix) = &c.fix {
                    text.push_str(&format!("\n  fix: {fix}"));
                }
                t.add_row([c.status.as_str().to_owned(), c.id.to_owned(), text]);
            }
            crate::out!("{}", table::render(&t))?;
        }
        Output::None => {}
    }
    if !ctx.quiet {
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        crate::diag!(
            "{} ok, {} warning(s), {} failure(s)",
            count(Status::Ok),
            count(Status::Warn),
            count(Status::Fail)
        );
    }
    Ok(if failed {
        Exit::Config.into()
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_found_in_ranges_and_static_addresses() {
        let v6 = json!({"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}],
                        [{"subnet": "fd00::/64"}]]});
        let v4 = json!({"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}]]});
        let st = json!({"type": "static", "addresses": [{"address": "fd00::5/64"}]});
        assert!(has_ipv6(&v6));
        assert!(!has_ipv6(&v4));
        assert!(has_ipv6(&st));
    }

    #[test]
    fn rules_counted_from_a_save_dump() {
        let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n\
                    *filter\n-A INPUT -j DROP\nCOMMIT\n";
        assert_eq!(count_rules(dump), 2);
        assert_eq!(count_rules(""), 0);
    }
}
