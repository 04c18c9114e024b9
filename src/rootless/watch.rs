//! Watching the generation's holder and uplink while a run's command runs (`docs/ROOTLESS.md`,
//! "Uplink and holder during the command"): a thread polls their pidfds and reports the first one that ends, so the runner can
//! warn at once, or end the command with `--require-uplink`.

use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::state::{GenInfo, UplinkKind};

/// A running watch; dropping it stops the thread.
#[derive(Debug)]
pub struct Watch {
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
    /// Whether pidfds work here (else the caller falls back to a liveness check at the end).
    pub active: bool,
}

/// Starts watching the holder and the uplink of `info`; the first of them to end (or one
/// already gone) is sent on `tx` as a description, wrapped by `wrap`.
pub fn start<E: Send + 'static>(info: &GenInfo, tx: Sender<E>, wrap: fn(String) -> E) -> Watch {
    let uplink = match info.uplink_kind {
        UplinkKind::Pasta => "pasta",
        _ => "slirp4netns",
    };
    let mut fds = Vec::new();
    let mut gone = None;
    let holder = format!("the namespace holder (pid {})", info.holder.pid);
    match libcni::sys::pidfd_open(info.holder.pid) {
        // Checked after the open: the descriptor then names the recorded holder.
        Ok(fd) if info.holder_alive() => fds.push((holder, fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return inactive(),
        _ => gone = Some(holder),
    }
    match &info.uplink {
        Some(up) => {
            let what = format!("the uplink ({uplink}, pid {})", up.pid);
            match libcni::sys::pidfd_open(up.pid) {
                Ok(fd) if up.is_alive() => fds.push((what, fd)),
                _ => {
                    gone.get_or_insert(what);
                }
            }
        }
        None => {
            gone.get_or_insert(format!("the uplink ({uplink}) never started"));
        }
    }
    if let Some(what) = gone {
        let _ = tx.send(wrap(what));
        return inactive();
    }
    let Ok((stop_r, stop_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return inactive();
    };
    let thread = thread::Builder::new()
        .name("cnitool-watch".into())
        .spawn(move || {
            let mut polls: Vec<PollFd<'_>> = fds
                .iter()
                .map(|(_, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
                .collect();
            polls.push(PollFd::new(stop_r.as_fd(), PollFlags::POLLIN));
            loop {
                match poll(&mut polls, PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return,
                    Ok(_) => {}
                }
                // The stop pipe's writer closed: the command ended.
                if polls
                    .last()
                    .and_then(|p| p.revents())
                    .is_some_and(|r| !r.is_empty())
                {
                    return;
                }
                let ended = polls
                    .iter()
                    .zip(&fds)
                    .find(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()));
                if let Some((_, (what, _))) = ended {
                    let _ = tx.send(wrap(what.clone()));
                    return;
                }
            }
        })
        .ok();
    Watch {
        active: thread.is_some(),
        stop: Some(stop_w),
        thread,
    }
}

fn inactive() -> Watch {
    Watch {
        stop: None,
        thread: None,
        active: false,
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
