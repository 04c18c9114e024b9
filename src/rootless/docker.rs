//! Rootless docker's user namespace, which the shared namespace must live in for docker's
//! containers to reach a run netns (`docs/ROOTLESS.md`, decision 23).
//!
//! A rootless docker daemon runs under rootlesskit: rootlesskit's child holds a user
//! namespace (the user is root there, the subordinate IDs are mapped) with a mount and a
//! network namespace of its own, and dockerd, containerd and the containers live in that user
//! namespace. Docker has no `--network ns:PATH`; a container joins another one's network
//! namespace (`--network container:ID`). So a rootless `container run --engine docker` starts
//! a pause container with `--network none`, whose network namespace is owned by rootlesskit's
//! user namespace; the holder joins that user namespace (as it joins podman's, see
//! [`super::podman`]), the executor binds the pause container's network namespace as the run
//! netns and ADDs there, and the container then joins the pause container's.

use std::fs;
use std::os::unix::fs::MetadataExt as _;

use anyhow::{anyhow, Result};

use super::podman::Userns;
use crate::container::engine::ContainerInfo;

/// The user namespace a running docker container of the user's rootless daemon lives in
/// (its first process's).
///
/// # Errors
/// The container does not run, or runs as root: a rootful daemon's container (its process is
/// not the user's, or it is in this process's own user namespace), whose network namespace
/// only root can change.
pub fn userns_of(info: &ContainerInfo) -> Result<Userns> {
    let rootful = || {
        anyhow!(
            "docker container {} belongs to a rootful docker daemon (it runs as root): as a \
             plain user, cnitool puts only a rootless daemon's containers (dockerd under \
             rootlesskit, DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock) on your rootless \
             networks; run cnitool as root for this daemon",
            info.name
        )
    };
    if info.pid <= 0 {
        return Err(crate::conflict!("container {} is not running", info.name));
    }
    let proc_dir = format!("/proc/{}", info.pid);
    let owner = fs::metadata(&proc_dir)
        .map_err(|e| anyhow!("container {}: {proc_dir}: {e}", info.name))?
        .uid();
    if owner != nix::unistd::getuid().as_raw() {
        return Err(rootful());
    }
    // The PID docker reports must be the container's first process as seen here: the first
    // process of a PID namespace right below this one. A daemon in a PID namespace of its
    // own (rootlesskit --pidns) reports PIDs of that namespace, which name other processes
    // here.
    let status = fs::read_to_string(format!("{proc_dir}/status")).unwrap_or_default();
    if !is_container_init(&status, info.pid) {
        return Err(anyhow!(
            "docker container {}: PID {} as docker reports it is not the container's first \
             process here (a daemon in a PID namespace of its own, such as rootlesskit \
             --pidns, or a container in another's PID namespace, such as --pid=host): not \
             supported rootless",
            info.name,
            info.pid
        ));
    }
    let ns = fs::metadata(format!("{proc_dir}/ns/user"))
        .map_err(|e| anyhow!("container {}: {proc_dir}/ns/user: {e}", info.name))?
        .ino();
    let own = fs::metadata("/proc/self/ns/user")?.ino();
    if ns == own {
        return Err(rootful());
    }
    Ok(Userns { ino: ns })
}

/// Whether `/proc/PID/status` says that `pid` is the first process of a PID namespace right
/// below this one (`NSpid:\tPID\t1`).
fn is_container_init(status: &str, pid: i32) -> bool {
    let Some(line) = status.lines().find_map(|l| l.strip_prefix("NSpid:")) else {
        return false;
    };
    let ids: Vec<&str> = line.split_whitespace().collect();
    ids == [pid.to_string().as_str(), "1"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_init() {
        let status = |nspid: &str| format!("Name:\tsleep\nNSpid:\t{nspid}\nNSsid:\t1\n");
        assert!(is_container_init(&status("4242\t1"), 4242));
        // In this PID namespace itself (--pid=host), or two levels below (rootlesskit --pidns).
        assert!(!is_container_init(&status("4242"), 4242));
        assert!(!is_container_init(&status("4242\t35\t1"), 4242));
        assert!(!is_container_init(&status("4243\t1"), 4242));
        assert!(!is_container_init("Name:\tsleep\n", 4242));
    }
}
