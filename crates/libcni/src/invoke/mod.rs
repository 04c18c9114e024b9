//! Finding and executing plugins (SPEC.md "Section 2: Execution protocol"), mirroring Go's
//! `pkg/invoke`.
//!
//! - [`find_in_path`]: the plugin binary for a `type`;
//! - [`RawExec`]: runs a plugin process (process group, timeout, bounded output);
//! - [`Cancel`]: the caller's interrupt (Ctrl-C), stopping the plugins running then;
//! - [`exec_plugin`], [`exec_plugin_with_result`], [`get_version_info`]: one call with its
//!   `CNI_*` environment, and the plugin's failure turned into a typed [`Error`] the way Go's
//!   `pkg/invoke` decodes it.
//!
//! Length: about 500 lines: the plugin call and the decoding of its failures, kept beside each
//! other as Go's `pkg/invoke` keeps them.

mod args;
mod cancel;
mod find;
mod raw;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use args::{join_cni_args, parse_cni_args, parse_pair, Args, Command, CNI_VARS};
pub use cancel::{Cancel, Epoch};
pub use find::find_in_path;
pub use raw::{plugin_env, RawExec, NETNS_OVERRIDE};

use crate::error::Error;
use crate::types::{CniError, CniResult};
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

/// One of a plugin's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// Why a plugin process could not be run to completion.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExecError {
    /// It could not be started.
    Spawn(io::Error),
    /// It did not finish in time and was killed.
    Timeout(Duration),
    /// It printed more than the limit on one stream and was killed.
    OutputTooLarge {
        /// The stream that overflowed.
        stream: Stream,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Waiting for it failed (should not happen).
    Wait(io::Error),
    /// The caller cancelled it (see [`Cancel`]) and it was stopped.
    Cancelled,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Spawn(e) => write!(f, "could not start: {e}"),
            ExecError::Timeout(t) => write!(f, "timed out after {t:?} and was killed"),
            ExecError::OutputTooLarge { stream, limit } => {
                write!(f, "{stream} output exceeds {limit} bytes; killed")
            }
            ExecError::Wait(e) => write!(f, "waiting for it failed: {e}"),
            ExecError::Cancelled => write!(f, "interrupted and stopped"),
        }
    }
}

impl std::error::Error for ExecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExecError::Spawn(e) | ExecError::Wait(e) => Some(e),
            _ => None,
        }
    }
}

/// One request to run a plugin binary.
#[derive(Clone, Copy, Debug)]
pub struct ExecRequest<'a> {
    /// The binary.
    pub plugin_path: &'a Path,
    /// Its stdin.
    pub stdin: &'a [u8],
    /// The `CNI_*` variables, added to the inherited environment; they replace inherited
    /// variables of the same names (see [`plugin_env`]).
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
///
/// Calls of one list run one after the other on the caller's thread, but a caller may run
/// several lists at once on several threads: [`Observer::plugin_start`] and the matching
/// [`Observer::plugin_call`] come on the same thread, with no other call of that thread
/// between them.
pub trait Observer: Send + Sync + fmt::Debug {
    /// Called just before a plugin is run (after its binary was found and its verb checked),
    /// for progress displays. Does nothing unless overridden.
    fn plugin_start(&self, start: &PluginStart<'_>) {
        let _ = start;
    }

    /// Called after each plugin call, successful or not.
    fn plugin_call(&self, call: &PluginCall<'_>);

    /// Called when a list with several candidate versions (`cniVersions`) is run at
    /// `version`: the highest of `candidates` that every plugin supports. Does nothing unless
    /// overridden.
    fn version_chosen(&self, network: &str, version: &str, candidates: &[String]) {
        let _ = (network, version, candidates);
    }
}

/// A plugin call about to start, as shown to an [`Observer`].
#[derive(Debug)]
pub struct PluginStart<'a> {
    /// Which plugin.
    pub who: PluginRef<'a>,
    /// The verb.
    pub command: Command,
    /// The binary.
    pub path: &'a Path,
    /// The `CNI_*` variables.
    pub env: &'a [(&'static str, String)],
    /// The stdin bytes (the network's `name` is in them, except for VERSION).
    pub stdin: &'a [u8],
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

/// Longest excerpt of plugin output quoted in an error.
const EXCERPT: usize = 512;

/// The message Go's `skel` printed for VERSION before VERSION existed.
const UNKNOWN_VERSION_COMMAND: &str = "unknown CNI_COMMAND: VERSION";

/// A bounded, quoted excerpt of plugin output for an error message.
fn excerpt(bytes: &[u8]) -> String {
    if bytes.len() <= EXCERPT {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        format!(
            "{:?}... ({} bytes)",
            String::from_utf8_lossy(&bytes[..EXCERPT]),
            bytes.len()
        )
    }
}

