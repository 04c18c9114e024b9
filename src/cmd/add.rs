//! `cnitool add`: CNI ADD of a network to a namespace.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{AttachArgs, Context};
use crate::output;
use crate::output::Output;

// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Print each plugin's CNI_* environment and exact stdin, in order; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result converted to this CNI version.
    #[arg(long, value_name = "VERSION")]
    pub result_version: Option<String>,
}

/// Runs `add`.
///
/// ADD either succeeds or leaves nothing: a `--result-version` that is no result version is
/// refused before any plugin runs, and a result that cannot be expressed in it (0.2.0 needs
/// an address) is deleted again.
pub fn run(args: AddArgs, ctx: &Context) -> Result<ExitCode> {
    if let Some(v) = &args.result_version {
        if libcni::version::Family::of(v).is_none() {
            return Err(crate::usage!(
                "--result-version {v:?}: not a CNI result version (use one of {})",
                libcni::version::SUPPORTED.join(", ")
            ));
        }
    }
    let target = args.attach.target(&ctx.netns_dir)?;
    let rt = args.attach.runtime_conf(&target)?;
    let list = ctx.load_list(&args.attach.network)?;
    args.attach.plugin.require_capabilities(&[&list], &[])?;
    if args.dry_run {
        return super::print_dry_run(ctx, libcni::Command::Add, &list, &rt);
    }
    let result = ctx.cni.add_network_list(&list, &rt).map_err(|e| {
        let hint = match &e {
            libcni::Error::InterfaceInUse { .. } => {
                " (choose another interface name with -i/--ifname)".to_owned()
            }
            libcni::Error::AddFailed { kept: Some(_), .. } => format!(
                " (to finish the cleanup, run: {})",
                super::del_command(ctx, &list.name, &target, &rt)
            ),
            _ => String::new(),
        };
        let err = anyhow::Error::new(e).context(format!(
            "adding network {:?} to {}{hint}",
            list.name,
            target.path.display()
        ));
        crate::interrupt::explain(err, |lib| match lib {
            libcni::Error::AddFailed { rollback: None, .. } => {
                "the plugins that ran were rolled back; nothing is left".to_owned()
            }
            _ => format!(
                "the rollback did not finish: `{}` removes what is left",
                super::del_command(ctx, &list.name, &target, &rt)
            ),
        })
    })?;
    let result = match &args.result_version {
        Some(v) => match result.convert_to(v) {
            Ok(r) => r,
            Err(e) => {
                let undo = match ctx.cni.del_network_list(&list, &rt) {
                    Ok(()) => "the attachment was deleted again".to_owned(),
                    Err(d) => format!("deleting the attachment again failed too: {d}"),
                };
                return Err(anyhow::Error::new(e).context(format!("--result-version {v}: {undo}")));
            }
        },
        None => result,
    };
    // The attachment exists from here on: a failure to show it must not read as a failed ADD.
    output::print_result(&result, ctx.output.unwrap_or(Output::Json)).with_context(|| {
        format!(
            "network {:?} was added to {}, but writing its result failed \
             (`cnitool del` removes it)",
            list.name,
            target.path.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
