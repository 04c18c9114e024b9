//! Waiting for the command: what the main loop hears about ([`Event`]), the signals it
//! forwards meanwhile, and what it does when a rootless uplink is lost.

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::child::ChildEvent;
use super::signals::{Group, Received};

/// How long a command ended for a lost uplink has between SIGTERM and SIGKILL.
pub(crate) const END_GRACE: Duration = Duration::from_secs(10);

/// What the main loop hears about.
#[derive(Debug)]
pub(crate) enum Event {
    Signal(Received),
    Child(ChildEvent),
    /// Rootless: the shared namespace's uplink or holder ended (which one, for messages).
    Lost(String),
}

#[derive(Debug)]
pub(crate) enum Outcome {
    /// The command ran and ended.
    Exited(std::process::ExitStatus),
    /// The command's namespaces could not be prepared (exit 125, whatever the errno).
    SetupFailed(io::Error),
    /// The command could not be executed (126, 127, else 125).
    Failed(io::Error),
}

/// What [`wait_for_command`] does when the rootless namespace's uplink or holder ends while
/// the command runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OnLost {
    /// Warn on stderr (unless quiet) and let the command go on.
    Warn { quiet: bool },
    /// `--require-uplink`: end the command (SIGTERM, then SIGKILL after [`END_GRACE`]).
    End,
}

/// Forwards signals to the command until it ends (those that did not reach it already, see
/// [`Group`]). Returns how it ended and, for a rootless run, what of the shared namespace was
/// lost meanwhile.
pub(crate) fn wait_for_command(
    rx: &mpsc::Receiver<Event>,
    on_lost: OnLost,
    group: Group,
) -> (Outcome, Option<String>) {
    let mut pid = None;
    let mut queued = Vec::new();
    let mut lost = None;
    let mut kill_at: Option<Instant> = None;
    let mut ending = false;
    loop {
        let event = match kill_at {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(e) => Ok(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(p) = pid {
                        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                    }
                    kill_at = None;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(mpsc::RecvError),
            },
            None => rx.recv(),
        };
        let outcome = match event {
            Ok(Event::Signal(r)) => {
                match pid {
                    Some(p) if group.forwards(r) => {
                        let _ = kill(Pid::from_raw(p), r.signal);
                    }
                    Some(_) => {}
                    // Not started yet: it got nothing, whoever sent it.
                    None => queued.push(r.signal),
                }
                continue;
            }
            Ok(Event::Lost(what)) => {
                if lost.is_none() {
                    match on_lost {
                        OnLost::Warn { quiet: true } => {}
                        OnLost::Warn { quiet: false } => crate::diag!(
                            "cnitool: warning: the rootless namespace's uplink or holder died \
                             during the run ({what} ended): the command lost outbound \
                             connectivity"
                        ),
                        OnLost::End => {
                            crate::diag!(
                                "cnitool: the rootless namespace's uplink or holder died during \
                                 the run ({what} ended): ending the command (--require-uplink)"
                            );
                            ending = true;
                            match pid {
                                Some(p) => {
                                    let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
                                    kill_at = Some(Instant::now() + END_GRACE);
                                }
                                None => queued.push(Signal::SIGTERM),
                            }
                        }
                    }
                    lost = Some(what);
                }
                continue;
            }
            Ok(Event::Child(ChildEvent::Started(p))) => {
                pid = Some(p);
                for sig in queued.drain(..) {
                    let _ = kill(Pid::from_raw(p), sig);
                }
                if ending && kill_at.is_none() {
                    kill_at = Some(Instant::now() + END_GRACE);
                }
                continue;
            }
            Ok(Event::Child(ChildEvent::Exited(Ok(status)))) => Outcome::Exited(status),
            Ok(Event::Child(ChildEvent::Exited(Err(e)) | ChildEvent::Failed(e))) => {
                Outcome::Failed(e)
            }
            Ok(Event::Child(ChildEvent::SetupFailed(e))) => Outcome::SetupFailed(e),
            Err(_) => Outcome::Failed(io::Error::other("the command thread vanished")),
        };
        return (outcome, lost);
    }
}
