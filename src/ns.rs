//! Every namespace switch of the binary: `setns` and `unshare` are called here and nowhere
//! else in `src/` (the library has its own, in `crates/libcni/src/netns/`).
//!
//! The rule, stated once: a switch moves the calling *thread* (network, UTS) or needs a
//! single-threaded *process* (user namespaces; mount namespaces need a filesystem context no
//! other thread shares). So the binary switches only
//! - on a dedicated thread that ends with the work it was made for
//!   (`supervise::child`: the thread that starts the command), or
//! - in a process that exists for it and is single-threaded when it switches
//!   (`netns exec` before it execs, the rootless holder, the uplink helper, the rootless
//!   plugin executor).
//!
//! Never on a thread that goes on to other work and "switches back": if a switch back were
//! to fail, that thread would carry on in the wrong namespace. The one process that does
//! move between namespaces to serve several requests, the rootless plugin executor, returns
//! with [`restore`], which ends the process when it cannot; and it asks the kernel where it
//! is ([`is_current`]) instead of remembering it.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

pub use nix::sched::CloneFlags;

/// Moves the calling thread into the namespace `ns` of type `kind` (`setns(2)`).
pub fn enter(ns: impl AsFd, kind: CloneFlags) -> nix::Result<()> {
    nix::sched::setns(ns, kind)
}

/// Enters a mount namespace. `setns(CLONE_NEWNS)` is refused (EINVAL) while another thread
/// shares this process's filesystem context, and threads that were just joined may still be
/// finishing their exit in the kernel: a short bounded retry (50 ms at most).
pub fn enter_mount(ns: impl AsFd) -> nix::Result<()> {
    let mut tries = 0;
    loop {
        match nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNS) {
            Err(nix::errno::Errno::EINVAL) if tries < 200 => {
                tries += 1;
                std::thread::sleep(Duration::from_micros(250));
            }
            other => return other,
        }
    }
}

/// Moves the calling thread (or, for a user or mount namespace, the single-threaded
/// process) into new namespaces of the `flags` types (`unshare(2)`).
pub fn unshare(flags: CloneFlags) -> nix::Result<()> {
    nix::sched::unshare(flags)
}

/// Whether the calling thread is in the namespace `ns` of type `kind` (compared by device
/// and inode with `/proc/thread-self/ns/<kind>`). `false` when either cannot be read.
pub fn is_current(ns: impl AsFd, kind: CloneFlags) -> bool {
    let name = match kind {
        CloneFlags::CLONE_NEWNET => "net",
        CloneFlags::CLONE_NEWNS => "mnt",
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWUTS => "uts",
        _ => return false,
    };
    let Ok(here) = std::fs::metadata(format!("/proc/thread-self/ns/{name}")) else {
        return false;
    };
    let Ok(there) = ns.as_fd().try_clone_to_owned().map(std::fs::File::from) else {
        return false;
    };
    there
        .metadata()
        .is_ok_and(|m| m.dev() == here.dev() && m.ino() == here.ino())
}

/// Returns the calling thread to the namespace `ns` it came from, or ends the process
/// (exit status 125, `what` on stderr): a process that cannot get back must not serve
/// anything more from the wrong namespace. Mount namespaces go through [`enter_mount`].
pub fn restore(ns: impl AsFd, kind: CloneFlags, what: &str) {
    let back = if kind == CloneFlags::CLONE_NEWNS {
        enter_mount(ns)
    } else {
        enter(ns, kind)
    };
    if let Err(e) = back {
        crate::diag!("cnitool: {what}: {e}; ending this process");
        std::process::exit(125);
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use libcni::netns::NewNamespaces;

    use super::*;

    #[test]
    fn is_current_asks_the_kernel_for_the_calling_thread() {
        let net = File::open("/proc/thread-self/ns/net").unwrap();
        assert!(is_current(&net, CloneFlags::CLONE_NEWNET));
        // A network namespace is not this thread's mount namespace.
        assert!(!is_current(&net, CloneFlags::CLONE_NEWNS));
        // On a thread in a new network namespace (the library's, gone with the thread), this
        // thread's namespace is elsewhere and its own is current.
        let only_net = NewNamespaces {
            net: true,
            mount: false,
        };
        let (own, outer) = libcni::netns::run_in_new(only_net, || {
            let own = File::open("/proc/thread-self/ns/net").unwrap();
            (
                is_current(&own, CloneFlags::CLONE_NEWNET),
                is_current(&net, CloneFlags::CLONE_NEWNET),
            )
        })
        .unwrap();
        assert!(own && !outer);
    }
}
