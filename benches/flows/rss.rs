//! Peak resident memory of a process at its exit (read at its exit stop under ptrace), and
//! the memory section.

use std::fmt::Write as _;
use std::fs;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Result};

use crate::harness::{Bench, Netns};
use crate::report::Report;
use crate::stats::Samples;
use crate::Opts;

/// Memory of a process at its exit, in KiB.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Rss {
    /// VmHWM: the peak resident set.
    pub(crate) hwm: u64,
    /// RssAnon at exit: heap, stacks, relocated data.
    pub(crate) anon: u64,
    /// RssFile at exit: pages of the binary and the shared libraries.
    pub(crate) file: u64,
    /// CPU time of the process from its exec to its exit, in ns (`/proc/PID/schedstat`;
    /// single-threaded commands only: other threads' time is not counted).
    pub(crate) cpu_ns: u64,
}

pub(crate) fn show_rss(r: Rss) -> String {
    let mib = |k: u64| k as f64 / 1024.0;
    format!(
        "{:.2} MiB ({:.2} + {:.2})",
        mib(r.hwm),
        mib(r.anon),
        mib(r.file)
    )
}

/// Peak resident memory (VmHWM) of the tool's own process, read when it exits: the harness
/// starts it stopped, attaches with ptrace asking for an exec and an exit stop, and reads
/// `/proc/PID/status` there. The plugins (children) are not counted, unlike `wait4`'s maxrss.
/// Also the CPU time between the two stops (`/proc/PID/schedstat`).
pub(crate) fn peak_rss(cmd: &mut Command) -> Result<Rss> {
    use nix::sys::ptrace;
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;

    let mut wrapper = Command::new("/bin/sh");
    wrapper
        .arg("-c")
        .arg("kill -STOP $$; exec \"$0\" \"$@\"")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapper.env(k, v),
            None => wrapper.env_remove(k),
        };
    }
    wrapper
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = wrapper.spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    match waitpid(pid, Some(WaitPidFlag::WUNTRACED))? {
        WaitStatus::Stopped(_, Signal::SIGSTOP) => {}
        other => bail!("wrapper did not stop: {other:?}"),
    }
    ptrace::seize(
        pid,
        ptrace::Options::PTRACE_O_TRACEEXIT | ptrace::Options::PTRACE_O_TRACEEXEC,
    )?;
    kill(pid, Signal::SIGCONT)?;
    let cpu = || -> Result<u64> {
        let s = fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
        Ok(s.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    };
    let mut rss = None;
    let mut exec_cpu = 0;
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL))? {
            WaitStatus::PtraceEvent(_, _, ev) if ev == ptrace::Event::PTRACE_EVENT_EXEC as i32 => {
                exec_cpu = cpu()?;
                ptrace::cont(pid, None)?;
            }
            WaitStatus::PtraceEvent(_, _, ev) if ev == ptrace::Event::PTRACE_EVENT_EXIT as i32 => {
                let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
                let field = |name: &str| -> u64 {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.split_whitespace().next()?.parse().ok())
                        .unwrap_or(0)
                };
                rss = Some(Rss {
                    hwm: field("VmHWM:"),
                    anon: field("RssAnon:"),
                    file: field("RssFile:"),
                    cpu_ns: cpu()?.saturating_sub(exec_cpu),
                });
                ptrace::cont(pid, None)?;
            }
            WaitStatus::PtraceEvent(..) => ptrace::cont(pid, None)?,
            WaitStatus::Stopped(_, sig) => {
                let inject = (!matches!(sig, Signal::SIGSTOP | Signal::SIGCONT)).then_some(sig);
                ptrace::cont(pid, inject)?;
            }
            WaitStatus::Exited(_, 0) => break,
            WaitStatus::Exited(_, code) => bail!("{:?} exited {code}", cmd.get_program()),
            WaitStatus::Signaled(_, sig, _) => bail!("{:?} killed by {sig}", cmd.get_program()),
            _ => {}
        }
    }
    rss.ok_or_else(|| anyhow!("no VmHWM read at exit"))
}

/// The run with the highest peak, and the runs' CPU times (ms).
pub(crate) fn worst(runs: impl IntoIterator<Item = Result<Rss>>) -> Result<(Rss, Samples)> {
    let mut w = Rss::default();
    let mut cpu = Samples::default();
    for r in runs {
        let r = r?;
        cpu.0.push(r.cpu_ns as f64 / 1e6);
        if r.hwm > w.hwm {
            w = r;
        }
    }
    Ok((w, cpu))
}

/// A row of the memory table.
pub(crate) fn rss_row(t: &mut String, what: &str, (rss, cpu): &(Rss, Samples)) {
    let _ = writeln!(t, "| {what} | {} | {} |", show_rss(*rss), cpu.show());
}

/// Peak resident memory of `cnitool add`.
pub(crate) fn memory(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let mut t = String::from(
        "### 6. Peak resident memory of the tool's own process\n\n\
         VmHWM of the `cnitool` process at its exit (ptrace exit stop), plugins not counted; the largest of the runs, \
         with the resident set at exit split into anonymous + file-backed (binary and shared libraries). \
         Beside it the process's own CPU time from its exec to its exit (`/proc/PID/schedstat` at ptrace exec and exit \
         stops; the main thread only, which is all of `add` and `del`), median (p25–p75): a figure the machine's load \
         moves much less than wall time.\n\n\
         | command | peak RSS (anonymous + file-backed at exit) | own CPU time |\n|---|---|---|\n",
    );
    let rounds = if opts.quick { 2 } else { 8 };
    let mut worst_add = 0;
    for net in ["lo", "br", "chain"] {
        let ns = Netns::new(&format!("bench-mem-{net}"))?;
        let path = ns.path();
        let mut adds = Vec::new();
        let mut dels = Vec::new();
        for _ in 0..rounds {
            adds.push(peak_rss(env.cnitool().args(["add", net, &path])));
            dels.push(peak_rss(env.cnitool().args(["del", net, &path])));
        }
        let (add, del) = (worst(adds)?, worst(dels)?);
        worst_add = worst_add.max(add.0.hwm);
        rss_row(&mut t, &format!("`cnitool add {net}`"), &add);
        rss_row(&mut t, &format!("`cnitool del {net}`"), &del);
    }
    let run = worst(
        (0..rounds.min(4))
            .map(|_| peak_rss(env.cnitool().args(["run", "--net", "br", "--", "true"]))),
    )?;
    rss_row(
        &mut t,
        "`cnitool run --net br -- true` (CPU: main thread only)",
        &run,
    );
    let ver = worst((0..rounds).map(|_| peak_rss(env.cnitool().arg("--version"))))?;
    rss_row(&mut t, "`cnitool --version`", &ver);
    let tru = worst((0..rounds).map(|_| peak_rss(&mut Command::new("/bin/true"))))?;
    rss_row(&mut t, "`/bin/true`, for scale", &tru);
    let mib = worst_add as f64 / 1024.0;
    report.goal(
        "6. peak RSS of `cnitool add` under 3 MiB",
        format!("{mib:.2} MiB"),
        mib < 3.0,
    );
    report.section(t);
    Ok(())
}
