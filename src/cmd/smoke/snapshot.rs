//! What `smoke` compares before and after: the host's links and addresses, the IPAM files of
//! the networks, the iptables rules and nftables tables, the cache, and this process's
//! children. Read with `ip`, `iptables-save`, `ip6tables-save` and `nft list tables`, which
//! only list.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use libcni::NetworkConfigList;
use serde_json::Value;

/// Chains the portmap and firewall plugins create once per host and never remove (and the
/// jumps to them from the built-in chains).
pub const SHARED_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
    "CNI-FORWARD",
    "CNI-ADMIN",
];

/// host-local's data directory when the netconf names none.
const HOST_LOCAL_DIR: &str = "/var/lib/cni/networks";

/// The sysctls plugins switch on for good (bridge and ptp enable forwarding).
const SYSCTLS: &[&str] = &[
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv6/conf/all/forwarding",
];

/// The host at one moment.
#[derive(Debug, Clone, Default)]
pub struct HostState {
    links: BTreeSet<String>,
    /// `IFNAME ADDRESS/PREFIX`.
    addrs: BTreeSet<String>,
    /// `FAMILY TABLE LINE` with counters removed, with how many times each is there.
    rules: BTreeMap<String, usize>,
    nft_tables: BTreeSet<String>,
    /// Files under the networks' host-local directories and the cache.
    files: BTreeSet<PathBuf>,
    sysctls: BTreeMap<&'static str, String>,
    children: BTreeSet<i32>,
    /// The listing tools that could not be run (what they show is not compared).
    missing: Vec<String>,
}

impl HostState {
    /// What was not compared, one line per listing that failed.
    pub fn missing_tools(&self) -> Vec<String> {
        self.missing.clone()
    }
}

/// What smoke expects the plugins to leave by design.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// Bridge devices the networks name.
    pub bridges: BTreeSet<String>,
}

impl Shared {
    /// The bridges of `lists` (the bridge plugin's `bridge`, default `cni0`).
    pub fn of(lists: &[NetworkConfigList]) -> Shared {
        let bridges = lists
            .iter()
            .flat_map(|l| &l.plugins)
            .filter(|p| p.plugin_type == "bridge")
            .map(|p| {
                p.raw
                    .get("bridge")
                    .and_then(Value::as_str)
                    .unwrap_or("cni0")
                    .to_owned()
            })
            .collect();
        Shared { bridges }
    }
}

/// `iptables-save` lines as `FAMILY TABLE LINE`, without comments and packet counters.
fn rules(family: &str, dump: &str, out: &mut BTreeMap<String, usize>) {
    let mut table = String::new();
    for line in dump.lines() {
        if line.starts_with('#') || line.is_empty() || line == "COMMIT" {
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_owned();
            continue;
        }
        let line = match line.rfind(" [") {
            Some(i) if line.starts_with(':') => &line[..i],
            _ => line,
        };
        *out.entry(format!("{family} {table} {line}")).or_default() += 1;
    }
}

/// The host-local data directories of `lists`, each with the network's subdirectory.
fn ipam_dirs(lists: &[NetworkConfigList]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for list in lists {
        for p in &list.plugins {
            if p.ipam_type.as_deref() != Some("host-local") {
                continue;
            }
            let base = p
                .raw
                .get("ipam")
                .and_then(|i| i.get("dataDir"))
                .and_then(Value::as_str)
                .unwrap_or(HOST_LOCAL_DIR);
            dirs.push(Path::new(base).join(&list.name));
        }
    }
    dirs
}

fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, out);
        } else {
            out.insert(p);
        }
    }
}

/// Reads the host's state: `lists` says which IPAM directories, `cache_dir` the cache.
pub fn take(lists: &[NetworkConfigList], cache_dir: &Path) -> HostState {
    let mut s = HostState::default();
    let mut missing = Vec::new();
    let mut run = |program: &str, args: &[&str], what: &str| {
        let out = crate::cmd::command_stdout(program, args);
        if out.is_none() {
            missing.push(format!(
                "`{program} {}` failed: {what} not compared",
                args.join(" ")
            ));
        }
        out.unwrap_or_default()
    };
    let links = run("ip", &["-o", "link", "show"], "links");
    let addrs = run("ip", &["-o", "addr", "show"], "addresses");
    let v4 = run("iptables-save", &[], "IPv4 rules");
    let v6 = run("ip6tables-save", &[], "IPv6 rules");
    let tables = if find_nft() {
        run("nft", &["list", "tables"], "nftables tables")
    } else {
        String::new()
    };
    s.missing = missing;
    for line in links.lines() {
        if let Some(name) = line.split(": ").nth(1) {
            s.links
                .insert(name.split('@').next().unwrap_or(name).to_owned());
        }
    }
    for line in addrs.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() > 3 {
            s.addrs.insert(format!("{} {}", w[1], w[3]));
        }
    }
    rules("iptables", &v4, &mut s.rules);
    rules("ip6tables", &v6, &mut s.rules);
    for line in tables.lines() {
        s.nft_tables.insert(line.trim().to_owned());
    }
    for dir in ipam_dirs(lists) {
        walk(&dir, &mut s.files);
    }
    walk(&cache_dir.join("results"), &mut s.files);
    walk(&crate::supervise::record::dir(cache_dir), &mut s.files);
    for f in SYSCTLS {
        s.sysctls.insert(
            f,
            fs::read_to_string(f).unwrap_or_default().trim().to_owned(),
        );
    }
    s.children = children();
    s
}

