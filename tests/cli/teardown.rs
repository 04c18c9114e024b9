//! DEL and GC with the real plugins: a namespace that is gone, repeated DEL, a netconf that
//! was deleted, a corrupt cache file, stale attachments.

use std::fs;

use crate::util::{go_container_id, has_link, host_test};

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
