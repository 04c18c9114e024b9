//! `cnitool container`: put containers of docker or podman on CNI networks, with the CNI side
//! as the only source of truth for their network (the engine's own networking stays off:
//! `--network none`, `ns:PATH` or `container:PAUSE`; published ports go through portmap).
//!
//! The CNI repo's `scripts/docker-run.sh` does `run` in shell; this replaces it with passed-
//! through arguments, real network lists, DEL in reverse with the cached results, state keyed
//! on a named namespace and the container's ID instead of a PID path, and cleanup on every
//! path (see `src/container/record.rs`; `cnitool gc` finishes what a killed wrapper left).

pub mod attach;
pub mod detach;
pub mod run;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Context;

// Arguments of `container`.
#[derive(Debug, Args)]
pub struct ContainerArgs {
    #[command(subcommand)]
    pub command: ContainerCommand,
}

// The `container` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Run a container in the foreground on CNI networks, then tear them down.
    Run(run::RunArgs),
    /// Attach a running container to CNI networks until `detach` (or `gc` once it is gone).
    Attach(attach::AttachArgs),
    /// Detach a container that `attach` put on CNI networks.
    Detach(detach::DetachArgs),
}

/// Runs `container`.
pub fn run(args: ContainerArgs, ctx: &Context) -> Result<ExitCode> {
    match args.command {
        ContainerCommand::Run(args) => run::run(args, ctx),
        ContainerCommand::Attach(args) => attach::run(args, ctx),
        ContainerCommand::Detach(args) => detach::run(args, ctx),
    }
}
