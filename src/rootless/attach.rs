//! `cnitool container attach` and `detach` for a plain user: a running rootless podman or
//! docker container on the user's rootless networks, until `detach`, or until it stops (then
//! the holder, the next rootless run or `cnitool gc` undoes the attachment).
//!
//! The attachment is a run of the shared namespace (in the engine's user namespace, see
//! [`super::podman`] and [`super::docker`]) without a command: its record's owner is the
//! container's first process (PID and start time), its run netns is the container's network
//! namespace bound in the holder's mount namespace (so that DEL still finds it after the
//! container is gone), and its CNI container ID is the container's full ID. `-p` is
//! published as for a run.

use std::fs;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use libcni::cache::Cache;

use super::cleanup::{attaches, gc_locked, undo_run};
use super::executor::{self, NsFds, Request};
use super::generation::{attach as join_generation, preflight};
use super::podman::Userns;
use super::run::{finish_gen, publish_forwards, split_ports, user_first};
use super::state::{Root, UplinkKind};
use super::{dirs, uplink, NetnsMode, Options};
use crate::cmd::container::attach::{print_attached, running_container, AttachArgs};
use crate::cmd::container::detach::DetachArgs;
use crate::cmd::Context;
use crate::container::engine::{ContainerInfo, Engine, EngineError, EngineKind};
use crate::supervise::record::{EngineContainer, Owner, PlannedAttachment, RunRecord};

/// The record and run netns name of a container's attachment.
fn record_id(container_id: &str) -> String {
    format!("c{}", &container_id[..container_id.len().min(12)])
}

/// The user namespace the engine's containers live in, which the shared namespace must live
/// in: podman's (its pause process), or for docker the one of `container` (a running
/// container of a rootless daemon: rootlesskit's).
pub(super) fn engine_userns(engine: &Engine, container: &ContainerInfo) -> Result<Userns> {
    match engine.kind {
        EngineKind::Podman => super::podman::userns(engine),
        EngineKind::Docker => super::docker::userns_of(container),
    }
}

