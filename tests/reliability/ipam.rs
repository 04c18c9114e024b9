//! IPAM exhaustion: a /29 (5 usable addresses) survives many sequential `run` cycles,
//! including commands that fail and plugins that fail on ADD or on DEL. One leaked address
//! per cycle would exhaust it after five.

use serde_json::json;

use crate::faults::{script, Fault};
use crate::support::{figure, host_test, iterations};

#[test]
fn slash29_survives_run_cycles() {
    host_test("slash29_survives_run_cycles", |h| {
        h.conflist("small", json!([h.bridge(8, 29)]));
        h.conflist("smallfault", json!([h.bridge(8, 29), {"type": "fault"}]));
        let counter = h.scratch.join("count").display().to_string();
        h.script("fault", &script(None, &counter));
        h.warm_up("small", &[]);
        let cycles = iterations(12, 120);
        let mut failures = Vec::new();
        for i in 0..cycles {
            let _ = std::fs::remove_file(&counter);
            // (network, fault, command, expected exit code, gc needed after). A fault on every
            // command fails the rollback DEL too: the run then keeps its record for gc.
            let (net, fault, cmd, want, gc): (_, _, &[&str], i32, bool) = match i % 6 {
                0 => ("small", None, &["true"], 0, false),
                1 => ("small", None, &["sh", "-c", "exit 7"], 7, false),
                2 => ("small", None, &["/nonexistent/cmd"], 127, false),
                3 => ("smallfault", Some(Fault::ExitSilent), &["true"], 125, true),
                4 => ("smallfault", Some(Fault::OnlyDel), &["true"], 125, true),
                _ => ("smallfault", Some(Fault::Killed), &["true"], 125, true),
            };
            h.script("fault", &script(fault, &counter));
            let mut args = vec!["run", "--net", net, "--"];
            args.extend_from_slice(cmd);
            let run = h.run(&args);
            if run.code != want {
                failures.push(format!("cycle {i}: want exit {want}: {run:#?}"));
            }
            if gc {
                h.script("fault", &script(None, &counter));
                let gc = h.run(&["gc"]);
                if gc.code != 0 {
                    failures.push(format!("cycle {i}: gc: {gc:#?}"));
                }
            }
            if let Some(diff) = h.leaks() {
                failures.push(format!("cycle {i}: left behind:\n{diff}"));
                break;
            }
        }
        figure(
            "ipam",
            format!(
                "/29 network: {cycles} run cycles, {} failures",
                failures.len()
            ),
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}
