//! Supervising a command in namespaces: the toolbox that `run`, `container run` and the
//! rootless runner share, and the run as root itself ([`run`]).
//!
//! - [`signals`]: the handled signals, taken by one thread, checked between setup steps;
//! - [`child`]: the thread that starts the command inside the run's namespaces;
//! - [`wait`]: waiting for the command while forwarding signals;
//! - [`orphans`]: killing what the command left running;
//! - [`resolv`]: the command's resolv.conf; [`names`]: its hosts file and the names of runs;
//! - [`record`]: the crash-safety records that `cnitool gc` finishes ([`gc`]);
//! - [`run`]: `cnitool run` as root, from a [`RunPlan`].
//!
//! Subsystems take plain data (a [`RunPlan`]); the verbs in `src/cmd/` turn arguments into it.

pub mod child;
pub mod gc;
pub mod names;
pub mod orphans;
pub mod record;
pub mod resolv;
pub mod run;
pub mod signals;
pub mod wait;

use std::fmt;
use std::fs::File;
use std::io;
use std::process::ExitCode;
use std::thread;

use libcni::NetworkConfigList;
use serde_json::{Map, Value};

use self::resolv::DnsFlags;

/// `run`'s exit status when the rootless uplink or holder died during the run and
/// `--require-uplink` was given.
pub const RUN_UPLINK_LOST: u8 = 124;

/// The tool's own failure in `run`: exit 125. It shows as the error it wraps.
#[derive(Debug)]
pub struct RunToolError(pub anyhow::Error);

impl fmt::Display for RunToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for RunToolError {}

/// Marks an error as the tool's own in `run` (exit 125).
pub(crate) fn tool(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(RunToolError(e))
}

/// A failed setup, after its rollback (`cleanup`): 128+N when signal N interrupted it (the
/// error said on stderr), else the tool's failure (125).
pub fn setup_failed(err: anyhow::Error, cleanup: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    let err = match cleanup {
        Ok(()) => err,
        Err(c) => err.context(format!("{c:#}")),
    };
    if let Some(signals::Interrupted(sig)) = err.downcast_ref::<signals::Interrupted>() {
        crate::diag!("cnitool: {err:#}");
        return Ok(ExitCode::from((128 + *sig) as u8));
    }
    Err(tool(err))
}

/// What a run does, as plain data: the verb (`cnitool run`) builds it from its arguments.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The networks to attach, in order, with their interface names.
    pub nets: Vec<(NetworkConfigList, String)>,
    /// `CNI_ARGS`, for every network.
    pub cni_args: Vec<(String, String)>,
    /// Capability arguments, for every network.
    pub capability_args: Map<String, Value>,
    /// The DNS flags (written into the command's resolv.conf, whether or not a plugin takes
    /// them).
    pub dns: DnsFlags,
    /// The command's hostname (in a UTS namespace of its own).
    pub hostname: Option<String>,
    /// `--name` then the `--alias`es: what the run is known as on each of its networks
    /// (empty: not named).
    pub names: Vec<String>,
    /// `--add-host` entries, written into the command's hosts file.
    pub add_hosts: Vec<(String, std::net::IpAddr)>,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// ADD and DEL the networks one after another instead of at once.
    pub sequential: bool,
}

/// Runs `f` on each item, at once on scoped threads (or in order when `sequential` or when
/// there is only one), and returns the outcomes in the items' order.
pub(crate) fn for_each<T: Sync, R: Send>(
    items: &[T],
    sequential: bool,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if sequential || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    thread::scope(|scope| {
        let handles: Vec<_> = items.iter().map(|item| scope.spawn(|| f(item))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Eight random hex digits (from `/dev/urandom`, else the clock and the PID).
pub fn random_hex() -> String {
    let mut buf = [0u8; 4];
    let ok = File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut buf));
    if ok.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        buf = (nanos ^ std::process::id()).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
