//! `cnitool netns exec`: run a command in a named network namespace, the way `ip netns exec`
//! does (iproute2 `lib/namespace.c`, `netns_switch` and `bind_etc`).
//!
//! `cnitool` itself becomes the command: it enters the namespace and then `exec`s, so no
//! parent is left behind; signals, the terminal, stdin and the exit status are the command's.
//! This is the one place where `cnitool`'s own (main) thread changes namespaces: it never
//! switches back, because it either turns into the command or exits.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};
use clap::Args;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::{netns_path, parse_name};
use crate::cmd::Context;
use crate::ns::{self, CloneFlags};

/// Where iproute2 looks for per-namespace configuration files (`NETNS_ETC_DIR`).
pub const NETNS_ETC_DIR: &str = "/etc/netns";

const EXEC_HELP: &str = "\
Like `ip netns exec`, the command runs in a private mount namespace in which /sys describes
the network namespace and each file in /etc/netns/NAME/ is bind-mounted over the file of the
same name in /etc (for example a per-namespace resolv.conf). --dns, --dns-search,
--dns-option and --add-host apply on top, in files of that mount namespace only (the
host's and /etc/netns/NAME's files are not modified).

Exit status: the command's own, or
  125  cnitool could not enter the namespace (missing, not a namespace, permission denied)
  126  the command was found but could not be executed
  127  the command was not found";

// Arguments of `netns exec`.
#[derive(Debug, Args)]
#[command(after_help = EXEC_HELP)]
pub struct ExecArgs {
    /// The namespace's name (in the netns directory).
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub name: String,
    /// DNS server for the command's resolv.conf, replacing the others (repeatable).
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain for the command's resolv.conf, replacing the others (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Resolver option for the command's resolv.conf, replacing the others (repeatable).
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a line to the command's /etc/hosts: NAME:IP (repeatable).
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// The command and its arguments (after `--` if it has options of its own).
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_hint = clap::ValueHint::CommandWithArguments,
        value_parser = clap::value_parser!(OsString)
    )]
    pub command: Vec<OsString>,
}

/// Runs `netns exec`: returns only if something failed (with 125, 126 or 127).
pub fn run(args: ExecArgs, ctx: &Context) -> Result<ExitCode> {
    let files = EtcFiles::from_args(&args)?;
    if let Err(e) = enter(ctx, &args.name, &files) {
        crate::diag!("error: {}", format!("{e:#}").replace('\n', " "));
        return Ok(ExitCode::from(crate::exit::EXIT_SETUP_FAILED));
    }
    let program = &args.command[0];
    // std's exec, unlike a bare execvp, restores the default SIGPIPE disposition and an empty
    // signal mask: Rust programs start with SIGPIPE ignored, and the command must not inherit
    // that (`yes | head` would loop on EPIPE instead of dying).
    let err = Command::new(program).args(&args.command[1..]).exec();
    let (code, why) = crate::exit::exec_failure(program, &err);
    crate::diag!(
        "error: cannot run {:?} in network namespace {:?}: {why}",
        program,
        args.name
    );
    Ok(ExitCode::from(code))
}

