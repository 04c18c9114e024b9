//! Crash recovery: SIGKILL of `run` and of `add` at random moments, then one `gc` restores
//! the baseline exactly and a second `gc` does nothing; a simulated reboot (namespaces,
//! links and rules gone, cache and IPAM files kept) after which `gc` releases everything.

use std::time::{Duration, Instant};

use libcni::netns;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

use crate::support::{figure, host_test, iterations, sh, Host, Rng};

/// Waits (at most 15 s) until no process is left in the host namespace: a plugin whose
/// `cnitool` was killed runs on to its end (it is in its own process group), and `gc`
/// must not race it.
fn wait_for_orphans() -> usize {
    let me = netns::current_thread_netns().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = 0;
    loop {
        let n = netns::count_processes(me);
        seen = seen.max(n);
        if n == 0 || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `gc` restores the baseline; a second finds nothing.
fn gc_twice(h: &Host, what: &str) -> Option<String> {
    let gc = h.run(&["gc"]);
    if gc.code != 0 {
        return Some(format!("{what}: gc failed: {gc:#?}"));
    }
    if let Some(diff) = h.leaks() {
        return Some(format!("{what}: left behind after one gc:\n{diff}"));
    }
    let gc2 = h.run(&["-o", "json", "gc"]);
    if gc2.code != 0 || gc2.json() != json!({"dryRun": false, "removed": [], "runs": []}) {
        return Some(format!("{what}: second gc did something: {gc2:#?}"));
    }
    None
}

/// Kills `cnitool ARGS` with SIGKILL after a random delay below `max_ms`; returns whether
/// it had already finished.
fn kill_at_random(h: &Host, args: &[&str], rng: &mut Rng, max_ms: u64) -> bool {
    let mut child = h
        .cnitool()
        .args(["--timeout", "10s"])
        .args(args)
        .spawn_quiet();
    let delay = Duration::from_millis(rng.below(max_ms));
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_none()
}

#[test]
fn sigkill_run_then_gc() {
    host_test("sigkill_run_then_gc", |h| {
        h.conflist("crash", json!([h.bridge(5, 24), Host::portmap()]));
        h.warm_up("crash", &["-p", "8080:80"]);
        let mut rng = Rng::new("sigkill_run_then_gc");
        let n = iterations(5, 100);
        let (mut finished, mut orphans, mut failures) = (0, 0, Vec::new());
        for i in 0..n {
            let args = [
                "run", "--net", "crash", "-p", "8080:80", "--", "sleep", "0.1",
            ];
            if kill_at_random(h, &args, &mut rng, 600) {
                finished += 1;
            }
            orphans += usize::from(wait_for_orphans() > 0);
            if let Some(f) = gc_twice(h, &format!("run killed, iteration {i}")) {
                failures.push(f);
                break;
            }
        }
        figure(
            "crash",
            format!(
                "SIGKILL of run: {n} iterations ({finished} finished before the kill, {orphans} with a plugin still running), {} failures",
                failures.len()
            ),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

#[test]
fn sigkill_add_then_gc() {
    host_test("sigkill_add_then_gc", |h| {
        let mut bridge = h.bridge(6, 24);
        // The namespace is gone at GC: bridge 1.1.1 cannot find the addresses to
        // unmasquerade then (a plugin limitation), so no masquerading here.
        bridge["ipMasq"] = false.into();
        h.conflist("crash", json!([bridge, Host::portmap()]));
        h.warm_up("crash", &["-p", "8080:80"]);
        let mut rng = Rng::new("sigkill_add_then_gc");
        let n = iterations(5, 100);
        let (mut finished, mut failures) = (0, Vec::new());
        for i in 0..n {
            h.netns("victim");
            let args = ["add", "crash", "victim", "-p", "8080:80"];
            if kill_at_random(h, &args, &mut rng, 150) {
                finished += 1;
            }
            wait_for_orphans();
            // The container goes away without a DEL; GC must release what ADD did.
            h.delete_netns("victim");
            if let Some(f) = gc_twice(h, &format!("add killed, iteration {i}")) {
                failures.push(f);
                break;
            }
        }
        figure(
            "crash",
            format!(
                "SIGKILL of add: {n} iterations ({finished} finished before the kill), {} failures",
                failures.len()
            ),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

/// Namespaces, links and rules gone, cache and IPAM files kept: `gc` releases every address
/// and cache file, and the run records of runs that were going on.
#[test]
fn simulated_reboot() {
    host_test("simulated_reboot", |h| {
        h.conflist("boot", json!([h.bridge(7, 24), Host::portmap()]));
        // The baseline is the freshly booted host: no namespaces, no bridge, no rules.
        for i in 0..3 {
            h.netns(&format!("r{i}"));
        }
        for i in 0..3 {
            h.run(&[
                "add",
                "boot",
                &format!("r{i}"),
                "-p",
                &format!("{}:80", 8000 + i),
            ])
            .ok();
        }
        // A run that was going on at the "reboot".
        let mut child = h
            .cnitool()
            .args(["run", "--net", "boot", "--", "sleep", "30"])
            .spawn_quiet();
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.leases().len() < 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(h.leases().len(), 4, "the run did not start");
        // Its plugins have finished: the run is in its command.
        wait_for_orphans();
        let before = h.leases().len();
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        child.wait().unwrap();
        // The reboot: every process, namespace, link and rule is gone; files stay.
        for ns in netns::list(&h.netns_dir).unwrap() {
            if let Some(id) = ns.id {
                for pid in netns::processes_in(id) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            netns::delete(&h.netns_dir, &ns.name).unwrap();
        }
        let _ = sh(&["ip", "link", "del", "relbr7"]);
        for ipt in ["iptables", "ip6tables"] {
            for table in ["nat", "filter"] {
                sh(&[ipt, "-t", table, "-F"]);
                sh(&[ipt, "-t", table, "-X"]);
            }
        }
        let gc = h.run(&["gc"]).ok();
        figure(
            "crash",
            format!(
                "simulated reboot: {before} addresses held, {} after gc",
                h.leases().len()
            ),
        );
        assert!(h.leases().is_empty(), "{gc:#?}");
        h.assert_clean("after gc following a reboot");
        let gc2 = h.run(&["-o", "json", "gc"]).ok();
        assert_eq!(
            gc2.json(),
            json!({"dryRun": false, "removed": [], "runs": []})
        );
    });
}

/// Where a `cnitool` is killed: once plugin `plugin`'s `command` has started.
#[derive(Clone, Copy, Debug)]
struct Point {
    plugin: &'static str,
    command: &'static str,
}

/// Installs `plugin` into the host's plugin dir as a gate in front of the real one: when
/// `point` is armed (the file `scratch/armed` exists) and the command matches, it removes
/// the arming, says it started (`scratch/reached`), waits for `scratch/release`, then runs
/// the real plugin on the same stdin. Unarmed, it is the real plugin.
fn gate(h: &Host, plugin: &str) {
    let s = h.scratch.display();
    h.script(
        plugin,
        &format!(
            "if [ \"$CNI_COMMAND\" = \"$(cat {s}/armed-{plugin} 2>/dev/null)\" ] && rm {s}/armed-{plugin} 2>/dev/null; then\n\
             : > {s}/reached\n\
             while [ ! -e {s}/release ]; do sleep 0.01; done\n\
             fi\n\
             exec /usr/lib/cni/{plugin}"
        ),
    );
}

/// Runs `cnitool ARGS`, SIGKILLs it once `point` is reached (with the plugin still held at
/// the gate), then lets the plugin finish on its own, as an orphan would.
fn kill_at(h: &Host, args: &[&str], point: Point) -> Result<(), String> {
    let s = &h.scratch;
    for f in ["reached", "release"] {
        let _ = std::fs::remove_file(s.join(f));
    }
    std::fs::write(s.join(format!("armed-{}", point.plugin)), point.command).unwrap();
    let mut child = h
        .cnitool()
        .args(["--timeout", "60s"])
        .args(args)
        .spawn_quiet();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.join("reached").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!(
                "{point:?} was never reached: cnitool ended with {status}"
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{point:?} was not reached within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    if status.signal() != Some(libc::SIGKILL) {
        return Err(format!("{point:?}: cnitool was not killed: {status}"));
    }
    std::fs::write(s.join("release"), "").unwrap();
    wait_for_orphans();
    Ok(())
}

/// SIGKILL of `add` and of `run` at every named point (each plugin's ADD started; for `run`
/// also each plugin's DEL after the command): one `gc` restores the baseline, a second does
/// nothing. Every point is covered in the default run.
#[test]
fn sigkill_at_every_plugin_call() {
    host_test("sigkill_at_every_plugin_call", |h| {
        let mut bridge = h.bridge(8, 24);
        // As in sigkill_add_then_gc: bridge 1.1.1 cannot unmasquerade once the netns is gone.
        bridge["ipMasq"] = false.into();
        h.conflist("crash", json!([bridge, Host::portmap()]));
        h.warm_up("crash", &["-p", "8080:80"]);
        gate(h, "bridge");
        gate(h, "portmap");
        let add_points = [
            Point {
                plugin: "bridge",
                command: "ADD",
            },
            Point {
                plugin: "portmap",
                command: "ADD",
            },
        ];
        let del_points = [
            Point {
                plugin: "portmap",
                command: "DEL",
            },
            Point {
                plugin: "bridge",
                command: "DEL",
            },
        ];
        let mut failures = Vec::new();
        let mut cases = 0;
        for point in add_points {
            cases += 1;
            h.netns("victim");
            let outcome = kill_at(h, &["add", "crash", "victim", "-p", "8080:80"], point);
            h.delete_netns("victim");
            failures.extend(outcome.err());
            failures.extend(gc_twice(h, &format!("add killed at {point:?}")));
        }
        for point in add_points.into_iter().chain(del_points) {
            cases += 1;
            let args = ["run", "--net", "crash", "-p", "8080:80", "--", "true"];
            failures.extend(kill_at(h, &args, point).err());
            failures.extend(gc_twice(h, &format!("run killed at {point:?}")));
        }
        figure(
            "crash",
            format!(
                "SIGKILL at named points: {cases} cases, {} failures",
                failures.len()
            ),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}
