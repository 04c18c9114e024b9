//! `cnitool doctor`: each check set up to fail on a throwaway host, then fixed; and proof
//! that the checks change nothing on the host.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::util::{host_test, Host};

fn sysctl(path: &str, value: &str) {
    fs::write(path, value).unwrap_or_else(|e| panic!("writing {path}: {e}"));
}

/// `doctor -o json`: (exit code, check id -> (status, message)).
fn doctor(host: &Host, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["doctor", "-o", "json"];
    args.extend_from_slice(extra);
    let run = host.run(&args);
    let json = run.json();
    assert_eq!(json["ok"], run.code == 0, "{run:#?}");
    (run.code, json)
}

#[track_caller]
fn check<'a>(report: &'a Value, id: &str) -> (&'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {report:#}"));
    (
        c["status"].as_str().unwrap(),
        c["message"].as_str().unwrap(),
    )
}

#[track_caller]
fn fix<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == id)
        .and_then(|c| c["fix"].as_str())
        .unwrap_or_else(|| panic!("no fix for {id}: {report:#}"))
}

#[track_caller]
fn expect(report: &Value, id: &str, status: &str, fragment: &str) {
    let (s, msg) = check(report, id);
    assert_eq!(s, status, "{id}: {msg} ({report:#})");
    assert!(msg.contains(fragment), "{id}: {msg:?} lacks {fragment:?}");
}

/// A bridge network routed through the host (gateway, masquerade), dual-stack, with portmap
/// and firewall.
fn routed_bridge(host: &Host) {
    host.conflist(
        "routed",
        "1.0.0",
        json!([
            {"type": "bridge", "bridge": "cnidoc0", "isGateway": true, "ipMasq": true,
             "ipam": {"type": "host-local", "dataDir": host.ipam,
                      "ranges": [[{"subnet": "10.197.0.0/24"}], [{"subnet": "fd97::/64"}]]}},
            {"type": "portmap", "capabilities": {"portMappings": true}},
            {"type": "firewall"}
        ]),
    );
}

fn stale_attachment(host: &Host) -> std::path::PathBuf {
    let att = libcni::cache::CachedAttachment {
        container_id: "gone".into(),
        config: br#"{"cniVersion":"1.0.0","name":"routed","plugins":[{"type":"bridge"}]}"#.to_vec(),
        ifname: "eth0".into(),
        network_name: "routed".into(),
        netns: Some(host.root().join("no-such-netns").display().to_string()),
        cni_args: Vec::new(),
        capability_args: Default::default(),
        result: None,
    };
    let path = host.cache.join("results/routed-gone-eth0");
    fs::write(&path, libcni::cache::encode(&att)).unwrap();
    path
}

#[test]
fn doctor_reports_each_broken_check_and_passes_once_fixed() {
    host_test(
        "doctor_reports_each_broken_check_and_passes_once_fixed",
        |host| {
            // A fresh network namespace forwards nothing; br_netfilter's switch is per namespace.
            sysctl("/proc/sys/net/ipv4/ip_forward", "0");
            sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "0");
            sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "0");
            routed_bridge(host);
            host.conflist(
                "lease",
                "1.0.0",
                json!([{"type": "macvlan", "master": "lo",
                    "ipam": {"type": "dhcp",
                             "daemonSocketPath": host.root().join("dhcp.sock")}}]),
            );
            host.conflist("odd", "1.0.0", json!([{"type": "no-such-plugin"}]));
            fs::create_dir_all(host.cache.join("results")).unwrap();
            let empty = host.cache.join("results/routed-c1-eth0");
            fs::write(&empty, "").unwrap();
            let corrupt = host.cache.join("results/routed-c2-eth0");
            fs::write(&corrupt, "{\"kind\": ").unwrap();
            let stale = stale_attachment(host);

            let (code, report) = doctor(host, &[]);
            assert_eq!(code, 3, "{report:#}");
            expect(
                &report,
                "plugins",
                "FAIL",
                "no-such-plugin (network \"odd\": not found)",
            );
            expect(
                &report,
                "ip_forward",
                "FAIL",
                "net.ipv4.ip_forward = 0: traffic of \"routed\"",
            );
            expect(
                &report,
                "ipv6-forwarding",
                "FAIL",
                "IPv6 traffic of \"routed\"",
            );
            expect(&report, "bridge-nf-call-iptables", "WARN", "= 0");
            expect(&report, "cache-files", "WARN", "2 unusable cache file(s)");
            expect(
                &report,
                "cache-files",
                "WARN",
                &format!("{}: empty", empty.display()),
            );
            expect(
                &report,
                "cache-files",
                "WARN",
                &corrupt.display().to_string(),
            );
            expect(
                &report,
                "stale-attachments",
                "WARN",
                "routed/gone/eth0 (namespace",
            );
            expect(
                &report,
                "dhcp-daemon",
                "FAIL",
                "dhcp.sock (network \"lease\")",
            );
            assert_eq!(
                fix(&report, "ip_forward"),
                "sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)"
            );
            assert_eq!(
            fix(&report, "dhcp-daemon"),
            "start the daemon: /usr/lib/cni/dhcp daemon (or its systemd socket, cni-dhcp.socket)"
        );

            // Fixed one by one, the checks turn OK.
            sysctl("/proc/sys/net/ipv4/ip_forward", "1");
            sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
            sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
            fs::remove_file(host.conf.join("odd.conflist")).unwrap();
            fs::remove_file(host.conf.join("lease.conflist")).unwrap();
            fs::remove_file(&empty).unwrap();
            fs::remove_file(&corrupt).unwrap();
            let (code, report) = doctor(host, &[]);
            assert_eq!(code, 0, "{report:#}");
            expect(&report, "ip_forward", "OK", "= 1");
            expect(
                &report,
                "plugins",
                "OK",
                "all 4 plugin(s) of 1 network(s) found",
            );
            expect(&report, "stale-attachments", "WARN", "routed/gone/eth0");
            // A warning alone fails only under --strict.
            let (code, _) = doctor(host, &["--strict"]);
            assert_eq!(code, 3);
            fs::remove_file(&stale).unwrap();
            let (code, report) = doctor(host, &["--strict"]);
            assert_eq!(code, 0, "{report:#}");
            assert!(
                report["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["status"] == "OK"),
                "{report:#}"
            );
        },
    );
}

