//! `cnitool del`: CNI DEL of a network from a namespace.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::{print_dry_run, Context, ExistingArgs};

/// Arguments of `del`.
pub type DelArgs = ExistingArgs;

/// Runs `del`. The network list, `CNI_ARGS` and capability arguments recorded at ADD are
/// used unless given again, so a DEL without the original `CAP_ARGS` still removes portmap's
/// rules and a deleted netconf can still be torn down.
pub fn run(args: DelArgs, ctx: &Context) -> Result<ExitCode> {
    let e = args.resolve(ctx)?;
    if args.dry_run {
        return print_dry_run(ctx, libcni::Command::Del, &e.list, &e.rt);
    }
    ctx.cni
        .del_network_list(&e.list, &e.rt)
        .with_context(|| {
            format!(
                "deleting network {:?} from {}",
                e.list.name,
                e.target.path.display()
            )
        })
        .map_err(|err| {
            crate::interrupt::explain(err, |_| {
                format!(
                    "the attachment is still recorded: run `{}` again to finish",
                    super::del_command(ctx, &e.list.name, &e.target, &e.rt)
                )
            })
        })?;
    // A name `add --name` gave the attachment goes with it.
    let cache_dir = ctx.cni.cache().dir();
    let record = crate::supervise::names::NsRecord::path(
        cache_dir,
        &e.rt.container_id,
        &e.list.name,
        &e.rt.ifname,
    );
    crate::supervise::names::remove_ns(cache_dir, &record)
        .context("removing the attachment's names")?;
    Ok(ExitCode::SUCCESS)
}
