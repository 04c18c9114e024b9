//! The rootless branch of `cnitool run`: find or create the shared namespace under the lock,
//! register the run, create its netns and ADD through the plugin executor, publish ports on
//! the uplink; release the lock while the command runs; then take it again to undo all of
//! it and end the generation when this was its last run.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use libcni::cache::Cache;
use libcni::netns::NetnsId;
use serde_json::Value;

use super::executor::{self, Attach, CommandSpec, Executor, NsFds, Request};
use super::state::{Gen, GenInfo, Root, UplinkKind};
use super::uplink::{self, Forward};
use super::{dirs, holder, RootlessOpts};
use crate::cmd::{container_id_for, default_netconf_dirs, Context};
use crate::supervise::orphans::kill_orphans;
use crate::supervise::record::{Owner, PlannedAttachment, RunRecord};
use crate::supervise::resolv::DnsFlags;
use crate::supervise::signals::{
    check_signal, check_signal_queued, start_signal_thread, Group, Interrupted,
};
use crate::supervise::wait::{wait_for_command, Event, OnLost, Outcome};
use crate::supervise::{tool, RunPlan, RUN_UPLINK_LOST};

/// The DNS forwarder both uplinks provide (ROOTLESS.md "DNS").
pub const DNS_FORWARDER: &str = "10.0.2.3";

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

