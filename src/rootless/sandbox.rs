//! The plugin executor (ROOTLESS.md §7.2.3-5, §7.6): `cnitool __rootless-sandbox`, a child of
//! the runner that enters the holder's namespaces through descriptors the runner holds
//! (`setns(CLONE_NEWUSER)` is refused in a multi-threaded process, hence a process of its
//! own, which is single-threaded when it enters them). It serves requests, one JSON line
//! each on stdin, and answers with JSON lines on stdout:
//!
//! 1. in the holder's mount namespace: creates the run's netns (unshare, `lo` up, bind mount
//!    onto `gen/G/netns/<run>`) or removes one (unmount, unlink);
//! 2. in the outer netns and a private copy of that mount view (the sandbox): a tmpfs on
//!    `/var/lib` with the generation's `cni/` at `/var/lib/cni`, a tmpfs on `/run` (iptables
//!    legacy's `/run/xtables.lock`, `/run/netns`), and the state directory bound back at its
//!    own path, recursively, so the run netns mounts under it stay valid;
//! 3. runs the unmodified plugins there with libcni (ADD or DEL, the networks at once);
//! 4. with `--command`, starts the run's command (see [`Exec::start_command`]) and reports
//!    its PID and its exit.
//!
//! A run uses one executor for all of it (ADD, the command, DEL and the netns removal), so a
//! warm run starts one `cnitool` helper process instead of three; `gc` and the fallbacks use a
//! fresh one per request ([`call`]). The sandbox dies with the process: neither the holder nor
//! the command ever sees those mounts.

use std::fs::{self, File};
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use anyhow::{anyhow, bail, Context as _, Result};
use libcni::netns::NetnsId;
use libcni::{NetworkConfigList, RuntimeConf};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::holder::{self_command, self_exec_error};
use super::SandboxArgs;
use crate::cmd::Context;
use crate::ns::{self, CloneFlags};
use crate::supervise::child::ChildEvent;
use crate::sys;

/// One network to ADD or DEL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attach {
    /// The network list's bytes.
    pub list: String,
    /// The container ID.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: PathBuf,
    /// The interface.
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: Vec<(String, String)>,
    /// Capability arguments.
    pub caps: Map<String, Value>,
}

/// What the executor does, in this order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The state directory (kept visible in the sandbox).
    pub state: PathBuf,
    /// The generation directory (its `cni/` becomes `/var/lib/cni`).
    pub gen: PathBuf,
    /// Create this run netns.
    pub create_netns: Option<PathBuf>,
    /// Remove this run netns (after the DELs when there are any: back in the holder's mount
    /// namespace, saving a second executor; see [`Response::removed_netns`]).
    pub remove_netns: Option<PathBuf>,
    /// ADD these (all at once); on failure the caller DELs.
    pub add: Vec<Attach>,
    /// DEL these (all at once).
    pub del: Vec<Attach>,
    /// One network after another.
    pub sequential: bool,
    /// Start the command in the netns this executor created: alone in its request, or with
    /// the ADDs of the run (`create_netns` and `add`), right after them when they all
    /// succeeded (saving a round trip through the runner); the answer to the ADDs is then
    /// followed by exactly one of the replies `NotStarted`, `SetupFailed`, or `Started` then
    /// `Exited`.
    pub command: Option<CommandSpec>,
}

/// The command of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// File to bind over `/etc/resolv.conf`.
    pub resolv: Option<PathBuf>,
    /// Hostname (in a UTS namespace of its own).
    pub hostname: Option<String>,
    /// With the ADDs in the same request: the executor writes `resolv` from the results (their
    /// DNS), or with this text when they carry none.
    #[serde(default)]
    pub resolv_default: Option<String>,
    /// Start the command in a process group of its own (see `run::Group`).
    #[serde(default)]
    pub own_group: bool,
}

/// What it did: per ADD/DEL, the result JSON or the error text; `error` for the rest.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// ADD/DEL outcomes, in request order.
    pub outcomes: Vec<Result<Value, String>>,
    /// A failure before any plugin ran (namespaces, mounts).
    pub error: Option<String>,
    /// Whether `remove_netns` was done (after DELs it can fail to re-enter the holder's mount
    /// namespace; then the caller asks a fresh executor).
    #[serde(default)]
    pub removed_netns: bool,
    /// The identity (`st_dev`, `st_ino`) of the netns `create_netns` made.
    #[serde(default)]
    pub netns: Option<(u64, u64)>,
}

