//! The holder of a generation (`docs/ROOTLESS.md`, "Processes"): `cnitool __rootless-holder GEN_DIR`, a
//! detached process that creates the user + mount + network namespaces the shared networks
//! live in, keeps them alive, and keeps the write end of the uplink's exit FIFO open (so
//! slirp4netns exits when the holder does, whatever kills it).
//!
//! It also ends its generation when no live run is left and the lock is free (a runner
//! killed with SIGKILL leaves nothing for long): it kills the uplink and removes the
//! generation directory; the namespaces, the run netns mounts (which exist only in its mount
//! namespace) and everything the plugins made in the outer netns go with it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Write as _};
use std::os::fd::AsFd as _;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;
use nix::unistd::{getegid, geteuid, mkfifo};

use super::state::{Gen, GenInfo, Proc, Root, UplinkKind};
use crate::ns::{self, CloneFlags};
use crate::sys;

/// How long a new holder may take to report its namespaces ready.
const READY_LIMIT: Duration = Duration::from_secs(10);
/// How often the holder looks for live runs.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The holder's main (single-threaded until here, as `unshare(CLONE_NEWUSER)` and
/// `setns(CLONE_NEWUSER)` require). `userns_fd`: an inherited descriptor of a user namespace
/// to join instead of creating one (podman's, see [`super::podman`]).
pub fn main(gen_dir: &Path, userns_fd: Option<i32>) -> ExitCode {
    let mut out = io::stdout();
    let fifo = match setup(gen_dir, userns_fd) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "error: {e:#}");
            return ExitCode::from(1);
        }
    };
    let _ = writeln!(out, "ok");
    let _ = out.flush();
    // Nobody reads stdout any more.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1);
    }
    watch(gen_dir);
    drop(fifo);
    ExitCode::SUCCESS
}

fn setup(gen_dir: &Path, userns_fd: Option<i32>) -> Result<File> {
    match userns_fd {
        Some(fd) => join_userns(fd)?,
        None => create_userns()?,
    }
    // Slave: host mounts made later still arrive where / is shared; nothing goes back.
    libcni::netns::make_mounts_slave()?;
    libcni::netns::set_link_up("lo").context("setting lo up")?;
    super::uplink::prepare_outer_netns();
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(gen_dir.join("exit.fifo"))
        .context("opening the exit FIFO")
}

/// Joins the user namespace of `fd` (this user owns it, so has every capability there),
/// then makes the mount and network namespaces, owned by it.
fn join_userns(fd: i32) -> Result<()> {
    let fd = sys::take_inherited_fd(fd);
    ns::enter(&fd, CloneFlags::CLONE_NEWUSER).context("joining podman's user namespace")?;
    ns::unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .context("creating the mount and network namespaces in podman's user namespace")
}

/// Makes a user namespace where this user is root (nothing else mapped), with a mount and
/// a network namespace.
fn create_userns() -> Result<()> {
    let (uid, gid) = (geteuid(), getegid());
    ns::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(|e| {
            anyhow!(
                "cannot create a user namespace ({e}): user namespaces are disabled or \
                 exhausted; enable them (sysctl user.max_user_namespaces=15000, and \
                 kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 \
                 where those exist)"
            )
        })?;
    // A one-line map of the caller's own IDs needs no newuidmap (measured: `docs/ROOTLESS.md`, decision 2).
    fs::write("/proc/self/setgroups", "deny").context("writing /proc/self/setgroups")?;
    fs::write("/proc/self/uid_map", format!("0 {uid} 1")).context("writing uid_map")?;
    fs::write("/proc/self/gid_map", format!("0 {gid} 1")).context("writing gid_map")?;
    Ok(())
}

/// Waits until the generation has no live run (and nobody holds the lock), then ends it.
fn watch(gen_dir: &Path) {
    let Some((root, gen)) = locate(gen_dir) else {
        return;
    };
    // The uplink last recorded: pasta has no exit FIFO, so it would outlive this holder when
    // the directory goes without a `rootless stop` (the runtime directory removed).
    let mut uplink: Option<Proc> = None;
    loop {
        thread::sleep(WATCH_EVERY);
        if !gen.dir.exists() {
            // `rootless stop` removed it (the uplink is gone then), or someone else did.
            if let Some(up) = uplink {
                up.kill_and_wait(Duration::from_secs(2));
            }
            return;
        }
        if let Some(up) = gen.info().and_then(|i| i.uplink) {
            uplink = Some(up);
        }
        if !gen.live_runs().is_empty() {
            continue;
        }
        let Ok(Some(_lock)) = root.try_lock() else {
            continue; // A runner is creating, registering or tearing down.
        };
        if gen.live_runs().is_empty() {
            if let Some(up) = gen.info().and_then(|i| i.uplink) {
                up.kill_and_wait(Duration::from_secs(2));
            }
            // In this mount namespace the run netns files are mount points (EBUSY), and so
            // is their directory (`libcni::netns::create` makes it a shared mount).
            let netns_dir = gen.dir.join("netns");
            if let Ok(rd) = fs::read_dir(&netns_dir) {
                for e in rd.flatten() {
                    let _ = nix::mount::umount2(&e.path(), nix::mount::MntFlags::MNT_DETACH);
                }
            }
            let _ = nix::mount::umount2(&netns_dir, nix::mount::MntFlags::MNT_DETACH);
            let _ = fs::remove_dir_all(&gen.dir);
            root.clear_current(&gen.name);
            return;
        }
    }
}

