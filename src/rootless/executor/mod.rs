//! The plugin executor (`docs/ROOTLESS.md`, "Processes" and decisions 12-14): `cnitool __rootless-sandbox`, a child of
//! the runner that enters the holder's namespaces through descriptors the runner holds
//! (`setns(CLONE_NEWUSER)` is refused in a multi-threaded process, hence a process of its
//! own, which is single-threaded when it enters them). It serves requests, one JSON line
//! each on stdin, and answers with JSON lines on stdout:
//!
//! 1. in the holder's mount namespace: creates the run's netns (unshare, `lo` up, bind mount
//!    onto `gen/G/netns/<run>`) or removes one (unmount, unlink);
//! 2. in the outer netns and a private copy of that mount view (the sandbox): a tmpfs on
//!    `/var/lib` with the generation's `cni/` at `/var/lib/cni`, a tmpfs on `/run` (iptables
//!    legacy's `/run/xtables.lock`, `/run/netns`), and the state directory bound back at its
//!    own path, recursively, so the run netns mounts under it stay valid;
//! 3. runs the unmodified plugins there with libcni (ADD or DEL, the networks at once);
//! 4. with `--command`, starts the run's command (see [`sandbox::Exec::start_command`]) and reports
//!    its PID and its exit.
//!
//! A run uses one executor for all of it (ADD, the command, DEL and the netns removal), so a
//! warm run starts one `cnitool` helper process instead of three; `gc` and the fallbacks use a
//! fresh one per request ([`call`]). The sandbox dies with the process: neither the holder nor
//! the command ever sees those mounts.
//!
//! - [`protocol`]: the requests and answers (JSON lines);
//! - [`client`]: the runner's side, [`Executor`] and [`call`];
//! - [`server`]: the executor's main loop;
//! - [`sandbox`]: where the executor is (namespaces, the plugin sandbox mounts) and how it
//!   starts the command.

mod client;
mod protocol;
mod sandbox;
mod server;

pub use self::client::{call, Executor, NsFds};
pub use self::protocol::{netns_id, Attach, CommandSpec, Request};
pub use self::server::main;
