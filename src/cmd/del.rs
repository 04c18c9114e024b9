//! `cnitool del`: CNI DEL of a network from a namespace.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{find_cached, list_for_teardown, AttachArgs, Context};

/// Arguments of `del`.
#[derive(Debug, Args)]
pub struct DelArgs {
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Print each plugin's CNI_* environment and exact stdin, in order; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the netconf files, not the configuration recorded at ADD.
    #[arg(long)]
    pub current_config: bool,
}

/// Runs `del`. The network list, `CNI_ARGS` and capability arguments recorded at ADD are
/// used unless given again, so a DEL without the original `CAP_ARGS` still removes portmap's
/// rules and a deleted netconf can still be torn down.
pub fn run(args: DelArgs, ctx: &Context) -> Result<ExitCode> {
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
            .plan_network_list(libcni::Command::Del, &list, &rt)?;
        crate::output::print_plan(&plan, ctx.output.unwrap_or(crate::cli::Output::Table))?;
        return Ok(ExitCode::SUCCESS);
    }
    ctx.cni.del_network_list(&list, &rt).with_context(|| {
        format!(
            "deleting network {:?} from {}",
            list.name,
            target.path.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
