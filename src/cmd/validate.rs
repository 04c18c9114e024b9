//! `cnitool validate`: check netconfs against the installed plugins, the reference plugins'
//! rules ([`crate::lint`]) and this host; usable as a CI gate.
//!
//! Length: about 500 lines of code (the plugin rules themselves are in `src/lint/`): loading,
//! the checks of this host, and the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::version::Version;
use libcni::{NetworkConfigList, PluginConfig};
use serde_json::json;

use super::Context;
use crate::exit::Exit;
use crate::lint::across::{self, Network};
use crate::lint::{Finding, HostView, Severity};
use crate::output::Output;
use crate::table;

// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Networks to validate (default: every netconf file in the config directories).
    #[arg(value_name = "NETWORK")]
    pub networks: Vec<String>,
    /// Fail (exit 3) on warnings too, not only on errors.
    #[arg(long)]
    pub strict: bool,
    /// Also write the findings as a JUnit XML report to FILE (one test case per network).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Skip the checks against this host (interfaces, routes, the dhcp daemon's socket,
    /// sysctls): for netconfs meant for another machine.
    #[arg(long)]
    pub no_host_checks: bool,
}

fn finding(severity: Severity, network: &str, plugin: &str, message: String) -> Finding {
    Finding::new(severity, network, plugin, message)
}

/// Checks one plugin binary (the main one or an IPAM one) against the list's version.
/// VERSION is asked once per binary and run: [`libcni::CniConfig`] keeps the answers.
fn check_binary(
    ctx: &Context,
    list: &NetworkConfigList,
    plugin_type: &str,
    path: String,
    out: &mut Vec<Finding>,
) {
    let net = &list.name;
    let mut f = match ctx.cni.get_version_info(plugin_type) {
        Ok(info) if info.supports(&list.cni_version) => finding(
            Severity::Info,
            net,
            plugin_type,
            format!(
                "supports cniVersion {} (plugin supports {})",
                list.cni_version,
                info.supported_versions.join(", ")
            ),
        ),
        Ok(info) => finding(
            Severity::Error,
            net,
            plugin_type,
            format!(
                "does not support cniVersion {} (plugin supports {})",
                list.cni_version,
                info.supported_versions.join(", ")
            ),
        )
        .with_fix(format!(
            "set cniVersion to one of {}",
            info.supported_versions.join(", ")
        )),
        Err(e) => finding(Severity::Error, net, plugin_type, e.to_string()),
    };
    f.path = path;
    out.push(f);
}

fn check_plugin(
    ctx: &Context,
    list: &NetworkConfigList,
    base: &str,
    p: &PluginConfig,
    out: &mut Vec<Finding>,
) {
    check_binary(ctx, list, &p.plugin_type, format!("{base}.type"), out);
    if let Some(ipam) = &p.ipam_type {
        check_binary(ctx, list, ipam, format!("{base}.ipam.type"), out);
    }
    let caps: Vec<&str> = p
        .capabilities
        .iter()
        .filter(|(_, on)| **on)
        .map(|(c, _)| c.as_str())
        .collect();
    if !caps.is_empty() {
        let mut f = finding(
            Severity::Info,
            &list.name,
            &p.plugin_type,
            format!("capabilities: {}", caps.join(", ")),
        );
        f.path = format!("{base}.capabilities");
        out.push(f);
    }
}

/// Every finding for one network list, and what the checks across networks need of it.
pub fn check_list(
    ctx: &Context,
    list: &NetworkConfigList,
    host: &HostView,
) -> (Vec<Finding>, Network) {
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
    let single = list
        .source
        .as_ref()
        .is_some_and(|s| !s.as_os_str().as_encoded_bytes().ends_with(b".conflist"));
    if single {
        out.push(finding(
            Severity::Info,
            &list.name,
            "",
            "converted from a single-plugin .conf to a one-plugin list".into(),
        ));
    }
    for (i, p) in list.plugins.iter().enumerate() {
        let base = if single {
            String::new()
        } else {
            format!(".plugins[{i}]")
        };
        check_plugin(ctx, list, &base, p, &mut out);
    }
    let (found, footprint) = crate::lint::lint_list(list, host);
    out.extend(found.into_iter().map(|f| Finding {
        severity: f.severity,
        network: list.name.clone(),
        plugin: f.plugin,
        file: None,
        path: f.path,
        message: f.message,
        fix: f.fix,
    }));
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
    for f in &mut out {
        f.file.clone_from(&list.source);
        if f.path.is_empty() {
            f.path = ".".to_owned();
        }
    }
    let network = Network {
        name: list.name.clone(),
        file: list.source.clone(),
        footprint,
    };
    (out, network)
}

