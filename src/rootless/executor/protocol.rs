//! The executor's wire protocol: one JSON line per request on its input, JSON lines
//! answering on its output.

use std::path::PathBuf;

use anyhow::Result;
use libcni::netns::NetnsId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One network to ADD or DEL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attach {
    /// The network list's bytes.
    pub list: String,
    /// The container ID.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: PathBuf,
    /// The interface.
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: Vec<(String, String)>,
    /// Capability arguments.
    pub caps: Map<String, Value>,
}

/// What the executor does, in this order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The state directory (kept visible in the sandbox).
    pub state: PathBuf,
    /// The generation directory (its `cni/` becomes `/var/lib/cni`).
    pub gen: PathBuf,
    /// Create this run netns.
    pub create_netns: Option<PathBuf>,
    /// Bind an existing network namespace (the first path: a container's
    /// `/proc/PID/ns/net`) at the second, as a run netns (`container attach`).
    #[serde(default)]
    pub attach_netns: Option<(PathBuf, PathBuf)>,
    /// Remove this run netns (after the DELs when there are any: back in the holder's mount
    /// namespace, saving a second executor; see [`Response::removed_netns`]).
    pub remove_netns: Option<PathBuf>,
    /// ADD these (all at once); on failure the caller DELs.
    pub add: Vec<Attach>,
    /// DEL these (all at once).
    pub del: Vec<Attach>,
    /// One network after another.
    pub sequential: bool,
    /// Start the command in the netns this executor created: alone in its request, or with
    /// the ADDs of the run (`create_netns` and `add`), right after them when they all
    /// succeeded (saving a round trip through the runner); the answer to the ADDs is then
    /// followed by exactly one of the replies `NotStarted`, `SetupFailed`, or `Started` then
    /// `Exited`.
    pub command: Option<CommandSpec>,
}

/// The command of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// File to bind over `/etc/resolv.conf`.
    pub resolv: Option<PathBuf>,
    /// Hostname (in a UTS namespace of its own).
    pub hostname: Option<String>,
    /// With the ADDs in the same request: the executor writes `resolv` from the results (their
    /// DNS), or with this text when they carry none.
    #[serde(default)]
    pub resolv_default: Option<String>,
    /// Start the command in a process group of its own (see `run::Group`).
    #[serde(default)]
    pub own_group: bool,
    /// File to bind over `/etc/hosts` (the run's names, see `supervise::names`).
    #[serde(default)]
    pub hosts: Option<PathBuf>,
}

/// What it did: per ADD/DEL, the result JSON or the error text; `error` for the rest.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// ADD/DEL outcomes, in request order.
    pub outcomes: Vec<Result<Value, String>>,
    /// A failure before any plugin ran (namespaces, mounts).
    pub error: Option<String>,
    /// Whether `remove_netns` was done (after DELs it can fail to re-enter the holder's mount
    /// namespace; then the caller asks a fresh executor).
    #[serde(default)]
    pub removed_netns: bool,
    /// The identity (`st_dev`, `st_ino`) of the netns `create_netns` made.
    #[serde(default)]
    pub netns: Option<(u64, u64)>,
}

impl Response {
    /// The ADD results, in request order, or one error joining every plugin's failure.
    ///
    /// # Errors
    /// An ADD failed, or a result does not parse.
    pub fn results(self) -> Result<Vec<libcni::CniResult>> {
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for o in self.outcomes {
            match o {
                Ok(v) => results.push(
                    libcni::CniResult::parse(v.to_string().as_bytes(), "1.0.0")
                        .map_err(|e| anyhow::anyhow!("a plugin result: {e}"))?,
                ),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        Ok(results)
    }
}

/// One line of the executor's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum Reply {
    /// The answer to an ADD/DEL/netns request.
    Done(Response),
    /// The command runs with this PID.
    Started(i32),
    /// The command ended with this wait status (or could not be executed: 126, 127, 125).
    Exited(i32),
    /// The command's namespaces or mounts could not be prepared.
    SetupFailed(String),
    /// The command of an ADD request was not started: an ADD failed, or a signal the runner
    /// handles is pending here (a terminal's SIGINT reaches the whole process group).
    NotStarted,
}

/// The identity of a netns the executor reported.
pub fn netns_id((dev, ino): (u64, u64)) -> NetnsId {
    NetnsId { dev, ino }
}
