//! `create --attach` and what `list` and `delete` make of attachments.

use crate::util::*;

#[test]
fn attach_list_refuse_and_force_delete() {
    if !root_or_skip("attach_list_refuse_and_force_delete") {
        return;
    }
    let env = Env::new();
    env.bridge_net("first", "cnitest2", "10.99.3.0/24");
    env.ptp_net("second", "10.99.4.0/24");
    in_throwaway_host(|| {
        let out = env.ok(&[
            "-o", "json", "netns", "create", "web", "--attach", "first", "--attach", "second",
        ]);
        let created: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(created, env.list());

        // In the namespace: eth0 from the bridge, eth1 from ptp, with the listed addresses.
        let addrs = env.ok(&["netns", "exec", "web", "ip", "-o", "-4", "addr", "show"]);
        let entry = &created[0];
        let nets = entry["networks"].as_array().unwrap();
        assert_eq!(nets.len(), 2, "{entry}");
        for (net, (name, ifname, prefix)) in nets.iter().zip([
            ("first", "eth0", "10.99.3."),
            ("second", "eth1", "10.99.4."),
        ]) {
            assert_eq!(net["network"], name);
            assert_eq!(net["ifName"], ifname);
            assert_eq!(
                net["containerId"].as_str().unwrap().len(),
                "cnitool-".len() + 20
            );
            let addr = net["addresses"][0].as_str().unwrap();
            assert!(addr.starts_with(prefix), "{entry}");
            assert!(
                addrs
                    .lines()
                    .any(|l| l.contains(ifname) && l.contains(addr)),
                "{addr} on {ifname}: {addrs}"
            );
        }
        let table = env.ok(&["netns", "list"]);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 3, "{table}");
        assert!(
            rows[1].contains("first") && rows[1].contains("eth0"),
            "{table}"
        );
        assert!(rows[2].trim_start().starts_with("second"), "{table}");

        // Refused while attached, saying which and how.
        let err = env.fails(5, &["netns", "delete", "web"]);
        assert!(
            err.contains("networks are attached: first (eth0), second (eth1)"),
            "{err}"
        );
        assert!(err.contains("del second web --ifname eth1 && "), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert_eq!(entries(&env.run_dir), ["web"]);
        assert_eq!(env.cache_files().len(), 2);

        // --force: DEL in reverse order of ADD (ptp first), then the namespace.
        let out = env.run(&["-v", "netns", "delete", "--force", "web"]);
        assert!(out.status.success(), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let dels: Vec<&str> = err
            .lines()
            .filter_map(|l| l.strip_prefix("cnitool: DEL "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(dels, ["ptp", "bridge"], "{err}");
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
        assert_eq!(env.cache_files(), Vec::<String>::new());
        assert_eq!(env.ipam_leases("first"), Vec::<String>::new());
        assert_eq!(env.ipam_leases("second"), Vec::<String>::new());
    });
}

#[test]
fn the_suggested_del_commands_work() {
    if !root_or_skip("the_suggested_del_commands_work") {
        return;
    }
    let env = Env::new();
    env.bridge_net("first", "cnitest4", "10.99.6.0/24");
    env.ptp_net("second", "10.99.7.0/24");
    in_throwaway_host(|| {
        env.ok(&[
            "netns", "create", "app", "--attach", "first", "--attach", "second",
        ]);
        let err = env.fails(5, &["netns", "delete", "app"]);
        let suggested = err.split('`').nth(1).expect("a command in backticks");
        for cmd in suggested.split(" && ") {
            let words: Vec<&str> = cmd.split(' ').collect();
            // The run dir is not the default, so the command names it.
            assert_eq!(
                words[..3],
                ["cnitool", "--netns-dir", env.run_dir.to_str().unwrap()],
                "{err}"
            );
            let out = env.cmd(&words[3..]).output().unwrap();
            assert!(out.status.success(), "{cmd}: {}", show(&out));
        }
        assert_eq!(env.list()[0]["networks"], serde_json::json!([]));
        env.ok(&["netns", "delete", "app"]);
        assert_eq!(env.cache_files(), Vec::<String>::new());
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
    });
}
