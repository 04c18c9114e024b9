//! Failures before the command runs leave nothing behind: a failing plugin at each position
//! of a chain, a failing second network, no --net with netconfs present, a missing network.

use std::fs;

use serde_json::json;

use crate::plugins::{hook, install_hook, install_wrappers};
use crate::util::{host_test, list, Host};

/// bridge (+ host-local) -> tuning -> portmap, each behind a logging wrapper; plugin `fail_at`
/// fails its ADD in `mode` ("before" or "after" doing its real work).
fn chain(host: &Host, fail_at: Option<usize>, mode: &str) -> serde_json::Value {
    let mut plugins = vec![
        host.bridge_plugin("br-t", "10.197.1.0/24"),
        json!({ "type": "tuning", "dataDir": host.tmp.path().join("tuning") }),
        json!({ "type": "portmap", "capabilities": { "portMappings": true } }),
    ];
    for (i, p) in plugins.iter_mut().enumerate() {
        let real = p["type"].as_str().unwrap().to_owned();
        p["type"] = format!("wrap-{real}").into();
        if Some(i) == fail_at {
            p["failAdd"] = mode.into();
        }
    }
    list("t", plugins)
}

#[test]
fn add_failure_at_each_position_leaves_nothing() {
    host_test("add_failure_at_each_position_leaves_nothing", |host| {
        let log = host.path("calls");
        install_wrappers(host, &["bridge", "tuning", "portmap"], &log);
        let names = ["bridge", "tuning", "portmap"];
        for mode in ["before", "after"] {
            for k in 0..3 {
                fs::write(&log, "").unwrap();
                host.netconf("t", &chain(host, Some(k), mode));
                let ran = host.path("ran");
                let cmd = format!("touch {}", ran.display());
                let out = host.run(["--net", "t", "-p", "18080:80", "--", "sh", "-c", &cmd]);
                let case = format!("failure {mode} ADD at position {k}");
                assert_eq!(out.code(), 125, "{case}: {out:#?}");
                assert!(
                    out.stderr
                        .contains(&format!("injected ADD failure in {}", names[k])),
                    "{case}: {out:#?}"
                );
                assert_eq!(
                    out.stderr
                        .lines()
                        .filter(|l| l.starts_with("error: "))
                        .count(),
                    1,
                    "{case}: one error line: {out:#?}"
                );
                assert!(!ran.exists(), "{case}: the command ran");
                // ADD up to the failing plugin, then DEL of those that ran, in reverse
                // (the library's rollback never sends DEL to a plugin that was not started).
                let mut want: Vec<String> =
                    names[..=k].iter().map(|n| format!("ADD {n}")).collect();
                want.extend(names[..=k].iter().rev().map(|n| format!("DEL {n}")));
                let calls = fs::read_to_string(&log).unwrap();
                assert_eq!(calls.lines().collect::<Vec<_>>(), want, "{case}");
                host.assert_clean();
            }
        }
        // The same chain without a failure works, and is cleaned up as well.
        fs::write(&log, "").unwrap();
        host.netconf("t", &chain(host, None, ""));
        host.run(["--net", "t", "-p", "18080:80", "--", "true"])
            .ok();
        assert_eq!(
            fs::read_to_string(&log)
                .unwrap()
                .lines()
                .collect::<Vec<_>>(),
            [
                "ADD bridge",
                "ADD tuning",
                "ADD portmap",
                "DEL portmap",
                "DEL tuning",
                "DEL bridge"
            ]
        );
    });
}

/// The second network fails: the first one, already added, is deleted again.
#[test]
fn failing_second_network_removes_the_first() {
    host_test("failing_second_network_removes_the_first", |host| {
        let log = host.path("calls");
        install_wrappers(host, &["bridge"], &log);
        let mut good = host.bridge_plugin("br-a", "10.197.2.0/24");
        good["type"] = "wrap-bridge".into();
        host.netconf("a", &list("a", vec![good]));
        let mut bad = host.bridge_plugin("br-b", "10.197.3.0/24");
        bad["type"] = "wrap-bridge".into();
        bad["failAdd"] = "after".into();
        host.netconf("b", &list("b", vec![bad]));
        let out = host.run(["--net", "a", "--net", "b", "--", "true"]);
        assert_eq!(out.code(), 125, "{out:#?}");
        assert!(
            out.stderr.contains("adding network \"b\" as eth1"),
            "{out:#?}"
        );
        assert_eq!(
            fs::read_to_string(&log)
                .unwrap()
                .lines()
                .collect::<Vec<_>>(),
            ["ADD bridge", "ADD bridge", "DEL bridge", "DEL bridge"]
        );
    });
}

