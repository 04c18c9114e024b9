//! `cnitool netns create`: a persistent named network namespace, optionally attached to
//! networks right away.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::netns::CreateOptions;
use libcni::{NetworkConfigList, RuntimeConf};

use super::{list, netns_path, parse_name};
use crate::cmd::{container_id_for, Context};

// Arguments of `netns create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The namespace's name: 1 to 64 characters of A-Z a-z 0-9 _ . -, not starting with . or -.
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub name: String,
    /// Leave the loopback interface down (as `ip netns add` does).
    #[arg(long)]
    pub no_lo: bool,
    /// Attach this network (CNI ADD) as eth0, the next as eth1, ... (repeatable). If an ADD
    /// fails, the networks added so far are deleted and so is the namespace.
    #[arg(long, value_name = "NETWORK")]
    pub attach: Vec<String>,
}

/// Runs `netns create`. Prints nothing unless `--output` asks for the namespace's `list` entry.
pub fn run(args: CreateArgs, ctx: &Context) -> Result<ExitCode> {
    // Every netconf is loaded first, so a misspelled network creates nothing.
    let lists = args
        .attach
        .iter()
        .map(|net| ctx.load_list(net))
        .collect::<Result<Vec<_>>>()?;
    let path = libcni::netns::create(
        &ctx.netns_dir,
        &args.name,
        CreateOptions { lo_up: !args.no_lo },
    )
    .with_context(|| format!("creating network namespace {:?}", args.name))?;
    let abs = netns_path(ctx, &args.name)?;
    if let Err(err) = attach_all(ctx, &abs, &lists) {
        if let Err(e) = libcni::netns::delete(&ctx.netns_dir, &args.name) {
            crate::diag!(
                "error: rolling back: deleting network namespace {:?}: {e}",
                args.name
            );
        }
        return Err(err.context(format!(
            "creating network namespace {:?} (rolled back)",
            args.name
        )));
    }
    if let Some(format) = ctx.output {
        let id = libcni::netns::identify(&path).ok();
        let entry = list::entry(ctx, args.name, path, id)?;
        list::print(&[entry], format)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// ADDs each list as eth0, eth1, ...; on a failure, DELs the ones added so far, in reverse.
fn attach_all(ctx: &Context, netns: &Path, lists: &[NetworkConfigList]) -> Result<()> {
    let container_id = container_id_for(netns);
    let rt = |i: usize| RuntimeConf {
        container_id: container_id.clone(),
        netns: netns.to_path_buf(),
        ifname: format!("eth{i}"),
        ..RuntimeConf::default()
    };
    for (i, list) in lists.iter().enumerate() {
        if let Err(e) = ctx.cni.add_network_list(list, &rt(i)) {
            for (j, done) in lists[..i].iter().enumerate().rev() {
                if let Err(e) = ctx.cni.del_network_list(done, &rt(j)) {
                    crate::diag!(
                        "error: rolling back: deleting network {:?} (eth{j}): {e}",
                        done.name
                    );
                }
            }
            return Err(
                anyhow::Error::new(e).context(format!("adding network {:?} as eth{i}", list.name))
            );
        }
    }
    Ok(())
}
