//! Keeping what a test starts (container engines: daemons, runtimes, monitors) inside its
//! throwaway host, beyond the network and mount namespaces of [`crate::in_throwaway_host`]:
//!
//! - [`private_etc`] ([`private_layer`] over any directory): `/etc` becomes an overlay whose
//!   upper layer is a tmpfs, so programs read
//!   the machine's files and every write (a lock in `/etc/cni/net.d`, a key in `/etc/docker`)
//!   lands in memory and is gone with the mount namespace.
//! - [`tmpfs_over`]: empty tmpfs mounts over system directories programs write whatever their
//!   options say (`/run`, `/var/lib`, ...).
//! - [`CgroupScope`]: a cgroup of the test's own in every cgroup v1 hierarchy. The host thread
//!   joins it, unshares a cgroup namespace rooted there and mounts the hierarchies afresh on a
//!   tmpfs over `/sys/fs/cgroup`, so every cgroup a program makes is below the scope; at the end
//!   the processes still in it are the test's leftovers, and the scope is removed, depth first.
//!
//! Everything here runs on the throwaway host's thread, except what [`CgroupScope`] does from
//! outside (creating, checking and removing the scope), which uses the machine's real paths.
//!
//! Length: over 500 lines with its unit tests; the code is about 440.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Where the cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// [`private_layer`] over `/etc`: programs read the machine's files, their writes land in
/// memory. Mounts below `/etc` (a bind-mounted `/etc/hosts` or `/etc/resolv.conf`, as container
/// runtimes make) are carried over.
///
/// # Panics
/// When a mount fails (not root, no overlayfs).
pub fn private_etc(layer: &Path) {
    private_layer(Path::new("/etc"), layer);
}

/// Mounts a tmpfs on `layer` (an empty directory of the test's), then an overlay on `dir`
/// with the machine's `dir` as its read-only lower layer and the tmpfs as its upper layer, in
/// the calling thread's (throwaway) mount namespace. Mounts below `dir` are carried over:
/// bound aside first, then back on top of the overlay.
///
/// # Panics
/// When a mount fails (not root, no overlayfs, `dir` missing).
pub fn private_layer(dir: &Path, layer: &Path) {
    let dir_str = dir.to_str().expect("a UTF-8 path");
    let sub: Vec<String> = crate::visible_mount_points()
        .into_iter()
        .filter(|p| {
            p.strip_prefix(dir_str)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|r| !r.is_empty())
        })
        .collect();
    tmpfs(layer, "mode=700");
    let (upper, work, aside) = (layer.join("upper"), layer.join("work"), layer.join("aside"));
    for d in [&upper, &work, &aside] {
        fs::create_dir(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
    }
    // Bound aside before the overlay hides them.
    let kept: Vec<(PathBuf, PathBuf)> = sub
        .iter()
        .enumerate()
        .map(|(i, point)| {
            let from = PathBuf::from(point);
            let to = aside.join(i.to_string());
            make_like(&from, &to);
            bind(&from, &to);
            (from, to)
        })
        .collect();
    let opts = format!(
        "lowerdir={dir_str},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        dir,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .unwrap_or_else(|e| panic!("mounting an overlay on {dir_str} ({opts}): {e}"));
    for (point, aside) in kept {
        if !point.exists() {
            make_like(&aside, &point);
        }
        bind(&aside, &point);
    }
}

/// Mounts an empty tmpfs (mode 755) on each of `dirs` that exists.
///
/// # Panics
/// When a mount fails.
pub fn tmpfs_over(dirs: &[&str]) {
    for dir in dirs {
        if Path::new(dir).is_dir() {
            tmpfs(Path::new(dir), "mode=755");
        }
    }
}

fn tmpfs(dir: &Path, opts: &str) {
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(opts),
    )
    .unwrap_or_else(|e| panic!("mounting a tmpfs on {}: {e}", dir.display()));
}

