//! `cnitool netns list`: the named namespaces, the networks the cache says are attached to
//! each, and how many processes are in each.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::cache::CachedAttachment;
use libcni::netns::NetnsId;
use libcni::CniResult;
use serde::Serialize;

use super::{attachments_in, render_table};
use crate::cmd::{absolute, Context};
use crate::output::Output;

// Arguments of `netns list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print only the names, one per line (for shell completion).
    #[arg(long, hide = true)]
    pub names: bool,
}

/// One namespace as `list` shows it (and `--output json` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The file name in the netns directory.
    pub name: String,
    /// The file's path.
    pub path: PathBuf,
    /// The namespace's inode (as in `net:[INODE]`); `null` for a stale file.
    pub inode: Option<u64>,
    /// Processes whose network namespace this is.
    pub processes: usize,
    /// Networks attached according to the cache, in the order they were added.
    pub networks: Vec<Network>,
}

/// An attachment of a network to the namespace.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// The network's name.
    pub network: String,
    /// The interface in the namespace.
    pub if_name: String,
    /// The container ID it was added with.
    pub container_id: String,
    /// The addresses of the cached result, `ADDR/PREFIX`.
    pub addresses: Vec<String>,
}

/// Runs `netns list`.
pub fn run(args: ListArgs, ctx: &Context) -> Result<ExitCode> {
    let found = libcni::netns::list(&ctx.netns_dir)?;
    if args.names {
        let names: String = found.iter().map(|ns| format!("{}\n", ns.name)).collect();
        let mut out = std::io::stdout().lock();
        out.write_all(names.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut entries = Vec::with_capacity(found.len());
    for ns in found {
        entries.push(entry(ctx, ns.name, ns.path, ns.id)?);
    }
    print(&entries, ctx.output.unwrap_or(Output::Table))?;
    Ok(ExitCode::SUCCESS)
}

/// Describes the namespace `name` at `path` (`id` as `libcni::netns::identify` gave it).
///
/// # Errors
/// The cache cannot be read.
pub fn entry(ctx: &Context, name: String, path: PathBuf, id: Option<NetnsId>) -> Result<Entry> {
    let path = absolute(&path)?;
    let networks = attachments_in(ctx, &path)?.iter().map(network).collect();
    Ok(Entry {
        name,
        inode: id.map(|id| id.ino),
        processes: id.map_or(0, libcni::netns::count_processes),
        networks,
        path,
    })
}

fn network(att: &CachedAttachment) -> Network {
    Network {
        network: att.network_name.clone(),
        if_name: att.ifname.clone(),
        container_id: att.container_id.clone(),
        addresses: att.result.as_ref().map(addresses).unwrap_or_default(),
    }
}

/// The addresses of a cached result, whatever its version; none if it does not parse.
fn addresses(result: &serde_json::Value) -> Vec<String> {
    let Ok(bytes) = serde_json::to_vec(result) else {
        return Vec::new();
    };
    CniResult::parse(&bytes, "")
        .and_then(|r| r.to_v1())
        .map(|r| r.ips.iter().map(|ip| ip.address.to_string()).collect())
        .unwrap_or_default()
}

/// Prints entries as a table (one row per attachment), JSON (an array), or nothing.
///
/// # Errors
/// Writing to stdout failed.
pub fn print(entries: &[Entry], format: Output) -> Result<()> {
    let text = match format {
        Output::Json => serde_json::to_string_pretty(entries)? + "\n",
        Output::Table => table(entries),
        Output::None => return Ok(()),
    };
    let mut out = crate::output::stdout();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

fn table(entries: &[Entry]) -> String {
    let mut rows = Vec::new();
    for e in entries {
        let inode = e
            .inode
            .map_or_else(|| "stale".to_owned(), |i| i.to_string());
        let first = [e.name.clone(), inode, e.processes.to_string()];
        if e.networks.is_empty() {
            rows.push(first.iter().cloned().chain(["-".to_owned()]).collect());
        }
        for (i, n) in e.networks.iter().enumerate() {
            let lead = if i == 0 {
                first.to_vec()
            } else {
                vec![String::new(); 3]
            };
            let addrs = if n.addresses.is_empty() {
                "-".to_owned()
            } else {
                n.addresses.join(",")
            };
            rows.push(
                lead.into_iter()
                    .chain([n.network.clone(), n.if_name.clone(), addrs])
                    .collect(),
            );
        }
    }
    render_table(
        &[
            "NAME",
            "INODE",
            "PROCESSES",
            "NETWORK",
            "IFNAME",
            "ADDRESSES",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn addresses_of_every_result_family() {
        let v04 = json!({"cniVersion": "0.4.0", "ips": [
            {"version": "4", "address": "10.1.0.2/24"},
            {"version": "6", "address": "fd00::2/64"}
        ]});
        assert_eq!(addresses(&v04), ["10.1.0.2/24", "fd00::2/64"]);
        let v1 = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.2.0.2/16"}]});
        assert_eq!(addresses(&v1), ["10.2.0.2/16"]);
        let v02 = json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.3.0.2/24"}});
        assert_eq!(addresses(&v02), ["10.3.0.2/24"]);
        assert!(addresses(&json!({"cniVersion": "9.9.9"})).is_empty());
    }

    #[test]
    fn table_has_a_row_per_attachment() {
        let net = |n: &str, i: &str, a: &[&str]| Network {
            network: n.into(),
            if_name: i.into(),
            container_id: "c".into(),
            addresses: a.iter().map(|s| (*s).to_owned()).collect(),
        };
        let entries = [
            Entry {
                name: "blue".into(),
                path: "/run/netns/blue".into(),
                inode: Some(4026532301),
                processes: 1,
                networks: vec![
                    net("mybr", "eth0", &["10.1.0.2/24"]),
                    net("other", "eth1", &[]),
                ],
            },
            Entry {
                name: "old".into(),
                path: "/run/netns/old".into(),
                inode: None,
                processes: 0,
                networks: vec![],
            },
        ];
        assert_eq!(
            table(&entries),
            "\
NAME  INODE       PROCESSES  NETWORK  IFNAME  ADDRESSES
blue  4026532301  1          mybr     eth0    10.1.0.2/24
                             other    eth1    -
old   stale       0          -
"
        );
    }
}
