//! Rootless podman's user namespace, which the shared namespace must live in for podman's
//! containers to join a run netns.
//!
//! Rootless podman keeps one user namespace per user (held by its `podman pause` process),
//! and its containers, runtimes and `podman unshare` live in it. A container can join a
//! network namespace only when it has `CAP_SYS_ADMIN` over the user namespace that owns it,
//! so a run netns of a generation with a user namespace of its own (a sibling of podman's)
//! is out of reach: podman fails with "cannot find specified network namespace path ...
//! permission denied" (measured with podman 4.3). A generation started for a container
//! therefore has a holder that *joins* podman's user namespace instead of creating one;
//! plugins, the uplink and the command then run as root there, as they did in a namespace
//! of their own (the user is uid 0 in both), and podman's containers can join the run
//! netns, whose owner is that same namespace.

use std::fs::{self, File};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

use super::state::Proc;
use crate::container::engine::Engine;

/// A user namespace, by inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Userns {
    /// The inode of `/proc/PID/ns/user` of a process in it.
    pub ino: u64,
}

/// Asks podman which user namespace its rootless containers live in (`podman unshare`,
/// which starts podman's pause process if none runs).
///
/// # Errors
/// podman cannot be run, or fails (its own message).
pub fn userns(engine: &Engine) -> Result<Userns> {
    let out = engine
        .call(&["unshare", "readlink", "/proc/self/ns/user"])
        .map_err(|e| {
            anyhow!(
                "asking {} for its rootless user namespace (`{} unshare`): {e}",
                engine.kind.command_name(),
                engine.display()
            )
        })?;
    parse_ns_link(out.trim())
        .map(|ino| Userns { ino })
        .ok_or_else(|| {
            anyhow!(
                "{} unshare printed {:?} for its user namespace, not user:[INODE]",
                engine.display(),
                out.trim()
            )
        })
}

/// The user namespace of this user's running `podman pause` process or rootless `dockerd`
/// (under rootlesskit), if one runs: a new shared namespace is made in it even for a plain
/// run, so that the user's containers can join the runs' networks later (a generation in a
/// namespace of its own would have to end first). With several (podman with several run
/// roots, podman and docker), the newest: the one started last.
pub fn running_engine() -> Option<Userns> {
    let own = fs::metadata("/proc/self/ns/user").ok()?.ino();
    let mut newest: Option<(u64, Userns)> = None;
    for (pid, dir) in own_processes() {
        let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !matches!(comm.trim_end(), "podman pause" | "dockerd") {
            continue;
        }
        let Ok(ns) = fs::metadata(dir.join("ns/user")) else {
            continue;
        };
        // A dockerd of the user in the user's own namespace is not rootless.
        if ns.ino() == own {
            continue;
        }
        let started = Proc::of(pid).map_or(0, |p| p.start);
        if newest.is_none_or(|(t, _)| started > t) {
            newest = Some((started, Userns { ino: ns.ino() }));
        }
    }
    newest.map(|(_, ns)| ns)
}

/// This user's processes: PID and `/proc/PID`.
fn own_processes() -> impl Iterator<Item = (i32, PathBuf)> {
    let uid = nix::unistd::getuid().as_raw();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(move |entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            entry
                .metadata()
                .is_ok_and(|m| m.uid() == uid)
                .then(|| (pid, entry.path()))
        })
}

/// The inode of a namespace link's text, `user:[4026531837]`.
fn parse_ns_link(text: &str) -> Option<u64> {
    text.strip_prefix("user:[")?.strip_suffix(']')?.parse().ok()
}

/// A descriptor of the user namespace `ns`, opened through one of this user's processes in
/// it (podman's pause process while podman's namespace lives, or rootless docker's daemon
/// and containers).
///
/// # Errors
/// No process of this user is in it any more.
pub fn open(ns: Userns) -> Result<OwnedFd> {
    for (_, dir) in own_processes() {
        // Opened, then checked: the descriptor pins the namespace whatever the PID becomes.
        let Ok(file) = File::open(dir.join("ns/user")) else {
            continue;
        };
        if file.metadata().is_ok_and(|m| m.ino() == ns.ino) {
            return Ok(file.into());
        }
    }
    bail!(
        "the engine's user namespace (user:[{}]) has no process left to join it through; run \
         the command again (podman starts a new one; a rootless docker daemon must be running)",
        ns.ino
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_links() {
        assert_eq!(parse_ns_link("user:[4026531837]"), Some(4026531837));
        assert_eq!(parse_ns_link("net:[4026531837]"), None);
        assert_eq!(parse_ns_link("user:[x]"), None);
    }

    #[test]
    fn own_namespace_is_found() {
        let ino = fs::metadata("/proc/self/ns/user").unwrap().ino();
        let fd = open(Userns { ino }).unwrap();
        assert_eq!(File::from(fd).metadata().unwrap().ino(), ino);
    }
}
