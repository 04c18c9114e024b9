//! `cnitool check`: CNI CHECK of an attachment.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::{print_dry_run, Context, ExistingArgs};

/// Arguments of `check`.
pub type CheckArgs = ExistingArgs;

/// Runs `check` with the configuration and arguments recorded at ADD.
pub fn run(args: CheckArgs, ctx: &Context) -> Result<ExitCode> {
    let e = args.resolve(ctx)?;
    if args.dry_run {
        return print_dry_run(ctx, libcni::Command::Check, &e.list, &e.rt);
    }
    ctx.cni
        .check_network_list(&e.list, &e.rt)
        .with_context(|| {
            format!(
                "checking network {:?} in {}",
                e.list.name,
                e.target.path.display()
            )
        })
        .map_err(|err| crate::interrupt::explain(err, |_| "nothing was changed".to_owned()))?;
    Ok(ExitCode::SUCCESS)
}
