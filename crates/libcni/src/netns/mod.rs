//! Network namespaces: persistent named ones (iproute2's `/run/netns` convention), identity
//! checks, and running code inside a namespace on a dedicated thread.
//!
//! A network namespace belongs to a thread, not to the process. Nothing here ever switches
//! the caller's thread: [`run_in`] and [`run_in_new`] spawn a fresh thread, move it into the
//! namespace, run the closure and let the thread end, so an early return or a panic cannot
//! leave a thread behind in the wrong namespace. Child processes spawned from inside the
//! closure inherit that thread's namespaces.
//!
//! | function | counterpart |
//! |---|---|
//! | [`identify`], [`check_target`] | Go `plugins/pkg/ns` `GetNS` + the runtime's own-namespace check |
//! | [`run_in`] | Go `ns.WithNetNSPath` |
//! | [`run_in_new`] | Go `testutils.NewNS` used as a throwaway host, `unshare -n -m` |
//! | [`create`], [`attach`], [`delete`], [`list`] | `ip netns add`, `ip netns attach`, `ip netns del`, `ip netns list` |
//! | [`set_link_up`] | `ip link set NAME up` |
//! | [`link_mtu`] | the MTU `ip link show NAME` prints |
//!
//! Length: over 500 lines with its unit tests (about 340); the code is about 440.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::thread;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::{fstatfs, NSFS_MAGIC};

use crate::error::Error;
use crate::sys;

mod link;
mod named;

pub use link::{link_mtu, set_link_up};
pub use named::{attach, create, delete, list, CreateOptions, NamedNetns};

/// The calling thread's network namespace, as the kernel shows it in procfs.
pub const THREAD_NETNS_PATH: &str = "/proc/thread-self/ns/net";

/// Longest namespace name [`validate_name`] accepts.
pub const MAX_NAME_LEN: usize = 64;

/// The rule [`validate_name`] enforces, as shown in its error message.
const NAME_RULE: &str =
    "must be 1 to 64 characters of A-Z a-z 0-9 _ . - and must not start with '.' or '-'";

/// Checks the name of a persistent namespace (a file name in the run directory).
///
/// The rule: 1 to [`MAX_NAME_LEN`] characters of `[A-Za-z0-9_.-]`, not starting with `.` or
/// `-`. That keeps the name one path component (no `/`, never `.` or `..`), keeps it away
/// from hidden files and from command-line options, and is a subset of what iproute2
/// accepts, so every such namespace also works with `ip netns`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming the value and stating the rule.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    let ok_start = !name.starts_with(['.', '-']);
    if !name.is_empty() && name.len() <= MAX_NAME_LEN && ok_chars && ok_start {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "network namespace name",
            reason: format!("{name:?} {NAME_RULE}"),
        })
    }
}

/// The identity of a namespace: the device and inode of its nsfs file.
///
/// Two paths name the same namespace exactly when their `NetnsId`s are equal (this is what
/// `stat -L` shows for `/proc/PID/ns/net` and for a bind-mounted namespace file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetnsId {
    /// `st_dev` of the nsfs file.
    pub dev: u64,
    /// `st_ino` of the nsfs file; the number in `net:[4026531840]`.
    pub ino: u64,
}

impl fmt::Display for NetnsId {
    /// The form `readlink /proc/PID/ns/net` prints: `net:[4026531840]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net:[{}]", self.ino)
    }
}

