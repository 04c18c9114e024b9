//! Running a real plugin process (Go's `invoke.RawExec`), without Go's bugs:
//!
//! - the plugin runs in its own process group, and a timeout ends the whole group (SIGTERM, a
//!   grace period, then SIGKILL), not only the plugin binary, so helpers it started die too;
//! - stdin is written on its own thread, so a plugin that never reads it cannot deadlock us;
//! - stdout and stderr are read concurrently and bounded;
//! - "text file busy" (ETXTBSY, the binary is still being written) is retried with a fresh
//!   command each time (Go re-runs the same `exec.Cmd`, which can never succeed);
//! - a `CNI_*` variable already in the environment cannot shadow the call's value (Go puts the
//!   call's values first and lets os/exec keep the last duplicate, the inherited one), and
//!   `CNI_NETNS_OVERRIDE`, which tells plugins to skip their netns checks, is never passed on.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::{Exec, ExecError, ExecOutput, ExecRequest, ExitStatus, Stream};

/// Spawn attempts after the first one when the binary is busy (ETXTBSY).
const ETXTBSY_RETRIES: u32 = 5;
/// First backoff; doubled after each busy attempt (10+20+40+80+160 ms in all).
const ETXTBSY_BACKOFF: Duration = Duration::from_millis(10);
/// Read buffer size.
const CHUNK: usize = 64 * 1024;

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
        let child = spawn(req, &env)?;
        self.supervise(child, req.stdin.to_vec())
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

/// What the helper threads report.
enum Event {
    /// The plugin (the group leader) ended.
    Exited(io::Result<std::process::ExitStatus>),
    /// A stream reached the output limit.
    Overflow(Stream),
    /// A stream reached end of file.
    Eof,
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
    Overflow(Stream),
}

/// The smallest capacity of a pipe (one page), which a write to an empty pipe never blocks
/// on.
const PAGE: usize = 4096;

impl RawExec {
    fn supervise(&self, mut child: Child, stdin: Vec<u8>) -> Result<ExecOutput, ExecError> {
        let pgid = Pid::from_raw(child.id() as i32);
        let (tx, rx) = mpsc::channel();

        if let Some(mut pipe) = child.stdin.take() {
            // Write errors (EPIPE from a plugin that closed stdin) are ignored: the exit status
            // tells what happened. A fresh pipe holds at least one page, so a config that
            // fits is written at once (most are); a larger one is written by a detached
            // thread, which ends when the plugin reads everything or closes stdin.
            if stdin.len() <= PAGE {
                let _ = pipe.write_all(&stdin);
            } else {
                thread::spawn(move || {
                    let _ = pipe.write_all(&stdin);
                });
            }
        }
        let mut readers = Vec::new();
        for (stream, pipe) in [
            (
                Stream::Stdout,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                Stream::Stderr,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            let buf = Arc::new(Mutex::new(Vec::new()));
            if let Some(pipe) = pipe {
                let (buf2, tx2, max) = (Arc::clone(&buf), tx.clone(), self.max_output);
                thread::spawn(move || read_bounded(pipe, &buf2, max, stream, &tx2));
            } else {
                let _ = tx.send(Event::Eof);
            }
            readers.push(buf);
        }
        let waiter_tx = tx;
        thread::spawn(move || {
            // Always reaped, whatever the supervisor decides: no zombies.
            let _ = waiter_tx.send(Event::Exited(child.wait()));
        });

        let start = Instant::now();
        let mut deadline = self.timeout.map(|t| start + t);
        let mut phase = Phase::Running;
        let mut exited = None;
        let mut eofs = 0;
        let mut failure = None;
        while exited.is_none() || eofs < 2 {
            let event = match deadline {
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Exited(status)) => {
                    exited = Some(status);
                    if phase == Phase::Running {
                        phase = Phase::Draining;
                        deadline = Some(Instant::now() + self.grace);
                    }
                }
                Ok(Event::Eof) => eofs += 1,
                Ok(Event::Overflow(stream)) => {
                    if failure.is_none() {
                        failure = Some(Failure::Overflow(stream));
                        signal_group(pgid, Signal::SIGKILL);
                        phase = Phase::Killing;
                        deadline = Some(Instant::now() + self.grace);
                    }
                }
                Err(RecvTimeoutError::Timeout) => match phase {
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
                },
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if matches!(failure, Some(Failure::Timeout)) && phase == Phase::Terminating {
            // Everything holding the pipes obeyed SIGTERM; members that closed them and
            // ignored it must not outlive the call either.
            signal_group(pgid, Signal::SIGKILL);
        }

        match failure {
            Some(Failure::Timeout) => {
                return Err(ExecError::Timeout(self.timeout.unwrap_or_default()))
            }
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
        let take = |b: &Arc<Mutex<Vec<u8>>>| {
            std::mem::take(&mut *b.lock().unwrap_or_else(|p| p.into_inner()))
        };
        Ok(ExecOutput {
            status,
            stdout: take(&readers[0]),
            stderr: take(&readers[1]),
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

/// Reads `pipe` to its end, keeping at most `max` bytes in `buf`; reports overflow once and
/// keeps draining (so the writer is not blocked while it is being killed).
fn read_bounded(
    mut pipe: Box<dyn Read + Send>,
    buf: &Mutex<Vec<u8>>,
    max: usize,
    stream: Stream,
    tx: &mpsc::Sender<Event>,
) {
    let mut chunk = vec![0u8; CHUNK];
    let mut overflowed = false;
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if overflowed {
                    continue;
                }
                let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
                let room = max - b.len();
                if n > room {
                    b.extend_from_slice(&chunk[..room]);
                    overflowed = true;
                    let _ = tx.send(Event::Overflow(stream));
                } else {
                    b.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(Event::Eof);
}

#[cfg(test)]
mod tests {
    use super::*;

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
