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
