//! `cnitool container detach`: undo a `container attach` (withdraw its names and cut our
//! part off its /etc/hosts, DEL in reverse, delete the named namespace), also when the
//! container is gone already.

use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;

use crate::cmd::Context;
use crate::container::engine::EngineArgs;
use crate::container::record::{self, ContainerRecord, Kind};

// Arguments of `container detach`.
#[derive(Debug, Args)]
pub struct DetachArgs {
    /// The engine.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The container, by name or ID (as given to attach, or its full ID, when it is gone).
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Runs `container detach`.
pub fn run(args: DetachArgs, ctx: &Context) -> Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        return crate::rootless::attach::detach(&args, ctx);
    }
    let engine = args.engine.engine();
    let cache_dir = ctx.cni.cache().dir();
    // The engine knows the container's ID; when it is gone (or the engine cannot answer), the
    // record's name and ID are matched instead.
    let inspected = engine.inspect_container(&args.container);
    let wanted = |r: &ContainerRecord| match &inspected {
        Ok(info) => r.container == info.id,
        Err(_) => {
            r.container == args.container
                || r.container_name == args.container
                || (args.container.len() >= 12 && r.container.starts_with(&args.container))
        }
    };
    let found = ContainerRecord::list(cache_dir)?
        .into_iter()
        .filter_map(|(path, rec)| Some((path, rec.ok()?)))
        .find(|(_, r)| r.kind == Kind::Attach && r.engine.kind == engine.kind && wanted(r));
    let Some((path, rec)) = found else {
        return Err(match inspected {
            Err(crate::container::engine::EngineError::Failed(m)) => anyhow!(m),
            _ => crate::conflict!(
                "container {:?} is not attached (no record in {})",
                args.container,
                record::dir(cache_dir).display()
            ),
        });
    };
    rec.teardown(ctx, &path, None, false)?;
    match ctx.output {
        Some(crate::output::Output::Json) => crate::outln!(
            "{}",
            serde_json::json!({"detached": rec.container, "name": rec.container_name})
        )?,
        Some(crate::output::Output::None) => {}
        _ if ctx.quiet => {}
        _ => crate::outln!("detached {}", rec.describe())?,
    }
    Ok(ExitCode::SUCCESS)
}
