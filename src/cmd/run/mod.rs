//! `cnitool run`: run a command on CNI networks in a private network namespace, and always
//! clean up.
//!
//! The CNI repo's `scripts/priv-net-run.sh` does this in shell and leaks on every failure
//! path. Here the order is: write a crash-safety record, create the namespace, ADD each
//! network, run the command, then kill what it left running, DEL in reverse order while the
//! namespace still exists, delete the namespace and the record. Signals during setup roll
//! back; during the command they are forwarded to it (unless they reached it already, see
//! [`Group`]); during teardown they are held off.
//! If the runner itself dies (SIGKILL), the command dies with it (`PR_SET_PDEATHSIG`) and
//! `cnitool gc` finds the record and undoes the rest.

pub(crate) mod child;
pub mod record;

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use libcni::netns::{self, CreateOptions};
use libcni::{CniResult, NetworkConfigList, RuntimeConf};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use self::child::ChildEvent;
use self::record::{Owner, PlannedAttachment, RunRecord};
use super::{container_id_for, Context, PluginArgs};
use crate::builtin;

/// Exit codes of `run` (podman's convention), shown in `run --help`.
pub const RUN_EXIT_HELP: &str = "\
Exit status: the command's own. If the command is killed by signal N: 128+N.
  125  cnitool failed (bad argument, netconf, plugin, namespace): nothing is left behind, or,
       when a DEL or a rollback failed, the run's record is kept and the error names the
       `cnitool gc` that finishes the cleanup
  126  the command could not be executed
  127  the command was not found
  124  rootless, with --require-uplink: the shared namespace's uplink or holder died during
       the run; the command was ended (SIGTERM, then SIGKILL 10 s later)";

/// `run`'s exit status when the rootless uplink or holder died during the run and
/// `--require-uplink` was given.
pub const RUN_UPLINK_LOST: u8 = 124;

/// How long a command ended for a lost uplink has between SIGTERM and SIGKILL.
pub(crate) const END_GRACE: Duration = Duration::from_secs(10);

/// The tool's own failure in `run`: exit 125. It shows as the error it wraps.
#[derive(Debug)]
pub struct RunToolError(pub anyhow::Error);

impl fmt::Display for RunToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for RunToolError {}

/// Marks an error as the tool's own in `run` (exit 125).
pub(crate) fn tool(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(RunToolError(e))
}

// Arguments of `run`.
#[derive(Debug, Args)]
#[command(after_help = RUN_EXIT_HELP)]
pub struct RunArgs {
    /// A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0,
    /// eth1, ... by default). Without --net and without any netconf, the built-in network
    /// "cnitool" is used (bridge cnitool0 on the first of 10.231.0.0/24 .. 10.231.15.0/24
    /// that no route of the host overlaps).
    #[arg(long = "net", value_name = "NAME[:IFNAME]")]
    pub nets: Vec<String>,
    /// Join this existing named network namespace instead of creating one; it is left in place
    /// and only the networks this run added are removed. Interface names it already has are
    /// refused.
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
    /// The command's hostname (in a UTS namespace of its own).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Print each network's plugin calls (CNI_* environment and exact stdin) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Set up and tear down the networks one after another instead of at once (for
    /// comparison in benchmarks).
    #[arg(
        long,
        hide = true,
        env = "CNITOOL_RUN_SEQUENTIAL",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub sequential: bool,
    /// Plugin arguments and capabilities, applied to every network.
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// Rootless mode.
    #[command(flatten)]
    pub rootless: crate::cmd::rootless::RootlessOpts,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD", value_hint = clap::ValueHint::CommandWithArguments)]
    pub command: Vec<String>,
}

/// What the main loop hears about.
#[derive(Debug)]
pub(crate) enum Event {
    Signal(Received),
    Child(ChildEvent),
    /// Rootless: the shared namespace's uplink or holder ended (which one, for messages).
    Lost(String),
}

/// The signals `run` handles; they are blocked in every thread and taken by one waiting
/// thread, so no handler runs in an arbitrary place.
pub(crate) fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

/// A handled signal, as received.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    pub(crate) signal: Signal,
    /// Generated by the kernel (`SI_KERNEL`): a terminal's Ctrl-C, Ctrl-\ or hangup, which
    /// go to its whole foreground process group, rather than one process's kill(2).
    pub(crate) by_kernel: bool,
}

