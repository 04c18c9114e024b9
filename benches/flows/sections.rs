//! The comparisons, one function per report section (memory is in `rss.rs`).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Map};

use crate::floor::{floor_add, floor_del, plugin_stdin};
use crate::harness::{run_code, run_ok, Bench, Netns};
use crate::report::Report;
use crate::stats::{interleave, ms, ratio, show_ratio, timed, Arm, Samples};
use crate::{Opts, PLUGIN_DIR, SEQUENTIAL_ENV};

/// Process start-up: `cnitool --version` against exec'ing `/bin/true`.
pub(crate) fn startup(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let mut arms: Vec<Arm<'_>> = vec![
        Box::new(|| timed(|| run_ok(&mut Command::new("/bin/true")))),
        Box::new(|| timed(|| run_ok(env.cnitool().arg("--version")))),
        Box::new(|| timed(|| run_ok(env.cnitool().args(["status", "lo"])))),
    ];
    let s = interleave(opts, &mut arms)?;
    let mut t = String::from("### Start-up\n\nThe cost of starting the binary at all, against the exec floor.\n\n| command | median (p25–p75) | ratio to `/bin/true` |\n|---|---|---|\n");
    for (name, x) in [
        ("`/bin/true`", &s[0]),
        ("`cnitool --version`", &s[1]),
        (
            "`cnitool status lo` (parse, find, load 7 netconfs; no plugin runs below CNI 1.1.0)",
            &s[2],
        ),
    ] {
        let _ = writeln!(
            t,
            "| {name} | {} | {} |",
            x.show(),
            show_ratio(ratio(x, &s[0]))
        );
    }
    report.section(t);
    Ok(())
}

/// Items 1 and 2: `cnitool add` + `del` against the plugins' ADD and DEL called directly.
pub(crate) fn overhead(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let mut t = String::from(
        "### 1–2. Overhead over the plugin floor\n\n\
         `cnitool add NET NETNS` then `cnitool del NET NETNS`, against executing the same plugins' ADD (in order, each given the previous result) \
         and DEL (in reverse, with the result as `prevResult`) directly from the harness with the same environment and stdin. \
         All arms use the same persistent namespace, alternately. The middle arm adds two runs of `/bin/true` to the floor: \
         the least any tool that is a process of its own can add (exec'ing a minimal C program, twice).\n\n\
         | network | plugin floor | floor + 2 × `/bin/true` | cnitool add+del | ratio to floor (per-iteration p25–p75) | ratio to floor + 2 × `/bin/true` | tool's cost over the floor |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (net, publish) in [("lo", false), ("br", false), ("chain", true)] {
        let ns = Netns::new(&format!("bench-{net}"))?;
        let path = ns.path();
        let list = env.list(net).clone();
        let mut caps = Map::new();
        let mut tool_args: Vec<String> = Vec::new();
        if publish {
            caps.insert(
                "portMappings".into(),
                json!([{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]),
            );
            tool_args.extend(["--publish".into(), "18080:80".into()]);
        }
        let mut arms: Vec<Arm<'_>> = vec![
            Box::new(|| {
                timed(|| {
                    let r = floor_add(&list, &caps, &path, "eth0", "bench-floor")?;
                    floor_del(&list, &caps, &path, "eth0", "bench-floor", &r)
                })
            }),
            Box::new(|| {
                timed(|| {
                    run_ok(&mut Command::new("/bin/true"))?;
                    let r = floor_add(&list, &caps, &path, "eth0", "bench-floor")?;
                    run_ok(&mut Command::new("/bin/true"))?;
                    floor_del(&list, &caps, &path, "eth0", "bench-floor", &r)
                })
            }),
            Box::new(|| {
                timed(|| {
                    run_ok(env.cnitool().args(["add", net, &path]).args(&tool_args))?;
                    run_ok(env.cnitool().args(["del", net, &path]))
                })
            }),
        ];
        let s = interleave(opts, &mut arms)?;
        let r = ratio(&s[2], &s[0]);
        let r_exec = ratio(&s[2], &s[1]);
        let cost = s[2].median() - s[0].median();
        let label = match net {
            "lo" => "loopback",
            "br" => "bridge + host-local",
            _ => "bridge + host-local + portmap + firewall + tuning",
        };
        let _ = writeln!(
            t,
            "| {label} | {} | {} | {} | {} | {} | {} |",
            s[0].show(),
            s[1].show(),
            s[2].show(),
            show_ratio(r),
            show_ratio(r_exec),
            ms(cost)
        );
        let item = if net == "lo" { "1" } else { "2" };
        report.goal(
            &format!("{item}. `add`+`del` of {label} within 1.05 of the plugin floor"),
            format!("{:.3} (+{})", r.0, ms(cost)),
            r.0 <= 1.05,
        );
    }
    report.section(t);
    Ok(())
}

