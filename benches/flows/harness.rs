//! The throwaway host the benchmarks run in, the networks they use, and running commands.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use serde_json::{json, Value};

use crate::{cnitool_bin, PLUGIN_DIR, WORK};

/// Moves this (still single-threaded) process into a new network and mount namespace, with a
/// private tmpfs on /run. Threads and processes started later inherit both.
pub(crate) fn enter_throwaway_host() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .context("unsharing a network and mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private")?;
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755,size=512m"),
    )
    .context("mounting a tmpfs on /run")?;
    libcni::netns::set_link_up("lo").context("bringing lo up in the throwaway host")?;
    Ok(())
}

/// The workspace: directories, netconfs and the environment every command gets.
#[derive(Debug)]
pub(crate) struct Bench {
    pub(crate) root: PathBuf,
    pub(crate) netconf: PathBuf,
    pub(crate) cache: PathBuf,
    /// Parsed netconf lists by name, for the direct plugin calls.
    pub(crate) lists: BTreeMap<String, Value>,
    /// The on-disk part (cache, leases), removed when the benchmark ends.
    pub(crate) _disk: tempfile::TempDir,
}

/// Subnets: private, and distinct from anything a real host uses by default.
pub(crate) fn bridge_list(
    name: &str,
    bridge: &str,
    subnet: &str,
    ipam_dir: &Path,
    extra: &[Value],
) -> Value {
    let mut plugins = vec![json!({
        "type": "bridge",
        "bridge": bridge,
        "isGateway": true,
        "ipMasq": true,
        "ipam": {
            "type": "host-local",
            "ranges": [[{ "subnet": subnet }]],
            "routes": [{ "dst": "0.0.0.0/0" }],
            "dataDir": ipam_dir,
        }
    })];
    plugins.extend(extra.iter().cloned());
    json!({ "cniVersion": "1.0.0", "name": name, "plugins": plugins })
}

impl Bench {
    pub(crate) fn setup() -> Result<Bench> {
        let root = PathBuf::from(WORK);
        let netconf = root.join("net.d");
        // The result cache and host-local's leases live on disk, as /var/lib/cni does, so that
        // their writes cost what they cost in real use (and `--sync-cache` its flushes).
        let disk = tempfile::Builder::new()
            .prefix("cnitool-bench-")
            .tempdir_in("/var/tmp")
            .context("creating a temporary directory in /var/tmp")?;
        let cache = disk.path().join("cache");
        let ipam = disk.path().join("ipam");
        for d in [&netconf, &cache, &ipam, &root.join("lookup")] {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        fs::create_dir_all("/run/netns")?;
        let mut lists = BTreeMap::new();
        lists.insert(
            "lo".to_owned(),
            json!({"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}),
        );
        lists.insert(
            "br".to_owned(),
            bridge_list("br", "bnbr0", "10.250.1.0/24", &ipam, &[]),
        );
        lists.insert(
            "chain".to_owned(),
            bridge_list(
                "chain",
                "bnchain0",
                "10.250.2.0/24",
                &ipam,
                &[
                    json!({"type": "portmap", "capabilities": {"portMappings": true}}),
                    json!({"type": "firewall", "backend": "iptables"}),
                    json!({"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}}),
                ],
            ),
        );
        for i in 0..4 {
            let name = format!("par{i}");
            let list = bridge_list(
                &name,
                &format!("bnpar{i}"),
                &format!("10.250.{}.0/24", 10 + i),
                &ipam,
                &[],
            );
            lists.insert(name, list);
        }
        for (name, list) in &lists {
            let path = netconf.join(format!("50-{name}.conflist"));
            fs::write(&path, serde_json::to_vec_pretty(list)?)?;
        }
        Ok(Bench {
            root,
            netconf,
            cache,
            lists,
            _disk: disk,
        })
    }

    /// A `cnitool` command with the workspace's directories.
    pub(crate) fn cnitool(&self) -> Command {
        let mut cmd = Command::new(cnitool_bin());
        cmd.env("NETCONFPATH", &self.netconf)
            .env("CNI_PATH", PLUGIN_DIR)
            .env("CNITOOL_CACHE_DIR", &self.cache)
            .env("CNITOOL_NETNS_DIR", "/run/netns")
            .env_remove("CNI_ARGS")
            .env_remove("CAP_ARGS")
            .env_remove("CNI_IFNAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    pub(crate) fn list(&self, name: &str) -> &Value {
        &self.lists[name]
    }
}

/// Runs a command to its end and fails with its stderr when it fails.
pub(crate) fn run_ok(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}): {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs a command and returns its exit code (for commands expected to fail).
pub(crate) fn run_code(cmd: &mut Command) -> Result<i32> {
    let status = cmd
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    Ok(status.code().unwrap_or(-1))
}

pub(crate) fn ip(args: &[&str]) -> Result<()> {
    run_ok(Command::new("ip").args(args).stdout(Stdio::null()))
}

/// A named namespace made with `ip netns add`, deleted on drop.
pub(crate) struct Netns(pub(crate) String);

impl Netns {
    pub(crate) fn new(name: &str) -> Result<Netns> {
        ip(&["netns", "add", name])?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(Netns(name.to_owned()))
    }

    pub(crate) fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}
