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
    /// Name the namespace on the network (a named namespace only): runs and named namespaces
    /// on the network resolve NAME and NAME.NETWORK to its addresses there, and it sees
    /// theirs through /etc/netns/NETNS/hosts (which `ip netns exec` and `cnitool netns exec`
    /// put over /etc/hosts), until `del`. RFC 1123 label.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Another name, like --name (repeatable; needs --name).
    #[arg(long, value_name = "NAME", requires = "name")]
    pub alias: Vec<String>,
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
    let names = names_of(&args)?;
    if args.dry_run {
        return super::print_dry_run(ctx, libcni::Command::Add, &list, &rt);
    }
    let claim = match names {
        Some(names) => {
            let ns_name = named_namespace(ctx, &target.path).ok_or_else(|| {
                crate::usage!(
                    "--name: {} is not a named namespace of {} (names are for namespaces made \
                     with `cnitool netns create`)",
                    target.path.display(),
                    ctx.netns_dir.display()
                )
            })?;
            let etc = std::path::Path::new(crate::cmd::netns::exec::NETNS_ETC_DIR);
            let rec = crate::supervise::names::NsRecord {
                netns: target.path.clone(),
                hosts: etc.join(&ns_name).join("hosts"),
                ns_name,
                container_id: target.container_id.clone(),
                ifname: rt.ifname.clone(),
                created_hosts: false,
                created_dir: false,
                claim: crate::supervise::names::NameClaim {
                    network: list.name.clone(),
                    names,
                    addresses: Vec::new(),
                },
            };
            Some(crate::supervise::names::claim_ns(ctx.cni.cache(), rec)?)
        }
        None => None,
    };
    let added = ctx.cni.add_network_list(&list, &rt);
    if let (Err(_), Some((path, _))) = (&added, &claim) {
        let _ = crate::supervise::names::remove_ns(ctx.cni.cache().dir(), path);
    }
    let result = added.map_err(|e| {
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
    if let Some((path, rec)) = claim {
        crate::supervise::names::publish_ns_added(ctx.cni.cache(), &path, rec, &result)
            .with_context(|| {
                format!(
                    "network {:?} was added to {}, but publishing its names failed \
                     (`cnitool del` removes it)",
                    list.name,
                    target.path.display()
                )
            })?;
    }
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

/// `--name` then the `--alias`es, checked (none without `--name`).
fn names_of(args: &AddArgs) -> Result<Option<Vec<String>>> {
    let Some(name) = &args.name else {
        return Ok(None);
    };
    crate::supervise::names::validate_label("--name", name)?;
    let mut names = vec![name.clone()];
    for a in &args.alias {
        crate::supervise::names::validate_label("--alias", a)?;
        if !names.iter().any(|n| n.eq_ignore_ascii_case(a)) {
            names.push(a.clone());
        }
    }
    Ok(Some(names))
}

/// The name of `path` when it is a namespace of the netns directory.
fn named_namespace(ctx: &Context, path: &std::path::Path) -> Option<String> {
    let dir = super::absolute(&ctx.netns_dir).ok()?;
    (path.parent()? == dir).then(|| path.file_name()?.to_str().map(str::to_owned))?
}