/// The shell flow `run` is measured against: the least a script can do for the same work.
pub(crate) fn shell_floor_script(env: &Bench) -> Result<PathBuf> {
    let conf = env.root.join("floor-br.json");
    let list = env.list("br");
    fs::write(
        &conf,
        plugin_stdin(list, &list["plugins"][0], &Map::new(), None),
    )?;
    let script = format!(
        "set -e\n\
         ns=bench-sh\n\
         export CNI_CONTAINERID=bench-sh CNI_NETNS=/run/netns/$ns CNI_IFNAME=eth0 CNI_PATH={PLUGIN_DIR}\n\
         ip netns add $ns\n\
         ip -n $ns link set lo up\n\
         CNI_COMMAND=ADD {PLUGIN_DIR}/bridge < {conf} > /dev/null\n\
         ip netns exec $ns true\n\
         CNI_COMMAND=DEL {PLUGIN_DIR}/bridge < {conf} > /dev/null\n\
         ip netns del $ns\n",
        conf = conf.display()
    );
    let path = env.root.join("floor-run.sh");
    fs::write(&path, &script)?;
    Ok(path)
}

/// `cnitool run --net br -- true` against the shell floor.
pub(crate) fn run_vs_shell(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let script = shell_floor_script(env)?;
    let mut arms: Vec<Arm<'_>> = vec![
        Box::new(|| timed(|| run_ok(Command::new("/bin/sh").arg(&script).stdout(Stdio::null())))),
        Box::new(|| timed(|| run_ok(env.cnitool().args(["run", "--net", "br", "--", "true"])))),
    ];
    let s = interleave(opts, &mut arms)?;
    let r = ratio(&s[1], &s[0]);
    let text = fs::read_to_string(&script)?;
    let t = format!(
        "### 3. `run` against the fastest shell flow\n\n\
         `cnitool run --net br -- true` (bridge + host-local) against this script under `/bin/sh` (dash): namespace, `lo` up, the plugin's ADD, \
         `ip netns exec`, DEL, namespace removal.\n\n```sh\n{text}```\n\n\
         | flow | median (p25–p75) |\n|---|---|\n| shell floor | {} |\n| `cnitool run -- true` | {} |\n| ratio | {} |\n",
        s[0].show(),
        s[1].show(),
        show_ratio(r)
    );
    report.goal(
        "3. `run -- true` not slower than the shell floor",
        format!("{:.3}", r.0),
        r.0 <= 1.0,
    );
    report.section(t);
    Ok(())
}

