//! Rootless `cnitool run` and `cnitool rootless status|stop`.
//!
//! The design as built, its decisions and why, its measurements and tests are in
//! `docs/ROOTLESS.md`. In short:
//!
//! ```text
//! host user -- slirp4netns | pasta --> tap0 in the OUTER netns (holder's userns)
//!                                       bridge, ip_forward, MASQUERADE, portmap DNAT
//!                                         '- veth --> RUN netns (eth0) -- the command
//! ```
//!
//! - [`holder`]: the detached process that owns the user + mount + network namespaces of a
//!   generation, and ends it when no live run is left;
//! - [`uplink`]: slirp4netns / pasta, readiness, the port-forward API;
//! - [`executor`]: the plugin executor (a helper process: `setns(CLONE_NEWUSER)` needs a
//!   single-threaded process) with the private `/var/lib` and `/run` plugins need; it also
//!   starts the run's command;
//! - [`command`]: the helper that starts the uplink in the holder's user namespace;
//! - [`watch`]: the holder and uplink watched through pidfds while the command runs;
//! - [`state`]: the files, the lock, identities; [`dirs`]: the runtime directory;
//! - [`run`]: the runner (`cnitool run` when not root, or with `--rootless`): [`generation`] joins or starts the shared
//!   namespace, [`cleanup`] undoes runs and garbage-collects.

pub mod cleanup;
pub mod command;
pub mod dirs;
pub mod executor;
pub mod generation;
pub mod holder;
pub mod run;
pub mod state;
pub mod uplink;
pub mod watch;

use std::os::fd::AsFd as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

use self::state::{Root, UplinkKind};
use crate::cmd::Context;
use crate::output::Output;
use crate::supervise::record::RunRecord;

// The rootless flags of `run`.
#[derive(Debug, Args, Clone)]
pub struct RootlessOpts {
    /// Run rootless even as root (implied when not root): the networks live in a user
    /// namespace shared by your runs, with slirp4netns or pasta as the uplink.
    #[arg(long)]
    pub rootless: bool,
    /// Rootless uplink helper (auto: slirp4netns if installed, else pasta).
    #[arg(long, value_enum, default_value = "auto", value_name = "HELPER")]
    pub uplink: UplinkKind,
    /// Rootless: let the command reach the host's loopback as 10.0.2.2.
    #[arg(long)]
    pub allow_host_loopback: bool,
    /// Rootless: if the shared namespace's uplink or holder dies while the command runs,
    /// end the command (SIGTERM, then SIGKILL 10 s later) and exit with 124.
    #[arg(long)]
    pub require_uplink: bool,
}

impl RootlessOpts {
    /// Whether this run is rootless.
    pub fn active(&self) -> bool {
        self.rootless || !nix::unistd::geteuid().is_root()
    }
}

// Arguments of `rootless`.
#[derive(Debug, Args)]
pub struct RootlessArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RootlessCommand,
}

// The `rootless` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RootlessCommand {
    /// Show the shared rootless namespace, its uplink and its live runs.
    Status,
    /// Tear the shared rootless namespace down (refused while runs are live).
    Stop(StopArgs),
}

// Arguments of `rootless stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Tear down even with live runs: each is ended first, as by a SIGTERM to its runner (its
    /// command gets SIGTERM, the run is undone, the runner exits with the command's status).
    #[arg(long)]
    pub force: bool,
}

// Hidden helper: the namespace holder.
#[derive(Debug, Args)]
pub struct HolderArgs {
    /// The generation directory.
    pub gen: PathBuf,
}

// Hidden helper: the plugin executor.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Descriptor of the holder's user namespace.
    pub user_fd: i32,
    /// Descriptor of the holder's mount namespace.
    pub mnt_fd: i32,
    /// Descriptor of the outer network namespace.
    pub net_fd: i32,
    /// Also start the run's command, with these descriptors as its stdin, stdout and stderr
    /// (-1: /dev/null).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub command: Vec<i32>,
}

/// Runs `rootless status|stop`.
pub fn run(args: RootlessArgs, ctx: &Context) -> Result<ExitCode> {
    let rt = dirs::resolve(false)?;
    let root = Root::new(&rt.state, false)?;
    match args.command {
        RootlessCommand::Status => status(&root, ctx),
        RootlessCommand::Stop(a) => stop(&root, ctx, a.force),
    }
}