/// Moves this (single-threaded) process into the namespace and a private mount namespace
/// set up as iproute2's `netns_switch` does.
fn enter(ctx: &Context, name: &str, files: &EtcFiles) -> Result<()> {
    let path = netns_path(ctx, name)?;
    // identify first for a clear message ("does not exist", "is a regular file, not a
    // namespace" for a stale file) and so that nothing but a network namespace is entered.
    libcni::netns::identify(&path)?;
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    ns::enter(&file, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {}", path.display()))?;
    drop(file);
    // EINVAL here means another thread exists (unshare(CLONE_NEWNS) needs an unshared fs).
    ns::unshare(CloneFlags::CLONE_NEWNS).context("unsharing the mount namespace")?;
    // Nothing mounted from here on may propagate back to the caller's mount namespace.
    libcni::netns::make_mounts_slave()?;
    remount_sys(name)?;
    bind_etc(ctx, name);
    files.bind(name, ctx.quiet)
}

/// What the DNS and hosts flags put over `/etc/resolv.conf` and `/etc/hosts`.
#[derive(Debug, Default)]
struct EtcFiles {
    dns: crate::supervise::resolv::DnsFlags,
    add_hosts: Vec<(String, std::net::IpAddr)>,
}

impl EtcFiles {
    /// The flags, checked (bad input is refused before anything is done).
    fn from_args(args: &ExecArgs) -> Result<EtcFiles> {
        for d in &args.dns {
            d.parse::<std::net::IpAddr>()
                .map_err(|_| crate::usage!("--dns {d:?}: not an IP address"))?;
        }
        let add_hosts = args
            .add_host
            .iter()
            .map(|a| crate::cmd::run::parse_add_host(a))
            .collect::<Result<Vec<_>>>()?;
        Ok(EtcFiles {
            dns: crate::supervise::resolv::DnsFlags {
                servers: args.dns.clone(),
                searches: args.dns_search.clone(),
                options: args.dns_option.clone(),
            },
            add_hosts,
        })
    }

    /// In the private mount namespace, after `/etc/netns/NAME/`: writes the files with the
    /// flags applied to what `/etc` shows now, on a tmpfs mounted over `/tmp` for the time
    /// of the writing, bind-mounts them over `/etc`, then detaches that tmpfs (the bind
    /// mounts keep its files; `/tmp` shows its own content again).
    fn bind(&self, name: &str, quiet: bool) -> Result<()> {
        if self.dns.is_empty() && self.add_hosts.is_empty() {
            return Ok(());
        }
        let mut files = Vec::new();
        if !self.dns.is_empty() {
            // The namespace's own resolv.conf (bound from /etc/netns/NAME) as it is; else the
            // host's, with a loopback stub resolver replaced by its upstream servers.
            let base = if Path::new(NETNS_ETC_DIR)
                .join(name)
                .join("resolv.conf")
                .exists()
            {
                std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
            } else {
                use crate::supervise::resolv::{host_base, RESOLVED_UPSTREAM};
                let (base, note) =
                    host_base(Path::new("/etc/resolv.conf"), Path::new(RESOLVED_UPSTREAM));
                if let (Some(note), false) = (note, quiet) {
                    crate::diag!("cnitool: {note}");
                }
                base
            };
            files.push(("resolv.conf", self.dns.apply(&base)));
        }
        if !self.add_hosts.is_empty() {
            let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            if !hosts.is_empty() && !hosts.ends_with('\n') {
                hosts.push('\n');
            }
            hosts.push_str("# cnitool netns exec: --add-host\n");
            for (name, ip) in &self.add_hosts {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
            files.push(("hosts", hosts));
        }
        let scratch = Path::new("/tmp");
        mount(
            Some("tmpfs"),
            scratch,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=1m"),
        )
        .context("mounting a tmpfs over /tmp for the --dns/--add-host files")?;
        let written = files.iter().try_for_each(|(name, content)| {
            let from = scratch.join(name);
            let to = Path::new("/etc").join(name);
            std::fs::write(&from, content)
                .with_context(|| format!("writing {}", from.display()))?;
            mount(
                Some(&from),
                &to,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .with_context(|| format!("bind-mounting over {}", to.display()))
        });
        umount2(scratch, MntFlags::MNT_DETACH).context("detaching the tmpfs from /tmp")?;
        written
    }
}

/// Mounts a sysfs that describes the current network namespace on `/sys` (sysfs shows the
/// network devices of the namespace of whoever mounts it).
fn remount_sys(name: &str) -> Result<()> {
    let mut flags = MsFlags::empty();
    if umount2("/sys", MntFlags::MNT_DETACH).is_err() {
        // No sysfs there (fine), or one we may not unmount: shadow it. A read-only sysfs
        // cannot be shadowed by a read-write one.
        if statvfs("/sys").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY)) {
            flags |= MsFlags::MS_RDONLY;
        }
    }
    mount(Some(name), "/sys", Some("sysfs"), flags, None::<&str>).context("mounting /sys")
}

/// Bind-mounts each entry of `/etc/netns/NAME/` over `/etc/ENTRY`. As in iproute2, an entry
/// that cannot be bound (no such file in /etc) is reported and skipped.
fn bind_etc(ctx: &Context, name: &str) {
    let dir = Path::new(NETNS_ETC_DIR).join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let from = entry.path();
        let to = Path::new("/etc").join(entry.file_name());
        let bound = mount(
            Some(&from),
            &to,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        );
        if let Err(e) = bound {
            if !ctx.quiet {
                crate::diag!(
                    "warning: bind-mounting {} over {}: {e}",
                    from.display(),
                    to.display()
                );
            }
        }
    }
}
