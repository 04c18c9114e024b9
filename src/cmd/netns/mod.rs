//! `cnitool netns`: persistent named network namespaces, compatible with iproute2's
//! `/run/netns`, made without calling `ip`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::Context;

/// Arguments of `netns`.
#[derive(Debug, Args)]
pub struct NetnsArgs {
    #[command(subcommand)]
    pub command: NetnsCommand,
}

/// The `netns` subcommands.
#[derive(Debug, Subcommand)]
pub enum NetnsCommand {
    /// Create a named network namespace.
    Create,
}

/// Runs `netns`.
pub fn run(args: NetnsArgs, ctx: &Context) -> Result<ExitCode> {
    let _ = (args, ctx);
    bail!("netns: not implemented yet")
}