/// The findings for every netconf of the directories (no network named).
fn check_all(ctx: &Context, host: &HostView, findings: &mut Vec<Finding>, nets: &mut Vec<Network>) {
    let dirs = ctx
        .netconf_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    // A directory the user named (NETCONFPATH, --netconf-dir) that does not exist is a
    // typo or a missing mount, not an empty configuration.
    let mut missing = 0;
    if ctx.netconf_dirs != super::default_netconf_dirs() {
        for d in ctx.netconf_dirs.iter().filter(|d| !d.is_dir()) {
            missing += 1;
            findings.push(
                finding(
                    Severity::Error,
                    "",
                    "",
                    format!(
                        "netconf directory {} does not exist (NETCONFPATH / --netconf-dir)",
                        d.display()
                    ),
                )
                .in_file(d)
                .with_fix("create it or correct the path"),
            );
        }
    }
    let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
    for e in &listing.errors {
        findings.push(finding(Severity::Error, "", "", e.to_string()));
    }
    for n in &listing.networks {
        // The error names the file; the NETWORK column says that no name could be read.
        let label = n.name.as_deref().unwrap_or("?");
        if let Some(winner) = &n.shadowed_by {
            let mut f = finding(
                Severity::Warning,
                label,
                "",
                format!(
                    "{} is shadowed by {}: both are named {label:?} and the first in lookup \
                     order wins, so this file is never used",
                    n.path.display(),
                    winner.display()
                ),
            )
            .in_file(&n.path)
            .with_fix("rename the network in one of the files, or remove this one");
            f.path = ".name".to_owned();
            findings.push(f);
            continue;
        }
        match &n.result {
            Ok(list) => {
                let (f, net) = check_list(ctx, list, host);
                findings.extend(f);
                nets.push(net);
            }
            Err(e) => {
                findings.push(finding(Severity::Error, label, "", e.to_string()).in_file(&n.path))
            }
        }
    }
    // When every directory named is missing, that was said above.
    let all_missing = missing > 0 && missing == ctx.netconf_dirs.len();
    if listing.networks.is_empty() && !all_missing {
        findings.push(
            finding(
                Severity::Error,
                "",
                "",
                if dirs.is_empty() {
                    "no netconf directory given (NETCONFPATH / --netconf-dir is empty)".to_owned()
                } else {
                    format!("no netconf files in {dirs}")
                },
            )
            .with_fix(
                "add *.conflist files there, or point NETCONFPATH at the directory that has them",
            ),
        );
    }
}

