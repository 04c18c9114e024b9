//! `cnitool list`: every network in the config directories, and the built-in one.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use libcni::conf::{ConfKind, ListedNetwork};
use serde_json::{json, Value};

use super::Context;
use crate::output::Output;
use crate::{builtin, table};

// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print only the names, one per line (for shell completion).
    #[arg(long, hide = true)]
    pub names: bool,
}

/// One row of the listing.
struct Row {
    /// `None` when the file is so broken its `name` cannot be read.
    name: Option<String>,
    /// `None` for the built-in network.
    file: Option<String>,
    /// The effective `cniVersion`, when the file parses.
    version: Option<String>,
    plugins: Vec<String>,
    shadowed_by: Option<String>,
    converted: bool,
    error: Option<String>,
}

impl Row {
    fn from_listed(n: &ListedNetwork) -> Row {
        let (version, plugins, error) = match &n.result {
            Ok(list) => (Some(list.cni_version.clone()), plugin_types(list), None),
            Err(e) => (None, Vec::new(), Some(e.to_string())),
        };
        Row {
            name: n.name.clone(),
            file: Some(n.path.display().to_string()),
            version,
            plugins,
            shadowed_by: n.shadowed_by.as_ref().map(|p| p.display().to_string()),
            converted: n.kind == ConfKind::Conf,
            error,
        }
    }

    fn builtin() -> Row {
        match builtin::list() {
            Ok((list, _)) => Row {
                name: Some(list.name.clone()),
                file: None,
                version: Some(list.cni_version.clone()),
                plugins: plugin_types(&list),
                shadowed_by: None,
                converted: false,
                error: None,
            },
            Err(e) => Row {
                name: Some(builtin::NAME.to_owned()),
                file: None,
                version: None,
                plugins: Vec::new(),
                shadowed_by: None,
                converted: false,
                error: Some(format!("{e:#}")),
            },
        }
    }

    /// The NOTE column: what makes this entry different from a plain, usable netconf file.
    fn note(&self) -> String {
        let mut notes = Vec::new();
        if self.file.is_none() {
            notes.push("built-in default; a netconf with this name overrides it".to_owned());
        }
        if let Some(winner) = &self.shadowed_by {
            notes.push(format!("shadowed by {winner}"));
        }
        if self.converted {
            notes.push("converted from a single-plugin .conf".into());
        }
        if let Some(e) = &self.error {
            notes.push(format!("error: {e}"));
        }
        notes.join("; ")
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "file": self.file,
            "builtIn": self.file.is_none(),
            "cniVersion": self.version,
            "plugins": self.plugins,
            "shadowedBy": self.shadowed_by,
            "converted": self.converted,
            "error": self.error,
        })
    }
}

fn plugin_types(list: &libcni::NetworkConfigList) -> Vec<String> {
    list.plugins.iter().map(|p| p.plugin_type.clone()).collect()
}

/// Runs `list`.
pub fn run(args: ListArgs, ctx: &Context) -> Result<ExitCode> {
    let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
    if args.names {
        let mut names = listing.names();
        if !names.iter().any(|n| n == builtin::NAME) {
            names.push(builtin::NAME.to_owned());
        }
        match ctx.output {
            Some(Output::Json) => crate::outln!("{}", serde_json::to_string(&names)?)?,
            Some(Output::None) => {}
            _ => {
                for n in names {
                    crate::outln!("{n}")?;
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    ctx.warn_all(&listing.errors);
    let mut rows: Vec<Row> = listing.networks.iter().map(Row::from_listed).collect();
    if !listing.names().iter().any(|n| n == builtin::NAME) {
        rows.push(Row::builtin());
    }
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<Value> = rows.iter().map(Row::json).collect();
            crate::outln!("{}", serde_json::to_string_pretty(&items)?)?;
        }
        Output::Table => {
            let mut t = table::new(&["name", "file", "cniVersion", "plugins", "note"]);
            for r in &rows {
                t.add_row([
                    r.name.clone().unwrap_or_else(|| "?".into()),
                    r.file.clone().unwrap_or_else(|| "(built-in)".into()),
                    r.version.clone().unwrap_or_default(),
                    r.plugins.join(" > "),
                    r.note(),
                ]);
            }
            crate::out!("{}", table::render(&t))?;
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