fn bind(from: &Path, to: &Path) {
    mount(
        Some(from),
        to,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .unwrap_or_else(|e| panic!("binding {} on {}: {e}", from.display(), to.display()));
}

/// Creates `path` as a mount point for `like`: a directory or an empty file.
fn make_like(like: &Path, path: &Path) {
    let made = if like.is_dir() {
        fs::create_dir_all(path)
    } else {
        fs::write(path, b"")
    };
    made.unwrap_or_else(|e| panic!("creating mount point {}: {e}", path.display()));
}

/// One cgroup v1 hierarchy of the machine.
#[derive(Debug, Clone)]
struct Hierarchy {
    /// Its mount point, e.g. `/sys/fs/cgroup/memory`.
    mount_point: PathBuf,
    /// Its mount options that name it: controllers and `name=`, e.g. `cpu,cpuacct`.
    options: String,
    /// The scope in it, as a real path.
    scope: PathBuf,
}

/// A cgroup of one test in every cgroup v1 hierarchy, made below the calling process's own
/// cgroup (the machine's tree gets one directory per hierarchy while the test runs, nothing
/// after). Dropping it kills the processes left in it and removes it.
#[derive(Debug)]
pub struct CgroupScope {
    hierarchies: Vec<Hierarchy>,
    /// Symbolic links in `/sys/fs/cgroup` (`cpu -> cpu,cpuacct`), made again in the fresh one.
    links: Vec<(PathBuf, PathBuf)>,
    removed: bool,
}

impl CgroupScope {
    /// Creates cgroup `name` in every cgroup v1 hierarchy mounted under `/sys/fs/cgroup` (a
    /// cpuset one gets its parent's CPUs and memory nodes, without which it takes no task).
    ///
    /// # Panics
    /// When the machine has no cgroup v1 hierarchy (a cgroup v2-only machine: one thread
    /// cannot be moved alone there, so this design does not apply), or a cgroup cannot be made.
    pub fn create(name: &str) -> CgroupScope {
        let own = fs::read_to_string("/proc/self/cgroup").expect("reading /proc/self/cgroup");
        let mut hierarchies = Vec::new();
        for (point, root, options) in v1_mounts() {
            // The process's cgroup in this hierarchy: the line whose controllers are these.
            let want: Vec<&str> = options.split(',').collect();
            let Some(path) = own.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
                let mut ctrl: Vec<&str> = ctrl.split(',').collect();
                ctrl.sort_unstable();
                let mut w = want.clone();
                w.sort_unstable();
                (ctrl == w).then(|| path.to_owned())
            }) else {
                continue;
            };
            let rel = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .trim_start_matches('/');
            let parent = point.join(rel);
            let scope = parent.join(name);
            fs::create_dir(&scope)
                .unwrap_or_else(|e| panic!("creating cgroup {}: {e}", scope.display()));
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = fs::read_to_string(parent.join(f)) {
                    fs::write(scope.join(f), v.trim())
                        .unwrap_or_else(|e| panic!("setting {}/{f}: {e}", scope.display()));
                }
            }
            hierarchies.push(Hierarchy {
                mount_point: point,
                options,
                scope,
            });
        }
        let mut me = CgroupScope {
            hierarchies,
            links: Vec::new(),
            removed: false,
        };
        assert!(
            !me.hierarchies.is_empty(),
            "no cgroup v1 hierarchy under {CGROUP_ROOT}: confining engines needs one \
             (cgroup v2-only machines are not supported by these tests)"
        );
        me.links = fs::read_dir(CGROUP_ROOT)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| Some((e.path(), fs::read_link(e.path()).ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        me
    }

    /// Moves the calling thread into the scope, gives it a cgroup namespace rooted there, and
    /// replaces `/sys/fs/cgroup` with a tmpfs holding each v1 hierarchy mounted afresh (its
    /// root is the scope). The cgroup v2 hierarchy of a hybrid machine is left out, so programs
    /// see a pure v1 machine and never write the v2 tree. Call it first thing on the throwaway
    /// host's thread (a private mount namespace), before anything is started.
    ///
    /// # Panics
    /// When a step fails.
    pub fn enter(&self) {
        let tid = nix::unistd::gettid().to_string();
        for h in &self.hierarchies {
            // cgroup v1: `tasks` takes a thread ID and moves only that thread.
            fs::write(h.scope.join("tasks"), &tid)
                .unwrap_or_else(|e| panic!("moving thread {tid} into {}: {e}", h.scope.display()));
        }
        unshare(CloneFlags::CLONE_NEWCGROUP).expect("unsharing a cgroup namespace");
        umount2(CGROUP_ROOT, MntFlags::MNT_DETACH)
            .unwrap_or_else(|e| panic!("unmounting {CGROUP_ROOT} in the throwaway host: {e}"));
        tmpfs(Path::new(CGROUP_ROOT), "mode=755");
        for h in &self.hierarchies {
            fs::create_dir_all(&h.mount_point).unwrap();
            mount(
                Some("cgroup"),
                &h.mount_point,
                Some("cgroup"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some(h.options.as_str()),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "mounting cgroup hierarchy {} on {}: {e}",
                    h.options,
                    h.mount_point.display()
                )
            });
        }
        for (link, target) in &self.links {
            // Only links to a hierarchy that is mounted again (not `unified`).
            if link
                .parent()
                .map(|p| p.join(target))
                .is_some_and(|t| t.exists())
            {
                std::os::unix::fs::symlink(target, link).unwrap();
            }
        }
    }

    /// The processes in the scope or below it (from outside the throwaway host), with their
    /// command names.
    pub fn processes(&self) -> Vec<(i32, String)> {
        let Some(h) = self.hierarchies.first() else {
            return Vec::new();
        };
        let me = std::process::id() as i32;
        let mut pids: Vec<i32> = dirs_depth_first(&h.scope)
            .iter()
            .flat_map(|d| {
                fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    // The test process itself is there while its host thread is: never
                    // reported, never killed.
                    .filter(|&p| p != me)
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids.into_iter()
            .map(|p| {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                (p, comm.trim().to_owned())
            })
            .collect()
    }

    /// Ends the scope after the throwaway host's thread has ended: waits up to `limit` for
    /// the processes in it to end by themselves, SIGKILLs the ones left (they were all started
    /// by the test), removes every cgroup in it, depth first, and returns the processes that
    /// were left, as `PID comm` (empty: the test left none).
    ///
    /// # Panics
    /// When a cgroup cannot be removed once its processes are gone.
    pub fn finish(mut self, limit: Duration) -> Vec<String> {
        let start = Instant::now();
        while !self.processes().is_empty() && start.elapsed() < limit {
            thread::sleep(Duration::from_millis(100));
        }
        let left = self.kill_all();
        let result = self.remove();
        self.removed = true;
        if let Err(e) = result {
            panic!("{e}");
        }
        left
    }

    /// SIGKILLs every process in the scope until none is left (bounded); returns what it
    /// found first.
    fn kill_all(&self) -> Vec<String> {
        let left: Vec<String> = self
            .processes()
            .iter()
            .map(|(p, c)| format!("{p} {c}"))
            .collect();
        let start = Instant::now();
        loop {
            let now = self.processes();
            if now.is_empty() || start.elapsed() > Duration::from_secs(30) {
                break;
            }
            for (pid, _) in now {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            thread::sleep(Duration::from_millis(50));
        }
        left
    }

    /// Removes every cgroup of the scope, deepest first. A cgroup whose last process just
    /// ended can be busy for a moment: each removal is retried for a while.
    fn remove(&self) -> Result<(), String> {
        let mut failed = Vec::new();
        for h in &self.hierarchies {
            for dir in dirs_depth_first(&h.scope).iter().rev() {
                let start = Instant::now();
                loop {
                    match fs::remove_dir(dir) {
                        Ok(()) => break,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                        Err(e) if start.elapsed() > Duration::from_secs(10) => {
                            failed.push(format!("{}: {e}", dir.display()));
                            break;
                        }
                        Err(_) => thread::sleep(Duration::from_millis(50)),
                    }
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "removing the test's cgroups: {}",
                failed.join("; ")
            ))
        }
    }
}

impl Drop for CgroupScope {
    fn drop(&mut self) {
        if !self.removed {
            self.kill_all();
            if let Err(e) = self.remove() {
                eprintln!("{e}");
            }
        }
    }
}

/// `dir` and every directory below it, parents before children.
fn dirs_depth_first(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            stack.extend(
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
            out.push(d);
        }
    }
    out
}

/// The cgroup v1 mounts under `/sys/fs/cgroup`: (mount point, root, naming options).
fn v1_mounts() -> Vec<(PathBuf, String, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("reading /proc/self/mountinfo");
    let visible = crate::visible_mount_points();
    info.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if post.first() != Some(&"cgroup") {
                return None;
            }
            let (root, point) = (*pre.get(3)?, *pre.get(4)?);
            if !point.starts_with(CGROUP_ROOT) || !visible.iter().any(|v| v == point) {
                return None;
            }
            let options: Vec<&str> = post
                .get(2)?
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent="))
                .filter(|o| *o != "noprefix" && *o != "clone_children" && *o != "xattr")
                .collect();
            Some((PathBuf::from(point), root.to_owned(), options.join(",")))
        })
        .collect()
}