/// Whether `nft` is installed (without it, there are no nftables tables to compare apart
/// from iptables-nft's, which the iptables rules show).
fn find_nft() -> bool {
    [
        "/usr/sbin/nft",
        "/sbin/nft",
        "/usr/bin/nft",
        "/usr/local/sbin/nft",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

/// This process's children (from each thread's `children` list).
fn children() -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for task in fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(list) = fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// Whether an iptables line belongs to the shared state: a shared chain, a jump to one, a
/// built-in chain's policy line (its table was created).
fn shared_rule(line: &str) -> bool {
    let rule = line.splitn(3, ' ').nth(2).unwrap_or("");
    SHARED_CHAINS.iter().any(|c| rule.contains(c))
        || rule
            .strip_prefix(':')
            .and_then(|r| r.split(' ').next())
            .is_some_and(|c| c.chars().all(|ch| ch.is_ascii_uppercase()))
}

/// The differences between `before` and `after`: (leaks, shared state left by design).
pub fn diff(before: &HostState, after: &HostState, shared: &Shared) -> (Vec<String>, Vec<String>) {
    let mut leaks = Vec::new();
    let mut by_design = Vec::new();
    for l in after.links.difference(&before.links) {
        if shared.bridges.contains(l) {
            by_design.push(format!("bridge {l}"));
        } else {
            leaks.push(format!("link {l} added"));
        }
    }
    for l in before.links.difference(&after.links) {
        leaks.push(format!("link {l} removed"));
    }
    for a in after.addrs.difference(&before.addrs) {
        let dev = a.split(' ').next().unwrap_or("");
        if shared.bridges.contains(dev) {
            by_design.push(format!("address {a}"));
        } else {
            leaks.push(format!("address {a} added"));
        }
    }
    for a in before.addrs.difference(&after.addrs) {
        leaks.push(format!("address {a} removed"));
    }
    let keys: BTreeSet<&String> = before.rules.keys().chain(after.rules.keys()).collect();
    for k in keys {
        let (b, a) = (
            before.rules.get(k).copied().unwrap_or(0),
            after.rules.get(k).copied().unwrap_or(0),
        );
        let times = |n: usize| {
            if n > 1 {
                format!(" ({n} times)")
            } else {
                String::new()
            }
        };
        if a > b {
            if shared_rule(k) {
                by_design.push(format!("rule {k}"));
            } else {
                leaks.push(format!("rule {k} added{}", times(a - b)));
            }
        } else if a < b {
            leaks.push(format!("rule {k} removed{}", times(b - a)));
        }
    }
    for t in after.nft_tables.difference(&before.nft_tables) {
        // iptables-nft's own tables hold what the iptables rules above show.
        let compat = ["filter", "nat", "mangle", "raw", "security"]
            .iter()
            .any(|n| t.ends_with(&format!(" {n}")));
        if compat {
            by_design.push(format!("nft {t}"));
        } else {
            leaks.push(format!("nft {t} added"));
        }
    }
    for f in after.files.difference(&before.files) {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "lock" || name.starts_with("last_reserved_ip") {
            by_design.push(format!("host-local {}", f.display()));
        } else {
            leaks.push(format!("file {} added", f.display()));
        }
    }
    for f in before.files.difference(&after.files) {
        leaks.push(format!("file {} removed", f.display()));
    }
    for (k, v) in &after.sysctls {
        if before.sysctls.get(k) != Some(v) {
            by_design.push(format!("{k} = {v}"));
        }
    }
    for pid in after.children.difference(&before.children) {
        leaks.push(format!("process {pid} left running"));
    }
    (leaks, group(by_design))
}

/// Shared state in a few lines: one per kind (`bridge`, `address`, `rule`, ...), the items
/// joined.
fn group(items: Vec<String>) -> Vec<String> {
    let mut kinds: Vec<(String, Vec<String>)> = Vec::new();
    for item in items {
        let (kind, rest) = match item.split_once(' ') {
            Some((k, r)) if !k.starts_with('/') => (k.to_owned(), r.to_owned()),
            _ => ("sysctl".to_owned(), item),
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, v)) => v.push(rest),
            None => kinds.push((kind, vec![rest])),
        }
    }
    kinds
        .into_iter()
        .map(|(kind, v)| match kind.as_str() {
            "rule" => format!(
                "{} iptables line(s) of the shared chains {} and the jumps to them",
                v.len(),
                SHARED_CHAINS
                    .iter()
                    .filter(|c| v.iter().any(|l| l.contains(*c)))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "host-local" => format!("host-local bookkeeping {}", v.join(", ")),
            _ => format!("{kind} {}", v.join(", ")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_without_counters_and_shared_chains() {
        let mut m = BTreeMap::new();
        rules(
            "iptables",
            "# Generated\n*nat\n:PREROUTING ACCEPT [3:180]\n:CNI-HOSTPORT-DNAT - [0:0]\n\
             -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
             -A POSTROUTING -s 10.1.0.5/32 -j CNI-abc\nCOMMIT\n",
            &mut m,
        );
        let keys: Vec<&String> = m.keys().collect();
        assert_eq!(
            keys,
            [
                "iptables nat -A POSTROUTING -s 10.1.0.5/32 -j CNI-abc",
                "iptables nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                "iptables nat :CNI-HOSTPORT-DNAT -",
                "iptables nat :PREROUTING ACCEPT",
            ]
        );
        assert!(shared_rule(keys[1]));
        assert!(shared_rule(keys[2]));
        assert!(shared_rule(keys[3]));
        assert!(!shared_rule(keys[0]));
    }
}