impl NetnsId {
    fn of(meta: &fs::Metadata) -> NetnsId {
        NetnsId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Checks that `path` is a network namespace and returns its identity.
///
/// The path may be a bind-mounted namespace file (`/run/netns/NAME`) or a procfs link
/// (`/proc/PID/ns/net`). It is a network namespace when its file system is nsfs and the
/// kernel reports the namespace type `CLONE_NEWNET` (`ioctl(NS_GET_NSTYPE)`, Linux 4.11+).
/// Devices and FIFOs are never opened.
///
/// # Errors
///
/// [`Error::Netns`] whose reason says what is wrong: `does not exist`, `permission denied`,
/// `is a regular file, not a namespace` (for example a stale file whose mount is gone), `is a
/// directory, not a namespace`, `is a mount namespace, not a network namespace`, ...
#[doc(alias = "GetNS")]
pub fn identify(path: impl AsRef<Path>) -> Result<NetnsId, Error> {
    open_netns(path.as_ref()).map(|(_, id)| id)
}

/// Opens `path` and checks that it is a network namespace (see [`identify`]).
fn open_netns(path: &Path) -> Result<(File, NetnsId), Error> {
    let netns_err = |reason: String| Error::Netns {
        path: path.to_owned(),
        reason,
    };
    // stat before open, so that a device is never opened (opening one can have effects)
    // and a FIFO never blocks us.
    let meta = fs::metadata(path).map_err(|e| netns_err(open_failure(&e)))?;
    if !meta.is_file() {
        return Err(netns_err(format!(
            "is a {}, not a namespace",
            file_kind(&meta.file_type())
        )));
    }
    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open still returns.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| netns_err(open_failure(&e)))?;
    let statfs = fstatfs(&file).map_err(|e| netns_err(format!("cannot statfs: {e}")))?;
    if statfs.filesystem_type() != NSFS_MAGIC {
        return Err(netns_err("is a regular file, not a namespace".into()));
    }
    match sys::ns_get_nstype(file.as_fd()) {
        Ok(libc::CLONE_NEWNET) => {}
        Ok(other) => {
            return Err(netns_err(format!(
                "is {} namespace, not a network namespace",
                ns_type_name(other)
            )))
        }
        Err(e) => {
            return Err(netns_err(format!(
                "cannot tell the namespace type (ioctl NS_GET_NSTYPE: {e}; Linux 4.11 or newer is needed)"
            )))
        }
    }
    // fstat the open file, not the path, so that the identity is that of what we checked.
    let meta = file
        .metadata()
        .map_err(|e| netns_err(format!("cannot stat: {e}")))?;
    Ok((file, NetnsId::of(&meta)))
}

fn open_failure(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "does not exist".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => format!("cannot be opened: {e}"),
    }
}

fn file_kind(ft: &fs::FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

/// "a mount", "an IPC", ... for a `CLONE_NEW*` value.
fn ns_type_name(nstype: libc::c_int) -> String {
    match nstype {
        libc::CLONE_NEWNS => "a mount".into(),
        libc::CLONE_NEWUTS => "a UTS".into(),
        libc::CLONE_NEWIPC => "an IPC".into(),
        libc::CLONE_NEWUSER => "a user".into(),
        libc::CLONE_NEWPID => "a PID".into(),
        libc::CLONE_NEWCGROUP => "a cgroup".into(),
        // CLONE_NEWTIME (Linux 5.6), not in every libc.
        0x80 => "a time".into(),
        other => format!("an unknown (type {other:#x})"),
    }
}

/// The network namespace of the calling thread (via [`THREAD_NETNS_PATH`]).
///
/// # Errors
///
/// [`Error::Netns`] if procfs is not mounted or not readable.
#[doc(alias = "GetCurrentNS")]
pub fn current_thread_netns() -> Result<NetnsId, Error> {
    identify(THREAD_NETNS_PATH)
}

/// Checks that `path` is a network namespace a plugin may configure: it must pass
/// [`identify`] and must not be the calling thread's own namespace.
///
/// Handing plugins the caller's own namespace would make them add interfaces, addresses and
/// routes to the host; a path that resolves there (`/proc/self/ns/net`, a mistyped
/// `/proc/1/ns/net`) is almost always a mistake.
///
/// # Errors
///
/// Those of [`identify`], and [`Error::Netns`] `is the caller's own network namespace; ...`.
pub fn check_target(path: impl AsRef<Path>) -> Result<NetnsId, Error> {
    let path = path.as_ref();
    let id = identify(path)?;
    if id == current_thread_netns()? {
        return Err(Error::Netns {
            path: path.to_owned(),
            reason: "is the caller's own network namespace; plugins would reconfigure the host"
                .into(),
        });
    }
    Ok(id)
}

/// Runs `f` inside the network namespace at `path` and returns its value.
///
/// `f` runs on a freshly spawned thread that enters the namespace (`setns(CLONE_NEWNET)`) and
/// then ends; the calling thread never changes namespace. The thread keeps the caller's
/// other namespaces (mount, user, ...). Processes spawned by `f` start in the namespace.
///
/// A panic in `f` is propagated: it resumes on the calling thread after the spawned thread
/// has ended.
///
/// # Errors
///
/// Those of [`identify`] for `path`, and [`Error::Io`] if no thread could be spawned or the
/// kernel refused to enter the namespace (`EPERM` without `CAP_SYS_ADMIN`).
#[doc(alias = "WithNetNSPath")]
pub fn run_in<T, F>(path: impl AsRef<Path>, f: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let path = path.as_ref();
    let (file, _) = open_netns(path)?;
    on_fresh_thread(path, move || {
        setns(&file, CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::io("entering network namespace", path, e.into()))?;
        drop(file);
        Ok(f())
    })
}

/// The names of the network interfaces in the namespace at `path`, as a thread inside it
/// sees them in `/proc/thread-self/net/dev` (no netlink needed).
///
/// # Errors
///
/// Those of [`run_in`], and [`Error::Io`] when the list cannot be read.
pub fn interface_names(path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
    let path = path.as_ref();
    let dev = Path::new("/proc/thread-self/net/dev");
    let text = run_in(path, || fs::read_to_string(dev))?
        .map_err(|e| Error::io("reading the interfaces of", path, e))?;
    // Two header lines, then `  NAME: counters...` per interface.
    Ok(text
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim().to_owned())
        .collect())
}

