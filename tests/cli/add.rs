//! ADD happy paths with the real plugins: output formats, how the namespace and the
//! attachment are named, arguments and capabilities.

use std::fs;
use std::path::Path;

use serde_json::json;

use crate::util::{addrs, go_container_id, has_link, host_test, Host};

/// add, check and del of bridge + host-local: JSON result, the address and default route in
/// the namespace, Go's container ID in the cache file name, everything gone after del.
#[test]
fn add_check_del_bridge() {
    host_test("add_check_del_bridge", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let ns_arg = ns.to_str().unwrap();
        let run = h.run(&["add", "testnet", ns_arg]).ok();
        assert!(run
            .stdout
            .starts_with("{\n    \"cniVersion\": \"1.0.0\",\n    \"interfaces\": ["));
        assert!(run.stdout.ends_with("}\n") && !run.stdout.ends_with("\n\n"));
        let result = run.json();
        let ip = &result["ips"][0];
        assert_eq!(ip["address"], "10.198.1.2/24");
        assert_eq!(ip["gateway"], "10.198.1.1");
        let eth0 = &result["interfaces"][ip["interface"].as_u64().unwrap() as usize];
        assert_eq!(eth0["name"], "eth0");
        assert_eq!(eth0["sandbox"], ns_arg);

        assert!(addrs(h, &ns, "eth0").contains("inet 10.198.1.2/24"));
        let routes = h.in_netns(&ns, &["ip", "-4", "route", "show", "default"]);
        assert!(
            routes.contains("default via 10.198.1.1 dev eth0"),
            "{routes}"
        );

        let id = go_container_id(&ns);
        assert_eq!(h.cache_files(), [format!("testnet-{id}-eth0")]);
        let entry = h.cache_entry("testnet", &id, "eth0");
        assert_eq!(entry["kind"], "cniCacheV1");
        assert_eq!(entry["netns"], ns_arg);

        let run = h.run(&["check", "testnet", ns_arg]).ok();
        assert_eq!(run.stdout, "");
        let run = h.run(&["del", "testnet", ns_arg]).ok();
        assert_eq!(run.stdout, "");
        assert!(!has_link(&ns, "eth0"));
    });
}

/// ADD whose stdout reader has gone (a closed pipe) made the attachment, so it succeeds
/// quietly: exit 0, nothing on stderr, the interface and cache entry there; DEL removes it.
#[test]
fn add_into_closed_stdout_succeeds() {
    host_test("add_into_closed_stdout_succeeds", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let ns_arg = ns.to_str().unwrap();
        for output in ["json", "table"] {
            let run = h
                .cnitool()
                .args(["-o", output, "add", "testnet", ns_arg])
                .run_with_closed_stdout();
            assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:#?}");
            assert!(addrs(h, &ns, "eth0").contains("inet 10.198.1."));
            let id = go_container_id(&ns);
            assert_eq!(h.cache_files(), [format!("testnet-{id}-eth0")]);
            h.run(&["del", "testnet", ns_arg]).ok();
            assert!(!has_link(&ns, "eth0"));
        }
    });
}

/// `--output table`: interfaces, addresses with gateway, routes, DNS as aligned text.
#[test]
fn add_output_table() {
    host_test("add_output_table", |h| {
        h.conflist(
            "testnet",
            "1.0.0",
            json!([{
                "type": "bridge", "bridge": "cnitest0", "isGateway": true,
                "ipam": {
                    "type": "host-local", "dataDir": h.ipam,
                    "ranges": [[{"subnet": "10.198.2.0/24"}]],
                    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.198.99.0/24", "gw": "10.198.2.254"}]
                },
                "dns": {"nameservers": ["10.198.2.53"], "search": ["example.test"]}
            }]),
        );
        h.netns("ctr");
        let run = h.run(&["--output", "table", "add", "testnet", "ctr"]).ok();
        let out = &run.stdout;
        assert!(
            serde_json::from_str::<serde_json::Value>(out).is_err(),
            "not JSON:\n{out}"
        );
        let line_with = |needle: &str| {
            out.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?}:\n{out}"))
                .to_owned()
        };
        assert!(line_with("10.198.2.2/24").contains("10.198.2.1"), "{out}");
        assert!(line_with("10.198.2.2/24").contains("eth0"), "{out}");
        line_with("0.0.0.0/0");
        assert!(
            line_with("10.198.99.0/24").contains("10.198.2.254"),
            "{out}"
        );
        line_with("cnitest0");
        assert!(
            line_with("10.198.2.53")
                .to_lowercase()
                .contains("nameserver"),
            "{out}"
        );
        assert!(
            line_with("example.test").to_lowercase().contains("search"),
            "{out}"
        );
        assert!(out.ends_with('\n'));
        h.run(&["-o", "table", "del", "testnet", "ctr"]).ok();
    });
}

