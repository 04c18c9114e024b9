//! The fault matrix: a 3-plugin chain (bridge + host-local, portmap, firewall) with one
//! position replaced by a fault plugin, for `add`, `del`, `check` and `run`.
//!
//! The promise checked for every case:
//! 1. every invocation ends within its bound, with exit 0 or one clear `error:` line and a
//!    documented exit code (never a panic or a signal);
//! 2. a failed `add` or `run` leaves the host exactly at its baseline (the rollback undoes
//!    the real plugins; the fault plugins keep no state), unless the rollback failed too:
//!    then `add` keeps the cache entry (and says so) and `run` its record, for rule 5;
//! 3. a failed `del` keeps the cache entry, so the attachment can be deleted later;
//! 4. `check` changes nothing;
//! 5. once the fault is fixed, one `del` (or one `gc` after `run`) restores the baseline
//!    exactly, and a second `gc` finds nothing.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::support::{figure, full, host_test, Host, Run};

/// A fault plugin's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Exits 1 with no output, on every command.
    ExitSilent,
    /// Prints garbage (exit 0) on ADD and CHECK.
    Garbage,
    /// Prints `null` (exit 0) on ADD and CHECK.
    Null,
    /// Prints 20 MiB on ADD (more than the 16 MiB the tool collects).
    Huge,
    /// Returns a 0.4.0 result to a 1.0.0 netconf on ADD.
    OtherVersion,
    /// Hangs on every command, with a child that keeps stdout open.
    Hang,
    /// Is killed by SIGKILL on every command.
    Killed,
    /// Fails (CNI error 11) only on its 2nd call.
    NthCall,
    /// Fails (CNI error 11) only on DEL.
    OnlyDel,
}

pub const ALL: &[Fault] = &[
    Fault::ExitSilent,
    Fault::Garbage,
    Fault::Null,
    Fault::Huge,
    Fault::OtherVersion,
    Fault::Hang,
    Fault::Killed,
    Fault::NthCall,
    Fault::OnlyDel,
];

/// The well-behaved part of every fault plugin: ADD passes `prevResult` on (or returns an
/// empty result), other commands succeed silently.
const GOOD: &str = r#"
good() {
    case "$CNI_COMMAND" in
        ADD) printf '%s' "$input" | jq -c '.prevResult // {cniVersion: .cniVersion}' ;;
        VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
    esac
    exit 0
}
input=$(cat)
"#;

/// The plugin's script body, counting its calls in `counter`.
pub fn script(fault: Option<Fault>, counter: &str) -> String {
    let body = match fault {
        None => "good",
        Some(Fault::ExitSilent) => "exit 1",
        Some(Fault::Garbage) => {
            r#"case "$CNI_COMMAND" in ADD|CHECK) echo '}{ not json ]'; exit 0;; esac; good"#
        }
        Some(Fault::Null) => r#"case "$CNI_COMMAND" in ADD|CHECK) echo null; exit 0;; esac; good"#,
        Some(Fault::Huge) => {
            r#"[ "$CNI_COMMAND" = ADD ] && { head -c 20971520 /dev/zero | tr '\0' x; exit 0; }; good"#
        }
        Some(Fault::OtherVersion) => {
            r#"[ "$CNI_COMMAND" = ADD ] && { printf '%s' "$input" | jq -c '(.prevResult // {}) | .cniVersion = "0.4.0" | .ips = [(.ips // [])[] | . + {version: (if (.address | test(":")) then "6" else "4" end)}]'; exit 0; }; good"#
        }
        Some(Fault::Hang) => "sleep 30; good",
        Some(Fault::Killed) => "kill -KILL $$",
        Some(Fault::NthCall) => {
            r#"[ "$n" = 2 ] && { echo '{"cniVersion":"1.0.0","code":11,"msg":"fault: 2nd call"}'; exit 1; }; good"#
        }
        Some(Fault::OnlyDel) => {
            r#"[ "$CNI_COMMAND" = DEL ] && { echo '{"cniVersion":"1.0.0","code":11,"msg":"fault: DEL"}'; exit 1; }; good"#
        }
    };
    format!(
        "{GOOD}\nn=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}\n{body}"
    )
}

/// The chain with the fault plugin (type `fault`) in slot `pos`.
fn chain(h: &Host, pos: usize) -> serde_json::Value {
    let mut plugins = vec![
        h.bridge(1, 24),
        Host::portmap(),
        json!({"type": "firewall", "backend": "iptables"}),
    ];
    plugins[pos] = json!({"type": "fault", "capabilities": {"portMappings": true}});
    json!(plugins)
}

fn good_chain(h: &Host) -> serde_json::Value {
    json!([
        h.bridge(1, 24),
        Host::portmap(),
        {"type": "firewall", "backend": "iptables"}
    ])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Add,
    Del,
    Check,
    Run,
}

/// Per-call time limit in the matrix: a hanging plugin costs this plus the 2 s grace. Not
/// lower: a good call of the fault script must not time out on a loaded machine (1 s did).
const TIMEOUT: &str = "3s";
/// Longest any single invocation may take (a hang, then a hanging rollback DEL, + slack).
const BOUND: Duration = Duration::from_secs(15);

struct Matrix<'a> {
    h: &'a Host,
    counter: String,
    cases: usize,
    failures: Vec<String>,
    leaks: usize,
}

