//! `cnitool gc`: remove attachments whose network namespace is gone (CNI GC).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;
use libcni::cache::CachedAttachment;
use libcni::NetworkConfigList;
use serde_json::json;

use super::Context;
use crate::output::Output;

// Arguments of `gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only this network (default: every network with cached attachments).
    #[arg(value_name = "NETWORK")]
    pub network: Option<String>,
    /// Accepted for compatibility with the Go cnitool; not used.
    #[arg(value_name = "NETNS", hide = true)]
    pub netns: Option<String>,
    /// Show what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// An attachment is stale when the namespace it recorded is gone: the path no longer exists,
/// or it is a plain file whose namespace mount was removed. One without a recorded namespace
/// (written by an older Go libcni) or whose namespace cannot be inspected is kept: nothing
/// proves it is dead.
pub fn is_stale(att: &CachedAttachment) -> bool {
    match att.netns.as_deref() {
        None | Some("") => false,
        Some(p) => libcni::netns::is_gone(p),
    }
}

/// What a DEL left behind on the host: packet-filter rules that still name the container.
///
/// A plugin's DEL of an attachment whose namespace is gone runs without `CNI_NETNS`, and some
/// plugins then cannot find what to undo (bridge learns the addresses to unmasquerade from the
/// container's link, so its per-container NAT chain stays). The exit status says nothing of
/// that; the rules do: plugins comment them with the container ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// `iptables` or `ip6tables`.
    pub family: &'static str,
    /// The table (`nat`, `filter`, ...).
    pub table: String,
    /// The chains holding rules that name the container.
    pub chains: Vec<String>,
    /// How many such rules.
    pub rules: usize,
}

impl std::fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} rule(s) in table {} (chains {})",
            self.rules,
            self.family,
            self.table,
            self.chains.join(", ")
        )
    }
}

/// The output of `iptables-save` and `ip6tables-save` (what of them is installed).
fn rule_dumps() -> Vec<(&'static str, String)> {
    [
        ("iptables", "iptables-save"),
        ("ip6tables", "ip6tables-save"),
    ]
    .into_iter()
    .filter_map(|(family, save)| {
        let out = std::process::Command::new(save)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        Some((family, String::from_utf8_lossy(&out.stdout).into_owned()))
    })
    .collect()
}