/// Blocks the handled signals (must run before any other thread starts, so every thread
/// inherits the mask) and starts the thread that takes them (through a signalfd, which
/// tells who sent each); each one is stored in `pending` and sent on `tx`, wrapped by
/// `wrap`. `container run` uses it too.
pub(crate) fn start_signal_thread<E: Send + 'static>(
    tx: Sender<E>,
    wrap: fn(Received) -> E,
    pending: Arc<AtomicI32>,
) -> Result<()> {
    let set = handled_signals();
    set.thread_block().context("blocking signals")?;
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).context("creating a signalfd")?;
    thread::Builder::new()
        .name("cnitool-signals".into())
        .spawn(move || loop {
            let info = match fd.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            pending.store(signal as i32, Ordering::SeqCst);
            let received = Received {
                signal,
                by_kernel: info.ssi_code == libc::SI_KERNEL,
            };
            if tx.send(wrap(received)).is_err() {
                return;
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// Where the command runs, as to process groups; decides which signals the runner forwards,
/// so that one key press is one signal for the command, as under `ip netns exec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// In the runner's own group, because the runner has a controlling terminal: the command
    /// is part of the runner's job, so it keeps the terminal (reads it when the job is in the
    /// foreground, stops and resumes with it). The terminal's Ctrl-C reaches the command
    /// directly, so the runner forwards only what the kernel did not send to the whole group
    /// (what was sent to the runner with kill(2)).
    Shared,
    /// In a group of its own (no controlling terminal: scripts, CI, services): it gets signals
    /// only through the runner, which forwards each one, a kill of the runner's group too.
    Own,
}

impl Group {
    /// [`Group::Shared`] when this process has a controlling terminal, else [`Group::Own`].
    pub(crate) fn for_command() -> Group {
        if fs::File::open("/dev/tty").is_ok() {
            Group::Shared
        } else {
            Group::Own
        }
    }

    /// Whether a signal goes on to the command (else it reached it already).
    pub(crate) fn forwards(self, r: Received) -> bool {
        !(self == Group::Shared && r.by_kernel)
    }
}

/// Setup was interrupted by a signal: roll back, then exit 128+N.
#[derive(Debug)]
pub(crate) struct Interrupted(pub(crate) i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Signal::try_from(self.0).map_or("a signal", Signal::as_str);
        write!(
            f,
            "interrupted by {name} during setup; everything was rolled back"
        )
    }
}

impl std::error::Error for Interrupted {}

pub(crate) fn check_signal(pending: &AtomicI32) -> Result<()> {
    match pending.load(Ordering::SeqCst) {
        0 => Ok(()),
        sig => Err(Interrupted(sig).into()),
    }
}

/// As [`check_signal`], and also a handled signal still queued for this process (sent
/// before the signal thread started; `/proc/self/status` lists pending signals as bit
/// masks).
pub(crate) fn check_signal_queued(pending: &AtomicI32) -> Result<()> {
    check_signal(pending)?;
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return Ok(());
    };
    let mut queued = 0u64;
    for line in status.lines() {
        if let Some(hex) = line
            .strip_prefix("ShdPnd:")
            .or_else(|| line.strip_prefix("SigPnd:"))
        {
            queued |= u64::from_str_radix(hex.trim(), 16).unwrap_or(0);
        }
    }
    for sig in handled_signals().iter() {
        if queued & (1 << (sig as i32 - 1)) != 0 {
            return Err(Interrupted(sig as i32).into());
        }
    }
    Ok(())
}

/// What a run has created so far, undone in reverse by [`Teardown::run`].
#[derive(Debug)]
struct Teardown<'a> {
    ctx: &'a Context,
    netns_name: String,
    netns_path: PathBuf,
    netns_created: bool,
    added: Vec<(NetworkConfigList, RuntimeConf)>,
    sequential: bool,
    record_path: PathBuf,
    resolv_conf: Option<PathBuf>,
    /// Networks whose failed ADD could not be rolled back: their cache entries are kept, and
    /// so are the namespace and the record, for `gc` to finish.
    unfinished: Vec<String>,
}

