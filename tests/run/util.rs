//! The harness: a throwaway host (network + mount namespace) with its own temp directories,
//! networks and fake plugins written into it, a runner for the real `cnitool` binary, and the
//! "nothing left behind" checks that every test ends with.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The real plugins (Debian containernetworking-plugins).
pub const REAL_PLUGINS: &str = "/usr/lib/cni";

/// Set on every `cnitool` the tests start, so the command and everything it leaves behind
/// can be found in `/proc/PID/environ` (the value is the test's temp dir).
const MARK_VAR: &str = "CNITOOL_RUN_TEST";

/// Chains portmap creates once per host and never removes; any other `CNI-*` chain left
/// after a run is a leak.
const GLOBAL_CHAINS: &[&str] = &[
    "CNI-HOSTPORT-DNAT",
    "CNI-HOSTPORT-MASQ",
    "CNI-HOSTPORT-SETMARK",
    "CNI-FORWARD",
    "CNI-ADMIN",
];

/// Longest a single `cnitool` may take before the test kills it and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A fixed PATH for the runner and the commands it starts.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub use testsupport::root_or_skip;

/// Runs `f` in a throwaway host: a fresh thread with its own network and mount namespace
/// (the `cnitool` processes it starts inherit both) and a [`Host`] with temp directories.
/// After `f`, checks that nothing was left behind.
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

/// A throwaway host's directories and what the test allowed to stay on it.
#[derive(Debug)]
pub struct Host {
    pub tmp: TempDir,
    /// Netconf directory (`--netconf-dir`).
    pub conf: PathBuf,
    /// Result cache and run records (`--cache-dir`).
    pub cache: PathBuf,
    /// Named namespaces (`--netns-dir`).
    pub netns_dir: PathBuf,
    /// Fake plugins, searched before the real ones.
    pub bin: PathBuf,
    /// host-local's `dataDir`.
    pub ipam: PathBuf,
    /// Scratch space for markers and logs.
    pub scratch: PathBuf,
    /// Host-side links that may stay (the bridges).
    bridges: Mutex<Vec<String>>,
    /// Other host-local data directories to check.
    extra_ipam: Mutex<Vec<PathBuf>>,
}

/// What one `cnitool` run did.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The exit code (-1 if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Asserts an exit code.
    #[track_caller]
    pub fn code_is(self, code: i32) -> Out {
        assert_eq!(self.code(), code, "exit code: {self:#?}");
        self
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Out {
        self.code_is(0)
    }
}

impl Host {
    fn new() -> Host {
        let tmp = tempfile::Builder::new()
            .prefix("cnitool-run-test.")
            .tempdir()
            .expect("creating a temp dir");
        let sub = |name: &str| {
            let p = tmp.path().join(name);
            fs::create_dir(&p).unwrap();
            p
        };
        Host {
            conf: sub("conf"),
            cache: sub("cache"),
            netns_dir: tmp.path().join("netns"),
            bin: sub("bin"),
            ipam: sub("ipam"),
            scratch: sub("scratch"),
            tmp,
            bridges: Mutex::new(Vec::new()),
            extra_ipam: Mutex::new(Vec::new()),
        }
    }

    /// `cnitool` with the host's directories, the fake plugins before the real ones, a clean
    /// environment and the marker variable.
    pub fn cnitool(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnitool"));
        cmd.env_clear()
            .env("PATH", PATH)
            .env(MARK_VAR, self.tmp.path())
            .arg("--netconf-dir")
            .arg(&self.conf)
            .arg("--plugin-dir")
            .arg(format!("{}:{REAL_PLUGINS}", self.bin.display()))
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("--netns-dir")
            .arg(&self.netns_dir)
            .stdin(Stdio::null());
        cmd
    }

