//! Rootless `cnitool run` (the verb `cnitool rootless status|stop` is `src/cmd/rootless.rs`).
//!
//! The design as built, its decisions and why, its measurements and tests are in
//! `docs/ROOTLESS.md`. In short:
//!
//! ```text
//! host user -- slirp4netns | pasta --> tap0 in the OUTER netns (holder's userns)
//!                                       bridge, ip_forward, MASQUERADE, portmap DNAT
//!                                         '- veth --> RUN netns (eth0) -- the command
//! ```
//!
//! - [`holder`]: the detached process that owns the user + mount + network namespaces of a
//!   generation, and ends it when no live run is left;
//! - [`uplink`]: slirp4netns / pasta, readiness, the port-forward API;
//! - [`executor`]: the plugin executor (a helper process: `setns(CLONE_NEWUSER)` needs a
//!   single-threaded process) with the private `/var/lib` and `/run` plugins need; it also
//!   starts the run's command;
//! - [`command`]: the helper that starts the uplink in the holder's user namespace;
//! - [`watch`]: the holder and uplink watched through pidfds while the command runs;
//! - [`state`]: the files, the lock, identities; [`dirs`]: the runtime directory;
//! - [`run`]: the runner (`cnitool run` when not root, or with `--rootless`): [`generation`] joins or starts the shared
//!   namespace (or, with `--rootless-netns private`, starts one of the run's own), [`cleanup`]
//!   undoes runs and garbage-collects;
//! - [`container`], [`attach`]: `cnitool container run|attach|detach` as a plain user, in
//!   the user namespace of rootless podman ([`podman`]) or of a rootless docker daemon
//!   ([`docker`]).

pub mod attach;
pub mod cleanup;
pub mod command;
pub mod container;
pub mod dirs;
pub mod docker;
pub mod executor;
pub mod generation;
pub mod holder;
pub mod podman;
pub mod run;
pub mod state;
pub mod uplink;
pub mod watch;

use std::path::PathBuf;

use clap::Args;

use self::state::UplinkKind;

/// How a rootless run uses the shared namespace (from `run`'s flags).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The uplink helper asked for.
    pub uplink: UplinkKind,
    /// Let the command reach the host's loopback as 10.0.2.2.
    pub allow_host_loopback: bool,
    /// End the command if the uplink or the holder dies while it runs (exit 124).
    pub require_uplink: bool,
    /// The user namespace the shared namespace must live in (rootless podman's or rootless
    /// docker's, for their containers to join the run netns); `None`: any, a new one of its
    /// own when none lives.
    pub userns: Option<podman::Userns>,
}

/// Which namespace a rootless run's networks live in (`run --rootless-netns`;
/// `docs/ROOTLESS.md`, decision 10).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NetnsMode {
    /// Shared by all your rootless runs (they reach each other): joined, or started by the
    /// first run and ended after the last.
    #[default]
    Shared,
    /// The run's own, with its own holder and uplink, started for it and ended with it:
    /// slower to start, reached by no other run; -p works with --uplink pasta only here.
    Private,
}

// Hidden helper: the namespace holder.
#[derive(Debug, Args)]
pub struct HolderArgs {
    /// The generation directory.
    pub gen: PathBuf,
    /// Descriptor of a user namespace to join instead of creating one (podman's or rootless
    /// docker's: see [`podman`] and [`docker`]).
    #[arg(long, value_name = "FD")]
    pub userns_fd: Option<i32>,
}

// Hidden helper: the plugin executor.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Descriptor of the holder's user namespace.
    pub user_fd: i32,
    /// Descriptor of the holder's mount namespace.
    pub mnt_fd: i32,
    /// Descriptor of the outer network namespace.
    pub net_fd: i32,
    /// Also start the run's command, with these descriptors as its stdin, stdout and stderr
    /// (-1: /dev/null).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub command: Vec<i32>,
}