/// The verb of `args`, which carries it as a string like Go.
fn command_of(args: &Args) -> Result<Command, Error> {
    Ok(match args.command {
        "ADD" => Command::Add,
        "DEL" => Command::Del,
        "CHECK" => Command::Check,
        "GC" => Command::Gc,
        "STATUS" => Command::Status,
        "VERSION" => Command::Version,
        other => {
            return Err(Error::InvalidArgument {
                what: "CNI_COMMAND",
                reason: format!("unknown verb {other:?}"),
            })
        }
    })
}

/// Builds the errors of one call.
struct Ctx<'a> {
    who: PluginRef<'a>,
    command: Command,
}

impl Ctx<'_> {
    fn output(&self, reason: String) -> Error {
        Error::PluginOutput {
            plugin: self.who.plugin.to_owned(),
            index: self.who.index,
            command: self.command,
            reason,
        }
    }

    fn plugin(&self, e: CniError) -> Error {
        Error::Plugin {
            plugin: self.who.plugin.to_owned(),
            index: self.who.index,
            command: self.command,
            code: e.code,
            msg: e.msg,
            details: e.details,
        }
    }

    /// A non-zero exit, decoded like Go's `RawExec.pluginErr`: the CNI error object on stdout;
    /// with stdout empty, stderr is the message (Go: `netplugin failed: "<stderr>"`), under
    /// code 999 ("unknown"); stdout that is not an error object is unusable output (Go:
    /// `netplugin failed but error parsing its diagnostic message`).
    fn failure(&self, code: i32, stdout: &[u8], stderr: &[u8]) -> Error {
        if stdout.iter().all(u8::is_ascii_whitespace) {
            let text = String::from_utf8_lossy(stderr);
            let text = text.trim();
            let msg = if text.is_empty() {
                format!("netplugin failed with no error message (exit status {code})")
            } else if text.len() > EXCERPT {
                let mut end = EXCERPT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}... ({} bytes)", &text[..end], text.len())
            } else {
                text.to_owned()
            };
            return self.plugin(CniError {
                code: 999,
                msg,
                details: String::new(),
            });
        }
        // An object without `code` still carries the plugin's message: Go decodes it as
        // code 0. Without `msg` and `details` too, there is nothing to show but the bytes.
        match serde_json::from_slice::<CniError>(stdout) {
            Ok(e) if e.code != 0 || !e.msg.is_empty() || !e.details.is_empty() => self.plugin(e),
            Ok(_) => self.output(format!(
                "exit status {code} with an error object that has no code, msg or details: {}",
                excerpt(stdout)
            )),
            Err(e) => self.output(format!(
                "exit status {code} with an unparsable error message {}: {e}",
                excerpt(stdout)
            )),
        }
    }
}

