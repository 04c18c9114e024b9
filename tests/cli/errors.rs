//! Bad input: each case checks the exit code, a message substring, and (through
//! `host_test`) that nothing was left behind.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{host_test, Host};

const USAGE: i32 = 2;
const CONFIG: i32 = 3;
const PLUGIN: i32 = 4;
const STATE: i32 = 5;

#[test]
fn missing_network_lists_the_others() {
    host_test("missing_network_lists_the_others", |h| {
        h.testnet();
        h.conflist("other", "1.0.0", json!([{"type": "loopback"}]));
        h.netns("ctr");
        h.run(&["add", "nosuch", "ctr"])
            .fails(CONFIG, "network \"nosuch\" not found")
            .fails(CONFIG, "networks there: other, testnet");
    });
}

#[test]
fn malformed_target_netconf_names_file_line_column() {
    host_test("malformed_target_netconf_names_file_line_column", |h| {
        let path = h.write_conf(
            "10-bad.conflist",
            "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": \"bad\"\n  \"plugins\": []\n}\n",
        );
        h.netns("ctr");
        let msg = format!("{}: line 4 column 3", path.display());
        h.run(&["add", "bad", "ctr"]).fails(CONFIG, &msg);
    });
}

/// A broken file beside the good one: the good network works, the broken file is named in
/// a warning.
#[test]
fn unrelated_broken_netconf_is_a_warning() {
    host_test("unrelated_broken_netconf_is_a_warning", |h| {
        h.testnet();
        let broken = h.write_conf("00-broken.conflist", "{\"name\": ");
        h.netns("ctr");
        let run = h.run(&["add", "testnet", "ctr"]).ok();
        assert!(
            run.stderr.contains("warning: ") && run.stderr.contains(broken.to_str().unwrap()),
            "{run:?}"
        );
        h.run(&["-q", "del", "testnet", "ctr"]).ok();
    });
}

#[test]
fn plugin_type_with_a_path() {
    host_test("plugin_type_with_a_path", |h| {
        h.conflist(
            "testnet",
            "1.0.0",
            json!([{"type": "../../usr/lib/cni/loopback"}]),
        );
        h.netns("ctr");
        h.run(&["add", "testnet", "ctr"])
            .fails(CONFIG, "plugins[0].type");
    });
}

/// A missing plugin at the start, in the middle and at the end of a chain: exit 3, the
/// plugins that ran are rolled back, nothing cached.
#[test]
fn missing_plugin_in_chain() {
    host_test("missing_plugin_in_chain", |h| {
        let ns = h.netns("ctr");
        let missing = json!({"type": "nosuchplugin"});
        let tuning = json!({"type": "tuning", "dataDir": h.scratch.join("tuning")});
        for (i, chain) in [
            json!([missing, h.bridge(1)]),
            json!([h.bridge(1), missing, tuning]),
            json!([h.bridge(1), tuning, missing]),
        ]
        .into_iter()
        .enumerate()
        {
            h.conflist("testnet", "1.0.0", chain);
            h.run(&["add", "testnet", "ctr"])
                .fails(CONFIG, "plugin \"nosuchplugin\" not found");
            assert!(!crate::util::has_link(&ns, "eth0"), "chain {i}: eth0 left");
            h.assert_clean();
        }
    });
}

#[test]
fn invalid_identifiers() {
    host_test("invalid_identifiers", |h| {
        h.testnet();
        h.netns("ctr");
        for ifname in ["eth0/x", "a-very-long-ifname", "eth 0", ".."] {
            h.run(&["add", "-i", ifname, "testnet", "ctr"])
                .fails(USAGE, "invalid interface name");
        }
        h.run(&["add", "--container-id=-bad", "testnet", "ctr"])
            .fails(USAGE, "invalid container ID");
        h.run(&["add", "--container-id", "bad id", "testnet", "ctr"])
            .fails(USAGE, "invalid container ID");
        h.run(&["add", "bad/name", "ctr"])
            .fails(USAGE, "invalid network name");
        h.run(&["del", "bad name", "ctr"])
            .fails(USAGE, "invalid network name");
        h.run(&["add", "testnet", ""]).fails(USAGE, "empty");
    });
}

