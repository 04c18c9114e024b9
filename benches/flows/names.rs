//! What names between runs cost a run's start: `run -- true` and `run --name probe -- true`
//! on the bridge network while 0, 1, 10 and 100 named runs live on it.
//!
//! Every run as root reads the live run records once under their lock (to write the names
//! into its hosts file), and a named run also rewrites the hosts file of every live run on
//! its networks when it starts and when it ends (`src/supervise/names.rs`): both grow with the
//! number of live runs. `cnitool names` (the reading alone) and the plugin floor (the
//! plugins called directly) are measured beside them.

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{Map, Value};

use crate::floor::{floor_add, floor_del};
use crate::harness::{run_ok, Bench, Netns};
use crate::report::Report;
use crate::stats::{interleave, ms, timed, Arm, Samples};
use crate::Opts;

/// The network every run of the section is on (bridge + host-local, a /24).
const NET: &str = "br";
/// How many live named runs each level keeps up.
const LEVELS: [usize; 4] = [0, 1, 10, 100];
/// Live runs started at once: one batch is up before the next starts.
const BATCH: usize = 10;

/// Named runs `cnitool run --name rN --net br -- cat`, each waiting for the end of its stdin
/// (a pipe the harness holds). Dropping this closes the pipes and waits for the runs.
struct LiveRuns<'a> {
    env: &'a Bench,
    children: Vec<Child>,
}

