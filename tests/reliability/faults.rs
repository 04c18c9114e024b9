//! The fault matrix: a 3-plugin chain (bridge + host-local, portmap, firewall) with one
//! position replaced by a fault plugin, for `add`, `del`, `check` and `run`.
//!
//! Every (verb, fault, position) has its expected outcome (see `expect_add` and the others):
//! the exit code, the error's words (which plugin, which command, what went wrong, what to do
//! next), how many cache entries (and run records) stay, and whether the host is back at its
//! baseline. Besides, for every case:
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

use crate::support::{figure, host_test, Host, Run};

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

/// The chain with the fault plugin (type `fault`) in slot `pos`. For CHECK, `tuning` stands
/// where the others have portmap: portmap 1.1.1's CHECK fails whenever ip6tables works (it
/// looks for an IPv6 DNAT chain it never made), which would hide every fault after it.
fn chain(h: &Host, pos: usize, verb: Verb) -> serde_json::Value {
    let second = if verb == Verb::Check {
        json!({"type": "tuning"})
    } else {
        Host::portmap()
    };
    let mut plugins = vec![
        h.bridge(1, 24),
        second,
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

    /// Runs one step and checks it against `expect`: exit code, the error's message, the
    /// cache entries right after it, and (when nothing is recorded any more) that the host
    /// is back at its baseline. Returns the run.
    fn step(&mut self, what: &str, args: &[&str], expect: &Expect) -> Run {
        let run = self.cnitool(args);
        self.judge(what, &run);
        if std::env::var_os("RELIABILITY_PRINT").is_some() {
            let line = run.stderr.lines().find(|l| l.starts_with("error: "));
            eprintln!(
                "OUTCOME {what}: {} {:?} entries={}",
                run.code,
                line,
                self.cache_entries()
            );
        }
        if run.code != expect.code {
            self.failures.push(format!(
                "{what}: exit {} (want {}): {}",
                run.code, expect.code, run.stderr
            ));
        }
        for part in [&*expect.msg, expect.hint] {
            if !part.is_empty() && !run.stderr.contains(part) {
                self.failures
                    .push(format!("{what}: the error lacks {part:?}: {}", run.stderr));
            }
        }
        if expect.code == 0 && !run.stderr.is_empty() {
            self.failures
                .push(format!("{what}: stderr on success: {}", run.stderr));
        }
        let entries = self.cache_entries();
        if entries != expect.entries {
            self.failures.push(format!(
                "{what}: {entries} cache entries afterwards (want {})",
                expect.entries
            ));
        }
        if expect.clean {
            self.expect_clean(&format!("{what}: afterwards"));
        }
        run
    }

    fn case(&mut self, verb: Verb, fault: Fault, pos: usize) {
        self.cases += 1;
        let what = format!("{verb:?} with {fault:?} at position {pos}");
        let _ = std::fs::remove_file(&self.counter);
        self.h.conflist("chain", chain(self.h, pos, verb));
        let add = ["add", "chain", "ctr", "-p", "8080:80"];
        let del = ["del", "chain", "ctr"];
        match verb {
            Verb::Add => {
                self.install(Some(fault));
                let (on_add, on_del) = expect_add(fault, pos);
                let run = self.step(&what, &add, &on_add);
                if run.code == 0 {
                    self.step(&format!("{what}: del"), &del, &on_del);
                }
            }
            Verb::Del | Verb::Check => {
                self.install(None);
                self.step(&format!("{what}: good add"), &add, &Expect::ok(1));
                self.install(Some(fault));
                let _ = std::fs::remove_file(&self.counter);
                if verb == Verb::Del {
                    self.step(&what, &del, &expect_del(fault));
                } else {
                    let before = self.h.snapshot();
                    self.step(&what, &["check", "chain", "ctr"], &expect_check(fault, pos));
                    if let Some(d) = self.h.snapshot().diff(&before) {
                        self.leaks += 1;
                        self.failures
                            .push(format!("{what}: check changed the host:\n{d}"));
                    }
                }
            }
            Verb::Run => {
                self.install(Some(fault));
                let run = ["run", "--net", "chain", "-p", "8080:80", "--", "true"];
                let expect = expect_run(fault, pos);
                self.step(&what, &run, &expect);
                let records = self.run_records();
                if records != usize::from(!expect.clean) {
                    self.failures.push(format!(
                        "{what}: {records} run records afterwards (want {})",
                        usize::from(!expect.clean)
                    ));
                }
            }
        }
        self.recover(&what);
    }

    fn run_records(&self) -> usize {
        std::fs::read_dir(self.h.cache.join("cnitool-runs"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// What one step must do.
#[derive(Clone, Debug)]
struct Expect {
    /// Exit code.
    code: i32,
    /// A fragment of the error ("" for success).
    msg: std::borrow::Cow<'static, str>,
    /// A second fragment: what to do next ("" for none).
    hint: &'static str,
    /// Cache entries right after the step.
    entries: usize,
    /// Whether the host is back at its baseline right after the step.
    clean: bool,
}

/// The plugin failed (exit 4).
const PLUGIN: i32 = 4;
/// `run`: the tool failed (exit 125).
const RUN_TOOL: i32 = 125;

impl Expect {
    fn ok(entries: usize) -> Expect {
        Expect {
            code: 0,
            msg: "".into(),
            hint: "",
            entries,
            clean: entries == 0,
        }
    }

    fn with_hint(self, hint: &'static str) -> Expect {
        Expect { hint, ..self }
    }

    fn kept_owned(code: i32, msg: String) -> Expect {
        Expect {
            msg: msg.into(),
            ..Expect::kept(code, "")
        }
    }

    /// A failure after which the attachment is gone and the host clean.
    fn undone(code: i32, msg: &'static str) -> Expect {
        Expect {
            code,
            msg: msg.into(),
            hint: "",
            entries: 0,
            clean: true,
        }
    }

    /// A failure after which the attachment stays recorded (for `del` or `gc` to finish).
    fn kept(code: i32, msg: &'static str) -> Expect {
        Expect {
            code,
            msg: msg.into(),
            hint: "",
            entries: 1,
            clean: false,
        }
    }
}

/// How the fault shows in the error line, by fault.
fn symptom(fault: Fault) -> &'static str {
    match fault {
        Fault::ExitSilent => "plugin \"fault\" failed (ADD, CNI code 999): netplugin failed with no error message (exit status 1)",
        Fault::Garbage => "plugin \"fault\" (ADD) printed unusable output: result is not JSON",
        Fault::Null => "plugin \"fault\" (ADD) printed unusable output: result is not a JSON object",
        Fault::Huge => "plugin \"fault\" (ADD) printed unusable output: stdout output exceeds 16777216 bytes; killed",
        Fault::Hang => "(ADD) timed out after 3s and was killed",
        Fault::Killed => "(ADD) was killed by signal 9",
        Fault::NthCall => "plugin \"fault\" failed (DEL, CNI code 11: try again later): fault: 2nd call",
        Fault::OnlyDel => "plugin \"fault\" failed (DEL, CNI code 11: try again later): fault: DEL",
        Fault::OtherVersion => "",
    }
}

/// The same fault seen by DEL or CHECK.
fn symptom_of(fault: Fault, command: &str) -> String {
    symptom(fault).replace("(ADD", &format!("({command}"))
}

/// A 0.4.0 result passed on unconverted (as Go does: the recordings in
/// `crates/libcni/tests/fixtures/go/version-mixed-*` pin it) fails the next real plugin,
/// which parses `prevResult` as 1.0.0; as the last plugin it is simply the result.
fn other_version(pos: usize, code: i32) -> Expect {
    match pos {
        0 => Expect::undone(code, "plugin \"portmap\" failed (ADD, CNI code 999): failed to parse config: could not parse prevResult"),
        1 => Expect::undone(code, "plugin \"firewall\" failed (ADD, CNI code 999): could not parse prevResult"),
        _ => Expect::ok(usize::from(code == PLUGIN)),
    }
}

/// `add`, then (when it succeeded) `del`. A fault that breaks DEL too breaks the rollback of
/// a failed ADD: the attachment then stays recorded, and the error says how to finish.
fn expect_add(fault: Fault, pos: usize) -> (Expect, Expect) {
    let s = symptom(fault);
    match fault {
        Fault::Garbage | Fault::Null | Fault::Huge => (Expect::undone(PLUGIN, s), Expect::ok(0)),
        Fault::ExitSilent | Fault::Hang | Fault::Killed => (
            Expect::kept(PLUGIN, s).with_hint("(rollback also failed: "),
            Expect::ok(0),
        ),
        Fault::OtherVersion => (other_version(pos, PLUGIN), Expect::ok(0)),
        // The 2nd call is the DEL.
        Fault::NthCall | Fault::OnlyDel => (Expect::ok(1), Expect::kept(PLUGIN, s)),
    }
}

/// `del` of a good attachment.
fn expect_del(fault: Fault) -> Expect {
    match fault {
        Fault::ExitSilent | Fault::Hang | Fault::Killed => {
            Expect::kept_owned(PLUGIN, symptom_of(fault, "DEL"))
        }
        Fault::OnlyDel => Expect::kept(PLUGIN, symptom(fault)),
        // ADD/CHECK-only faults, and a first call that succeeds.
        Fault::Garbage | Fault::Null | Fault::Huge | Fault::OtherVersion | Fault::NthCall => {
            Expect::ok(0)
        }
    }
}

/// `check` of a good attachment: never changes the host or the cache. What a plugin prints
/// on a successful CHECK is not read (as in Go: CHECK has no result). With the fault in the
/// bridge's place there is no eth0, which tuning's CHECK then reports.
fn expect_check(fault: Fault, pos: usize) -> Expect {
    match fault {
        Fault::ExitSilent | Fault::Hang | Fault::Killed => {
            Expect::kept_owned(PLUGIN, symptom_of(fault, "CHECK"))
        }
        Fault::Garbage
        | Fault::Null
        | Fault::Huge
        | Fault::OtherVersion
        | Fault::NthCall
        | Fault::OnlyDel => {
            if pos == 0 {
                Expect::kept(
                    PLUGIN,
                    "plugin \"tuning\" failed (CHECK, CNI code 999): Cannot find container link eth0",
                )
            } else {
                Expect::ok(1)
            }
        }
    }
}

/// `run ... -- true`: exit 125 on any failure of the tool; the run's record stays when a DEL
/// (or the rollback) failed, and the error names `gc`.
fn expect_run(fault: Fault, pos: usize) -> Expect {
    let s = symptom(fault);
    match fault {
        Fault::Garbage | Fault::Null | Fault::Huge => Expect::undone(RUN_TOOL, s),
        Fault::ExitSilent | Fault::Hang | Fault::Killed => Expect::kept(RUN_TOOL, s).with_hint(
            "the failed ADD of network \"chain\" could not be rolled back; the run's record",
        ),
        Fault::NthCall | Fault::OnlyDel => {
            Expect::kept(RUN_TOOL, s).with_hint("cleanup failed: deleting network \"chain\"")
        }
        Fault::OtherVersion => other_version(pos, RUN_TOOL),
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
        // Every fault at every position, in the default run too (about 30 s in all).
        for &fault in ALL {
            for pos in 0..3 {
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
