//! What a container run can leave on the throwaway host beyond the engine's own state: the
//! shared leak snapshot (`testsupport::snapshot`: links, addresses, routes, host-local
//! leases, cnitool's files, iptables and nft rules, namespace bind mounts), less what belongs
//! to the engines themselves (their processes, sockets and namespace files, checked apart:
//! the containers by the engine, the processes by the test's reaper). Taken once as a
//! baseline after a warm-up run (so what the plugins keep by design, the bridge and portmap's
//! shared chains, is in it) and compared after every scenario.

use std::path::Path;

use testsupport::snapshot::{Dirs, Snapshot};

use crate::util::Env;

/// portmap's top-level chains: made by its first ADD and kept by design, shared by every
/// mapping (each DEL removes only its own `CNI-DN-*` chain and the rules naming it).
pub const PORTMAP_SHARED_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
];

/// Reads the calling thread's host (the throwaway one) for the test of `env`.
pub fn take(env: &Env) -> Snapshot {
    let ipam = env.ipam_dir();
    let mut snap = Snapshot::take(Dirs {
        netns: &env.run_dir,
        cache: &env.cache_dir,
        ipam: &ipam,
    });
    let engines = [env.base.join("docker"), env.base.join("podman")];
    snap.retain("nsfs mounts", |m| {
        !engines.iter().any(|d| Path::new(m).starts_with(d))
    });
    for engine_own in ["processes", "listening sockets"] {
        snap.categories.remove(engine_own);
    }
    snap
}
