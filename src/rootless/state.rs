//! On-disk state of the shared rootless namespace (`docs/ROOTLESS.md`):
//!
//! ```text
//! <state>/rootless-netns/lock            flock(2) target, never deleted
//! <state>/rootless-netns/current         name of the live shared generation (never a private one)
//! <state>/rootless-netns/gen/<G>/info.json   holder pid + start time + userns inode, uplink
//! <state>/rootless-netns/gen/<G>/exit.fifo   held open by the holder: slirp4netns --exit-fd
//! <state>/rootless-netns/gen/<G>/cni/        /var/lib/cni of the plugin sandbox
//! <state>/rootless-netns/gen/<G>/cache/      libcni's result cache
//! <state>/rootless-netns/gen/<G>/netns/<run> run netns (a mount only in the holder's mntns)
//! <state>/rootless-netns/gen/<G>/cnitool-runs/<run>.json  live runs = the reference count
//! <state>/rootless-netns/gen/<G>/ports/<run>.json         the run's uplink port forwards
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::supervise::record::RunRecord;

/// The rootless-netns directory.
#[derive(Debug, Clone)]
pub struct Root {
    /// `<state>/rootless-netns`.
    pub dir: PathBuf,
}

/// The exclusive lock over the whole rootless state of a user; released on drop (and by
/// the kernel when the holder dies, so a crash never leaves it stuck).
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] Flock<File>);

impl Root {
    /// The directory under a state directory, created when `create`.
    pub fn new(state: &Path, create: bool) -> Result<Root> {
        let dir = state.join("rootless-netns");
        if create {
            fs::create_dir_all(dir.join("gen"))
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Root { dir })
    }

    /// Takes the lock, waiting for it.
    pub fn lock(&self) -> Result<Lock> {
        let f = self.open_lock()?;
        let lock = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .context("locking the rootless state")?;
        Ok(Lock(lock))
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Result<Option<Lock>> {
        let f = self.open_lock()?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(Lock(l))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e).context("locking the rootless state"),
        }
    }

    fn open_lock(&self) -> Result<File> {
        // Rust opens with O_CLOEXEC: no helper or holder inherits the lock.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join("lock"))
            .with_context(|| format!("opening {}", self.dir.join("lock").display()))
    }

    /// The name of the live generation, if any.
    pub fn current(&self) -> Option<String> {
        let s = fs::read_to_string(self.dir.join("current")).ok()?;
        let s = s.trim();
        (!s.is_empty() && !s.contains('/')).then(|| s.to_owned())
    }

    /// Makes `name` the live generation.
    pub fn set_current(&self, name: &str) -> Result<()> {
        write_atomic(&self.dir.join("current"), name.as_bytes())
    }

    /// Forgets the live generation if it is `name`.
    pub fn clear_current(&self, name: &str) {
        if self.current().as_deref() == Some(name) {
            let _ = fs::remove_file(self.dir.join("current"));
        }
    }

    /// Every generation directory.
    pub fn generations(&self) -> Vec<Gen> {
        let Ok(rd) = fs::read_dir(self.dir.join("gen")) else {
            return Vec::new();
        };
        let mut out: Vec<Gen> = rd
            .flatten()
            .filter_map(|e| Some(self.gen(e.file_name().to_str()?)))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// A generation by name.
    pub fn gen(&self, name: &str) -> Gen {
        Gen {
            name: name.to_owned(),
            dir: self.dir.join("gen").join(name),
        }
    }
}

/// Which helper gives the shared namespace its outbound connectivity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum UplinkKind {
    /// slirp4netns if installed, else pasta.
    Auto,
    /// slirp4netns (default): ready-fd, exit-fd, API socket for port forwards.
    Slirp4netns,
    /// pasta (passt): published ports (-p) only with --rootless-netns private.
    Pasta,
}

/// A running process, identified against PID reuse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    /// PID.
    pub pid: i32,
    /// Start time (`/proc/PID/stat` field 22).
    pub start: u64,
}

impl Proc {
    /// The process with this PID, as it is now.
    pub fn of(pid: i32) -> io::Result<Proc> {
        Ok(Proc {
            pid,
            start: stat(pid)?.1,
        })
    }