/// `--output none` prints nothing; `--result-version 0.4.0` converts the printed result.
#[test]
fn add_output_none_and_result_version() {
    host_test("add_output_none_and_result_version", |h| {
        h.testnet();
        h.netns("a");
        h.netns("b");
        let run = h.run(&["add", "-o", "none", "testnet", "a"]).ok();
        assert_eq!(run.stdout, "");
        let run = h
            .run(&["add", "--result-version", "0.4.0", "testnet", "b"])
            .ok();
        let result = run.json();
        assert_eq!(result["cniVersion"], "0.4.0");
        assert_eq!(result["ips"][0]["version"], "4");
        assert_eq!(result["ips"][0]["address"], "10.198.1.3/24");
        h.run(&["del", "testnet", "a"]).ok();
        h.run(&["del", "testnet", "b"]).ok();
    });
}

/// A relative netns path is made absolute against the working directory (no symlink
/// resolution), a bare name is looked up in `--netns-dir`; both give Go's container ID.
#[test]
fn netns_relative_path_and_name() {
    host_test("netns_relative_path_and_name", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let id = go_container_id(&ns);
        // Relative, from the conf dir: ../netns/ctr.
        h.cnitool()
            .cwd(&h.conf)
            .args(["add", "testnet", "../netns/ctr"])
            .run()
            .ok();
        assert_eq!(h.cache_files(), [format!("testnet-{id}-eth0")]);
        assert_eq!(
            h.cache_entry("testnet", &id, "eth0")["netns"],
            ns.to_str().unwrap()
        );
        // By name, from a directory without such a file: the same attachment.
        h.cnitool()
            .cwd(&h.scratch)
            .args(["check", "testnet", "ctr"])
            .run()
            .ok();
        h.cnitool()
            .cwd(&h.netns_dir)
            .args(["del", "testnet", "./ctr"])
            .run()
            .ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// `--pid` of a process running in the target namespace.
#[test]
fn netns_from_pid() {
    host_test("netns_from_pid", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let mut child = libcni::netns::run_in(&ns, || {
            std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .unwrap()
        })
        .unwrap();
        let pid = child.id().to_string();
        let run = h.run(&["add", "testnet", "--pid", &pid]);
        let del = h.run(&["del", "testnet", "--pid", &pid]);
        let still_there = has_link(&ns, "eth0");
        child.kill().unwrap();
        child.wait().unwrap();
        let run = run.ok();
        let path = format!("/proc/{pid}/ns/net");
        assert_eq!(run.json()["interfaces"][2]["sandbox"], path);
        del.ok();
        assert!(!still_there);
    });
}

/// `--container-id`, `-i/--ifname` and `CNI_IFNAME`.
#[test]
fn container_id_and_ifname() {
    host_test("container_id_and_ifname", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        h.run(&[
            "add",
            "--container-id",
            "my-ctr.1",
            "-i",
            "net5",
            "testnet",
            "ctr",
        ])
        .ok();
        assert_eq!(h.cache_files(), ["testnet-my-ctr.1-net5"]);
        assert!(addrs(h, &ns, "net5").contains("10.198.1.2/24"));

        let id = go_container_id(&ns);
        h.cnitool()
            .env("CNI_IFNAME", "net6")
            .args(["add", "testnet", "ctr"])
            .run()
            .ok();
        assert!(addrs(h, &ns, "net6").contains("10.198.1.3/24"));
        h.cache_entry("testnet", &id, "net6");
        // --ifname wins over CNI_IFNAME.
        h.cnitool()
            .env("CNI_IFNAME", "net6")
            .args([
                "del",
                "--container-id",
                "my-ctr.1",
                "--ifname",
                "net5",
                "testnet",
                "ctr",
            ])
            .run()
            .ok();
        assert!(!has_link(&ns, "net5") && has_link(&ns, "net6"));
        h.cnitool()
            .env("CNI_IFNAME", "net6")
            .args(["del", "testnet", "ctr"])
            .run()
            .ok();
    });
}