/// Runs one plugin call and turns failure into typed errors.
///
/// The environment is [`Args::as_env`] added to the inherited one (see [`RawExec`]). The
/// observer sees every call that was attempted, whatever its outcome, with its duration.
/// A zero exit is success whatever stdout holds; [`exec_plugin_with_result`] checks results.
///
/// # Errors
/// - [`Error::InvalidArgument`] when `args.command` is not a CNI verb (nothing is run);
/// - [`Error::Plugin`] when the plugin exits non-zero with a CNI error object on stdout (its
///   code, msg and details), or with empty stdout (code 999, stderr as the message);
/// - [`Error::PluginOutput`] when it exits non-zero and stdout is not an error object, or when
///   it printed more than the executor's output limit;
/// - [`Error::PluginSignaled`], [`Error::PluginTimeout`], [`Error::PluginExec`] (could not
///   be started, or waiting for it failed);
/// - [`Error::Interrupted`] when the executor's [`Cancel`] fired while it ran.
#[doc(alias = "ExecPluginWithoutResult")]
pub fn exec_plugin(
    exec: &dyn Exec,
    observer: Option<&dyn Observer>,
    plugin_path: &Path,
    who: PluginRef<'_>,
    stdin: &[u8],
    args: &Args,
) -> Result<Reply, Error> {
    let ctx = Ctx {
        who,
        command: command_of(args)?,
    };
    let env = args.as_env();
    let req = ExecRequest {
        plugin_path,
        stdin,
        env: &env,
    };
    if let Some(observer) = observer {
        observer.plugin_start(&PluginStart {
            who,
            command: ctx.command,
            path: plugin_path,
            env: &env,
            stdin,
        });
    }
    let start = std::time::Instant::now();
    let outcome = exec.exec(&req);
    if let Some(observer) = observer {
        observer.plugin_call(&PluginCall {
            who,
            path: plugin_path,
            env: &env,
            stdin,
            outcome: &outcome,
            duration: start.elapsed(),
        });
    }
    let exec_failed = |source| Error::PluginExec {
        plugin: who.plugin.to_owned(),
        index: who.index,
        command: ctx.command,
        path: plugin_path.to_owned(),
        source,
    };
    let out = match outcome {
        Ok(out) => out,
        Err(ExecError::Spawn(e) | ExecError::Wait(e)) => return Err(exec_failed(e)),
        Err(ExecError::Timeout(timeout)) => {
            return Err(Error::PluginTimeout {
                plugin: who.plugin.to_owned(),
                index: who.index,
                command: ctx.command,
                timeout,
            })
        }
        Err(e @ ExecError::OutputTooLarge { .. }) => return Err(ctx.output(e.to_string())),
        Err(ExecError::Cancelled) => {
            return Err(Error::Interrupted {
                command: ctx.command,
                plugin: who.plugin.to_owned(),
                index: who.index,
                stopped: true,
            })
        }
    };
    match out.status {
        ExitStatus::Code(0) => Ok(Reply {
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        ExitStatus::Code(code) => Err(ctx.failure(code, &out.stdout, &out.stderr)),
        ExitStatus::Signal(signal) => Err(Error::PluginSignaled {
            plugin: who.plugin.to_owned(),
            index: who.index,
            command: ctx.command,
            signal,
        }),
    }
}

/// Runs a call that returns a result (ADD) and parses it.
///
/// Stricter than Go: a plugin that exits 0 but prints nothing, `null`, or a CNI error object
/// instead of a result has failed (Go turns `null` into an empty result and hands an error
/// object to the result decoder).
///
/// # Errors
/// As [`exec_plugin`], plus [`Error::Plugin`] for an error object printed with exit status 0,
/// and [`Error::PluginOutput`] for a missing or unparsable result (keeping the parser's
/// reason).
#[doc(alias = "ExecPluginWithResult")]
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
    let ctx = Ctx {
        who,
        command: command_of(args)?,
    };
    if reply.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(ctx.output("exited successfully but printed no result".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(&reply.stdout).map_err(|e| {
        ctx.output(format!(
            "result is not JSON: {e}: {}",
            excerpt(&reply.stdout)
        ))
    })?;
    let Some(obj) = value.as_object() else {
        return Err(ctx.output(format!(
            "result is not a JSON object: {}",
            excerpt(&reply.stdout)
        )));
    };
    // SPEC.md "Error": an error object has `code` (and may have `cniVersion`); no result
    // has a top-level `code`. A plugin that prints one and exits 0 still failed.
    let result_keys = ["interfaces", "ips", "ip4", "ip6", "routes", "dns"];
    if obj.get("code").is_some_and(serde_json::Value::is_u64)
        && !result_keys.iter().any(|k| obj.contains_key(*k))
    {
        if let Ok(e) = serde_json::from_value::<CniError>(value.clone()) {
            return Err(ctx.plugin(e));
        }
    }
    let result = CniResult::parse(&reply.stdout, config_version)
        .map_err(|e| ctx.output(format!("invalid result: {e}")))?;
    Ok((result, reply))
}

/// Asks a plugin which spec versions it supports (SPEC.md "VERSION").
///
/// Sends `{"cniVersion":"<CURRENT>"}` with `CNI_COMMAND=VERSION` and, like Go, the dummy
/// `CNI_NETNS`, `CNI_IFNAME` and `CNI_PATH` that plugins built on an older `skel` require. A
/// plugin that fails with `unknown CNI_COMMAND: VERSION` predates VERSION and supports 0.1.0
/// only ([`PluginInfo::legacy`]).
///
/// # Errors
/// As [`exec_plugin`], plus [`Error::PluginOutput`] when the reply does not decode.
#[doc(alias = "GetVersionInfo")]
pub fn get_version_info(
    exec: &dyn Exec,
    observer: Option<&dyn Observer>,
    plugin_path: &Path,
    who: PluginRef<'_>,
) -> Result<PluginInfo, Error> {
    let args = Args {
        command: Command::Version.as_str(),
        netns: "dummy".into(),
        ifname: "dummy".into(),
        path: "dummy".into(),
        ..Args::default()
    };
    let stdin = serde_json::json!({ "cniVersion": crate::version::CURRENT }).to_string();
    match exec_plugin(exec, observer, plugin_path, who, stdin.as_bytes(), &args) {
        Ok(reply) => PluginInfo::decode(&reply.stdout).map_err(|e| Error::PluginOutput {
            plugin: who.plugin.to_owned(),
            index: who.index,
            command: Command::Version,
            reason: format!("invalid VERSION reply: {e}: {}", excerpt(&reply.stdout)),
        }),
        Err(Error::Plugin { msg, details, .. })
            if msg == UNKNOWN_VERSION_COMMAND && details.is_empty() =>
        {
            Ok(PluginInfo::legacy())
        }
        Err(e) => Err(e),
    }
}
