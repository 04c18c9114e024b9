//! `cnitool run`: run a command on CNI networks in a private network namespace.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Context;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs `run`.
pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode> {
    let _ = (args, ctx);
    bail!("run: not implemented yet")
}