#[test]
fn doctor_fails_without_plugin_dirs_and_on_a_read_only_cache() {
    host_test(
        "doctor_fails_without_plugin_dirs_and_on_a_read_only_cache",
        |host| {
            host.testnet();
            fs::create_dir_all(&host.cache).unwrap();
            let cache = host.cache.to_str().unwrap();
            sh(&["mount", "--bind", "-o", "ro", cache, cache]);
            let run = host
                .cnitool()
                .env("CNI_PATH", host.root().join("no-plugins"))
                .args(["doctor", "-o", "json"])
                .run();
            sh(&["umount", cache]);
            assert_eq!(run.code, 3, "{run:#?}");
            let report = run.json();
            expect(&report, "plugin-dirs", "FAIL", "no plugin directory exists");
            expect(
                &report,
                "plugins",
                "FAIL",
                "bridge (network \"testnet\": not found)",
            );
            expect(
                &report,
                "cache-dir",
                "FAIL",
                &format!("{cache} is not writable"),
            );
        },
    );
}

#[test]
fn doctor_warns_on_a_private_netns_dir_and_rules_of_the_other_backend() {
    host_test(
        "doctor_warns_on_a_private_netns_dir_and_rules_of_the_other_backend",
        |host| {
            let dir = host.netns_dir.to_str().unwrap();
            fs::create_dir_all(dir).unwrap();
            sh(&["mount", "--bind", dir, dir]);
            sh(&["mount", "--make-private", dir]);
            // A rule in the legacy tables while iptables is nf_tables.
            let legacy = testsupport::find_in(&["/usr/sbin", "/sbin"], "iptables-legacy");
            if let Some(legacy) = &legacy {
                sh(&[
                    legacy.to_str().unwrap(),
                    "-A",
                    "INPUT",
                    "-s",
                    "10.9.9.9",
                    "-j",
                    "ACCEPT",
                ]);
            }
            let (code, report) = doctor(host, &[]);
            let (strict, _) = doctor(host, &["--strict"]);
            sh(&["umount", dir]);
            assert_eq!(code, 0, "warnings only: {report:#}");
            assert_eq!(strict, 3, "--strict fails on warnings");
            expect(
                &report,
                "netns-propagation",
                "WARN",
                "is a mount but not shared",
            );
            if let Some(legacy) = &legacy {
                expect(
                    &report,
                    "iptables-backend",
                    "WARN",
                    "1 rule(s) are in the legacy tables (filter)",
                );
                sh(&[legacy.to_str().unwrap(), "-F", "INPUT"]);
            }
        },
    );
}

#[test]
fn doctor_rootless_checks_refuse_an_unsafe_runtime_dir() {
    host_test(
        "doctor_rootless_checks_refuse_an_unsafe_runtime_dir",
        |host| {
            let open = host.scratch.join("runtime");
            fs::create_dir(&open).unwrap();
            fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
            let run = host
                .cnitool()
                .env("XDG_RUNTIME_DIR", &open)
                .args(["doctor", "--rootless", "-o", "json"])
                .run();
            assert_eq!(run.code, 3, "{run:#?}");
            let report = run.json();
            expect(
                &report,
                "xdg-runtime-dir",
                "FAIL",
                "writable by group or others (mode 777)",
            );
            let (tun, _) = check(&report, "dev-net-tun");
            assert_eq!(
                tun,
                if Path::new("/dev/net/tun").exists() {
                    "OK"
                } else {
                    "FAIL"
                }
            );
            let (userns, _) = check(&report, "user-namespaces");
            assert_eq!(userns, "OK");
            fs::set_permissions(&open, fs::Permissions::from_mode(0o700)).unwrap();
            let run = host
                .cnitool()
                .env("XDG_RUNTIME_DIR", &open)
                .args(["doctor", "--rootless", "-o", "json"])
                .run();
            expect(&run.json(), "xdg-runtime-dir", "OK", "(mode 700, yours)");
        },
    );
}

