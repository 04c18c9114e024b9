//! SIGINT and SIGTERM to `add`, `del` and `check` while a plugin runs: the plugin is stopped,
//! ADD is rolled back, and the message says what is left and how to finish; exit 128+N.

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

use crate::util::{go_container_id, has_link, host_test, Host, Run};

/// A plugin that passes `prevResult` on and hangs in verb V (writing its PID to
/// `scratch/pid-V` first) while the file `scratch/hang-V` exists; with `scratch/stubborn`,
/// it outlives SIGTERM (noting it in `scratch/term-seen`).
fn hanger(h: &Host) {
    let dir = h.scratch.display();
    h.fake_plugin(
        "hanger",
        &format!(
            r#"stdin=$(cat)
if [ -e "{dir}/stubborn" ]; then
  trap 'touch "{dir}/term-seen"' TERM
  echo $$ >"{dir}/pid-stubborn.tmp" && mv "{dir}/pid-stubborn.tmp" "{dir}/pid-stubborn"
  while :; do sleep 1; done
fi
if [ -e "{dir}/hang-$CNI_COMMAND" ]; then
  echo $$ >"{dir}/pid-$CNI_COMMAND.tmp" && mv "{dir}/pid-$CNI_COMMAND.tmp" "{dir}/pid-$CNI_COMMAND"
  sleep 60 &
  wait
fi
if [ "$CNI_COMMAND" = ADD ]; then
  printf '%s' "$stdin" | jq -c .prevResult
fi"#
        ),
    );
    h.conflist("testnet", "1.0.0", json!([h.bridge(1), {"type": "hanger"}]));
}

/// Starts `cnitool ARGS`, waits until the hanger runs VERB, sends `sig` to the tool's PID
/// alone, and returns how the tool ended and the hanger's PID.
fn interrupt(h: &Host, args: &[&str], verb: &str, sig: Signal) -> (Run, i32) {
    fs::write(h.scratch.join(format!("hang-{verb}")), "").unwrap();
    let started = h.cnitool().args(args).start();
    let pid_file = h.scratch.join(format!("pid-{verb}"));
    testsupport::wait_until(
        &format!("the hanger to run {verb}"),
        Duration::from_secs(30),
        || pid_file.exists(),
    );
    let plugin: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(Pid::from_raw(started.pid()), sig).unwrap();
    let run = started.wait();
    fs::remove_file(h.scratch.join(format!("hang-{verb}"))).unwrap();
    fs::remove_file(pid_file).unwrap();
    (run, plugin)
}

/// The plugin's process is gone (not even a zombie: its parent, the tool, reaped it).
#[track_caller]
fn assert_gone(pid: i32) {
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "plugin process {pid} outlived the interrupted tool"
    );
}

/// Ctrl-C (SIGINT) during ADD: the hanging plugin is stopped, bridge's veth, lease and chain
/// are rolled back, no cache entry is left; exit 130 with a message saying so.
#[test]
fn sigint_during_add_stops_the_plugin_and_rolls_back() {
    host_test("sigint_during_add_stops_the_plugin_and_rolls_back", |h| {
        hanger(h);
        let ns = h.netns("ctr");
        let ns_arg = ns.to_str().unwrap();
        let (run, plugin) = interrupt(h, &["add", "testnet", ns_arg], "ADD", Signal::SIGINT);
        let run = run.fails(130, "error: interrupted by SIGINT; the plugins that ran were rolled back; nothing is left: adding network \"testnet\"");
        assert!(
            run.stderr
                .contains("ADD interrupted: plugin \"hanger\" was stopped"),
            "{run:#?}"
        );
        assert_gone(plugin);
        assert!(!has_link(&ns, "eth0"));
        h.assert_cache_empty();
        assert_eq!(h.ipam_leases(), Vec::<String>::new());
    });
}