    /// `cnitool run ARGS`.
    pub fn run_cmd<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut cmd = self.cnitool();
        cmd.arg("run").args(args);
        cmd
    }

    /// Runs `cnitool run ARGS` to the end.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Out {
        finish(self.run_cmd(args), None)
    }

    /// Runs `cnitool ARGS` (any subcommand) to the end.
    pub fn tool<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Out {
        let mut cmd = self.cnitool();
        cmd.args(args);
        finish(cmd, None)
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// Writes a netconf list `<conf>/<name>.conflist` and returns its path.
    pub fn netconf(&self, name: &str, list: &Value) -> PathBuf {
        let path = self.conf.join(format!("{name}.conflist"));
        fs::write(&path, serde_json::to_vec_pretty(list).unwrap()).unwrap();
        path
    }

    /// A bridge plugin entry (gateway, default route) with host-local on `subnet`, its data
    /// in the host's IPAM directory. The bridge may stay on the host.
    pub fn bridge_plugin(&self, bridge: &str, subnet: &str) -> Value {
        self.bridges.lock().unwrap().push(bridge.to_owned());
        json!({
            "type": "bridge",
            "bridge": bridge,
            "isGateway": true,
            "ipam": {
                "type": "host-local",
                "dataDir": self.ipam,
                "ranges": [[{ "subnet": subnet }]],
                "routes": [{ "dst": "0.0.0.0/0" }]
            }
        })
    }

    /// A network of one bridge plugin (see [`Host::bridge_plugin`]).
    pub fn bridge_net(&self, name: &str, bridge: &str, subnet: &str) -> PathBuf {
        let plugins = vec![self.bridge_plugin(bridge, subnet)];
        self.netconf(name, &list(name, plugins))
    }

    /// Lets a host-side link stay (a bridge a test creates some other way).
    pub fn allow_link(&self, name: &str) {
        self.bridges.lock().unwrap().push(name.to_owned());
    }

    /// Adds a host-local data directory to the "all released" check.
    pub fn check_ipam_dir(&self, dir: &Path) {
        self.extra_ipam.lock().unwrap().push(dir.to_owned());
    }

    /// Writes an executable fake plugin `<bin>/<name>`.
    pub fn plugin(&self, name: &str, script: &str) {
        write_exec(&self.bin.join(name), script);
    }

    /// The run records (`*.json`) in the run-record directory.
    pub fn records(&self) -> Vec<PathBuf> {
        let mut all = files_in(&self.cache.join("cnitool-runs"));
        all.retain(|p| p.extension().is_some_and(|e| e == "json"));
        all
    }

    /// The live (non-zombie) processes carrying this host's marker: commands started by
    /// `cnitool run` and anything they left running.
    pub fn marked_processes(&self) -> Vec<(i32, String)> {
        let needle = format!("{MARK_VAR}={}\0", self.tmp.path().display());
        let mut out = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(env) = fs::read(entry.path().join("environ")) else {
                continue;
            };
            if !contains(&env, needle.as_bytes()) || is_zombie(pid) {
                continue;
            }
            let cmdline = fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            out.push((pid, cmdline));
        }
        out
    }

    /// Waits until no marked process is left (they may be exiting), up to `limit`.
    pub fn wait_no_processes(&self, limit: Duration) -> Vec<(i32, String)> {
        let start = Instant::now();
        loop {
            let left = self.marked_processes();
            if left.is_empty() || start.elapsed() > limit {
                return left;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nothing left behind: no process, no namespace file or mount, no record or cached
    /// result, every address released, no host-side link but the bridges, no CNI chain.
    #[track_caller]
    pub fn assert_clean(&self) {
        let left = self.wait_no_processes(Duration::from_secs(5));
        assert!(left.is_empty(), "processes left running: {left:?}");

        let ns_files = files_in(&self.netns_dir);
        assert!(ns_files.is_empty(), "namespace files left: {ns_files:?}");
        let tmp = self.tmp.path().to_str().unwrap();
        let mounts: Vec<String> = mount_points()
            .into_iter()
            .filter(|m| m.starts_with(tmp) && Path::new(m) != self.netns_dir)
            .collect();
        assert!(mounts.is_empty(), "mounts left: {mounts:?}");

        let records = files_in(&self.cache.join("cnitool-runs"));
        assert!(
            records.is_empty(),
            "run records or their files left: {records:?}"
        );
        let cached = files_in(&self.cache.join("results"));
        assert!(cached.is_empty(), "cached results left: {cached:?}");

        let mut ipam_dirs = vec![self.ipam.clone()];
        ipam_dirs.extend(self.extra_ipam.lock().unwrap().iter().cloned());
        for dir in ipam_dirs {
            let leases: Vec<PathBuf> = walk(&dir)
                .into_iter()
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name != "lock" && !name.starts_with("last_reserved_ip")
                })
                .collect();
            assert!(leases.is_empty(), "addresses not released: {leases:?}");
        }

        let allowed = self.bridges.lock().unwrap().clone();
        let links: Vec<String> = host_links()
            .into_iter()
            .filter(|l| l != "lo" && !allowed.contains(l))
            .collect();
        assert!(links.is_empty(), "host-side links left: {links:?}");

        let chains = cni_chains();
        assert!(chains.is_empty(), "iptables chains left: {chains:?}");
    }
}

