//! `cnitool rootless status|stop`: the shared rootless namespace of `run` (see
//! `src/rootless/` and `docs/ROOTLESS.md`).

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

use super::Context;
use crate::output::Output;
use crate::rootless::state::Root;
use crate::rootless::{cleanup, dirs};
use crate::supervise::record::RunRecord;

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
            "private": info.as_ref().is_some_and(|i| i.private),
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
            } else if g["private"] == true {
                " (private)"
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