/// Which new namespaces [`run_in_new`] creates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewNamespaces {
    /// A new, empty network namespace (only `lo`, which is down).
    pub net: bool,
    /// A new mount namespace, a copy of the caller's, with every mount made private so that
    /// nothing mounted inside propagates to the caller's namespace (or back in).
    pub mount: bool,
}

/// Runs `f` on a fresh thread in new namespaces, and returns its value.
///
/// The thread `unshare`s the namespaces `opts` asks for; with `mount`, it then makes `/`
/// recursively private, so mounts made by `f` (or by processes and threads it spawns, which
/// inherit the thread's namespaces) never reach the caller's namespace. When the thread ends,
/// the namespaces go away with everything mounted in them, unless something else still holds
/// them (a process `f` left running, a namespace file bind-mounted outside).
///
/// This is the throwaway "host" that tests use. A panic in `f` resumes on the calling thread.
///
/// # Errors
///
/// [`Error::Io`] if no thread could be spawned, `unshare` failed (`EPERM` without
/// `CAP_SYS_ADMIN`) or the mounts could not be made private.
pub fn run_in_new<T, F>(opts: NewNamespaces, f: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    on_fresh_thread(Path::new("/proc/thread-self/ns"), move || {
        let mut flags = CloneFlags::empty();
        if opts.net {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        if opts.mount {
            flags |= CloneFlags::CLONE_NEWNS;
        }
        unshare(flags).map_err(|e| {
            Error::io(
                "unsharing the namespaces in",
                "/proc/thread-self/ns",
                e.into(),
            )
        })?;
        if opts.mount {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| Error::io("making mounts private under", "/", e.into()))?;
        }
        Ok(f())
    })
}

/// Runs `f` on a new thread that ends when `f` returns; `what` names the namespace for the
/// error if the thread cannot be spawned. A panic in `f` resumes on the calling thread.
fn on_fresh_thread<T, F>(what: &Path, f: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    thread::scope(|scope| {
        let handle = thread::Builder::new()
            .name("libcni-netns".into())
            .spawn_scoped(scope, f)
            .map_err(|e| Error::io("spawning a thread for namespace", what, e))?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Makes every mount of the calling thread's mount namespace a recursive slave, right after
/// `unshare(CLONE_NEWNS)`: mounts made from then on never propagate back to the namespace it
/// came from, while the host's later mounts still arrive where `/` was shared.
///
/// # Errors
/// [`Error::Io`].
pub fn make_mounts_slave() -> Result<(), Error> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| Error::io("making / a recursive slave mount", "/", e.into()))
}

/// Whether the namespace at `path` is gone: the path does not exist, or it is a plain file
/// that is no longer a namespace (its bind mount was removed, e.g. by a reboot or a lazy
/// unmount). A path that cannot be inspected (permissions) is *not* gone: nothing proves it.
pub fn is_gone(path: impl AsRef<Path>) -> bool {
    use nix::sys::statfs::{statfs, NSFS_MAGIC};
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return true;
    }
    match fs::symlink_metadata(path) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(m) => m.is_file() && statfs(path).is_ok_and(|s| s.filesystem_type() != NSFS_MAGIC),
    }
}

