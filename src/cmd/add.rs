//! `cnitool add`: CNI ADD of a network to a namespace.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{AttachArgs, Context};
use crate::cli::Output;
use crate::output;

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Print the result converted to this CNI version.
    #[arg(long, value_name = "VERSION")]
    pub result_version: Option<String>,
}

/// Runs `add`.
pub fn run(args: AddArgs, ctx: &Context) -> Result<ExitCode> {
    let target = args.attach.target(&ctx.netns_dir)?;
    let rt = args.attach.runtime_conf(&target)?;
    let list = ctx.load_list(&args.attach.network)?;
    let result = ctx.cni.add_network_list(&list, &rt).with_context(|| {
        format!(
            "adding network {:?} to {}",
            list.name,
            target.path.display()
        )
    })?;
    let result = match &args.result_version {
        Some(v) => result.convert_to(v)?,
        None => result,
    };
    output::print_result(&result, ctx.output.unwrap_or(Output::Json))?;
    Ok(ExitCode::SUCCESS)
}