impl Teardown<'_> {
    /// Kills what is left in an owned namespace, DELs the networks in reverse order, deletes
    /// the namespace, then the record. Every step runs even if an earlier one failed; the
    /// record stays when something could not be undone (a DEL failed, or the rollback of a
    /// failed ADD), so `gc` can retry.
    fn run(&mut self) -> Result<()> {
        let mut errors = Vec::new();
        if self.netns_created {
            kill_namespace_processes(&self.netns_path);
        }
        // DEL in reverse order of ADD (concurrently unless --sequential: the networks are
        // independent, so the order between them does not matter to the plugins).
        self.added.reverse();
        let outcomes = for_each(&self.added, self.sequential, |(list, rt)| {
            self.ctx
                .cni
                .del_network_list(list, rt)
                .with_context(|| format!("deleting network {:?}", list.name))
        });
        let mut kept = Vec::new();
        for (attachment, outcome) in std::mem::take(&mut self.added).into_iter().zip(outcomes) {
            if let Err(e) = outcome {
                errors.push(e);
                kept.push(attachment);
            }
        }
        self.added = kept;
        for network in &self.unfinished {
            errors.push(anyhow!(
                "the failed ADD of network {network:?} could not be rolled back"
            ));
        }
        // A failed DEL or rollback keeps the namespace (and the record): plugins need it to
        // undo what they set up from it (bridge finds the addresses to unmasquerade on the
        // container's link), and `gc` retries with it, then deletes it.
        if self.netns_created && errors.is_empty() {
            match netns::delete(&self.ctx.netns_dir, &self.netns_name) {
                Ok(()) => self.netns_created = false,
                Err(e) => errors.push(anyhow!(e).context("deleting the network namespace")),
            }
        }
        if let Some(resolv) = self.resolv_conf.take() {
            let _ = fs::remove_file(resolv);
        }
        if errors.is_empty() {
            fs::remove_file(&self.record_path)
                .with_context(|| format!("removing {}", self.record_path.display()))?;
            return Ok(());
        }
        let msgs: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        Err(anyhow!(
            "cleanup failed: {}; the run's record {} is kept: run `{}` to finish",
            msgs.join("; "),
            self.record_path.display(),
            super::gc_command(self.ctx)
        ))
    }
}

/// Runs `f` on each item, at once on scoped threads (or in order when `sequential` or when
/// there is only one), and returns the outcomes in the items' order.
pub(crate) fn for_each<T: Sync, R: Send>(
    items: &[T],
    sequential: bool,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if sequential || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    thread::scope(|scope| {
        let handles: Vec<_> = items.iter().map(|item| scope.spawn(|| f(item))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// SIGKILLs and reaps the processes re-parented to us (we are a child subreaper): whatever
/// the command left running. Only called when no plugin runs, so every child but those in
/// `keep` is the command's; each is reaped by PID, never with a wildcard wait.
pub(crate) fn kill_orphans(keep: &[i32]) {
    for _ in 0..100 {
        // No child at all (the usual case for root): nothing to list.
        if !has_children() {
            return;
        }
        let mut orphans = own_children();
        orphans.retain(|p| !keep.contains(p));
        if orphans.is_empty() {
            return;
        }
        for pid in orphans {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// Whether this process has any child, running or not yet reaped (`waitid` without
/// reaping: ECHILD means none).
fn has_children() -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    !matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED
                | WaitPidFlag::WNOHANG
                | WaitPidFlag::WNOWAIT
                | WaitPidFlag::__WALL
        ),
        Err(nix::errno::Errno::ECHILD)
    )
}

/// This process's children: each thread's `/proc/self/task/<tid>/children` (a few small
/// reads; orphans are re-parented to one of our threads), or, on kernels built without
/// `CONFIG_PROC_CHILDREN`, a walk of every process's stat.
fn own_children() -> Vec<i32> {
    if !Path::new("/proc/thread-self/children").exists() {
        return children_of(std::process::id() as i32);
    }
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return children_of(std::process::id() as i32);
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        // A thread that ended since the listing has no file any more, and no children.
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// The PIDs whose parent is `ppid` (`/proc/<pid>/stat` field 4).
fn children_of(ppid: i32) -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(ppid)
            })
        })
        .collect()
}

