//! The harness: as root, a throwaway host (network + mount namespace, so slirp4netns's "host"
//! side is never the machine's), a `/dev/net/tun` node with mode 0666 bound over the real one
//! in that mount namespace only (this machine ships 0600; a distribution ships 0666), per-test
//! runtime and home directories owned by the test user, and `cnitool` run as that user with
//! `setpriv`. Every test ends by checking that nothing of the user is left: no process, no
//! state, no link or listening socket in the throwaway host.
//!
//! The test user is a bare uid with no passwd entry (nothing is added to `/etc/passwd`), free
//! on this machine and different for each test process, so the process and leak checks, which
//! look at that uid, see only what the test started.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use libcni::netns;
use nix::mount::{mount, MsFlags};
use nix::sys::signal::Signal;
use tempfile::TempDir;

/// The unprivileged test user and group: a uid (= gid) with no passwd or group entry.
pub fn test_uid() -> u32 {
    static UID: OnceLock<u32> = OnceLock::new();
    *UID.get_or_init(|| {
        // Above the ranges distributions hand out (and below the 2^31 some tools choke on);
        // the process ID spreads concurrent test processes apart.
        let first = 0x6000_0000 + (std::process::id() % 0x0100_0000) * 16;
        (first..first + 4096)
            .find(|&id| {
                let uid = nix::unistd::Uid::from_raw(id);
                let gid = nix::unistd::Gid::from_raw(id);
                nix::unistd::User::from_uid(uid).ok().flatten().is_none()
                    && nix::unistd::Group::from_gid(gid).ok().flatten().is_none()
                    && !uid_has_processes(id)
            })
            .expect("a free uid for the rootless tests")
    })
}

fn uid_has_processes(uid: u32) -> bool {
    fs::read_dir("/proc").is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
                && fs::metadata(e.path()).is_ok_and(|m| m.uid() == uid)
        })
    })
}
/// A fixed PATH for the user's `cnitool`.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Longest a single `cnitool` may take.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The tests share one user and count its processes: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Whether the rootless tests can run: root (it makes the user's directories) and slirp4netns
/// and setpriv installed; see [`testsupport::prerequisite`].
pub fn root_or_skip(test: &str) -> bool {
    if !testsupport::root_or_skip(test) {
        return false;
    }
    let missing: Vec<&str> = ["slirp4netns", "setpriv"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    testsupport::prerequisite(
        test,
        "rootless",
        (!missing.is_empty()).then(|| format!("{missing:?}")),
    )
}

fn have(program: &str) -> bool {
    PATH.split(':').any(|d| Path::new(d).join(program).exists())
}

/// Whether a pasta test may run: pasta installed (class `pasta`).
pub fn pasta_or_skip(test: &str) -> bool {
    testsupport::prerequisite(
        test,
        "pasta",
        (!have("pasta")).then(|| "pasta (package passt)".to_owned()),
    )
}

/// One test's world.
#[derive(Debug)]
pub struct Rl {
    /// The binaries the user runs, opened by root (see [`Rl::cmd_bin`]).
    exes: Mutex<Vec<(PathBuf, std::os::fd::OwnedFd)>>,
    pub tmp: TempDir,
    /// `XDG_RUNTIME_DIR`.
    pub run: PathBuf,
    /// `HOME`.
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
}

/// Whatever a test left mounted in its temp dir (the `/etc` overlay's layer when it
/// panicked midway, the tun node) is detached first, so that the dir can be removed.
impl Drop for Rl {
    fn drop(&mut self) {
        testsupport::unmount_all_under(self.tmp.path());
    }
}

/// What one `cnitool` did.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(self.code(), 0, "{self:#?}");
        self
    }

    #[track_caller]
    pub fn fails_with(self, text: &str) -> Out {
        assert_ne!(self.code(), 0, "{self:#?}");
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {self:#?}"
        );
        self
    }
}