/// Splits the port mappings of the capability arguments: portmap gets them without `hostIP`
/// (it DNATs the host port in the outer netns, where traffic arrives from the uplink), the
/// uplink listens on `hostIP` (127.0.0.1 when none is given).
fn split_ports(caps: &mut serde_json::Map<String, Value>) -> Result<Vec<Forward>> {
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

/// Pre-flight checks that need no state: helper installed, tun, user namespaces.
pub fn preflight(opts: &RootlessOpts) -> Result<(UplinkKind, std::path::PathBuf)> {
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
/// opens the holder's namespaces. Called under the lock.
pub fn attach(
    root: &Root,
    kind: UplinkKind,
    program: &Path,
    opts: &RootlessOpts,
) -> Result<Attached> {
    let mut started = Vec::new();
    let live = root
        .current()
        .map(|n| root.gen(&n))
        .and_then(|g| Some((g.info()?, g)))
        .filter(|(info, _)| info.holder_alive());
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
            let (gen, info) = holder::start(root, kind, opts.allow_host_loopback)?;
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
        if let Err(e) = uplink::start(&gen, &mut info, &program) {
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

/// A run's ID: its record's file stem.
pub fn run_id(record: &Path) -> String {
    record
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The attachments of a record, in ADD order.
fn attaches(rec: &RunRecord) -> Vec<Attach> {
    rec.attachments
        .iter()
        .map(|a| Attach {
            list: String::from_utf8_lossy(&a.config_bytes()).into_owned(),
            container_id: rec.container_id.clone(),
            netns: rec.netns.clone(),
            ifname: a.ifname.clone(),
            args: rec.cni_args.clone(),
            caps: rec.capability_args.clone(),
        })
        .collect()
}

/// Undoes a run (forwards, DEL in reverse order, the netns, its files). Every step runs;
/// the errors are joined. `exec` is the run's own executor when it still has one (DEL then
/// needs no new process); a fresh one is started when it is missing or fails.
pub fn undo_run(
    ctx: &Context,
    gen: &Gen,
    fds: &NsFds,
    record: &Path,
    rec: &RunRecord,
    exec: Option<Executor>,
) -> Result<()> {
    let id = run_id(record);
    let mut errors = Vec::new();
    let ports = gen.ports_file(&id);
    for f in uplink::read_forwards(&ports) {
        if let Some(n) = f.id {
            // A dead uplink has no forwards left to remove.
            let _ = uplink::remove_forward(gen, n);
        }
    }
    let mut del = attaches(rec);
    del.reverse();
    // One request: DEL in the sandbox, then the netns in the holder's mount namespace.
    let req = Request {
        state: state_of(gen),
        gen: gen.dir.clone(),
        del,
        remove_netns: Some(rec.netns.clone()),
        ..Request::default()
    };
    let own = exec.map(|mut ex| {
        let resp = ex.request(&req);
        ex.finish();
        resp
    });
    let resp = match own {
        Some(Ok(resp)) => Ok(resp),
        // DEL is idempotent: a fresh executor retries what the run's own could not do.
        Some(Err(_)) | None => executor::call(ctx, fds, &req),
    };
    let removed = match resp {
        Ok(resp) => {
            errors.extend(resp.outcomes.into_iter().filter_map(Result::err));
            resp.removed_netns
        }
        Err(e) => {
            errors.push(format!("{e:#}"));
            false
        }
    };
    if !removed {
        let rm = Request {
            state: state_of(gen),
            gen: gen.dir.clone(),
            remove_netns: Some(rec.netns.clone()),
            ..Request::default()
        };
        if let Err(e) = executor::call(ctx, fds, &rm) {
            errors.push(format!("{e:#}"));
        }
    }
    let _ = fs::remove_file(&ports);
    let _ = fs::remove_file(gen.dir.join(format!("{id}.resolv.conf")));
    if errors.is_empty() {
        let _ = fs::remove_file(record);
        Ok(())
    } else {
        Err(anyhow!("cleanup failed: {}", errors.join("; ")))
    }
}

/// The state directory a generation lives in (`<state>/rootless-netns/gen/<G>`).
pub fn state_of(gen: &Gen) -> std::path::PathBuf {
    gen.dir
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Garbage-collects under the lock: the runs of dead runners (DEL through the holder when it
/// lives), and the generations with no live run that are not the current one or whose holder
/// is gone. With `all`, the current generation goes too when it has no live run; so does
/// generation `mine` (the caller's, at the end of its run).
///
/// Each generation's records are read once; the holder's namespaces are opened only when a
/// dead run needs its DEL (a warm run finds none, and only reads the records).
pub fn gc_locked(ctx: &Context, root: &Root, all: bool, mine: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let current = root.current();
    for gen in root.generations() {
        let info = gen.info();
        let holder = info.as_ref().filter(|i| i.holder_alive());
        let mut fds = None;
        let mut live = 0;
        for (path, rec) in gen.runs() {
            if rec.owner.is_alive() {
                live += 1;
                continue;
            }
            let id = run_id(&path);
            if fds.is_none() {
                fds = holder.and_then(|i| NsFds::open(i.holder.pid).ok());
            }
            match &fds {
                Some(fds) => match undo_run(ctx, &gen, fds, &path, &rec, None) {
                    Ok(()) => lines.push(format!(
                        "gc: runner of {id} (pid {}) is gone: removed its attachments",
                        rec.owner.pid
                    )),
                    Err(e) => lines.push(format!("gc: {id}: {e:#}")),
                },
                None => {
                    // The namespaces are gone or going: nothing to DEL in them.
                    let _ = fs::remove_file(&path);
                    let _ = fs::remove_file(gen.ports_file(&id));
                    lines.push(format!(
                        "gc: runner of {id} (pid {}) is gone",
                        rec.owner.pid
                    ));
                }
            }
        }
        let is_current = current.as_deref() == Some(gen.name.as_str());
        let is_mine = mine == Some(gen.name.as_str());
        if live == 0 && (all || is_mine || !is_current || holder.is_none()) {
            gen.destroy();
            root.clear_current(&gen.name);
            lines.push(format!("gc: removed generation {}", gen.name));
        }
    }
    lines
}

/// The resolv.conf of a run: the CNI results' DNS when they carry any, else the uplink's
/// forwarder with the host's search and options (never a loopback nameserver: inside the
/// run, 127.0.0.1 is the run's own loopback).
/// DNS flags no plugin took (`dns`) apply on top.
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

/// Runs `cnitool run` rootless: `plan` in a run netns of the shared namespace, with `ctx`
/// from [`user_first`].
pub fn run(
    plan: &RunPlan,
    ctx: &Context,
    opts: &RootlessOpts,
    tx: Sender<Event>,
    rx: &Receiver<Event>,
    pending: &Arc<AtomicI32>,
) -> Result<ExitCode> {
    let mut caps = plan.capability_args.clone();
    let forwards = split_ports(&mut caps).map_err(tool)?;
    let (kind, program) = preflight(opts).map_err(tool)?;
    if kind == UplinkKind::Pasta && !forwards.is_empty() {
        return Err(tool(crate::usage!(
            "-p needs --uplink slirp4netns: pasta takes its ports only at start, and the \
             rootless namespace is shared by all runs"
        )));
    }
    for f in &forwards {
        uplink::precheck(f).map_err(tool)?;
    }
    let rt_dir = dirs::resolve(true).map_err(tool)?;
    if let Some(w) = &rt_dir.warning {
        if !ctx.quiet {
            crate::diag!("warning: {w}");
        }
    }
    let root = Root::new(&rt_dir.state, true).map_err(tool)?;

    // Section 1 under the lock: GC, attach, register, netns, ADD, forwards.
    let lock = root.lock().map_err(tool)?;
    for line in gc_locked(ctx, &root, false, None) {
        if !ctx.quiet {
            crate::diag!("cnitool: {line}");
        }
    }
    let att = attach(&root, kind, &program, opts).map_err(tool)?;
    let id = format!("r{}", crate::supervise::random_hex());
    let netns_path = att.gen.netns(&id);
    let record = RunRecord {
        owner: Owner::current().map_err(tool)?,
        netns: netns_path.clone(),
        owns_netns: true,
        container_id: container_id_for(&netns_path),
        attachments: plan
            .nets
            .iter()
            .map(|(list, ifname)| PlannedAttachment::new(&list.name, ifname, &list.full_bytes()))
            .collect(),
        cni_args: plan.cni_args.clone(),
        capability_args: caps,
    };
    // The generation lives in the runtime dir (tmpfs): nothing to flush.
    let record_path = match record.write(&Cache::new(&att.gen.dir), &id) {
        Ok(p) => p,
        Err(e) => {
            finish_gen(&root, &att.gen);
            return Err(tool(e));
        }
    };
    let resolv = att.gen.dir.join(format!("{id}.resolv.conf"));
    let group = Group::for_command();
    let spec = CommandSpec {
        argv: plan.argv.clone(),
        resolv: Some(resolv.clone()),
        hostname: plan.hostname.clone(),
        resolv_default: None,
        own_group: group == Group::Own,
    };
    let add = attaches(&record);
    // Without ports to publish between the ADDs and the command, the executor starts the
    // command right after the ADDs (and writes its resolv.conf): one round trip less.
    // DNS flags no plugin takes are applied here, after the ADDs: not merged then.
    let merged = forwards.is_empty() && !add.is_empty() && plan.dns.is_empty();
    let req = Request {
        state: rt_dir.state.clone(),
        gen: att.gen.dir.clone(),
        create_netns: Some(netns_path.clone()),
        add,
        sequential: plan.sequential,
        command: merged.then(|| CommandSpec {
            resolv_default: Some(resolv_fallback()),
            ..spec.clone()
        }),
        ..Request::default()
    };
    let mut exec = None;
    let setup = (|| -> Result<(Vec<libcni::CniResult>, NetnsId)> {
        check_signal_queued(pending)?;
        for f in &forwards {
            uplink::precheck(f)?;
        }
        // One executor for the whole run: ADD, the command, DEL (a fork of this process
        // when it is single-threaded, which it is here in a warm run).
        let ex = exec.insert(Executor::start(ctx, &att.fds, &att.gen.dir, &req)?);
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
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for o in resp.outcomes {
            match o {
                Ok(v) => results.push(
                    libcni::CniResult::parse(v.to_string().as_bytes(), "1.0.0")
                        .map_err(|e| anyhow!("a plugin result: {e}"))?,
                ),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        let mut fwds = forwards.clone();
        for i in 0..fwds.len() {
            fwds[i].id = Some(uplink::add_forward(&att.gen, &fwds[i])?);
            super::state::write_atomic(&att.gen.ports_file(&id), &serde_json::to_vec(&fwds)?)?;
        }
        check_signal(pending)?;
        Ok((results, netns))
    })();
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
            let err = match cleanup {
                Ok(()) => err,
                Err(c) => err.context(format!("{c:#}")),
            };
            if let Some(Interrupted(sig)) = err.downcast_ref::<Interrupted>() {
                crate::diag!("cnitool: {err:#}");
                return Ok(ExitCode::from((128 + *sig) as u8));
            }
            return Err(tool(err));
        }
    };
    let mut exec = exec.expect("set up by the executor");
    let wrote = if merged {
        Ok(())
    } else {
        fs::write(&resolv, resolv_conf(&results, &plan.dns))
    };
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
        Ok(()) => {
            let started = if merged {
                exec.await_command(tx, Event::Child)
            } else {
                exec.start_command(spec, tx, Event::Child)
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
    let cleanup = undo_run(ctx, &att.gen, &att.fds, &record_path, &record, Some(exec));
    let _ = gc_locked(ctx, &root, false, Some(&att.gen.name));
    drop(lock);
    reap(Some(pid));
    if let (Some(what), false) = (&late, ctx.quiet) {
        crate::diag!(
            "cnitool: warning: the rootless namespace's uplink or holder died during the run \
             ({what} ended): the command lost outbound connectivity"
        );
    }
    let lost = lost.or(late);
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
    if opts.require_uplink && lost.is_some() {
        return Ok(ExitCode::from(RUN_UPLINK_LOST));
    }
    Ok(ExitCode::from(code))
}

/// Ends a generation that has no live run left (kills the holder and the uplink, removes
/// its directory). Called under the lock.
fn finish_gen(root: &Root, gen: &Gen) {
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
