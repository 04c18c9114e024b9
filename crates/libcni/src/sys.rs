//! The only `unsafe` of the library: small wrappers over system calls that nix does not wrap
//! (public: [`pidfd_open`], which the binary uses too).
//!
//! Each wrapper takes borrowed, typed arguments and returns a `Result`, so the rest of the
//! crate stays under `#![deny(unsafe_code)]`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::statfs::{fstatfs, NSFS_MAGIC};

/// `ioctl(fd, NS_GET_NSTYPE)` (Linux 4.11+, `ioctl_ns(2)`): the `CLONE_NEW*` constant of the
/// namespace that `fd` refers to.
///
/// # Errors
///
/// `ENOTTY` if `fd` is not a file of the nsfs file system (checked first, so that no other
/// driver ever sees this request number), or the error of `fstatfs`/`ioctl`.
pub(crate) fn ns_get_nstype(fd: BorrowedFd<'_>) -> Result<libc::c_int, Errno> {
    if fstatfs(fd)?.filesystem_type() != NSFS_MAGIC {
        return Err(Errno::ENOTTY);
    }
    // SAFETY: `fd` is a `BorrowedFd`, so it stays open for the whole call, and it is on nsfs
    // (checked above), whose ioctl handler treats NS_GET_NSTYPE as a request without an
    // argument: the kernel reads the namespace type from the inode and returns it, writing
    // no memory of ours. The third argument is passed as 0 anyway, so that even a handler
    // expecting a pointer would get NULL (EFAULT) rather than a stray register value.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE, 0) };
    Errno::result(ret)
}

/// `sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`: starts the write-back of every dirty
/// page of `fd` without waiting for it (on ext4 this also allocates the delayed blocks, so a
/// later journal commit carries the data before any rename of the file).
///
/// # Errors
///
/// The OS error (`ESPIPE` for pipes, `EINVAL` for file systems without write-back).
pub(crate) fn start_writeback(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a `BorrowedFd`, open for the whole call; the call takes only integers
    // and touches no memory of ours.
    let ret = unsafe { libc::sync_file_range(fd.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `fcntl(fd, F_OFD_SETLKW)` (Linux 3.15+, `fcntl(2)` "Open file description locks"): an
/// exclusive lock on the one byte at `offset` of the file, owned by the open file
/// description (not the process): it conflicts with the same lock taken through any other
/// description of the file, in this process or another, and is released when the last
/// descriptor of the description is closed. Waits until it is granted, across signals.
///
/// # Errors
///
/// The OS error (`EINVAL` for an offset beyond `off_t`, `ENOLCK`).
pub(crate) fn ofd_lock_byte(fd: BorrowedFd<'_>, offset: u64) -> io::Result<()> {
    let start =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `flock` is a C struct of integers, for which all zeroes is a valid value (and
    // the value `fcntl(2)` requires for `l_pid` of an OFD lock).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start;
    lock.l_len = 1;
    loop {
        // SAFETY: `fd` is a `BorrowedFd`, open for the whole call; `lock` is a valid `flock`
        // that outlives the call, which only reads it.
        let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLKW, &lock) };
        if ret == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `pidfd_open(pid, 0)` (Linux 5.3+): a descriptor that becomes readable when the process
/// `pid` ends and, unlike the PID, never names another process later. The caller makes sure
/// the number names the process it means when it opens it: its own unreaped child, or a PID
/// whose start time it checks afterwards.
///
/// # Errors
///
/// The OS error (`ENOSYS` on older kernels, `ESRCH` if there is no such process).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: the system call takes two integers and returns a new descriptor or -1; no
    // memory of ours is involved.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `fd` was just returned by pidfd_open, is open, and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn nstype_of_own_namespaces() {
        let net = File::open("/proc/thread-self/ns/net").unwrap();
        assert_eq!(ns_get_nstype(net.as_fd()), Ok(libc::CLONE_NEWNET));
        let mnt = File::open("/proc/thread-self/ns/mnt").unwrap();
        assert_eq!(ns_get_nstype(mnt.as_fd()), Ok(libc::CLONE_NEWNS));
        let other = File::open("/proc/self/status").unwrap();
        assert_eq!(ns_get_nstype(other.as_fd()), Err(Errno::ENOTTY));
    }
}
