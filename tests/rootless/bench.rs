//! Benchmark (ROOTLESS.md test 15), not an assertion: `cargo test --release --test rootless
//! -- --ignored --nocapture bench`. Prints the cold run (starts and ends the shared
//! namespace), the warm run (shared namespace kept up by a background run), and the tool's
//! own time above the plugins (total minus the plugin calls `-v` reports), and the floor of
//! the harness itself (`setpriv` exec'ing `/bin/true`, included in the overhead). `RL_BENCH_N`
//! sets the number of runs per figure (default 8).

use std::time::{Duration, Instant};

use crate::util::{rl_test, Bg};

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
        let floor = median(
            (0..n)
                .map(|_| {
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
                })
                .collect(),
        );
        println!("harness floor (setpriv + /bin/true): median {}", ms(floor));
        let measure = |label: &str| {
            let (mut total, mut over) = (Vec::new(), Vec::new());
            for _ in 0..n {
                let t = Instant::now();
                let out = rl.run(["-v", "run", "--", "true"]).ok();
                let el = t.elapsed();
                total.push(el);
                over.push(el.saturating_sub(plugin_time(&out.stderr)));
            }
            println!(
                "rootless {label:<5} run: median {} (min {}, max {}); tool overhead above the \
                 plugins: median {}",
                ms(median(total.clone())),
                ms(*total.iter().min().unwrap()),
                ms(*total.iter().max().unwrap()),
                ms(median(over))
            );
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
        let _ = bg.finish();
    });
}
