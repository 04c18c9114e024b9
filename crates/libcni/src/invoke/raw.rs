//! Running a real plugin process (Go's `invoke.RawExec`), without Go's bugs:
//!
//! - the plugin runs in its own process group, and a timeout ends the whole group (SIGTERM, a
//!   grace period, then SIGKILL), not only the plugin binary, so helpers it started die too;
//!   the caller's [`Cancel`] (its Ctrl-C) ends it the same way (the group is in no terminal's
//!   foreground, so the terminal's SIGINT never reaches the plugin by itself);
//! - stdin is written, and stdout and stderr read (bounded), as the pipes allow, from one
//!   `poll` loop on the calling thread, so a plugin that never reads its stdin cannot deadlock
//!   us and no thread is started per call;
//! - "text file busy" (ETXTBSY, the binary is still being written) is retried with a fresh
//!   command each time (Go re-runs the same `exec.Cmd`, which can never succeed);
//! - a `CNI_*` variable already in the environment cannot shadow the call's value (Go puts the
//!   call's values first and lets os/exec keep the last duplicate, the inherited one), and
//!   `CNI_NETNS_OVERRIDE`, which tells plugins to skip their netns checks, is never passed on.
//!
//! Length: over 500 lines with its unit tests; the code is about 470.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::{Cancel, Epoch, Exec, ExecError, ExecOutput, ExecRequest, ExitStatus, Stream};

/// Spawn attempts after the first one when the binary is busy (ETXTBSY).
const ETXTBSY_RETRIES: u32 = 5;
/// First backoff; doubled after each busy attempt (10+20+40+80+160 ms in all).
const ETXTBSY_BACKOFF: Duration = Duration::from_millis(10);
/// Read buffer size (on the stack).
const CHUNK: usize = 16 * 1024;

/// A variable that must never reach a plugin from the inherited environment: skel-based
/// plugins skip their network-namespace checks when it is set.
pub const NETNS_OVERRIDE: &str = "CNI_NETNS_OVERRIDE";

/// Runs real plugin processes.
///
/// Output limits: stdout and stderr are each collected up to [`RawExec::max_output`] bytes.
/// A plugin that prints more is killed (its whole process group, with SIGKILL) and the call
/// fails with [`ExecError::OutputTooLarge`].
///
/// Leftover processes: when the plugin exits but something it started keeps its stdout or
/// stderr open, the call waits [`RawExec::grace`] for them to close and then returns what was
/// collected, leaving those processes alone (Go waits forever).
#[derive(Clone, Debug)]
pub struct RawExec {
    /// Per-call time limit; `None` waits as long as the plugin runs.
    pub timeout: Option<Duration>,
    /// How long a timed-out plugin gets between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Most bytes collected from each of stdout and stderr.
    pub max_output: usize,
    /// The environment the `CNI_*` variables are added to; `None` inherits this process's.
    pub base_env: Option<Vec<(OsString, OsString)>>,
    /// The caller's interrupt: when it fires, the calls running then are ended like a
    /// timed-out one (SIGTERM to the group, SIGKILL after `grace`) and fail with
    /// [`ExecError::Cancelled`]. It is looked at every [`CANCEL_TICK`] while a plugin runs.
    pub cancel: Option<Cancel>,
}

impl RawExec {
    /// Default grace period between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
    /// Default output limit per stream (16 MiB).
    pub const DEFAULT_MAX_OUTPUT: usize = 16 << 20;

    /// An executor with a time limit (or none) and the default grace period and output limit.
    pub fn new(timeout: Option<Duration>) -> RawExec {
        RawExec {
            timeout,
            ..RawExec::default()
        }
    }
}

impl Default for RawExec {
    fn default() -> Self {
        RawExec {
            timeout: None,
            grace: RawExec::DEFAULT_GRACE,
            max_output: RawExec::DEFAULT_MAX_OUTPUT,
            base_env: None,
            cancel: None,
        }
    }
}

