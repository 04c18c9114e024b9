//! The harness: a throwaway host (network and mount namespace, a tmpfs holding every
//! directory the tool and the plugins write to), a runner for the real binary with time
//! limits, fault plugins, and the leak snapshot compared after every case.

#![allow(dead_code)] // not every test module uses every helper

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libcni::netns;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde_json::{json, Value};

use testsupport::snapshot::{Dirs, Snapshot};

/// The real plugins (Debian containernetworking-plugins).
pub const REAL_PLUGINS: &str = "/usr/lib/cni";

/// Whether the full suite runs (`RELIABILITY_FULL=1`, see `scripts/reliability`).
pub fn full() -> bool {
    std::env::var("RELIABILITY_FULL").as_deref() == Ok("1")
}

/// `default` iterations in the default test run, `full` in the full suite.
pub fn iterations(default: usize, full_count: usize) -> usize {
    if full() {
        full_count
    } else {
        default
    }
}

pub use testsupport::root_or_skip;

/// A figure for docs/RELIABILITY.md: printed as `FIGURE category: ...` (`--nocapture` shows it).
pub fn figure(category: &str, text: impl std::fmt::Display) {
    eprintln!("FIGURE {category}: {text}");
}

/// Runs `f` in a throwaway host: a fresh thread with its own network and mount namespace, a
/// tmpfs on a temp dir for every state directory (and on `/var/lib`, so that a default
/// path reached by mistake stays inside). After `f`, the host must match its baseline
/// snapshot exactly. Everything mounted is unmounted before the thread ends, and the (empty)
/// temp dir is removed outside the namespace.
pub fn host_test(test: &str, f: impl FnOnce(&mut Host) + Send) {
    if !root_or_skip(test) {
        return;
    }
    let tmp = tempfile::Builder::new()
        .prefix("cnitool-reliab-")
        .tempdir()
        .expect("temp dir");
    let root = tmp.path().to_owned();
    testsupport::in_throwaway_host(|| {
        mount(
            Some("tmpfs"),
            &root,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=700"),
        )
        .expect("mounting the host's tmpfs");
        // /var/lib, whether or not the machine has a /var/lib/cni: a plugin's default path
        // reached by mistake lands in this tmpfs, never on the machine's disk.
        let var_lib = Path::new("/var/lib");
        mount(
            Some("tmpfs"),
            var_lib,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=755"),
        )
        .expect("mounting a tmpfs on /var/lib");
        let mut host = Host::new(&root);
        // lo up, as on a real host (portmap's hairpin and the listening-socket checks).
        sh(&["ip", "link", "set", "lo", "up"]);
        host.rebaseline();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(&mut host);
            host.assert_clean("at the end of the test");
        }));
        host.teardown();
        umount2(var_lib, MntFlags::MNT_DETACH).expect("unmounting /var/lib's tmpfs");
        umount2(&root, MntFlags::MNT_DETACH).expect("unmounting the host's tmpfs");
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
    });
    drop(tmp);
}

/// A throwaway host's directories and baseline.
#[derive(Debug)]
pub struct Host {
    pub root: PathBuf,
    /// Netconf directory (`NETCONFPATH`).
    pub conf: PathBuf,
    /// Result cache and run records (`--cache-dir`).
    pub cache: PathBuf,
    /// Named namespaces (`--netns-dir`).
    pub netns_dir: PathBuf,
    /// Fake and fault plugins, searched before the real ones.
    pub bin: PathBuf,
    /// host-local's `dataDir`.
    pub ipam: PathBuf,
    /// Scratch space for plugins' counters and notes.
    pub scratch: PathBuf,
    /// What "nothing left behind" means for this host.
    pub baseline: Option<Snapshot>,
    /// Comparisons made (for the figures).
    pub snapshots: AtomicUsize,
}

impl Host {
    fn new(root: &Path) -> Host {
        let sub = |name: &str| {
            let p = root.join(name);
            fs::create_dir_all(&p).unwrap();
            p
        };
        Host {
            root: root.to_owned(),
            conf: sub("net.d"),
            cache: root.join("cache"),
            netns_dir: root.join("netns"),
            bin: sub("bin"),
            ipam: root.join("ipam"),
            scratch: sub("scratch"),
            baseline: None,
            snapshots: AtomicUsize::new(0),
        }
    }

