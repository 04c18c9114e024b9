//! Dry runs and traces: what the tool shows about plugin calls.

use std::fs;

use serde_json::Value;

use crate::util::*;

/// A recording fake plugin: keeps its stdin and `CNI_*` environment per verb in `scratch`,
/// passes `prevResult` through on ADD (or prints an empty 1.0.0 result).
fn recorder(h: &Host, name: &str) {
    let dir = h.scratch.display();
    h.fake_plugin(
        name,
        &format!(
            r#"stdin=$(cat)
printf '%s' "$stdin" >"{dir}/{name}-$CNI_COMMAND.stdin"
env | grep '^CNI_' | grep -v '^CNI_PATH=' | sort >"{dir}/{name}-$CNI_COMMAND.env"
if [ "$CNI_COMMAND" = ADD ]; then echo '{{"cniVersion":"1.0.0","ips":[{{"address":"10.198.9.5/24"}}],"dns":{{}}}}'; fi"#
        ),
    );
}

fn plan(h: &Host, args: &[&str]) -> Vec<Value> {
    let run = h.run(args).ok();
    match serde_json::from_str::<Value>(&run.stdout) {
        Ok(Value::Array(items)) => items,
        other => panic!("not a JSON plan: {other:?}\n{run:?}"),
    }
}

