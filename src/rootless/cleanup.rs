//! Undoing rootless runs: one run at its end or after a failed setup ([`undo_run`]), and
//! the runs of dead runners and the generations left without a live run ([`gc_locked`]).

use std::fs;
use std::path::Path;

use anyhow::{anyhow, Result};

use super::executor::{self, Attach, Executor, NsFds, Request};
use super::state::{Gen, Root};
use super::uplink;
use crate::cmd::Context;
use crate::supervise::record::RunRecord;

/// A run's ID: its record's file stem.
pub fn run_id(record: &Path) -> String {
    record
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The attachments of a record, in ADD order.
pub(super) fn attaches(rec: &RunRecord) -> Vec<Attach> {
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
    if let Some(c) = rec.container.as_ref().filter(|c| c.attached.is_none()) {
        let _ = fs::remove_file(&c.cidfile);
    }
    let _ = fs::remove_file(crate::supervise::names::hosts_path(record));
    if errors.is_empty() {
        let _ = fs::remove_file(record);
        // A dead runner's names may still be in the live runs' files (a live run withdrew
        // its own before).
        if !rec.names.is_empty() {
            let _lock = crate::supervise::names::lock(&gen.dir)?;
            crate::supervise::names::refresh(&gen.dir, None, None)?;
        }
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
            // The container of a dead `container run` wrapper runs on without it (and with
            // docker, its pause container).
            if let Some(c) = rec.container.as_ref().filter(|c| c.attached.is_none()) {
                if let Some(cid) = crate::container::engine::read_cidfile(&c.cidfile) {
                    c.engine.kill(&cid);
                    lines.push(format!(
                        "gc: runner of {id} is gone: killed its container {cid:.12}"
                    ));
                }
                if let Some(pause) = &c.pause {
                    match c.engine.remove(pause) {
                        Ok(()) => lines.push(format!(
                            "gc: runner of {id} is gone: removed its pause container {pause:.12}"
                        )),
                        Err(e) => lines.push(format!("gc: {id}: {e}")),
                    }
                }
            }
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

/// `cnitool gc`'s rootless part: the caller's shared namespace state, if any. Returns the
/// lines to print.
pub fn gc(ctx: &Context, dry_run: bool) -> Result<Vec<String>> {
    let Ok(rt) = super::dirs::resolve(false) else {
        return Ok(Vec::new());
    };
    let root = Root::new(&rt.state, false)?;
    if !root.dir.exists() {
        return Ok(Vec::new());
    }
    if dry_run {
        let mut lines = Vec::new();
        for gen in root.generations() {
            for (p, r) in gen.runs() {
                if !r.owner.is_alive() {
                    lines.push(format!("would clean up rootless {}", run_id(&p)));
                }
            }
        }
        return Ok(lines);
    }
    let _lock = root.lock()?;
    Ok(gc_locked(ctx, &root, false, None))
}
