//! `cnitool version`: the tool's version, the spec versions it implements, and optionally
//! what every installed plugin supports.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::cli::Output;
use crate::table;

// Arguments of `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Also ask every plugin in the plugin directories which spec versions it supports.
    #[arg(long)]
    pub plugins: bool,
}

/// The plugin names in the plugin directories (first directory wins, as in lookup).
fn plugin_names(ctx: &Context) -> Vec<String> {
    let mut names = BTreeSet::new();
    for dir in ctx.cni.plugin_dirs().iter().filter(|d| d.is_absolute()) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let executable = std::fs::metadata(e.path())
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if let (true, Some(name)) = (executable, e.file_name().to_str()) {
                names.insert(name.to_owned());
            }
        }
    }
    names.into_iter().collect()
}

/// What one plugin answered to VERSION.
struct PluginRow {
    name: String,
    path: Option<String>,
    versions: Result<Vec<String>, String>,
}

impl PluginRow {
    /// `supportedVersions` as the plugin answered it, or `error` when it did not answer.
    fn json(&self) -> serde_json::Value {
        let mut item = json!({"plugin": self.name, "path": self.path});
        match &self.versions {
            Ok(v) => item["supportedVersions"] = json!(v),
            Err(e) => item["error"] = json!(e),
        }
        item
    }
}

/// Runs `version`.
pub fn run(args: VersionArgs, ctx: &Context) -> Result<ExitCode> {
    let tool = env!("CARGO_PKG_VERSION");
    let spec = libcni::version::SUPPORTED;
    let mut plugins = Vec::new();
    if args.plugins {
        for name in plugin_names(ctx) {
            let path = libcni::invoke::find_in_path(&name, ctx.cni.plugin_dirs())
                .ok()
                .map(|p| p.display().to_string());
            let versions = ctx
                .cni
                .get_version_info(&name)
                .map(|i| i.supported_versions)
                .map_err(|e| e.to_string());
            plugins.push(PluginRow {
                name,
                path,
                versions,
            });
        }
    }
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let mut doc = json!({"version": tool, "cniVersions": spec});
            if args.plugins {
                let items: Vec<_> = plugins.iter().map(PluginRow::json).collect();
                doc["plugins"] = items.into();
            }
            crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Output::Table => {
            crate::outln!("cnitool {tool}")?;
            crate::outln!("CNI spec versions: {}", spec.join(", "))?;
            if args.plugins {
                crate::outln!()?;
                let mut t = table::new(&["plugin", "path", "supported versions"]);
                for p in &plugins {
                    let versions = match &p.versions {
                        Ok(v) => v.join(", "),
                        Err(e) => format!("error: {e}"),
                    };
                    t.add_row([p.name.clone(), p.path.clone().unwrap_or_default(), versions]);
                }
                crate::out!("{}", table::render(&t))?;
            }
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
