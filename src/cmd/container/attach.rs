//! `cnitool container attach`: put a running container on CNI networks, until `container
//! detach` or until `cnitool gc` finds the container gone.
//!
//! The container's namespace (`/proc/PID/ns/net`, the PID from the engine's inspect) is
//! bind-mounted to a name first, and the networks are ADDed on that path with the container's
//! full ID as the CNI container ID; state is keyed on that ID, never on the PID.
//!
//! With `--name` (`--alias`, `--add-host`) the container is named on its networks as by
//! `container run --name`, for as long as its first process lives. Its `/etc/hosts` was made
//! by the engine and cannot be replaced by a mount any more: the engine's file is written in
//! place instead, through `/proc/<first process>/root/etc/hosts`, the engine's lines first
//! (see `names::publish_over`); `detach` and `gc` cut our part off again.

use std::process::ExitCode;

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use libcni::RuntimeConf;
use serde_json::json;

use crate::cmd::resolve_networks;
use crate::cmd::{absolute, Context, PluginArgs};
use crate::container::engine::{EngineArgs, EngineError};
use crate::container::record::{self, ContainerRecord, Kind};
use crate::output::Output;
use crate::supervise::names;
use crate::supervise::record::{Owner, PlannedAttachment};

// Arguments of `container attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The engine.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The running container, by name or ID.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0,
    /// eth1, ... by default: name them when the container has interfaces of its own).
    #[arg(long = "net", value_name = "NAME[:IFNAME]")]
    pub nets: Vec<String>,
    /// Name the container on its networks, as `cnitool run --name` does: runs, named
    /// namespaces and containers on them resolve NAME and NAME.NETWORK to its addresses
    /// until it is detached or stops. With --name or --add-host, the engine's /etc/hosts of
    /// the container gets, after its own lines, the --add-host entries and the names on its
    /// networks, kept current in place; `detach` leaves only the engine's lines. The file must
    /// be writable (not mounted read-only).
    #[arg(long = "name", value_name = "NAME")]
    pub cni_name: Option<String>,
    /// Another name, like --name (repeatable; needs --name).
    #[arg(long, value_name = "NAME", requires = "cni_name")]
    pub alias: Vec<String>,
    /// Add a line to the container's /etc/hosts: NAME:IP (repeatable; removed by detach).
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Plugin arguments and capabilities, applied to every network.
    #[command(flatten)]
    pub plugin: PluginArgs,
}

/// The record and namespace name of a container's attachment.
pub fn record_id(container_id: &str) -> String {
    format!("cnitool-{}", &container_id[..container_id.len().min(12)])
}

/// The running container `name` (by name or ID) and its network namespace's path.
///
/// # Errors
/// No such container (a one-line message), it does not run, or the engine fails.
pub(crate) fn running_container(
    engine: &crate::container::engine::Engine,
    name: &str,
) -> Result<(crate::container::engine::ContainerInfo, std::path::PathBuf)> {
    let info = engine.inspect_container(name).map_err(|e| match e {
        EngineError::Missing(m) => anyhow!("container {name:?} not found: {m}"),
        e => e.into(),
    })?;
    let source = info
        .netns()
        .ok_or_else(|| crate::conflict!("container {} is not running", info.name))?;
    Ok((info, source))
}