/// One line of the executor's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Reply {
    /// The answer to an ADD/DEL/netns request.
    Done(Response),
    /// The command runs with this PID.
    Started(i32),
    /// The command ended with this wait status (or could not be executed: 126, 127, 125).
    Exited(i32),
    /// The command's namespaces or mounts could not be prepared.
    SetupFailed(String),
    /// The command of an ADD request was not started: an ADD failed, or a signal the runner
    /// handles is pending here (a terminal's SIGINT reaches the whole process group).
    NotStarted,
}

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
    /// holder's (the holder's is a stale snapshot: ROOTLESS.md "Mount view").
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

/// The executor's state between requests. Where the process is, it asks the kernel
/// ([`ns::is_current`]); it never remembers it (see `src/ns.rs`).
struct Exec {
    holder_mnt: OwnedFd,
    outer_net: OwnedFd,
    /// The command's mount namespace, unshared from the runner's view at start.
    cmd_mnt: Option<OwnedFd>,
    /// The sandbox's mount namespace, once made.
    sandbox: Option<OwnedFd>,
    /// The run netns this executor made.
    run_net: Option<OwnedFd>,
    /// The command's stdin, stdout and stderr.
    stdio: Vec<Option<OwnedFd>>,
    /// The runner's working directory (the command starts there).
    cwd: Option<PathBuf>,
}

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

