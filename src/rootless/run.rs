//! The rootless branch of `cnitool run`: find or create the shared namespace under the lock,
//! register the run, create its netns and ADD through the plugin executor, publish ports on
//! the uplink; release the lock while the command runs; then take it again to undo all of
//! it and end the generation when this was its last run.
//!
//! Length: over 700 lines: the runner's two locked sections and the command between them,
//! shared by `run`, rootless `container run` and private runs (`Body`, `run_in`); the steps are
//! functions of their own in the order a run takes them.
use std::fs;
use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use libcni::cache::Cache;
use libcni::netns::NetnsId;
use serde_json::Value;

use super::cleanup::{attaches, gc_locked, run_id, undo_run};
use super::executor::{self, CommandSpec, Executor, Request};
use super::generation::{attach, preflight, Attached};
use super::state::{Gen, Root, UplinkKind};
use super::uplink::{self, Forward};
use super::{dirs, NetnsMode, Options};
use crate::cmd::{container_id_for, default_netconf_dirs, Context};
use crate::supervise::child::ChildEvent;
use crate::supervise::names;
use crate::supervise::orphans::kill_orphans;
use crate::supervise::record::{EngineContainer, Owner, PlannedAttachment, RunRecord};
use crate::supervise::resolv::DnsFlags;
use crate::supervise::signals::{check_signal, check_signal_queued, start_signal_thread, Group};
use crate::supervise::wait::{wait_for_command, Event, OnLost, Outcome};
use crate::supervise::{setup_failed, tool, RunPlan, RUN_UPLINK_LOST};

/// The DNS forwarder both uplinks provide (`docs/ROOTLESS.md`, decision 15).
pub const DNS_FORWARDER: &str = "10.0.2.3";
/// Splits the port mappings of the capability arguments: portmap gets them without `hostIP`
/// (it DNATs the host port in the outer netns, where traffic arrives from the uplink), the
/// uplink listens on `hostIP` (127.0.0.1 when none is given).
pub(super) fn split_ports(caps: &mut serde_json::Map<String, Value>) -> Result<Vec<Forward>> {
    let Some(Value::Array(maps)) = caps.get_mut("portMappings") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for m in maps.iter_mut() {
        let Some(obj) = m.as_object_mut() else {
            continue;
        };
        let host_addr = match obj.remove("hostIP") {
            Some(Value::String(s)) if !s.is_empty() => s
                .parse()
                .map_err(|_| crate::usage!("-p: {s:?} is not an IP address"))?,
            _ => uplink::DEFAULT_HOST_ADDR,
        };
        let host_port = obj
            .get("hostPort")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| crate::usage!("portMappings: hostPort missing"))?;
        let proto = obj
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("tcp")
            .to_ascii_lowercase();
        out.push(Forward {
            proto,
            host_addr,
            host_port,
            id: None,
        });
    }
    Ok(out)
}

/// The resolv.conf of a run: the CNI results' DNS when they carry any, else the uplink's
/// forwarder with the host's search and options (never a loopback nameserver: inside the
/// run, 127.0.0.1 is the run's own loopback).
/// The DNS flags (`dns`) apply on top.
fn resolv_conf(results: &[libcni::CniResult], dns: &DnsFlags) -> String {
    let text = crate::supervise::resolv::resolv_conf(results).unwrap_or_else(resolv_fallback);
    if dns.is_empty() {
        text
    } else {
        dns.apply(&text)
    }
}