/// Counts the processes whose network namespace is `id` (their `/proc/PID/ns/net`).
///
/// Only each process's main thread is looked at. Processes that exit during the scan or whose
/// namespace link cannot be read (permissions) are not counted.
pub fn count_processes(id: NetnsId) -> usize {
    processes_in(id).len()
}

/// The PIDs of the processes whose network namespace is `id` (their main thread's; processes
/// that vanish or cannot be inspected while scanning are left out).
pub fn processes_in(id: NetnsId) -> Vec<i32> {
    scan_processes(id, None)
}

/// [`processes_in`] among the processes of user `uid` only (the owner of `/proc/PID`: a
/// process of a user namespace whose root maps to `uid` counts, even when not dumpable). The
/// namespace link, a path walk and a ptrace-access check each, is looked at only for those:
/// cheaper on a host where most processes are another user's.
pub fn processes_of_user_in(id: NetnsId, uid: u32) -> Vec<i32> {
    scan_processes(id, Some(uid))
}

fn scan_processes(id: NetnsId, uid: Option<u32>) -> Vec<i32> {
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            if let Some(uid) = uid {
                // One statx on the listing's own descriptor.
                if entry.metadata().ok()?.uid() != uid {
                    return None;
                }
            }
            fs::metadata(entry.path().join("ns/net"))
                .is_ok_and(|m| NetnsId::of(&m) == id)
                .then_some(pid)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers for tests that need root and throwaway namespaces.

    use super::*;

    pub(crate) use testsupport::root_or_skip;

    /// Runs `f` in a new network and mount namespace (see [`run_in_new`]), propagating panics.
    /// (`testsupport::in_throwaway_host` for the other test binaries; these unit tests run
    /// the crate's own `run_in_new`, not the copy that crate links.)
    pub(crate) fn in_throwaway_host<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        run_in_new(
            NewNamespaces {
                net: true,
                mount: true,
            },
            f,
        )
        .expect("creating a throwaway host namespace")
    }

    /// Mount points (field 5 of mountinfo) of the calling thread's mount namespace.
    pub(crate) fn mount_points() -> Vec<String> {
        fs::read_to_string("/proc/thread-self/mountinfo")
            .expect("reading /proc/thread-self/mountinfo")
            .lines()
            .map(|l| l.split(' ').nth(4).expect("mountinfo field 5").to_owned())
            .collect()
    }

    /// The `ip -o link show NAME` line, run in the calling thread's network namespace.
    pub(crate) fn ip_link_show(name: &str) -> String {
        let out = std::process::Command::new("ip")
            .args(["-o", "link", "show", name])
            .output()
            .expect("running ip");
        assert!(out.status.success(), "ip link show {name}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Whether `ip -o link show` lists the link's flags with UP.
    pub(crate) fn link_is_up(line: &str) -> bool {
        let flags = line
            .split('<')
            .nth(1)
            .and_then(|s| s.split('>').next())
            .expect("flags in ip output");
        flags.split(',').any(|f| f == "UP")
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::testutil::*;
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("ns0", true),
            ("my_ns.test-1", true),
            ("_x", true),
            ("0", true),
            (&"x".repeat(64), true),
            ("", false),
            (&"x".repeat(65), false),
            (".", false),
            ("..", false),
            (".hidden", false),
            ("-rf", false),
            ("a/b", false),
            ("a b", false),
            ("ns\n", false),
            ("é", false),
            ("a:b", false),
        ];
        for (name, ok) in cases {
            let res = validate_name(name);
            assert_eq!(res.is_ok(), *ok, "{name:?}: {res:?}");
            if let Err(e) = res {
                let msg = e.to_string();
                assert!(msg.contains(&format!("{name:?}")), "{msg}");
                assert!(msg.contains("1 to 64 characters"), "{msg}");
                assert_eq!(e.kind(), crate::ErrorKind::Invalid);
            }
        }
    }

    fn reason(e: Error) -> String {
        match e {
            Error::Netns { reason, .. } => reason,
            other => panic!("expected Error::Netns, got {other:?}"),
        }
    }

    #[test]
    fn identify_rejects_what_is_not_a_netns() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(reason(identify(&missing).unwrap_err()), "does not exist");

        let regular = dir.path().join("file");
        fs::write(&regular, "x").unwrap();
        assert_eq!(
            reason(identify(&regular).unwrap_err()),
            "is a regular file, not a namespace"
        );
        assert_eq!(
            reason(identify(dir.path()).unwrap_err()),
            "is a directory, not a namespace"
        );
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(
            reason(identify(&fifo).unwrap_err()),
            "is a FIFO, not a namespace"
        );
        assert_eq!(
            reason(identify("/dev/null").unwrap_err()),
            "is a character device, not a namespace"
        );
        assert_eq!(
            reason(identify("/proc/self/ns/mnt").unwrap_err()),
            "is a mount namespace, not a network namespace"
        );
        assert_eq!(
            reason(identify("/proc/self/ns/uts").unwrap_err()),
            "is a UTS namespace, not a network namespace"
        );
        let e = identify(&regular).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "network namespace {}: is a regular file, not a namespace",
                regular.display()
            )
        );
    }

    #[test]
    fn identify_accepts_proc_links() {
        let own = current_thread_netns().unwrap();
        assert_eq!(identify("/proc/thread-self/ns/net").unwrap(), own);
        // `/proc/self` is the main thread; the test thread has not moved, so they agree.
        assert_eq!(identify("/proc/self/ns/net").unwrap(), own);
        assert!(own.to_string().starts_with("net:["));
    }

    /// Set in the environment of the unprivileged re-run of this test binary.
    const UNPRIVILEGED_CHILD_ENV: &str = "LIBCNI_TEST_UNPRIVILEGED_CHILD";

    #[test]
    fn identify_reports_permission_denied() {
        if !root_or_skip("identify_reports_permission_denied") {
            return;
        }
        // Credentials are per process, and dropping them in this multi-threaded test binary
        // would affect every test: re-run one test as `nobody` in a child process instead.
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "netns::tests::unprivileged_child_identify",
                "--nocapture",
            ])
            .env(UNPRIVILEGED_CHILD_ENV, "1")
            .output()
            .expect("running setpriv");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{out:?}"
        );
    }

    /// Does nothing unless run by [`identify_reports_permission_denied`].
    #[test]
    fn unprivileged_child_identify() {
        if std::env::var_os(UNPRIVILEGED_CHILD_ENV).is_none() {
            return;
        }
        assert!(!nix::unistd::geteuid().is_root());
        // The namespace links of another user's process need ptrace access.
        assert_eq!(
            reason(identify("/proc/1/ns/net").unwrap_err()),
            "permission denied"
        );
    }

    #[test]
    fn check_target_refuses_own_namespace() {
        let e = check_target(THREAD_NETNS_PATH).unwrap_err();
        assert_eq!(
            reason(e),
            "is the caller's own network namespace; plugins would reconfigure the host"
        );
    }

    #[test]
    fn check_target_accepts_another_namespace() {
        if !root_or_skip("check_target_accepts_another_namespace") {
            return;
        }
        let outer = current_thread_netns().unwrap();
        in_throwaway_host(|| {
            let inner = current_thread_netns().unwrap();
            assert_ne!(inner, outer);
            // From inside, the outer namespace (the main thread's) is a valid target ...
            assert_eq!(check_target("/proc/self/ns/net").unwrap(), outer);
            // ... and our own is refused.
            assert!(check_target(THREAD_NETNS_PATH).is_err());
        });
    }

    #[test]
    fn run_in_enters_and_returns() {
        if !root_or_skip("run_in_enters_and_returns") {
            return;
        }
        let outer = current_thread_netns().unwrap();
        in_throwaway_host(|| {
            let inner = current_thread_netns().unwrap();
            // Enter the outer namespace from inside via the main thread's link.
            let seen = run_in("/proc/self/ns/net", || current_thread_netns().unwrap()).unwrap();
            assert_eq!(seen, outer);
            // The calling thread did not move.
            assert_eq!(current_thread_netns().unwrap(), inner);
        });
        assert_eq!(current_thread_netns().unwrap(), outer);
    }

    #[test]
    fn interface_names_are_those_of_the_namespace() {
        if !root_or_skip("interface_names_are_those_of_the_namespace") {
            return;
        }
        in_throwaway_host(|| {
            let status = Command::new("ip")
                .args(["link", "add", "vx0", "type", "veth", "peer", "name", "vx1"])
                .status()
                .unwrap();
            assert!(status.success());
            let mut names = interface_names(THREAD_NETNS_PATH).unwrap();
            names.sort();
            assert_eq!(names, ["lo", "vx0", "vx1"]);
        });
    }

    #[test]
    fn run_in_refuses_non_netns() {
        let e = run_in("/proc/self/ns/mnt", || ()).unwrap_err();
        assert_eq!(reason(e), "is a mount namespace, not a network namespace");
    }

    #[test]
    fn panics_propagate_to_the_caller() {
        // No new namespace: needs no privileges.
        let res =
            std::panic::catch_unwind(|| run_in_new(NewNamespaces::default(), || panic!("boom")));
        assert_eq!(res.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));

        if !root_or_skip("panics_propagate_to_the_caller (run_in)") {
            return;
        }
        let res = std::panic::catch_unwind(|| run_in(THREAD_NETNS_PATH, || panic!("bang")));
        assert_eq!(res.unwrap_err().downcast_ref::<&str>(), Some(&"bang"));
    }

    #[test]
    fn run_in_new_isolates_net_and_mounts() {
        if !root_or_skip("run_in_new_isolates_net_and_mounts") {
            return;
        }
        let outer_net = current_thread_netns().unwrap();
        let outer_mnt = fs::metadata("/proc/thread-self/ns/mnt").unwrap().ino();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().to_owned();
        in_throwaway_host(|| {
            assert_ne!(current_thread_netns().unwrap(), outer_net);
            assert_ne!(
                fs::metadata("/proc/thread-self/ns/mnt").unwrap().ino(),
                outer_mnt
            );
            // lo exists and is down in a fresh namespace.
            assert!(!link_is_up(&ip_link_show("lo")));
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .unwrap();
            assert!(mount_points().contains(&target.to_str().unwrap().to_owned()));
        });
        // The tmpfs did not reach this thread's mount namespace.
        assert!(!testutil::mount_points().contains(&target.to_str().unwrap().to_owned()));
    }

    #[test]
    fn count_processes_sees_children() {
        if !root_or_skip("count_processes_sees_children") {
            return;
        }
        in_throwaway_host(|| {
            let id = current_thread_netns().unwrap();
            assert_eq!(count_processes(id), 0);
            let mut child = Command::new("sleep").arg("60").spawn().unwrap();
            assert_eq!(count_processes(id), 1);
            let pid = child.id() as i32;
            assert_eq!(processes_of_user_in(id, 0), [pid]);
            assert!(processes_of_user_in(id, 65534).is_empty());
            child.kill().unwrap();
            child.wait().unwrap();
            assert_eq!(count_processes(id), 0);
        });
    }
}

#[cfg(test)]
mod gone_tests {
    use super::*;

    #[test]
    fn only_missing_paths_and_stale_files_are_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("stale");
        fs::write(&file, b"").unwrap();
        assert!(is_gone(tmp.path().join("missing")));
        assert!(is_gone(""));
        assert!(is_gone(&file), "a plain file where a namespace was");
        assert!(!is_gone(THREAD_NETNS_PATH), "a live namespace");
        assert!(
            !is_gone(tmp.path()),
            "a directory is not a stale namespace file"
        );
    }
}
