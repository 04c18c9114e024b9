//! Exit codes and the mapping from errors to them (documented in `--help`).

use std::process::ExitCode;

use libcni::ErrorKind;

use crate::cmd::{StateConflict, UsageError};
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