#[test]
fn malformed_cni_args_and_cap_args() {
    host_test("malformed_cni_args_and_cap_args", |h| {
        h.testnet();
        h.netns("ctr");
        let add = || h.cnitool().args(["add", "testnet", "ctr"]);
        add().env("CNI_ARGS", "A").run().fails(USAGE, "CNI_ARGS");
        add()
            .arg("--arg")
            .arg("novalue")
            .run()
            .fails(USAGE, "--arg");
        add()
            .env("CAP_ARGS", "{bad}")
            .run()
            .fails(USAGE, "CAP_ARGS");
        add().env("CAP_ARGS", "[1]").run().fails(USAGE, "CAP_ARGS");
        add()
            .env(
                "CAP_ARGS",
                r#"{"portMappings":[{"hostPort":70000,"containerPort":80,"protocol":"tcp"}]}"#,
            )
            .run()
            .fails(USAGE, "hostPort");
        add()
            .args(["-p", "70000:80"])
            .run()
            .fails(USAGE, "1 to 65535");
        add().args(["-p", "80"]).run().fails(USAGE, "--publish");
        add()
            .args(["--ip", "10.198.1.300"])
            .run()
            .fails(USAGE, "--ip");
        add().args(["--mac", "02:42"]).run().fails(USAGE, "--mac");
    });
}

/// Target namespaces that are no namespace, another kind of namespace, or the caller's own.
#[test]
fn unusable_netns() {
    host_test("unusable_netns", |h| {
        h.testnet();
        let file = h.scratch.join("plain-file");
        fs::write(&file, "").unwrap();
        let missing = h.scratch.join("nosuch");
        let cases = [
            (missing.to_str().unwrap(), "does not exist"),
            (file.to_str().unwrap(), "regular file"),
            ("/proc/self/ns/mnt", "mount namespace"),
            ("/proc/self/ns/net", "own network namespace"),
            (h.scratch.to_str().unwrap(), "directory"),
        ];
        for (path, msg) in cases {
            h.run(&["add", "testnet", path]).fails(STATE, msg);
            h.run(&["check", "testnet", path]).fails(STATE, msg);
        }
        h.run(&["del", "testnet", "/proc/self/ns/net"])
            .fails(STATE, "own network namespace");
    });
}

/// A second ADD of the same attachment is a state conflict and leaves the first intact.
#[test]
fn second_add_conflicts() {
    host_test("second_add_conflicts", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", "ctr"]).ok();
        h.run(&["add", "testnet", "ctr"])
            .fails(STATE, "already attached");
        assert!(crate::util::addrs(h, &ns, "eth0").contains("10.198.1.2/24"));
        h.run(&["check", "testnet", "ctr"]).ok();
        assert_eq!(h.ipam_leases().len(), 1);
        h.run(&["del", "testnet", "ctr"]).ok();
    });
}

#[test]
fn check_before_add() {
    host_test("check_before_add", |h| {
        h.testnet();
        h.netns("ctr");
        h.run(&["check", "testnet", "ctr"])
            .fails(STATE, "not attached");
    });
}

#[test]
fn check_below_0_4_0() {
    host_test("check_below_0_4_0", |h| {
        h.conflist("old", "0.3.1", json!([{"type": "loopback"}]));
        h.netns("ctr");
        h.run(&["add", "-o", "none", "old", "ctr"]).ok();
        h.run(&["check", "old", "ctr"])
            .fails(CONFIG, "does not support the CHECK command");
        h.run(&["del", "old", "ctr"]).ok();
    });
}

#[test]
fn disable_check_skips_plugins() {
    host_test("disable_check_skips_plugins", |h| {
        h.write_conf(
            "n.conflist",
            r#"{"cniVersion":"1.0.0","name":"n","disableCheck":true,
                "plugins":[{"type":"fail"}]}"#,
        );
        h.fake_plugin("fail", "echo '{\"code\":7,\"msg\":\"ran\"}'; exit 1");
        h.netns("ctr");
        h.run(&["check", "n", "ctr"]).ok();
    });
}