/// A forked executor's main (see [`Executor::start`]): keeps only its own descriptors (an
/// inherited copy of the runner's lock descriptor would keep the lock held), takes the
/// parent-death signal, and serves the requests on `requests` with a context whose result
/// cache is the generation's. Returns the exit status.
fn forked_main(
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

impl Exec {
    /// Enters the holder's user namespace (and, for a command, unshares its mount namespace
    /// from the runner's view), then the holder's mount namespace and the outer netns.
    fn enter(
        [user, mnt, net]: [OwnedFd; 3],
        stdio: Vec<Option<OwnedFd>>,
        command: bool,
    ) -> Result<Exec> {
        let parent = nix::unistd::getppid();
        ns::enter(&user, CloneFlags::CLONE_NEWUSER)
            .context("entering the rootless user namespace")?;
        // Changing credentials may clear the parent-death signal: set it again, then make
        // sure the runner did not die in between.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .context("setting the parent-death signal")?;
        if nix::unistd::getppid() != parent {
            bail!("the runner exited");
        }
        let mut cwd = None;
        let cmd_mnt = if !command {
            None
        } else {
            cwd = std::env::current_dir().ok();
            ns::unshare(CloneFlags::CLONE_NEWNS)
                .context("creating the command's mount namespace")?;
            // Nothing done in the command's view may propagate back to the runner's.
            libcni::netns::make_mounts_slave()?;
            Some(File::open("/proc/thread-self/ns/mnt")?.into())
        };
        ns::enter(&mnt, CloneFlags::CLONE_NEWNS)
            .context("entering the holder's mount namespace")?;
        ns::enter(&net, CloneFlags::CLONE_NEWNET)
            .context("entering the outer network namespace")?;
        drop(user);
        Ok(Exec {
            holder_mnt: mnt,
            outer_net: net,
            cmd_mnt,
            sandbox: None,
            run_net: None,
            stdio,
            cwd,
        })
    }

    fn serve(&mut self, ctx: &Context, req: &Request) -> Result<Response> {
        let mut resp = Response::default();
        if let Some(path) = &req.create_netns {
            self.enter_holder()?;
            let run_net = create_netns(path)?;
            let m = run_net.metadata()?;
            resp.netns = Some((m.dev(), m.ino()));
            self.run_net = Some(run_net.into());
        }
        let remove_later = req.remove_netns.as_ref().filter(|_| !req.del.is_empty());
        if let (Some(path), None) = (&req.remove_netns, remove_later) {
            self.enter_holder()?;
            remove_netns(path)?;
            resp.removed_netns = true;
        }
        if req.add.is_empty() && req.del.is_empty() {
            return Ok(resp);
        }
        self.enter_sandbox_ns(&req.state, &req.gen)?;
        let parse = |a: &Attach| -> Result<(NetworkConfigList, RuntimeConf)> {
            let list = libcni::conf::conf_list_from_bytes(a.list.as_bytes(), None)?;
            let rt = RuntimeConf {
                container_id: a.container_id.clone(),
                netns: a.netns.clone(),
                ifname: a.ifname.clone(),
                args: a.args.clone(),
                capability_args: a.caps.clone(),
            };
            Ok((list, rt))
        };
        let add = |a: &Attach| -> Result<Value, String> {
            let (list, rt) = parse(a).map_err(|e| format!("{e:#}"))?;
            let r = ctx
                .cni
                .add_network_list(&list, &rt)
                .map_err(|e| format!("adding network {:?} as {}: {e}", list.name, rt.ifname))?;
            serde_json::to_value(r.to_v1().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
        };
        let del = |a: &Attach| -> Result<Value, String> {
            let (list, rt) = parse(a).map_err(|e| format!("{e:#}"))?;
            ctx.cni
                .del_network_list(&list, &rt)
                .map_err(|e| format!("deleting network {:?}: {e}", list.name))?;
            Ok(Value::Null)
        };
        resp.outcomes = crate::supervise::for_each(&req.add, req.sequential, add);
        resp.outcomes
            .extend(crate::supervise::for_each(&req.del, req.sequential, del));
        if let Some(path) = remove_later {
            // On failure the caller removes it with a fresh executor.
            resp.removed_netns = self
                .enter_holder()
                .and_then(|()| remove_netns(path))
                .is_ok();
        }
        Ok(resp)
    }

    /// Into the holder's mount namespace (and the outer netns).
    fn enter_holder(&mut self) -> Result<()> {
        self.enter_outer()?;
        if !ns::is_current(&self.holder_mnt, CloneFlags::CLONE_NEWNS) {
            ns::enter_mount(&self.holder_mnt)
                .context("re-entering the holder's mount namespace")?;
        }
        Ok(())
    }

    /// Into the sandbox (made on first use, from the holder's mount namespace).
    fn enter_sandbox_ns(&mut self, state: &Path, gen: &Path) -> Result<()> {
        self.enter_outer()?;
        match &self.sandbox {
            Some(sandbox) => {
                if !ns::is_current(sandbox, CloneFlags::CLONE_NEWNS) {
                    ns::enter_mount(sandbox).context("re-entering the plugin sandbox")?;
                }
            }
            None => {
                self.enter_holder()?;
                enter_sandbox(state, gen)?;
                self.sandbox = Some(File::open("/proc/thread-self/ns/mnt")?.into());
            }
        }
        Ok(())
    }

    /// Into the outer netns.
    fn enter_outer(&mut self) -> Result<()> {
        if !ns::is_current(&self.outer_net, CloneFlags::CLONE_NEWNET) {
            ns::enter(&self.outer_net, CloneFlags::CLONE_NEWNET)
                .context("re-entering the outer network namespace")?;
        }
        Ok(())
    }

    /// Starts the command in the run's netns and the command's mount namespace (unshared from
    /// the runner's view when this executor started), as uid 0 of the user namespace, with
    /// a fresh sysfs, the run's resolv.conf and hostname, in the runner's working directory,
    /// with the runner's stdio, and `PR_SET_PDEATHSIG` (it dies with this executor, which dies
    /// with the runner). Then returns to the outer netns, or ends this process when it cannot
    /// ([`ns::restore`]); plugins run afterwards (DEL) re-enter the sandbox. `Ok(Err(status))`: it could not be executed (message printed, status as
    /// `cnitool run` documents it).
    fn start_command(&mut self, spec: &CommandSpec) -> Result<Result<Child, i32>> {
        let Some(argv0) = spec.argv.first() else {
            bail!("no command");
        };
        let cmd_mnt = self
            .cmd_mnt
            .take()
            .context("this executor was not started for a command (or started one already)")?;
        let Some(run_net) = &self.run_net else {
            bail!("this executor made no run netns");
        };
        ns::enter_mount(&cmd_mnt).context("entering the command's mount namespace")?;
        ns::enter(run_net, CloneFlags::CLONE_NEWNET)
            .context("joining the run's network namespace")?;
        if let Some(name) = &spec.hostname {
            // This process stays in that UTS namespace (the original one belongs to the
            // host's user namespace: no way back); nothing here uses the hostname.
            ns::unshare(CloneFlags::CLONE_NEWUTS)
                .context("creating the command's UTS namespace")?;
            nix::unistd::sethostname(name).context("setting the hostname")?;
        }
        // The netns is owned by our user namespace, so a fresh sysfs (showing its interfaces)
        // may be mounted over the host's; not fatal where a kernel refuses it.
        let _ = mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        );
        if let Some(resolv) = &spec.resolv {
            crate::supervise::child::bind_resolv_conf(resolv)?;
        }
        // setns into a mount namespace moved this process to its root.
        let cwd = self.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
        if std::env::set_current_dir(&cwd).is_err() {
            let _ = std::env::set_current_dir("/");
        }
        let mut cmd = Command::new(argv0);
        cmd.args(&spec.argv[1..]);
        let mut stdio = std::mem::take(&mut self.stdio).into_iter();
        let mut next = || match stdio.next().flatten() {
            Some(fd) => Stdio::from(fd),
            None => Stdio::null(),
        };
        cmd.stdin(next()).stdout(next()).stderr(next());
        if spec.own_group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        sys::kill_with_parent(&mut cmd);
        let spawned = cmd.spawn();
        drop(cmd);
        drop(cmd_mnt);
        let _ = std::env::set_current_dir("/");
        ns::restore(
            &self.outer_net,
            CloneFlags::CLONE_NEWNET,
            "returning to the outer network namespace after starting the command",
        );
        match spawned {
            Ok(child) => Ok(Ok(child)),
            Err(err) => {
                let (code, what) = crate::exit::exec_failure(argv0.as_ref(), &err);
                crate::diag!("cnitool: {argv0}: {what}");
                Ok(Err(i32::from(code) << 8))
            }
        }
    }
}

/// Unmounts and removes a run netns file (in the current mount namespace: the holder's).
fn remove_netns(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(anyhow!(e).context(format!("unmounting {}", path.display()))),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!(e).context(format!("removing {}", path.display()))),
    }
}

