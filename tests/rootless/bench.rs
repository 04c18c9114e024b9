//! Benchmark (scenario 15 of `docs/ROOTLESS.md`), not an assertion: `cargo test --release --test rootless
//! -- --ignored --nocapture bench`. Prints the cold run (starts and ends the shared
//! namespace), the warm run (shared namespace kept up by a background run), and the tool's
//! own time above the plugins (total minus the plugin calls `-v` reports), and the floor of
//! the harness itself (`setpriv` exec'ing `/bin/true`, included in the overhead). The tool's
//! own overhead is also printed with that floor subtracted: what is left is `cnitool`'s own
//! time, with the exec of the command `true` standing in for the floor's `/bin/true`.
//! `RL_BENCH_N` sets the number of runs per figure (default 8).
//!
//! The runtime directory (`XDG_RUNTIME_DIR`, where the generation, the run records and the
//! result cache live) is a directory of the test's temporary directory, on whatever
//! filesystem holds it (ext4 on the benchmark machine). `RL_BENCH_TMPFS=1` mounts a tmpfs
//! there first, as systemd-logind does for `/run/user/UID`, so that the figures leave out
//! the journal work of that disk.
//!
//! `RL_BENCH_OTHER=/path/to/another/cnitool` compares two builds: runs alternate between this
//! build and that binary, one run each in turn, so that both see the same machine load (on
//! a shared machine, medians of separate benchmark runs of one build differ by more than a
//! few milliseconds); each figure is then printed per build, with the median of the paired
//! differences of the overhead.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{rl_test, wait_out, Bg};

/// Parses "in 12.3ms" / "in 850.1µs" / "in 1.2s" at the end of a `-v` line.
fn plugin_time(stderr: &str) -> Duration {
    stderr
        .lines()
        .filter(|l| l.starts_with("cnitool: ADD ") || l.starts_with("cnitool: DEL "))
        .filter_map(|l| l.rsplit(" in ").next())
        .filter_map(|t| {
            let (num, mul) = if let Some(n) = t.strip_suffix("ms") {
                (n, 1e-3)
            } else if let Some(n) = t.strip_suffix("µs") {
                (n, 1e-6)
            } else if let Some(n) = t.strip_suffix("ns") {
                (n, 1e-9)
            } else {
                (t.strip_suffix('s')?, 1.0)
            };
            Some(Duration::from_secs_f64(num.parse::<f64>().ok()? * mul))
        })
        .sum()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_rootless() {
    rl_test("bench_rootless", |rl| {
        let n: usize = std::env::var("RL_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8);
        if std::env::var_os("RL_BENCH_TMPFS").is_some() {
            nix::mount::mount(
                Some("tmpfs"),
                &rl.run,
                Some("tmpfs"),
                nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
                Some(format!("mode=0700,uid={},gid={}", rl.uid, rl.gid).as_str()),
            )
            .expect("mounting a tmpfs on the runtime dir");
            println!("runtime dir on tmpfs");
        }
        let mut builds = vec![("this build", PathBuf::from(env!("CARGO_BIN_EXE_cnitool")))];
        if let Some(other) = std::env::var_os("RL_BENCH_OTHER") {
            builds.push(("other", PathBuf::from(other)));
        }
        // The harness floor: `setpriv` exec'ing `/bin/true`.
        let floor_once = || {
            let t = Instant::now();
            let st = std::process::Command::new("/usr/bin/setpriv")
                .args([
                    "--reuid",
                    &rl.uid.to_string(),
                    "--regid",
                    &rl.gid.to_string(),
                ])
                .args(["--clear-groups", "--", "/bin/true"])
                .env_clear()
                .status()
                .unwrap();
            assert!(st.success());
            t.elapsed()
        };
        let floor = median((0..n).map(|_| floor_once()).collect());
        println!("harness floor (setpriv + /bin/true): median {}", ms(floor));
        let run = |bin: &Path| {
            let t = Instant::now();
            let out = wait_out(
                rl.cmd_bin(bin, ["-v", "run", "--", "true"], &[])
                    .spawn()
                    .unwrap(),
            )
            .ok();
            let el = t.elapsed();
            (el, el.saturating_sub(plugin_time(&out.stderr)))
        };
        let measure = |label: &str| {
            let mut total = vec![Vec::new(); builds.len()];
            let mut over = vec![Vec::new(); builds.len()];
            // Per round, a floor sample: the overhead without the floor is paired with it.
            let mut floors = Vec::new();
            for i in 0..n {
                floors.push(floor_once());
                // Alternate which build goes first, so neither always follows the other.
                for k in 0..builds.len() {
                    let b = (i + k) % builds.len();
                    let (t, o) = run(&builds[b].1);
                    total[b].push(t);
                    over[b].push(o);
                }
            }
            for (b, (name, _)) in builds.iter().enumerate() {
                let name = if builds.len() > 1 {
                    format!(" [{name}]")
                } else {
                    String::new()
                };
                let own = median(
                    over[b]
                        .iter()
                        .zip(&floors)
                        .map(|(o, f)| o.saturating_sub(*f))
                        .collect(),
                );
                let over = median(over[b].clone());
                println!(
                    "rootless {label:<5} run{name}: median {} (min {}, max {}); tool overhead \
                     above the plugins: median {}, {} without the harness floor (paired per round)",
                    ms(median(total[b].clone())),
                    ms(*total[b].iter().min().unwrap()),
                    ms(*total[b].iter().max().unwrap()),
                    ms(over),
                    ms(own)
                );
            }
            if builds.len() > 1 {
                let mut sorted: Vec<f64> = over[0]
                    .iter()
                    .zip(&over[1])
                    .map(|(a, b)| (b.as_secs_f64() - a.as_secs_f64()) * 1e3)
                    .collect();
                sorted.sort_by(f64::total_cmp);
                println!(
                    "rootless {label:<5} run: overhead of [other] minus [this build], paired: \
                     median {:.1} ms",
                    sorted[sorted.len() / 2]
                );
            }
        };
        measure("cold");
        let bg = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", "echo up; sleep 120"]));
        assert_eq!(bg.line(), "up");
        measure("warm");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(bg.pid()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        bg.finish_code(143);
        if std::env::var_os("RL_BENCH_TMPFS").is_some() {
            // The leak checks while the tmpfs is there, then the directory is left as it was.
            rl.assert_clean();
            nix::mount::umount2(&rl.run, nix::mount::MntFlags::MNT_DETACH)
                .expect("unmounting the runtime dir's tmpfs");
        }
    });
}
