//! `cnitool show`: the effective network list, exactly as the library will use it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Map, Value};

use super::Context;
use crate::output::Output;

// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The network's name.
    #[arg(value_name = "NETWORK")]
    pub network: String,
}

/// The list as the plugins will see it: negotiated `cniVersion`, the flags, and each
/// plugin's object (after `.conf` conversion and `<dir>/<name>/*.conf` plugins) with the
/// list's `name` and `cniVersion`, which every plugin gets in place of its own (SPEC.md
/// "Deriving execution configuration from plugin configuration"). What a call adds
/// (`runtimeConfig`, `prevResult`) is shown by `--dry-run`.
pub fn effective(list: &libcni::NetworkConfigList) -> Value {
    let mut m = Map::new();
    m.insert("cniVersion".into(), list.cni_version.clone().into());
    m.insert("name".into(), list.name.clone().into());
    if list.disable_check {
        m.insert("disableCheck".into(), true.into());
    }
    if list.disable_gc {
        m.insert("disableGC".into(), true.into());
    }
    let plugins: Vec<Value> = list
        .plugins
        .iter()
        .map(|p| {
            let mut plugin = p.raw.clone();
            plugin.insert("cniVersion".into(), list.cni_version.clone().into());
            plugin.insert("name".into(), list.name.clone().into());
            Value::Object(plugin)
        })
        .collect();
    m.insert("plugins".into(), plugins.into());
    Value::Object(m)
}

/// Runs `show`.
pub fn run(args: ShowArgs, ctx: &Context) -> Result<ExitCode> {
    let list = ctx.load_list(&args.network)?;
    let source = list
        .source
        .as_ref()
        .map_or_else(|| "(built-in)".to_owned(), |p| p.display().to_string());
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"source": source, "config": effective(&list)}))?
        )?,
        Output::Table => {
            // The file on stderr: stdout stays one JSON document (`show NET | jq`).
            if !ctx.quiet {
                crate::diag!("# {source}");
            }
            crate::outln!("{}", serde_json::to_string_pretty(&effective(&list))?)?;
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
