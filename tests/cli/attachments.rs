//! `cnitool attachments`: what the cache says is attached, after real ADDs in a throwaway host.

use serde_json::{json, Value};

use crate::util::*;

/// A bridge network without masquerading (bridge 1.1.1 leaks the masquerade chain when the
/// namespace is gone at DEL; see [`Host::testnet_no_masq`]).
fn network(h: &Host, name: &str, n: u8) {
    let mut bridge = h.bridge(n);
    bridge["ipMasq"] = false.into();
    bridge["bridge"] = format!("cnitest{n}").into();
    h.conflist(name, "1.0.0", json!([bridge]));
}

/// `(network, container, ifname, netnsExists)` of each attachment, in order.
fn rows(run: &Run) -> Vec<(String, String, String, Value)> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["network"].as_str().unwrap().to_owned(),
                a["containerId"].as_str().unwrap().to_owned(),
                a["ifname"].as_str().unwrap().to_owned(),
                a["netnsExists"].clone(),
            )
        })
        .collect()
}

#[test]
fn attachments_filters_and_stale_namespaces() {
    host_test("attachments_filters_and_stale_namespaces", |h| {
        network(h, "front", 1);
        network(h, "back", 2);
        let a = h.netns("a");
        h.netns("b");
        h.run(&["add", "--container-id", "ctr-a", "front", "a"])
            .ok();
        h.run(&["add", "--container-id", "ctr-b", "front", "b"])
            .ok();
        h.run(&["add", "--container-id", "ctr-a", "-i", "eth1", "back", "a"])
            .ok();

        let all = h.run(&["attachments"]).ok();
        let all_json = h.run(&["-o", "json", "attachments"]).ok();
        insta::assert_snapshot!("attachments_table", h.normalize(&all.stdout));
        insta::assert_snapshot!("attachments_json", h.normalize(&all_json.stdout));
        let yes = Value::Bool(true);
        let row = |net: &str, ctr: &str, ifname: &str, exists: &Value| {
            (
                net.to_owned(),
                ctr.to_owned(),
                ifname.to_owned(),
                exists.clone(),
            )
        };
        assert_eq!(
            rows(&all_json),
            [
                row("back", "ctr-a", "eth1", &yes),
                row("front", "ctr-a", "eth0", &yes),
                row("front", "ctr-b", "eth0", &yes),
            ]
        );
        let first = &all_json.json()[1];
        assert_eq!(first["netns"], a.to_str().unwrap());
        assert_eq!(first["addresses"], json!(["10.198.1.2/24"]));

        // --net and --netns (a name in the netns directory, or a path), alone and together.
        let back = h.run(&["-o", "json", "attachments", "--net", "back"]).ok();
        assert_eq!(rows(&back), [row("back", "ctr-a", "eth1", &yes)]);
        let in_b = h.run(&["-o", "json", "attachments", "--netns", "b"]).ok();
        assert_eq!(rows(&in_b), [row("front", "ctr-b", "eth0", &yes)]);
        let by_path = h
            .run(&["-o", "json", "attachments", "--netns", a.to_str().unwrap()])
            .ok();
        assert_eq!(rows(&by_path).len(), 2);
        // The same namespace through a symbolic link to the netns directory.
        let link = h.scratch.join("nslink");
        std::os::unix::fs::symlink(&h.netns_dir, &link).unwrap();
        let via_link = link.join("a");
        let linked = h
            .run(&[
                "-o",
                "json",
                "attachments",
                "--netns",
                via_link.to_str().unwrap(),
            ])
            .ok();
        assert_eq!(rows(&linked), rows(&by_path));
        let both = h
            .run(&[
                "-o",
                "json",
                "attachments",
                "--net",
                "front",
                "--netns",
                "a",
            ])
            .ok();
        assert_eq!(rows(&both), [row("front", "ctr-a", "eth0", &yes)]);
        let none = h.run(&["attachments", "--net", "nosuch"]).ok();
        assert_eq!(none.stdout.lines().count(), 1, "header only: {none:?}");

        // Once namespace b is deleted its attachment is stale, until DEL removes it.
        h.delete_netns("b");
        let stale = h.run(&["attachments", "--netns", "b"]).ok();
        insta::assert_snapshot!("attachments_stale_table", h.normalize(&stale.stdout));
        let stale = h.run(&["-o", "json", "attachments"]).ok();
        assert_eq!(
            rows(&stale),
            [
                row("back", "ctr-a", "eth1", &yes),
                row("front", "ctr-a", "eth0", &yes),
                row("front", "ctr-b", "eth0", &Value::Bool(false)),
            ]
        );

        // A cache file that does not parse is named on stderr, and the rest still listed.
        let junk = h.cache.join("results").join("front-junk-eth0");
        std::fs::write(&junk, "{not json").unwrap();
        let warned = h.run(&["-o", "json", "attachments"]).ok();
        assert_eq!(rows(&warned).len(), 3);
        assert!(
            warned
                .stderr
                .contains("front-junk-eth0: unreadable cache file skipped"),
            "{warned:?}"
        );
        assert_eq!(h.run(&["-q", "attachments"]).ok().stderr, "");
        std::fs::remove_file(&junk).unwrap();

        h.run(&["del", "--container-id", "ctr-b", "front", "b"])
            .ok();
        h.run(&["del", "--container-id", "ctr-a", "-i", "eth1", "back", "a"])
            .ok();
        h.run(&["del", "--container-id", "ctr-a", "front", "a"])
            .ok();
        assert_eq!(h.run(&["attachments"]).ok().stdout.lines().count(), 1);
    });
}
