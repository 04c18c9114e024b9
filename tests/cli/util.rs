//! The harness: a throwaway host (network + mount namespace) with its own temp directories,
//! a runner for the real `cnitool` binary, and the "nothing left behind" checks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libcni::netns;
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha512};
use tempfile::TempDir;

/// The real plugins (Debian containernetworking-plugins).
pub const REAL_PLUGINS: &str = "/usr/lib/cni";

/// Chains portmap creates once per host and never removes; anything else named `CNI-*` left
/// after a DEL is a leak.
const GLOBAL_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
    "CNI-FORWARD",
    "CNI-ADMIN",
];

pub use testsupport::root_or_skip;

/// Runs `f` in a throwaway host: a fresh thread with its own network and mount namespace,
/// and a [`Host`] with temp directories. After `f`, checks that nothing was left behind.
pub fn host_test(test: &str, f: impl FnOnce(&Host) + Send) {
    if !root_or_skip(test) {
        return;
    }
    testsupport::in_throwaway_host(|| {
        let host = Host::new();
        f(&host);
        host.assert_clean();
    });
}

/// Runs `f` without namespaces (for tests that never reach a plugin or the network).
pub fn plain_test(f: impl FnOnce(&Host)) {
    let host = Host::new();
    f(&host);
    host.assert_cache_empty();
}

/// A throwaway host's directories.
#[derive(Debug)]
pub struct Host {
    /// Removed on drop, after [`Host`]'s own `Drop` has unmounted what was mounted inside.
    _tmp: TempDir,
    /// Netconf directory (`NETCONFPATH`).
    pub conf: PathBuf,
    /// Result cache (`--cache-dir`).
    pub cache: PathBuf,
    /// Named namespaces (`--netns-dir`).
    pub netns_dir: PathBuf,
    /// Fake plugins, searched before the real ones.
    pub bin: PathBuf,
    /// host-local's `dataDir`.
    pub ipam: PathBuf,
    /// Scratch space for plugins' notes.
    pub scratch: PathBuf,
}

pub use testsupport::cnitool::{Cnitool, Run};

/// The bare binary, with none of the variables it reads inherited from the test runner.
pub fn cnitool_bare() -> Cnitool {
    Cnitool::new(env!("CARGO_BIN_EXE_cnitool"))
}

impl Host {
    fn new() -> Host {
        let tmp = tempfile::Builder::new()
            .prefix("cnitool-cli-")
            .tempdir()
            .expect("temp dir");
        let sub = |name: &str| {
            let p = tmp.path().join(name);
            fs::create_dir_all(&p).unwrap();
            p
        };
        Host {
            conf: sub("net.d"),
            cache: tmp.path().join("cache"),
            netns_dir: tmp.path().join("netns"),
            bin: sub("bin"),
            ipam: tmp.path().join("ipam"),
            scratch: sub("scratch"),
            _tmp: tmp,
        }
    }

    /// The temp directory that holds all of this host's directories.
    pub fn root(&self) -> &Path {
        self._tmp.path()
    }

