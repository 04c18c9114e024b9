//! The executor's main loop: it enters the namespaces (see [`super::sandbox`]), then serves
//! requests until end of input.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::client::NsFds;
use super::protocol::{CommandSpec, Reply, Request, Response};
use super::sandbox::Exec;
use crate::cmd::Context;
use crate::rootless::SandboxArgs;
use crate::sys;

/// The executor's main (`cnitool __rootless-sandbox`). Single-threaded until the plugins
/// run.
pub fn main(ctx: &Context, args: &SandboxArgs) -> ExitCode {
    // The runner handles these (and forwards them to the command); a terminal's SIGINT to
    // the whole process group must not end an executor in the middle of an ADD. (A forked
    // executor inherits the runner's mask.)
    let _ = crate::supervise::signals::handled_signals().thread_block();
    let fds = [args.user_fd, args.mnt_fd, args.net_fd].map(sys::take_inherited_fd);
    let stdio: Vec<Option<OwnedFd>> = args
        .command
        .iter()
        .map(|&fd| (fd >= 0).then(|| sys::take_inherited_fd(fd)))
        .collect();
    let exec = Exec::enter(fds, stdio, !args.command.is_empty());
    serve_loop(ctx, exec, None, io::stdin().lock(), io::stdout().lock());
    ExitCode::SUCCESS
}

/// A forked executor's main (see [`super::Executor::start`]): keeps only its own descriptors (an
/// inherited copy of the runner's lock descriptor would keep the lock held), takes the
/// parent-death signal, and serves the requests on `requests` with a context whose result
/// cache is the generation's. Returns the exit status.
pub(super) fn forked_main(
    ctx: &Context,
    fds: &NsFds,
    gen: &Path,
    parent: nix::unistd::Pid,
    first: &Request,
    requests: OwnedFd,
    replies: OwnedFd,
) -> i32 {
    if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_err()
        || nix::unistd::getppid() != parent
    {
        return 125;
    }
    close_all_but(&[
        0,
        1,
        2,
        fds.user.as_raw_fd(),
        fds.mnt.as_raw_fd(),
        fds.net.as_raw_fd(),
        requests.as_raw_fd(),
        replies.as_raw_fd(),
    ]);
    let own = |f: &File| f.try_clone().map(OwnedFd::from);
    let ns = match (own(&fds.user), own(&fds.mnt), own(&fds.net)) {
        (Ok(u), Ok(m), Ok(n)) => [u, m, n],
        _ => return 125,
    };
    // The command's stdio: this process's own (the runner's), duplicated close-on-exec.
    let stdio = vec![
        io::stdin().as_fd().try_clone_to_owned().ok(),
        io::stdout().as_fd().try_clone_to_owned().ok(),
        io::stderr().as_fd().try_clone_to_owned().ok(),
    ];
    let ctx = Context {
        cni: ctx.cni.clone().with_cache_dir(gen.join("cache")),
        ..ctx.clone()
    };
    let exec = Exec::enter(ns, stdio, true);
    serve_loop(
        &ctx,
        exec,
        Some(first),
        BufReader::new(File::from(requests)),
        File::from(replies),
    );
    0
}

/// Closes every descriptor of this process but `keep` (listed from `/proc/self/fd`).
fn close_all_but(keep: &[std::os::fd::RawFd]) {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let open: Vec<std::os::fd::RawFd> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // The listing's own descriptor is closed by now (EBADF below, ignored).
    for fd in open.into_iter().filter(|fd| !keep.contains(fd)) {
        let _ = nix::unistd::close(fd);
    }
}

/// Serves `first`, then the requests on `requests` (one JSON line each) until end of input.
fn serve_loop(
    ctx: &Context,
    exec: Result<Exec>,
    first: Option<&Request>,
    requests: impl io::BufRead,
    mut out: impl io::Write,
) {
    let mut exec = exec.map_err(|e| format!("{e:#}"));
    let mut reply = |r: &Reply| {
        let mut line = serde_json::to_vec(r).unwrap_or_default();
        line.push(b'\n');
        // The runner is gone when this fails; the next read ends the loop.
        let _ = out.write_all(&line).and_then(|()| out.flush());
    };
    let parsed = requests.lines().map_while(Result::ok).map(|line| {
        serde_json::from_str::<Request>(&line).map_err(|e| format!("bad request: {e}"))
    });
    let first = first.map(|r| Ok(std::borrow::Cow::Borrowed(r)));
    for req in first
        .into_iter()
        .chain(parsed.map(|r| r.map(std::borrow::Cow::Owned)))
    {
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                reply(&Reply::Done(Response {
                    error: Some(e),
                    ..Response::default()
                }));
                continue;
            }
        };
        let ex = match &mut exec {
            Ok(ex) => ex,
            Err(e) => {
                reply(&Reply::Done(Response {
                    error: Some(e.clone()),
                    ..Response::default()
                }));
                if req.command.is_some() && !req.add.is_empty() {
                    reply(&Reply::NotStarted);
                }
                continue;
            }
        };
        match &req.command {
            Some(spec) if req.add.is_empty() => {
                run_command(ex, spec, &mut reply);
            }
            Some(spec) => {
                let resp = ex.serve(ctx, &req).unwrap_or_else(|e| Response {
                    error: Some(format!("{e:#}")),
                    ..Response::default()
                });
                // The run's resolv.conf, from the same results the runner gets.
                let resolv = resolv_after_add(&resp, spec);
                reply(&Reply::Done(resp));
                let interrupted =
                    crate::supervise::signals::check_signal_queued(&Default::default());
                match (resolv, interrupted) {
                    (None, _) | (_, Err(_)) => reply(&Reply::NotStarted),
                    (Some(Err(e)), Ok(())) => reply(&Reply::SetupFailed(format!("{e:#}"))),
                    (Some(Ok(())), Ok(())) => run_command(ex, spec, &mut reply),
                }
            }
            None => {
                let resp = ex.serve(ctx, &req).unwrap_or_else(|e| Response {
                    error: Some(format!("{e:#}")),
                    ..Response::default()
                });
                reply(&Reply::Done(resp));
            }
        }
    }
}

/// Starts the command and answers with its PID, then its exit.
fn run_command(ex: &mut Exec, spec: &CommandSpec, reply: &mut impl FnMut(&Reply)) {
    match ex.start_command(spec) {
        Err(e) => reply(&Reply::SetupFailed(format!("{e:#}"))),
        Ok(Err(status)) => reply(&Reply::Exited(status)),
        Ok(Ok(mut child)) => {
            reply(&Reply::Started(child.id() as i32));
            let raw = match child.wait() {
                Ok(st) => st.into_raw(),
                Err(_) => 125 << 8,
            };
            reply(&Reply::Exited(raw));
        }
    }
}

/// After the ADDs of a request that also starts the command: `None` when one failed (the
/// command is not started), else whether the run's resolv.conf could be written (the
/// results' DNS, else `resolv_default`).
fn resolv_after_add(resp: &Response, spec: &CommandSpec) -> Option<Result<()>> {
    if resp.error.is_some() {
        return None;
    }
    let mut results = Vec::new();
    for o in &resp.outcomes {
        let v = o.as_ref().ok()?;
        results.push(libcni::CniResult::parse(v.to_string().as_bytes(), "1.0.0").ok()?);
    }
    let (Some(path), Some(default)) = (&spec.resolv, &spec.resolv_default) else {
        return Some(Ok(()));
    };
    let text = crate::supervise::resolv::resolv_conf(&results).unwrap_or_else(|| default.clone());
    Some(fs::write(path, text).with_context(|| format!("writing {}", path.display())))
}
