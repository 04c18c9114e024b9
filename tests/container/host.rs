//! What a container run can leave on the throwaway host beyond cnitool's own files: links
//! (the host ends of veths), IPv4 addresses and routes, host-local leases, iptables rules and
//! chains, namespace bind mounts. Taken once as a baseline after a warm-up run (so what the
//! plugins keep by design, the bridge and portmap's shared chains, is in it) and compared
//! after every scenario.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::Env;

/// portmap's top-level chains: made by its first ADD and kept by design, shared by every
/// mapping (each DEL removes only its own `CNI-DN-*` chain and the rules naming it).
pub const PORTMAP_SHARED_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
];

/// One normalised, sorted line per object, by category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostState(BTreeMap<&'static str, Vec<String>>);

impl HostState {
    /// Reads the calling thread's host (the throwaway one) for the test of `env`.
    pub fn take(env: &Env) -> HostState {
        let ipam = &env.ipam_dir();
        let mut c = BTreeMap::new();
        c.insert("links", links());
        c.insert("IPv4 addresses", addresses());
        c.insert("IPv4 routes", routes());
        c.insert("host-local leases", leases(ipam));
        c.insert("iptables", iptables());
        // The engines' own namespace files (docker's for a container it runs with
        // `--network none`) belong to their containers, which are checked apart.
        let engines = [env.base.join("docker"), env.base.join("podman")];
        let mut nsfs = nsfs_mounts();
        nsfs.retain(|m| !engines.iter().any(|d| Path::new(m).starts_with(d)));
        c.insert("nsfs mounts", nsfs);
        for v in c.values_mut() {
            v.sort();
        }
        HostState(c)
    }

    /// The lines of `category` that are in `self` and not in `before` (as a multiset).
    pub fn added(&self, before: &HostState, category: &str) -> Vec<String> {
        let mut was = before.0.get(category).cloned().unwrap_or_default();
        let mut out = Vec::new();
        for l in self.0.get(category).into_iter().flatten() {
            match was.iter().position(|w| w == l) {
                Some(i) => {
                    was.swap_remove(i);
                }
                None => out.push(l.clone()),
            }
        }
        out
    }

    /// The differences from `before`, as a diff per category (`-` gone, `+` new), or `None`.
    pub fn diff(&self, before: &HostState) -> Option<String> {
        let mut out = String::new();
        for cat in self.0.keys() {
            let gone = before.added(self, cat);
            let new = self.added(before, cat);
            if gone.is_empty() && new.is_empty() {
                continue;
            }
            out.push_str(&format!("--- {cat}\n"));
            gone.iter().for_each(|l| out.push_str(&format!("- {l}\n")));
            new.iter().for_each(|l| out.push_str(&format!("+ {l}\n")));
        }
        (!out.is_empty()).then_some(out)
    }

    /// The names of the iptables chains that start with `CNI-`.
    pub fn cni_chains(&self) -> Vec<String> {
        let mut out: Vec<String> = self.0["iptables"]
            .iter()
            .filter_map(|l| l.split_once(" :CNI-").map(|(_, n)| format!("CNI-{n}")))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn output(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Link names, without `@peer` (state and counters change by themselves).
fn links() -> Vec<String> {
    output(&["ip", "-o", "link", "show"])
        .lines()
        .filter_map(|l| Some(l.split(": ").nth(1)?.split('@').next()?.to_owned()))
        .collect()
}

/// `DEV ADDRESS/PREFIX`.
fn addresses() -> Vec<String> {
    output(&["ip", "-o", "-4", "addr", "show"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(format!("{} {}", f.get(1)?, f.get(3)?))
        })
        .collect()
}

fn routes() -> Vec<String> {
    output(&["ip", "-o", "-4", "route", "show", "table", "all"])
        .lines()
        // `linkdown` follows the bridge's carrier, not what was configured.
        .map(|l| {
            l.split_whitespace()
                .filter(|w| *w != "linkdown")
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// host-local's files but its `lock` and `last_reserved_ip.N` (kept by design): one per
/// address it holds, `NETWORK/ADDRESS`.
fn leases(ipam: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for net in fs::read_dir(ipam).into_iter().flatten().flatten() {
        for f in fs::read_dir(net.path()).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name != "lock" && !name.starts_with("last_reserved_ip") {
                out.push(format!("{}/{name}", net.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// `iptables-save` and `ip6tables-save`: `SAVE TABLE :CHAIN` for each chain but the built-in
/// ones, `SAVE TABLE RULE` for each rule (no comments, no counters).
fn iptables() -> Vec<String> {
    let mut out = Vec::new();
    for save in ["iptables-save", "ip6tables-save"] {
        let mut table = String::new();
        for l in output(&[save]).lines() {
            if let Some(t) = l.strip_prefix('*') {
                table = t.to_owned();
            } else if let Some(decl) = l.strip_prefix(':') {
                let name = decl.split(' ').next().unwrap_or("");
                if !name.chars().all(|c| c.is_ascii_uppercase()) {
                    out.push(format!("{save} {table} :{name}"));
                }
            } else if !(l.starts_with('#') || l == "COMMIT" || l.is_empty()) {
                out.push(format!("{save} {table} {l}"));
            }
        }
    }
    out
}

/// Mount points of namespace files (`nsfs`), e.g. named network namespaces.
fn nsfs_mounts() -> Vec<String> {
    fs::read_to_string("/proc/thread-self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("nsfs "))
        })
        .filter_map(|l| Some(l.split(' ').nth(4)?.to_owned()))
        .collect()
}
