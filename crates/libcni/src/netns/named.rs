//! Persistent named network namespaces: files in a run directory (`/run/netns` for iproute2)
//! with a namespace bind-mounted on each, so the namespace outlives every process in it.
//!
//! Compatible with `ip netns`: the same layout, the same shared-mount setup and the same lock
//! (an exclusive `flock` on the run directory itself), so both tools can work on one run
//! directory at the same time.
//!
//! Length: over 500 lines with its unit tests (about 380); the code is about 320.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::{identify, on_fresh_thread, set_link_up, validate_name, NetnsId, THREAD_NETNS_PATH};
use crate::error::Error;

/// How [`create`] sets up a new namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateOptions {
    /// Bring the loopback interface up (the default; `ip netns add` leaves it down).
    pub lo_up: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions { lo_up: true }
    }
}

/// An entry of a run directory, as [`list`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedNetns {
    /// The file name (lossily converted if it is not UTF-8).
    pub name: String,
    /// The full path of the file.
    pub path: PathBuf,
    /// The namespace mounted there; `None` for a stale file (its mount is gone, for example
    /// after a reboot or an unmount by hand) or anything else that is not a network namespace.
    pub id: Option<NetnsId>,
}

/// Creates a persistent network namespace `<run_dir>/<name>` and returns its path; the
/// equivalent of `ip netns add NAME` with `run_dir` in place of `/run/netns`.
///
/// Steps, as iproute2 does them:
/// 1. create `run_dir` (mode 0755, parents too) if it is missing;
/// 2. under an exclusive `flock` of `run_dir` itself (the lock `ip netns add` takes), make
///    `run_dir` a shared mount, bind-mounting it onto itself first if it is not a mount point,
///    so that unmounting a namespace file propagates to other mount namespaces;
/// 3. create the file with `O_CREAT | O_EXCL` and mode 0: an existing name is never reused;
/// 4. on a dedicated thread, `unshare(CLONE_NEWNET)`, bring `lo` up if asked, and bind-mount
///    that thread's `/proc/thread-self/ns/net` onto the file.
///
/// If a step after the file's creation fails, the file is unmounted (if it was mounted) and
/// removed. The namespace mounts land in the calling thread's mount namespace.
///
/// # Errors
///
/// - [`Error::InvalidArgument`] for a name [`validate_name`] rejects;
/// - [`Error::Netns`] `already exists` if `<run_dir>/<name>` exists (even a stale file);
/// - [`Error::Io`] for the failing directory creation, lock, mount, `unshare` or link
///   operation (`EPERM` without `CAP_SYS_ADMIN`).
#[doc(alias = "NewNS")]
pub fn create(
    run_dir: impl AsRef<Path>,
    name: &str,
    opts: CreateOptions,
) -> Result<PathBuf, Error> {
    create_from(run_dir.as_ref(), name, opts, Path::new(THREAD_NETNS_PATH))
}

/// [`create`], with the file bind-mounted from `ns_source` as seen by the namespace thread
/// (tests point it somewhere unmountable to exercise the cleanup).
fn create_from(
    run_dir: &Path,
    name: &str,
    opts: CreateOptions,
    ns_source: &Path,
) -> Result<PathBuf, Error> {
    let path = new_file(run_dir, name)?;
    let cleanup = RemoveOnDrop(Some(&path));

    on_fresh_thread(&path, || {
        unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::io("unsharing a network namespace for", &path, e.into()))?;
        if opts.lo_up {
            set_link_up("lo")?;
        }
        mount(
            Some(ns_source),
            &path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            Error::io(
                "bind-mounting the new network namespace onto",
                &path,
                e.into(),
            )
        })
    })?;

    cleanup.disarm();
    Ok(path)
}

/// Steps 1 to 3 of [`create`]: the run directory, its shared mount and the new (empty) file.
fn new_file(run_dir: &Path, name: &str) -> Result<PathBuf, Error> {
    validate_name(name)?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(run_dir)
        .map_err(|e| Error::io("creating directory", run_dir, e))?;
    make_shared_mount(run_dir)?;

    let path = run_dir.join(name);
    // std refuses O_CREAT without write access; add the flags by hand to get what iproute2
    // does: O_RDONLY | O_CREAT | O_EXCL, mode 0.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CREAT | libc::O_EXCL)
        .mode(0o000)
        .open(&path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Error::Netns {
                path: path.clone(),
                reason: "already exists".into(),
            },
            _ => Error::io("creating namespace file", &path, e),
        })?;
    Ok(path)
}