/// SIGTERM during DEL stops the plugin; the attachment stays recorded and the message gives
/// the exact `del` that finishes the job (which then works). SIGINT during CHECK changes
/// nothing.
#[test]
fn sigterm_during_del_keeps_the_attachment_for_a_retry() {
    host_test("sigterm_during_del_keeps_the_attachment_for_a_retry", |h| {
        hanger(h);
        let ns = h.netns("ctr");
        let ns_arg = ns.to_str().unwrap();
        h.run(&["add", "testnet", ns_arg]).ok();
        let id = go_container_id(&ns);
        let entry = format!("testnet-{id}-eth0");

        let (run, plugin) = interrupt(h, &["check", "testnet", ns_arg], "CHECK", Signal::SIGINT);
        run.fails(
            130,
            "error: interrupted by SIGINT; nothing was changed: checking network \"testnet\"",
        );
        assert_gone(plugin);
        assert_eq!(h.cache_files(), std::slice::from_ref(&entry));

        let (run, plugin) = interrupt(h, &["del", "testnet", ns_arg], "DEL", Signal::SIGTERM);
        let again = format!(
            "cnitool --cache-dir {} del testnet {ns_arg}",
            h.cache.display()
        );
        run.fails(
            143,
            &format!(
                "error: interrupted by SIGTERM; the attachment is still recorded: run `{again}` again to finish: deleting network \"testnet\""
            ),
        );
        assert_gone(plugin);
        assert_eq!(h.cache_files(), [entry]);
        assert!(
            has_link(&ns, "eth0"),
            "the hanger runs first in DEL: bridge was not reached"
        );
        h.run(&["del", "testnet", ns_arg]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// A third signal ends the tool at once, even while a plugin that ignores SIGTERM is being
/// stopped, and says what may be left; the recorded attachment is then removed by `del`.
#[test]
fn third_signal_exits_at_once() {
    host_test("third_signal_exits_at_once", |h| {
        hanger(h);
        let ns = h.netns("ctr");
        let ns_arg = ns.to_str().unwrap();
        fs::write(h.scratch.join("stubborn"), "").unwrap();
        let started = h.cnitool().args(["add", "testnet", ns_arg]).start();
        let wait_file = |name: &str| {
            testsupport::wait_until(name, Duration::from_secs(30), || {
                h.scratch.join(name).exists()
            });
        };
        wait_file("pid-stubborn");
        let tool = Pid::from_raw(started.pid());
        kill(tool, Signal::SIGINT).unwrap();
        // The first one was taken: the plugin got SIGTERM (and ignored it).
        wait_file("term-seen");
        // Distinct signals, so that none merges with another still pending.
        kill(tool, Signal::SIGTERM).unwrap();
        kill(tool, Signal::SIGHUP).unwrap();
        let run = started.wait();
        // The kernel hands pending signals over lowest number first: either came last.
        let last = match run.code {
            129 => "SIGHUP",
            143 => "SIGTERM",
            _ => panic!("exit status: {run:#?}"),
        };
        assert!(
            run.stderr.starts_with(&format!(
                "error: interrupted 3 times (the last by {last}): exiting now; a plugin may \
                 still be running"
            )),
            "{run:#?}"
        );
        // What the message warned of: the plugin, then the recorded attachment.
        let plugin: i32 = fs::read_to_string(h.scratch.join("pid-stubborn"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        nix::sys::signal::killpg(Pid::from_raw(plugin), Signal::SIGKILL).unwrap();
        testsupport::wait_until("the plugin to die", Duration::from_secs(10), || {
            !Path::new(&format!("/proc/{plugin}")).exists()
        });
        assert_eq!(h.cache_files().len(), 1);
        fs::remove_file(h.scratch.join("stubborn")).unwrap();
        h.run(&["del", "testnet", ns_arg]).ok();
    });
}

/// Ctrl-C during `gc` while a stale attachment's DEL hangs: the plugin is stopped, `gc`
/// exits 130 at once, and the attachment stays recorded (with its address), so the next
/// `gc` finishes it. The same for `status` (a 1.1.0 network), which changes nothing.
#[test]
fn sigint_during_gc_or_status_stops_the_plugin() {
    host_test("sigint_during_gc_or_status_stops_the_plugin", |h| {
        hanger(h);
        // No masquerading: with the namespace gone, bridge 1.1.1 cannot find what to undo.
        let mut bridge = h.bridge(1);
        bridge["ipMasq"] = false.into();
        h.conflist("testnet", "1.0.0", json!([bridge, {"type": "hanger"}]));
        h.netns("ctr");
        h.run(&["add", "-o", "none", "testnet", "ctr"]).ok();
        h.delete_netns("ctr");
        assert_eq!(h.ipam_leases().len(), 1);

        let (run, plugin) = interrupt(h, &["gc"], "DEL", Signal::SIGINT);
        assert_eq!(run.code, 130, "{run:#?}");
        assert!(run.stderr.contains("interrupted by SIGINT"), "{run:#?}");
        assert_gone(plugin);
        assert_eq!(
            h.cache_files().len(),
            1,
            "the stale attachment stays recorded"
        );
        assert_eq!(h.ipam_leases().len(), 1);
        let run = h.run(&["gc"]).ok();
        assert!(
            run.stdout.starts_with("removed testnet cnitool-"),
            "{run:#?}"
        );
        assert!(h.ipam_leases().is_empty());
        h.assert_cache_empty();

        h.conflist("testnet", "1.1.0", json!([{"type": "hanger"}]));
        let (run, plugin) = interrupt(h, &["status", "testnet"], "STATUS", Signal::SIGTERM);
        assert_eq!(run.code, 143, "{run:#?}");
        assert!(run.stderr.contains("interrupted by SIGTERM"), "{run:#?}");
        assert_gone(plugin);
    });
}