/// The environment of a plugin call: `base` without the names `cni` sets and without
/// `CNI_NETNS_OVERRIDE`, then the `cni` pairs, so that each name appears once and the call's
/// values win.
pub fn plugin_env(
    base: impl IntoIterator<Item = (OsString, OsString)>,
    cni: &[(&'static str, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = base
        .into_iter()
        .filter(|(k, _)| k != NETNS_OVERRIDE && !cni.iter().any(|(name, _)| k == *name))
        .collect();
    // A raw environment block may hold a name twice; keep the last one, as a shell would.
    let mut seen = std::collections::HashSet::new();
    env.reverse();
    env.retain(|(k, _)| seen.insert(k.clone()));
    env.reverse();
    env.extend(
        cni.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env
}

impl Exec for RawExec {
    fn exec(&self, req: &ExecRequest<'_>) -> Result<ExecOutput, ExecError> {
        let base = match &self.base_env {
            Some(b) => b.clone(),
            None => std::env::vars_os().collect(),
        };
        let env = plugin_env(base, req.env);
        let epoch = self.cancel.as_ref().map(Cancel::epoch);
        let child = spawn(req, &env)?;
        self.supervise(child, req.stdin.to_vec(), epoch)
    }
}

/// Starts the plugin, retrying while its binary is busy.
fn spawn(req: &ExecRequest<'_>, env: &[(OsString, OsString)]) -> Result<Child, ExecError> {
    let mut backoff = ETXTBSY_BACKOFF;
    let mut attempt = 0;
    loop {
        // A fresh Command each time: a spawned-and-failed one is not reusable in spirit, and
        // this is exactly where Go's retry goes wrong.
        let mut cmd = Command::new(req.plugin_path);
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < ETXTBSY_RETRIES => {
                thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
            Err(e) => return Err(ExecError::Spawn(e)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running within its time limit.
    Running,
    /// Exited; waiting for leftover holders of stdout/stderr.
    Draining,
    /// Sent SIGTERM; waiting for the grace period.
    Terminating,
    /// Sent SIGKILL; waiting for the leader to be reaped.
    Killing,
}

enum Failure {
    Timeout,
    Cancelled,
    Overflow(Stream),
}

/// How often the exit of the plugin is checked for when the kernel has no `pidfd_open`
/// (before Linux 5.3); with a pidfd the exit wakes the loop at once.
const EXIT_TICK: Duration = Duration::from_millis(20);

/// How often a running plugin's [`RawExec::cancel`] is looked at (the flag wakes nothing: the
/// library installs no signal handler and has no descriptor to be woken through).
pub const CANCEL_TICK: Duration = Duration::from_millis(20);

/// One output pipe being collected.
struct Collector {
    /// `None` once it reached end of file.
    pipe: Option<File>,
    buf: Vec<u8>,
    overflowed: bool,
}

impl Collector {
    fn new(pipe: Option<impl Into<OwnedFd>>) -> io::Result<Self> {
        let pipe = pipe.map(|p| File::from(p.into()));
        if let Some(p) = &pipe {
            set_nonblocking(p.as_fd())?;
        }
        Ok(Collector {
            pipe,
            buf: Vec::new(),
            overflowed: false,
        })
    }

    /// Reads what is there, keeping at most `max` bytes; past that it keeps draining (so the
    /// writer is not blocked while it is being killed). True when the limit was just passed.
    fn read_available(&mut self, max: usize) -> bool {
        let Some(pipe) = &mut self.pipe else {
            return false;
        };
        let mut chunk = [0u8; CHUNK];
        let was = self.overflowed;
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => {
                    self.pipe = None;
                    break;
                }
                Ok(n) if !self.overflowed => {
                    let room = max - self.buf.len();
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                    self.overflowed = n > room;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.pipe = None;
                    break;
                }
            }
        }
        self.overflowed && !was
    }
}

/// Stdin not yet written.
struct Feeder {
    pipe: ChildStdin,
    bytes: Vec<u8>,
    written: usize,
}

impl Feeder {
    /// Writes what the pipe takes. False when done: everything written, or the plugin closed
    /// its end (EPIPE: the exit status tells what happened).
    fn write_available(&mut self) -> bool {
        while self.written < self.bytes.len() {
            match self.pipe.write(&self.bytes[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        false
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

impl RawExec {
    /// Feeds stdin, collects stdout and stderr, reaps the plugin and enforces the time and
    /// output limits, all from the calling thread: one `poll` over the pipes and a pidfd.
    /// `epoch`: when the call started, for [`RawExec::cancel`].
    fn supervise(
        &self,
        child: Child,
        stdin: Vec<u8>,
        epoch: Option<Epoch>,
    ) -> Result<ExecOutput, ExecError> {
        // The child is ours and unreaped, so the number names it.
        let pidfd = crate::sys::pidfd_open(child.id() as libc::pid_t).ok();
        self.supervise_with(child, stdin, pidfd, epoch)
    }

    /// [`RawExec::supervise`] with the pidfd given (`None`: the kernel has none, so the exit
    /// is polled for every [`EXIT_TICK`]).
    fn supervise_with(
        &self,
        mut child: Child,
        stdin: Vec<u8>,
        pidfd: Option<OwnedFd>,
        epoch: Option<Epoch>,
    ) -> Result<ExecOutput, ExecError> {
        let cancelled = || {
            self.cancel
                .as_ref()
                .zip(epoch)
                .is_some_and(|(c, e)| c.since(e))
        };
        let pgid = Pid::from_raw(child.id() as libc::pid_t);
        let setup = || -> io::Result<_> {
            let mut feeder = None;
            if let Some(pipe) = child.stdin.take() {
                set_nonblocking(pipe.as_fd())?;
                feeder = Some(Feeder {
                    pipe,
                    bytes: stdin,
                    written: 0,
                });
            }
            Ok((
                feeder,
                Collector::new(child.stdout.take())?,
                Collector::new(child.stderr.take())?,
            ))
        };
        let (mut feeder, mut out, mut err) = match setup() {
            Ok(parts) => parts,
            Err(e) => {
                signal_group(pgid, Signal::SIGKILL);
                let _ = child.wait();
                return Err(ExecError::Wait(e));
            }
        };
        // A fresh pipe holds at least a page, so most configs are written here at once.
        if feeder.as_mut().is_some_and(|f| !f.write_available()) {
            feeder = None;
        }

        let mut deadline = self.timeout.map(|t| Instant::now() + t);
        let mut phase = Phase::Running;
        let mut exited: Option<io::Result<std::process::ExitStatus>> = None;
        let mut failure = None;
        while exited.is_none() || out.pipe.is_some() || err.pipe.is_some() {
            let mut wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if pidfd.is_none() && exited.is_none() {
                wait = Some(wait.map_or(EXIT_TICK, |w| w.min(EXIT_TICK)));
            }
            if epoch.is_some() && phase == Phase::Running {
                wait = Some(wait.map_or(CANCEL_TICK, |w| w.min(CANCEL_TICK)));
            }
            let ready = {
                // (slot, descriptor, events): 0 stdout, 1 stderr, 2 the pidfd, 3 stdin.
                let wanted = [
                    (0, out.pipe.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
                    (1, err.pipe.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
                    (
                        2,
                        pidfd.as_ref().filter(|_| exited.is_none()).map(AsFd::as_fd),
                        PollFlags::POLLIN,
                    ),
                    (
                        3,
                        feeder.as_ref().map(|f| f.pipe.as_fd()),
                        PollFlags::POLLOUT,
                    ),
                ];
                let (slots, mut fds): (Vec<usize>, Vec<PollFd<'_>>) = wanted
                    .into_iter()
                    .filter_map(|(slot, fd, ev)| fd.map(|fd| (slot, PollFd::new(fd, ev))))
                    .unzip();
                let timeout = match wait {
                    None => PollTimeout::NONE,
                    Some(w) => PollTimeout::try_from(w.as_millis().saturating_add(1))
                        .unwrap_or(PollTimeout::MAX),
                };
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => log::debug!("poll: {e}"),
                }
                let mut ready = [false; 4];
                for (slot, fd) in slots.into_iter().zip(&fds) {
                    ready[slot] = fd.any().unwrap_or(false);
                }
                ready
            };
            if ready[3] && feeder.as_mut().is_some_and(|f| !f.write_available()) {
                feeder = None;
            }
            for (ready, c, stream) in [
                (ready[0], &mut out, Stream::Stdout),
                (ready[1], &mut err, Stream::Stderr),
            ] {
                if ready && c.read_available(self.max_output) && failure.is_none() {
                    failure = Some(Failure::Overflow(stream));
                    signal_group(pgid, Signal::SIGKILL);
                    phase = Phase::Killing;
                    deadline = Some(Instant::now() + self.grace);
                }
            }
            if exited.is_none() && (ready[2] || pidfd.is_none()) {
                match child.try_wait() {
                    Ok(None) => {}
                    Ok(Some(status)) => exited = Some(Ok(status)),
                    Err(e) => exited = Some(Err(e)),
                }
                if exited.is_some() && phase == Phase::Running {
                    phase = Phase::Draining;
                    deadline = Some(Instant::now() + self.grace);
                }
            }
            if phase == Phase::Running && exited.is_none() && cancelled() {
                failure = Some(Failure::Cancelled);
                signal_group(pgid, Signal::SIGTERM);
                phase = Phase::Terminating;
                deadline = Some(Instant::now() + self.grace);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                match phase {
                    Phase::Running => {
                        failure = Some(Failure::Timeout);
                        signal_group(pgid, Signal::SIGTERM);
                        phase = Phase::Terminating;
                        deadline = Some(Instant::now() + self.grace);
                    }
                    Phase::Terminating => {
                        signal_group(pgid, Signal::SIGKILL);
                        phase = Phase::Killing;
                        deadline = Some(Instant::now() + self.grace);
                    }
                    // Out of patience with whoever still holds the pipes (outside the
                    // group, or left behind by a plugin that exited): stop reading.
                    Phase::Draining | Phase::Killing if exited.is_some() => break,
                    // SIGKILL always works in the end; wait for the reaper.
                    Phase::Draining | Phase::Killing => deadline = None,
                }
            }
        }
        if matches!(failure, Some(Failure::Timeout | Failure::Cancelled))
            && phase == Phase::Terminating
        {
            // Everything holding the pipes obeyed SIGTERM; members that closed them and
            // ignored it must not outlive the call either.
            signal_group(pgid, Signal::SIGKILL);
        }

        match failure {
            Some(Failure::Timeout) => {
                return Err(ExecError::Timeout(self.timeout.unwrap_or_default()))
            }
            Some(Failure::Cancelled) => return Err(ExecError::Cancelled),
            Some(Failure::Overflow(stream)) => {
                return Err(ExecError::OutputTooLarge {
                    stream,
                    limit: self.max_output,
                })
            }
            None => {}
        }
        let status = match exited {
            Some(Ok(s)) => s,
            Some(Err(e)) => return Err(ExecError::Wait(e)),
            None => return Err(ExecError::Wait(io::Error::other("plugin was not reaped"))),
        };
        let status = match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(sig)) => ExitStatus::Signal(sig),
            (None, None) => ExitStatus::Code(-1),
        };
        Ok(ExecOutput {
            status,
            stdout: out.buf,
            stderr: err.buf,
        })
    }
}

/// Sends `sig` to the plugin's process group; a group that is already gone is fine.
fn signal_group(pgid: Pid, sig: Signal) {
    match killpg(pgid, sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => log::debug!("killpg({pgid}, {sig}): {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Child {
        Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn large_stdin_is_fed_as_the_plugin_reads_with_and_without_a_pidfd() {
        // Four times a default pipe's capacity: written in several rounds of the loop.
        let input: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        for with_pidfd in [true, false] {
            let child = sh("cat; echo done >&2");
            let pidfd = with_pidfd.then(|| crate::sys::pidfd_open(child.id() as i32).unwrap());
            let out = RawExec::default()
                .supervise_with(child, input.clone(), pidfd, None)
                .unwrap();
            assert_eq!(out.status, ExitStatus::Code(0));
            assert!(out.stdout == input, "stdout differs (pidfd: {with_pidfd})");
            assert_eq!(out.stderr, b"done\n");
        }
    }

    #[test]
    fn without_a_pidfd_the_exit_is_still_seen_and_leftover_holders_drained() {
        let exec = RawExec {
            grace: Duration::from_millis(200),
            ..RawExec::default()
        };
        // The shell exits at once; the background sleep keeps stdout open for 5 s.
        let child = sh("echo out; sleep 5 & exit 3");
        let pgid = Pid::from_raw(child.id() as i32);
        let start = Instant::now();
        let out = exec.supervise_with(child, Vec::new(), None, None).unwrap();
        signal_group(pgid, Signal::SIGKILL);
        assert_eq!(out.status, ExitStatus::Code(3));
        assert_eq!(out.stdout, b"out\n");
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "waited {took:?} for the leftover"
        );
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        v.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn call_values_win_and_override_is_dropped() {
        let base = pairs(&[
            ("PATH", "/bin"),
            ("CNI_COMMAND", "DEL"),
            ("CNI_NETNS_OVERRIDE", "1"),
            ("CAP_ARGS", "{}"),
            ("CNI_OTHER", "kept"),
            ("PATH", "/usr/bin"),
        ]);
        let cni = [
            ("CNI_COMMAND", "ADD".to_owned()),
            ("CNI_ARGS", String::new()),
        ];
        assert_eq!(
            plugin_env(base, &cni),
            pairs(&[
                ("CAP_ARGS", "{}"),
                ("CNI_OTHER", "kept"),
                ("PATH", "/usr/bin"),
                ("CNI_COMMAND", "ADD"),
                ("CNI_ARGS", ""),
            ])
        );
    }
}
