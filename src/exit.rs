//! Exit codes and the mapping from errors to them (documented in `--help`).

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{ExitCode, ExitStatus};

use libcni::ErrorKind;

use crate::error::{StateConflict, UsageError};
use crate::supervise::RunToolError;

/// Why `cnitool` failed, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Internal or I/O error.
    Internal = 1,
    /// Bad argument, identifier, `CNI_ARGS` or `CAP_ARGS`.
    Usage = 2,
    /// Netconf missing or invalid, plugin not installed, version mismatch.
    Config = 3,
    /// A plugin failed.
    Plugin = 4,
    /// Already attached, interface held by another network, not attached, unusable or own
    /// namespace.
    State = 5,
    /// `run`: the tool failed (podman's convention).
    RunTool = 125,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Exit status when `cnitool` could not set up what the command runs in (coreutils
/// `env`/`chroot` and podman use 125 the same way, so it does not collide with the command's
/// own statuses).
pub const EXIT_SETUP_FAILED: u8 = 125;
/// Exit status when the command was found but could not be executed.
pub const EXIT_CANNOT_EXECUTE: u8 = 126;
/// Exit status when the command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// The exit status and the reason to print when `program` could not be executed (`run`,
/// rootless `run`, `netns exec`): 127 when it was not found, else 126.
pub fn exec_failure(program: &OsStr, err: &io::Error) -> (u8, String) {
    match err.kind() {
        io::ErrorKind::NotFound if Path::new(program).components().count() > 1 => (
            EXIT_NOT_FOUND,
            "no such file (or its interpreter is missing)".to_owned(),
        ),
        io::ErrorKind::NotFound => (EXIT_NOT_FOUND, "command not found".to_owned()),
        io::ErrorKind::PermissionDenied => (EXIT_CANNOT_EXECUTE, "permission denied".to_owned()),
        _ => (EXIT_CANNOT_EXECUTE, err.to_string()),
    }
}

/// The exit status that passes on a command's: its own, or 128+N when signal N killed it
/// (125 for a status that is neither).
pub fn of_command(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => (128 + sig) as u8,
        _ => EXIT_SETUP_FAILED,
    }
}

/// The exit status for an error: 128+N when signal N interrupted the verb (see
/// [`crate::interrupt`]), else [`classify`]'s code.
pub fn code(err: &anyhow::Error) -> ExitCode {
    let interrupted = err
        .chain()
        .filter_map(|c| c.downcast_ref::<libcni::Error>())
        .any(|e| e.kind() == ErrorKind::Interrupted);
    if interrupted && err.downcast_ref::<RunToolError>().is_none() {
        return ExitCode::from(crate::interrupt::exit_status());
    }
    classify(err).into()
}

/// The exit code for an error: the first library or usage error in its chain decides.
pub fn classify(err: &anyhow::Error) -> Exit {
    if err.downcast_ref::<RunToolError>().is_some() {
        return Exit::RunTool;
    }
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return Exit::Usage;
        }
        if cause.is::<StateConflict>() {
            return Exit::State;
        }
        if cause.is::<crate::cmd::gc::Incomplete>() {
            return Exit::Plugin;
        }
        if let Some(e) = cause.downcast_ref::<libcni::Error>() {
            return match e.kind() {
                ErrorKind::Invalid => Exit::Usage,
                ErrorKind::Config => Exit::Config,
                ErrorKind::Plugin => Exit::Plugin,
                ErrorKind::State => Exit::State,
                _ => Exit::Internal,
            };
        }
    }
    Exit::Internal
}

/// The CNI error code and details for `--output json` errors.
pub fn cni_code_and_details(err: &anyhow::Error) -> (u32, String) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<libcni::Error>() {
            let details = match e.plugin_failure() {
                Some(libcni::Error::Plugin { details, .. }) => details.clone(),
                _ => String::new(),
            };
            return (e.cni_code(), details);
        }
    }
    (
        if classify(err) == Exit::Usage { 4 } else { 999 },
        String::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures() {
        let cases = [
            ("nope", io::ErrorKind::NotFound, 127, "command not found"),
            (
                "./nope",
                io::ErrorKind::NotFound,
                127,
                "no such file (or its interpreter is missing)",
            ),
            (
                "x",
                io::ErrorKind::PermissionDenied,
                126,
                "permission denied",
            ),
            ("x", io::ErrorKind::InvalidData, 126, "bad format"),
        ];
        for (program, kind, code, why) in cases {
            let err = io::Error::new(kind, "bad format");
            let got = exec_failure(OsStr::new(program), &err);
            assert_eq!(got, (code, why.to_owned()), "{program} {kind:?}");
        }
    }

    #[test]
    fn command_statuses() {
        assert_eq!(of_command(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(of_command(ExitStatus::from_raw(libc::SIGTERM)), 143);
    }
}
