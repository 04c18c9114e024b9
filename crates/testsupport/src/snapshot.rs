//! The leak snapshot: everything a networking command could leave behind on a throwaway
//! host, normalised so that two snapshots of an unchanged host are equal. A test takes one
//! before and compares every later one with it; any difference is a leak, printed as a diff.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use libcni::netns;

/// One normalised line per object, grouped by category (sorted; duplicates kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub categories: BTreeMap<&'static str, Vec<String>>,
}

/// What a snapshot looks at (the directories are the throwaway host's).
#[derive(Clone, Copy, Debug)]
pub struct Dirs<'a> {
    pub netns: &'a Path,
    pub cache: &'a Path,
    pub ipam: &'a Path,
}

impl Snapshot {
    /// Takes a snapshot from the calling thread (which must be in the throwaway host).
    pub fn take(dirs: Dirs<'_>) -> Snapshot {
        let mut c = BTreeMap::new();
        c.insert("netns files", files_under(dirs.netns, &|_| true));
        c.insert("nsfs mounts", nsfs_mounts());
        c.insert("links", links());
        c.insert(
            "addresses",
            lines(&["ip", "-o", "addr", "show"], &addr_line),
        );
        c.insert("routes", routes());
        // host-local keeps `lock` and `last_reserved_ip.N` by design; every other file is an
        // address it holds.
        c.insert(
            "host-local allocations",
            files_under(dirs.ipam, &|name| {
                name != "lock" && !name.starts_with("last_reserved_ip")
            }),
        );
        // The cache lock is created once and kept (it is what GC and ADD synchronise on);
        // everything else in the cache dir, results, records and per-attachment locks
        // included, belongs to one attachment or run.
        c.insert(
            "cache, records and locks",
            files_under(dirs.cache, &|name| name != "cnitool.lock"),
        );
        c.insert("iptables rules", iptables());
        c.insert("nft rules", nft());
        c.insert("listening sockets", sockets());
        c.insert("processes", processes(dirs.netns));
        for v in c.values_mut() {
            v.sort();
        }
        Snapshot { categories: c }
    }

    /// The differences from `before`, as a diff (`-` gone, `+` new), or `None`.
    pub fn diff(&self, before: &Snapshot) -> Option<String> {
        let mut out = String::new();
        for (cat, now) in &self.categories {
            let was = before.categories.get(cat).cloned().unwrap_or_default();
            let gone = multiset_minus(&was, now);
            let new = multiset_minus(now, &was);
            if gone.is_empty() && new.is_empty() {
                continue;
            }
            out.push_str(&format!("--- {cat}\n"));
            for l in gone {
                out.push_str(&format!("- {l}\n"));
            }
            for l in new {
                out.push_str(&format!("+ {l}\n"));
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The lines of `category` that are in `self` and not in `before` (as a multiset).
    pub fn added(&self, before: &Snapshot, category: &str) -> Vec<String> {
        let now = self.categories.get(category).map_or(&[][..], Vec::as_slice);
        let was = before
            .categories
            .get(category)
            .map_or(&[][..], Vec::as_slice);
        multiset_minus(now, was)
    }

    /// Keeps only the lines of `category` for which `keep` holds.
    pub fn retain(&mut self, category: &str, keep: impl Fn(&str) -> bool) {
        if let Some(lines) = self.categories.get_mut(category) {
            lines.retain(|l| keep(l));
        }
    }

    /// The names of the iptables chains (IPv4 and IPv6) that start with `CNI-`, sorted.
    pub fn cni_chains(&self) -> Vec<String> {
        let mut out: Vec<String> = self.categories["iptables rules"]
            .iter()
            .filter_map(|l| l.split_once(" :CNI-").map(|(_, n)| format!("CNI-{n}")))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The categories that differ from `before`.
    pub fn changed(&self, before: &Snapshot) -> Vec<&'static str> {
        self.categories
            .iter()
            .filter(|(cat, v)| before.categories.get(*cat) != Some(v))
            .map(|(cat, _)| *cat)
            .collect()
    }
}

fn multiset_minus(a: &[String], b: &[String]) -> Vec<String> {
    let mut b = b.to_vec();
    let mut out = Vec::new();
    for x in a {
        match b.iter().position(|y| y == x) {
            Some(i) => {
                b.swap_remove(i);
            }
            None => out.push(x.clone()),
        }
    }
    out
}

/// Files (relative paths) under `dir`, recursively, whose file name passes `keep`.
fn files_under(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if keep(&name) {
                out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            }
        }
    }
    out
}

fn nsfs_mounts() -> Vec<String> {
    fs::read_to_string("/proc/thread-self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|t| t.starts_with("nsfs "))
        })
        .map(|l| l.split(' ').nth(4).unwrap_or("?").to_owned())
        .collect()
}