    /// Output made the same on every run, for snapshots: this host's temp directory as
    /// `[TMP]`, MAC addresses as `[MAC]`, container IDs derived from namespace paths as
    /// `[CID]`, and the tool's own version as `[VERSION]`. Tables (paragraphs under an
    /// upper-case header) are cut into cells at the header's columns and aligned again after
    /// the replacements, so their layout does not depend on the length of `$TMPDIR`.
    pub fn normalize(&self, text: &str) -> String {
        text.split("\n\n")
            .map(|para| {
                let header = para.lines().next().unwrap_or("");
                let is_table = header.contains("  ")
                    && header.chars().all(|c| c.is_ascii_uppercase() || c == ' ');
                if is_table {
                    self.realign(para)
                } else {
                    self.replace(para)
                }
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn replace(&self, text: &str) -> String {
        let root = self.root().display().to_string();
        let text = text.replace(&root, "[TMP]");
        let mac = Regex::new(r"\b([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}\b").unwrap();
        let cid = Regex::new(r"\bcnitool-[0-9a-f]{20}\b").unwrap();
        // The tool's version only where it is the tool's: spec versions look the same.
        let version = Regex::new(&format!(
            r#"(cnitool |"version": "){}\b"#,
            regex::escape(env!("CARGO_PKG_VERSION"))
        ))
        .unwrap();
        let text = mac.replace_all(&text, "[MAC]");
        let text = cid.replace_all(&text, "[CID]");
        version.replace_all(&text, "${1}[VERSION]").into_owned()
    }

    /// A table's cells, replaced, in columns two spaces apart.
    fn realign(&self, table: &str) -> String {
        let mut lines = table.lines();
        let header: Vec<char> = lines.next().unwrap_or("").chars().collect();
        // A column starts where a header word follows two spaces (or the line's start).
        let starts: Vec<usize> = (0..header.len())
            .filter(|&i| header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 2..i] == [' ', ' '])))
            .collect();
        let cells = |line: &str| -> Vec<String> {
            let chars: Vec<char> = line.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(n, &start)| {
                    let end = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(chars.len())
                        .min(chars.len());
                    let cell: String = chars[start.min(end)..end].iter().collect();
                    self.replace(cell.trim_end())
                })
                .collect()
        };
        let rows: Vec<Vec<String>> = std::iter::once(header.iter().collect::<String>())
            .chain(lines.map(str::to_owned))
            .map(|l| cells(&l))
            .collect();
        let mut widths = vec![0; starts.len()];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<w$}  "));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.truncate(out.trim_end_matches('\n').len());
        if table.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// `cnitool` with this host's directories: `NETCONFPATH`, `CNI_PATH` (fake plugins, then
    /// the real ones), `--cache-dir` and `--netns-dir`.
    pub fn cnitool(&self) -> Cnitool {
        cnitool_bare()
            .env("NETCONFPATH", &self.conf)
            .env("CNI_PATH", format!("{}:{REAL_PLUGINS}", self.bin.display()))
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("--netns-dir")
            .arg(&self.netns_dir)
    }

    /// `cnitool ARGS...` with this host's directories, run to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cnitool().args(args).run()
    }

    /// Creates a named network namespace in the netns directory (`lo` up).
    pub fn netns(&self, name: &str) -> PathBuf {
        netns::create(&self.netns_dir, name, Default::default()).expect("creating a netns")
    }

    /// Removes a named namespace.
    pub fn delete_netns(&self, name: &str) {
        netns::delete(&self.netns_dir, name).expect("deleting a netns");
    }

    /// Writes a netconf file.
    pub fn write_conf(&self, file: &str, content: &str) -> PathBuf {
        let p = self.conf.join(file);
        fs::write(&p, content).unwrap();
        p
    }

    /// Writes `NAME.conflist` for a list of plugins (cniVersion 1.0.0 unless given).
    pub fn conflist(&self, name: &str, version: &str, plugins: Value) -> PathBuf {
        let list = serde_json::json!({"cniVersion": version, "name": name, "plugins": plugins});
        self.write_conf(
            &format!("{name}.conflist"),
            &serde_json::to_string_pretty(&list).unwrap(),
        )
    }

    /// A bridge plugin with host-local IPAM on `10.198.<n>.0/24`, masquerading (so a leaked
    /// per-container chain shows) and a default route.
    pub fn bridge(&self, n: u8) -> Value {
        serde_json::json!({
            "type": "bridge",
            "bridge": "cnitest0",
            "isGateway": true,
            "ipMasq": true,
            "ipam": {
                "type": "host-local",
                "dataDir": self.ipam,
                "ranges": [[{"subnet": format!("10.198.{n}.0/24")}]],
                "routes": [{"dst": "0.0.0.0/0"}]
            }
        })
    }

    /// The usual test network: `testnet` = bridge + host-local on 10.198.1.0/24.
    pub fn testnet(&self) {
        self.conflist("testnet", "1.0.0", serde_json::json!([self.bridge(1)]));
    }

    /// `testnet` without masquerading, for tests whose namespace is gone at DEL: bridge
    /// 1.1.1 learns the addresses to unmasquerade from the container's link, so it leaks the
    /// per-container chain when the namespace is gone (a plugin limitation, fixed upstream
    /// by reading `prevResult`).
    pub fn testnet_no_masq(&self) {
        let mut bridge = self.bridge(1);
        bridge["ipMasq"] = false.into();
        self.conflist("testnet", "1.0.0", serde_json::json!([bridge]));
    }

    /// Writes an executable fake plugin (a `#!/bin/sh` script) into the fake plugin dir.
    pub fn fake_plugin(&self, name: &str, script: &str) {
        let p = self.bin.join(name);
        fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The cache files (names) present now.
    pub fn cache_files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.cache.join("results"))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The cache file of an attachment, parsed.
    #[track_caller]
    pub fn cache_entry(&self, network: &str, container_id: &str, ifname: &str) -> Value {
        let p = self
            .cache
            .join("results")
            .join(format!("{network}-{container_id}-{ifname}"));
        let bytes = fs::read(&p).unwrap_or_else(|e| {
            panic!(
                "reading {}: {e} (cache: {:?})",
                p.display(),
                self.cache_files()
            )
        });
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Addresses host-local holds (files other than its bookkeeping).
    pub fn ipam_leases(&self) -> Vec<String> {
        let mut leases = Vec::new();
        let Ok(nets) = fs::read_dir(&self.ipam) else {
            return leases;
        };
        for net in nets.filter_map(Result::ok) {
            for f in fs::read_dir(net.path()).unwrap().filter_map(Result::ok) {
                let name = f.file_name().to_string_lossy().into_owned();
                if name != "lock" && !name.starts_with("last_reserved_ip") {
                    leases.push(format!("{}/{name}", net.file_name().to_string_lossy()));
                }
            }
        }
        leases
    }

    #[track_caller]
    pub fn assert_cache_empty(&self) {
        assert_eq!(self.cache_files(), Vec::<String>::new(), "cache files left");
    }

    /// Nothing left behind: cache, host-local leases, veths on the host side, per-container
    /// iptables chains and rules, processes in this host or its namespaces.
    #[track_caller]
    pub fn assert_clean(&self) {
        self.assert_cache_empty();
        assert_eq!(
            self.ipam_leases(),
            Vec::<String>::new(),
            "host-local leases left"
        );
        // The kernel destroys a namespace, and the veth peers of its links, asynchronously
        // once the last reference is gone: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let links = sh_output(&["ip", "-o", "link", "show"]);
            if !links.contains("veth") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "veth left on the host side:\n{links}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for save in ["iptables-save", "ip6tables-save"] {
            let rules = sh_output(&[save]);
            let leaked: Vec<&str> = rules
                .lines()
                .filter(|l| {
                    l.strip_prefix(":CNI-").is_some_and(|rest| {
                        let chain = format!("CNI-{}", rest.split(' ').next().unwrap_or(""));
                        !GLOBAL_CHAINS.contains(&chain.as_str())
                    }) || l.contains("cnitool-")
                })
                .collect();
            assert!(
                leaked.is_empty(),
                "{save}: leaked chains or rules: {leaked:#?}\n{rules}"
            );
        }
        let me = netns::current_thread_netns().unwrap();
        assert_eq!(
            netns::count_processes(me),
            0,
            "processes left in the host namespace"
        );
        for ns in netns::list(&self.netns_dir).unwrap_or_default() {
            if let Some(id) = ns.id {
                assert_eq!(
                    netns::count_processes(id),
                    0,
                    "processes left in {}",
                    ns.name
                );
            }
        }
    }

    /// Runs a command inside a namespace and returns its stdout (asserting success).
    #[track_caller]
    pub fn in_netns(&self, path: &Path, argv: &[&str]) -> String {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        netns::run_in(path, move || sh_output_owned(&argv)).expect("entering the netns")
    }
}