/// `CNI_ARGS` then `--arg` (a value may contain `=`) reach the plugins and the cache. Only a
/// fake plugin here: Go plugins' `types.LoadArgs` rejects a value containing `=`.
#[test]
fn cni_args_and_arg_flags() {
    host_test("cni_args_and_arg_flags", |h| {
        h.conflist("testnet", "1.0.0", json!([{"type": "spy"}]));
        // Logs CNI_ARGS; its ADD result replaces the bridge's (enough for this test).
        h.fake_plugin(
            "spy",
            &format!(
                r#"echo "$CNI_COMMAND $CNI_ARGS" >> {}/spy.log
if [ "$CNI_COMMAND" = ADD ]; then echo '{{"cniVersion":"1.0.0","dns":{{}}}}'; fi"#,
                h.scratch.display()
            ),
        );
        let ns = h.netns("ctr");
        h.cnitool()
            .env("CNI_ARGS", "IgnoreUnknown=1;FOO=bar")
            .args(["add", "testnet", "ctr", "--arg", "K=V=W", "--arg", "EMPTY="])
            .run()
            .ok();
        let entry = h.cache_entry("testnet", &go_container_id(&ns), "eth0");
        assert_eq!(
            entry["cniArgs"],
            json!([
                ["IgnoreUnknown", "1"],
                ["FOO", "bar"],
                ["K", "V=W"],
                ["EMPTY", ""]
            ])
        );
        // DEL without arguments uses the recorded ones.
        h.run(&["del", "testnet", "ctr"]).ok();
        let log = fs::read_to_string(h.scratch.join("spy.log")).unwrap();
        assert_eq!(
            log,
            "ADD IgnoreUnknown=1;FOO=bar;K=V=W;EMPTY=\nDEL IgnoreUnknown=1;FOO=bar;K=V=W;EMPTY=\n"
        );
    });
}

fn nat_rules() -> String {
    crate::util::sh_output(&["iptables-save", "-t", "nat"])
}

/// `-p 18080:80` builds portMappings: portmap's DNAT rule exists after add, and a del
/// without `-p` or `CAP_ARGS` removes it (Go's cnitool leaks it).
#[test]
fn publish_port_and_del_without_it() {
    host_test("publish_port_and_del_without_it", |h| {
        h.conflist(
            "testnet",
            "1.0.0",
            json!([h.bridge(3), {"type": "portmap", "capabilities": {"portMappings": true}}]),
        );
        let ns = h.netns("ctr");
        h.run(&["add", "testnet", "ctr", "-p", "18080:80"]).ok();
        let rules = nat_rules();
        assert!(
            rules.contains("--dport 18080 -j DNAT --to-destination 10.198.3.2:80"),
            "{rules}"
        );
        let entry = h.cache_entry("testnet", &go_container_id(&ns), "eth0");
        assert_eq!(
            entry["capabilityArgs"],
            json!({"portMappings": [{"containerPort": 80, "hostPort": 18080, "protocol": "tcp"}]})
        );
        h.run(&["del", "testnet", "ctr"]).ok();
        let rules = nat_rules();
        assert!(!rules.contains("--to-destination"), "{rules}");
    });
}