/// The rules of `dumps` (see [`rule_dumps`]) that name `container_id`, grouped by table.
fn rules_left(dumps: &[(&'static str, String)], container_id: &str) -> Vec<LeftBehind> {
    let mut out = Vec::new();
    for (family, dump) in dumps {
        let family = *family;
        let mut table = String::new();
        for line in dump.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_owned();
                continue;
            }
            let Some(rule) = line.strip_prefix("-A ") else {
                continue;
            };
            if !rule.contains(container_id) {
                continue;
            }
            let chain = rule.split_whitespace().next().unwrap_or("").to_owned();
            let entry = match out
                .iter_mut()
                .find(|l: &&mut LeftBehind| l.family == family && l.table == table)
            {
                Some(e) => e,
                None => {
                    out.push(LeftBehind {
                        family,
                        table: table.clone(),
                        chains: Vec::new(),
                        rules: 0,
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            entry.rules += 1;
            if !entry.chains.contains(&chain) {
                entry.chains.push(chain);
            }
        }
    }
    out
}

/// The attachments whose DEL left something behind, and what.
#[derive(Debug)]
pub struct Incomplete(pub Vec<String>);

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the DEL of {} attachment(s) left rules behind (the namespace was gone, so the \
             plugins could not find everything to undo): {}; list them with \
             `iptables-save | grep CONTAINER_ID` and remove them by hand",
            self.0.len(),
            self.0.join("; ")
        )
    }
}

impl std::error::Error for Incomplete {}

/// Runs `gc`.
pub fn run(args: GcArgs, ctx: &Context) -> Result<ExitCode> {
    if let Some(n) = &args.network {
        libcni::validate::network_name(n)?;
    }
    let root = nix::unistd::geteuid().is_root();
    // A user's gc leaves the system cache (root's /var/lib/cni) alone unless it may write
    // there: its own state is the rootless namespace's.
    let cache_dir = ctx.cni.cache().dir();
    let system = root
        || !cache_dir.exists()
        || nix::unistd::access(cache_dir, nix::unistd::AccessFlags::W_OK).is_ok();
    let mut runs = Vec::new();
    if system {
        runs.extend(crate::supervise::gc::finish_dead_runs(ctx, args.dry_run)?);
        runs.extend(crate::supervise::names::gc_ns(cache_dir, args.dry_run)?);
        runs.extend(crate::container::record::collect_stale(ctx, args.dry_run)?);
        if !args.dry_run {
            // Leftovers of an ADD or DEL killed midway; not attachments, so not reported.
            ctx.cni.gc_stale_files()?;
        }
    }
    // The caller's shared rootless namespace (dead runners' attachments, empty generations).
    if !root {
        runs.extend(crate::rootless::cleanup::gc(ctx, args.dry_run)?);
    }
    let mut by_network: BTreeMap<String, Vec<CachedAttachment>> = BTreeMap::new();
    let cached = if system {
        ctx.cni.get_cached_attachments(args.network.as_deref())?
    } else {
        Vec::new()
    };
    for att in cached {
        by_network
            .entry(att.network_name.clone())
            .or_default()
            .push(att);
    }
    if let Some(n) = args.network.as_ref().filter(|_| system) {
        by_network.entry(n.clone()).or_default();
    }

    let mut removed = Vec::new();
    let mut errors = Vec::new();
    for (network, atts) in &by_network {
        if args.dry_run {
            removed.extend(atts.iter().filter(|a| is_stale(a)).cloned());
            continue;
        }
        let list = match list_for_gc(ctx, network, atts) {
            Ok(list) => list,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match ctx.cni.gc_network_list_by(&list, |a| !is_stale(a)) {
            Ok(report) => removed.extend(report.deleted),
            Err(e) => errors.push(anyhow!(e).context(format!("gc of network {network:?}"))),
        }
    }

    // What each DEL could not undo (a dry run deletes nothing, so nothing to look for).
    let dumps = if args.dry_run || removed.is_empty() {
        Vec::new()
    } else {
        rule_dumps()
    };
    let left: Vec<Vec<LeftBehind>> = removed
        .iter()
        .map(|a| rules_left(&dumps, &a.container_id))
        .collect();
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = removed
                .iter()
                .zip(&left)
                .map(|(a, l)| {
                    let mut item = json!({"network": a.network_name,
                        "containerId": a.container_id, "ifname": a.ifname, "netns": a.netns});
                    if !l.is_empty() {
                        item["leftBehind"] = l
                            .iter()
                            .map(|l| {
                                json!({"family": l.family, "table": l.table,
                                       "chains": l.chains, "rules": l.rules})
                            })
                            .collect();
                    }
                    item
                })
                .collect();
            crate::outln!(
                "{}",
                json!({ "dryRun": args.dry_run, "removed": items, "runs": runs })
            )?;
        }
        Output::Table if !ctx.quiet => {
            for line in &runs {
                crate::outln!("{line}")?;
            }
            for (a, l) in removed.iter().zip(&left) {
                let rest = if l.is_empty() {
                    String::new()
                } else {
                    let l: Vec<String> = l.iter().map(ToString::to_string).collect();
                    format!(", but its DEL left behind: {}", l.join(", "))
                };
                crate::outln!(
                    "{verb} {} {} {} (netns {}){rest}",
                    a.network_name,
                    a.container_id,
                    a.ifname,
                    a.netns.as_deref().unwrap_or("?")
                )?;
            }
            // Not when something failed: the stale attachments are still there.
            if removed.is_empty() && runs.is_empty() && errors.is_empty() {
                crate::outln!("nothing to remove")?;
            }
        }
        _ => {}
    }
    let incomplete: Vec<String> = removed
        .iter()
        .zip(&left)
        .filter(|(_, l)| !l.is_empty())
        .map(|(a, l)| {
            let l: Vec<String> = l.iter().map(ToString::to_string).collect();
            format!(
                "{} {} {}: {}",
                a.network_name,
                a.container_id,
                a.ifname,
                l.join(", ")
            )
        })
        .collect();
    if !incomplete.is_empty() {
        errors.push(anyhow::Error::new(Incomplete(incomplete)));
    }
    let err = match errors.len() {
        0 => return Ok(ExitCode::SUCCESS),
        1 => errors.remove(0),
        n => {
            let msgs: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            errors
                .remove(0)
                .context(format!("{n} networks failed: {}", msgs.join("; ")))
        }
    };
    Err(crate::interrupt::explain(err, |_| {
        format!(
            "what was not removed stays recorded: run `{}` again to finish",
            super::gc_command(ctx)
        )
    }))
}

/// The list to GC with: the netconf files, else the configuration recorded at ADD.
fn list_for_gc(
    ctx: &Context,
    network: &str,
    atts: &[CachedAttachment],
) -> Result<NetworkConfigList> {
    match libcni::conf::load_conf_list(&ctx.netconf_dirs, network) {
        Ok(lookup) => Ok(lookup.list),
        Err(e) => atts
            .iter()
            .find_map(|a| libcni::conf::conf_list_from_bytes(&a.config, None).ok())
            .filter(|l| l.name == network)
            .ok_or_else(|| anyhow!(e)),
    }
}