/// Everything a check could change, as text: rules of both iptables backends, the nftables
/// ruleset, the legacy tables loaded, the mounts, the sysctls the checks read, and the files
/// under the host's directories.
fn host_state(host: &Host) -> String {
    let mut out = String::new();
    for argv in [
        &["nft", "list", "ruleset"][..],
        &["iptables-nft-save"],
        &["ip6tables-nft-save"],
        &["iptables-legacy-save"],
        &["ip", "-d", "link"],
    ] {
        out.push_str(&format!("$ {}\n{}\n", argv.join(" "), sh(argv)));
    }
    for f in [
        "/proc/net/ip_tables_names",
        "/proc/net/ip6_tables_names",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/bridge/bridge-nf-call-iptables",
    ] {
        out.push_str(&format!("{f}: {:?}\n", fs::read_to_string(f).ok()));
    }
    let mounts = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    out.push_str(&mounts);
    out.push_str(&tree(host.root()));
    out
}

fn tree(dir: &Path) -> String {
    let mut out = String::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let meta = e.metadata().unwrap();
        out.push_str(&format!(
            "{} {:o} {}\n",
            e.path().display(),
            meta.permissions().mode(),
            meta.len()
        ));
        if meta.is_dir() {
            out.push_str(&tree(&e.path()));
        }
    }
    out
}

#[test]
fn doctor_changes_nothing_on_the_host() {
    host_test("doctor_changes_nothing_on_the_host", |host| {
        routed_bridge(host);
        fs::create_dir_all(host.cache.join("results")).unwrap();
        let stale = stale_attachment(host);
        let before = host_state(host);
        assert!(
            before.contains("/proc/net/ip_tables_names: Some(\"\")"),
            "the throwaway host starts without legacy tables: {before}"
        );
        let (code, report) = doctor(host, &["--rootless"]);
        assert_eq!(code, 3, "ip_forward is off: {report:#}");
        let after = host_state(host);
        assert_eq!(before, after, "doctor changed the host");
        fs::remove_file(stale).unwrap();
    });
}

/// Runs a command in the test's namespaces; panics when it fails.
#[track_caller]
fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A plain user gets the rootless checks without asking; an XDG_RUNTIME_DIR owned by
/// someone else fails.
#[test]
fn doctor_as_a_plain_user_runs_the_rootless_checks() {
    crate::util::plain_test(|host| {
        let run = host
            .cnitool()
            .env("XDG_RUNTIME_DIR", "/tmp")
            .args(["doctor", "-o", "json"])
            .under(&[
                "setpriv",
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
            ])
            .run();
        let report = run.json();
        let ids: Vec<&str> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids[ids.len() - 4..],
            [
                "user-namespaces",
                "dev-net-tun",
                "rootless-uplink",
                "xdg-runtime-dir"
            ]
        );
        expect(
            &report,
            "xdg-runtime-dir",
            "FAIL",
            "/tmp is owned by uid 0, not by you (uid 65534)",
        );
        assert_eq!(run.code, 3);
    });
}

/// With the legacy backend active (a stand-in `iptables` that says so), tables made by
/// iptables-nft are a warning.
#[test]
fn doctor_warns_on_nft_tables_under_the_legacy_backend() {
    host_test(
        "doctor_warns_on_nft_tables_under_the_legacy_backend",
        |host| {
            let bin = host.scratch.join("path");
            fs::create_dir(&bin).unwrap();
            let fake = bin.join("iptables");
            fs::write(&fake, "#!/bin/sh\necho 'iptables v1.8.9 (legacy)'\n").unwrap();
            fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
            let path = format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let doctor = |host: &Host| {
                let run = host
                    .cnitool()
                    .env("PATH", &path)
                    .args(["doctor", "-o", "json"])
                    .run();
                assert_eq!(run.code, 0, "{run:#?}");
                run.json()
            };
            expect(
                &doctor(host),
                "iptables-backend",
                "OK",
                "iptables v1.8.9 (legacy); no rules in the other backend",
            );
            sh(&[
                "iptables-nft",
                "-A",
                "INPUT",
                "-s",
                "10.9.9.9",
                "-j",
                "ACCEPT",
            ]);
            let report = doctor(host);
            sh(&["iptables-nft", "-F", "INPUT"]);
            expect(
                &report,
                "iptables-backend",
                "WARN",
                "iptables is legacy but iptables-nft tables exist (ip filter)",
            );
        },
    );
}