fn status(root: &Root, ctx: &Context) -> Result<ExitCode> {
    let current = root.current();
    let mut gens = Vec::new();
    for gen in root.generations() {
        let info = gen.info();
        let runs: Vec<_> = gen
            .runs()
            .into_iter()
            .map(|(p, r)| {
                json!({"id": cleanup::run_id(&p), "runnerPid": r.owner.pid,
                       "alive": r.owner.is_alive(), "netns": r.netns})
            })
            .collect();
        gens.push(json!({
            "generation": gen.name,
            "current": current.as_deref() == Some(gen.name.as_str()),
            "holderPid": info.as_ref().map(|i| i.holder.pid),
            "holderAlive": info.as_ref().is_some_and(|i| i.holder_alive()),
            "uplink": info.as_ref().map(|i| i.uplink_kind),
            "uplinkPid": info.as_ref().and_then(|i| i.uplink.as_ref().map(|u| u.pid)),
            "uplinkAlive": info.as_ref().is_some_and(|i| i.uplink_alive()),
            "hostLoopback": info.as_ref().map(|i| i.allow_host_loopback),
            "runs": runs,
        }));
    }
    if ctx.output == Some(Output::Json) {
        crate::outln!("{}", json!({"stateDir": root.dir, "generations": gens}))?;
        return Ok(ExitCode::SUCCESS);
    }
    if gens.is_empty() {
        crate::outln!("no shared rootless namespace ({})", root.dir.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    for g in &gens {
        let alive = |k: &str| if g[k] == true { "" } else { " (dead)" };
        crate::outln!(
            "generation {}{}: holder {}{} uplink {} {}{}",
            g["generation"].as_str().unwrap_or(""),
            if g["current"] == true {
                " (current)"
            } else {
                ""
            },
            g["holderPid"],
            alive("holderAlive"),
            g["uplink"].as_str().unwrap_or("-"),
            g["uplinkPid"],
            alive("uplinkAlive"),
        )?;
        let runs = g["runs"].as_array().cloned().unwrap_or_default();
        let live = runs.iter().filter(|r| r["alive"] == true).count();
        crate::outln!("  runs: {live} live")?;
        for r in runs {
            crate::outln!(
                "  {} runner {}{}",
                r["id"].as_str().unwrap_or(""),
                r["runnerPid"],
                if r["alive"] == true { "" } else { " (dead)" }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stop(root: &Root, ctx: &Context, force: bool) -> Result<ExitCode> {
    if !root.dir.exists() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut lock = root.lock()?;
    let live: Vec<(PathBuf, RunRecord)> = root
        .generations()
        .iter()
        .flat_map(|g| g.live_runs())
        .collect();
    if !live.is_empty() {
        if !force {
            let names: Vec<String> = live
                .iter()
                .map(|(p, r)| format!("{} (pid {})", cleanup::run_id(p), r.owner.pid))
                .collect();
            bail!(
                "{} run(s) still use the shared rootless namespace: {}; end them first, or use \
                 --force",
                names.len(),
                names.join(", ")
            );
        }
        // Each live run ends as on a SIGTERM to its runner: the command gets it, the run is
        // undone and the runner exits with the command's status. The runners need the lock
        // to undo their runs, so it is released meanwhile.
        drop(lock);
        end_runs(ctx, &live);
        lock = root.lock()?;
    }
    let _lock = lock;
    // Dead runs first (DEL through the holder), then everything.
    for line in cleanup::gc_locked(ctx, root, true, None) {
        if !ctx.quiet {
            crate::diag!("cnitool: {line}");
        }
    }
    for gen in root.generations() {
        gen.destroy();
        root.clear_current(&gen.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// How long `rootless stop --force` waits for a live run to end after SIGTERM before it
/// SIGKILLs the runner (whose run `gc` then undoes): the runner's own grace for a command
/// that ignores SIGTERM, and time to undo the run.
const END_RUN_LIMIT: Duration = Duration::from_secs(30);

/// Sends SIGTERM to the runner of each run and waits (at most [`END_RUN_LIMIT`]) for them to
/// exit; a runner still there then is SIGKILLed.
fn end_runs(ctx: &Context, runs: &[(PathBuf, RunRecord)]) {
    let mut waiting = Vec::new();
    for (path, record) in runs {
        // The descriptor pins the process: the liveness check after it cannot be fooled by a
        // reused PID, and the signal goes to the process checked.
        let Ok(fd) = libcni::sys::pidfd_open(record.owner.pid) else {
            continue; // gone already
        };
        if !record.owner.is_alive() {
            continue;
        }
        if !ctx.quiet {
            crate::diag!(
                "cnitool: ending rootless {} (runner pid {})",
                cleanup::run_id(path),
                record.owner.pid
            );
        }
        let _ = kill(Pid::from_raw(record.owner.pid), Signal::SIGTERM);
        waiting.push((record.owner.pid, fd));
    }
    let deadline = Instant::now() + END_RUN_LIMIT;
    for (pid, fd) in waiting {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(1)) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// `cnitool gc`'s rootless part: the caller's shared namespace state, if any. Returns the
/// lines to print.
pub fn gc(ctx: &Context, dry_run: bool) -> Result<Vec<String>> {
    let Ok(rt) = dirs::resolve(false) else {
        return Ok(Vec::new());
    };
    let root = Root::new(&rt.state, false)?;
    if !root.dir.exists() {
        return Ok(Vec::new());
    }
    if dry_run {
        let mut lines = Vec::new();
        for gen in root.generations() {
            for (p, r) in gen.runs() {
                if !r.owner.is_alive() {
                    lines.push(format!("would clean up rootless {}", cleanup::run_id(&p)));
                }
            }
        }
        return Ok(lines);
    }
    let _lock = root.lock()?;
    Ok(cleanup::gc_locked(ctx, &root, false, None))
}