/// Runs `f` in a throwaway host ([`crate::in_throwaway_host`]) confined further: its cgroups
/// are the scope `scope` ([`CgroupScope`], entered first) and its `/etc` is private
/// ([`private_etc`], the tmpfs on `layer`, an empty directory). Then ends the scope
/// ([`CgroupScope::finish`], waiting up to `limit`) and returns `f`'s value and the processes
/// the test left (killed by then). On a panic in `f`, the scope's processes are killed and it
/// is removed before the panic goes on.
///
/// # Panics
/// See [`CgroupScope::create`], [`CgroupScope::enter`] and [`private_etc`].
pub fn in_confined_host<T: Send>(
    scope: &str,
    layer: &Path,
    limit: Duration,
    f: impl FnOnce() -> T + Send,
) -> (T, Vec<String>) {
    let cgroups = CgroupScope::create(scope);
    let value = crate::in_throwaway_host(|| {
        cgroups.enter();
        private_etc(layer);
        f()
    });
    (value, cgroups.finish(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of this test's own under the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
            fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn private_etc_keeps_writes_off_the_machine() {
        if !crate::root_or_skip("private_etc_keeps_writes_off_the_machine") {
            return;
        }
        let layer = TempDir::new("cnitool-isolate-etc");
        let name = format!("cnitool-isolate-test-{}", std::process::id());
        let file = Path::new("/etc").join(&name);
        let hostname = fs::read("/etc/hostname").ok();
        crate::in_throwaway_host(|| {
            private_etc(&layer.0);
            // The machine's files are seen; a write lands in the upper layer.
            assert_eq!(fs::read("/etc/hostname").ok(), hostname);
            fs::write(&file, b"x").unwrap();
            assert!(layer.0.join("upper").join(&name).exists());
        });
        assert!(!file.exists(), "{} reached the machine", file.display());
    }

    #[test]
    fn cgroup_scope_holds_what_the_host_starts() {
        if !crate::root_or_skip("cgroup_scope_holds_what_the_host_starts") {
            return;
        }
        let scope = CgroupScope::create(&format!("cnitool-isolate-test-{}", std::process::id()));
        let pids = scope
            .hierarchies
            .iter()
            .find(|h| h.options == "pids")
            .expect("a pids hierarchy")
            .clone();
        crate::in_throwaway_host(|| {
            scope.enter();
            // A child sees the scope as the root, and what it makes lands below the scope.
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "grep -o ':pids:.*' /proc/self/cgroup; mkdir {0}/inner && \
                     echo $$ > {0}/inner/cgroup.procs && grep -o ':pids:.*' /proc/self/cgroup; \
                     sleep 1000 >/dev/null 2>&1 &",
                    pids.mount_point.display()
                ))
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                ":pids:/\n:pids:/inner\n"
            );
        });
        // Outside, on the machine's tree: below the scope.
        assert!(pids.scope.join("inner").is_dir());
        // The sleep was left running: reported, killed; the scope is gone.
        let left = scope.finish(Duration::from_secs(1));
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].ends_with(" sleep"), "{left:?}");
        assert!(!pids.scope.exists());
        assert!(!pids.mount_point.join("inner").exists());
    }
}

