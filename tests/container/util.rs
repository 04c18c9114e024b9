//! The throwaway host, the busybox image, the engines and driving the real binary.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testsupport::isolate;

/// The real plugins.
pub const PLUGIN_DIR: &str = "/usr/lib/cni";
/// Debian's busybox-static.
use testsupport::image::BUSYBOX;
/// The busybox applets the tests use in containers.
const APPLETS: &[&str] = &["sh", "sleep", "ip", "nc", "printf", "echo", "cat", "true"];

/// Whether the engine test may run: root, and every program in `needs` installed
/// (`scripts/install-deps` installs them); see [`testsupport::prerequisite`] (class
/// `containers`).
pub fn usable_or_skip(test: &str, needs: &[&str]) -> bool {
    let mut missing: Vec<String> = needs
        .iter()
        .filter(|p| find_program(p).is_none())
        .map(|p| p.to_string())
        .collect();
    if !Path::new(BUSYBOX).exists() {
        missing.push(format!("{BUSYBOX} (busybox-static)"));
    }
    testsupport::root_or_skip(test)
        && testsupport::prerequisite(
            test,
            "containers",
            (!missing.is_empty()).then(|| missing.join(", ")),
        )
}

/// A program in the system directories (preferred over /usr/local, where another docker
/// client may live that does not match Debian's daemon).
pub fn find_program(name: &str) -> Option<PathBuf> {
    testsupport::find_in(
        &["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"],
        name,
    )
}

/// Runs `f` in the test's throwaway host, confined ([`testsupport::isolate`]): network,
/// mount and cgroup namespaces of its own, a cgroup subtree of its own (named after `test`),
/// a private writable layer over `/etc`, and empty tmpfs mounts over the system directories
/// the engines write whatever their options say (containerd's shim sockets in
/// /run/containerd, runc's state in /run/runc, podman's blob cache in /var/lib/containers and
/// its copies in /var/tmp). Then asserts that no process the test started outlived it (they
/// are killed by then); its cgroups are removed.
pub fn in_engine_host(env: &Env, test: &str, f: impl FnOnce() + Send) {
    let layer = env.base.join("etc-layer");
    fs::create_dir(&layer).unwrap();
    let scope = format!("cnitool-test-{}-{test}", std::process::id());
    let ((), left) = isolate::in_confined_host(&scope, &layer, Duration::from_secs(30), || {
        isolate::tmpfs_over(&["/run", "/var/lib", "/var/tmp"]);
        libcni::netns::set_link_up("lo").unwrap();
        f();
    });
    assert!(
        left.is_empty(),
        "processes the test started outlived it (killed now): {left:?}"
    );
}

/// Temp directories for one test, made outside the throwaway host (so they are removed after
/// its mount namespace, with every mount in it, is gone).
#[derive(Debug)]
pub struct Env {
    _tmp: tempfile::TempDir,
    /// The temp directory, canonical.
    pub base: PathBuf,
    /// `--netns-dir`.
    pub run_dir: PathBuf,
    /// `--cache-dir`.
    pub cache_dir: PathBuf,
    /// `--netconf-dir`.
    pub netconf_dir: PathBuf,
    /// The test's own plugins, searched before the real ones.
    pub plugin_dir: PathBuf,
    /// The engine's client and global options.
    pub engine: Vec<String>,
    /// Environment variables of the engine's client (test-owned configuration), also set for
    /// `cnitool`, which starts the client.
    pub engine_env: Vec<(String, PathBuf)>,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().canonicalize().unwrap();
        let netconf_dir = base.join("net.d");
        fs::create_dir(&netconf_dir).unwrap();
        let plugin_dir = base.join("plugins");
        fs::create_dir(&plugin_dir).unwrap();
        Env {
            plugin_dir,
            run_dir: base.join("netns"),
            cache_dir: base.join("cache"),
            netconf_dir,
            base,
            engine: Vec::new(),
            engine_env: Vec::new(),
            _tmp: tmp,
        }
    }

    /// Writes network `name`: a bridge `br` with a gateway and host-local addresses in
    /// `subnet`, then portmap.
    pub fn bridge_portmap_net(&self, name: &str, br: &str, subnet: &str) {
        let conf = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [
                {"type": "bridge", "bridge": br, "isGateway": true,
                 "ipam": {"type": "host-local", "subnet": subnet,
                          "dataDir": self.ipam_dir()}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        });
        fs::write(
            self.netconf_dir.join(format!("10-{name}.conflist")),
            conf.to_string(),
        )
        .unwrap();
    }

    /// Writes network `name`: a bridge as [`Env::bridge_portmap_net`]'s, then `dnsprobe`, a
    /// script written into the test's plugin directory that declares the `dns` capability,
    /// logs the `runtimeConfig` it gets to `dnsprobe.log` and adds DNS settings of its own
    /// (server 192.0.2.99, search domain probe.test) to the result.
    pub fn dns_probe_net(&self, name: &str, br: &str, subnet: &str) {
        let conf = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": name,
            "plugins": [
                {"type": "bridge", "bridge": br, "isGateway": true,
                 "ipam": {"type": "host-local", "subnet": subnet,
                          "dataDir": self.ipam_dir()}},
                {"type": "dnsprobe", "capabilities": {"dns": true},
                 "log": self.base.join("dnsprobe.log")}
            ]
        });
        fs::write(
            self.netconf_dir.join(format!("10-{name}.conflist")),
            conf.to_string(),
        )
        .unwrap();
        let script = r#"#!/bin/sh