    fn dirs(&self) -> Dirs<'_> {
        Dirs {
            netns: &self.netns_dir,
            cache: &self.cache,
            ipam: &self.ipam,
        }
    }

    /// A snapshot of the host now.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshots.fetch_add(1, Ordering::Relaxed);
        Snapshot::take(self.dirs())
    }

    /// Takes the baseline again (after a warm-up that created the per-host objects plugins
    /// keep by design: the bridge and its gateway address, portmap's shared chains).
    pub fn rebaseline(&mut self) {
        self.baseline = Some(self.snapshot());
    }

    /// The difference from the baseline, if any. The kernel tears down a namespace's links
    /// asynchronously, so a difference is re-checked for up to 5 s before it counts.
    pub fn leaks(&self) -> Option<String> {
        let base = self.baseline.as_ref().expect("a baseline");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let diff = self.snapshot().diff(base);
            if diff.is_none() || Instant::now() > deadline {
                return diff;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that the host is back at its baseline, printing the difference.
    #[track_caller]
    pub fn assert_clean(&self, context: &str) {
        if let Some(diff) = self.leaks() {
            panic!("left behind {context}:\n{diff}");
        }
    }

    /// Removes what a failed test may have left, so that the mounts can go.
    fn teardown(&self) {
        if let Ok(list) = netns::list(&self.netns_dir) {
            for ns in list {
                if let Some(id) = ns.id {
                    for pid in netns::processes_in(id) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                netns::delete(&self.netns_dir, &ns.name).ok();
            }
        }
        umount2(&self.netns_dir, MntFlags::MNT_DETACH).ok();
    }

    /// `cnitool` with this host's directories.
    pub fn cnitool(&self) -> Cnitool {
        cnitool_bare()
            .env("NETCONFPATH", &self.conf)
            .env("CNI_PATH", format!("{}:{REAL_PLUGINS}", self.bin.display()))
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("--netns-dir")
            .arg(&self.netns_dir)
    }

    /// `cnitool --timeout 60s ARGS...` run to the end. The bound is per plugin call and only
    /// catches a hang: 20 parallel portmap DELs queue on the xtables lock, and on a busy
    /// 2-core machine one waited past 10 s. (The tool's own default, 5 minutes, stays: a
    /// plugin that is merely slow under load must not be killed half-way.)
    pub fn run(&self, args: &[&str]) -> Run {
        self.cnitool().args(["--timeout", "60s"]).args(args).run()
    }

    /// Creates a named network namespace (`lo` up).
    pub fn netns(&self, name: &str) -> PathBuf {
        netns::create(&self.netns_dir, name, Default::default()).expect("creating a netns")
    }

    /// Deletes a named namespace.
    pub fn delete_netns(&self, name: &str) {
        netns::delete(&self.netns_dir, name).expect("deleting a netns");
    }

    /// Writes `NAME.conflist` (cniVersion 1.0.0).
    pub fn conflist(&self, name: &str, plugins: Value) {
        let list = json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins});
        fs::write(
            self.conf.join(format!("{name}.conflist")),
            serde_json::to_string_pretty(&list).unwrap(),
        )
        .unwrap();
    }

    /// A bridge plugin on `relbr<n>` with host-local IPAM on `10.195.<n>.0/<prefix>`,
    /// masquerading (a leaked per-container chain shows) and a default route.
    pub fn bridge(&self, n: u8, prefix: u8) -> Value {
        json!({
            "type": "bridge",
            "bridge": format!("relbr{n}"),
            "isGateway": true,
            "ipMasq": true,
            "ipam": {
                "type": "host-local",
                "dataDir": self.ipam,
                "ranges": [[{"subnet": format!("10.195.{n}.0/{prefix}")}]],
                "routes": [{"dst": "0.0.0.0/0"}]
            }
        })
    }

    /// portmap with the `portMappings` capability.
    pub fn portmap() -> Value {
        json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true})
    }

    /// Writes an executable `#!/bin/sh` plugin into the fake plugin dir.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        let tmp = self.bin.join(format!(".{name}.tmp"));
        fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        // Renamed into place: a plugin being rewritten is never executed half-written.
        fs::rename(&tmp, &p).unwrap();
        p
    }

    /// One ADD and DEL of `network` in a scratch namespace, then a new baseline: what the
    /// plugins create once per host (the bridge, portmap's shared chains) is then part of it.
    pub fn warm_up(&mut self, network: &str, extra: &[&str]) {
        self.netns("warmup");
        let mut args = vec!["add", network, "warmup"];
        args.extend_from_slice(extra);
        self.run(&args).ok();
        let mut args = vec!["del", network, "warmup"];
        args.extend_from_slice(extra);
        self.run(&args).ok();
        self.delete_netns("warmup");
        // Let the kernel finish tearing the namespace's links down.
        let deadline = Instant::now() + Duration::from_secs(5);
        while sh(&["ip", "-o", "link"]).contains("veth") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.rebaseline();
    }

    /// host-local's leases (file names other than its bookkeeping).
    pub fn leases(&self) -> Vec<String> {
        let mut out = Vec::new();
        for net in fs::read_dir(&self.ipam).into_iter().flatten().flatten() {
            for f in fs::read_dir(net.path()).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name != "lock" && !name.starts_with("last_reserved_ip") {
                    out.push(name);
                }
            }
        }
        out.sort();
        out
    }
}

pub use testsupport::cnitool::{Cnitool, Run};

/// The bare binary, with none of the variables it reads inherited from the test runner.
pub fn cnitool_bare() -> Cnitool {
    Cnitool::new(env!("CARGO_BIN_EXE_cnitool"))
}

/// Runs a command in the calling thread's namespaces and returns stdout (asserting success).
#[track_caller]
pub fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tiny deterministic PRNG (xorshift), seeded from `RELIABILITY_SEED` or the clock, so a
/// failing random schedule can be replayed.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(test: &str) -> Rng {
        let seed = std::env::var("RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: RELIABILITY_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