/// Runs `f` as a rootless test: serialised, in a throwaway host, then the leak checks.
pub fn rl_test(test: &str, f: impl FnOnce(&Rl) + Send) {
    if !root_or_skip(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    testsupport::in_throwaway_host(|| {
        netns::set_link_up("lo").expect("lo up");
        let rl = Rl::new();
        f(&rl);
        rl.assert_clean();
    });
}

impl Rl {
    fn new() -> Rl {
        let tmp = tempfile::Builder::new()
            .prefix("cnitool-rl.")
            .tempdir()
            .unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let rl = Rl {
            exes: Mutex::new(Vec::new()),
            run: tmp.path().join("run"),
            home: tmp.path().join("home"),
            tmp,
            uid: test_uid(),
            gid: test_uid(),
        };
        for d in [&rl.run, &rl.home] {
            rl.user_dir(d, 0o700);
        }
        rl.bind_tun(0o666);
        rl
    }

    /// Binds a `/dev/net/tun` node of `mode` over the one the throwaway mount namespace sees
    /// (the machine's, or one bound before), whatever the machine's own node allows.
    pub fn bind_tun(&self, mode: u32) {
        let tun = self.tmp.path().join(format!("tun-{mode:o}"));
        nix::sys::stat::mknod(
            &tun,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(mode),
            nix::sys::stat::makedev(10, 200),
        )
        .expect("mknod tun");
        // mknod's mode goes through the umask.
        fs::set_permissions(&tun, fs::Permissions::from_mode(mode)).unwrap();
        // A node bound before is unbound first: a bind on top of it would make its file in
        // the temp dir a mount point, which the temp dir's removal cannot delete (EBUSY). The
        // first time there is none (EINVAL: not a mount point).
        nix::mount::umount2("/dev/net/tun", nix::mount::MntFlags::MNT_DETACH).ok();
        mount(
            Some(&tun),
            "/dev/net/tun",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .expect("binding a tun node in the throwaway mount namespace");
    }

    /// Creates a directory owned by the user.
    pub fn user_dir(&self, d: &Path, mode: u32) {
        fs::create_dir_all(d).unwrap();
        nix::unistd::chown(
            d,
            Some(nix::unistd::Uid::from_raw(self.uid)),
            Some(nix::unistd::Gid::from_raw(self.gid)),
        )
        .unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The rootless state directory.
    pub fn state(&self) -> PathBuf {
        self.run.join("cnitool/rootless-netns")
    }

    /// The generation directories.
    pub fn generations(&self) -> Vec<PathBuf> {
        fs::read_dir(self.state().join("gen"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// `cnitool ARGS` as the user, with a clean environment.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.cmd_env(args, &[])
    }

    /// Same, with extra (or, with an empty value, removed) environment variables.
    pub fn cmd_env<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: impl IntoIterator<Item = S>,
        env: &[(&str, &str)],
    ) -> Command {
        self.cmd_bin(Path::new(env!("CARGO_BIN_EXE_cnitool")), args, env)
    }

    /// Same, with another `cnitool` binary (the benchmark compares two builds).
    ///
    /// The user executes it through a descriptor root opened (`/proc/self/fd/N`), not by its
    /// path: the checkout (and so `target/`) may be in a directory the user cannot enter,
    /// such as a home directory with mode 0700. `cnitool` then re-executes itself for its
    /// helpers without the path too.
    pub fn cmd_bin<S: AsRef<std::ffi::OsStr>>(
        &self,
        bin: &Path,
        args: impl IntoIterator<Item = S>,
        env: &[(&str, &str)],
    ) -> Command {
        let mut c = Command::new("/usr/bin/setpriv");
        c.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
        ])
        .args(["--clear-groups", "--"])
        .arg(format!("/proc/self/fd/{}", self.exe_fd(bin)))
        .args(args)
        .env_clear()
        // The user's own directory: the checkout may be one the user cannot enter (a 0700
        // home), and podman's client changes into its working directory when it starts.
        .current_dir(&self.home)
        .env("PATH", PATH)
        .env("HOME", &self.home)
        .env("XDG_RUNTIME_DIR", &self.run)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for (k, v) in env {
            if v.is_empty() {
                c.env_remove(k);
            } else {
                c.env(k, v);
            }
        }
        c
    }

    /// A descriptor of `bin` that every child of this process inherits (close-on-exec off:
    /// setpriv executes it as `/proc/self/fd/N`), opened once per test and closed with it.
    fn exe_fd(&self, bin: &Path) -> std::os::fd::RawFd {
        use std::os::fd::{AsRawFd, OwnedFd};
        let mut exes = self.exes.lock().unwrap();
        if let Some((_, fd)) = exes.iter().find(|(p, _)| p == bin) {
            return fd.as_raw_fd();
        }
        let fd = OwnedFd::from(
            fs::File::open(bin).unwrap_or_else(|e| panic!("opening {}: {e}", bin.display())),
        );
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .expect("clearing close-on-exec");
        let raw = fd.as_raw_fd();
        exes.push((bin.to_owned(), fd));
        raw
    }

    /// Runs `cnitool ARGS` as the user and collects its output (bounded).
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Out {
        wait_out(self.cmd(args).spawn().unwrap())
    }

    /// The user's processes (not zombies).
    pub fn processes(&self) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(m) = fs::metadata(e.path()) else {
                continue;
            };
            let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let state = stat.rfind(')').and_then(|i| stat[i + 2..].chars().next());
            if m.uid() == self.uid && state != Some('Z') {
                let cmd = fs::read_to_string(e.path().join("cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ");
                out.push((pid, cmd));
            }
        }
        out
    }

    /// Waits (bounded) until `cond` holds.
    #[track_caller]
    pub fn wait_until(&self, what: &str, limit: Duration, cond: impl FnMut() -> bool) {
        testsupport::wait_until(what, limit, cond);
    }

    /// Nothing of the user is left: processes, generations, `current`, links in the
    /// throwaway host (slirp4netns creates none there; a leak would be a tap or veth).
    #[track_caller]
    pub fn assert_clean(&self) {
        let end = Instant::now() + Duration::from_secs(20);
        while !self.processes().is_empty() && Instant::now() < end {
            thread::sleep(Duration::from_millis(20));
        }
        let procs = self.processes();
        if !procs.is_empty() {
            for (pid, _) in &procs {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            panic!("processes of uid {} left behind: {procs:?}", self.uid);
        }
        assert_eq!(
            self.generations(),
            Vec::<PathBuf>::new(),
            "generations left"
        );
        assert!(!self.state().join("current").exists(), "current left");
        let links = fs::read_to_string("/proc/thread-self/net/dev")
            .unwrap()
            .lines()
            .skip(2)
            .filter_map(|l| Some(l.split(':').next()?.trim().to_owned()))
            .filter(|n| n != "lo")
            .collect::<Vec<_>>();
        assert!(
            links.is_empty(),
            "links left in the throwaway host: {links:?}"
        );
        let tcp = fs::read_to_string("/proc/thread-self/net/tcp").unwrap();
        let listening = tcp
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(3) == Some("0A"))
            .count();
        assert_eq!(listening, 0, "listening sockets left: {tcp}");
    }
}

/// Waits for a child (killing it after [`LIMIT`]) and collects its output.
pub fn wait_out(mut child: Child) -> Out {
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
    };
    Out {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

/// A TCP server on the throwaway host's 127.0.0.1 (ephemeral port) that records its peers
/// and greets them; stopped (and its port closed) on drop.
pub struct Server {
    pub port: u16,
    peers: std::sync::Arc<Mutex<Vec<std::net::SocketAddr>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let peers = std::sync::Arc::new(Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p2, s2) = (peers.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut c, a)) => {
                        p2.lock().unwrap().push(a);
                        let _ = std::io::Write::write_all(&mut c, b"hello\n");
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            peers,
            stop,
            thread: Some(thread),
        }
    }

    pub fn peers(&self) -> Vec<std::net::SocketAddr> {
        self.peers.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `cnitool` running in the background, its stdout lines arriving on a channel.
pub struct Bg {
    pub child: Child,
    pub lines: std::sync::mpsc::Receiver<String>,
    err: Option<thread::JoinHandle<String>>,
}

impl Bg {
    pub fn spawn(mut cmd: Command) -> Bg {
        let mut child = cmd.spawn().unwrap();
        let so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        thread::spawn(move || {
            use std::io::BufRead as _;
            for l in std::io::BufReader::new(so).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let err = Some(thread::spawn(move || {
            let mut s = String::new();
            let _ = se.read_to_string(&mut s);
            s
        }));
        Bg { child, lines, err }
    }

    /// The next stdout line (bounded wait).
    #[track_caller]
    pub fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line from the background run")
    }

    /// The next stdout line; when none comes, panics with the run's status and stderr.
    #[track_caller]
    pub fn expect_line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.child.kill();
                let st = self.child.wait();
                let err = self.err.take().map(|t| t.join().unwrap_or_default());
                panic!("no line from the background run ({e}): {st:?}: {err:?}")
            }
        }
    }

    /// Waits for the end (bounded); returns status and stderr.
    pub fn finish(mut self) -> (ExitStatus, String) {
        let end = Instant::now() + LIMIT;
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            thread::sleep(Duration::from_millis(5));
        };
        let err = self.err.take().unwrap().join().unwrap_or_default();
        (st, err)
    }

    /// Waits for the end; the run must have been killed by `signal`.
    #[track_caller]
    pub fn finish_killed(self, signal: Signal) {
        use std::os::unix::process::ExitStatusExt as _;
        let (st, err) = self.finish();
        assert_eq!(st.signal(), Some(signal as i32), "{st}: {err}");
    }

    /// Waits for the end; the run must have exited with `code`.
    #[track_caller]
    pub fn finish_code(self, code: i32) -> String {
        let (st, err) = self.finish();
        assert_eq!(st.code(), Some(code), "{st}: {err}");
        err
    }

    /// The runner's PID (setpriv execs cnitool, so it is the child's).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