# A chained plugin: logs `COMMAND runtimeConfig` to its config's `log`; on ADD passes the
# previous result on with DNS settings of its own.
conf=$(cat)
echo "$CNI_COMMAND $(printf '%s' "$conf" | jq -c '.runtimeConfig // {}')" \
    >> "$(printf '%s' "$conf" | jq -r .log)"
if [ "$CNI_COMMAND" = ADD ]; then
    printf '%s' "$conf" | jq -c '.prevResult + {dns: {nameservers: ["192.0.2.99"], search: ["probe.test"]}}'
fi
exit 0
"#;
        let path = self.plugin_dir.join("dnsprobe");
        fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// host-local's dataDir.
    pub fn ipam_dir(&self) -> PathBuf {
        self.base.join("ipam")
    }

    /// A tarball of a root file system with busybox and the applets the tests use.
    pub fn busybox_tarball(&self) -> PathBuf {
        testsupport::image::busybox_tarball(&self.base, APPLETS, &[])
    }

    /// The engine client with its global options.
    pub fn engine_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.engine[0]);
        c.args(&self.engine[1..]).args(args).stdin(Stdio::null());
        c.envs(self.engine_env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Runs the engine client, asserts success, returns stdout.
    pub fn engine_ok(&self, args: &[&str]) -> String {
        let out = self.engine_cmd(args).output().expect("running the engine");
        assert!(out.status.success(), "engine {args:?}: {}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `cnitool` with the temp directories and no inherited configuration.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cnitool"));
        for var in testsupport::CNITOOL_ENV {
            c.env_remove(var);
        }
        c.arg("--cache-dir").arg(&self.cache_dir);
        c.arg("--netconf-dir").arg(&self.netconf_dir);
        c.arg("--plugin-dir")
            .arg(format!("{}:{PLUGIN_DIR}", self.plugin_dir.display()));
        c.arg("--netns-dir").arg(&self.run_dir);
        c.args(args).stdin(Stdio::null());
        c.envs(self.engine_env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `cnitool container VERB --engine KIND --engine-bin .. --engine-opt ..  ARGS`.
    pub fn container(&self, verb: &str, kind: &str, args: &[&str]) -> Command {
        let mut all = vec!["container", verb, "--engine", kind, "--engine-bin"];
        all.push(&self.engine[0]);
        let opts: Vec<String> = self.engine[1..]
            .iter()
            .map(|o| format!("--engine-opt={o}"))
            .collect();
        all.extend(opts.iter().map(String::as_str));
        all.extend_from_slice(args);
        self.cmd(&all)
    }

    /// Runs `cnitool ARGS` and returns what it did.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running cnitool")
    }

    /// Asserts that nothing of cnitool is left: no named namespace, no record, no cached
    /// result.
    pub fn assert_no_cnitool_state(&self) {
        for dir in [
            self.run_dir.clone(),
            self.cache_dir.join("cnitool-containers"),
            self.cache_dir.join("results"),
        ] {
            let left: Vec<_> = fs::read_dir(&dir)
                .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
        }
    }
}

/// stdout and stderr for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub use testsupport::wait_until;

/// Connects to `addr` (retrying while the server is not up yet) and reads one line.
pub fn read_line_from(addr: SocketAddr) -> String {
    let start = Instant::now();
    loop {
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() && !line.is_empty() {
                let _ = (&stream).write_all(b"bye\n");
                return line;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no answer from {addr}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// A daemon the test started; SIGTERM on drop, then SIGKILL if it does not stop in time.
#[derive(Debug)]
pub struct Daemon {
    pub child: Child,
    pub name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop in 30s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
