//! `cnitool check`: CNI CHECK of an attachment.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{find_cached, list_for_teardown, AttachArgs, Context};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Print each plugin's CNI_* environment and exact stdin, in order; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the netconf files, not the configuration recorded at ADD.
    #[arg(long)]
    pub current_config: bool,
}

/// Runs `check` with the configuration and arguments recorded at ADD.
pub fn run(args: CheckArgs, ctx: &Context) -> Result<ExitCode> {
    let target = args.attach.target(&ctx.netns_dir)?;
    let (target, entry) = find_cached(ctx, &args.attach.network, &args.attach, target)?;
    let list = list_for_teardown(
        ctx,
        &args.attach.network,
        entry.as_ref(),
        args.current_config,
    )?;
    let rt = args.attach.runtime_conf(&target)?;
    if args.dry_run {
        let plan = ctx
            .cni
            .plan_network_list(libcni::Command::Check, &list, &rt)?;
        crate::output::print_plan(&plan, ctx.output.unwrap_or(crate::cli::Output::Table))?;
        return Ok(ExitCode::SUCCESS);
    }
    ctx.cni.check_network_list(&list, &rt).with_context(|| {
        format!(
            "checking network {:?} in {}",
            list.name,
            target.path.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