/// Creates the run's network namespace at `path` with `lo` up (in the current mount
/// namespace: the holder's, the only one where plugins and later executors look) and opens
/// it. [`libcni::netns::create`] does the work on a thread of its own: this one stays where
/// it is.
fn create_netns(path: &Path) -> Result<File> {
    let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(dir), Some(name)) => (dir, name),
        _ => bail!("{}: not a run netns path", path.display()),
    };
    libcni::netns::create(dir, name, libcni::netns::CreateOptions { lo_up: true })
        .context("creating the run's network namespace")?;
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// The plugin sandbox mounts (ROOTLESS.md "What must be private-mounted").
fn enter_sandbox(state: &Path, gen: &Path) -> Result<()> {
    ns::unshare(CloneFlags::CLONE_NEWNS).context("creating the plugin sandbox mount namespace")?;
    let m = |src: Option<&Path>,
             dst: &Path,
             fstype: Option<&str>,
             flags: MsFlags,
             data: Option<&str>| {
        mount(src, dst, fstype, flags, data)
            .with_context(|| format!("sandbox: mounting on {}", dst.display()))
    };
    m(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    // Reach the state directory through a descriptor, since the tmpfs mounts below may
    // cover its path (it is usually under /run).
    let keep = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(state)
        .with_context(|| format!("opening {}", state.display()))?;
    let via = PathBuf::from(format!("/proc/self/fd/{}", keep.as_raw_fd()));
    let rel = gen
        .strip_prefix(state)
        .context("the generation is not under the state dir")?;
    let nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    m(
        Some(Path::new("tmpfs")),
        Path::new("/var/lib"),
        Some("tmpfs"),
        nodev,
        Some("mode=755"),
    )?;
    fs::create_dir("/var/lib/cni").context("sandbox: creating /var/lib/cni")?;
    m(
        Some(&via.join(rel).join("cni")),
        Path::new("/var/lib/cni"),
        None,
        MsFlags::MS_BIND,
        None,
    )?;
    m(
        Some(Path::new("tmpfs")),
        Path::new("/run"),
        Some("tmpfs"),
        nodev,
        Some("mode=755"),
    )?;
    fs::create_dir_all(state).with_context(|| format!("sandbox: creating {}", state.display()))?;
    // Recursive: a plain bind would drop the run netns mounts under it (measured).
    m(
        Some(&via),
        state,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    drop(keep);
    Ok(())
}

/// The identity of a netns the executor reported.
pub fn netns_id((dev, ino): (u64, u64)) -> NetnsId {
    NetnsId { dev, ino }
}
