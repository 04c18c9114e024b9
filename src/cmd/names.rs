//! `cnitool names`: the names of the live runs (`run --name`, `--alias`), named namespaces
//! (`add --name`) and containers (`container run --name`, `container attach --name`) on each
//! network, with their addresses.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::output::Output;
use crate::supervise::names::Holder;
use crate::table;

// Arguments of `names`.
#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Only this network.
    #[arg(value_name = "NETWORK")]
    pub network: Option<String>,
}

/// The names of the caller's rootless runs, if a shared rootless namespace lives.
fn rootless_names() -> Result<Vec<(Holder, crate::supervise::names::NameClaim)>> {
    let Ok(rt) = crate::rootless::dirs::resolve(false) else {
        return Ok(Vec::new());
    };
    let root = crate::rootless::state::Root::new(&rt.state, false)?;
    match root.current() {
        Some(gen) => crate::supervise::names::list(&root.gen(&gen).dir),
        None => Ok(Vec::new()),
    }
}

/// Runs `names`.
pub fn run(args: NamesArgs, ctx: &Context) -> Result<ExitCode> {
    let mut all = crate::supervise::names::list(ctx.cni.cache().dir())?;
    // Not root: also the names of the caller's rootless runs (in the live generation).
    if !nix::unistd::geteuid().is_root() {
        all.extend(rootless_names()?);
    }
    let claims: Vec<_> = all
        .into_iter()
        .filter(|(_, c)| args.network.as_ref().is_none_or(|n| *n == c.network))
        .collect();
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = claims
                .iter()
                .map(|(holder, c)| {
                    let (pid, netns) = match holder {
                        Holder::Run(pid) | Holder::Container(pid) => (Some(*pid), None),
                        Holder::Attached(_, pid) => (Some(*pid), None),
                        Holder::Netns(name) => (None, Some(name)),
                    };
                    let mut item = json!({"network": c.network, "name": c.names[0],
                           "aliases": c.names[1..], "addresses": c.addresses, "pid": pid,
                           "netns": netns});
                    // An attached container: its name (the pid is its first process's).
                    if let Holder::Attached(name, _) = holder {
                        item["container"] = json!(name);
                    }
                    item
                })
                .collect();
            crate::outln!("{}", serde_json::to_string_pretty(&items)?)?;
        }
        Output::Table => {
            let mut t = table::new(&["network", "name", "aliases", "addresses", "holder"]);
            for (holder, c) in &claims {
                let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
                t.add_row([
                    c.network.clone(),
                    c.names[0].clone(),
                    c.names[1..].join(", "),
                    addrs.join(", "),
                    match holder {
                        Holder::Run(pid) => format!("pid {pid}"),
                        Holder::Netns(name) => format!("netns {name}"),
                        Holder::Container(pid) => format!("container (pid {pid})"),
                        Holder::Attached(name, pid) => format!("container {name} (pid {pid})"),
                    },
                ]);
            }
            crate::out!("{}", table::render(&t))?;
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