    /// Alive, the same process, and not a zombie (`kill -0` succeeds on zombies).
    pub fn is_alive(&self) -> bool {
        stat(self.pid)
            .is_ok_and(|(state, start)| start == self.start && state != 'Z' && state != 'X')
    }

    /// SIGKILLs it if it is still the same process, and waits (bounded) until it is gone.
    pub fn kill_and_wait(&self, limit: Duration) {
        if !self.is_alive() {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let end = Instant::now() + limit;
        while self.is_alive() && Instant::now() < end {
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// State letter and start time from `/proc/PID/stat`.
fn stat(pid: i32) -> io::Result<(char, u64)> {
    let stat = crate::supervise::record::read_stat(pid)?;
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    let mut f = after.split_whitespace();
    let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
    let start = f
        .nth(18)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    Ok((state, start))
}

/// The inode of a process's user namespace (the holder's identity).
pub fn userns_ino(pid: i32) -> io::Result<u64> {
    Ok(fs::metadata(format!("/proc/{pid}/ns/user"))?.ino())
}

/// What identifies a generation's processes (`info.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenInfo {
    /// The holder.
    pub holder: Proc,
    /// Inode of the holder's user namespace.
    pub userns_ino: u64,
    /// The uplink helper.
    pub uplink_kind: UplinkKind,
    /// The uplink process, once started.
    pub uplink: Option<Proc>,
    /// Whether the uplink lets runs reach the host's loopback (10.0.2.2).
    pub allow_host_loopback: bool,
    /// A generation of one run (`--rootless-netns private`): never `current`, joined by no
    /// other run.
    #[serde(default)]
    pub private: bool,
}

impl GenInfo {
    /// The holder is alive and is the process that created this generation.
    pub fn holder_alive(&self) -> bool {
        self.holder.is_alive() && userns_ino(self.holder.pid).is_ok_and(|i| i == self.userns_ino)
    }

    /// The uplink is alive.
    pub fn uplink_alive(&self) -> bool {
        self.uplink.as_ref().is_some_and(Proc::is_alive)
    }
}

/// One generation's directory.
#[derive(Debug, Clone)]
pub struct Gen {
    /// Its name (`g<hex>`).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
}

impl Gen {
    /// `info.json`, if written.
    pub fn info(&self) -> Option<GenInfo> {
        serde_json::from_slice(&fs::read(self.dir.join("info.json")).ok()?).ok()
    }

    /// Writes `info.json`.
    pub fn write_info(&self, info: &GenInfo) -> Result<()> {
        write_atomic(&self.dir.join("info.json"), &serde_json::to_vec(info)?)
    }

    /// The run records (path, record) of this generation.
    pub fn runs(&self) -> Vec<(PathBuf, RunRecord)> {
        RunRecord::list(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(p, r)| Some((p, r.ok()?)))
            .collect()
    }

    /// The runs whose runner is alive.
    /// (A run whose runner is gone but whose container still runs in its netns counts: the
    /// generation stays for `cnitool gc` to kill the container and undo the run.)
    pub fn live_runs(&self) -> Vec<(PathBuf, RunRecord)> {
        self.runs()
            .into_iter()
            .filter(|(_, r)| {
                r.owner.is_alive() || r.container.as_ref().is_some_and(|c| c.is_running())
            })
            .collect()
    }

    /// The netns file of a run.
    pub fn netns(&self, run: &str) -> PathBuf {
        self.dir.join("netns").join(run)
    }

    /// The port forwards file of a run.
    pub fn ports_file(&self, run: &str) -> PathBuf {
        self.dir.join("ports").join(format!("{run}.json"))
    }

    /// The uplink's API socket.
    pub fn api_socket(&self) -> PathBuf {
        self.dir.join("slirp.sock")
    }

    /// The last lines of a log file in the generation, for error messages.
    pub fn log_tail(&self, name: &str) -> String {
        log_tail(&self.dir.join(name))
    }

    /// Kills the holder and the uplink (each only if it is still the recorded process) and
    /// removes the directory.
    pub fn destroy(&self) {
        if let Some(info) = self.info() {
            if info.holder_alive() {
                info.holder.kill_and_wait(Duration::from_secs(2));
            }
            if let Some(up) = &info.uplink {
                up.kill_and_wait(Duration::from_secs(2));
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The last few non-empty lines of a log, joined with " | ".
pub fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Failed to send"))
        .collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// Writes a file by renaming a temp file over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
