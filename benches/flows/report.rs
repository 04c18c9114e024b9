//! The report: sections, the machine it ran on, and the generated part of docs/BENCHMARKS.md.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;

use anyhow::{Context as _, Result};

use crate::{cnitool_bin, Opts, BEGIN, END};

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) sections: Vec<String>,
    /// What, the figure, and whether it is met (`None`: a figure to report, no threshold).
    pub(crate) goals: Vec<(String, String, Option<bool>)>,
}

impl Report {
    pub(crate) fn section(&mut self, text: String) {
        self.sections.push(text);
    }

    pub(crate) fn goal(&mut self, what: &str, measured: String, met: bool) {
        self.goals.push((what.to_owned(), measured, Some(met)));
    }

    pub(crate) fn figure(&mut self, what: &str, measured: String) {
        self.goals.push((what.to_owned(), measured, None));
    }

    pub(crate) fn render(&self, machine: &str, opts: Opts) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{BEGIN}\n");
        let _ = writeln!(s, "## Results\n");
        let _ = writeln!(s, "{machine}");
        let _ = writeln!(
            s,
            "Iterations: {} per comparison ({} for the run, multi-network, lookup and names comparisons, {} for the 20-run batches), after {} warm-up; arms interleaved, order rotating.{}\n",
            opts.iters,
            opts.scaled(2).iters,
            opts.scaled(6).iters,
            opts.warmup,
            if opts.quick { " **Quick run: too few iterations to trust.**" } else { "" }
        );
        let _ = writeln!(s, "### Goals\n");
        let _ = writeln!(s, "| goal | measured | met |\n|---|---|---|");
        for (what, measured, met) in &self.goals {
            let _ = writeln!(
                s,
                "| {what} | {measured} | {} |",
                match met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "(report)",
                }
            );
        }
        s.push('\n');
        for sec in &self.sections {
            s.push_str(sec);
            s.push('\n');
        }
        let _ = writeln!(s, "{END}");
        s
    }
}

pub(crate) fn write_report(generated: &str) -> Result<()> {
    let out = std::env::var("BENCH_OUT").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/BENCHMARKS.md")
            .to_string_lossy()
            .into_owned()
    });
    print!("{generated}");
    if out == "-" {
        return Ok(());
    }
    let old = fs::read_to_string(&out).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{}{}",
                &old[..b],
                generated,
                &old[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ if old.is_empty() => format!("# Benchmarks\n\n{generated}"),
        _ => format!("{}\n{generated}", old.trim_end()),
    };
    // The file belongs to the invoking user even though we run as root in a private mount
    // namespace; the repository is outside /run, so this writes the real file.
    fs::write(&out, new).with_context(|| format!("writing {out}"))?;
    eprintln!("flows: wrote {out}");
    Ok(())
}

pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn machine_info() -> String {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let mem = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or("?".into(), |kb| format!("{:.1} GiB", kb as f64 / 1048576.0));
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_default();
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    let stdout = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let plugins = stdout(Command::new("dpkg-query").args([
        "-W",
        "-f=${Version}",
        "containernetworking-plugins",
    ]));
    let manifest = env!("CARGO_MANIFEST_DIR");
    let commit = stdout(Command::new("git").args(["-C", manifest, "rev-parse", "--short", "HEAD"]));
    let dirty = !stdout(Command::new("git").args([
        "-C",
        manifest,
        "status",
        "--porcelain",
        "--untracked-files=no",
    ]))
    .is_empty();
    let iptables = stdout(Command::new("iptables").arg("--version"));
    format!(
        "Machine: {cpu}, {cores} cores, {mem} RAM; {os}, Linux {kernel}; containernetworking-plugins {plugins}; {iptables}.  \n\
         cnitool: commit {commit}{}, release profile, {} ({}).\n",
        if dirty { " + uncommitted changes" } else { "" },
        linking(cnitool_bin()),
        cnitool_bin(),
    )
}

/// "static-pie" or "dynamically linked": whether the ELF file asks for an interpreter.
pub(crate) fn linking(path: &str) -> &'static str {
    let interp = Command::new("readelf")
        .args(["-lW", path])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("INTERP"))
        .unwrap_or(true);
    if interp {
        "dynamically linked"
    } else {
        "static-pie"
    }
}