/// Two and four networks in one `run`, the default against the one-after-another
/// baseline (`CNITOOL_RUN_SEQUENTIAL=1`).
pub(crate) fn multi_net(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let mut t = format!(
        "### 4. Several networks in one `run`\n\n\
         `cnitool run --net par0 ... --net parN-1 -- true` (independent bridge + host-local networks). The baseline arm sets `{SEQUENTIAL_ENV}=1`, \
         which asks `run` to set the networks up and tear them down one after another; the other arm is the default. \
         The one-network `run` is shown for scale.\n\n\
         | networks | one after another | default | speedup |\n|---|---|---|---|\n"
    );
    let one = {
        let mut arms: Vec<Arm<'_>> = vec![Box::new(|| {
            timed(|| run_ok(env.cnitool().args(["run", "--net", "par0", "--", "true"])))
        })];
        interleave(opts, &mut arms)?.remove(0)
    };
    let _ = writeln!(t, "| 1 | {} | {} | – |", one.show(), one.show());
    for n in [2usize, 4] {
        let mut args: Vec<String> = vec!["run".into()];
        for i in 0..n {
            args.extend(["--net".into(), format!("par{i}")]);
        }
        args.extend(["--".into(), "true".into()]);
        let mut arms: Vec<Arm<'_>> = vec![
            Box::new(|| timed(|| run_ok(env.cnitool().args(&args).env(SEQUENTIAL_ENV, "1")))),
            Box::new(|| timed(|| run_ok(env.cnitool().args(&args)))),
        ];
        let s = interleave(opts, &mut arms)?;
        let r = ratio(&s[0], &s[1]);
        let _ = writeln!(
            t,
            "| {n} | {} | {} | {} |",
            s[0].show(),
            s[1].show(),
            show_ratio(r)
        );
        report.figure(
            &format!("4. {n} networks in one `run`: speedup over one after another"),
            format!("{:.2}×", r.0),
        );
    }
    report.section(t);
    Ok(())
}

/// Finding a network among 10, 1,000 and 10,000 netconfs.
pub(crate) fn lookup(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    let sizes = [10usize, 1000, 10000];
    let mut dirs = Vec::new();
    for &n in &sizes {
        let dir = env.root.join(format!("lookup/{n}"));
        fs::create_dir_all(&dir)?;
        for i in 0..n {
            let body = format!(
                "{{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"net{i}\",\n  \"plugins\": [\n    {{ \"type\": \"loopback\" }}\n  ]\n}}\n"
            );
            fs::write(dir.join(format!("{i:05}-net{i}.conflist")), body)?;
        }
        dirs.push((n, dir));
    }
    let mut arms: Vec<Arm<'_>> = Vec::new();
    for (n, dir) in &dirs {
        let last = format!("net{}", n - 1);
        arms.push(Box::new(move || {
            timed(|| {
                run_ok(
                    env.cnitool()
                        .env("NETCONFPATH", dir)
                        .args(["status", &last]),
                )
            })
        }));
        arms.push(Box::new(move || {
            timed(|| {
                let code = run_code(
                    env.cnitool()
                        .env("NETCONFPATH", dir)
                        .args(["status", "missing"]),
                )?;
                if code != 3 {
                    bail!("status of a missing network exited {code}, expected 3");
                }
                Ok(())
            })
        }));
    }
    let s = interleave(opts, &mut arms)?;
    let mut t = String::from(
        "### 5. Lookup cost as the config dir grows\n\n\
         `cnitool status NAME` with `NETCONFPATH` holding N `.conflist` files (CNI 1.0.0, so STATUS runs no plugin: the time is start-up plus lookup). \
         The last network is the last file in lookup order; the missing one makes the tool read every file.\n\n\
         | netconfs | last network | missing network | extra per 1,000 files (last) |\n|---|---|---|---|\n",
    );
    let base = s[0].median();
    for (k, (n, _)) in dirs.iter().enumerate() {
        let (last, missing) = (&s[2 * k], &s[2 * k + 1]);
        let per = if *n > 10 {
            ms((last.median() - base) / (*n as f64 - 10.0) * 1000.0)
        } else {
            "–".into()
        };
        let _ = writeln!(t, "| {n} | {} | {} | {per} |", last.show(), missing.show());
    }
    let worst = s[4].median().max(s[5].median());
    report.goal(
        "5. lookup among 10,000 netconfs under 50 ms",
        ms(worst),
        worst < 50.0,
    );
    report.section(t);
    Ok(())
}