impl Matrix<'_> {
    fn install(&self, fault: Option<Fault>) {
        self.h.script("fault", &script(fault, &self.counter));
    }

    fn cnitool(&self, args: &[&str]) -> Run {
        let run = self
            .h
            .cnitool()
            .arg("--timeout")
            .arg(TIMEOUT)
            .args(args)
            .run();
        if std::env::var_os("RELIABILITY_VERBOSE").is_some() {
            eprintln!("{args:?}: {} in {:?}", run.code, run.elapsed);
        }
        run
    }

    /// Rule 1 for one invocation.
    fn judge(&mut self, what: &str, run: &Run) {
        if run.elapsed > BOUND {
            self.failures
                .push(format!("{what}: took {:?}", run.elapsed));
        }
        if run.code != 0 {
            if let Err(e) = run.clear_failure() {
                self.failures.push(format!("{what}: {e}"));
            }
        }
    }

    /// Rule 2/5 style check against the baseline.
    fn expect_clean(&mut self, what: &str) {
        if let Some(diff) = self.h.leaks() {
            self.leaks += 1;
            self.failures.push(format!("{what}: left behind:\n{diff}"));
        }
    }

    /// Fixes the fault, DELs (and GCs) whatever is left, and checks the baseline.
    fn recover(&mut self, what: &str) {
        self.install(None);
        let del = self.cnitool(&["del", "chain", "ctr"]);
        self.judge(&format!("{what}: del after fixing"), &del);
        let gc = self.cnitool(&["gc"]);
        self.judge(&format!("{what}: gc after fixing"), &gc);
        let gc2 = self.cnitool(&["-o", "json", "gc"]);
        if gc2.code != 0 || gc2.json() != json!({"dryRun": false, "removed": [], "runs": []}) {
            self.failures
                .push(format!("{what}: second gc did something: {gc2:#?}"));
        }
        self.expect_clean(&format!("{what}: after fixing the plugin and del/gc"));
    }

    fn cache_entries(&self) -> usize {
        std::fs::read_dir(self.h.cache.join("results"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    }

    fn case(&mut self, verb: Verb, fault: Fault, pos: usize) {
        self.cases += 1;
        let what = format!("{verb:?} with {fault:?} at position {pos}");
        let _ = std::fs::remove_file(&self.counter);
        self.h.conflist("chain", chain(self.h, pos));
        match verb {
            Verb::Add => {
                self.install(Some(fault));
                let add = self.cnitool(&["add", "chain", "ctr", "-p", "8080:80"]);
                self.judge(&what, &add);
                if add.code != 0 && add.stderr.contains("the attachment stays recorded in") {
                    if self.cache_entries() != 1 {
                        self.failures.push(format!(
                            "{what}: the failed rollback dropped the cache entry (nothing to retry)"
                        ));
                    }
                } else if add.code != 0 {
                    self.expect_clean(&format!("{what}: after the failed add"));
                } else {
                    let del = self.cnitool(&["del", "chain", "ctr"]);
                    self.judge(&format!("{what}: del"), &del);
                }
            }
            Verb::Del | Verb::Check => {
                self.install(None);
                let add = self.cnitool(&["add", "chain", "ctr", "-p", "8080:80"]);
                if add.code != 0 {
                    self.failures
                        .push(format!("{what}: good add failed: {add:#?}"));
                }
                self.install(Some(fault));
                let _ = std::fs::remove_file(&self.counter);
                if verb == Verb::Del {
                    let del = self.cnitool(&["del", "chain", "ctr"]);
                    self.judge(&what, &del);
                    if del.code != 0 && self.cache_entries() != 1 {
                        self.failures.push(format!(
                            "{what}: the failed del dropped the cache entry (nothing to retry)"
                        ));
                    }
                } else {
                    let before = self.h.snapshot();
                    let check = self.cnitool(&["check", "chain", "ctr"]);
                    self.judge(&what, &check);
                    if let Some(d) = self.h.snapshot().diff(&before) {
                        self.leaks += 1;
                        self.failures
                            .push(format!("{what}: check changed the host:\n{d}"));
                    }
                }
            }
            Verb::Run => {
                self.install(Some(fault));
                let run = self.cnitool(&["run", "--net", "chain", "-p", "8080:80", "--", "true"]);
                self.judge(&what, &run);
                if run.code != 0 && !run.stderr.contains("cleanup failed") {
                    self.expect_clean(&format!("{what}: after the failed run"));
                }
            }
        }
        self.recover(&what);
    }
}

fn matrix(test: &str, verb: Verb) {
    host_test(test, |h| {
        h.conflist("chain", good_chain(h));
        h.netns("ctr");
        h.warm_up("chain", &["-p", "8080:80"]);
        let counter = h.scratch.join("count").display().to_string();
        let mut m = Matrix {
            h,
            counter,
            cases: 0,
            failures: Vec::new(),
            leaks: 0,
        };
        for (i, &fault) in ALL.iter().enumerate() {
            // Default run: one position per fault, rotating with the verb; full: all three.
            let positions: Vec<usize> = if full() {
                vec![0, 1, 2]
            } else {
                vec![(i + verb as usize) % 3]
            };
            for pos in positions {
                m.case(verb, fault, pos);
            }
        }
        let mut report = String::new();
        for f in &m.failures {
            let _ = writeln!(report, "{f}\n");
        }
        figure(
            "faults",
            format!(
                "{verb:?}: {} cases, {} leaks, {} failures",
                m.cases,
                m.leaks,
                m.failures.len()
            ),
        );
        // `ctr` is part of the baseline; the harness deletes it.
        assert!(m.failures.is_empty(), "{report}");
    });
}

#[test]
fn fault_matrix_add() {
    matrix("fault_matrix_add", Verb::Add);
}

#[test]
fn fault_matrix_del() {
    matrix("fault_matrix_del", Verb::Del);
}

#[test]
fn fault_matrix_check() {
    matrix("fault_matrix_check", Verb::Check);
}

#[test]
fn fault_matrix_run() {
    matrix("fault_matrix_run", Verb::Run);
}