/// Runs `container attach`.
pub fn run(args: AttachArgs, ctx: &Context) -> Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        return crate::rootless::attach::attach(&args, ctx);
    }
    let nets = resolve_networks(&args.nets, ctx)?;
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    args.plugin.require_capabilities(&lists, &[])?;
    let cni_args = args.plugin.cni_args()?;
    let capability_args = args.plugin.capability_args()?;
    let names = names::names_and_aliases(args.cni_name.as_deref(), &args.alias)?;
    let add_hosts = crate::cmd::run::parse_add_hosts(&args.add_host)?;
    let engine = args.engine.engine();
    let (info, source) = running_container(&engine, &args.container)?;

    let cache_dir = ctx.cni.cache().dir().to_path_buf();
    let id = record_id(&info.id);
    let rec_path = record::dir(&cache_dir).join(format!("{id}.json"));
    if rec_path.exists() {
        let old: ContainerRecord = serde_json::from_slice(&std::fs::read(&rec_path)?)
            .with_context(|| format!("container record {}", rec_path.display()))?;
        if !old.is_stale()? {
            return Err(crate::conflict!(
                "container {} is already attached (networks: {}); detach it first",
                info.name,
                old.attachments
                    .iter()
                    .map(|a| a.network.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // Left from before a restart of the container: clean it up as gc would.
        old.teardown(ctx, &rec_path, None, false)?;
    }

    // Its names live as long as its first process; the engine's /etc/hosts must be writable
    // before anything is made.
    let init = Owner::of(info.pid)
        .with_context(|| format!("container {} (pid {})", info.name, info.pid))?;
    let in_place = !names.is_empty() || !add_hosts.is_empty();
    let hosts = names::in_place_path(info.pid);
    if in_place {
        names::check_over(&hosts, Some(&init)).map_err(|e| {
            crate::conflict!(
                "container {}: its /etc/hosts ({}) cannot be written ({e}); --name, --alias and \
                 --add-host write into it: start the container with a writable /etc/hosts, or \
                 attach it without them",
                info.name,
                hosts.display()
            )
        })?;
    }

    let netns_path = absolute(&ctx.netns_dir.join(&id))?;
    let mut rec = ContainerRecord {
        kind: Kind::Attach,
        owner: None,
        engine: engine.clone(),
        container: info.id.clone(),
        container_name: info.name.clone(),
        pause: None,
        cidfile: None,
        netns: netns_path.clone(),
        container_id: info.id.clone(),
        attachments: PlannedAttachment::all(&nets),
        cni_args,
        capability_args,
        names: names::claims_on(&names, nets.iter().map(|(l, _)| l.name.as_str())),
        hosts: None,
        init: Some(init.clone()),
        hosts_in_place: in_place,
        resolv_conf: None,
    };
    // Names are claimed with the record, under the lock (see `cnitool run --name`).
    let rec_path = {
        let _lock = match rec.names.is_empty() {
            true => None,
            false => Some(names::lock(&cache_dir)?),
        };
        names::check_free(&cache_dir, &rec.names, None)?;
        rec.write(ctx.cni.cache(), &id)?
    };

    let mut added = 0;
    let mut results = Vec::new();
    let attach = (|| -> Result<()> {
        libcni::netns::attach(&ctx.netns_dir, &id, &source)
            .with_context(|| format!("naming the network namespace of {}", info.name))?;
        // The PID was read before the mount: make sure it still is the same container's.
        if engine.inspect_container(&info.id)?.pid != info.pid {
            return Err(anyhow!("container {} restarted while attaching", info.name));
        }
        for (list, ifname) in &nets {
            let rt = RuntimeConf {
                container_id: rec.container_id.clone(),
                netns: netns_path.clone(),
                ifname: ifname.clone(),
                args: rec.cni_args.clone(),
                capability_args: rec.capability_args.clone(),
            };
            let result = ctx
                .cni
                .add_network_list(list, &rt)
                .with_context(|| format!("adding network {:?} as {ifname}", list.name))?;
            added += 1;
            results.push((list.name.clone(), ifname.clone(), result));
        }
        if in_place {
            let cni_results: Vec<_> = results.iter().map(|(_, _, r)| r.clone()).collect();
            names::add_addresses(
                &mut rec.names,
                nets.iter().map(|(l, _)| l.name.as_str()),
                &cni_results,
            );
            let _lock = names::lock(&cache_dir)?;
            rec.write(ctx.cni.cache(), &id)?;
            let networks = nets.iter().map(|(l, _)| l.name.clone()).collect();
            names::publish_over(
                &cache_dir,
                &hosts,
                Some(&init),
                &add_hosts,
                &networks,
                &rec.names,
            )?;
        }
        Ok(())
    })();
    if let Err(err) = attach {
        return Err(match rec.teardown(ctx, &rec_path, Some(added), false) {
            Ok(()) => err.context(format!("attaching {} (rolled back)", info.name)),
            Err(c) => err.context(format!("attaching {}: {c:#}", info.name)),
        });
    }

    print_attached(ctx, &info, &netns_path, &results)?;
    Ok(ExitCode::SUCCESS)
}

/// What `container attach` prints: per network, the result (a table, or one JSON document).
pub(crate) fn print_attached(
    ctx: &Context,
    info: &crate::container::engine::ContainerInfo,
    netns_path: &std::path::Path,
    results: &[(String, String, libcni::CniResult)],
) -> Result<()> {
    match ctx.output {
        Some(Output::Json) => {
            let items: Vec<_> = results
                .iter()
                .map(|(net, ifname, r)| {
                    json!({"network": net, "ifName": ifname, "result": r.to_sorted_value()})
                })
                .collect();
            crate::outln!(
                "{}",
                json!({"container": info.id, "name": info.name, "netns": netns_path,
                       "attachments": items})
            )?;
        }
        Some(Output::None) => {}
        Some(Output::Table) | None if ctx.quiet => {}
        Some(Output::Table) | None => {
            for (net, ifname, r) in results {
                crate::outln!("{} {net} as {ifname}:", info.name)?;
                crate::out!("{}", crate::output::result_table(r))?;
            }
        }
    }
    Ok(())
}
