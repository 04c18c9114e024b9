//! Benchmarks (scenario 15 of `docs/ROOTLESS.md`), not assertions. `bench_uplinks` compares
//! slirp4netns and pasta (see its doc). `bench_rootless`: `cargo test --release --test
//! rootless -- --ignored --nocapture bench_rootless`. Prints the cold run (starts and ends the shared
//! namespace), the warm run (shared namespace kept up by a background run), and the tool's
//! own time above the plugins (total minus the plugin calls `-v` reports), and the floor of
//! the harness itself (`setpriv` exec'ing `/bin/true`, included in the overhead). The tool's
//! own overhead is also printed with that floor subtracted: what is left is `cnitool`'s own
//! time, with the exec of the command `true` standing in for the floor's `/bin/true`.
//! Then `--rootless-netns private` against the warm run, interleaved (this build only).
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
        private_against_warm(rl, n);
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

/// `--rootless-netns private` against a warm shared run (the caller keeps the shared
/// namespace up), `n` of each, alternating which goes first per round: total wall time of
/// `cnitool run -- true` and the tool's own time above the plugins, medians, and the median
/// of the paired differences (private minus warm) of the total.
fn private_against_warm(rl: &crate::util::Rl, n: usize) {
    let run = |private: bool| {
        let mut args = vec!["-v", "run"];
        if private {
            args.extend(["--rootless-netns", "private"]);
        }
        args.extend(["--", "true"]);
        let t = Instant::now();
        let out = wait_out(rl.cmd(args).spawn().unwrap()).ok();
        let el = t.elapsed();
        (el, el.saturating_sub(plugin_time(&out.stderr)))
    };
    let (mut warm, mut private) = (Vec::new(), Vec::new());
    for i in 0..n {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for p in order {
            let r = run(p);
            if p {
                private.push(r);
            } else {
                warm.push(r);
            }
        }
    }
    for (label, v) in [("warm shared", &warm), ("private", &private)] {
        let totals: Vec<Duration> = v.iter().map(|r| r.0).collect();
        println!(
            "rootless {label:<11} run: median {} (min {}, max {}); tool overhead above the \
             plugins: median {}",
            ms(median(totals.clone())),
            ms(*totals.iter().min().unwrap()),
            ms(*totals.iter().max().unwrap()),
            ms(median(v.iter().map(|r| r.1).collect())),
        );
    }
    let mut diffs: Vec<f64> = warm
        .iter()
        .zip(&private)
        .map(|(w, p)| (p.0.as_secs_f64() - w.0.as_secs_f64()) * 1e3)
        .collect();
    diffs.sort_by(f64::total_cmp);
    println!(
        "rootless private run minus warm shared run, paired: median {:.1} ms (min {:.1}, max \
         {:.1})",
        diffs[diffs.len() / 2],
        diffs[0],
        diffs[diffs.len() - 1]
    );
}

/// The bulk size of the uplink benchmark: 100 MiB each way.
const BULK: u64 = 100 << 20;
/// Sequential connections timed by the uplink benchmark.
const CONNECTS: u32 = 200;

/// The client of the uplink benchmark, run as the command of a rootless run: a download of
/// [`BULK`] bytes from the server, an upload of as many (the server acknowledges the count),
/// then [`CONNECTS`] sequential connections (each: connect, one byte each way, close). It
/// prints one JSON line: per transfer the time with retries, the time of the last attempt,
/// and each reset or early end (kind, bytes done, seconds into the attempt), after which the
/// transfer starts again on a new connection (at most 4 times). A transfer that stalls for 5 s counts as a reset (`timeout`).
fn uplink_client(host: &str, port: u16) -> String {
    format!(
        r#"import socket,time,json
H,P,N,C=('{host}',{port},{BULK},{CONNECTS})
out={{}}
def conn(mode):
    s=socket.create_connection((H,P),timeout=5)
    s.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)
    s.sendall(mode)
    return s
def phase(name,attempt):
    t=time.monotonic(); resets=[]; out[name+'_ok']=False
    while True:
        a=time.monotonic(); done=[0]
        try:
            attempt(done)
            out[name+'_ok']=True
            break
        except (ConnectionResetError,BrokenPipeError,socket.timeout) as e:
            resets.append([type(e).__name__,done[0],round(time.monotonic()-a,3)])
            if len(resets)>=4: break
    out[name]=time.monotonic()-t
    out[name+'_last']=time.monotonic()-a
    out[name+'_resets']=resets
def down(done):
    s=conn(b'D'); buf=bytearray(1<<20)
    while done[0]<N:
        n=s.recv_into(buf)
        if n==0: raise ConnectionResetError('early end')
        done[0]+=n
    s.close()
def up(done):
    chunk=b'x'*(1<<20)
    s=conn(b'U')
    for _ in range(N>>20):
        s.sendall(chunk); done[0]+=len(chunk)
    s.shutdown(socket.SHUT_WR)
    ack=s.recv(64).decode(); s.close()
    if ack.strip()!=str(N): raise ConnectionResetError('short: '+ack)
phase('down',down); phase('up',up)
t=time.monotonic()
for _ in range(C):
    s=conn(b'C'); assert s.recv(1)==b'c'; s.close()
out['connect']=(time.monotonic()-t)/C
print(json.dumps(out),flush=True)
"#
    )
}