/// SIGKILLs every process in the namespace until none is left (a command's background
/// children must not keep the namespace, or hold its addresses, after DEL).
pub fn kill_namespace_processes(path: &Path) {
    let Ok(id) = netns::identify(path) else {
        return;
    };
    for _ in 0..100 {
        let pids = netns::processes_in(id);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn random_hex() -> String {
    let mut buf = [0u8; 4];
    let ok = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if ok.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        buf = nanos.to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The networks to attach (`--net NAME[:IFNAME]`) with their interface names.
pub(crate) fn resolve_networks(
    nets: &[String],
    ctx: &Context,
) -> Result<Vec<(NetworkConfigList, String)>> {
    if nets.is_empty() {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        let names = listing.names();
        if names.is_empty() {
            return Ok(vec![(ctx.builtin_list()?, "eth0".into())]);
        }
        return Err(crate::usage!(
            "no --net given and netconfs exist, so the built-in network is not used; \
             networks available: {} (pick with --net NAME, or --net {} for the built-in one)",
            names.join(", "),
            builtin::NAME
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

/// Refuses to join a namespace under an interface name it already has: the ADD would fail on
/// it, and its rollback DEL (same `CNI_IFNAME`) would delete the interface from under
/// whoever made it. Names the network that holds it when the cache knows (an earlier
/// `cnitool add`), which the library's own check would also refuse.
fn refuse_taken_ifnames(
    ctx: &Context,
    netns_path: &Path,
    container_id: &str,
    nets: &[(NetworkConfigList, String)],
) -> Result<()> {
    let present = netns::interface_names(netns_path)?;
    let Some((list, ifname)) = nets.iter().find(|(_, i)| present.contains(i)) else {
        return Ok(());
    };
    let netns_str = netns_path.to_string_lossy();
    let holder = ctx
        .cni
        .cache()
        .list_interface(ifname)?
        .into_iter()
        .find(|(_, a)| a.container_id == container_id || a.netns.as_deref() == Some(&netns_str))
        .map(|(_, a)| {
            format!(
                ", attached to network {:?} (container {:?})",
                a.network_name, a.container_id
            )
        })
        .unwrap_or_default();
    Err(crate::conflict!(
        "namespace {} already has an interface {ifname:?}{holder}; adding network {:?} as \
         {ifname:?} would fail and its rollback delete that interface: choose another name \
         with --net {}:IFNAME",
        netns_path.display(),
        list.name,
        list.name
    ))
}

/// `--dns` and `--dns-search` that no plugin of the run takes: the runtime's job, so `run`
/// writes them into the command's resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// `--dns`: nameservers, replacing the others.
    pub servers: Vec<String>,
    /// `--dns-search`: search domains, replacing the others.
    pub searches: Vec<String>,
}

impl DnsFlags {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.searches.is_empty()
    }

    /// `base` (a resolv.conf) with the flags applied: `--dns` replaces its `nameserver`
    /// lines, `--dns-search` its `search` and `domain` lines; other lines stay.
    pub fn apply(&self, base: &str) -> String {
        let mut servers: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("nameserver {s}"))
            .collect();
        let mut search: Vec<String> = Vec::new();
        if !self.searches.is_empty() {
            search.push(format!("search {}", self.searches.join(" ")));
        }
        let mut rest = Vec::new();
        for line in base.lines().map(str::trim_start) {
            match line.split_whitespace().next().unwrap_or("") {
                "nameserver" if self.servers.is_empty() => servers.push(line.to_owned()),
                "search" | "domain" if self.searches.is_empty() => search.push(line.to_owned()),
                "nameserver" | "search" | "domain" => {}
                _ if line.is_empty() || line.starts_with('#') => {}
                _ => rest.push(line.to_owned()),
            }
        }
        let mut out = String::from("# written by cnitool run (--dns, --dns-search)\n");
        for line in servers.iter().chain(&search).chain(&rest) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// `/etc/resolv.conf` content from the DNS settings of the results, if they carry any.
pub(crate) fn resolv_conf(results: &[CniResult]) -> Option<String> {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    let mut domain = None;
    for r in results {
        let Ok(v1) = r.to_v1() else { continue };
        for s in v1.dns.nameservers {
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        for s in v1.dns.search {
            if !search.contains(&s) {
                search.push(s);
            }
        }
        for o in v1.dns.options {
            if !options.contains(&o) {
                options.push(o);
            }
        }
        domain = domain.or(Some(v1.dns.domain).filter(|d| !d.is_empty()));
    }
    if servers.is_empty() {
        return None;
    }
    let mut out = String::from("# written by cnitool run from the CNI results\n");
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    } else if let Some(d) = domain {
        out.push_str(&format!("domain {d}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    Some(out)
}

/// Runs `run`.
pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode> {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicI32::new(0));
    // Blocked before any other thread exists, so every thread inherits the mask.
    handled_signals()
        .thread_block()
        .context("blocking signals")
        .map_err(tool)?;
    // Orphans of the command (daemons, `cmd &`) are re-parented to us, not to init, so they
    // can be found and killed when the command ends, even in a namespace we only joined.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| tool(anyhow!(e).context("becoming a child subreaper")))?;
    if args.rootless.active() && !args.dry_run {
        // The rootless runner starts the signal thread itself, after it forked its plugin
        // executor (a fork without exec needs a single-threaded process); signals stay
        // queued until then.
        return crate::cmd::rootless::run::run(&args, ctx, &args.rootless, tx, &rx, &pending);
    }
    start_signal_thread(tx.clone(), Event::Signal, Arc::clone(&pending)).map_err(tool)?;
    run_inner(&args, ctx, tx, rx, &pending)
}

fn run_inner(
    args: &RunArgs,
    ctx: &Context,
    tx: Sender<Event>,
    rx: mpsc::Receiver<Event>,
    pending: &AtomicI32,
) -> Result<ExitCode> {
    let nets = resolve_networks(&args.nets, ctx).map_err(tool)?;
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    args.plugin
        .require_capabilities(&lists, &["dns"])
        .map_err(tool)?;
    let dns = args.plugin.dns_for_runtime(&lists);
    let cni_args = args.plugin.cni_args().map_err(tool)?;
    let capability_args = args.plugin.capability_args().map_err(tool)?;
    if let Some(h) = &args.hostname {
        if h.is_empty() || h.len() > 64 || h.contains(['/', '\0']) {
            return Err(tool(crate::usage!(
                "--hostname {h:?}: must be 1 to 64 characters"
            )));
        }
    }

    let (netns_name, owns_netns) = match &args.netns {
        Some(name) => (name.clone(), false),
        None => (format!("cnitool-run-{}", random_hex()), true),
    };
    netns::validate_name(&netns_name).map_err(|e| tool(e.into()))?;
    let netns_path = super::absolute(&ctx.netns_dir.join(&netns_name)).map_err(tool)?;
    let container_id = container_id_for(&netns_path);
    if !owns_netns {
        netns::check_target(&netns_path).map_err(|e| tool(e.into()))?;
        refuse_taken_ifnames(ctx, &netns_path, &container_id, &nets).map_err(tool)?;
    }
    if args.dry_run {
        // The namespace does not exist yet: plan without the target checks.
        let cni = ctx.cni.clone().with_netns_checks(false);
        let format = ctx.output.unwrap_or(crate::cli::Output::Table);
        // JSON: one document, an array of the networks with their plans.
        let mut json = Vec::new();
        for (list, ifname) in &nets {
            let rt = RuntimeConf {
                container_id: container_id.clone(),
                netns: netns_path.clone(),
                ifname: ifname.clone(),
                args: cni_args.clone(),
                capability_args: capability_args.clone(),
            };
            let plan = cni
                .plan_network_list(libcni::Command::Add, list, &rt)
                .map_err(|e| tool(e.into()))?;
            match format {
                crate::cli::Output::Json => json.push(serde_json::json!({
                    "network": list.name,
                    "ifName": ifname,
                    "calls": crate::output::plan_json(&plan),
                })),
                crate::cli::Output::None => {}
                crate::cli::Output::Table => {
                    crate::outln!("# network {:?} as {ifname}", list.name)
                        .map_err(|e| tool(e.into()))?;
                    crate::output::print_plan(&plan, format).map_err(|e| tool(e.into()))?;
                }
            }
        }
        if format == crate::cli::Output::Json {
            let text = serde_json::to_string_pretty(&json).map_err(|e| tool(e.into()))?;
            crate::outln!("{text}").map_err(|e| tool(e.into()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let record = RunRecord {
        owner: Owner::current().map_err(tool)?,
        netns: netns_path.clone(),
        owns_netns,
        container_id: container_id.clone(),
        attachments: nets
            .iter()
            .map(|(list, ifname)| PlannedAttachment::new(&list.name, ifname, &list.full_bytes()))
            .collect(),
        cni_args: cni_args.clone(),
        capability_args: capability_args.clone(),
    };
    let record_id = format!("{netns_name}-{}", std::process::id());
    let record_path = record.write(ctx.cni.cache(), &record_id).map_err(tool)?;

    let mut teardown = Teardown {
        ctx,
        netns_name: netns_name.clone(),
        netns_path: netns_path.clone(),
        netns_created: false,
        added: Vec::new(),
        sequential: args.sequential,
        record_path,
        resolv_conf: None,
        unfinished: Vec::new(),
    };

    let setup = (|| -> Result<Vec<CniResult>> {
        check_signal(pending)?;
        if owns_netns {
            netns::create(&ctx.netns_dir, &netns_name, CreateOptions { lo_up: true })?;
            teardown.netns_created = true;
        }
        check_signal(pending)?;
        let attachments: Vec<(NetworkConfigList, RuntimeConf)> = nets
            .iter()
            .map(|(list, ifname)| {
                let rt = RuntimeConf {
                    container_id: container_id.clone(),
                    netns: netns_path.clone(),
                    ifname: ifname.clone(),
                    args: cni_args.clone(),
                    capability_args: capability_args.clone(),
                };
                (list.clone(), rt)
            })
            .collect();
        // The networks are independent (distinct interfaces, their own plugins and IPAM
        // state): ADD them at once. A failed ADD rolls itself back; the others are undone
        // by the teardown.
        let outcomes = for_each(&attachments, args.sequential, |(list, rt)| {
            ctx.cni.add_network_list(list, rt).map_err(|e| {
                let hint = match &e {
                    libcni::Error::InterfaceInUse { .. } => format!(
                        " (choose another interface name with --net {}:IFNAME)",
                        list.name
                    ),
                    _ => String::new(),
                };
                anyhow::Error::new(e).context(format!(
                    "adding network {:?} as {}{hint}",
                    list.name, rt.ifname
                ))
            })
        });
        let mut results = Vec::new();
        let mut first_error = None;
        for (attachment, outcome) in attachments.into_iter().zip(outcomes) {
            match outcome {
                Ok(result) => {
                    teardown.added.push(attachment);
                    results.push(result);
                }
                Err(e) => {
                    if let Some(libcni::Error::AddFailed { kept: Some(_), .. }) =
                        e.downcast_ref::<libcni::Error>()
                    {
                        teardown.unfinished.push(attachment.0.name.clone());
                    }
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // DNS flags no plugin took apply on top of the results' DNS, else the host's.
        let mut content = resolv_conf(&results);
        if !dns.is_empty() {
            let base = content
                .take()
                .unwrap_or_else(|| fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
            content = Some(dns.apply(&base));
        }
        if let Some(content) = content {
            let path = teardown.record_path.with_extension("resolv.conf");
            fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
            teardown.resolv_conf = Some(path);
        }
        check_signal(pending)?;
        Ok(results)
    })();

    if let Err(err) = setup {
        let cleanup = teardown.run();
        let err = match cleanup {
            Ok(()) => err,
            Err(c) => err.context(format!("{c:#}")),
        };
        if let Some(Interrupted(sig)) = err.downcast_ref::<Interrupted>() {
            let code = 128 + *sig;
            crate::diag!("cnitool: {err:#}");
            return Ok(ExitCode::from(code as u8));
        }
        return Err(tool(err));
    }

    let group = Group::for_command();
    let spec = child::Spec {
        netns: netns_path,
        resolv_conf: teardown.resolv_conf.clone(),
        hostname: args.hostname.clone(),
        argv: args.command.clone(),
        own_group: group == Group::Own,
    };
    let outcome = match child::spawn(spec, tx, Event::Child) {
        Ok(()) => wait_for_command(&rx, OnLost::Warn { quiet: ctx.quiet }, group).0,
        Err(e) => Outcome::SetupFailed(e),
    };

    // Teardown: signals stay blocked and queued; nothing interrupts it.
    kill_orphans(&[]);
    let cleanup = teardown.run();
    let code = match outcome {
        Outcome::Exited(status) => match (status.code(), status.signal()) {
            (Some(c), _) => c as u8,
            (None, Some(sig)) => (128 + sig) as u8,
            _ => 125,
        },
        Outcome::SetupFailed(e) => {
            let err = anyhow!(e).context("preparing the command's namespaces");
            return Err(tool(match cleanup {
                Ok(()) => err,
                Err(c) => err.context(format!("{c:#}")),
            }));
        }
        Outcome::Failed(e) => {
            let code = match e.kind() {
                io::ErrorKind::NotFound => 127,
                io::ErrorKind::PermissionDenied => 126,
                _ => 125,
            };
            let what = match code {
                127 => "command not found".to_owned(),
                126 => "permission denied".to_owned(),
                _ => format!("could not start the command: {e}"),
            };
            crate::diag!("cnitool: {}: {what}", args.command[0]);
            code
        }
    };
    if let Err(e) = cleanup {
        return Err(tool(e));
    }
    Ok(ExitCode::from(code))
}

#[derive(Debug)]
pub(crate) enum Outcome {
    /// The command ran and ended.
    Exited(std::process::ExitStatus),
    /// The command's namespaces could not be prepared (exit 125, whatever the errno).
    SetupFailed(io::Error),
    /// The command could not be executed (126, 127, else 125).
    Failed(io::Error),
}

/// What [`wait_for_command`] does when the rootless namespace's uplink or holder ends while
/// the command runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OnLost {
    /// Warn on stderr (unless quiet) and let the command go on.
    Warn { quiet: bool },
    /// `--require-uplink`: end the command (SIGTERM, then SIGKILL after [`END_GRACE`]).
    End,
}

/// Forwards signals to the command until it ends (those that did not reach it already, see
/// [`Group`]). Returns how it ended and, for a rootless run, what of the shared namespace was
/// lost meanwhile.
pub(crate) fn wait_for_command(
    rx: &mpsc::Receiver<Event>,
    on_lost: OnLost,
    group: Group,
) -> (Outcome, Option<String>) {
    let mut pid = None;
    let mut queued = Vec::new();
    let mut lost = None;
    let mut kill_at: Option<Instant> = None;
    let mut ending = false;
    loop {
        let event = match kill_at {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(e) => Ok(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(p) = pid {
                        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                    }
                    kill_at = None;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(mpsc::RecvError),
            },
            None => rx.recv(),
        };
        let outcome = match event {
            Ok(Event::Signal(r)) => {
                match pid {
                    Some(p) if group.forwards(r) => {
                        let _ = kill(Pid::from_raw(p), r.signal);
                    }
                    Some(_) => {}
                    // Not started yet: it got nothing, whoever sent it.
                    None => queued.push(r.signal),
                }
                continue;
            }
            Ok(Event::Lost(what)) => {
                if lost.is_none() {
                    match on_lost {
                        OnLost::Warn { quiet: true } => {}
                        OnLost::Warn { quiet: false } => crate::diag!(
                            "cnitool: warning: the rootless namespace's uplink or holder died \
                             during the run ({what} ended): the command lost outbound \
                             connectivity"
                        ),
                        OnLost::End => {
                            crate::diag!(
                                "cnitool: the rootless namespace's uplink or holder died during \
                                 the run ({what} ended): ending the command (--require-uplink)"
                            );
                            ending = true;
                            match pid {
                                Some(p) => {
                                    let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
                                    kill_at = Some(Instant::now() + END_GRACE);
                                }
                                None => queued.push(Signal::SIGTERM),
                            }
                        }
                    }
                    lost = Some(what);
                }
                continue;
            }
            Ok(Event::Child(ChildEvent::Started(p))) => {
                pid = Some(p);
                for sig in queued.drain(..) {
                    let _ = kill(Pid::from_raw(p), sig);
                }
                if ending && kill_at.is_none() {
                    kill_at = Some(Instant::now() + END_GRACE);
                }
                continue;
            }
            Ok(Event::Child(ChildEvent::Exited(Ok(status)))) => Outcome::Exited(status),
            Ok(Event::Child(ChildEvent::Exited(Err(e)) | ChildEvent::Failed(e))) => {
                Outcome::Failed(e)
            }
            Ok(Event::Child(ChildEvent::SetupFailed(e))) => Outcome::SetupFailed(e),
            Err(_) => Outcome::Failed(io::Error::other("the command thread vanished")),
        };
        return (outcome, lost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_from_results() {
        let r = CniResult::parse(
            br#"{"cniVersion":"1.0.0","dns":{"nameservers":["10.1.0.1","10.1.0.2"],"search":["a.test"],"options":["ndots:2"]}}"#,
            "1.0.0",
        )
        .unwrap();
        let none = CniResult::parse(br#"{"cniVersion":"1.0.0"}"#, "1.0.0").unwrap();
        assert_eq!(resolv_conf(std::slice::from_ref(&none)), None);
        let text = resolv_conf(&[none, r.clone(), r]).unwrap();
        assert_eq!(
            text,
            "# written by cnitool run from the CNI results\nnameserver 10.1.0.1\nnameserver 10.1.0.2\nsearch a.test\noptions ndots:2\n"
        );
    }
}