impl<'a> LiveRuns<'a> {
    /// Starts `n` named runs, a batch at a time, and returns when `cnitool names` lists every
    /// one of them with its address.
    fn start(env: &'a Bench, n: usize) -> Result<LiveRuns<'a>> {
        let mut live = LiveRuns {
            env,
            children: Vec::new(),
        };
        while live.children.len() < n {
            let end = (live.children.len() + BATCH).min(n);
            for i in live.children.len()..end {
                let child = env
                    .cnitool()
                    .args(["run", "--name", &format!("r{i}"), "--net", NET, "--", "cat"])
                    .stdin(Stdio::piped())
                    .spawn()
                    .context("starting a live named run")?;
                live.children.push(child);
            }
            live.wait_for(end)?;
        }
        Ok(live)
    }

    /// Polls `cnitool names` until it lists `r0`..`r{n-1}` with addresses and nothing else;
    /// fails when a run ended or after a generous limit.
    fn wait_for(&mut self, n: usize) -> Result<()> {
        let want: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let start = Instant::now();
        loop {
            let mut up = names(self.env)?
                .into_iter()
                .filter(|(_, addrs)| *addrs > 0)
                .map(|(name, _)| name)
                .collect::<Vec<_>>();
            up.sort_by_key(|name| name[1..].parse::<usize>().unwrap_or(usize::MAX));
            if up == want {
                return Ok(());
            }
            for c in &mut self.children {
                if let Some(status) = c.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    bail!("a live named run ended early ({status}): {}", err.trim());
                }
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "after 2 minutes, `cnitool names` lists {up:?}, not r0..r{}",
                    n - 1
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes every run's stdin, waits for the runs and checks they ended well and left no
    /// name and no run record behind.
    fn stop(mut self) -> Result<()> {
        let failed = self.end();
        if failed > 0 {
            bail!("{failed} live named run(s) failed at their end");
        }
        let left = names(self.env)?;
        if !left.is_empty() {
            bail!("names left after the live runs ended: {left:?}");
        }
        let records = self.env.cache.join("cnitool-runs");
        let files = fs::read_dir(&records).map_or(0, |rd| rd.count());
        if files > 0 {
            bail!("{files} file(s) left in {}", records.display());
        }
        Ok(())
    }

    /// Ends the runs (their `cat` sees the end of its input) and returns how many failed.
    fn end(&mut self) -> usize {
        for c in &mut self.children {
            drop(c.stdin.take());
        }
        let mut failed = 0;
        for mut c in self.children.drain(..) {
            let mut err = String::new();
            if let Some(mut e) = c.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            match c.wait() {
                Ok(s) if s.success() => {}
                other => {
                    failed += 1;
                    eprintln!("flows: live named run: {other:?}: {}", err.trim());
                }
            }
        }
        failed
    }
}

impl Drop for LiveRuns<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

/// `cnitool -o json names br`: (name, number of addresses) of each entry.
fn names(env: &Bench) -> Result<Vec<(String, usize)>> {
    let out = env
        .cnitool()
        .args(["-o", "json", "names", NET])
        .stdout(Stdio::piped())
        .output()?;
    if !out.status.success() {
        bail!(
            "cnitool names failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing `cnitool names`")?;
    Ok(v.as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            let addrs = e["addresses"].as_array().map_or(0, Vec::len);
            (name, addrs)
        })
        .collect())
}

/// The section: for each level, the live runs are started once, the four arms (two runs,
/// `cnitool names`, the plugin floor) interleaved, and the live runs ended and checked gone
/// before the next level.
pub(crate) fn names_section(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let ns = Netns::new("bench-names")?;
    let path = ns.path();
    let mut rows: Vec<(usize, Vec<Samples>)> = Vec::new();
    for n in LEVELS {
        let live = LiveRuns::start(env, n)?;
        let list = env.list(NET).clone();
        let mut arms: Vec<Arm<'_>> = vec![
            Box::new(|| timed(|| run_ok(env.cnitool().args(["run", "--net", NET, "--", "true"])))),
            Box::new(|| {
                timed(|| {
                    run_ok(
                        env.cnitool()
                            .args(["run", "--name", "probe", "--net", NET, "--", "true"]),
                    )
                })
            }),
            Box::new(|| timed(|| run_ok(env.cnitool().args(["names", NET])))),
            Box::new(|| {
                timed(|| {
                    let r = floor_add(&list, &Map::new(), &path, "eth0", "bench-names")?;
                    floor_del(&list, &Map::new(), &path, "eth0", "bench-names", &r)
                })
            }),
        ];
        let mut s = interleave(opts, &mut arms)?;
        live.stop()?;
        // Paired within the level: each run less the plugin floor of the same iteration.
        let over_floor =
            |x: &Samples| Samples(x.0.iter().zip(&s[3].0).map(|(a, b)| a - b).collect());
        let (plain, named) = (over_floor(&s[0]), over_floor(&s[1]));
        s.extend([plain, named]);
        rows.push((n, s));
    }
    let mut t = String::from(
        "### Names: start-up with live named runs\n\n\
         `cnitool run --net br -- true` and `cnitool run --name probe --net br -- true` (bridge + host-local) \
         while N named runs live on the same network (`cnitool run --name rN --net br -- cat`, each reading a pipe \
         the harness holds; started once per level, 10 at a time, and up when `cnitool names -o json` lists \
         them all with their addresses; ended by closing the pipes and checked gone: no name, no run record). \
         Every run reads the live runs' records once under their lock to write its hosts file; a named run also \
         rewrites the hosts file of each live run on the network at its start and at its end. \
         Beside them `cnitool names br` (the reading alone) and the plugin floor: the bridge plugin's ADD and DEL \
         called directly on a persistent namespace (as in 1–2), what the N attachments cost the plugins \
         themselves (a bridge with N more ports, N more leases, N more `iptables` chains for `ipMasq`). The four arms are \
         interleaved within a level; the levels are measured one after another, so a change of the machine's load between \
         levels moves every arm. The last two columns take the floor of the same iteration off each run (median of the \
         per-iteration differences): the part of the run that is cnitool's, with that drift cancelled.\n\n\
         | live named runs | `run -- true` | `run --name probe -- true` | `cnitool names br` | plugin floor | `run` − floor | `run --name` − floor |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (n, s) in &rows {
        let cells: Vec<String> = s.iter().map(Samples::show).collect();
        let _ = writeln!(t, "| {n} | {} |", cells.join(" | "));
    }
    t.push_str(
        "\nAdded against no live named run (differences of the medians above):\n\n\
         | live named runs | `run -- true` | `run --name probe -- true` | `cnitool names br` | plugin floor | `run` − floor | `run --name` − floor |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let base = &rows[0].1;
    let added = |x: &Samples, b: &Samples| {
        let d = x.median() - b.median();
        format!("{}{}", if d < 0.0 { "−" } else { "+" }, ms(d.abs()))
    };
    for (n, s) in &rows[1..] {
        let cells: Vec<String> = s.iter().zip(base).map(|(x, b)| added(x, b)).collect();
        let _ = writeln!(t, "| {n} | {} |", cells.join(" | "));
    }
    let (_, top) = &rows[rows.len() - 1];
    report.figure(
        "Names: `run --name` with 100 live named runs on the network, added over none (floor taken off)",
        added(&top[5], &base[5]),
    );
    report.section(t);
    Ok(())
}
