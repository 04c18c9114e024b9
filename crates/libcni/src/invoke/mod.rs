//! Finding and executing plugins (SPEC.md "Section 2: Execution protocol"), mirroring Go's
//! `pkg/invoke`.
//!
//! CONTRACT (implemented by the invoke work).

mod args;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use args::{join_cni_args, parse_cni_args, parse_pair, Args, Command, CNI_VARS};

use crate::error::Error;
use crate::types::CniResult;
use crate::version::PluginInfo;

/// How a plugin process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// What a plugin process produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// Why a plugin process could not be run to completion.
#[derive(Debug)]
pub enum ExecError {
    /// It could not be started.
    Spawn(io::Error),
    /// It did not finish in time and was killed.
    Timeout(Duration),
}

/// One request to run a plugin binary.
#[derive(Clone, Copy, Debug)]
pub struct ExecRequest<'a> {
    /// The binary.
    pub plugin_path: &'a Path,
    /// Its stdin.
    pub stdin: &'a [u8],
    /// The `CNI_*` variables, added to the inherited environment.
    pub env: &'a [(&'static str, String)],
}

/// The seam between the library and real processes (Go's `invoke.Exec`): tests inject fakes.
pub trait Exec: Send + Sync + fmt::Debug {
    /// Runs the plugin and collects its output.
    ///
    /// # Errors
    /// [`ExecError`] when it could not be started or timed out.
    fn exec(&self, req: &ExecRequest<'_>) -> Result<ExecOutput, ExecError>;

    /// Finds a plugin binary in `dirs`.
    ///
    /// # Errors
    /// [`Error::PluginNotFound`].
    fn find_in_path(&self, plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf, Error> {
        find_in_path(plugin, dirs)
    }
}

/// Runs real plugin processes.
#[derive(Clone, Debug, Default)]
pub struct RawExec {
    /// Per-call time limit.
    pub timeout: Option<Duration>,
}

impl Exec for RawExec {
    fn exec(&self, req: &ExecRequest<'_>) -> Result<ExecOutput, ExecError> {
        let _ = req;
        Err(ExecError::Spawn(io::Error::other("not implemented")))
    }
}

/// Finds `plugin` in `dirs`.
///
/// # Errors
/// [`Error::PluginNotFound`].
pub fn find_in_path(plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf, Error> {
    Err(Error::PluginNotFound {
        plugin: plugin.into(),
        dirs: dirs.to_vec(),
    })
}

/// Which plugin of a list a call is for (for error context).
#[derive(Clone, Copy, Debug)]
pub struct PluginRef<'a> {
    /// The plugin type.
    pub plugin: &'a str,
    /// Its index in the list.
    pub index: usize,
}

/// What a successful call returned.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// stdout.
    pub stdout: Vec<u8>,
    /// stderr (informational on success; the caller decides whether to show it).
    pub stderr: Vec<u8>,
}

/// Observes every plugin call (for logging, tracing, progress). The library never prints:
/// the caller's observer may.
pub trait Observer: Send + Sync + fmt::Debug {
    /// Called after each plugin call, successful or not.
    fn plugin_call(&self, call: &PluginCall<'_>);
}

/// One finished plugin call, as shown to an [`Observer`].
#[derive(Debug)]
pub struct PluginCall<'a> {
    /// Which plugin.
    pub who: PluginRef<'a>,
    /// The binary.
    pub path: &'a Path,
    /// The `CNI_*` variables.
    pub env: &'a [(&'static str, String)],
    /// The stdin bytes.
    pub stdin: &'a [u8],
    /// What happened.
    pub outcome: &'a Result<ExecOutput, ExecError>,
    /// How long it took.
    pub duration: Duration,
}

/// Runs one plugin call and turns failure into typed errors.
///
/// # Errors
/// The `Plugin*` variants of [`Error`].
pub fn exec_plugin(
    exec: &dyn Exec,
    observer: Option<&dyn Observer>,
    plugin_path: &Path,
    who: PluginRef<'_>,
    stdin: &[u8],
    args: &Args,
) -> Result<Reply, Error> {
    let _ = (exec, observer, plugin_path, who, stdin, args);
    Err(Error::PluginNotFound {
        plugin: who.plugin.into(),
        dirs: vec![],
    })
}

/// Runs ADD and parses the result.
///
/// # Errors
/// As [`exec_plugin`], plus [`Error::PluginOutput`] for an unparsable result.
pub fn exec_plugin_with_result(
    exec: &dyn Exec,
    observer: Option<&dyn Observer>,
    plugin_path: &Path,
    who: PluginRef<'_>,
    stdin: &[u8],
    args: &Args,
    config_version: &str,
) -> Result<(CniResult, Reply), Error> {
    let reply = exec_plugin(exec, observer, plugin_path, who, stdin, args)?;
    let result = CniResult::parse(&reply.stdout, config_version)?;
    Ok((result, reply))
}

/// Asks a plugin which versions it supports.
///
/// # Errors
/// As [`exec_plugin`].
pub fn get_version_info(
    exec: &dyn Exec,
    observer: Option<&dyn Observer>,
    plugin_path: &Path,
    who: PluginRef<'_>,
) -> Result<PluginInfo, Error> {
    let _ = (exec, observer, plugin_path, who);
    Ok(PluginInfo::legacy())
}
