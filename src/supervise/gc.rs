//! `cnitool gc`'s part for runs: the records of runs whose runner died are finished here,
//! and their names taken out of the live runs' hosts files.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use libcni::RuntimeConf;

use super::names;
use super::orphans::kill_namespace_processes;
use super::record::RunRecord;
use crate::cmd::Context;

/// Undoes the runs whose runner died (SIGKILL, power loss): kills what is left in their
/// namespace, DELs their networks in reverse order, deletes the namespace and the record.
/// Returns a line per run.
pub fn finish_dead_runs(ctx: &Context, dry_run: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let mut named_gone = false;
    for (path, rec) in RunRecord::list(ctx.cni.cache().dir())? {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                crate::diag!("warning: {e:#}");
                continue;
            }
        };
        if rec.owner.is_alive() {
            continue;
        }
        let what = format!("run of pid {} ({})", rec.owner.pid, rec.netns.display());
        if dry_run {
            done.push(format!("would clean up {what}"));
            continue;
        }
        let live_ns = libcni::netns::identify(&rec.netns).is_ok();
        if rec.owns_netns && live_ns {
            kill_namespace_processes(&rec.netns);
        }
        let mut errors = Vec::new();
        for att in rec.attachments.iter().rev() {
            let rt = RuntimeConf {
                container_id: rec.container_id.clone(),
                // Plugins treat an empty path as "the namespace is gone".
                netns: if live_ns {
                    rec.netns.clone()
                } else {
                    PathBuf::new()
                },
                ifname: att.ifname.clone(),
                args: rec.cni_args.clone(),
                capability_args: rec.capability_args.clone(),
            };
            let cached = ctx
                .cni
                .get_cached_attachment(&att.network, &rt)
                .ok()
                .flatten();
            let list = crate::cmd::list_for_teardown(ctx, &att.network, cached.as_ref(), false)
                .or_else(|_| {
                    libcni::conf::conf_list_from_bytes(&att.config_bytes(), None)
                        .map_err(anyhow::Error::from)
                });
            let res = list.and_then(|l| Ok(ctx.cni.del_network_list(&l, &rt)?));
            if let Err(e) = res {
                errors.push(format!("{}: {e:#}", att.network));
            }
        }
        if rec.owns_netns && errors.is_empty() {
            if let (Some(dir), Some(name)) = (rec.netns.parent(), rec.netns.file_name()) {
                match libcni::netns::delete(dir, &name.to_string_lossy()) {
                    Ok(()) | Err(libcni::Error::Netns { .. }) => {}
                    Err(e) => errors.push(format!("deleting the namespace: {e}")),
                }
            }
        }
        if !errors.is_empty() {
            crate::diag!("warning: could not clean up {what}: {}", errors.join("; "));
            continue;
        }
        let _ = std::fs::remove_file(path.with_extension("resolv.conf"));
        let _ = std::fs::remove_file(names::hosts_path(&path));
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        named_gone |= !rec.names.is_empty();
        done.push(format!("cleaned up {what}"));
    }
    // The live runs' hosts files may still list the dead runs' names (a killed runner could
    // not withdraw them): rewritten from the live records.
    if named_gone {
        let cache_dir = ctx.cni.cache().dir();
        let _lock = names::lock(cache_dir)?;
        names::refresh(cache_dir, None, None)?;
    }
    Ok(done)
}