/// podman with a test's own storage, run directories and configuration under `base/podman`:
/// none of `/etc/containers` is read (`CONTAINERS_CONF` and the others name the test's files),
/// vfs storage, runc, cgroupfs, no events, and no search registry (short names resolve to
/// local images only: nothing can be pulled). `cni_plugin_dirs`: where podman's own CNI
/// networking looks for plugins, when a test uses it.
#[derive(Debug)]
pub struct PrivatePodman {
    /// The podman client.
    pub bin: PathBuf,
    /// Its global options.
    pub global: Vec<String>,
    /// Its environment (the configuration files).
    pub env: Vec<(String, PathBuf)>,
}

impl PrivatePodman {
    /// Writes the configuration under `base/podman`.
    ///
    /// # Panics
    /// When podman is not installed or a file cannot be written.
    pub fn new(base: &Path, cni_plugin_dirs: &[&str]) -> PrivatePodman {
        let root = base.join("podman");
        fs::create_dir_all(&root).expect("creating the podman directory");
        let (storage, run, tmp) = (root.join("root"), root.join("runroot"), root.join("tmp"));
        let write = |name: &str, text: String| {
            let path = root.join(name);
            fs::write(&path, text).expect("writing podman's configuration");
            path
        };
        let plugin_dirs = if cni_plugin_dirs.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = cni_plugin_dirs.iter().map(|d| format!("\"{d}\"")).collect();
            format!("cni_plugin_dirs = [{}]\n", quoted.join(", "))
        };
        let conf = write(
            "containers.conf",
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\n\
                 runtime = \"runc\"\ntmp_dir = \"{}\"\n\n\
                 [network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = \"{}\"\n{plugin_dirs}",
                tmp.display(),
                root.join("net.d").display(),
            ),
        );
        let storage_conf = write(
            "storage.conf",
            format!(
                "[storage]\ndriver = \"vfs\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
                run.display(),
                storage.display()
            ),
        );
        let registries = write(
            "registries.conf",
            "unqualified-search-registries = []\n".to_owned(),
        );
        PrivatePodman {
            bin: crate::find_in(
                &["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"],
                "podman",
            )
            .expect("podman is installed"),
            global: vec![
                format!("--root={}", storage.display()),
                format!("--runroot={}", run.display()),
                format!("--tmpdir={}", tmp.display()),
                "--runtime=runc".into(),
                "--storage-driver=vfs".into(),
                "--cgroup-manager=cgroupfs".into(),
                "--events-backend=none".into(),
            ],
            env: vec![
                ("CONTAINERS_CONF".into(), conf),
                ("CONTAINERS_STORAGE_CONF".into(), storage_conf),
                ("CONTAINERS_REGISTRIES_CONF".into(), registries),
            ],
        }
    }
}
