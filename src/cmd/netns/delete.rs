//! `cnitool netns delete`: unmount and remove named network namespaces, refusing (or, with
//! `--force`, first detaching) while networks are attached to them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::cache::CachedAttachment;

use super::{attachments_in, netns_path, parse_name, teardown_conf};
use crate::cmd::{default_netns_dir, Context};

// Arguments of `netns delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The namespaces to delete.
    #[arg(value_name = "NAME", required = true, value_parser = parse_name)]
    pub names: Vec<String>,
    /// DEL the attached networks first (last added first); a missing namespace is no error.
    #[arg(short, long)]
    pub force: bool,
}

/// Runs `netns delete`. Each name is tried even when an earlier one fails; every failure
/// but the last is printed here, the last is returned (and decides the exit code).
pub fn run(args: DeleteArgs, ctx: &Context) -> Result<ExitCode> {
    let mut last_err: Option<anyhow::Error> = None;
    for name in &args.names {
        if let Err(e) = delete_one(ctx, name, args.force) {
            if let Some(prev) = last_err.replace(e) {
                crate::diag!("error: {}", format!("{prev:#}").replace('\n', " "));
            }
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn delete_one(ctx: &Context, name: &str, force: bool) -> Result<()> {
    let path = netns_path(ctx, name)?;
    let mut exists = path.symlink_metadata().is_ok();
    if !exists && !force {
        return Err(libcni::Error::Netns {
            path,
            reason: "does not exist".into(),
        }
        .into());
    }
    let attached = attachments_in(ctx, &path)?;
    if !attached.is_empty() {
        if !force {
            return Err(still_attached(ctx, name, &path, &attached).into());
        }
        if exists && libcni::netns::identify(&path).is_err() {
            // A stale file (its mount gone): plugins would be handed something that is not
            // a namespace, and refuse. Removed first, the namespace is just missing, and the
            // CNI spec asks plugins to complete DEL when resources are already missing.
            libcni::netns::delete(&ctx.netns_dir, name)
                .with_context(|| format!("deleting stale network namespace file {name:?}"))?;
            exists = false;
        }
        detach_all(ctx, name, &path, &attached)?;
    }
    if !exists {
        return Ok(());
    }
    if !ctx.quiet {
        if let Ok(id) = libcni::netns::identify(&path) {
            match libcni::netns::count_processes(id) {
                0 => {}
                n => crate::diag!(
                    "warning: {n} process(es) still in network namespace {name:?}; it lives on \
                     until they exit"
                ),
            }
        }
    }
    match libcni::netns::delete(&ctx.netns_dir, name) {
        // Removed meanwhile (by `ip netns del`, a parallel delete): what --force asked for.
        Err(libcni::Error::Netns { .. }) if force => Ok(()),
        r => r.with_context(|| format!("deleting network namespace {name:?}")),
    }
}

/// The refusal: which networks, and the commands that remove them.
fn still_attached(
    ctx: &Context,
    name: &str,
    path: &Path,
    attached: &[CachedAttachment],
) -> libcni::Error {
    // Spell out the netns directory when `cnitool del` would not find it by default.
    let dir_flag = if ctx.netns_dir == default_netns_dir() {
        String::new()
    } else {
        format!(" --netns-dir {}", ctx.netns_dir.display())
    };
    let nets: Vec<String> = attached
        .iter()
        .map(|a| format!("{} ({})", a.network_name, a.ifname))
        .collect();
    let cmds: Vec<String> = attached
        .iter()
        .rev()
        .map(|a| {
            format!(
                "cnitool{dir_flag} del {} {name} --ifname {}",
                a.network_name, a.ifname
            )
        })
        .collect();
    libcni::Error::Netns {
        path: path.to_path_buf(),
        reason: format!(
            "networks are attached: {}; remove them with `{}`, or delete with --force",
            nets.join(", "),
            cmds.join(" && ")
        ),
    }
}

/// DELs every attachment, last added first, each with the network list recorded at ADD. Stops
/// at the first failure, keeping the namespace so that the DEL can be retried.
fn detach_all(ctx: &Context, name: &str, path: &Path, attached: &[CachedAttachment]) -> Result<()> {
    for att in attached.iter().rev() {
        let what = || {
            format!(
                "deleting network {:?} ({}) from network namespace {name:?} (the namespace is \
                 kept)",
                att.network_name, att.ifname
            )
        };
        let list = match libcni::conf::conf_list_from_bytes(&att.config, None) {
            Ok(list) => list,
            // A cache file without usable config: fall back to the netconf files.
            Err(_) => ctx.load_list(&att.network_name).with_context(what)?,
        };
        ctx.cni
            .del_network_list(&list, &teardown_conf(att, path))
            .with_context(what)?;
    }
    Ok(())
}