#[test]
fn netconfs_without_net_is_an_error_listing_them() {
    host_test("netconfs_without_net_is_an_error_listing_them", |host| {
        host.bridge_net("alpha", "br-a", "10.197.2.0/24");
        host.bridge_net("beta", "br-b", "10.197.3.0/24");
        let out = host.run(["--", "true"]).code_is(125);
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{out:#?}");
        assert!(errors[0].contains("alpha, beta"), "{out:#?}");
        assert!(errors[0].contains("--net"), "{out:#?}");
    });
}

#[test]
fn missing_network_and_bad_arguments_are_125() {
    host_test("missing_network_and_bad_arguments_are_125", |host| {
        host.bridge_net("alpha", "br-a", "10.197.2.0/24");
        let out = host.run(["--net", "nope", "--", "true"]).code_is(125);
        assert!(out.stderr.contains("nope"), "{out:#?}");
        let out = host
            .run(["--net", "alpha", "--net", "alpha:eth0", "--", "true"])
            .code_is(125);
        assert!(out.stderr.contains("eth0"), "{out:#?}");
        host.run(["--net", "alpha", "--netns", "missing", "--", "true"])
            .code_is(125);
    });
}

/// A DEL that fails during teardown: exit 125 naming it, the record stays, and `gc` finishes
/// the job (the namespace is already gone by then).
#[test]
fn del_failure_keeps_the_record_for_gc() {
    host_test("del_failure_keeps_the_record_for_gc", |host| {
        install_hook(host);
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "delFailOnce": host.path("del-failed") })),
        ];
        host.netconf("t", &list("t", plugins));
        let out = host.run(["--net", "t", "--", "true"]).code_is(125);
        assert!(out.stderr.contains("injected DEL failure"), "{out:#?}");
        assert_eq!(host.records().len(), 1, "{out:#?}");
        let out = host.tool(["gc"]).ok();
        assert!(out.stdout.contains("cleaned up run"), "{out:#?}");
    });
}
/// A failed ADD whose rollback fails too: exit 125 saying so, and the cache entry, the
/// namespace and the record stay (the veth, lease and masquerading chain the rollback could
/// not remove are recorded), so the `gc` the error names finishes the job. (The run used to
/// delete its record and namespace anyway, and `gc` found nothing to remove.)
#[test]
fn failed_rollback_keeps_the_record_for_gc() {
    host_test("failed_rollback_keeps_the_record_for_gc", |host| {
        let allow = host.path("allow-del");
        host.plugin(
            "stubborn",
            &format!(
                "#!/bin/sh\nif [ \"$CNI_COMMAND\" = DEL ] && [ ! -e {} ]; then\n\
                 cat >/dev/null; echo '{{\"code\":11,\"msg\":\"busy\"}}'; exit 1\nfi\n\
                 exec {}/bridge\n",
                allow.display(),
                crate::util::REAL_PLUGINS
            ),
        );
        host.plugin(
            "failadd",
            "#!/bin/sh\ncat >/dev/null\n\
             [ \"$CNI_COMMAND\" = ADD ] && { echo '{\"code\":7,\"msg\":\"refused\"}'; exit 1; }\nexit 0\n",
        );
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["type"] = "stubborn".into();
        bridge["ipMasq"] = true.into();
        host.netconf("t", &list("t", vec![bridge, json!({ "type": "failadd" })]));
        let out = host.run(["--net", "t", "--", "true"]).code_is(125);
        assert!(
            out.stderr.contains("refused (rollback also failed"),
            "{out:#?}"
        );
        assert!(
            out.stderr.contains(&format!(
                "run `cnitool --cache-dir {} gc` to finish",
                host.cache.display()
            )),
            "{out:#?}"
        );
        assert_eq!(host.records().len(), 1, "{out:#?}");
        assert_eq!(crate::util::files_in(&host.netns_dir).len(), 1);
        assert_eq!(crate::util::files_in(&host.cache.join("results")).len(), 1);

        fs::write(&allow, "").unwrap();
        let out = host.tool(["gc"]).ok();
        assert!(out.stdout.contains("cleaned up run"), "{out:#?}");
    });
}

