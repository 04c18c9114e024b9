//! Identifier rules: container IDs, network names, interface names, plugin types.
//!
//! Mirrors Go's `pkg/utils` (`ValidateContainerID`, `ValidateNetworkName`,
//! `ValidateInterfaceName`) and adds what Go misses: `%` in interface names (the kernel
//! treats `eth%d` as a template), length limits that keep cache file names under the
//! 255-byte limit, and plugin types that could escape the plugin directories
//! (CVE-2021-20206).

use crate::error::{Error, IdKind};

/// Longest container ID accepted. Go has no limit; ours keeps
/// `<network>-<container>-<ifname>` below `NAME_MAX`.
pub const MAX_CONTAINER_ID_LEN: usize = 128;
/// Longest network name accepted (see [`MAX_CONTAINER_ID_LEN`]).
pub const MAX_NETWORK_NAME_LEN: usize = 100;
/// Longest interface name the kernel accepts (`IFNAMSIZ - 1`).
pub const MAX_IFNAME_LEN: usize = 15;

fn invalid(kind: IdKind, value: &str, reason: &'static str) -> Error {
    Error::InvalidIdentifier {
        kind,
        value: value.to_owned(),
        reason,
    }
}

/// `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`, the CNI rule for container IDs and network names.
fn check_name_chars(kind: IdKind, value: &str, max: usize) -> Result<(), Error> {
    let mut bytes = value.bytes();
    match bytes.next() {
        None => return Err(invalid(kind, value, "must not be empty")),
        Some(b) if !b.is_ascii_alphanumeric() => {
            return Err(invalid(kind, value, "must start with a letter or digit"))
        }
        Some(_) => {}
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(invalid(
            kind,
            value,
            "may contain only letters, digits, '_', '.' and '-'",
        ));
    }
    if value.len() > max {
        return Err(invalid(kind, value, "is too long"));
    }
    Ok(())
}

/// Validates a container ID (SPEC.md "Parameters": `CNI_CONTAINERID`).
///
/// # Errors
/// [`Error::InvalidIdentifier`] naming the rule broken.
pub fn container_id(value: &str) -> Result<(), Error> {
    check_name_chars(IdKind::ContainerId, value, MAX_CONTAINER_ID_LEN)
}

/// Validates a network name (SPEC.md "Configuration format": `name`).
///
/// # Errors
/// [`Error::InvalidIdentifier`] naming the rule broken.
pub fn network_name(value: &str) -> Result<(), Error> {
    check_name_chars(IdKind::NetworkName, value, MAX_NETWORK_NAME_LEN)
}

/// Validates an interface name (SPEC.md "Parameters": `CNI_IFNAME`, and the kernel's
/// `dev_valid_name`), rejecting `%` too.
///
/// # Errors
/// [`Error::InvalidIdentifier`] naming the rule broken.
pub fn ifname(value: &str) -> Result<(), Error> {
    let kind = IdKind::IfName;
    if value.is_empty() {
        return Err(invalid(kind, value, "must not be empty"));
    }
    if value.len() > MAX_IFNAME_LEN {
        return Err(invalid(kind, value, "must be at most 15 bytes"));
    }
    if value == "." || value == ".." {
        return Err(invalid(kind, value, "must not be '.' or '..'"));
    }
    if value
        .chars()
        .any(|c| c == '/' || c == ':' || c == '%' || c == '\0' || c.is_whitespace())
    {
        return Err(invalid(
            kind,
            value,
            "must not contain '/', ':', '%', NUL or whitespace",
        ));
    }
    Ok(())
}

/// Validates a plugin `type` or `ipam.type`: it names a file inside a plugin directory and
/// must not be able to name anything else (CVE-2021-20206).
///
/// # Errors
/// [`Error::InvalidIdentifier`] naming the rule broken.
pub fn plugin_type(kind: IdKind, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(kind, value, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(invalid(kind, value, "must not be '.' or '..'"));
    }
    if value
        .chars()
        .any(|c| c == '/' || c == '\\' || c == '\0' || c.is_whitespace())
    {
        return Err(invalid(
            kind,
            value,
            "must be a plain file name (no '/', '\\', NUL or whitespace)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids() {
        for ok in ["a", "cnitool-e05c6126311fb99b80c7", "A_b.c-d", "0"] {
            assert!(container_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "_a", ".a", "a/b", "a b", "a%b", "a\0", "..", "ä"] {
            assert!(container_id(bad).is_err(), "{bad:?}");
        }
        assert!(container_id(&"a".repeat(128)).is_ok());
        assert!(container_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn network_names() {
        assert!(network_name("mynet").is_ok());
        assert!(network_name("my.net-1_2").is_ok());
        for bad in ["", "my net", "../x", "a/b", ".", ".."] {
            assert!(network_name(bad).is_err(), "{bad:?}");
        }
        assert!(network_name(&"n".repeat(101)).is_err());
    }

    #[test]
    fn ifnames() {
        for ok in ["eth0", "a", "123456789012345", "net-1.2", "é"] {
            assert!(ifname(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "1234567890123456",
            "eth/0",
            "eth:0",
            "eth 0",
            "eth\t0",
            "eth%d",
            "e\0",
        ] {
            assert!(ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plugin_types() {
        for ok in ["bridge", "host-local", "my.plugin", "x_y"] {
            assert!(plugin_type(IdKind::PluginType, ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../bin/sh", "/bin/sh", "a\\b", "a b", "a\0"] {
            assert!(plugin_type(IdKind::PluginType, bad).is_err(), "{bad:?}");
        }
    }
}