fn output(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines(argv: &[&str], norm: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    output(argv).lines().filter_map(norm).collect()
}

/// Link names (without `@peer`); state and counters change on their own.
fn links() -> Vec<String> {
    lines(&["ip", "-o", "link", "show"], &|l| {
        Some(l.split(": ").nth(1)?.split('@').next()?.to_owned())
    })
}

/// `ip -o addr`: interface, family, address (lifetimes and flags change on their own).
fn addr_line(l: &str) -> Option<String> {
    let f: Vec<&str> = l.split_whitespace().collect();
    Some(format!("{} {} {}", f.get(1)?, f.get(2)?, f.get(3)?))
}

fn routes() -> Vec<String> {
    let mut out = Vec::new();
    for fam in ["-4", "-6"] {
        for l in output(&["ip", fam, "-o", "route", "show", "table", "all"]).lines() {
            // Kernel IPv6 link-local/multicast routes come and go with link state.
            if l.contains("proto kernel")
                && fam == "-6"
                && (l.contains("fe80") || l.contains("ff00"))
            {
                continue;
            }
            // `linkdown` follows the bridge's carrier, not what was configured.
            let words: Vec<&str> = l.split_whitespace().filter(|w| *w != "linkdown").collect();
            out.push(format!("{fam} {}", words.join(" ")));
        }
    }
    out
}

/// `iptables-save` and `ip6tables-save` without comments, counters and built-in chain
/// declarations.
fn iptables() -> Vec<String> {
    let mut out = Vec::new();
    for save in ["iptables-save", "ip6tables-save"] {
        let mut table = String::new();
        for l in output(&[save]).lines() {
            if let Some(t) = l.strip_prefix('*') {
                table = t.to_owned();
                continue;
            }
            if l.starts_with('#') || l == "COMMIT" || l.is_empty() {
                continue;
            }
            if let Some(decl) = l.strip_prefix(':') {
                let name = decl.split(' ').next().unwrap_or("");
                if name.chars().all(|c| c.is_ascii_uppercase()) {
                    continue; // a built-in chain (PREROUTING, ...)
                }
                out.push(format!("{save} {table} :{name}"));
                continue;
            }
            out.push(format!("{save} {table} {l}"));
        }
    }
    out
}

/// `nft list ruleset` outside the tables iptables-nft manages (those are in
/// [`iptables`]), without handles and counters.
fn nft() -> Vec<String> {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("running nft (package nftables; scripts/install-deps installs it)");
    assert!(out.status.success(), "nft list ruleset: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut res = Vec::new();
    let mut table = String::new();
    let mut skip = false;
    for l in text.lines() {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("table ") {
            table = name.trim_end_matches(" {").to_owned();
            let compat = ["nat", "filter", "mangle", "raw", "security"];
            skip = table
                .split_once(' ')
                .is_some_and(|(fam, n)| matches!(fam, "ip" | "ip6") && compat.contains(&n));
            if !skip {
                res.push(format!("table {table}"));
            }
            continue;
        }
        if skip || t.is_empty() || t == "}" {
            continue;
        }
        let t = t.split(" # handle").next().unwrap_or(t);
        let t = match t.find("counter packets") {
            Some(i) => t[..i].trim_end().to_owned(),
            None => t.to_owned(),
        };
        res.push(format!("{table}: {t}"));
    }
    res
}

/// Listening TCP and UDP sockets (local address and port).
fn sockets() -> Vec<String> {
    lines(&["ss", "-H", "-l", "-n", "-t", "-u"], &|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        Some(format!("{} {}", f.first()?, f.get(4)?))
    })
}

/// Processes in the host namespace and in every named namespace, by command name.
fn processes(netns_dir: &Path) -> Vec<String> {
    let mut ids = vec![("host".to_owned(), netns::current_thread_netns().unwrap())];
    for ns in netns::list(netns_dir).unwrap_or_default() {
        if let Some(id) = ns.id {
            ids.push((ns.name.clone(), id));
        }
    }
    let mut out = Vec::new();
    for (name, id) in ids {
        for pid in netns::processes_in(id) {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            out.push(format!("{name}: {}", comm.trim()));
        }
    }
    out
}
