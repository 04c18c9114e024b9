//! `cnitool list`: every network in the config directories, and the built-in one.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use libcni::conf::{ConfKind, ListedNetwork};
use serde_json::{json, Value};

use super::Context;
use crate::cli::Output;
use crate::{builtin, table};

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print only the names, one per line (for shell completion).
    #[arg(long, hide = true)]
    pub names: bool,
}

/// One row of the listing.
struct Row {
    name: String,
    file: String,
    version: String,
    plugins: String,
    note: String,
}

fn chain(list: &libcni::NetworkConfigList) -> String {
    list.plugins
        .iter()
        .map(|p| p.plugin_type.as_str())
        .collect::<Vec<_>>()
        .join(" > ")
}

fn row(n: &ListedNetwork) -> Row {
    let mut notes = Vec::new();
    if let Some(winner) = &n.shadowed_by {
        notes.push(format!("shadowed by {}", winner.display()));
    }
    if n.kind == ConfKind::Conf {
        notes.push("converted from a single-plugin .conf".into());
    }
    let (version, plugins) = match &n.result {
        Ok(list) => (list.cni_version.clone(), chain(list)),
        Err(e) => {
            notes.push(format!("error: {e}"));
            (String::new(), String::new())
        }
    };
    Row {
        name: n.name.clone().unwrap_or_else(|| "?".into()),
        file: n.path.display().to_string(),
        version,
        plugins,
        note: notes.join("; "),
    }
}

/// Runs `list`.
pub fn run(args: ListArgs, ctx: &Context) -> Result<ExitCode> {
    let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
    if args.names {
        let mut names = listing.names();
        if !names.iter().any(|n| n == builtin::NAME) {
            names.push(builtin::NAME.to_owned());
        }
        for n in names {
            println!("{n}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    ctx.warn_all(&listing.errors);
    let mut rows: Vec<Row> = listing.networks.iter().map(row).collect();
    if !listing.names().iter().any(|n| n == builtin::NAME) {
        let list = builtin::list();
        rows.push(Row {
            name: list.name.clone(),
            file: "(built-in)".into(),
            version: list.cni_version.clone(),
            plugins: chain(&list),
            note: "built-in default; a netconf with this name overrides it".into(),
        });
    }
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({"name": r.name, "file": r.file, "cniVersion": r.version,
                           "plugins": r.plugins.split(" > ").filter(|s| !s.is_empty()).collect::<Vec<_>>(),
                           "note": r.note})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        Output::Table => {
            let mut t = table::new(&["name", "file", "cniVersion", "plugins", "note"]);
            for r in &rows {
                t.add_row([&r.name, &r.file, &r.version, &r.plugins, &r.note]);
            }
            print!("{}", table::render(&t));
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