/// 20 `run -- true`s at once on one bridge network, against 20 one after another.
pub(crate) fn concurrent_runs(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    const N: usize = 20;
    let failures = std::cell::Cell::new(0usize);
    let batch = |concurrent: bool| -> Result<Duration> {
        let start = Instant::now();
        if concurrent {
            let children: Vec<_> = (0..N)
                .map(|_| {
                    env.cnitool()
                        .args(["run", "--net", "br", "--", "true"])
                        .stderr(Stdio::null())
                        .spawn()
                })
                .collect::<Result<_, _>>()?;
            for mut c in children {
                if !c.wait()?.success() {
                    failures.set(failures.get() + 1);
                }
            }
        } else {
            for _ in 0..N {
                run_ok(env.cnitool().args(["run", "--net", "br", "--", "true"]))?;
            }
        }
        Ok(start.elapsed())
    };
    let mut arms: Vec<Arm<'_>> = vec![Box::new(|| batch(false)), Box::new(|| batch(true))];
    let s = interleave(Opts { warmup: 1, ..opts }, &mut arms)?;
    let r = ratio(&s[0], &s[1]);
    let per_s = |x: &Samples| N as f64 / (x.median() / 1000.0);
    let t = format!(
        "### 7. Throughput of 20 `run -- true`s on one bridge network\n\n\
         | batch of 20 | wall time | runs/s |\n|---|---|---|\n\
         | one after another | {} | {:.1} |\n| all at once | {} | {:.1} |\n| throughput ratio | {} | |\n\n\
         Failed concurrent runs: {} of {}.\n",
        s[0].show(),
        per_s(&s[0]),
        s[1].show(),
        per_s(&s[1]),
        show_ratio(r),
        failures.get(),
        N * (opts.iters + 1)
    );
    report.goal(
        "7. 20 concurrent `run`s: throughput against sequential (report; all must succeed)",
        format!("{:.2}×, {} failed", r.0, failures.get()),
        failures.get() == 0,
    );
    report.section(t);
    Ok(())
}

/// `cnitool validate` of 3,000 netconfs of five reference plugins each (bridge with
/// host-local, portmap, bandwidth, firewall, tuning), every rule and the checks across
/// networks included; VERSION is asked once per plugin binary (counted with `--trace`).
pub(crate) fn validate_many(env: &Bench, opts: Opts, report: &mut Report) -> Result<()> {
    const N: usize = 3000;
    let dir = env.root.join("validate");
    fs::create_dir_all(&dir)?;
    for i in 0..N {
        let list = json!({"cniVersion": "1.0.0", "name": format!("net{i}"), "plugins": [
            {"type": "bridge", "bridge": format!("vbr{i}"), "isGateway": true, "ipMasq": true,
             "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": format!("10.{}.{}.0/24", 100 + i / 256, i % 256)}]]}},
            {"type": "portmap", "capabilities": {"portMappings": true}},
            {"type": "bandwidth", "ingressRate": 1_000_000, "ingressBurst": 100_000},
            {"type": "firewall"},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"}}]});
        fs::write(
            dir.join(format!("{i:05}-net{i}.conflist")),
            serde_json::to_vec_pretty(&list)?,
        )?;
    }
    let trace = env.root.join("validate.trace");
    let _ = fs::remove_file(&trace);
    run_ok(
        env.cnitool()
            .env("NETCONFPATH", &dir)
            .arg("--trace")
            .arg(&trace)
            .args(["-q", "validate", "--strict"]),
    )?;
    let versions = fs::read_to_string(&trace)?.lines().count();
    if versions != 6 {
        bail!("validate asked VERSION {versions} times for 6 plugin binaries");
    }
    let mut arms: Vec<Arm<'_>> = vec![Box::new(|| {
        timed(|| {
            run_ok(
                env.cnitool()
                    .env("NETCONFPATH", &dir)
                    .args(["-q", "validate", "--strict"]),
            )
        })
    })];
    let s = interleave(opts, &mut arms)?;
    let mut t = String::from(
        "### Validate 3,000 netconfs\n\n\
         `cnitool -q validate --strict` of 3,000 `.conflist` files of five reference plugins each \
         (bridge with host-local, portmap, bandwidth, firewall, tuning): every rule, the host \
         checks and the checks across networks. VERSION is asked once per plugin binary (6 \
         calls, counted with `--trace`).\n\n| netconfs | median (p25–p75) |\n|---|---|\n",
    );
    let _ = writeln!(t, "| {N} | {} |", s[0].show());
    report.goal(
        "validate of 3,000 netconfs well under 1 s (goal: 500 ms)",
        ms(s[0].median()),
        s[0].median() < 500.0,
    );
    report.section(t);
    Ok(())
}