/// `run --netns` into a namespace that already has the interface name, whether another
/// network holds it (made by `add`) or not (made by hand): refused before any plugin runs,
/// naming the network that holds it and `--net NAME:IFNAME`; the interfaces stay. (The run's
/// ADD used to fail on "eth0 already exists" and its rollback delete that eth0.)
#[test]
fn joining_a_namespace_whose_interface_another_network_holds() {
    host_test(
        "joining_a_namespace_whose_interface_another_network_holds",
        |host| {
            host.bridge_net("a", "br-a", "10.197.4.0/24");
            host.bridge_net("b", "br-b", "10.197.5.0/24");
            let path =
                libcni::netns::create(&host.netns_dir, "joined", Default::default()).unwrap();
            host.tool(["add", "-o", "none", "a", "joined"]).ok();
            let out = host
                .run(["--net", "b", "--netns", "joined", "--", "true"])
                .code_is(125);
            assert!(
                out.stderr.contains(&format!(
                    "namespace {} already has an interface \"eth0\", attached to network \"a\"",
                    path.display()
                )),
                "{out:#?}"
            );
            assert!(out.stderr.contains("--net b:IFNAME"), "{out:#?}");
            // An interface no cache knows of (made by hand) is refused the same way.
            libcni::netns::run_in(&path, || {
                crate::util::sh("ip link add ext0 type veth peer name ext1")
            })
            .unwrap();
            let out = host
                .run(["--net", "b:ext0", "--netns", "joined", "--", "true"])
                .code_is(125);
            assert!(
                out.stderr.contains(&format!(
                    "namespace {} already has an interface \"ext0\"; adding network \"b\"",
                    path.display()
                )),
                "{out:#?}"
            );
            let mut links = libcni::netns::run_in(&path, crate::util::host_links).unwrap();
            links.sort();
            assert_eq!(links, ["eth0", "ext0", "ext1", "lo"]);
            assert!(host.records().is_empty());
            assert_eq!(crate::util::files_in(&host.cache.join("results")).len(), 1);

            host.run(["--net", "b:eth1", "--netns", "joined", "--", "true"])
                .ok();
            host.tool(["del", "a", "joined"]).ok();
            libcni::netns::delete(&host.netns_dir, "joined").unwrap();
        },
    );
}

/// When the command's namespaces cannot be prepared (here: DNS to write, but
/// `/etc/resolv.conf` is a dangling symbolic link), that is the tool's failure, 125, not
/// "command not found".
#[test]
fn command_setup_failure_is_125() {
    host_test("command_setup_failure_is_125", |host| {
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["dns"] = json!({ "nameservers": ["10.197.1.53"] });
        host.netconf("t", &list("t", vec![bridge]));
        // An /etc of this throwaway mount namespace whose resolv.conf points nowhere.
        let etc = host.path("etc");
        fs::create_dir(&etc).unwrap();
        std::os::unix::fs::symlink("/nonexistent/resolv.conf", etc.join("resolv.conf")).unwrap();
        let bind = |from: &std::path::Path| {
            nix::mount::mount(
                Some(from),
                "/etc",
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .unwrap()
        };
        bind(&etc);
        let out = host.run(["--net", "t", "--", "true"]);
        nix::mount::umount2("/etc", nix::mount::MntFlags::MNT_DETACH).unwrap();
        assert_eq!(out.code(), 125, "{out:#?}");
        assert!(out.stderr.contains("resolv.conf"), "{out:#?}");
        assert!(!out.stderr.contains("not found"), "{out:#?}");
        assert!(
            out.stderr
                .contains("/nonexistent/resolv.conf, which does not exist"),
            "{out:#?}"
        );
    });
}
