//! The only `unsafe` of the library: small wrappers over system calls that nix does not wrap.
//!
//! Each wrapper takes borrowed, typed arguments and returns a `Result`, so the rest of the
//! crate stays under `#![deny(unsafe_code)]`.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

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
