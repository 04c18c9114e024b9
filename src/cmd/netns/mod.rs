//! `cnitool netns`: persistent named network namespaces, compatible with iproute2's
//! `/run/netns`, made without calling `ip`.
//!
//! The namespace work itself (shared run directory under a lock, `O_EXCL` file, bind mount,
//! unmount) is `libcni::netns`; this module adds the CLI around it: attaching networks at
//! creation, reading the attachments back from the result cache, and `exec`.

pub mod create;
pub mod delete;
pub mod exec;
pub mod list;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::{Args, Subcommand};
use libcni::cache::CachedAttachment;
use libcni::RuntimeConf;

use super::{absolute, Context};

// Arguments of `netns`.
#[derive(Debug, Args)]
pub struct NetnsArgs {
    #[command(subcommand)]
    pub command: NetnsCommand,
}

// The `netns` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetnsCommand {
    /// Create a named network namespace (like `ip netns add`), optionally attached to networks.
    Create(create::CreateArgs),
    /// Run a command in a named network namespace (like `ip netns exec`).
    Exec(exec::ExecArgs),
    /// List the named network namespaces with their networks and processes.
    #[command(visible_alias = "ls")]
    List(list::ListArgs),
    /// Delete named network namespaces (like `ip netns delete`).
    #[command(visible_alias = "del", alias = "rm")]
    Delete(delete::DeleteArgs),
}

/// Runs `netns`.
pub fn run(args: NetnsArgs, ctx: &Context) -> Result<ExitCode> {
    match args.command {
        NetnsCommand::Create(args) => create::run(args, ctx),
        NetnsCommand::Exec(args) => exec::run(args, ctx),
        NetnsCommand::List(args) => list::run(args, ctx),
        NetnsCommand::Delete(args) => delete::run(args, ctx),
    }
}

/// clap value parser for a namespace name: the rule of `libcni::netns::validate_name`, so
/// that a bad name is a usage error (exit code 2) whose message states the rule.
pub fn parse_name(s: &str) -> Result<String, String> {
    libcni::netns::validate_name(s)
        .map(|()| s.to_owned())
        .map_err(|e| e.to_string())
}

/// The absolute path of the namespace `name` in the netns directory: what plugins get as
/// `CNI_NETNS` and what the cache records.
pub fn netns_path(ctx: &Context, name: &str) -> Result<PathBuf> {
    absolute(&ctx.netns_dir.join(name))
}

/// The runtime configuration that DELs a cached attachment: its recorded container ID,
/// interface, `CNI_ARGS` and capability arguments, in the namespace at `netns`.
pub fn teardown_conf(att: &CachedAttachment, netns: &Path) -> RuntimeConf {
    RuntimeConf {
        container_id: att.container_id.clone(),
        netns: netns.to_path_buf(),
        ifname: att.ifname.clone(),
        args: att.cni_args.clone(),
        capability_args: att.capability_args.clone(),
    }
}

/// The cached attachments whose namespace is `path`, in the order they were added (cache
/// file modification time, then file name).
///
/// A recorded path matches when it is the same string, or when both resolve to the same
/// file (`/var/run/netns/x` and `/run/netns/x` on a system where `/var/run` links to `/run`).
///
/// # Errors
/// The cache directory cannot be read.
pub fn attachments_in(ctx: &Context, path: &Path) -> Result<Vec<CachedAttachment>> {
    let listing = ctx.cni.cache().list(None)?;
    let real = std::fs::canonicalize(path).ok();
    let mut found: Vec<(SystemTime, PathBuf, CachedAttachment)> = listing
        .attachments
        .into_iter()
        .filter(|(_, att)| {
            att.netns.as_deref().is_some_and(|ns| {
                Path::new(ns) == path || real.is_some() && std::fs::canonicalize(ns).ok() == real
            })
        })
        .map(|(file, att)| {
            let added = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (added, file, att)
        })
        .collect();
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(found.into_iter().map(|(_, _, att)| att).collect())
}

/// Left-aligned columns separated by two spaces, with a header row; no trailing spaces.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_library_rule() {
        assert_eq!(parse_name("blue-1").unwrap(), "blue-1");
        for bad in ["", ".x", "-x", "a/b", "a b", &"n".repeat(65)] {
            let e = parse_name(bad).unwrap_err();
            assert!(e.contains("must be 1 to 64 characters"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn tables_align_and_trim() {
        let t = render_table(
            &["NAME", "N"],
            &[
                vec!["a".into(), "1".into()],
                vec!["longer".into(), String::new()],
            ],
        );
        assert_eq!(t, "NAME    N\na       1\nlonger\n");
    }
}