/// Gives the existing network namespace at `source` (such as `/proc/PID/ns/net`) the name
/// `<run_dir>/<name>`, so that the path stays valid as long as the file is mounted, whatever
/// happens to the processes in it; the equivalent of `ip netns attach NAME PID`.
///
/// The run directory and the file are made as [`create`] makes them; then `source` is
/// bind-mounted onto the file. If that fails, the file is removed.
///
/// # Errors
///
/// - those of [`identify`] if `source` is not a network namespace;
/// - [`Error::InvalidArgument`] for a name [`validate_name`] rejects;
/// - [`Error::Netns`] `already exists` if `<run_dir>/<name>` exists;
/// - [`Error::Io`] for the failing directory creation, lock or mount.
pub fn attach(
    run_dir: impl AsRef<Path>,
    name: &str,
    source: impl AsRef<Path>,
) -> Result<PathBuf, Error> {
    let source = source.as_ref();
    identify(source)?;
    let path = new_file(run_dir.as_ref(), name)?;
    let cleanup = RemoveOnDrop(Some(&path));
    mount(
        Some(source),
        &path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::io("bind-mounting a network namespace onto", &path, e.into()))?;
    cleanup.disarm();
    Ok(path)
}

/// Unmounts and removes a namespace file on drop (errors and panics after its creation),
/// unless disarmed.
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl RemoveOnDrop<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            // Best effort: the error being returned is the one that matters.
            let _ = unmount_all(path);
            let _ = fs::remove_file(path);
        }
    }
}

/// Makes `run_dir` a shared mount, bind-mounting it onto itself first if it is not a mount
/// point, under an exclusive `flock` of the directory.
///
/// The lock is the one `ip netns add` takes (iproute2 commit "ip netns: serialize
/// the run dir setup", Debian bug 949235): without it, concurrent creators each see "not a
/// mount point" and stack bind mounts of the run directory on top of each other.
fn make_shared_mount(run_dir: &Path) -> Result<(), Error> {
    let mut dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(run_dir)
        .map_err(|e| Error::io("opening directory", run_dir, e))?;
    let _lock = loop {
        match Flock::lock(dir, FlockArg::LockExclusive) {
            Ok(lock) => break lock,
            Err((d, Errno::EINTR)) => dir = d,
            Err((_, e)) => return Err(Error::io("locking directory", run_dir, e.into())),
        }
    };
    let mut bound = false;
    loop {
        let shared = mount(
            None::<&str>,
            run_dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        );
        match shared {
            Ok(()) => return Ok(()),
            // EINVAL: not a mount point (yet). Make it one, once.
            Err(Errno::EINVAL) if !bound => {
                mount(
                    Some(run_dir),
                    run_dir,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| {
                    Error::io("bind-mounting onto itself the directory", run_dir, e.into())
                })?;
                bound = true;
            }
            Err(e) => return Err(Error::io("making a shared mount of", run_dir, e.into())),
        }
    }
}

/// Detaches every mount stacked on `path` (not following a symbolic link there).
fn unmount_all(path: &Path) -> Result<(), Error> {
    // Two `ip netns attach` to one name stack two mounts; a few rounds cover any real case.
    for _ in 0..16 {
        match umount2(path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) => {}
            // Not (or no longer) a mount point.
            Err(Errno::EINVAL | Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(Error::io("unmounting", path, e.into())),
        }
    }
    Ok(())
}