fn env_lines(call: &Value) -> String {
    let mut lines: Vec<String> = call["env"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "CNI_PATH")
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

/// `--dry-run` shows, for each plugin in order, exactly the environment and stdin it then
/// receives, and runs nothing; DEL's plan is in reverse order with the cached result.
#[test]
fn dry_run_matches_what_plugins_receive() {
    host_test("dry_run_matches_what_plugins_receive", |h| {
        recorder(h, "rec1");
        recorder(h, "rec2");
        h.conflist(
            "recnet",
            "1.0.0",
            serde_json::json!([{"type": "rec1", "k": "a<b"}, {"type": "rec2"}]),
        );
        h.netns("dry");
        let add = plan(
            h,
            &[
                "-o",
                "json",
                "add",
                "--dry-run",
                "--arg",
                "A=1",
                "recnet",
                "dry",
            ],
        );
        assert_eq!(add.len(), 2);
        assert!(
            fs::read_dir(&h.scratch).unwrap().next().is_none(),
            "nothing ran"
        );
        assert!(h.cache_files().is_empty(), "nothing cached");
        assert_eq!(add[1]["prevResultPending"], true);

        h.run(&["add", "--arg", "A=1", "recnet", "dry"]).ok();
        let got = fs::read_to_string(h.scratch.join("rec1-ADD.stdin")).unwrap();
        assert_eq!(add[0]["stdin"].as_str().unwrap(), got);
        assert_eq!(
            env_lines(&add[0]),
            fs::read_to_string(h.scratch.join("rec1-ADD.env")).unwrap()
        );

        let del = plan(h, &["-o", "json", "del", "--dry-run", "recnet", "dry"]);
        let order: Vec<&str> = del.iter().map(|c| c["plugin"].as_str().unwrap()).collect();
        assert_eq!(order, ["rec2", "rec1"]);
        assert_eq!(h.cache_files().len(), 1, "a dry DEL removes nothing");
        h.run(&["del", "recnet", "dry"]).ok();
        for call in &del {
            let name = call["plugin"].as_str().unwrap();
            let got = fs::read_to_string(h.scratch.join(format!("{name}-DEL.stdin"))).unwrap();
            assert_eq!(call["stdin"].as_str().unwrap(), got, "{name}");
            assert!(got.contains("\"prevResult\""));
            let env = fs::read_to_string(h.scratch.join(format!("{name}-DEL.env"))).unwrap();
            assert_eq!(env_lines(call), env, "{name}: cached CNI_ARGS restored");
        }

        // The text form names each plugin and shows its stdin.
        h.run(&["add", "recnet", "dry"]).ok();
        let text = h.run(&["check", "--dry-run", "recnet", "dry"]).ok().stdout;
        assert!(text.contains("# plugin 1 of the list: rec1"), "{text}");
        assert!(text.contains("CNI_COMMAND=CHECK"), "{text}");
        h.run(&["del", "recnet", "dry"]).ok();
        h.assert_clean();
    });
}

/// `--trace FILE` appends one JSON line per plugin call with everything needed to replay it.
#[test]
fn trace_records_every_plugin_call() {
    host_test("trace_records_every_plugin_call", |h| {
        h.testnet();
        h.netns("tr");
        let trace = h.scratch.join("trace.jsonl");
        let t = trace.to_str().unwrap();
        h.run(&["--trace", t, "add", "testnet", "tr"]).ok();
        h.run(&["--trace", t, "del", "testnet", "tr"]).ok();
        let lines: Vec<Value> = fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let verbs: Vec<&str> = lines.iter().map(|l| l["verb"].as_str().unwrap()).collect();
        assert_eq!(verbs, ["ADD", "DEL"]);
        let add = &lines[0];
        assert_eq!(add["plugin"], "bridge");
        assert_eq!(add["exitCode"], 0);
        assert_eq!(add["env"]["CNI_IFNAME"], "eth0");
        assert!(add["stdin"]
            .as_str()
            .unwrap()
            .contains("\"name\":\"testnet\""));
        let result: Value = serde_json::from_str(add["stdout"].as_str().unwrap()).unwrap();
        assert!(result["ips"][0]["address"]
            .as_str()
            .unwrap()
            .starts_with("10.198.1."));
        assert!(add["durationMs"].as_f64().unwrap() > 0.0);
        h.assert_clean();
    });
}

/// `-v` and `RUST_LOG=debug` show each plugin call and its duration on stderr; stdout is
/// unchanged.
#[test]
fn verbose_shows_plugin_calls() {
    host_test("verbose_shows_plugin_calls", |h| {
        h.testnet();
        h.netns("vb");
        let plain = h.run(&["add", "testnet", "vb"]).ok();
        assert!(!plain.stderr.contains("cnitool: ADD"), "{plain:?}");
        h.run(&["del", "testnet", "vb"]).ok();
        let verbose = h.run(&["-v", "add", "testnet", "vb"]).ok();
        assert!(
            verbose
                .stderr
                .contains("cnitool: ADD bridge (plugin 1 of the list"),
            "{verbose:?}"
        );
        assert!(verbose.stderr.contains("exit 0 in "), "{verbose:?}");
        let logged = h
            .cnitool()
            .env("RUST_LOG", "debug")
            .args(["del", "testnet", "vb"])
            .run()
            .ok();
        assert!(logged.stderr.contains("cnitool: DEL bridge"), "{logged:?}");
        assert_eq!(logged.stdout, "");
        h.assert_clean();
    });
}

/// `--cap NAME=JSON`, `--cap NAME=@FILE`, `--dns` and `--dns-search` build the capability
/// arguments; each plugin gets in `runtimeConfig` only those it declares.
#[test]
fn capability_flags_reach_runtime_config() {
    host_test("capability_flags_reach_runtime_config", |h| {
        recorder(h, "rec1");
        recorder(h, "rec2");
        h.conflist(
            "capnet",
            "1.0.0",
            serde_json::json!([
                {"type": "rec1", "capabilities": {"bandwidth": true, "dns": true, "aliases": true}},
                {"type": "rec2", "capabilities": {"dns": false, "aliases": true}}
            ]),
        );
        h.netns("capns");
        let file = h.scratch.join("aliases.json");
        fs::write(&file, r#"{"capnet": ["web", "www"]}"#).unwrap();
        let at_file = format!("aliases=@{}", file.display());
        let plan = plan(
            h,
            &[
                "-o",
                "json",
                "add",
                "--dry-run",
                "--cap",
                r#"bandwidth={"ingressRate":1000}"#,
                "--cap",
                &at_file,
                "--dns",
                "10.198.0.53",
                "--dns-search",
                "a.test",
                "capnet",
                "capns",
            ],
        );
        let stdin = |i: usize| -> Value {
            serde_json::from_str(plan[i]["stdin"].as_str().unwrap()).unwrap()
        };
        assert_eq!(
            stdin(0)["runtimeConfig"],
            serde_json::json!({
                "aliases": {"capnet": ["web", "www"]},
                "bandwidth": {"ingressRate": 1000},
                "dns": {"searches": ["a.test"], "servers": ["10.198.0.53"]}
            })
        );
        // rec2 declares dns false: only aliases.
        assert_eq!(
            stdin(1)["runtimeConfig"],
            serde_json::json!({"aliases": {"capnet": ["web", "www"]}})
        );

        // Bad values are usage errors naming the flag.
        h.run(&["add", "--cap", "x={", "capnet", "capns"])
            .fails(2, "--cap x: invalid JSON");
        h.run(&[
            "add",
            "--cap",
            "nofile=@/nonexistent/x.json",
            "capnet",
            "capns",
        ])
        .fails(2, "--cap nofile: reading /nonexistent/x.json");
        h.run(&["add", "--dns", "not-an-ip", "capnet", "capns"])
            .fails(2, "--dns \"not-an-ip\"");
        h.assert_clean();
    });
}

/// stdout is one JSON document under `-o json`, for every command that prints anything
/// (or nothing at all), and `show`'s default output is JSON too: where the network came from
/// goes to stderr.
#[test]
fn stdout_is_json_for_every_command() {
    host_test("stdout_is_json_for_every_command", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.netns("other");
        let conf = h.conf.join("testnet.conflist");

        let show = h.run(&["show", "testnet"]).ok();
        assert_eq!(show.json()["name"], "testnet", "{show:#?}");
        assert_eq!(show.stderr, format!("# {}\n", conf.display()));
        let show = h.run(&["-q", "show", "testnet"]).ok();
        assert_eq!(show.json()["name"], "testnet");
        assert_eq!(show.stderr, "");

        let commands: &[&[&str]] = &[
            &["add", "testnet", "ctr"],
            &["show", "testnet"],
            &["list"],
            &["list", "--names"],
            &["validate"],
            &["version"],
            &["attachments"],
            &["check", "testnet", "ctr"],
            &["status", "testnet"],
            &["add", "--dry-run", "testnet", "other"],
            &["del", "--dry-run", "testnet", "ctr"],
            &[
                "run",
                "--dry-run",
                "--net",
                "testnet",
                "--net",
                "testnet:eth1",
                "--",
                "true",
            ],
            &["netns", "list"],
            &["del", "testnet", "ctr"],
            &["gc", "--dry-run"],
            &["gc"],
        ];
        for args in commands {
            let run = h.cnitool().args(["-o", "json"]).args(*args).run().ok();
            if !run.stdout.is_empty() {
                run.json();
            }
        }
        let names = h.run(&["-o", "json", "list", "--names"]).ok();
        assert_eq!(names.json(), serde_json::json!(["testnet", "cnitool"]));
        let run = h
            .run(&[
                "-o",
                "json",
                "run",
                "--dry-run",
                "--net",
                "testnet",
                "--",
                "true",
            ])
            .ok();
        assert_eq!(run.json()[0]["network"], "testnet");
        assert_eq!(run.json()[0]["ifName"], "eth0");
        assert_eq!(run.json()[0]["calls"][0]["plugin"], "bridge");
        assert!(!has_link(&ns, "eth0"));
    });
}

/// Output into a pipe whose reader has gone (`cnitool list | head -1`) ends quietly: no
/// panic, no "Broken pipe", and the command's own exit status, for every output shape.
#[test]
fn closed_stdout_ends_output_quietly() {
    plain_test(|h| {
        h.testnet();
        for args in [
            &["list"][..],
            &["list", "--names"],
            &["-o", "json", "list"],
            &["show", "testnet"],
            &["-o", "json", "show", "testnet"],
            &["version"],
            &["attachments"],
            &["run", "--dry-run", "--net", "testnet", "--", "true"],
        ] {
            let run = h.cnitool().args(args).run_with_closed_stdout();
            assert_eq!(run.code, 0, "{args:?}: {run:#?}");
            // Nothing on stderr but what the command always says there (`show`'s table form:
            // the file).
            let expected = match args {
                ["show", "testnet"] => format!("# {}\n", h.conf.join("testnet.conflist").display()),
                _ => String::new(),
            };
            assert_eq!(run.stderr, expected, "{args:?}: {run:#?}");
        }
        // An error still exits with its code; its JSON copy on stdout is dropped quietly.
        let run = h
            .cnitool()
            .args(["-o", "json", "show", "nosuchnet"])
            .run_with_closed_stdout();
        assert_eq!(run.code, 3, "{run:#?}");
        assert!(
            run.stderr
                .starts_with("error: network \"nosuchnet\" not found"),
            "{run:#?}"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    });
}