/// `--ip` through static IPAM's `ips` capability and `--mac` through tuning's `mac`.
#[test]
fn ip_and_mac_capabilities() {
    host_test("ip_and_mac_capabilities", |h| {
        h.conflist(
            "testnet",
            "1.0.0",
            json!([
                {"type": "bridge", "bridge": "cnitest0", "isGateway": true,
                 "capabilities": {"ips": true},
                 "ipam": {"type": "static"}},
                {"type": "tuning", "capabilities": {"mac": true},
                 "dataDir": h.scratch.join("tuning")}
            ]),
        );
        let ns = h.netns("ctr");
        let run = h
            .run(&[
                "add",
                "testnet",
                "ctr",
                "--ip",
                "10.198.4.7/24",
                "--mac",
                "02:42:0a:c6:04:07",
            ])
            .ok();
        assert_eq!(run.json()["ips"][0]["address"], "10.198.4.7/24");
        let a = addrs(h, &ns, "eth0");
        assert!(a.contains("inet 10.198.4.7/24"), "{a}");
        let link = h.in_netns(&ns, &["ip", "-o", "link", "show", "dev", "eth0"]);
        assert!(link.contains("link/ether 02:42:0a:c6:04:07"), "{link}");
        h.run(&["del", "testnet", "ctr"]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}

/// A host with `/run` of its own (a tmpfs in the throwaway mount namespace), so that
/// `/run/netns` and `/var/run/netns` can be used.
fn with_private_run(h: &Host) -> std::path::PathBuf {
    assert!(
        Path::new("/var/run").is_symlink(),
        "/var/run is expected to link to /run"
    );
    nix::mount::mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("mode=0755"),
    )
    .expect("mounting a private /run");
    let _ = h;
    libcni::netns::create("/run/netns", "ctr", Default::default()).unwrap()
}

/// add through `/var/run/netns/ctr`, del through `/run/netns/ctr` (and the reverse): the
/// cached attachment is found under either spelling.
#[test]
fn del_through_other_run_spelling() {
    host_test("del_through_other_run_spelling", |h| {
        h.testnet();
        let ns = with_private_run(h);
        h.run(&["add", "testnet", "/var/run/netns/ctr"]).ok();
        assert_eq!(
            h.cache_files(),
            [format!(
                "testnet-{}-eth0",
                go_container_id(Path::new("/var/run/netns/ctr"))
            )]
        );
        h.run(&["del", "testnet", "/run/netns/ctr"]).ok();
        h.assert_cache_empty();
        assert!(!has_link(&ns, "eth0"));

        h.run(&["add", "testnet", "/run/netns/ctr"]).ok();
        h.run(&["check", "testnet", "/var/run/netns/ctr"]).ok();
        h.run(&["del", "testnet", "/var/run/netns/ctr"]).ok();
        h.assert_cache_empty();
        assert!(!has_link(&ns, "eth0"));
        libcni::netns::delete("/run/netns", "ctr").unwrap();
    });
}

/// Cache writes are atomic and flushed only on request: by default `add` and `del` start the
/// write-back (`sync_file_range`) and never wait for the disk; `--sync-cache` (or
/// `CNITOOL_SYNC_CACHE=1`) fsyncs each file and its directory. Observed with strace.
#[test]
fn cache_writes_are_flushed_only_with_sync_cache() {
    host_test("cache_writes_are_flushed_only_with_sync_cache", |h| {
        let strace = [
            "/usr/bin/strace",
            "-f",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,sync_file_range",
        ];
        assert!(
            Path::new(strace[0]).exists(),
            "strace is missing: scripts/install-deps installs it"
        );
        h.conflist("lo", "1.0.0", json!([{ "type": "loopback" }]));
        let ns = h.netns("ctr");
        let ns = ns.to_str().unwrap();
        let calls = |run: &crate::util::Run, name: &str| -> usize {
            let call = format!("{name}(");
            run.stderr.lines().filter(|l| l.contains(&call)).count()
        };

        // By default the pending entry and the result are two writes, their write-back
        // started, neither waited for; synced (by the flag or the variable), file and
        // directory are flushed for both.
        // (flags, CNITOOL_SYNC_CACHE, (fsync calls, sync_file_range calls))
        type Case<'a> = (&'a [&'a str], Option<&'a str>, (usize, usize));
        let cases: [Case<'_>; 3] = [
            (&[], None, (0, 2)),
            (&["--sync-cache"], None, (4, 0)),
            (&[], Some("1"), (4, 0)),
        ];
        for (flag, var, expected) in cases {
            let mut add = h.cnitool();
            if let Some(var) = var {
                add = add.env("CNITOOL_SYNC_CACHE", var);
            }
            let add = add
                .args(flag)
                .args(["add", "lo", ns])
                .under(&strace)
                .run()
                .ok();
            assert_eq!(
                (calls(&add, "fsync"), calls(&add, "sync_file_range")),
                expected,
                "{flag:?} {var:?}: {add:#?}"
            );
            let del = h
                .cnitool()
                .args(["del", "lo", ns])
                .under(&strace)
                .run()
                .ok();
            assert_eq!(calls(&del, "fsync"), 0);
        }
        h.assert_cache_empty();
    });
}

/// One rule for a NETNS argument: without a `/` it is a name in the netns directory, even
/// when the working directory holds a file or folder of that name (`ip netns` and
/// `netns exec` read it so too); with a `/` it is a path. The container ID is Go's for the
/// resolved path.
#[test]
fn bare_netns_name_ignores_working_directory() {
    host_test("bare_netns_name_ignores_working_directory", |h| {
        h.testnet();
        let ns = h.netns("ctr");
        let id = go_container_id(&ns);
        fs::create_dir(h.scratch.join("ctr")).unwrap();
        fs::write(h.scratch.join("other"), "").unwrap();
        let in_scratch = |args: &[&str]| h.cnitool().cwd(&h.scratch).args(args).run();
        in_scratch(&["add", "testnet", "ctr"]).ok();
        assert_eq!(h.cache_files(), [format!("testnet-{id}-eth0")]);
        assert!(addrs(h, &ns, "eth0").contains("inet 10.198.1.2/24"));
        in_scratch(&["check", "testnet", "ctr"]).ok();
        let listed = in_scratch(&["-o", "json", "attachments", "--netns", "ctr"]).ok();
        assert_eq!(listed.json()[0]["containerId"], id.as_str(), "{listed:#?}");
        // With a `/`, the same word is the working directory's entry.
        in_scratch(&["add", "testnet", "./other"])
            .fails(5, &format!("{}", h.scratch.join("other").display()));
        // A word no namespace could be named is a usage error that shows the path form.
        in_scratch(&["add", "testnet", ".."]).fails(2, "a path needs a '/', e.g. ./..");
        in_scratch(&["del", "testnet", "ctr"]).ok();
        assert!(!has_link(&ns, "eth0"));
        h.assert_cache_empty();
    });
}

/// `"cniVersions": ["1.0.0", "1.1.0"]` with Debian's plugins (up to 1.0.0): the network runs
/// at 1.0.0, the highest version every plugin supports, and `-v` says so.
#[test]
fn cni_versions_pick_what_the_plugins_support() {
    host_test("cni_versions_pick_what_the_plugins_support", |h| {
        let list = json!({
            "cniVersions": ["1.0.0", "1.1.0"],
            "name": "vers",
            "plugins": [h.bridge(6)]
        });
        h.write_conf("vers.conflist", &list.to_string());
        let ns = h.netns("ctr");
        let run = h.run(&["-v", "add", "vers", "ctr"]).ok();
        assert_eq!(run.json()["cniVersion"], "1.0.0", "{run:#?}");
        assert!(
            run.stderr.contains(
                "cnitool: network \"vers\" runs at cniVersion 1.0.0: the highest of cniVersions \
                 1.1.0, 1.0.0 that every plugin supports\n"
            ),
            "{run:#?}"
        );
        assert!(addrs(h, &ns, "eth0").contains("inet 10.198.6.2/24"));
        h.run(&["check", "vers", "ctr"]).ok();
        // validate checks the plugins at that version, and says why.
        let v = h.run(&["-o", "json", "validate"]).ok();
        let findings = v.json()["findings"].clone();
        let messages: Vec<&str> = findings
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.contains(
                &"runs at cniVersion 1.0.0: the highest of cniVersions 1.1.0, 1.0.0 that every \
                  plugin supports"
            ),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("supports cniVersion 1.0.0")),
            "{messages:#?}"
        );
        h.run(&["del", "vers", "ctr"]).ok();
        assert!(!has_link(&ns, "eth0"));
    });
}
