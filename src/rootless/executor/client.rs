//! The runner's side of an executor: starting it (a fork when possible, else
//! `cnitool __rootless-sandbox`), sending requests, reading answers, the command's events.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use anyhow::{anyhow, bail, Context as _, Result};

use super::protocol::{CommandSpec, Reply, Request, Response};
use super::server::forked_main;
use crate::cmd::Context;
use crate::rootless::holder::{self_command, self_exec_error};
use crate::supervise::child::ChildEvent;
use crate::sys;

/// The holder's namespaces, as descriptors the runner opened once.
#[derive(Debug)]
pub struct NsFds {
    /// `/proc/<holder>/ns/user`.
    pub user: File,
    /// `/proc/<holder>/ns/mnt`.
    pub mnt: File,
    /// `/proc/<holder>/ns/net` (the outer netns).
    pub net: File,
}

impl NsFds {
    /// Opens them (the caller has checked the holder's identity and re-checks it on `user`).
    pub fn open(pid: i32) -> io::Result<NsFds> {
        let o = |n: &str| File::open(format!("/proc/{pid}/ns/{n}"));
        Ok(NsFds {
            user: o("user")?,
            mnt: o("mnt")?,
            net: o("net")?,
        })
    }
}

/// The runner's side of an executor process.
#[derive(Debug)]
pub struct Executor {
    proc: Handle,
    requests: Option<File>,
    replies: Option<BufReader<File>>,
    /// A request that starts the command after its ADDs was sent, and what became of the
    /// command is not read yet (see [`Executor::await_command`], [`Executor::abort_command`]).
    command_pending: bool,
}

/// How the executor was started.
#[derive(Debug)]
enum Handle {
    /// `cnitool __rootless-sandbox` (gc, fallbacks, runs of a multi-threaded runner).
    Spawned(Child),
    /// A fork of the runner, without exec (see [`Executor::start`]).
    Forked(nix::unistd::Pid),
}