impl Drop for Host {
    /// Kills what a failed test left running, so a failure never leaks a process, and
    /// unmounts what is mounted in the temp dir (the run directory is a mount of itself, and
    /// namespace files a failed test left), so the temp dir can be removed.
    fn drop(&mut self) {
        for (pid, _) in self.marked_processes() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let tmp = self.tmp.path().to_str().unwrap().to_owned();
        let mut mounts: Vec<String> = mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&tmp))
            .collect();
        // Deepest first, each as often as it is stacked.
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = umount2(m.as_str(), MntFlags::MNT_DETACH);
        }
    }
}

/// A network list of `plugins`.
pub fn list(name: &str, plugins: Vec<Value>) -> Value {
    json!({ "cniVersion": "1.0.0", "name": name, "plugins": plugins })
}

/// Writes an executable file (write to a temp name, then rename, so nobody execs a file
/// still open for writing).
pub fn write_exec(path: &Path, script: &str) {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).unwrap();
    f.write_all(script.as_bytes()).unwrap();
    f.set_permissions(fs::Permissions::from_mode(0o755))
        .unwrap();
    drop(f);
    fs::rename(&tmp, path).unwrap();
}

/// Spawns `cmd` with piped output and waits for it (killing it after [`RUN_LIMIT`]); `stdin`
/// is written to its standard input if given.
pub fn finish(mut cmd: Command, stdin: Option<&[u8]>) -> Out {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cnitool");
    wait_output(child, stdin)
}

/// Collects a spawned child's piped output and status (see [`finish`]).
pub fn wait_output(mut child: Child, stdin: Option<&[u8]>) -> Out {
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data).unwrap();
    }
    // Readers report over channels, so a leftover process holding a pipe open makes the
    // test fail quickly instead of blocking until that process exits.
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = Vec::new();
            pipe.read_to_end(&mut s).ok();
            let _ = tx.send(s);
        });
        rx
    };
    let out_rx = read_all(Box::new(child.stdout.take().unwrap()));
    let err_rx = read_all(Box::new(child.stderr.take().unwrap()));
    let status = wait_limit(&mut child, RUN_LIMIT).unwrap_or_else(|| {
        child.kill().ok();
        child.wait().ok();
        panic!("cnitool ran longer than {RUN_LIMIT:?}");
    });
    let collect = |rx: mpsc::Receiver<Vec<u8>>, what: &str| {
        let bytes = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("{what} still open 5 s after cnitool exited ({status})"));
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Out {
        status,
        stdout: collect(out_rx, "stdout"),
        stderr: collect(err_rx, "stderr"),
    }
}

/// Waits up to `limit` for `child`; `None` if it still runs.
pub fn wait_limit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            return Some(status);
        }
        if start.elapsed() > limit {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `limit` for `path` to exist.
#[track_caller]
pub fn wait_for_file(path: &Path, limit: Duration) {
    testsupport::wait_until(&path.display().to_string(), limit, || path.exists());
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn is_running(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = &s[s.rfind(')')? + 1..];
            after
                .split_whitespace()
                .next()
                .map(|st| st == "Z" || st == "X")
        })
        .unwrap_or(false)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The entries of a directory (none if it is missing).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Every file below `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in files_in(dir) {
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Mount points of the calling thread's mount namespace.
fn mount_points() -> Vec<String> {
    fs::read_to_string("/proc/thread-self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .collect()
}

/// Output of a command run from the calling thread (so in its namespaces).
#[track_caller]
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .env("PATH", PATH)
        .output()
        .expect("running sh");
    assert!(out.status.success(), "{cmd}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The link names of the calling thread's network namespace.
pub fn host_links() -> Vec<String> {
    sh("ip -o link show")
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap().to_owned())
        .collect()
}

/// The `CNI-*` iptables chains of the calling thread's namespace, less the global ones.
fn cni_chains() -> Vec<String> {
    sh("iptables-save")
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split(' ').next())
        .filter(|c| c.starts_with("CNI-") && !GLOBAL_CHAINS.contains(c))
        .map(str::to_owned)
        .collect()
}

/// The IPv4 addresses on `ifname` in `ip -o -4 addr` output.
pub fn ipv4_of(ip_output: &str, ifname: &str) -> Vec<String> {
    ip_output
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let _idx = f.next()?;
            (f.next()? == ifname && f.next()? == "inet").then(|| f.next())?
        })
        .map(|a| a.split('/').next().unwrap().to_owned())
        .collect()
}