/// Reads `gen/*/info.json` of the only generation: (holder pid, uplink pid).
pub fn gen_pids(rl: &Rl) -> (i32, i32) {
    let gens = rl.generations();
    assert_eq!(gens.len(), 1, "one generation: {gens:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(gens[0].join("info.json")).unwrap()).unwrap();
    (
        v["holder"]["pid"].as_i64().unwrap() as i32,
        v["uplink"]["pid"].as_i64().unwrap() as i32,
    )
}

/// Whether a PID is alive (and not a zombie).
pub fn alive(pid: i32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 2..].chars().next())
        .is_some_and(|s| s != 'Z' && s != 'X')
}

/// A python3 snippet that connects to HOST:PORT and prints `OK <peer-seen-by-us>` or the
/// error with the elapsed milliseconds.
pub fn connect_py(host: &str, port: u16) -> String {
    format!(
        "import socket,time\nt=time.time()\ntry:\n s=socket.create_connection(('{host}',{port}),timeout=3)\n print('OK',s.recv(10).decode().strip(),flush=True)\nexcept Exception as e:\n print('ERR',getattr(e,'errno',None),int((time.time()-t)*1000),flush=True)\n"
    )
}

/// Gives the test user a passwd and group entry named `name` and the subordinate IDs
/// 100000-165535, in a private overlay of `/etc` in the throwaway mount namespace (the
/// machine's files are never touched): `newuidmap`, which rootless podman and rootlesskit
/// use, needs them. [`drop_passwd`] removes the overlay.
pub fn with_passwd(rl: &Rl, name: &str) {
    use std::io::Write as _;
    let layer = rl.tmp.path().join("etc-layer");
    fs::create_dir(&layer).unwrap();
    testsupport::isolate::private_etc(&layer);
    let append = |file: &str, line: String| {
        let mut f = fs::OpenOptions::new().append(true).open(file).unwrap();
        f.write_all(line.as_bytes()).unwrap();
    };
    append(
        "/etc/passwd",
        format!(
            "{name}:x:{}:{}::{}:/bin/sh\n",
            rl.uid,
            rl.gid,
            rl.home.display()
        ),
    );
    append("/etc/group", format!("{name}:x:{}:\n", rl.gid));
    for f in ["/etc/subuid", "/etc/subgid"] {
        fs::write(f, format!("{name}:100000:65536\n")).unwrap();
    }
}

/// Removes the overlay of [`with_passwd`] (its layer is a mount point in the temp dir, which
/// could not be removed otherwise).
pub fn drop_passwd(rl: &Rl) {
    for point in ["/etc", rl.tmp.path().join("etc-layer").to_str().unwrap()] {
        nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH)
            .unwrap_or_else(|e| panic!("unmounting {point}: {e}"));
    }
}

/// A rootless run that keeps the shared namespace live (its holder ends an idle one by itself)
/// until its stdin is closed: `drop(bg.child.stdin.take())`, then `bg.finish_code(0)`.
pub fn live_run(rl: &Rl) -> Bg {
    let mut cmd = rl.cmd(["run", "--", "sh", "-c", "echo up; read x || true"]);
    cmd.stdin(Stdio::piped());
    let mut bg = Bg::spawn(cmd);
    assert_eq!(bg.expect_line(), "up");
    bg
}