/// ADD runs a chain whose last plugin hangs: killed after `--timeout`, exit 4, the plugin
/// process is gone, the bridge is rolled back.
#[test]
fn hanging_plugin_times_out() {
    host_test("hanging_plugin_times_out", |h| {
        h.conflist("testnet", "1.0.0", json!([h.bridge(1), {"type": "hang"}]));
        let pidfile = h.scratch.join("pid");
        h.fake_plugin(
            "hang",
            &format!(
                "[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho $$ > {}\nexec sleep 100",
                pidfile.display()
            ),
        );
        let ns = h.netns("ctr");
        let start = Instant::now();
        // The limit also bounds the rollback's DEL of bridge (iptables calls): 1s was too
        // short for it on a loaded 2-core machine running the suite in parallel.
        let failed = h
            .run(&["--timeout", "3s", "add", "testnet", "ctr"])
            .fails(PLUGIN, "timed out");
        assert!(
            !failed.stderr.contains("rollback also failed"),
            "the rollback must succeed: {failed:#?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        let pid = fs::read_to_string(&pidfile).unwrap();
        assert!(
            !Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "plugin process {pid} still exists"
        );
        assert!(!crate::util::has_link(&ns, "eth0"));
    });
}

/// Plugins that succeed but print garbage or nothing on ADD: exit 4, rolled back.
#[test]
fn plugin_prints_garbage_or_nothing() {
    host_test("plugin_prints_garbage_or_nothing", |h| {
        let ns = h.netns("ctr");
        h.fake_plugin(
            "garbage",
            "[ \"$CNI_COMMAND\" = ADD ] && echo 'not json'; exit 0",
        );
        h.fake_plugin("silent", "exit 0");
        for plugin in ["garbage", "silent"] {
            h.conflist("testnet", "1.0.0", json!([h.bridge(1), {"type": plugin}]));
            h.run(&["add", "testnet", "ctr"]).fails(PLUGIN, plugin);
            assert!(!crate::util::has_link(&ns, "eth0"));
            h.assert_clean();
        }
    });
}

/// A plugin's CNI error: exit 4, the code in the message, and with `--output json` the
/// error object on stdout.
#[test]
fn plugin_error_with_output_json() {
    host_test("plugin_error_with_output_json", |h| {
        h.conflist("testnet", "1.0.0", json!([{"type": "errjson"}]));
        h.fake_plugin(
            "errjson",
            "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n\
             echo '{\"code\":7,\"msg\":\"bad config\",\"details\":\"field x\"}'; exit 1",
        );
        h.netns("ctr");
        let run = h
            .run(&["add", "testnet", "ctr"])
            .fails(PLUGIN, "CNI code 7");
        assert!(run.stderr.contains("bad config; field x"), "{run:?}");
        assert_eq!(run.stdout, "");
        let run = h
            .run(&["-o", "json", "add", "testnet", "ctr"])
            .fails(PLUGIN, "bad config");
        let obj = run.json();
        assert_eq!(obj["code"], 7);
        assert_eq!(obj["details"], "field x");
        assert!(obj["msg"].as_str().unwrap().contains("bad config"), "{obj}");
        // A configuration error with --output json: code 7 (invalid network config).
        let run = h
            .run(&["-o", "json", "add", "nosuch", "ctr"])
            .fails(CONFIG, "nosuch");
        assert_eq!(run.json()["code"], 7);
        // A usage error: code 4 (invalid environment variables).
        let run = h
            .cnitool()
            .env("CNI_ARGS", "A")
            .args(["-o", "json", "add", "testnet", "ctr"])
            .run()
            .fails(USAGE, "CNI_ARGS");
        assert_eq!(run.json()["code"], 4);
    });
}

#[test]
fn unknown_verb_and_missing_args() {
    host_test("unknown_verb_and_missing_args", |h: &Host| {
        let run = h.run(&["frob", "testnet", "ctr"]);
        assert_eq!(run.code, USAGE, "{run:?}");
        assert!(run.stderr.contains("frob"), "{run:?}");
        let run = h.run(&["add"]);
        assert_eq!(run.code, USAGE, "{run:?}");
        let run = h.run(&["add", "testnet"]);
        assert_eq!(run.code, USAGE, "{run:?}");
        let run = h.run(&["--timeout", "soon", "add", "testnet", "ctr"]);
        assert_eq!(run.code, USAGE, "{run:?}");
    });
}

#[test]
fn gc_invalid_network_name() {
    host_test("gc_invalid_network_name", |h| {
        h.run(&["gc", "bad/name"])
            .fails(USAGE, "invalid network name");
        h.run(&["status", "bad/name"])
            .fails(USAGE, "invalid network name");
    });
}

/// `--result-version` that is no version: refused before anything runs. One the result
/// cannot be converted to (0.2.0 without an address): the attachment is deleted again.
#[test]
fn result_version_bad_or_unconvertible() {
    host_test("result_version_bad_or_unconvertible", |h| {
        h.testnet();
        h.netns("ctr");
        h.run(&["add", "--result-version", "bogus", "testnet", "ctr"])
            .fails(USAGE, "--result-version \"bogus\"");
        h.assert_clean();
        h.conflist("noaddr", "1.0.0", json!([{"type": "noaddr"}]));
        h.fake_plugin(
            "noaddr",
            &format!(
                "echo $CNI_COMMAND >> {}/noaddr.log\n\
                 [ \"$CNI_COMMAND\" = ADD ] && echo '{{\"cniVersion\":\"1.0.0\",\"dns\":{{}}}}'\n\
                 exit 0",
                h.scratch.display()
            ),
        );
        h.run(&["add", "--result-version", "0.2.0", "noaddr", "ctr"])
            .fails(PLUGIN, "the attachment was deleted again");
        let log = fs::read_to_string(h.scratch.join("noaddr.log")).unwrap();
        assert_eq!(log, "ADD\nDEL\n");
    });
}

/// A second network on an interface another network holds (same container, same ifname) is
/// refused before any plugin runs, naming that network and `-i`; the first network's
/// interface, address, lease and cache entry stay as they were. The same with another
/// container ID in the same namespace. (The second ADD used to fail on "eth0 already
/// exists", and its rollback DEL deleted the first network's eth0.)
#[test]
fn add_on_an_interface_another_network_holds() {
    host_test("add_on_an_interface_another_network_holds", |h| {
        h.testnet();
        let mut other = h.bridge(2);
        other["bridge"] = "cnitest1".into();
        h.conflist("other", "1.0.0", json!([other]));
        let ns = h.netns("ctr");
        h.run(&["add", "-o", "none", "testnet", "ctr"]).ok();
        let cid = crate::util::go_container_id(&ns);
        let addr_before = crate::util::addrs(h, &ns, "eth0");
        let entry_before = h.cache_entry("testnet", &cid, "eth0");
        let leases_before = h.ipam_leases();

        let run = h.run(&["add", "other", "ctr"]).fails(
            STATE,
            &format!(
                "interface \"eth0\" is already attached to network \"testnet\" (container \"{cid}\""
            ),
        );
        assert!(run.stderr.contains("-i/--ifname"), "{run:?}");
        h.run(&["add", "other", "ctr", "--container-id", "another"])
            .fails(
                STATE,
                "interface \"eth0\" is already attached to network \"testnet\"",
            );
        assert_eq!(crate::util::addrs(h, &ns, "eth0"), addr_before);
        assert_eq!(h.cache_entry("testnet", &cid, "eth0"), entry_before);
        assert_eq!(h.cache_files(), [format!("testnet-{cid}-eth0")]);
        assert_eq!(h.ipam_leases(), leases_before);

        // Under another interface name it is another attachment.
        h.run(&["add", "-o", "none", "other", "ctr", "-i", "eth1"])
            .ok();
        h.run(&["del", "other", "ctr", "-i", "eth1"]).ok();
        h.run(&["del", "testnet", "ctr"]).ok();
    });
}

/// DEL of a network that was never added, on an interface another network holds (a typo:
/// `del other` after `add testnet`): refused before any plugin runs, naming the network that
/// holds it; the first network's interface, address, lease and cache entry stay. (The bridge
/// plugin's DEL used to delete the first network's eth0.)
#[test]
fn del_of_a_never_added_network_leaves_the_holders_interface() {
    host_test(
        "del_of_a_never_added_network_leaves_the_holders_interface",
        |h| {
            h.testnet();
            let mut other = h.bridge(2);
            other["bridge"] = "cnitest1".into();
            h.conflist("other", "1.0.0", json!([other]));
            let ns = h.netns("ctr");
            h.run(&["add", "-o", "none", "testnet", "ctr"]).ok();
            let cid = crate::util::go_container_id(&ns);
            let addr_before = crate::util::addrs(h, &ns, "eth0");
            let leases_before = h.ipam_leases();

            h.run(&["del", "other", "ctr"]).fails(
                STATE,
                &format!(
                "deleting network \"other\" from {}: interface \"eth0\" is already attached to \
                 network \"testnet\" (container \"{cid}\"",
                ns.display()
            ),
            );
            assert!(crate::util::has_link(&ns, "eth0"));
            assert_eq!(crate::util::addrs(h, &ns, "eth0"), addr_before);
            assert_eq!(h.cache_files(), [format!("testnet-{cid}-eth0")]);
            assert_eq!(h.ipam_leases(), leases_before);
            // Of an interface nobody holds, DEL stays the no-op it always was.
            h.run(&["del", "other", "ctr", "-i", "eth7"]).ok();
            h.run(&["del", "testnet", "ctr"]).ok();
        },
    );
}

/// `-p`, `--ip`, `--mac`, `--dns` and `--dns-search` reach only the plugins that declare
/// their capability: when none of the network does, the flag would do nothing, so add, check
/// and del refuse it before any plugin runs, naming the flag, the network and the
/// capability. A plugin that declares it makes the flag work.
#[test]
fn capability_flag_no_plugin_takes() {
    host_test("capability_flag_no_plugin_takes", |h| {
        let calls = h.scratch.join("calls");
        h.fake_plugin(
            "spy",
            &format!(
                "echo \"$CNI_COMMAND\" >> {calls}\ncat > /dev/null\n\
                 [ \"$CNI_COMMAND\" = ADD ] && echo '{{\"cniVersion\":\"1.0.0\"}}'\nexit 0",
                calls = calls.display()
            ),
        );
        h.conflist("plain", "1.0.0", json!([{"type": "spy"}]));
        h.netns("ctr");
        let cases = [
            (&["-p", "8080:80"][..], "-p/--publish", "portMappings"),
            (&["--ip", "10.198.1.9/24"], "--ip", "ips"),
            (&["--mac", "02:42:0a:c6:01:09"], "--mac", "mac"),
            (&["--dns", "10.198.1.53"], "--dns", "dns"),
            (&["--dns-search", "a.test"], "--dns-search", "dns"),
        ];
        for verb in ["add", "check", "del"] {
            for (flag_args, flag, cap) in cases {
                let run = h
                    .cnitool()
                    .args([verb, "plain", "ctr"])
                    .args(flag_args)
                    .run()
                    .fails(
                        USAGE,
                        &format!(
                            "error: {flag}: no plugin of network \"plain\" declares the \"{cap}\" \
                         capability, so the flag would do nothing"
                        ),
                    );
                assert!(
                    run.stderr
                        .contains(&format!("\"capabilities\": {{\"{cap}\": true}}")),
                    "{run:#?}"
                );
            }
        }
        assert!(
            !calls.exists(),
            "a plugin ran: {:?}",
            fs::read_to_string(&calls)
        );
        h.assert_cache_empty();

        // Declared: the flag reaches the plugin and ADD succeeds.
        h.conflist(
            "plain",
            "1.0.0",
            json!([{"type": "spy", "capabilities": {"mac": true}}]),
        );
        h.run(&["add", "plain", "ctr", "--mac", "02:42:0a:c6:01:09"])
            .ok();
        h.run(&["add", "plain", "ctr", "--ip", "10.198.1.9/24"])
            .fails(
                USAGE,
                "--ip: no plugin of network \"plain\" declares the \"ips\" capability",
            );
        h.run(&["del", "plain", "ctr"]).ok();
        assert_eq!(fs::read_to_string(&calls).unwrap(), "ADD\nDEL\n");
    });
}

/// What a plugin or plugin directory is wrong with, said as it is: an error object without
/// `code` shows its message (code 0, as Go decodes it); a plugin file without the exec bit
/// is "permission denied" with its path, not "not found"; a relative `CNI_PATH` entry is
/// ignored with a warning naming it.
#[test]
fn plugin_and_plugin_dir_problems_named() {
    host_test("plugin_and_plugin_dir_problems_named", |h| {
        h.netns("ctr");
        h.fake_plugin(
            "nocode",
            // Fails on ADD only: its rollback DEL succeeds, so nothing stays recorded.
            "cat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho '{\"msg\":\"boom\"}'\nexit 1",
        );
        h.conflist("nocode", "1.0.0", json!([{"type": "nocode"}]));
        h.run(&["add", "nocode", "ctr"])
            .fails(PLUGIN, "plugin \"nocode\" failed (ADD, CNI code 0): boom");

        h.fake_plugin("noexec", "exit 0");
        let path = h.bin.join("noexec");
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        h.conflist("noexec", "1.0.0", json!([{"type": "noexec"}]));
        h.run(&["add", "noexec", "ctr"]).fails(
            CONFIG,
            &format!(
                "plugin \"noexec\" at {} cannot be executed: permission denied",
                path.display()
            ),
        );
        h.assert_cache_empty();

        h.testnet();
        let run = h
            .cnitool()
            .env("CNI_PATH", format!("relbin:{}", crate::util::REAL_PLUGINS))
            .args(["add", "testnet", "ctr"])
            .run()
            .ok();
        assert_eq!(
            run.stderr,
            "warning: plugin directory \"relbin\" (CNI_PATH / --plugin-dir) is not an absolute \
             path: ignored (give it as an absolute path)\n"
        );
        h.run(&["del", "testnet", "ctr"]).ok();
    });
}

/// `container run` refuses engine options that contradict it (`-d`, `--network`, the
/// engine's `-p`) before anything runs: the engine is never called, nothing is created, and
/// the message points at `container attach` for a detached container.
#[test]
fn container_run_refuses_contradicting_engine_args() {
    crate::util::plain_test(|h| {
        // An engine client that records every call.
        let calls = h.scratch.join("engine-calls");
        let engine = h.scratch.join("fake-docker");
        fs::write(
            &engine,
            format!("#!/bin/sh\necho \"$*\" >>{}\nexit 1\n", calls.display()),
        )
        .unwrap();
        fs::set_permissions(
            &engine,
            <fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
        let container_run = |engine_args: &[&str]| {
            h.cnitool()
                .args(["container", "run", "--engine", "docker", "--engine-bin"])
                .arg(&engine)
                .arg("--")
                .args(engine_args)
                .run()
        };
        container_run(&["--rm", "-d", "busybox", "sleep", "9"]).fails(
            125,
            "error: engine argument \"-d\": `container run` keeps the container in the \
             foreground and removes its CNI networks when it ends; for a detached one, start \
             it with `docker run -d --network none ...` and attach it with `cnitool container \
             attach --engine docker NAME --net NET`",
        );
        container_run(&["--detach", "busybox"]).fails(125, "engine argument \"--detach\"");
        container_run(&["--network=host", "busybox"]).fails(
            125,
            "engine argument \"--network=host\": cnitool sets the container's network",
        );
        container_run(&["--net", "bridge", "busybox"]).fails(125, "engine argument \"--net\"");
        container_run(&["-p", "8080:80", "busybox"]).fails(
            125,
            "publish through the portmap plugin with cnitool's own -p",
        );
        assert!(
            !calls.exists(),
            "the engine was called: {:?}",
            fs::read_to_string(&calls)
        );
        assert_eq!(fs::read_dir(&h.cache).map(|d| d.count()).unwrap_or(0), 0);
    });
}
