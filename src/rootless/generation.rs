//! Joining the shared rootless namespace: the pre-flight checks, then, under the lock, the
//! live generation (or a new one, with its holder and uplink; a dead uplink restarted and
//! the live runs' ports published again) and the holder's namespaces opened once. A private
//! run (`--rootless-netns private`) always starts a generation of its own, never made
//! `current`, so no other run finds it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

use super::cleanup::run_id;
use super::executor::NsFds;
use super::state::{Gen, GenInfo, Root, UplinkKind};
use super::uplink::{self, Forward};
use super::{holder, NetnsMode, Options};

/// Where the shared namespace is, for one runner: generation, identity, held descriptors.
#[derive(Debug)]
pub struct Attached {
    /// The generation.
    pub gen: Gen,
    /// Its processes.
    pub info: GenInfo,
    /// The holder's namespaces, opened once (they keep working if the holder dies).
    pub fds: NsFds,
    /// Processes this runner started (its orphan killer must spare them).
    pub started: Vec<i32>,
}

/// Pre-flight checks that need no state: helper installed, tun, user namespaces.
pub fn preflight(opts: &Options) -> Result<(UplinkKind, std::path::PathBuf)> {
    let found = uplink::resolve(opts.uplink)?;
    if fs::read_to_string("/proc/sys/user/max_user_namespaces").is_ok_and(|s| s.trim() == "0") {
        bail!(
            "user namespaces are disabled (user.max_user_namespaces = 0); enable them as root: \
             sysctl -w user.max_user_namespaces=15000"
        );
    }
    if fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
        .is_ok_and(|s| s.trim() == "0")
    {
        bail!(
            "unprivileged user namespaces are disabled; enable them as root: \
             sysctl -w kernel.unprivileged_userns_clone=1"
        );
    }
    uplink::check_tun()?;
    Ok(found)
}

/// Finds the live generation or starts one (with its uplink), restarting a dead uplink;
/// opens the holder's namespaces; with [`NetnsMode::Private`], starts one for this run only
/// ([`start_private`]). Called under the lock.
pub fn attach(
    root: &Root,
    kind: UplinkKind,
    program: &Path,
    opts: &Options,
    mode: NetnsMode,
    forwards: &[Forward],
) -> Result<Attached> {
    if mode == NetnsMode::Private {
        return start_private(root, kind, program, opts, forwards);
    }
    let mut started = Vec::new();
    let mut live = root
        .current()
        .map(|n| root.gen(&n))
        .and_then(|g| Some((g.info()?, g)))
        .filter(|(info, _)| info.holder_alive());
    if let (Some(want), Some((info, gen))) = (opts.userns, &live) {
        if info.userns_ino != want.ino {
            if !gen.live_runs().is_empty() {
                bail!(
                    "the shared rootless namespace lives in another user namespace than the \
                     engine's containers (user:[{}], the engine's is user:[{}]: podman's pause \
                     process or the rootless docker daemon was restarted since, the runs \
                     started before any container, or they are another engine's): wait for its \
                     runs to end, or `cnitool rootless stop`",
                    info.userns_ino,
                    want.ino
                );
            }
            // Idle (its holder had not ended it yet): replaced by one in podman's namespace.
            gen.destroy();
            root.clear_current(&gen.name);
            live = None;
        }
    }
    let (gen, mut info) = match live {
        Some((info, gen)) => {
            if info.allow_host_loopback != opts.allow_host_loopback {
                bail!(
                    "the shared rootless namespace runs {} host loopback access; runs of one \
                     user share it: wait for its runs to end, or `cnitool rootless stop`",
                    if info.allow_host_loopback {
                        "with"
                    } else {
                        "without"
                    }
                );
            }
            if opts.uplink != UplinkKind::Auto && info.uplink_kind != kind {
                bail!(
                    "the shared rootless namespace uses {:?} as its uplink; wait for its runs \
                     to end, or `cnitool rootless stop`",
                    info.uplink_kind
                );
            }
            (gen, info)
        }
        None => {
            if let Some(old) = root.current() {
                crate::diag!(
                    "cnitool: holder of generation {old} is gone: starting a new generation"
                );
            }
            let (gen, info) = holder::start(
                root,
                kind,
                opts.allow_host_loopback,
                // Podman's or rootless docker's, if one runs: its containers can then join
                // this generation.
                opts.userns.or_else(super::podman::running_engine),
                false,
            )?;
            started.push(info.holder.pid);
            (gen, info)
        }
    };
    let fresh = info.uplink.is_none();
    if !info.uplink_alive() {
        if !fresh {
            crate::diag!(
                "cnitool: uplink of generation {} is gone: restarting it",
                gen.name
            );
        }
        let program = match info.uplink_kind {
            k if k == kind => program.to_path_buf(),
            k => uplink::resolve(k)?.1,
        };
        // Shared: pasta takes no port (refused before), slirp4netns's come through its API.
        if let Err(e) = uplink::start(&gen, &mut info, &program, &[]) {
            if fresh {
                gen.destroy();
            }
            return Err(e);
        }
        started.extend(info.uplink.as_ref().map(|p| p.pid));
        if fresh {
            root.set_current(&gen.name)?;
        } else {
            replay_forwards(&gen);
        }
    }
    open(gen, info, started)
}

/// Starts a generation for one run (`--rootless-netns private`): its own holder and uplink
/// (pasta with the run's ports, `forwards`), never made `current`. Its end is a shared
/// generation's: the runner's gc at the end of the run, the holder when its run is gone, or
/// any later gc (no live run, not current).
fn start_private(
    root: &Root,
    kind: UplinkKind,
    program: &Path,
    opts: &Options,
    forwards: &[Forward],
) -> Result<Attached> {
    // Its own user namespace unless one is asked for: no container joins a private run.
    let (gen, mut info) = holder::start(root, kind, opts.allow_host_loopback, opts.userns, true)?;
    let mut started = vec![info.holder.pid];
    if let Err(e) = uplink::start(&gen, &mut info, program, forwards) {
        gen.destroy();
        return Err(e);
    }
    started.extend(info.uplink.as_ref().map(|p| p.pid));
    // Nobody else knows it: it goes with a failure.
    open(gen.clone(), info, started).inspect_err(|_| gen.destroy())
}

/// Opens the holder's namespaces of `gen`, checked against its recorded user namespace.
fn open(gen: Gen, info: GenInfo, started: Vec<i32>) -> Result<Attached> {
    let fds = NsFds::open(info.holder.pid).context("opening the holder's namespaces")?;
    // The PID could have been reused between the check and the open.
    if fds.user.metadata()?.ino() != info.userns_ino {
        bail!(
            "the holder of generation {} exited just now; try again",
            gen.name
        );
    }
    Ok(Attached {
        gen,
        info,
        fds,
        started,
    })
}

/// Adds the forwards of every live run again (after an uplink restart).
fn replay_forwards(gen: &Gen) {
    for (path, rec) in gen.live_runs() {
        let id = run_id(&path);
        let file = gen.ports_file(&id);
        let mut fwds = uplink::read_forwards(&file);
        for f in &mut fwds {
            match uplink::add_forward(gen, f) {
                Ok(n) => f.id = Some(n),
                Err(e) => crate::diag!("warning: run of pid {}: {e:#}", rec.owner.pid),
            }
        }
        if !fwds.is_empty() {
            let _ =
                super::state::write_atomic(&file, &serde_json::to_vec(&fwds).unwrap_or_default());
        }
    }
}
