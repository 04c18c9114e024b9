//! `cnitool container run/attach/detach` and `gc` against real engines: Debian's docker.io
//! (a private dockerd) and podman (private storage and configuration), with an image made
//! from Debian's busybox-static (nothing is pulled). One test per scenario and engine, each
//! with its own engine in its own throwaway host (network, mount and cgroup namespaces, a
//! private layer over /etc, a cgroup subtree of its own), checking that nothing is left:
//! containers, namespaces, records, cache entries, host-local leases, veths, iptables rules
//! and chains, processes, cgroups.

mod docker;
mod host;
mod podman;
mod scenarios;
mod util;
