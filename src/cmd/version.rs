//! `cnitool version`: the tool's version, the spec versions it implements, and optionally
//! what every installed plugin supports.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::Context;
use crate::output::Output;
use crate::table;

/// How long each file of the plugin directories gets to answer VERSION in `--plugins` (less
/// when `--timeout` is shorter): a plugin answers in milliseconds, and a directory on
/// `CNI_PATH` may hold programs that are no plugins and never answer.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);

/// How many files are asked at once.
const DISCOVERY_PARALLEL: usize = 8;

// Arguments of `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Also ask every executable in the plugin directories which spec versions it supports
    /// (2 s each at most; files that do not answer as CNI plugins are listed as such).
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

/// What one file answered to VERSION.
enum Answer {
    /// The spec versions it supports.
    Versions(Vec<String>),
    /// A CNI error object with a code of its own: a plugin, failing.
    PluginError(String),
    /// No VERSION reply (timed out, killed, output that is no reply, a failure with only
    /// stderr): not a CNI plugin, or a broken one.
    Silent(String),
}

/// What one plugin answered to VERSION.
struct PluginRow {
    name: String,
    path: Option<String>,
    answer: Answer,
}

impl PluginRow {
    /// `supportedVersions` as the plugin answered it, or `error` when it did not answer
    /// (with `answersVersion: false` when it gave no VERSION reply at all).
    fn json(&self) -> serde_json::Value {
        let mut item = json!({"plugin": self.name, "path": self.path});
        match &self.answer {
            Answer::Versions(v) => item["supportedVersions"] = json!(v),
            Answer::PluginError(e) => item["error"] = json!(e),
            Answer::Silent(e) => {
                item["error"] = json!(e);
                item["answersVersion"] = json!(false);
            }
        }
        item
    }

    /// The table's last column.
    fn cell(&self) -> String {
        match &self.answer {
            Answer::Versions(v) => v.join(", "),
            Answer::PluginError(e) => format!("error: {e}"),
            Answer::Silent(e) => format!("not a CNI plugin (no VERSION answer): {e}"),
        }
    }
}

/// Asks every file at once (a few at a time), each with [`DISCOVERY_TIMEOUT`] at most.
fn discover(ctx: &Context) -> Vec<PluginRow> {
    let limit = match ctx.timeout {
        t if t.is_zero() => DISCOVERY_TIMEOUT,
        t => t.min(DISCOVERY_TIMEOUT),
    };
    let exec = libcni::invoke::RawExec {
        timeout: Some(limit),
        grace: Duration::from_millis(500),
        ..libcni::invoke::RawExec::default()
    };
    let cni = ctx.cni.clone().with_exec(Arc::new(exec));
    let names = plugin_names(ctx);
    let ask = |name: &String| {
        let path = libcni::invoke::find_in_path(name, cni.plugin_dirs())
            .ok()
            .map(|p| p.display().to_string());
        let answer = match cni.get_version_info(name) {
            Ok(info) => Answer::Versions(info.supported_versions),
            Err(e @ libcni::Error::Plugin { code, .. }) if code != 999 => {
                Answer::PluginError(e.to_string())
            }
            Err(e) => Answer::Silent(e.to_string()),
        };
        PluginRow {
            name: name.clone(),
            path,
            answer,
        }
    };
    let mut rows = Vec::new();
    for chunk in names.chunks(DISCOVERY_PARALLEL) {
        rows.extend(crate::supervise::for_each(chunk, false, ask));
    }
    rows
}

/// Runs `version`.
pub fn run(args: VersionArgs, ctx: &Context) -> Result<ExitCode> {
    let tool = env!("CARGO_PKG_VERSION");
    let spec = libcni::version::SUPPORTED;
    let plugins = if args.plugins {
        discover(ctx)
    } else {
        Vec::new()
    };
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
                    t.add_row([p.name.clone(), p.path.clone().unwrap_or_default(), p.cell()]);
                }
                crate::out!("{}", table::render(&t))?;
            }
        }
        Output::None => {}
    }
    Ok(ExitCode::SUCCESS)
}
