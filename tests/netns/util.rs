//! Shared helpers: the throwaway host, temp directories and driving the real binary.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nix::mount::{mount, MsFlags};

/// The real plugins.
pub const PLUGIN_DIR: &str = "/usr/lib/cni";

pub use testsupport::root_or_skip;

pub use testsupport::{in_throwaway_host, mounts_at_and_below};

/// Temp directories for one test, made outside the throwaway host (so they are removed after
/// its mount namespace, with every mount in it, is gone), and the command line around them.
#[derive(Debug)]
pub struct Env {
    _tmp: tempfile::TempDir,
    /// The temp directory, canonical (so that it matches mountinfo).
    pub base: PathBuf,
    /// `--netns-dir`: does not exist until a namespace is created.
    pub run_dir: PathBuf,
    /// `--cache-dir`.
    pub cache_dir: PathBuf,
    /// `--netconf-dir`.
    pub netconf_dir: PathBuf,
    /// host-local's `dataDir`.
    pub ipam_dir: PathBuf,
    /// `--plugin-dir`.
    pub plugin_dir: PathBuf,
    /// Pass `--netns-dir` (false: use the default, /run/netns for root).
    pub pass_run_dir: bool,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().canonicalize().unwrap();
        let netconf_dir = base.join("net.d");
        fs::create_dir(&netconf_dir).unwrap();
        Env {
            run_dir: base.join("netns"),
            cache_dir: base.join("cache"),
            ipam_dir: base.join("ipam"),
            plugin_dir: PathBuf::from(PLUGIN_DIR),
            pass_run_dir: true,
            netconf_dir,
            base,
            _tmp: tmp,
        }
    }

    /// `cnitool` with the temp directories and no inherited configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cnitool"));
        for var in testsupport::CNITOOL_ENV {
            c.env_remove(var);
        }
        c.arg("--cache-dir").arg(&self.cache_dir);
        c.arg("--netconf-dir").arg(&self.netconf_dir);
        c.arg("--plugin-dir").arg(&self.plugin_dir);
        if self.pass_run_dir {
            c.arg("--netns-dir").arg(&self.run_dir);
        }
        c.args(args).stdin(Stdio::null());
        c
    }

    /// Runs `cnitool ARGS` and returns what it did.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running cnitool")
    }

    /// Runs `cnitool ARGS`, asserts success and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "cnitool {args:?}: {}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `cnitool ARGS`, asserts exit code `code` and returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cnitool {args:?}: {}",
            show(&out)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// `netns list -o json`, parsed.
    pub fn list(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["-o", "json", "netns", "list"])).unwrap()
    }

    /// Writes a bridge + host-local netconf list `name` (bridge `br`, subnet `subnet`).
    pub fn bridge_net(&self, name: &str, br: &str, subnet: &str) {
        self.netconf(
            name,
            "1.0.0",
            &format!(
                r#"{{"type": "bridge", "bridge": "{br}", "ipam": {{"type": "host-local",
                   "subnet": "{subnet}", "dataDir": "{}"}}}}"#,
                self.ipam_dir.display()
            ),
        );
    }

    /// Writes a ptp + host-local netconf list `name`.
    pub fn ptp_net(&self, name: &str, subnet: &str) {
        self.netconf(
            name,
            "0.4.0",
            &format!(
                r#"{{"type": "ptp", "ipam": {{"type": "host-local", "subnet": "{subnet}",
                   "dataDir": "{}"}}}}"#,
                self.ipam_dir.display()
            ),
        );
    }

    /// Writes a netconf list with one plugin.
    pub fn netconf(&self, name: &str, version: &str, plugin: &str) {
        let text =
            format!(r#"{{"cniVersion": "{version}", "name": "{name}", "plugins": [{plugin}]}}"#);
        fs::write(self.netconf_dir.join(format!("{name}.conflist")), text).unwrap();
    }

    /// Files in the cache's results directory.
    pub fn cache_files(&self) -> Vec<String> {
        entries(&self.cache_dir.join("results"))
    }

    /// Addresses host-local has handed out for network `net` (its files named by address).
    pub fn ipam_leases(&self, net: &str) -> Vec<String> {
        entries(&self.ipam_dir.join(net))
            .into_iter()
            .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
            .collect()
    }

    /// (mounts on the run dir, mounts below it) in the calling thread's mount namespace.
    pub fn run_dir_mounts(&self) -> (usize, usize) {
        mounts_at_and_below(&self.run_dir)
    }
}

/// Sorted names in a directory; none if it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// An `Output` for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Mount points (field 5 of mountinfo) of the calling thread's mount namespace.
pub fn mount_points() -> Vec<String> {
    fs::read_to_string("/proc/thread-self/mountinfo")
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap().to_owned())
        .collect()
}

/// Mounts a tmpfs on `dir` (in the throwaway mount namespace only).
pub fn mount_tmpfs(dir: &str) {
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .unwrap_or_else(|e| panic!("mounting a tmpfs on {dir}: {e}"));
}

/// Makes `/etc/netns` a private, empty tmpfs of this mount namespace. Where the host has no
/// `/etc/netns` to mount on, `/etc` is first made a private overlay
/// (`testsupport::isolate::private_etc`), so the host's `/etc` is never written.
pub fn private_etc_netns(env: &Env) {
    if !Path::new("/etc/netns").is_dir() {
        let layer = env.base.join("etc-layer");
        fs::create_dir(&layer).unwrap();
        testsupport::isolate::private_etc(&layer);
        fs::create_dir("/etc/netns").unwrap();
    }
    mount_tmpfs("/etc/netns");
}

/// Runs `ip ARGS` (in the calling thread's namespaces), asserts success, returns stdout.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(out.status.success(), "ip {args:?}: {}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Whether an `ip -o link show` line lists the link as UP.
pub fn link_is_up(line: &str) -> bool {
    line.split('<')
        .nth(1)
        .and_then(|s| s.split('>').next())
        .is_some_and(|flags| flags.split(',').any(|f| f == "UP"))
}