/// The resolv.conf of a run whose CNI results carry no DNS (see [`resolv_conf`]).
fn resolv_fallback() -> String {
    let mut out = format!("# written by cnitool run (rootless)\nnameserver {DNS_FORWARDER}\n");
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for line in host.lines() {
        let l = line.trim_start();
        if l.starts_with("search ") || l.starts_with("domain ") || l.starts_with("options ") {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The context of a rootless run: the user's networks first, unless directories were given
/// (then as given).
pub fn user_first(ctx: &Context) -> Context {
    let mut ctx = ctx.clone();
    if ctx.netconf_dirs == default_netconf_dirs() {
        ctx.netconf_dirs.reverse();
    }
    ctx
}

/// The networks of a rootless run (`--net NAME[:IFNAME]`), in the context from
/// [`user_first`]. Without --net and without directories given, only the user's own
/// networks compete with the built-in one: the system directory holds root's networks (a
/// podman or k8s bridge), not a default for users.
pub fn resolve_networks(
    nets: &[String],
    ctx: &Context,
) -> Result<Vec<(libcni::NetworkConfigList, String)>> {
    let mut defaults = default_netconf_dirs();
    defaults.reverse();
    if ctx.netconf_dirs == defaults && nets.is_empty() {
        let user_only = Context {
            netconf_dirs: ctx.netconf_dirs[..1].to_vec(),
            ..ctx.clone()
        };
        return crate::cmd::resolve_networks(nets, &user_only);
    }
    crate::cmd::resolve_networks(nets, ctx)
}

/// What a rootless run does in its run netns, between its two locked sections.
pub(crate) enum Body<'a> {
    /// `cnitool run`: the plan's command, waited for with the signals forwarded to it.
    Command,
    /// `cnitool container run`: the plan's command is a keeper that only holds the run netns
    /// (in a process group of its own: no terminal signal reaches it), or with `pause`
    /// (docker), the run netns is the pause container's and there is no command; `client`
    /// starts the engine's client on it and waits for it (the signals come on the receiver).
    /// The container is recorded with the run, so that gc kills it when the runner is gone.
    Engine {
        /// The engine.
        engine: crate::container::engine::Engine,
        /// docker: the running pause container (`--network none`) whose network namespace
        /// the executor binds as the run netns and ADDs in (as for `container attach`).
        pause: Option<crate::container::engine::ContainerInfo>,
        /// Runs the engine client.
        client: &'a mut dyn FnMut(&Spot, &Receiver<Event>) -> Outcome,
    },
}

/// Where an engine client finds the run (see [`Body::Engine`]).
#[derive(Debug)]
pub(crate) struct Spot {
    /// The keeper's PID (the pause container's with docker): the run netns is
    /// `/proc/PID/ns/net`.
    pub keeper: i32,
    /// The run's hosts file (its names and the names on its networks, kept current).
    pub hosts: std::path::PathBuf,
    /// The run's resolv.conf.
    pub resolv: std::path::PathBuf,
    /// The `--cidfile` to give the engine.
    pub cidfile: std::path::PathBuf,
}

/// Runs `cnitool run` rootless: `plan` in a run netns of the shared namespace (or, with
/// [`NetnsMode::Private`], of a namespace of its own), with `ctx` from [`user_first`].
pub fn run(
    plan: &RunPlan,
    ctx: &Context,
    opts: &Options,
    mode: NetnsMode,
    tx: Sender<Event>,
    rx: &Receiver<Event>,
    pending: &Arc<AtomicI32>,
) -> Result<ExitCode> {
    run_in(plan, ctx, opts, mode, (tx, rx, pending), Body::Command)
}

/// Runs a rootless run whose body is `body` in the shared namespace (see [`run`]).
pub(crate) fn run_body(
    plan: &RunPlan,
    ctx: &Context,
    opts: &Options,
    chans: (Sender<Event>, &Receiver<Event>, &Arc<AtomicI32>),
    body: Body<'_>,
) -> Result<ExitCode> {
    run_in(plan, ctx, opts, NetnsMode::Shared, chans, body)
}

/// Runs a rootless run whose body is `body` in the namespace `mode` says (see [`run`]).
fn run_in(
    plan: &RunPlan,
    ctx: &Context,
    opts: &Options,
    mode: NetnsMode,
    (tx, rx, pending): (Sender<Event>, &Receiver<Event>, &Arc<AtomicI32>),
    mut body: Body<'_>,
) -> Result<ExitCode> {
    let Prepared {
        caps,
        forwards,
        kind,
        program,
        state,
        root,
    } = prepare(plan, ctx, opts, mode).map_err(tool)?;

    // Section 1 under the lock: GC, attach, register, netns, ADD, forwards.
    let lock = root.lock().map_err(tool)?;
    for line in gc_locked(ctx, &root, false, None) {
        if !ctx.quiet {
            crate::diag!("cnitool: {line}");
        }
    }
    let att = attach(&root, kind, &program, opts, mode, &forwards).map_err(tool)?;
    // pasta took the ports at its start (a private run): nothing left to publish.
    let forwards = match att.info.uplink_kind {
        UplinkKind::Pasta => Vec::new(),
        _ => forwards,
    };
    let id = format!("r{}", crate::supervise::random_hex());
    let netns_path = att.gen.netns(&id);
    let mut record = RunRecord {
        owner: Owner::current().map_err(tool)?,
        netns: netns_path.clone(),
        owns_netns: true,
        container_id: container_id_for(&netns_path),
        attachments: PlannedAttachment::all(&plan.nets),
        cni_args: plan.cni_args.clone(),
        capability_args: caps,
        names: crate::supervise::run::claims(plan),
        container: match &body {
            Body::Command => None,
            Body::Engine { engine, pause, .. } => Some(EngineContainer {
                engine: engine.clone(),
                cidfile: att.gen.dir.join(format!("{id}.cid")),
                netns: None,
                attached: None,
                pause: pause.as_ref().map(|p| p.id.clone()),
            }),
        },
    };
    // The generation lives in the runtime dir (tmpfs): nothing to flush. Names are claimed
    // with the record and the command's hosts file written before the ADDs (the executor may
    // start the command right after them); it is completed with the run's addresses after.
    let cache = Cache::new(&att.gen.dir);
    let hosts_base = fs::read_to_string("/etc/hosts")
        .unwrap_or_else(|_| "127.0.0.1\tlocalhost\n::1\tlocalhost\n".to_owned());
    let first_head = names::hosts_head(&hosts_base, plan.hostname.as_deref(), &[], &plan.add_hosts);
    let written = (|| {
        let _names = names::lock(&att.gen.dir)?;
        names::check_free(&att.gen.dir, &record.names, None)?;
        let path = record.write(&cache, &id)?;
        names::publish(&att.gen.dir, &path, &record, &first_head)?;
        Ok::<_, anyhow::Error>(path)
    })();
    let record_path = match written {
        Ok(p) => p,
        Err(e) => {
            let _ = fs::remove_file(RunRecord::path_in(&att.gen.dir, &id));
            let _ = fs::remove_file(names::hosts_path(&RunRecord::path_in(&att.gen.dir, &id)));
            finish_gen(&root, &att.gen);
            return Err(tool(e));
        }
    };
    let hosts = names::hosts_path(&record_path);
    let resolv = att.gen.dir.join(format!("{id}.resolv.conf"));
    // A keeper gets no terminal signal: the engine client gets them.
    let group = match body {
        Body::Command => Group::for_command(),
        Body::Engine { .. } => Group::Own,
    };
    let spec = CommandSpec {
        argv: plan.argv.clone(),
        resolv: Some(resolv.clone()),
        hostname: plan.hostname.clone(),
        resolv_default: None,
        own_group: group == Group::Own,
        hosts: Some(hosts.clone()),
    };
    let add = attaches(&record);
    // docker's pause container: its network namespace is the run netns, and nothing is
    // started in it.
    let pause = match &body {
        Body::Engine { pause, .. } => pause.clone(),
        Body::Command => None,
    };
    // Without ports to publish between the ADDs and the command, the executor starts the
    // command right after the ADDs (and writes its resolv.conf): one round trip less.
    // DNS flags no plugin takes are applied here, after the ADDs: not merged then.
    let merged = forwards.is_empty() && !add.is_empty() && plan.dns.is_empty() && pause.is_none();
    let req = Request {
        state,
        gen: att.gen.dir.clone(),
        create_netns: pause.is_none().then(|| netns_path.clone()),
        attach_netns: pause
            .as_ref()
            .and_then(|p| Some((p.netns()?, netns_path.clone()))),
        add,
        sequential: plan.sequential,
        command: merged.then(|| CommandSpec {
            resolv_default: Some(resolv_fallback()),
            ..spec.clone()
        }),
        ..Request::default()
    };
    let mut exec = None;
    let setup = add_networks(ctx, &att, &req, &forwards, &id, (&tx, pending), &mut exec);
    let (results, netns) = match setup {
        Ok(x) => x,
        Err(err) => {
            let pid = exec.as_ref().map(Executor::pid);
            if let Some(ex) = exec.as_mut() {
                ex.abort_command();
            }
            let cleanup = undo_run(ctx, &att.gen, &att.fds, &record_path, &record, exec);
            finish_gen(&root, &att.gen);
            drop(lock);
            reap(pid);
            return setup_failed(err, cleanup);
        }
    };
    let mut exec = exec.expect("set up by the executor");
    // A container outlives a killed runner in the run netns: how to find it (see
    // `Gen::live_runs`).
    let noted = match record.container.as_mut() {
        Some(c) => {
            c.netns = Some((netns.dev, netns.ino));
            record.write(&cache, &id).map(drop)
        }
        None => Ok(()),
    };
    let wrote = if merged {
        Ok(())
    } else {
        fs::write(&resolv, resolv_conf(&results, &plan.dns))
    };
    // The run's addresses: in its claims (published to the others) and on its hostname.
    let published = publish_addresses(
        plan,
        &cache,
        &mut record,
        &record_path,
        &results,
        &hosts_base,
    );
    let wrote = wrote
        .and(published.map_err(std::io::Error::other))
        .and(noted.map_err(std::io::Error::other))
        .and(same_pause(pause.as_ref(), netns));
    drop(lock);

    // The command, without the lock; the holder and the uplink watched meanwhile.
    let watch = super::watch::start(&att.info, tx.clone(), Event::Lost);
    let on_lost = if opts.require_uplink {
        OnLost::End
    } else {
        OnLost::Warn { quiet: ctx.quiet }
    };
    let (outcome, lost) = match wrote {
        Err(e) => (Outcome::SetupFailed(e), None),
        Ok(()) => match &mut body {
            Body::Command => {
                run_command(&mut exec, (!merged).then_some(spec), tx, rx, on_lost, group)
            }
            Body::Engine { client, .. } => {
                let spot = Spot {
                    keeper: pause.as_ref().map_or(0, |p| p.pid),
                    hosts: hosts.clone(),
                    resolv: resolv.clone(),
                    cidfile: record
                        .container
                        .as_ref()
                        .map(|c| c.cidfile.clone())
                        .unwrap_or_default(),
                };
                let outcome = match pause {
                    Some(_) => client(&spot, rx),
                    None => run_keeper(
                        &mut exec,
                        (!merged).then_some(spec),
                        spot,
                        &mut **client,
                        rx,
                    ),
                };
                (outcome, None)
            }
        },
    };
    let active = watch.active;
    drop(watch);
    // Without pidfds (kernels before 5.3): a liveness check now, a warning at the end.
    let late = (!active && (!att.info.uplink_alive() || !att.info.holder_alive()))
        .then(|| "the uplink or the holder".to_owned());

    // Section 2 under the lock: leftovers, forwards, DEL, netns, GC, end of generation.
    let mut keep = att.started.clone();
    keep.push(exec.pid());
    kill_orphans(&keep);
    kill_in_netns(netns);
    let lock = root.lock().map_err(tool)?;
    let pid = exec.pid();
    let withdrawn = withdraw_names(&cache, &mut record, &record_path);
    let cleanup = undo_run(ctx, &att.gen, &att.fds, &record_path, &record, Some(exec));
    let cleanup = withdrawn.and(cleanup);
    let _ = gc_locked(ctx, &root, false, Some(&att.gen.name));
    drop(lock);
    reap(Some(pid));
    if let (Some(what), false) = (&late, ctx.quiet) {
        crate::diag!(
            "cnitool: warning: the rootless namespace's uplink or holder died during the run \
             ({what} ended): the command lost outbound connectivity"
        );
    }
    exit_status(outcome, cleanup, lost.or(late), opts.require_uplink)
}

/// After the ADDs of a docker run: the pause container's first process still is the one
/// whose network namespace was bound (its PID was read before the bind).
fn same_pause(
    pause: Option<&crate::container::engine::ContainerInfo>,
    netns: NetnsId,
) -> std::io::Result<()> {
    let Some(p) = pause else {
        return Ok(());
    };
    match libcni::netns::identify(format!("/proc/{}/ns/net", p.pid)) {
        Ok(id) if id == netns => Ok(()),
        _ => Err(std::io::Error::other(format!(
            "pause container {} stopped while its network namespace was set up",
            p.name
        ))),
    }
}

/// After the ADDs: the run's addresses into its claims (the record rewritten) and its hosts
/// file (on its hostname), the others' files updated; under the names lock.
fn publish_addresses(
    plan: &RunPlan,
    cache: &Cache,
    record: &mut RunRecord,
    record_path: &std::path::Path,
    results: &[libcni::CniResult],
    hosts_base: &str,
) -> Result<()> {
    if record.names.is_empty() && plan.hostname.is_none() {
        return Ok(());
    }
    let mut own = Vec::new();
    for ((list, _), result) in plan.nets.iter().zip(results) {
        let addrs = names::addresses(result);
        if let Some(claim) = record.names.iter_mut().find(|c| c.network == list.name) {
            claim.addresses.extend(addrs.iter().copied());
        }
        own.extend(addrs);
    }
    let head = names::hosts_head(hosts_base, plan.hostname.as_deref(), &own, &plan.add_hosts);
    let _names = names::lock(cache.dir())?;
    if !record.names.is_empty() {
        record.write(cache, &run_id(record_path))?;
    }
    names::publish(cache.dir(), record_path, record, &head)?;
    Ok(())
}

/// Takes the run's names out of its record and out of the live hosts files, first thing at
/// the end.
fn withdraw_names(
    cache: &Cache,
    record: &mut RunRecord,
    record_path: &std::path::Path,
) -> Result<()> {
    if record.names.is_empty() {
        return Ok(());
    }
    let _names = names::lock(cache.dir())?;
    let claims = std::mem::take(&mut record.names);
    record.write(cache, &run_id(record_path))?;
    let nets = claims.iter().map(|c| c.network.as_str()).collect();
    names::refresh(cache.dir(), Some(&nets), None)
}

/// The run's exit status: the command's, unless the cleanup failed (125), or the command
/// could not be started (125), or the uplink was lost under `--require-uplink` (124).
fn exit_status(
    outcome: Outcome,
    cleanup: Result<()>,
    lost: Option<String>,
    require_uplink: bool,
) -> Result<ExitCode> {
    let code = match outcome {
        Outcome::Exited(status) => crate::exit::of_command(status),
        Outcome::SetupFailed(e) | Outcome::Failed(e) => {
            let err = anyhow!(e).context("preparing the command");
            return Err(tool(match cleanup {
                Ok(()) => err,
                Err(c) => err.context(format!("{c:#}")),
            }));
        }
    };
    cleanup.map_err(tool)?;
    if require_uplink && lost.is_some() {
        return Ok(ExitCode::from(RUN_UPLINK_LOST));
    }
    Ok(ExitCode::from(code))
}

/// What a rootless run checks and finds before it takes the lock.
struct Prepared {
    /// The capability arguments, the port mappings without `hostIP` (see [`split_ports`]).
    caps: serde_json::Map<String, Value>,
    /// The ports the uplink publishes.
    forwards: Vec<Forward>,
    /// The uplink helper and its program.
    kind: UplinkKind,
    program: std::path::PathBuf,
    /// The state directory.
    state: std::path::PathBuf,
    /// The rootless state root.
    root: Root,
}

/// The checks that need no lock (ports, uplink helper, user namespaces, tun, the runtime
/// directory), and the state root.
fn prepare(plan: &RunPlan, ctx: &Context, opts: &Options, mode: NetnsMode) -> Result<Prepared> {
    let mut caps = plan.capability_args.clone();
    let forwards = split_ports(&mut caps)?;
    let (kind, program) = preflight(opts)?;
    if kind == UplinkKind::Pasta && !forwards.is_empty() && mode == NetnsMode::Shared {
        return Err(crate::usage!(
            "-p with pasta needs --rootless-netns private: pasta takes its ports only at its \
             start, and the shared rootless namespace serves all your runs (or use --uplink \
             slirp4netns)"
        ));
    }
    for f in &forwards {
        uplink::precheck(f)?;
    }
    let rt_dir = dirs::resolve(true)?;
    if let Some(w) = &rt_dir.warning {
        if !ctx.quiet {
            crate::diag!("warning: {w}");
        }
    }
    let root = Root::new(&rt_dir.state, true)?;
    Ok(Prepared {
        caps,
        forwards,
        kind,
        program,
        state: rt_dir.state,
        root,
    })
}

/// Section 1's plugin work: starts the run's executor (which creates the run netns and ADDs
/// the networks, and, when the request says so, starts the command), starts the signal
/// thread, reads the results and publishes the ports. Returns the results and the run
/// netns; `exec` holds the executor once started, for the caller's cleanup.
fn add_networks(
    ctx: &Context,
    att: &Attached,
    req: &Request,
    forwards: &[Forward],
    id: &str,
    (tx, pending): (&Sender<Event>, &Arc<AtomicI32>),
    exec: &mut Option<Executor>,
) -> Result<(Vec<libcni::CniResult>, NetnsId)> {
    check_signal_queued(pending)?;
    for f in forwards {
        uplink::precheck(f)?;
    }
    // One executor for the whole run: ADD, the command, DEL (a fork of this process
    // when it is single-threaded, which it is here in a warm run).
    let ex = exec.insert(Executor::start(ctx, &att.fds, &att.gen.dir, req)?);
    // Only now: the thread that takes the handled signals (one sent earlier is still
    // queued); the answer is read even if it cannot start, so that a DEL request sent
    // next is not answered by this one's reply.
    let signals = start_signal_thread(tx.clone(), Event::Signal, Arc::clone(pending));
    let resp = ex.receive();
    signals?;
    let resp = resp?;
    let netns = resp
        .netns
        .map(executor::netns_id)
        .context("the plugin executor did not report the run's netns")?;
    let results = resp.results()?;
    publish_forwards(&att.gen, id, forwards)?;
    check_signal(pending)?;
    Ok((results, netns))
}

/// Publishes a run's ports on the uplink, each recorded in the run's ports file as soon as
/// it is added (so that the run's undo or gc removes exactly those).
pub(super) fn publish_forwards(gen: &Gen, id: &str, forwards: &[Forward]) -> Result<()> {
    let mut fwds = forwards.to_vec();
    for i in 0..fwds.len() {
        fwds[i].id = Some(uplink::add_forward(gen, &fwds[i])?);
        super::state::write_atomic(&gen.ports_file(id), &serde_json::to_vec(&fwds)?)?;
    }
    Ok(())
}

/// Starts the command through the run's executor (`spec`), or, when the executor started it
/// right after the ADDs (`None`), waits for its start; then waits for it to end while
/// forwarding signals.
fn run_command(
    exec: &mut Executor,
    spec: Option<CommandSpec>,
    tx: Sender<Event>,
    rx: &Receiver<Event>,
    on_lost: OnLost,
    group: Group,
) -> (Outcome, Option<String>) {
    let started = match spec {
        None => exec.await_command(tx, Event::Child),
        Some(spec) => exec.start_command(spec, tx, Event::Child),
    };
    match started {
        Ok(reader) => {
            let waited = wait_for_command(rx, on_lost, group);
            exec.resume(reader);
            waited
        }
        Err(e) => (
            Outcome::SetupFailed(std::io::Error::other(format!("{e:#}"))),
            None,
        ),
    }
}

/// [`Body::Engine`]'s part: starts the keeper (as [`run_command`] starts a command, its events
/// on a channel of their own), runs `client` on it, then ends the keeper.
fn run_keeper(
    exec: &mut Executor,
    spec: Option<CommandSpec>,
    mut spot: Spot,
    client: &mut dyn FnMut(&Spot, &Receiver<Event>) -> Outcome,
    rx: &Receiver<Event>,
) -> Outcome {
    let (ktx, krx) = std::sync::mpsc::channel();
    let started = match spec {
        None => exec.await_command(ktx, Event::Child),
        Some(spec) => exec.start_command(spec, ktx, Event::Child),
    };
    let reader = match started {
        Ok(reader) => reader,
        Err(e) => {
            return Outcome::SetupFailed(std::io::Error::other(format!("{e:#}")));
        }
    };
    let outcome = match krx.recv() {
        Ok(Event::Child(ChildEvent::Started(pid))) => {
            spot.keeper = pid;
            let outcome = client(&spot, rx);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            // Its end, which the executor reports before it serves the next request.
            while let Ok(e) = krx.recv() {
                if !matches!(e, Event::Child(ChildEvent::Started(_))) {
                    break;
                }
            }
            outcome
        }
        Ok(Event::Child(ChildEvent::SetupFailed(e) | ChildEvent::Failed(e))) => {
            Outcome::SetupFailed(e)
        }
        Ok(other) => Outcome::SetupFailed(std::io::Error::other(format!(
            "the keeper of the run netns did not start: {other:?}"
        ))),
        Err(_) => Outcome::SetupFailed(std::io::Error::other(
            "the plugin executor ended before the keeper started",
        )),
    };
    exec.resume(reader);
    outcome
}

/// Ends a generation that has no live run left (kills the holder and the uplink, removes
/// its directory). Called under the lock.
pub(super) fn finish_gen(root: &Root, gen: &Gen) {
    if gen.live_runs().is_empty() {
        gen.destroy();
        root.clear_current(&gen.name);
    }
}

/// Reaps the run's executor, which ends by itself after its last answer and has usually done
/// so by now (the runner's gc and unlock ran meanwhile); a zombie would otherwise wait for
/// init. ECHILD when it was reaped already.
fn reap(pid: Option<i32>) {
    if let Some(pid) = pid {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    }
}

/// SIGKILLs what the command left in its netns (processes of the user, so allowed).
fn kill_in_netns(id: NetnsId) {
    for _ in 0..100 {
        // This user's only: the ones it may kill (a process of the rootless user namespace
        // shows as this user).
        let pids = libcni::netns::processes_of_user_in(id, nix::unistd::getuid().as_raw());
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
