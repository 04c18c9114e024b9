//! The only `unsafe` of the library: small wrappers over system calls that nix does not wrap.
//!
//! Each wrapper takes borrowed, typed arguments and returns a `Result`, so the rest of the
//! crate stays under `#![deny(unsafe_code)]`.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `ioctl(fd, NS_GET_NSTYPE)` (Linux 4.11+, `ioctl_ns(2)`): the `CLONE_NEW*` constant of the
/// namespace that `fd` refers to.
///
/// `fd` should be a file of the nsfs file system (check with `fstatfs` first): on other files
/// the request number may mean something else to their driver.
pub(crate) fn ns_get_nstype(fd: BorrowedFd<'_>) -> Result<libc::c_int, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument and writes no memory: the kernel only reads the
    // namespace type out of the inode behind `fd` and returns it. `fd` is a `BorrowedFd`, so it
    // is open for the whole call. The caller checks the file system is nsfs, so no other
    // driver's ioctl with the same number can be reached.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE) };
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
    }
}