impl Executor {
    /// Starts a run's executor (with the command's stdio, see [`Executor::spawn`]) on its
    /// first request, whose answer [`Executor::receive`] then reads: a fork of this process
    /// when it is single-threaded (the usual warm run: no exec and no start-up of a new
    /// program, about 1.5-2 ms less; the child has the request in its copy of memory and
    /// starts on it at once), else a new `cnitool __rootless-sandbox`.
    ///
    /// # Errors
    /// The process cannot be started.
    pub fn start(ctx: &Context, fds: &NsFds, gen: &Path, first: &Request) -> Result<Executor> {
        let (req_r, req_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
        let (rep_r, rep_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")?;
        let parent = nix::unistd::getpid();
        match sys::fork_single_threaded() {
            Ok(Some(sys::Forked::Child)) => {
                drop((req_w, rep_r));
                let code = forked_main(ctx, fds, gen, parent, first, req_r, rep_w);
                std::process::exit(code);
            }
            Ok(Some(sys::Forked::Parent(pid))) => Ok(Executor {
                proc: Handle::Forked(nix::unistd::Pid::from_raw(pid)),
                requests: Some(File::from(req_w)),
                replies: Some(BufReader::new(File::from(rep_r))),
                command_pending: first.command.is_some(),
            }),
            Ok(None) | Err(_) => {
                let mut ex = Executor::spawn(ctx, fds, gen, true)?;
                ex.send(first)?;
                ex.command_pending = first.command.is_some();
                Ok(ex)
            }
        }
    }

    /// Starts an executor in the holder's namespaces. With `command`, it also prepares to
    /// start the run's command: it takes this process's stdin, stdout and stderr for it, and
    /// unshares the command's mount namespace from this process's view before it enters the
    /// holder's (the holder's is a stale snapshot: `docs/ROOTLESS.md`, decision 11).
    ///
    /// # Errors
    /// The process cannot be started.
    pub fn spawn(ctx: &Context, fds: &NsFds, gen: &Path, command: bool) -> Result<Executor> {
        let mut cmd = self_command();
        let dirs: Vec<String> = ctx
            .cni
            .plugin_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        cmd.arg("--plugin-dir")
            .arg(dirs.join(":"))
            .arg("--cache-dir")
            .arg(gen.join("cache"))
            .arg("--timeout")
            .arg(format!("{}ms", ctx.timeout.as_millis()));
        if ctx.verbose {
            cmd.arg("--verbose");
        } else if ctx.quiet {
            cmd.arg("--quiet");
        }
        cmd.arg("__rootless-sandbox")
            .arg(fds.user.as_raw_fd().to_string())
            .arg(fds.mnt.as_raw_fd().to_string())
            .arg(fds.net.as_raw_fd().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut pass = vec![
            fds.user.as_raw_fd(),
            fds.mnt.as_raw_fd(),
            fds.net.as_raw_fd(),
        ];
        // Copies (close-on-exec here) of this process's stdio for the command; -1 where one
        // is closed (the command gets /dev/null there).
        let stdio: Vec<Option<OwnedFd>> = if command {
            vec![
                io::stdin().as_fd().try_clone_to_owned().ok(),
                io::stdout().as_fd().try_clone_to_owned().ok(),
                io::stderr().as_fd().try_clone_to_owned().ok(),
            ]
        } else {
            Vec::new()
        };
        if command {
            let nums: Vec<String> = stdio
                .iter()
                .map(|f| f.as_ref().map_or(-1, |f| f.as_raw_fd()).to_string())
                .collect();
            cmd.arg(format!("--command={}", nums.join(",")));
            pass.extend(stdio.iter().flatten().map(|f| f.as_raw_fd()));
        }
        sys::inherit_fds(&mut cmd, pass);
        sys::kill_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| self_exec_error("the plugin executor", e))?;
        drop(stdio);
        Ok(Executor {
            command_pending: false,
            requests: child.stdin.take().map(|p| File::from(OwnedFd::from(p))),
            replies: child
                .stdout
                .take()
                .map(|p| BufReader::new(File::from(OwnedFd::from(p)))),
            proc: Handle::Spawned(child),
        })
    }

    /// The executor's PID.
    pub fn pid(&self) -> i32 {
        match &self.proc {
            Handle::Spawned(c) => c.id() as i32,
            Handle::Forked(p) => p.as_raw(),
        }
    }

    fn send(&mut self, req: &Request) -> Result<()> {
        let mut line = serde_json::to_vec(req)?;
        line.push(b'\n');
        let requests = self
            .requests
            .as_mut()
            .context("the plugin executor was closed")?;
        requests
            .write_all(&line)
            .map_err(|e| self.died(&format!("sending it a request: {e}")))
    }

    /// The error for an executor that stopped answering (with its exit status when it ended).
    fn died(&mut self, what: &str) -> anyhow::Error {
        drop(self.requests.take());
        self.command_pending = false;
        let status = match &mut self.proc {
            Handle::Spawned(c) => c.wait().map(|st| st.to_string()),
            Handle::Forked(p) => nix::sys::wait::waitpid(*p, None)
                .map(|st| format!("{st:?}"))
                .map_err(io::Error::from),
        };
        match status {
            Ok(st) => anyhow!("the plugin executor failed ({st}; {what})"),
            Err(e) => anyhow!("the plugin executor failed ({what}; {e})"),
        }
    }

    /// Sends a request (ADD, DEL, netns) and waits for its answer.
    ///
    /// # Errors
    /// The executor died, or reported an error before any plugin ran.
    pub fn request(&mut self, req: &Request) -> Result<Response> {
        self.send(req)?;
        self.receive()
    }

    /// Waits for the answer to the request sent last.
    ///
    /// # Errors
    /// The executor died, or reported an error before any plugin ran.
    pub fn receive(&mut self) -> Result<Response> {
        let reply = match self.replies.as_mut() {
            Some(r) => read_reply(r),
            None => Err(anyhow!("its answers are being read elsewhere")),
        };
        match reply {
            Ok(Some(Reply::Done(resp))) => match &resp.error {
                Some(e) => bail!("{e}"),
                None => Ok(resp),
            },
            Ok(Some(other)) => bail!("the plugin executor answered {other:?} out of turn"),
            Ok(None) => Err(self.died("no answer")),
            Err(e) => Err(self.died(&format!("{e:#}"))),
        }
    }

    /// Starts the command (the executor must have been spawned with `command` and have made
    /// the run's netns) and returns at once: its start and end arrive on `tx` as
    /// [`ChildEvent`]s, wrapped by `wrap`. Give the returned handle to [`Executor::resume`]
    /// once the end has arrived.
    ///
    /// # Errors
    /// The executor died.
    pub fn start_command<E: Send + 'static>(
        &mut self,
        spec: CommandSpec,
        tx: Sender<E>,
        wrap: fn(ChildEvent) -> E,
    ) -> Result<JoinHandle<Option<BufReader<File>>>> {
        self.send(&Request {
            command: Some(spec),
            ..Request::default()
        })?;
        self.await_command(tx, wrap)
    }

    /// As [`Executor::start_command`], for the command the first request carried (the
    /// executor started it right after the ADDs, which succeeded).
    ///
    /// # Errors
    /// The reader thread cannot be started.
    pub fn await_command<E: Send + 'static>(
        &mut self,
        tx: Sender<E>,
        wrap: fn(ChildEvent) -> E,
    ) -> Result<JoinHandle<Option<BufReader<File>>>> {
        self.command_pending = false;
        let mut replies = self
            .replies
            .take()
            .context("the executor's answers are gone")?;
        thread::Builder::new()
            .name("cnitool-exec".into())
            .spawn(move || loop {
                let event = match read_reply(&mut replies) {
                    Ok(Some(Reply::Started(pid))) => {
                        let _ = tx.send(wrap(ChildEvent::Started(pid)));
                        continue;
                    }
                    Ok(Some(Reply::Exited(raw))) => {
                        ChildEvent::Exited(Ok(ExitStatus::from_raw(raw)))
                    }
                    Ok(Some(Reply::SetupFailed(e))) => ChildEvent::SetupFailed(io::Error::other(e)),
                    Ok(Some(Reply::NotStarted)) => ChildEvent::SetupFailed(io::Error::other(
                        "the plugin executor did not start the command",
                    )),
                    Ok(Some(other)) => ChildEvent::SetupFailed(io::Error::other(format!(
                        "the plugin executor answered {other:?} out of turn"
                    ))),
                    Ok(None) | Err(_) => {
                        // It died (the command died with it: parent-death signal).
                        let _ = tx.send(wrap(ChildEvent::SetupFailed(io::Error::other(
                            "the plugin executor ended during the command",
                        ))));
                        return None;
                    }
                };
                let _ = tx.send(wrap(event));
                return Some(replies);
            })
            .context("starting the executor reader")
    }

