//! Network namespaces: persistent named ones (iproute2's `/run/netns` convention), identity
//! checks, and running code inside a namespace on a dedicated thread.
//!
//! CONTRACT (implemented by the netns work).

use std::path::Path;

use crate::error::Error;

/// Identity of a namespace: the device and inode of its nsfs file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetnsId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

/// Checks that `path` is a network namespace other than the caller's own. (placeholder)
///
/// # Errors
/// [`Error::Netns`].
pub fn check_target(path: &Path) -> Result<NetnsId, Error> {
    let _ = path;
    Ok(NetnsId { dev: 0, ino: 0 })
}

/// Checks a namespace name (placeholder).
///
/// # Errors
/// [`Error::InvalidArgument`].
pub fn validate_name(name: &str) -> Result<(), Error> {
    let _ = name;
    Ok(())
}

/// Identifies a namespace file (placeholder).
///
/// # Errors
/// [`Error::Netns`].
pub fn identify(path: &Path) -> Result<NetnsId, Error> {
    let _ = path;
    Ok(NetnsId { dev: 0, ino: 0 })
}
