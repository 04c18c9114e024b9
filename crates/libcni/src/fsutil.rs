//! The file-system steps the cache, its locks and the tool's records share: private
//! directories, atomic (optionally durable) writes and lock files.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Creates `dir` and its missing parents with mode 0700.
///
/// # Errors
/// The OS error.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// How far [`write_atomic`] takes a file before it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Readers, and a writer killed at any point, see the old file or the new one, never a
    /// part. The kernel is asked to start writing the data back before the rename, without
    /// waiting for it: on ext4 (`data=ordered`, the default) and XFS the rename then reaches
    /// the disk no earlier than the data, so a crash leaves the old file, the new one or none,
    /// not the empty file a plain write can leave. Costs microseconds.
    #[default]
    Atomic,
    /// As [`Durability::Atomic`], and on stable storage when the call returns: fsync of the
    /// file before the rename and of the directory after it. Costs one or two disk flushes
    /// (milliseconds on most disks).
    Synced,
}

/// Longest file name (bytes) Linux file systems accept (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The temp file name [`write_atomic`] uses for `name` in process `pid`: `.<name>.tmp<pid>`,
/// or, when that would pass [`NAME_MAX`] (a cache file name may be 245 bytes and a PID 7
/// digits), `.<start of name>~<hash of name>.tmp<pid>`, cut to fit. Always a leading `.` and a
/// `.tmp<pid>` ending, which is how stale temp files are recognised; distinct names keep
/// distinct temp names (the hash), so threads writing two long names never share one.
pub fn temp_name(name: &str, pid: u32) -> String {
    let plain = format!(".{name}.tmp{pid}");
    if plain.len() <= NAME_MAX {
        return plain;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let tail = format!("~{:016x}.tmp{pid}", h.finish());
    let mut keep = NAME_MAX - 1 - tail.len();
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!(".{}{tail}", &name[..keep])
}

/// Writes `bytes` to `dir/name` so that a reader or a killed writer sees the old file or the
/// new one, never a part: a 0600 temp file (see [`temp_name`]) in the same (0700, created)
/// directory, then a rename; `durability` says whether the data is flushed first. Returns the
/// path.
///
/// # Errors
/// The OS error; the temp file is removed.
pub fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
) -> io::Result<PathBuf> {
    create_private_dir(dir)?;
    let path = dir.join(name);
    let tmp = dir.join(temp_name(name, std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        match durability {
            // Best effort: file systems without write-back (tmpfs) refuse it, harmlessly.
            Durability::Atomic => {
                let _ = crate::sys::start_writeback(f.as_fd());
            }
            Durability::Synced => f.sync_all()?,
        }
        fs::rename(&tmp, &path)?;
        match durability {
            Durability::Atomic => Ok(()),
            Durability::Synced => File::open(dir)?.sync_all(),
        }
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(path)
}

/// Opens (creating it 0600) and locks a lock file; blocks until the lock is granted.
///
/// # Errors
/// The OS error.
pub fn lock_file(path: &Path, arg: FlockArg) -> io::Result<Flock<File>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    Flock::lock(file, arg).map_err(|(_, errno)| errno.into())
}

/// Takes an exclusive lock on the byte at `offset` of an open lock file (see
/// [`lock_file`]), owned by that open file: it conflicts with the same byte locked through
/// any other `open` of the file, in this process (another thread) or another, and is
/// released when `file` is closed. Blocks until the lock is granted. Independent of the
/// `flock` lock on the whole file.
///
/// # Errors
/// The OS error.
pub fn lock_byte(file: &File, offset: u64) -> io::Result<()> {
    crate::sys::ofd_lock_byte(file.as_fd(), offset)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let path = write_atomic(&dir, "f", b"one", Durability::Atomic).unwrap();
        write_atomic(&dir, "f", b"two", Durability::Synced).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert!(
            write_atomic(&path, "x", b"", Durability::Atomic).is_err(),
            "a file is not a directory"
        );
    }

    #[test]
    fn temp_names_stay_within_name_max() {
        // The longest cache file name: network (100) - container ID (128) - ifname (15).
        let longest = format!("{}-{}-{}", "n".repeat(100), "c".repeat(128), "i".repeat(15));
        assert_eq!(longest.len(), 245);
        let pid_max = 4_194_304; // /proc/sys/kernel/pid_max on 64-bit: 7 digits
        let t = temp_name(&longest, pid_max);
        assert!(t.len() <= NAME_MAX, "{} bytes: {t}", t.len());
        assert!(t.starts_with(&format!(".{}", "n".repeat(100))), "{t}");
        assert!(t.ends_with(".tmp4194304"), "{t}");
        // Names that differ only past the cut keep distinct temp names.
        let other = format!("{}j", &longest[..244]);
        assert_ne!(temp_name(&other, pid_max), t);
        // Short names keep the plain form.
        assert_eq!(temp_name("a-b-eth0", 42), ".a-b-eth0.tmp42");
        assert_eq!(temp_name(&longest, 1).len(), 251);
        // And a write under the longest name works and leaves only the file.
        let tmp = tempfile::tempdir().unwrap();
        write_atomic(tmp.path(), &longest, b"x", Durability::Atomic).unwrap();
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(&longest)]);
    }

    #[test]
    fn lock_files_are_private_and_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l");
        let held = lock_file(&path, FlockArg::LockExclusive).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = lock_file(&path, FlockArg::LockExclusiveNonblock);
        assert!(again.is_err(), "a second exclusive lock must wait");
        drop(held);
        lock_file(&path, FlockArg::LockExclusiveNonblock).unwrap();
    }

    #[test]
    fn byte_locks_exclude_other_opens_of_the_file_until_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l");
        // Both hold the shared whole-file lock, as ADD and DEL do.
        let first = lock_file(&path, FlockArg::LockShared).unwrap();
        let second = lock_file(&path, FlockArg::LockShared).unwrap();
        lock_byte(&first, 1 << 62).unwrap();
        lock_byte(&second, (1 << 62) + 1).unwrap(); // another byte: granted at once
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let third = lock_file(&path, FlockArg::LockShared).unwrap();
                lock_byte(&third, 1 << 62).unwrap();
                tx.send(()).unwrap();
            });
            let waited = rx.recv_timeout(std::time::Duration::from_millis(200));
            assert!(
                waited.is_err(),
                "the same byte must wait, in the same process too"
            );
            drop(first);
            rx.recv_timeout(std::time::Duration::from_secs(10))
                .expect("granted once the first holder closed its file");
        });
        drop(second);
    }
}