/// Runs `container attach` as a plain user.
pub fn attach(args: &AttachArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = args.engine.engine();
    if args.cni_name.is_some() || !args.add_host.is_empty() {
        return Err(crate::usage!(
            "container attach --name/--add-host: not available rootless (the engine's /etc/hosts \
             of a rootless container is not rewritten); use `container run --name` for a \
             container that others resolve by name"
        ));
    }
    let ctx = user_first(ctx);
    let nets = super::run::resolve_networks(&args.nets, &ctx)?;
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    args.plugin.require_capabilities(&lists, &[])?;
    let mut caps = args.plugin.capability_args()?;
    let forwards = split_ports(&mut caps)?;
    let (info, source) = running_container(&engine, &args.container)?;
    let opts = Options {
        uplink: UplinkKind::Auto,
        allow_host_loopback: false,
        require_uplink: false,
        userns: Some(engine_userns(&engine, &info)?),
    };
    let (kind, program) = preflight(&opts)?;
    if kind == UplinkKind::Pasta && !forwards.is_empty() {
        return Err(crate::usage!(
            "-p needs slirp4netns as the rootless uplink: pasta takes its ports only at its \
             start, and the namespace is shared (install slirp4netns)"
        ));
    }
    for f in &forwards {
        uplink::precheck(f)?;
    }
    let rt_dir = dirs::resolve(true)?;
    let root = Root::new(&rt_dir.state, true)?;

    let _lock = root.lock()?;
    for line in gc_locked(&ctx, &root, false, None) {
        if !ctx.quiet {
            crate::diag!("cnitool: {line}");
        }
    }
    let att = join_generation(&root, kind, &program, &opts, NetnsMode::Shared, &forwards)?;
    let id = record_id(&info.id);
    if let Some((_, rec)) = att
        .gen
        .live_runs()
        .into_iter()
        .find(|(p, _)| super::cleanup::run_id(p) == id)
    {
        return Err(crate::conflict!(
            "container {} is already attached (networks: {}); detach it first",
            info.name,
            rec.attachments
                .iter()
                .map(|a| a.network.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let netns_path = att.gen.netns(&id);
    let mut record = RunRecord {
        owner: Owner::of(info.pid)?,
        netns: netns_path.clone(),
        owns_netns: true,
        container_id: info.id.clone(),
        attachments: PlannedAttachment::all(&nets),
        cni_args: args.plugin.cni_args()?,
        capability_args: caps,
        names: Vec::new(),
        container: Some(EngineContainer {
            engine: engine.clone(),
            cidfile: Default::default(),
            netns: None,
            attached: Some(info.name.clone()),
            pause: None,
        }),
    };
    let cache = Cache::new(&att.gen.dir);
    let record_path = record.write(&cache, &id)?;
    let req = Request {
        state: rt_dir.state.clone(),
        gen: att.gen.dir.clone(),
        attach_netns: Some((source, netns_path.clone())),
        add: attaches(&record),
        ..Request::default()
    };
    let added = (|| -> Result<Vec<(String, String, libcni::CniResult)>> {
        let resp = executor::call(&ctx, &att.fds, &req)?;
        if let Some(e) = resp.error {
            bail!("{e}");
        }
        let netns = resp
            .netns
            .context("the plugin executor did not report the container's netns")?;
        // The PID was read before the bind: make sure it still is the same container's.
        if engine.inspect_container(&info.id)?.pid != info.pid {
            bail!("container {} restarted while attaching", info.name);
        }
        let results = nets
            .iter()
            .zip(resp.results()?)
            .map(|((list, ifname), r)| (list.name.clone(), ifname.clone(), r))
            .collect();
        publish_forwards(&att.gen, &id, &forwards)?;
        if let Some(c) = record.container.as_mut() {
            c.netns = Some(netns);
        }
        record.write(&cache, &id)?;
        Ok(results)
    })();
    let results = match added {
        Ok(r) => r,
        Err(err) => {
            let cleanup = undo_run(&ctx, &att.gen, &att.fds, &record_path, &record, None);
            finish_gen(&root, &att.gen);
            return Err(match cleanup {
                Ok(()) => err.context(format!("attaching {} (rolled back)", info.name)),
                Err(c) => err.context(format!("attaching {}: {c:#}", info.name)),
            });
        }
    };
    print_attached(&ctx, &info, &netns_path, &results)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `container detach` as a plain user: finds the attachment in the shared namespace's
/// generations (by the container's ID, or, when the engine no longer knows it, by the name
/// or ID given), undoes it, and ends the generation when nothing else uses it.
pub fn detach(args: &DetachArgs, ctx: &Context) -> Result<ExitCode> {
    let engine = args.engine.engine();
    let inspected = engine.inspect_container(&args.container);
    let wanted = |r: &RunRecord| {
        let Some(name) = r.container.as_ref().and_then(|c| c.attached.as_deref()) else {
            return false;
        };
        match &inspected {
            Ok(info) => r.container_id == info.id,
            Err(_) => {
                r.container_id == args.container
                    || name == args.container
                    || (args.container.len() >= 12 && r.container_id.starts_with(&args.container))
            }
        }
    };
    let rt_dir = dirs::resolve(false)?;
    let root = Root::new(&rt_dir.state, false)?;
    let not_attached = || match &inspected {
        Err(EngineError::Failed(m)) => anyhow!("{m}"),
        _ => crate::conflict!("container {:?} is not attached", args.container),
    };
    if !root.dir.exists() {
        return Err(not_attached());
    }
    let _lock = root.lock()?;
    let found = root.generations().into_iter().find_map(|gen| {
        let (path, rec) = gen.runs().into_iter().find(|(_, r)| wanted(r))?;
        Some((gen, path, rec))
    });
    let Some((gen, path, rec)) = found else {
        return Err(not_attached());
    };
    let name = rec
        .container
        .as_ref()
        .and_then(|c| c.attached.clone())
        .unwrap_or_default();
    match gen
        .info()
        .filter(|i| i.holder_alive())
        .and_then(|i| NsFds::open(i.holder.pid).ok())
    {
        Some(fds) => undo_run(ctx, &gen, &fds, &path, &rec, None)?,
        // The namespaces are gone: nothing is left to DEL in them.
        None => {
            let _ = fs::remove_file(&path);
        }
    }
    let _ = gc_locked(ctx, &root, false, Some(&gen.name));
    match ctx.output {
        Some(crate::output::Output::Json) => crate::outln!(
            "{}",
            serde_json::json!({"detached": rec.container_id, "name": name})
        )?,
        Some(crate::output::Output::None) => {}
        _ if ctx.quiet => {}
        _ => crate::outln!(
            "detached {} container {name} ({})",
            engine.kind.command_name(),
            rec.netns.display()
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