/// Runs `validate`: exit 3 when any finding is an error (with `--strict`, a warning).
pub fn run(args: ValidateArgs, ctx: &Context) -> Result<ExitCode> {
    let host = if args.no_host_checks {
        HostView::none()
    } else {
        HostView::read()
    };
    let mut findings = Vec::new();
    let mut nets = Vec::new();
    if args.networks.is_empty() {
        check_all(ctx, &host, &mut findings, &mut nets);
    } else {
        for name in &args.networks {
            match ctx.load_list(name) {
                Ok(list) => {
                    let (f, net) = check_list(ctx, &list, &host);
                    findings.extend(f);
                    nets.push(net);
                }
                Err(e) => findings.push(finding(Severity::Error, name, "", format!("{e:#}"))),
            }
        }
    }
    findings.extend(across::check(&nets, &host));
    let failing = |s: Severity| s == Severity::Error || (args.strict && s == Severity::Warning);
    let failed = findings.iter().any(|f| failing(f.severity));
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&findings, &nets, args.strict))
            .with_context(|| format!("writing the JUnit report {}", path.display()))?;
    }
    // -q: only what needs attention.
    if ctx.quiet {
        findings.retain(|f| f.severity != Severity::Info);
    }
    match ctx.output.unwrap_or(Output::Table) {
        Output::Json => {
            let items: Vec<_> = findings
                .iter()
                .map(|f| {
                    json!({"severity": f.severity.to_string(), "network": f.network,
                           "plugin": f.plugin, "file": f.file.as_ref().map(|p| p.display().to_string()),
                           "path": f.path, "message": f.message, "fix": f.fix})
                })
                .collect();
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"ok": !failed, "findings": items}))?
            )?;
        }
        Output::Table if findings.is_empty() && ctx.quiet => {}
        Output::Table => {
            let mut t = table::new(&["severity", "network", "file", "field", "finding"]);
            for f in &findings {
                let mut text = String::new();
                if !f.plugin.is_empty() {
                    let _ = write!(text, "{}: ", f.plugin);
                }
                text.push_str(&f.message);
                if let Some(fix) = &f.fix {
                    let _ = write!(text, " (fix: {fix})");
                }
                t.add_row([
                    f.severity.to_string(),
                    f.network.clone(),
                    f.file.as_deref().map(file_label).unwrap_or_default(),
                    f.path.clone(),
                    text,
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

/// A file as the table shows it: its name (the JSON and JUnit reports have the full path).
fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// XML text with `&`, `<`, `>`, `"` and `'` escaped, and the characters XML 1.0 cannot
/// carry left out.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The findings as JUnit XML: a test suite `cnitool validate` with one test case per
/// network (named by the network, its class the file) and one for what is about no single
/// network; a case with an error (with `strict`, a warning) fails, and lists every finding
/// of the case in its failure's text; other findings go to `system-out`.
fn junit(findings: &[Finding], nets: &[Network], strict: bool) -> String {
    // Cases in the order networks were checked, then any name only findings carry.
    let mut cases: Vec<(String, Option<PathBuf>)> = nets
        .iter()
        .map(|n| (n.name.clone(), n.file.clone()))
        .collect();
    for f in findings {
        if !cases.iter().any(|(n, file)| {
            *n == f.network && (f.network.is_empty() || *file == f.file || f.file.is_none())
        }) {
            cases.push((f.network.clone(), f.file.clone()));
        }
    }
    let belongs = |f: &Finding, name: &str, file: &Option<PathBuf>| {
        f.network == name && (f.file.is_none() || f.file == *file || name.is_empty())
    };
    let failing = |s: Severity| s == Severity::Error || (strict && s == Severity::Warning);
    let line = |f: &Finding| {
        let mut l = format!("{}: ", f.severity);
        if let Some(file) = &f.file {
            let _ = write!(l, "{}: ", file.display());
        }
        if f.path != "." && !f.path.is_empty() {
            let _ = write!(l, "{}: ", f.path);
        }
        if !f.plugin.is_empty() {
            let _ = write!(l, "{}: ", f.plugin);
        }
        l.push_str(&f.message);
        if let Some(fix) = &f.fix {
            let _ = write!(l, " (fix: {fix})");
        }
        l
    };
    let mut body = String::new();
    let mut failures = 0;
    for (name, file) in &cases {
        let mine: Vec<&Finding> = findings.iter().filter(|f| belongs(f, name, file)).collect();
        let bad: Vec<&&Finding> = mine.iter().filter(|f| failing(f.severity)).collect();
        let label = if name.is_empty() {
            "netconf directories"
        } else {
            name
        };
        let class = file.as_ref().map_or_else(
            || "cnitool validate".to_owned(),
            |f| f.display().to_string(),
        );
        let _ = write!(
            body,
            "    <testcase name=\"{}\" classname=\"{}\"",
            xml(label),
            xml(&class)
        );
        let rest: Vec<String> = mine
            .iter()
            .filter(|f| !failing(f.severity) && f.severity != Severity::Info)
            .map(|f| line(f))
            .collect();
        if bad.is_empty() && rest.is_empty() {
            body.push_str("/>\n");
            continue;
        }
        body.push_str(">\n");
        if let Some(first) = bad.first() {
            failures += 1;
            let text: Vec<String> = bad.iter().map(|f| line(f)).collect();
            let _ = writeln!(
                body,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                first.severity,
                xml(&format!(
                    "{} ({} finding{})",
                    first.message,
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" }
                )),
                xml(&text.join("\n"))
            );
        }
        if !rest.is_empty() {
            let _ = writeln!(
                body,
                "      <system-out>{}</system-out>",
                xml(&rest.join("\n"))
            );
        }
        body.push_str("    </testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cnitool validate\" tests=\"{n}\" failures=\"{failures}\">\n  \
         <testsuite name=\"cnitool validate\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\">\n{body}  </testsuite>\n</testsuites>\n",
        n = cases.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_report() {
        let file = PathBuf::from("/etc/cni/net.d/10-a.conflist");
        let mut err = Finding::new(Severity::Error, "a", "bridge", "gateway <x> & \"y\"".into())
            .in_file(&file);
        err.path = ".plugins[0].ipam.ranges[0][0].gateway".into();
        let warn = Finding::new(Severity::Warning, "a", "", "overlap".into()).in_file(&file);
        let info = Finding::new(Severity::Info, "b", "", "fine".into());
        let nets = [
            Network {
                name: "a".into(),
                file: Some(file.clone()),
                footprint: Default::default(),
            },
            Network {
                name: "b".into(),
                file: None,
                footprint: Default::default(),
            },
        ];
        let all = [err, warn, info];
        let report = junit(&all, &nets, false);
        assert_eq!(
            report,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"cnitool validate\" tests=\"2\" failures=\"1\">\n  \
             <testsuite name=\"cnitool validate\" tests=\"2\" failures=\"1\" errors=\"0\">\n    \
             <testcase name=\"a\" classname=\"/etc/cni/net.d/10-a.conflist\">\n      \
             <failure type=\"error\" message=\"gateway &lt;x&gt; &amp; &quot;y&quot; (1 finding)\">error: /etc/cni/net.d/10-a.conflist: \
             .plugins[0].ipam.ranges[0][0].gateway: bridge: gateway &lt;x&gt; &amp; &quot;y&quot;</failure>\n      \
             <system-out>warning: /etc/cni/net.d/10-a.conflist: overlap</system-out>\n    \
             </testcase>\n    \
             <testcase name=\"b\" classname=\"cnitool validate\"/>\n  \
             </testsuite>\n</testsuites>\n"
        );
        // --strict: the warning fails too, in the same case.
        let strict = junit(&all, &nets, true);
        assert!(strict.contains("(2 findings)"), "{strict}");
        assert!(!strict.contains("system-out"), "{strict}");
    }
}