/// Deletes the persistent namespace `<run_dir>/<name>`: detaches its mount (`MNT_DETACH`) and
/// removes the file; the equivalent of `ip netns delete NAME`.
///
/// The namespace itself lives on while processes are in it or hold it open. A stale file
/// (nothing mounted on it) is just removed.
///
/// # Errors
///
/// - [`Error::InvalidArgument`] for a name [`validate_name`] rejects;
/// - [`Error::Netns`] `does not exist` if there is no such file;
/// - [`Error::Io`] if unmounting or removing fails.
pub fn delete(run_dir: impl AsRef<Path>, name: &str) -> Result<(), Error> {
    validate_name(name)?;
    let path = run_dir.as_ref().join(name);
    match fs::symlink_metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Netns {
                path,
                reason: "does not exist".into(),
            })
        }
        Err(e) => return Err(Error::io("inspecting", &path, e)),
    }
    unmount_all(&path)?;
    fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))
}

/// Lists the entries of `run_dir`, sorted by name; the equivalent of `ip netns list`.
///
/// Every entry is listed, also names [`validate_name`] would refuse (iproute2 accepts more),
/// with [`NamedNetns::id`] telling live namespaces from stale files. A namespace that
/// [`create`] or `ip netns add` is making at that moment may show as stale (its file exists
/// before its mount). A missing run directory is an empty list.
///
/// # Errors
///
/// [`Error::Io`] if the directory exists but cannot be read.
pub fn list(run_dir: impl AsRef<Path>) -> Result<Vec<NamedNetns>, Error> {
    let run_dir = run_dir.as_ref();
    let entries = match fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("reading directory", run_dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading directory", run_dir, e))?;
        let path = entry.path();
        out.push(NamedNetns {
            name: entry.file_name().to_string_lossy().into_owned(),
            id: identify(&path).ok(),
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::thread;

    use super::super::testutil::*;
    use super::super::{current_thread_netns, run_in};
    use super::*;

    fn no_lo() -> CreateOptions {
        CreateOptions { lo_up: false }
    }

    use testsupport::mounts_at_and_below;

    /// A temp dir (canonical, so it matches mountinfo) created outside the throwaway host:
    /// it is removed after the host's mount namespace, with every mount in it, is gone.
    fn tempdir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        (dir, path)
    }

    #[test]
    fn attach_names_an_existing_namespace() {
        if !root_or_skip("attach_names_an_existing_namespace") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let run_dir = base.join("netns");
            let first = create(&run_dir, "first", CreateOptions::default()).unwrap();
            let second = attach(&run_dir, "second", &first).unwrap();
            assert_eq!(identify(&second).unwrap(), identify(&first).unwrap());
            // The name outlives the original one.
            delete(&run_dir, "first").unwrap();
            assert!(identify(&second).is_ok());
            assert!(matches!(
                attach(&run_dir, "second", THREAD_NETNS_PATH),
                Err(Error::Netns { .. })
            ));
            // Not a namespace: nothing is created.
            assert!(attach(&run_dir, "third", &base).is_err());
            assert!(!run_dir.join("third").exists());
            delete(&run_dir, "second").unwrap();
            assert_eq!(list(&run_dir).unwrap(), vec![]);
        });
    }

    #[test]
    fn create_list_delete_round_trip() {
        if !root_or_skip("create_list_delete_round_trip") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let run_dir = base.join("netns");
            let host = current_thread_netns().unwrap();
            let path = create(&run_dir, "one", CreateOptions::default()).unwrap();
            assert_eq!(path, run_dir.join("one"));
            let id = identify(&path).unwrap();
            assert_ne!(id, host);
            // lo is up inside, checked with iproute2 run in the namespace.
            let line = run_in(&path, || ip_link_show("lo")).unwrap();
            assert!(link_is_up(&line), "{line}");
            assert_eq!(current_thread_netns().unwrap(), host);

            let path2 = create(&run_dir, "a-two", CreateOptions::default()).unwrap();
            let listed = list(&run_dir).unwrap();
            assert_eq!(
                listed,
                vec![
                    NamedNetns {
                        name: "a-two".into(),
                        path: path2.clone(),
                        id: Some(identify(&path2).unwrap()),
                    },
                    NamedNetns {
                        name: "one".into(),
                        path: path.clone(),
                        id: Some(id),
                    },
                ]
            );
            assert_ne!(listed[0].id, listed[1].id);

            delete(&run_dir, "one").unwrap();
            delete(&run_dir, "a-two").unwrap();
            assert_eq!(list(&run_dir).unwrap(), vec![]);
            assert!(!path.exists());
            assert_eq!(mounts_at_and_below(&run_dir), (1, 0));
        });
    }

    #[test]
    fn no_lo_leaves_loopback_down() {
        if !root_or_skip("no_lo_leaves_loopback_down") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let path = create(&base, "nolo", no_lo()).unwrap();
            let line = run_in(&path, || ip_link_show("lo")).unwrap();
            assert!(!link_is_up(&line), "{line}");
            delete(&base, "nolo").unwrap();
        });
    }

    #[test]
    fn existing_name_fails_and_is_left_intact() {
        if !root_or_skip("existing_name_fails_and_is_left_intact") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let path = create(&base, "dup", no_lo()).unwrap();
            let id = identify(&path).unwrap();
            let e = create(&base, "dup", no_lo()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("network namespace {}: already exists", path.display())
            );
            assert_eq!(identify(&path).unwrap(), id);
            assert_eq!(list(&base).unwrap().len(), 1);
            delete(&base, "dup").unwrap();
        });
    }

    #[test]
    fn delete_missing_is_does_not_exist() {
        let (_tmp, base) = tempdir();
        let e = delete(&base, "missing").unwrap_err();
        let Error::Netns { path, reason } = e else {
            panic!("{e:?}")
        };
        assert_eq!(path, base.join("missing"));
        assert_eq!(reason, "does not exist");
    }

    #[test]
    fn stale_file_is_listed_without_id_and_deleted() {
        if !root_or_skip("stale_file_is_listed_without_id_and_deleted") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let path = create(&base, "stale", no_lo()).unwrap();
            // What a reboot leaves: the file without its mount.
            umount2(&path, MntFlags::MNT_DETACH).unwrap();
            let listed = list(&base).unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].id, None);
            assert!(identify(&path).is_err());
            delete(&base, "stale").unwrap();
            assert!(!path.exists());
        });
    }

    #[test]
    fn invalid_names_are_refused_before_touching_anything() {
        let (_tmp, base) = tempdir();
        let run_dir = base.join("netns");
        for name in [
            "",
            ".",
            "..",
            "../escape",
            "a/b",
            "-x",
            ".x",
            &"n".repeat(65),
        ] {
            let e = create(&run_dir, name, no_lo()).unwrap_err();
            assert!(
                matches!(e, Error::InvalidArgument { .. }),
                "{name:?}: {e:?}"
            );
            let e = delete(&run_dir, name).unwrap_err();
            assert!(
                matches!(e, Error::InvalidArgument { .. }),
                "{name:?}: {e:?}"
            );
        }
        assert!(!run_dir.exists());
    }

    #[test]
    fn missing_run_dir_is_created_and_lists_empty() {
        if !root_or_skip("missing_run_dir_is_created_and_lists_empty") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let run_dir = base.join("a/b/netns");
            assert_eq!(list(&run_dir).unwrap(), vec![]);
            let path = create(&run_dir, "deep", no_lo()).unwrap();
            let mode = fs::metadata(&run_dir).unwrap().permissions();
            assert_eq!(mode.mode() & 0o777, 0o755 & !current_umask());
            assert!(identify(&path).is_ok());
            delete(&run_dir, "deep").unwrap();
        });
    }

    fn current_umask() -> u32 {
        fs::read_to_string("/proc/thread-self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap_or(0o022)
    }

    #[test]
    fn parallel_creates_mount_the_run_dir_once() {
        if !root_or_skip("parallel_creates_mount_the_run_dir_once") {
            return;
        }
        const N: usize = 50;
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let run_dir = base.join("netns");
            // Threads spawned here share this thread's (throwaway) namespaces.
            thread::scope(|s| {
                let handles: Vec<_> = (0..N)
                    .map(|i| {
                        let run_dir = &run_dir;
                        s.spawn(move || create(run_dir, &format!("ns{i}"), no_lo()))
                    })
                    .collect();
                for h in handles {
                    h.join().unwrap().unwrap();
                }
            });
            assert_eq!(mounts_at_and_below(&run_dir), (1, N));
            let listed = list(&run_dir).unwrap();
            assert_eq!(listed.len(), N);
            let ids: std::collections::HashSet<_> = listed.iter().map(|n| n.id.unwrap()).collect();
            assert_eq!(ids.len(), N);
            for n in &listed {
                delete(&run_dir, &n.name).unwrap();
            }
            assert_eq!(mounts_at_and_below(&run_dir), (1, 0));
            assert_eq!(list(&run_dir).unwrap(), vec![]);
        });
    }

    #[test]
    fn failed_bind_mount_removes_the_file() {
        if !root_or_skip("failed_bind_mount_removes_the_file") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let e = create_from(
                &base,
                "doomed",
                CreateOptions::default(),
                Path::new("/nonexistent/ns/net"),
            )
            .unwrap_err();
            let Error::Io { op, path, source } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(*op, "bind-mounting the new network namespace onto");
            assert_eq!(path, &base.join("doomed"));
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            assert!(!base.join("doomed").exists());
            assert_eq!(mounts_at_and_below(&base), (1, 0));
        });
    }

    #[test]
    fn read_only_run_dir_fails_without_leftovers() {
        if !root_or_skip("read_only_run_dir_fails_without_leftovers") {
            return;
        }
        let (_tmp, base) = tempdir();
        in_throwaway_host(|| {
            let run_dir = base.join("netns");
            fs::create_dir(&run_dir).unwrap();
            mount(
                Some(&run_dir),
                &run_dir,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .unwrap();
            mount(
                None::<&str>,
                &run_dir,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .unwrap();
            let e = create(&run_dir, "ro", no_lo()).unwrap_err();
            let Error::Io { source, .. } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(source.raw_os_error(), Some(libc::EROFS));
            assert_eq!(list(&run_dir).unwrap(), vec![]);
            assert_eq!(mounts_at_and_below(&run_dir), (1, 0));
        });
    }

    /// Mounts a tmpfs on `/run` (in the throwaway mount namespace only) and makes
    /// `/run/netns` in it, so iproute2's fixed run directory is a private, empty one.
    fn private_run_netns() -> PathBuf {
        mount(
            Some("tmpfs"),
            "/run",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .unwrap();
        let run_dir = PathBuf::from("/run/netns");
        fs::create_dir(&run_dir).unwrap();
        run_dir
    }

    fn ip(args: &[&str]) -> std::process::Output {
        let out = Command::new("ip").args(args).output().expect("running ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
        out
    }

    #[test]
    fn iproute2_uses_our_namespaces() {
        if !root_or_skip("iproute2_uses_our_namespaces") {
            return;
        }
        in_throwaway_host(|| {
            let run_dir = private_run_netns();
            let path = create(&run_dir, "ours", CreateOptions::default()).unwrap();
            ip(&["netns", "exec", "ours", "true"]);
            let out = ip(&["netns", "exec", "ours", "ip", "-o", "link", "show", "lo"]);
            assert!(link_is_up(&String::from_utf8_lossy(&out.stdout)));
            let out = ip(&["netns", "list"]);
            assert!(String::from_utf8_lossy(&out.stdout).contains("ours"));
            assert!(identify(&path).is_ok());
            ip(&["netns", "del", "ours"]);
            assert!(!path.exists());
        });
    }

    #[test]
    fn we_see_iproute2_namespaces() {
        if !root_or_skip("we_see_iproute2_namespaces") {
            return;
        }
        in_throwaway_host(|| {
            let run_dir = private_run_netns();
            ip(&["netns", "add", "theirs"]);
            let path = run_dir.join("theirs");
            let id = identify(&path).unwrap();
            assert_ne!(id, current_thread_netns().unwrap());
            let listed = list(&run_dir).unwrap();
            assert_eq!(
                listed,
                vec![NamedNetns {
                    name: "theirs".into(),
                    path: path.clone(),
                    id: Some(id),
                }]
            );
            // Ours and theirs side by side in one run dir: one shared run dir mount.
            create(&run_dir, "ours", no_lo()).unwrap();
            assert_eq!(list(&run_dir).unwrap().len(), 2);
            ip(&["netns", "del", "theirs"]);
            delete(&run_dir, "ours").unwrap();
            assert_eq!(list(&run_dir).unwrap(), vec![]);
            assert_eq!(mounts_at_and_below(&run_dir), (1, 0));
        });
    }
}