/// The server of the uplink benchmark, on an address of the throwaway host: per connection,
/// the first byte says what to do (`D` send [`BULK`] bytes, `U` count until EOF and answer
/// the count, `C` answer one byte). Stopped on drop.
struct BulkServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BulkServer {
    fn start(addr: &str) -> BulkServer {
        use std::io::{Read as _, Write as _};
        let l = std::net::TcpListener::bind((addr, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let serve = |mut c: std::net::TcpStream| {
            c.set_nonblocking(false)?;
            c.set_nodelay(true)?;
            let mut mode = [0u8; 1];
            c.read_exact(&mut mode)?;
            match mode[0] {
                b'D' => {
                    let chunk = vec![b'y'; 1 << 20];
                    for _ in 0..(BULK >> 20) {
                        c.write_all(&chunk)?;
                    }
                }
                b'U' => {
                    let mut buf = vec![0u8; 1 << 20];
                    let mut got = 0u64;
                    loop {
                        match c.read(&mut buf)? {
                            0 => break,
                            n => got += n as u64,
                        }
                    }
                    c.write_all(format!("{got}\n").as_bytes())?;
                }
                _ => c.write_all(b"c")?,
            }
            Ok::<_, std::io::Error>(())
        };
        let thread = std::thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        std::thread::spawn(move || serve(c));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        BulkServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BulkServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The uplinks compared (`docs/BENCHMARKS.md`, "Rootless", uplinks): `cargo test --release
/// --test rootless -- --ignored --nocapture bench_uplinks`. Per round and uplink
/// (alternating, `RL_BENCH_N` rounds, default 5), one rootless run on the built-in network
/// whose command downloads 100 MiB from a server on the throwaway host's address 10.251.0.1
/// (a veth pair of the throwaway host, which also carries the default route pasta needs),
/// uploads 100 MiB to it, and makes 200 sequential connections to it. Prints per uplink the
/// median throughput each way, the median time of one connection, the resets seen and the
/// runs that failed.
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_uplinks() {
    rl_test("bench_uplinks", |rl| {
        let n: usize = std::env::var("RL_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let ip = |args: &str| {
            let st = std::process::Command::new("ip")
                .args(args.split(' '))
                .status()
                .unwrap();
            assert!(st.success(), "ip {args}");
        };
        ip("link add rlbench0 type veth peer name rlbench1");
        ip("link set rlbench1 up");
        ip("addr add 10.251.0.1/24 dev rlbench0");
        ip("link set rlbench0 up");
        ip("route add default via 10.251.0.2");
        let srv = BulkServer::start("10.251.0.1");
        let script = uplink_client("10.251.0.1", srv.port);
        let uplinks = ["slirp4netns", "pasta"];
        let mut res: Vec<Vec<serde_json::Value>> = vec![Vec::new(); uplinks.len()];
        let mut failed = vec![Vec::new(); uplinks.len()];
        for i in 0..n {
            for k in 0..uplinks.len() {
                let u = (i + k) % uplinks.len();
                let out = wait_out(
                    rl.cmd([
                        "run", "--uplink", uplinks[u], "--", "python3", "-c", &script,
                    ])
                    .spawn()
                    .unwrap(),
                );
                match serde_json::from_str::<serde_json::Value>(out.stdout.trim()) {
                    Ok(v) if out.code() == 0 => {
                        println!("{}: {v}", uplinks[u]);
                        res[u].push(v);
                    }
                    _ => {
                        println!("{}: failed: {out:?}", uplinks[u]);
                        failed[u].push(out.stderr.lines().last().unwrap_or("").to_owned());
                    }
                }
                rl.wait_until("the generation to end", Duration::from_secs(20), || {
                    rl.generations().is_empty()
                });
            }
        }
        let mib_s = |s: f64| (BULK as f64 / f64::from(1 << 20)) / s;
        for (u, name) in uplinks.iter().enumerate() {
            let field = |f: &str| -> Vec<f64> {
                let mut v: Vec<f64> = res[u].iter().filter_map(|r| r[f].as_f64()).collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let resets = |f: &str| -> (usize, usize) {
                let per: Vec<usize> = res[u]
                    .iter()
                    .map(|r| r[f].as_array().map_or(0, Vec::len))
                    .collect();
                (per.iter().sum(), per.iter().filter(|&&k| k > 0).count())
            };
            if res[u].is_empty() {
                println!(
                    "uplink {name}: no successful run; failures: {:?}",
                    failed[u]
                );
                continue;
            }
            let med = |v: &[f64]| v[v.len() / 2];
            let rate = |f: &str| {
                let ok = |r: &&serde_json::Value| r[format!("{f}_ok")].as_bool() == Some(true);
                let sorted = |k: String| {
                    let mut v: Vec<f64> = res[u]
                        .iter()
                        .filter(ok)
                        .filter_map(|r| r[&k].as_f64())
                        .collect();
                    v.sort_by(f64::total_cmp);
                    v
                };
                let (all, last) = (sorted(f.to_owned()), sorted(format!("{f}_last")));
                let given_up = res[u].len() - res[u].iter().filter(ok).count();
                if all.is_empty() {
                    return format!("never completed ({given_up} runs gave up)");
                }
                let (r, runs) = resets(&format!("{f}_resets"));
                format!(
                    "{:.0} MiB/s with retries (min {:.0}, max {:.0}), {:.0} MiB/s the last \
                     attempt; {r} resets or stalls in {runs} runs, {given_up} runs gave up",
                    mib_s(med(&all)),
                    mib_s(all[all.len() - 1]),
                    mib_s(all[0]),
                    mib_s(med(&last)),
                )
            };
            let conn = field("connect");
            println!(
                "uplink {name}: {} runs, {} failed {:?}\n  download {}\n  upload   {}\n  \
                 connection {:.2} ms (min {:.2}, max {:.2})",
                res[u].len(),
                failed[u].len(),
                failed[u],
                rate("down"),
                rate("up"),
                med(&conn) * 1e3,
                conn[0] * 1e3,
                conn[conn.len() - 1] * 1e3,
            );
        }
        drop(srv);
        ip("link del rlbench0");
    });
}