    /// When the first request carried the command and the run is being undone before the
    /// command's end was awaited (an error or a signal after the ADDs): reads what became of
    /// it, and SIGKILLs it if it was started, so that the executor serves the DEL next.
    pub fn abort_command(&mut self) {
        if !std::mem::take(&mut self.command_pending) {
            return;
        }
        let Some(replies) = self.replies.as_mut() else {
            return;
        };
        loop {
            match read_reply(replies) {
                Ok(Some(Reply::Started(pid))) => {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                Ok(Some(_)) | Ok(None) | Err(_) => return,
            }
        }
    }

    /// Takes the answers back after the command ended (see [`Executor::start_command`]).
    pub fn resume(&mut self, reader: JoinHandle<Option<BufReader<File>>>) {
        self.replies = reader.join().ok().flatten();
    }

    /// Ends the executor: closes its requests. It has answered everything and exits on
    /// its own; not waiting for that saves its teardown (the sandbox mounts, its memory)
    /// from the run's time. It is reaped here if it is already gone, else by init once this
    /// process exits.
    pub fn finish(mut self) {
        drop(self.requests.take());
        match &mut self.proc {
            Handle::Spawned(c) => {
                let _ = c.try_wait();
            }
            Handle::Forked(p) => {
                let _ = nix::sys::wait::waitpid(*p, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// Reads one answer line; `None` at end of file.
fn read_reply(r: &mut BufReader<File>) -> Result<Option<Reply>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(&line).context("the plugin executor's reply")?,
    ))
}

/// Runs one request in a fresh executor and returns its response (gc, fallbacks).
///
/// # Errors
/// The executor failed or reported an error before any plugin ran.
pub fn call(ctx: &Context, fds: &NsFds, req: &Request) -> Result<Response> {
    let mut ex = Executor::spawn(ctx, fds, &req.gen, false)?;
    let resp = ex.request(req);
    ex.finish();
    resp
}