/// The root and generation of a generation directory (`<root>/gen/<name>`).
fn locate(gen_dir: &Path) -> Option<(Root, Gen)> {
    let name = gen_dir.file_name()?.to_str()?.to_owned();
    let root = Root {
        dir: gen_dir.parent()?.parent()?.to_path_buf(),
    };
    let gen = root.gen(&name);
    Some((root, gen))
}

/// Creates a new generation: its directory and its holder (not yet the uplink), in a user
/// namespace of its own or, with `userns`, in that one; `private`: one run's (see
/// [`GenInfo::private`]).
pub fn start(
    root: &Root,
    kind: UplinkKind,
    allow_host_loopback: bool,
    userns: Option<super::podman::Userns>,
    private: bool,
) -> Result<(Gen, GenInfo)> {
    let gen = root.gen(&format!("g{}", crate::supervise::random_hex()));
    let mut dirs = DirBuilder::new();
    dirs.mode(0o700);
    dirs.create(&gen.dir)
        .with_context(|| format!("creating {}", gen.dir.display()))?;
    let made = (|| -> Result<(Gen, GenInfo)> {
        for sub in ["cni", "cache", "netns", "ports"] {
            dirs.create(gen.dir.join(sub))?;
        }
        mkfifo(&gen.dir.join("exit.fifo"), Mode::from_bits_truncate(0o600))
            .context("creating the exit FIFO")?;
        let log = File::create(gen.dir.join("holder.log"))?;
        let mut cmd = self_command();
        cmd.arg("__rootless-holder").arg(&gen.dir);
        // Kept open until the holder has joined it (this process's copy closes after spawn).
        let userns_fd = userns.map(super::podman::open).transpose()?;
        if let Some(fd) = &userns_fd {
            let raw = std::os::fd::AsRawFd::as_raw_fd(fd);
            cmd.arg(format!("--userns-fd={raw}"));
            sys::inherit_fds(&mut cmd, vec![raw]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        sys::detach(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| self_exec_error("the namespace holder", e))?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take().expect("piped");
        let ready = wait_line(stdout, READY_LIMIT);
        drop(userns_fd);
        let line = match ready {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the namespace holder did not start: {e:#}");
            }
        };
        if line.trim() != "ok" {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{}", line.trim().trim_start_matches("error: "));
        }
        let info = GenInfo {
            holder: Proc::of(pid)?,
            userns_ino: super::state::userns_ino(pid)?,
            uplink_kind: kind,
            uplink: None,
            allow_host_loopback,
            private,
        };
        // Reaped here while this runner lives; by init (or a subreaper) afterwards.
        thread::spawn(move || child.wait());
        gen.write_info(&info)?;
        Ok((gen.clone(), info))
    })();
    if made.is_err() {
        gen.destroy();
    }
    made
}

/// Reads one line from a pipe within `limit`.
fn wait_line(pipe: std::process::ChildStdout, limit: Duration) -> Result<String> {
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
    let n = poll(&mut fds, PollTimeout::from(ms)).context("waiting for the holder")?;
    if n == 0 {
        bail!("not ready after {limit:?}");
    }
    let mut line = String::new();
    BufReader::new(pipe).read_line(&mut line)?;
    if line.is_empty() {
        bail!("it exited before it was ready");
    }
    Ok(line)
}

/// What the helpers (holder, executor, uplink starter) run: this very binary, through
/// `/proc/self/exe`, not by its path. The kernel follows that link to the running file
/// without walking the path, so the re-execution works where the path does not: a binary in
/// a directory this user cannot enter (started through a descriptor, or by a user the
/// directory lets in), or replaced or deleted since it started.
pub const SELF_EXE: &str = "/proc/self/exe";

/// A command that re-executes this binary (see [`SELF_EXE`]), with its real path as
/// `argv[0]` so that `ps` shows what runs.
pub fn self_command() -> Command {
    let mut cmd = Command::new(SELF_EXE);
    if let Ok(path) = std::env::current_exe() {
        cmd.arg0(path);
    }
    cmd
}

/// Why re-executing this binary as `what` failed, naming the binary and what was denied.
pub fn self_exec_error(what: &str, err: io::Error) -> anyhow::Error {
    let path =
        std::env::current_exe().map_or_else(|_| SELF_EXE.to_owned(), |p| p.display().to_string());
    let why = match err.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "executing {path} (through {SELF_EXE}) was denied: {err} (the file needs execute \
             permission for this user, on a file system not mounted noexec)"
        ),
        _ => format!("executing {path} (through {SELF_EXE}): {err}"),
    };
    anyhow!("starting {what}: {why}")
}

/// Names a helper process `cnitool` (started through [`SELF_EXE`], the kernel named it
/// `exe`), for `ps`, `top` and `pgrep`.
pub fn name_helper() {
    let _ = nix::sys::prctl::set_name(c"cnitool");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_re_execution_names_the_binary_and_the_denial() {
        let err = self_exec_error(
            "the namespace holder",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        let me = std::env::current_exe().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "starting the namespace holder: executing {} (through /proc/self/exe) was \
                 denied: Permission denied (os error 13) (the file needs execute permission \
                 for this user, on a file system not mounted noexec)",
                me.display()
            )
        );
    }
}