impl Drop for Host {
    /// Deletes the namespaces and unmounts the netns directory (made a shared bind mount by
    /// `netns::create`) and anything else mounted below the temp directory, so that it can be
    /// removed.
    fn drop(&mut self) {
        if let Ok(list) = netns::list(&self.netns_dir) {
            for ns in list {
                netns::delete(&self.netns_dir, &ns.name).ok();
            }
        }
        nix::mount::umount2(&self.netns_dir, nix::mount::MntFlags::MNT_DETACH).ok();
        // And whatever a test mounted in its directories (e.g. overlay layers in scratch).
        testsupport::unmount_all_under(self.root());
    }
}

/// Runs a command in the calling thread's namespaces and returns stdout (asserting success).
#[track_caller]
pub fn sh_output(argv: &[&str]) -> String {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    sh_output_owned(&argv)
}

#[track_caller]
fn sh_output_owned(argv: &[String]) -> String {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The Go cnitool's container ID for a namespace path.
pub fn go_container_id(path: &Path) -> String {
    let digest = Sha512::digest(path.as_os_str().as_encoded_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

/// The `ip -o -4 addr show dev IF` output inside a namespace.
pub fn addrs(host: &Host, ns: &Path, ifname: &str) -> String {
    host.in_netns(ns, &["ip", "-o", "addr", "show", "dev", ifname])
}

/// Whether a link exists inside a namespace.
pub fn has_link(ns: &Path, ifname: &str) -> bool {
    let ifname = ifname.to_owned();
    netns::run_in(ns, move || {
        Command::new("ip")
            .args(["link", "show", "dev", &ifname])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    })
    .unwrap()
}
