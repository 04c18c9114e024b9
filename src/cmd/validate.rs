//! `cnitool validate`: check netconfs against the installed plugins; usable as a CI gate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use libcni::version::Version;
use libcni::{NetworkConfigList, PluginConfig};
use serde_json::json;

use super::Context;
use crate::cli::Output;
use crate::exit::Exit;
use crate::table;

// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Networks to validate (default: every netconf file in the config directories).
    #[arg(value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The network cannot work.
    Error,
    /// It works, but probably not as meant.
    Warning,
    /// For information.
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One finding.
#[derive(Debug)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The network (or file, when it has no readable name).
    pub network: String,
    /// The plugin, if the finding is about one.
    pub plugin: String,
    /// What was found.
    pub message: String,
    /// The netconf file, when the finding is about one (not for the built-in network).
    pub file: Option<PathBuf>,
}

fn finding(severity: Severity, network: &str, plugin: &str, message: String) -> Finding {
    Finding {
        severity,
        network: network.to_owned(),
        plugin: plugin.to_owned(),
        message,
        file: None,
    }
}

impl Finding {
    fn in_file(mut self, file: &Path) -> Finding {
        self.file = Some(file.to_owned());
        self
    }
}

/// Checks one plugin binary (the main one or an IPAM one) against the list's version.
fn check_binary(
    ctx: &Context,
    list: &NetworkConfigList,
    plugin_type: &str,
    out: &mut Vec<Finding>,
) {
    let net = &list.name;
    match ctx.cni.get_version_info(plugin_type) {
        Ok(info) if info.supports(&list.cni_version) => out.push(finding(
            Severity::Info,
            net,
            plugin_type,
            format!(
                "supports cniVersion {} (plugin supports {})",
                list.cni_version,
                info.supported_versions.join(", ")
            ),
        )),
        Ok(info) => out.push(finding(
            Severity::Error,
            net,
            plugin_type,
            format!(
                "does not support cniVersion {} (plugin supports {})",
                list.cni_version,
                info.supported_versions.join(", ")
            ),
        )),
        Err(e) => out.push(finding(Severity::Error, net, plugin_type, e.to_string())),
    }
}

fn check_plugin(ctx: &Context, list: &NetworkConfigList, p: &PluginConfig, out: &mut Vec<Finding>) {
    check_binary(ctx, list, &p.plugin_type, out);
    if let Some(ipam) = &p.ipam_type {
        check_binary(ctx, list, ipam, out);
    }
    let caps: Vec<&str> = p
        .capabilities
        .iter()
        .filter(|(_, on)| **on)
        .map(|(c, _)| c.as_str())
        .collect();
    if !caps.is_empty() {
        out.push(finding(
            Severity::Info,
            &list.name,
            &p.plugin_type,
            format!("capabilities: {}", caps.join(", ")),
        ));
    }
}

/// Every finding for one network list.
pub fn check_list(ctx: &Context, list: &NetworkConfigList) -> Vec<Finding> {
    let mut out = Vec::new();
    // With `cniVersions`, the list runs at the highest version every plugin supports.
    let negotiated = ctx.cni.negotiate_version(list);
    let list = match &negotiated {
        Ok(l) => {
            if l.cni_version != list.cni_version {
                out.push(finding(
                    Severity::Info,
                    &list.name,
                    "",
                    format!(
                        "runs at cniVersion {}: the highest of cniVersions {} that every \
                         plugin supports",
                        l.cni_version,
                        list.cni_versions.join(", ")
                    ),
                ));
            }
            &**l
        }
        Err(_) => list,
    };
    // `.conf` and `.json` files hold one plugin; the library wraps it in a list (Go's
    // `ConfListFromConf`), so say that what runs is not literally the file.
    if let Some(source) = &list.source {
        if !source
            .as_os_str()
            .as_encoded_bytes()
            .ends_with(b".conflist")
        {
            out.push(finding(
                Severity::Info,
                &list.name,
                "",
                "converted from a single-plugin .conf to a one-plugin list".into(),
            ));
        }
    }
    for p in &list.plugins {
        check_plugin(ctx, list, p, &mut out);
    }
    let version = Version::parse(&list.cni_version).unwrap_or(Version::new(0, 1, 0));
    let verbs = if list.disable_check {
        "CHECK disabled by disableCheck".to_owned()
    } else if version < Version::V0_4_0 {
        format!(
            "CHECK not available (cniVersion {} < 0.4.0)",
            list.cni_version
        )
    } else {
        "CHECK available".to_owned()
    };
    out.push(finding(Severity::Info, &list.name, "", verbs));
    let gc = if version < Version::V1_1_0 {
        format!(
            "GC and STATUS not available (cniVersion {} < 1.1.0)",
            list.cni_version
        )
    } else if list.disable_gc {
        "GC disabled by disableGC; STATUS available".to_owned()
    } else {
        "GC and STATUS available".to_owned()
    };
    out.push(finding(Severity::Info, &list.name, "", gc));
    if let Some(source) = &list.source {
        for f in &mut out {
            f.file = Some(source.clone());
        }
    }
    out
}

/// Runs `validate`: exit 3 when any finding is an error.
pub fn run(args: ValidateArgs, ctx: &Context) -> Result<ExitCode> {
    let mut findings = Vec::new();
    if args.networks.is_empty() {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        for e in &listing.errors {
            findings.push(finding(Severity::Error, "", "", e.to_string()));
        }
        for n in &listing.networks {
            // The error names the file; the NETWORK column says that no name could be read.
            let label = n.name.as_deref().unwrap_or("?");
            if let Some(winner) = &n.shadowed_by {
                findings.push(
                    finding(
                        Severity::Warning,
                        label,
                        "",
                        format!(
                            "{} is shadowed by {} (same name; it is never used)",
                            n.path.display(),
                            winner.display()
                        ),
                    )
                    .in_file(&n.path),
                );
                continue;
            }
            match &n.result {
                Ok(list) => findings.extend(check_list(ctx, list)),
                Err(e) => findings
                    .push(finding(Severity::Error, label, "", e.to_string()).in_file(&n.path)),
            }
        }
        if listing.networks.is_empty() {
            findings.push(finding(
                Severity::Warning,
                "",
                "",
                format!(
                    "no netconf files in {}",
                    ctx.netconf_dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    } else {
        for name in &args.networks {
            match ctx.load_list(name) {
                Ok(list) => findings.extend(check_list(ctx, &list)),
                Err(e) => findings.push(finding(Severity::Error, name, "", format!("{e:#}"))),
            }
        }
    }
    let failed = findings.iter().any(|f| f.severity == Severity::Error);
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = findings
                .iter()
                .map(|f| {
                    json!({"severity": f.severity.to_string(), "network": f.network,
                           "plugin": f.plugin, "message": f.message,
                           "file": f.file.as_ref().map(|p| p.display().to_string())})
                })
                .collect();
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"ok": !failed, "findings": items}))?
            )?;
        }
        Output::Table => {
            let mut t = table::new(&["severity", "network", "plugin", "finding"]);
            for f in &findings {
                t.add_row([
                    f.severity.to_string(),
                    f.network.clone(),
                    f.plugin.clone(),
                    f.message.clone(),
                ]);
            }
            crate::out!("{}", table::render(&t))?;
        }
        Output::None => {}
    }
    Ok(if failed {
        Exit::Config.into()
    } else {
        ExitCode::SUCCESS
    })
}
