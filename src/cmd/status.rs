//! `cnitool status`: CNI STATUS of a network's plugins.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use super::Context;

// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The network's name.
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// Accepted for compatibility with the Go cnitool; not used.
    #[arg(value_name = "NETNS", hide = true)]
    pub netns: Option<String>,
}

/// Runs `status`: exit 0 when every plugin is ready (or the network predates STATUS).
pub fn run(args: StatusArgs, ctx: &Context) -> Result<ExitCode> {
    let list = ctx.load_list(&args.network)?;
    ctx.cni
        .get_status_network_list(&list)
        .with_context(|| format!("status of network {:?}", list.name))
        .map_err(|err| crate::interrupt::explain(err, |_| "nothing was changed".to_owned()))?;
    Ok(ExitCode::SUCCESS)
}
