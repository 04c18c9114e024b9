//! Ctrl-C and SIGTERM during `add`, `del` and `check`: the plugin running then is stopped and
//! the operation ends as on any failure (ADD rolls back), instead of the tool dying and
//! leaving the plugin (in a process group of its own, out of the terminal's reach) running.
//!
//! The library installs no signal handler: the binary blocks the signals, waits for them on
//! a thread of its own and fires the library's [`Cancel`] (which the plugin executor and the
//! operations share, see [`crate::cmd::Context`]). A second signal interrupts the rollback
//! too. The exit status is then 128+N, as for a command killed by signal N (and as `run`'s
//! interrupted setup). A third one ends the tool at once, whatever it is doing (waiting for
//! a lock another process holds, say), and says what may be left.

use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;

use anyhow::{Context as _, Result};
use libcni::invoke::Cancel;
use nix::sys::signal::{SigSet, Signal};

/// The last handled signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal that ends the tool at once.
const FORCE_AT: u32 = 3;

/// The signals that interrupt a verb.
fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and starts the thread that takes
/// them, each firing `cancel`. Must run before any other thread starts, so that every
/// thread inherits the mask (a thread without it would take the default action: death).
/// Plugins do not inherit the mask: the standard library clears it in every child.
///
/// # Errors
/// The mask cannot be set or the thread cannot be started.
pub fn install(cancel: Cancel) -> Result<()> {
    let set = handled();
    set.thread_block().context("blocking signals")?;
    thread::Builder::new()
        .name("cnitool-interrupt".into())
        .spawn(move || {
            for n in 1.. {
                let Ok(sig) = set.wait() else { continue };
                RECEIVED.store(sig as i32, Ordering::SeqCst);
                if n >= FORCE_AT {
                    crate::diag!(
                        "error: interrupted {n} times (the last by {}): exiting now; a plugin \
                         may still be running and the attachment be half made or half removed \
                         (`cnitool attachments` shows what is recorded, `cnitool del` removes it)",
                        sig.as_str()
                    );
                    std::process::exit(i32::from(exit_status()));
                }
                cancel.cancel();
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// The signal that interrupted the verb, if one did.
pub fn received() -> Option<Signal> {
    Signal::try_from(RECEIVED.load(Ordering::SeqCst)).ok()
}

/// The exit status for an interrupted verb: 128+N for signal N (SIGINT if none was recorded,
/// as when the library was cancelled some other way).
pub fn exit_status() -> u8 {
    128 + received().unwrap_or(Signal::SIGINT) as u8
}

/// The error of an interrupted verb: what was done about it (`state`), on top of `err`
/// (which carries the verb's own context), or `err` itself when it is no interruption.
pub fn explain(err: anyhow::Error, state: impl FnOnce(&libcni::Error) -> String) -> anyhow::Error {
    let Some(lib) = err.chain().find_map(|c| c.downcast_ref::<libcni::Error>()) else {
        return err;
    };
    if lib.kind() != libcni::ErrorKind::Interrupted {
        return err;
    }
    let name = received().map_or("a signal", Signal::as_str);
    let note = format!("interrupted by {name}; {}", state(lib));
    err.context(note)
}
