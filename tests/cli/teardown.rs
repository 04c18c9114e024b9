//! DEL and GC with the real plugins: a namespace that is gone, repeated DEL, a netconf that
//! was deleted, a corrupt cache file, stale attachments.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{go_container_id, has_link, host_test, Host};

/// DEL after the namespace was deleted succeeds and releases the cache and the address.
#[test]
fn del_after_netns_deleted() {
    host_test("del_after_netns_deleted", |h| {
        h.testnet_no_masq();
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", ns.to_str().unwrap()]).ok();
        assert_eq!(h.ipam_leases().len(), 1);
        h.delete_netns("ctr");
        h.run(&["del", "testnet", ns.to_str().unwrap()]).ok();
        // The name form works too once the file is gone (nothing left to delete).
        h.run(&["del", "testnet", "ctr"]).ok();
    });
}

/// DEL twice: both succeed.
#[test]
fn del_repeated() {
    host_test("del_repeated", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", "ctr"]).ok();
        h.run(&["del", "testnet", "ctr"]).ok();
        h.run(&["del", "testnet", "ctr"]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// DEL of an attachment that was never added succeeds (the plugins run without
/// `prevResult`), and creates nothing.
#[test]
fn del_never_added() {
    host_test("del_never_added", |h| {
        h.testnet();
        h.netns("ctr");
        h.run(&["del", "testnet", "ctr"]).ok();
    });
}

/// CHECK and DEL after the netconf file was deleted use the configuration cached at ADD.
#[test]
fn check_and_del_after_netconf_deleted() {
    host_test("check_and_del_after_netconf_deleted", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", "ctr"]).ok();
        fs::remove_file(h.conf.join("testnet.conflist")).unwrap();
        h.run(&["check", "testnet", "ctr"]).ok();
        h.run(&["del", "testnet", "ctr"]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// DEL with a corrupt cache file: the plugins still tear down (from the netconf file) and
/// the file is removed.
#[test]
fn del_with_corrupt_cache() {
    host_test("del_with_corrupt_cache", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", "ctr"]).ok();
        let file = h
            .cache
            .join("results")
            .join(format!("testnet-{}-eth0", go_container_id(&ns)));
        fs::write(&file, b"{\"kind\":\"cniCacheV1\",\"result\":").unwrap();
        h.run(&["check", "testnet", "ctr"]).fails(5, "cache file");
        h.run(&["del", "testnet", "ctr"]).ok();
        assert!(!file.exists());
        assert!(!has_link(&ns, "eth0"));
    });
}

/// GC removes the attachments whose namespace is gone and keeps the live one; `--dry-run`
/// removes nothing; a second GC finds nothing.
#[test]
fn gc_removes_only_stale() {
    host_test("gc_removes_only_stale", |h| {
        h.testnet_no_masq();
        let dead = h.netns("dead");
        let live = h.netns("live");
        h.run(&["add", "testnet", "dead"]).ok();
        h.run(&["add", "testnet", "live"]).ok();
        h.delete_netns("dead");
        let dead_id = go_container_id(&dead);
        let live_id = go_container_id(&live);

        let run = h.run(&["gc", "--dry-run"]).ok();
        assert!(run.stdout.contains(&dead_id), "{run:?}");
        assert!(!run.stdout.contains(&live_id), "{run:?}");
        assert_eq!(h.cache_files().len(), 2);
        assert_eq!(h.ipam_leases().len(), 2);

        let run = h.run(&["gc"]).ok();
        assert!(
            run.stdout.contains(&dead_id) && !run.stdout.contains(&live_id),
            "{run:?}"
        );
        assert_eq!(h.cache_files(), [format!("testnet-{live_id}-eth0")]);
        assert_eq!(h.ipam_leases().len(), 1);
        assert!(has_link(&live, "eth0"));

        let run = h.run(&["-o", "json", "gc", "testnet"]).ok();
        assert_eq!(
            run.json(),
            serde_json::json!({"dryRun": false, "removed": [], "runs": []})
        );
        assert_eq!(h.cache_files().len(), 1);

        h.run(&["del", "testnet", "live"]).ok();
    });
}

/// STATUS of a 1.0.0 network succeeds without running anything (STATUS is 1.1.0).
#[test]
fn status_before_1_1_is_noop() {
    host_test("status_before_1_1_is_noop", |h| {
        h.testnet();
        let run = h.run(&["status", "testnet"]).ok();
        assert_eq!(run.stdout, "");
    });
}

/// DEL and GC of attachments whose namespace file is stale (its bind mount was removed, the
/// plain file is left): both succeed and release the addresses.
#[test]
fn del_and_gc_after_netns_unmounted() {
    host_test("del_and_gc_after_netns_unmounted", |h| {
        h.testnet_no_masq();
        let a = h.netns("a");
        let b = h.netns("b");
        h.run(&["add", "-o", "none", "testnet", "a"]).ok();
        h.run(&["add", "-o", "none", "testnet", "b"]).ok();
        for ns in [&a, &b] {
            nix::mount::umount2(ns, nix::mount::MntFlags::MNT_DETACH).unwrap();
            assert!(ns.is_file());
        }
        h.run(&["del", "testnet", "a"]).ok();
        let run = h.run(&["gc"]).ok();
        assert!(run.stdout.contains(&go_container_id(&b)), "{run:?}");
        fs::remove_file(&a).unwrap();
        fs::remove_file(&b).unwrap();
    });
}

/// GC whose DEL fails: exit 4, the attachment is kept, and stdout does not claim there was
/// nothing to remove.
#[test]
fn gc_with_failing_del() {
    host_test("gc_with_failing_del", |h| {
        h.conflist("n", "1.0.0", serde_json::json!([{"type": "faildel"}]));
        let allow = h.scratch.join("allow-del");
        h.fake_plugin(
            "faildel",
            &format!(
                "case $CNI_COMMAND in\n\
                 ADD) echo '{{\"cniVersion\":\"1.0.0\",\"dns\":{{}}}}' ;;\n\
                 DEL) [ -e {} ] || {{ echo '{{\"code\":11,\"msg\":\"busy\"}}'; exit 1; }} ;;\n\
                 esac",
                allow.display()
            ),
        );
        h.netns("ctr");
        h.run(&["add", "-o", "none", "n", "ctr"]).ok();
        h.delete_netns("ctr");
        let run = h.run(&["gc"]).fails(4, "busy");
        assert!(!run.stdout.contains("nothing to remove"), "{run:?}");
        assert_eq!(h.cache_files().len(), 1);
        // Once DEL succeeds, the next GC removes it.
        fs::write(&allow, "").unwrap();
        let run = h.run(&["gc"]).ok();
        assert!(run.stdout.starts_with("removed n cnitool-"), "{run:?}");
    });
}

/// A fake 1.1.0 plugin that logs each call (`COMMAND CNI_CONTAINERID stdin`, one line) and
/// answers ADD with an empty result; STATUS fails with code 50 while `unavailable` exists.
fn spy_1_1(h: &Host) -> PathBuf {
    let log = h.scratch.join("spy.log");
    let unavailable = h.scratch.join("unavailable");
    h.fake_plugin(
        "spy11",
        &format!(
            "input=$(cat)\n\
             [ \"$CNI_COMMAND\" = VERSION ] && {{ echo '{{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"1.0.0\",\"1.1.0\"]}}'; exit 0; }}\n\
             echo \"$CNI_COMMAND $CNI_CONTAINERID $(printf '%s' \"$input\" | jq -c .)\" >> {log}\n\
             case $CNI_COMMAND in\n\
             ADD) echo '{{\"cniVersion\":\"1.1.0\",\"dns\":{{}}}}' ;;\n\
             STATUS) [ -e {u} ] && {{ echo '{{\"cniVersion\":\"1.1.0\",\"code\":50,\"msg\":\"no IPs left\"}}'; exit 1; }} ;;\n\
             esac\n\
             exit 0",
            log = log.display(),
            u = unavailable.display()
        ),
    );
    log
}

/// The calls the spy logged since the last look: (command, container ID, stdin).
fn spy_calls(log: &Path) -> Vec<(String, String, Value)> {
    let text = fs::read_to_string(log).unwrap_or_default();
    let _ = fs::remove_file(log);
    text.lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let command = parts.next().unwrap().to_owned();
            let id = parts.next().unwrap().to_owned();
            (
                command,
                id,
                serde_json::from_str(parts.next().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// STATUS and GC at cniVersion 1.1.0, through the command line: STATUS reaches the plugin
/// and its failure is reported; GC deletes the stale attachment, then sends GC with the
/// live one as valid; with `disableGC` nothing reaches the plugins and the stale attachment
/// is kept.
#[test]
fn status_and_gc_at_1_1_reach_the_plugins() {
    host_test("status_and_gc_at_1_1_reach_the_plugins", |h| {
        let log = spy_1_1(h);
        h.conflist("n11", "1.1.0", serde_json::json!([{"type": "spy11"}]));

        let run = h.run(&["status", "n11"]).ok();
        assert_eq!(run.stdout, "");
        let calls = spy_calls(&log);
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].0, "STATUS");
        assert_eq!(calls[0].2["cniVersion"], "1.1.0");
        fs::write(h.scratch.join("unavailable"), "").unwrap();
        h.run(&["status", "n11"]).fails(4, "no IPs left");
        fs::remove_file(h.scratch.join("unavailable")).unwrap();
        spy_calls(&log);

        let live = h.netns("live");
        let stale = h.netns("stale");
        h.run(&["add", "-o", "none", "n11", "live"]).ok();
        h.run(&["add", "-o", "none", "n11", "stale"]).ok();
        let (live_id, stale_id) = (go_container_id(&live), go_container_id(&stale));
        h.delete_netns("stale");
        spy_calls(&log);

        let run = h.run(&["gc", "n11"]).ok();
        assert!(run.stdout.contains(&stale_id), "{run:?}");
        let calls = spy_calls(&log);
        let summary: Vec<(&str, &str)> = calls
            .iter()
            .map(|(c, id, _)| (c.as_str(), id.as_str()))
            .collect();
        assert_eq!(summary, [("DEL", stale_id.as_str()), ("GC", "")]);
        let valid = serde_json::json!([{"containerID": live_id, "ifname": "eth0"}]);
        assert_eq!(calls[1].2["cni.dev/valid-attachments"], valid);
        assert_eq!(calls[1].2["cni.dev/attachments"], valid);
        assert_eq!(h.cache_files(), [format!("n11-{live_id}-eth0")]);

        // disableGC: the same situation, and nothing reaches the plugins.
        h.write_conf(
            "n11.conflist",
            r#"{"cniVersion":"1.1.0","name":"n11","disableGC":true,"plugins":[{"type":"spy11"}]}"#,
        );
        h.netns("stale");
        h.run(&["add", "-o", "none", "n11", "stale"]).ok();
        h.delete_netns("stale");
        spy_calls(&log);
        h.run(&["gc", "n11"]).ok();
        assert_eq!(spy_calls(&log), []);
        assert_eq!(h.cache_files().len(), 2);

        // Cleaned up with GC allowed again.
        h.conflist("n11", "1.1.0", serde_json::json!([{"type": "spy11"}]));
        h.run(&["gc", "n11"]).ok();
        h.run(&["del", "n11", "live"]).ok();
        h.assert_cache_empty();
    });
}

/// `bridge` behind a wrapper whose DEL fails ("busy", CNI code 11) until the file `allow`
/// exists; anything else goes to the real bridge plugin.
fn stubborn_bridge(h: &crate::util::Host, allow: &std::path::Path) {
    h.fake_plugin(
        "stubborn",
        &format!(
            "if [ \"$CNI_COMMAND\" = DEL ] && [ ! -e {} ]; then\n\
             cat >/dev/null; echo '{{\"code\":11,\"msg\":\"busy\"}}'; exit 1\n\
             fi\n\
             exec {}/bridge",
            allow.display(),
            crate::util::REAL_PLUGINS
        ),
    );
    h.fake_plugin(
        "failadd",
        "cat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] && { echo '{\"code\":7,\"msg\":\"refused\"}'; exit 1; }\nexit 0",
    );
}

/// An ADD whose rollback fails keeps its cache entry, so the veth, lease and masquerading
/// chain that the rollback could not undo stay findable, and the error gives the exact
/// `del` command, which then removes all of it. (The entry used to be removed before the
/// rollback ran: nothing led back to what was left.)
#[test]
fn add_with_failed_rollback_keeps_the_attachment_for_del() {
    host_test(
        "add_with_failed_rollback_keeps_the_attachment_for_del",
        |h| {
            let allow = h.scratch.join("allow-del");
            stubborn_bridge(h, &allow);
            let mut bridge = h.bridge(1);
            bridge["type"] = "stubborn".into();
            h.conflist(
                "n",
                "1.0.0",
                serde_json::json!([bridge, {"type": "failadd"}]),
            );
            let ns = h.netns("ctr");
            let cid = go_container_id(&ns);
            let run = h
                .run(&["add", "n", "ctr"])
                .fails(4, "plugin \"failadd\" failed (ADD, CNI code 7");
            let entry = h.cache.join(format!("results/n-{cid}-eth0"));
            assert!(
            run.stderr.contains(&format!(
                "rollback also failed: plugin \"stubborn\" failed (DEL, CNI code 11: try again later): busy; \
                 the attachment stays recorded in {} until a DEL of it succeeds)",
                entry.display()
            )),
            "{run:?}"
        );
            let del = format!(
                "cnitool --cache-dir {} del n {}",
                h.cache.display(),
                ns.display()
            );
            assert!(
                run.stderr
                    .contains(&format!("(to finish the cleanup, run: {del}):")),
                "{run:?}"
            );
            // What the rollback could not undo is there, and recorded.
            assert_eq!(h.cache_files(), [format!("n-{cid}-eth0")]);
            let cached = h.cache_entry("n", &cid, "eth0");
            assert_eq!(cached["netns"], ns.to_str().unwrap());
            assert!(cached.get("result").is_none(), "{cached}");
            assert_eq!(h.ipam_leases().len(), 1);
            assert!(has_link(&ns, "eth0"));

            // The printed command finishes the job once DEL can succeed.
            fs::write(&allow, "").unwrap();
            let words: Vec<&str> = del.split(' ').collect();
            crate::util::cnitool_bare()
                .env(
                    "CNI_PATH",
                    format!("{}:{}", h.bin.display(), crate::util::REAL_PLUGINS),
                )
                .args(&words[1..])
                .run()
                .ok();
            assert!(!has_link(&ns, "eth0"));
        },
    );
}

/// DEL and CHECK reach the plugins loaded from `<dir>/<network>/*.conf`, as ADD did: the
/// cache records the whole list. A recording plugin file sees every verb, and portmap from a
/// plugin file has its DNAT rule and per-container chains removed by DEL (the host's
/// clean-up check finds any chain left). (portmap is not CHECKed: the Debian build's CHECK
/// fails on a host without IPv6 NAT rules.)
#[test]
fn del_and_check_reach_plugins_from_the_network_directory() {
    host_test(
        "del_and_check_reach_plugins_from_the_network_directory",
        |h| {
            let log = h.scratch.join("spy.log");
            h.fake_plugin(
                "spy",
                &format!(
                    "conf=$(cat)\necho \"$CNI_COMMAND\" >>{}\n\
                 [ \"$CNI_COMMAND\" = ADD ] && printf '%s' \"$conf\" | jq -c .prevResult\nexit 0",
                    log.display()
                ),
            );
            let snippet = |network: &str, file: &str, text: &str| {
                let dir = h.conf.join(network);
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(file), text).unwrap();
            };
            h.conflist("spied", "1.0.0", serde_json::json!([h.bridge(1)]));
            snippet("spied", "10-spy.conf", r#"{"type": "spy"}"#);
            let mut other = h.bridge(2);
            other["bridge"] = "cnitest1".into();
            h.conflist("ported", "1.0.0", serde_json::json!([other]));
            snippet(
                "ported",
                "10-portmap.conf",
                r#"{"type": "portmap", "capabilities": {"portMappings": true}}"#,
            );
            let ns = h.netns("ctr");

            h.run(&["add", "-o", "none", "spied", "ctr"]).ok();
            h.run(&["check", "spied", "ctr"]).ok();
            h.run(&["del", "spied", "ctr"]).ok();
            assert_eq!(fs::read_to_string(&log).unwrap(), "ADD\nCHECK\nDEL\n");
            assert!(!has_link(&ns, "eth0"));

            h.run(&["add", "-o", "none", "ported", "ctr", "-p", "18080:80"])
                .ok();
            let nat = crate::util::sh_output(&["iptables-save", "-t", "nat"]);
            assert!(
                nat.contains("--dport 18080 -j DNAT --to-destination 10.198.2.2:80"),
                "{nat}"
            );
            h.run(&["del", "ported", "ctr"]).ok();
            let nat = crate::util::sh_output(&["iptables-save", "-t", "nat"]);
            assert!(!nat.contains("--to-destination"), "{nat}");
            assert!(!has_link(&ns, "eth0"));
        },
    );
}

/// `a-b` + container `c` and `a` + container `b-c` map to one cache file name: DEL of the
/// never-added second leaves the first's file alone, and the first is still deleted in full.
#[test]
fn del_never_added_leaves_a_colliding_cache_file_alone() {
    host_test("del_never_added_leaves_a_colliding_cache_file_alone", |h| {
        h.conflist("a-b", "1.0.0", serde_json::json!([h.bridge(1)]));
        let mut other = h.bridge(2);
        other["bridge"] = "cnitest1".into();
        h.conflist("a", "1.0.0", serde_json::json!([other]));
        let ns = h.netns("ctr");
        h.run(&["add", "-o", "none", "a-b", "ctr", "--container-id", "c"])
            .ok();
        let before = h.cache_entry("a-b", "c", "eth0");
        // In another namespace: the file name does not depend on it, and bridge's DEL
        // removes the interface of that name from whatever namespace it is given.
        h.netns("ctr2");
        h.run(&["del", "a", "ctr2", "--container-id", "b-c"]).ok();
        assert_eq!(h.cache_files(), ["a-b-c-eth0"]);
        assert_eq!(h.cache_entry("a-b", "c", "eth0"), before);
        assert!(has_link(&ns, "eth0"));
        h.run(&["del", "a-b", "ctr", "--container-id", "c"]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// GC of an attachment whose namespace is gone runs DEL without `CNI_NETNS`; bridge then
/// cannot find the addresses to unmasquerade and leaves its NAT chain. GC still removes the
/// attachment (the DEL succeeded, the address is freed), but does not call that "removed"
/// alone: it names the rules left behind and fails with exit 4.
#[test]
fn gc_reports_rules_del_left_behind() {
    host_test("gc_reports_rules_del_left_behind", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let id = go_container_id(&ns);
        h.run(&["add", "testnet", "ctr"]).ok();
        h.delete_netns("ctr");

        let run = h.run(&["gc"]).fails(
            4,
            &format!(
                "the DEL of 1 attachment(s) left rules behind (the namespace was gone, so the \
                 plugins could not find everything to undo): testnet {id} eth0: 3 iptables \
                 rule(s) in table nat (chains POSTROUTING, CNI-"
            ),
        );
        let nat = crate::util::sh_output(&["iptables-save", "-t", "nat"]);
        let chain = nat
            .lines()
            .find(|l| l.starts_with("-A CNI-") && l.contains(&id))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("no per-container chain left:\n{nat}"))
            .to_owned();
        assert_eq!(
            run.stdout,
            format!(
                "removed testnet {id} eth0 (netns {}), but its DEL left behind: 3 iptables \
                 rule(s) in table nat (chains POSTROUTING, {chain})\n",
                ns.display()
            ),
            "{run:#?}"
        );
        // The attachment itself is gone: cache entry and lease.
        h.assert_cache_empty();
        assert_eq!(h.ipam_leases(), Vec::<String>::new());

        // What was reported is what is there; removing it leaves the host clean.
        crate::util::sh_output(&["iptables", "-t", "nat", "-F", "POSTROUTING"]);
        crate::util::sh_output(&["iptables", "-t", "nat", "-F", &chain]);
        crate::util::sh_output(&["iptables", "-t", "nat", "-X", &chain]);
        let run = h.run(&["gc"]).ok();
        assert_eq!(run.stdout, "nothing to remove\n");
    });
}
