//! The binary's only `unsafe`: process attributes set in a child between fork and exec.
#![allow(unsafe_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::{getpid, getppid};

/// Makes the child get SIGKILL when the thread that spawned it dies (`PR_SET_PDEATHSIG`),
/// so a command never outlives a runner killed with SIGKILL. The spawning thread must stay
/// alive while the child runs: the signal follows the thread, not the process. Also clears
/// the signal mask the child would inherit (`run` blocks the signals it waits for).
pub fn kill_with_parent(cmd: &mut Command) {
    let parent = getpid();
    // SAFETY: the closure runs in the forked child before exec. It only calls sigprocmask(2),
    // prctl(2) and getppid(2), all async-signal-safe, allocates nothing and touches no lock,
    // so it is sound in a child forked from a multi-threaded process.
    unsafe {
        cmd.pre_exec(move || {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(io::Error::from)?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl: the signal would never come.
            if getppid() != parent {
                return Err(io::Error::other("parent exited before the command started"));
            }
            Ok(())
        });
    }
}

/// Starts the child in a session of its own (`setsid`), with an empty signal mask, so that a
/// long-lived helper (the rootless namespace holder, the uplink) gets no signal meant for the
/// runner's terminal or process group and can be ended with SIGTERM.
pub fn detach(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and calls only sigprocmask(2)
    // and setsid(2), both async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(io::Error::from)?;
            nix::unistd::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
}

/// Lets the child inherit these descriptors, which are close-on-exec in this process (so no
/// other child, spawned concurrently by another thread, gets them). The child sees them under
/// the same numbers.
pub fn inherit_fds(cmd: &mut Command, fds: Vec<std::os::fd::RawFd>) {
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl(2), which
    // is async-signal-safe, on descriptor numbers copied in before the fork; it allocates
    // nothing (the Vec was allocated before the fork and is only read).
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Takes ownership of a descriptor the parent let this process inherit (see
/// [`inherit_fds`]) and whose number it passed on the command line. Refuses numbers that are
/// not open, or are stdin/stdout/stderr.
pub fn take_inherited_fd(fd: std::os::fd::RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd as _;
    // fcntl(F_GETFD) fails only for a descriptor that is not open.
    // SAFETY: F_GETFD reads the descriptor's flags and has no other effect.
    let open = fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
    if !open {
        crate::diag!("cnitool: internal error: descriptor {fd} was not inherited");
        std::process::exit(125);
    }
    // Close-on-exec again, so it goes no further than this process (the plugin executor
    // starts plugins and the command).
    let _ = nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // SAFETY: the descriptor is open (checked above), and the parent passed it to this
    // process for this one owner: nothing else in this process refers to the number.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// What [`fork_single_threaded`] returns in each process.
#[derive(Debug)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In the caller, with the child's PID.
    Parent(i32),
}

/// Forks the calling process without exec, when it has exactly one thread; `Ok(None)` when it
/// has more (the caller then starts a new program instead). The child must end with
/// `std::process::exit` and never return into code written for the parent.
///
/// # Errors
/// `/proc/self/status` cannot be read, or fork(2) failed.
pub fn fork_single_threaded() -> io::Result<Option<Forked>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    if threads != Some(1) {
        return Ok(None);
    }
    // SAFETY: fork(2) is unsafe because the child of a multi-threaded process gets only the
    // calling thread, while locks (the allocator's, stdio's) may be held by the others, so
    // it may call only async-signal-safe functions. This process has exactly one thread
    // (checked just above; only this thread could have started another in between), so the
    // child is a complete and consistent copy and may run any code. The caller's contract
    // (end with exit, never return into the parent's code) keeps the child from dropping
    // the parent's resources twice.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => Ok(Some(Forked::Child)),
        nix::unistd::ForkResult::Parent { child } => Ok(Some(Forked::Parent(child.as_raw()))),
    }
}
