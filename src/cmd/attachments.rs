//! `cnitool attachments`: what the cache says is attached.

use std::io;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use libcni::cache::CachedAttachment;
use libcni::CniResult;
use serde_json::json;

use super::{netns_arg, Context};
use crate::output::Output;
use crate::table;

// Arguments of `attachments`.
#[derive(Debug, Args)]
pub struct AttachmentsArgs {
    /// Only attachments of this network namespace (a name in the netns directory, or a path
    /// with a `/`).
    #[arg(long, value_name = "NETNS")]
    pub netns: Option<String>,
    /// Only attachments of this network.
    #[arg(long, value_name = "NETWORK")]
    pub net: Option<String>,
}

/// The addresses of a cached attachment's result.
pub fn addresses(att: &CachedAttachment) -> Vec<String> {
    let Some(result) = &att.result else {
        return Vec::new();
    };
    let bytes = serde_json::to_vec(result).unwrap_or_default();
    CniResult::parse(&bytes, "1.0.0")
        .and_then(|r| r.to_v1())
        .map(|r| r.ips.iter().map(|ip| ip.address.to_string()).collect())
        .unwrap_or_default()
}

/// Whether the namespace at `path` still exists: `None` when that cannot be told (no
/// permission to look).
fn netns_exists(path: &Path) -> Option<bool> {
    if libcni::netns::identify(path).is_ok() {
        return Some(true);
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => None,
        // Gone, or a plain file whose bind mount is gone: the namespace no longer exists.
        _ => Some(false),
    }
}

/// Whether a recorded namespace path is the one asked for: the same path, or (while it
/// exists) the same file reached another way (`/var/run` is `/run` on most systems).
fn same_netns(recorded: &str, wanted: &Path) -> bool {
    let recorded = Path::new(recorded);
    recorded == wanted
        || std::fs::canonicalize(recorded)
            .is_ok_and(|r| std::fs::canonicalize(wanted).is_ok_and(|w| r == w))
}

/// Runs `attachments`.
pub fn run(args: AttachmentsArgs, ctx: &Context) -> Result<ExitCode> {
    let want_ns = match &args.netns {
        Some(s) => Some(netns_arg(s, &ctx.netns_dir)?),
        None => None,
    };
    let listing = ctx.cni.cache().list(args.net.as_deref())?;
    if !ctx.quiet {
        for (path, why) in &listing.unreadable {
            crate::diag!(
                "warning: {}: unreadable cache file skipped: {why}",
                path.display()
            );
        }
    }
    let atts: Vec<CachedAttachment> = listing
        .attachments
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| {
            want_ns
                .as_ref()
                .is_none_or(|w| a.netns.as_deref().is_some_and(|n| same_netns(n, w)))
        })
        .collect();
    let exists = |a: &CachedAttachment| a.netns.as_deref().and_then(|n| netns_exists(Path::new(n)));
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = atts
                .iter()
                .map(|a| {
                    json!({"network": a.network_name, "containerId": a.container_id,
                           "ifname": a.ifname, "netns": a.netns, "addresses": addresses(a),
                           "netnsExists": exists(a)})
                })
                .collect();
            crate::outln!("{}", serde_json::to_string_pretty(&items)?)?;
        }
        Output::Table => {
            let mut t = table::new(&[
                "network",
                "container",
                "ifname",
                "netns",
                "addresses",
                "netns exists",
            ]);
            for a in &atts {
                let ex = match exists(a) {
                    Some(true) => "yes",
                    Some(false) => "no (stale: cnitool gc removes it)",
                    None => "unknown",
                };
                t.add_row([
                    a.network_name.clone(),
                    a.container_id.clone(),
                    a.ifname.clone(),
                    a.netns.clone().unwrap_or_else(|| "?".into()),
                    addresses(a).join(", "),
                    ex.to_owned(),
                ]);
            }
            crate::out!("{}", table::render(&t))?;
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
