//! `cnitool smoke` on real bridge, ptp, macvlan, portmap and firewall networks inside
//! throwaway hosts; with connectivity broken on purpose, and with a plugin that leaks, it
//! must fail.

use std::fs;

use serde_json::{json, Value};

use crate::util::{host_test, sh_output, Host, Run};

/// `smoke ARGS -o json` and its report.
fn smoke(host: &Host, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["smoke", "-o", "json"];
    all.extend_from_slice(args);
    let run = host.run(&all);
    let report = run.json();
    assert_eq!(report["ok"], run.code == 0, "{run:#?}");
    (run, report)
}

/// The (network, check, result) triples of a report, in order.
fn outcomes(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["network"].as_str().unwrap().to_owned(),
                c["check"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn detail<'a>(report: &'a Value, network: &str, check: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["network"] == network && c["check"] == check)
        .unwrap_or_else(|| panic!("no check {network}/{check}: {report:#}"))["detail"]
        .as_str()
        .unwrap()
}

fn t(n: &str, c: &str, r: &str) -> (String, String, String) {
    (n.into(), c.into(), r.into())
}

/// The checks of a network with a gateway, over IPv4 only.
fn v4_checks(net: &str, gateway: bool) -> Vec<(String, String, String)> {
    let mut v = vec![
        t(net, "attach run a", "pass"),
        t(net, "attach run b", "pass"),
        t(net, "address run a", "pass"),
        t(net, "address run b", "pass"),
    ];
    v.push(if gateway {
        t(net, "gateway", "pass")
    } else {
        t(net, "gateway", "info")
    });
    for c in ["tcp a→b", "udp a→b", "tcp b→a", "udp b→a", "mtu"] {
        v.push(t(net, c, "pass"));
    }
    v
}

fn bridge_net(host: &Host, name: &str, bridge: &str, subnet: &str, extra: Value) {
    let mut plugins = vec![json!({
        "type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": true,
        "ipam": {"type": "host-local", "dataDir": host.ipam, "ranges": subnet_ranges(subnet),
                 "routes": [{"dst": "0.0.0.0/0"}]}
    })];
    plugins.extend(extra.as_array().cloned().unwrap_or_default());
    host.conflist(name, "1.0.0", Value::Array(plugins));
}

fn subnet_ranges(subnets: &str) -> Value {
    Value::Array(subnets.split(',').map(|s| json!([{"subnet": s}])).collect())
}

#[test]
fn smoke_passes_on_a_dual_stack_bridge_with_portmap_and_firewall() {
    host_test(
        "smoke_passes_on_a_dual_stack_bridge_with_portmap_and_firewall",
        |host| {
            bridge_net(
                host,
                "web",
                "smk0",
                "10.196.0.0/24,fd96::/64",
                json!([{"type": "portmap", "capabilities": {"portMappings": true}},
                   {"type": "firewall"}]),
            );
            let junit = host.scratch.join("smoke.xml");
            let (run, report) = smoke(host, &["--net", "web", "--junit", junit.to_str().unwrap()]);
            assert_eq!(run.code, 0, "{report:#}");
            let mut want = v4_checks("web", true);
            want.insert(5, t("web", "gateway6", "pass"));
            for (i, c) in ["tcp6 a→b", "udp6 a→b"].into_iter().enumerate() {
                want.insert(8 + i, t("web", c, "pass"));
            }
            for (i, c) in ["tcp6 b→a", "udp6 b→a"].into_iter().enumerate() {
                want.insert(12 + i, t("web", c, "pass"));
            }
            want.push(t("web", "published port", "pass"));
            want.push(t("web", "published port6", "pass"));
            let got = outcomes(&report);
            let (nets, host_rows): (Vec<_>, Vec<_>) = got.into_iter().partition(|r| r.0 == "web");
            assert_eq!(nets, want, "{report:#}");
            assert_eq!(
                host_rows.last().unwrap(),
                &t("host", "left behind", "pass"),
                "{report:#}"
            );
            assert!(host_rows
                .iter()
                .all(|r| r.2 == "shared" || r.1 == "left behind"));
            let shared: Vec<&str> = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["result"] == "shared")
                .map(|c| c["detail"].as_str().unwrap())
                .collect();
            assert!(shared.contains(&"bridge smk0"), "{shared:?}");
            assert!(
                shared
                    .iter()
                    .any(|s| s.starts_with("address smk0 10.196.0.1/24, smk0 fd96::1/64")),
                "{shared:?}"
            );
            assert!(detail(&report, "web", "mtu").contains("1500 bytes"));
            assert!(detail(&report, "web", "published port").contains("seen as itself"));
            let xml = fs::read_to_string(&junit).unwrap();
            assert!(
                xml.contains("<testsuite name=\"web\" tests=\"17\" failures=\"0\">"),
                "{xml}"
            );
            assert!(
                xml.contains("<testcase classname=\"smoke.web\" name=\"tcp6 a→b\">"),
                "{xml}"
            );
            // The runs' namespaces, records and cache entries are gone (host_test checks the
            // cache, leases, veths and chains).
            assert_eq!(fs::read_dir(&host.netns_dir).unwrap().count(), 0);
            assert_eq!(
                fs::read_dir(host.cache.join("cnitool-runs"))
                    .unwrap()
                    .count(),
                0
            );
        },
    );
}

#[test]
fn smoke_passes_on_ptp_and_on_macvlan_over_a_veth_parent() {
    host_test(
        "smoke_passes_on_ptp_and_on_macvlan_over_a_veth_parent",
        |host| {
            host.conflist(
                "p2p",
                "1.0.0",
                json!([{"type": "ptp", "ipMasq": true,
                    "ipam": {"type": "host-local", "dataDir": host.ipam,
                             "ranges": [[{"subnet": "10.195.0.0/24"}]]}}]),
            );
            sh_output(&[
                "ip", "link", "add", "smkp0", "type", "veth", "peer", "name", "smkp1",
            ]);
            sh_output(&["ip", "link", "set", "smkp0", "up"]);
            sh_output(&["ip", "link", "set", "smkp1", "up"]);
            // The parent's network has a router: the peer's address is the gateway host-local
            // hands out (the first address of the subnet).
            sh_output(&["ip", "addr", "add", "10.194.0.1/24", "dev", "smkp1"]);
            host.conflist(
                "mac",
                "1.0.0",
                json!([{"type": "macvlan", "master": "smkp0", "mode": "bridge",
                    "ipam": {"type": "host-local", "dataDir": host.ipam,
                             "ranges": [[{"subnet": "10.194.0.0/24"}]]}}]),
            );
            let (run, report) = smoke(host, &["--net", "p2p", "--net", "mac"]);
            sh_output(&["ip", "link", "del", "smkp0"]);
            assert_eq!(run.code, 0, "{report:#}");
            let got = outcomes(&report);
            // Both networks are attached first, then probed.
            let (p2p, mac) = (v4_checks("p2p", true), v4_checks("mac", true));
            let mut want: Vec<_> = p2p[..2].iter().chain(&mac[..2]).cloned().collect();
            want.extend(p2p[2..].iter().chain(&mac[2..]).cloned());
            // Neither network's IPAM gives a route to the other's subnet: isolated.
            want.push(t("p2p+mac", "isolation", "pass"));
            let nets: Vec<_> = got.iter().filter(|r| r.0 != "host").cloned().collect();
            assert_eq!(nets, want, "{report:#}");
            assert_eq!(got.last().unwrap(), &t("host", "left behind", "pass"));
        },
    );
}

#[test]
fn smoke_reports_whether_networks_reach_each_other() {
    host_test("smoke_reports_whether_networks_reach_each_other", |host| {
        bridge_net(host, "one", "smk1", "10.193.1.0/24", json!([]));
        bridge_net(host, "two", "smk2", "10.193.2.0/24", json!([]));
        let (run, report) = smoke(host, &["--net", "one", "--net", "two"]);
        assert_eq!(run.code, 0, "{report:#}");
        let iso = outcomes(&report)
            .into_iter()
            .find(|r| r.1 == "isolation")
            .unwrap();
        assert_eq!(iso, t("one+two", "isolation", "info"), "{report:#}");
        assert!(detail(&report, "one+two", "isolation").starts_with("reach each other"));

        let (run, report) = smoke(host, &["--net", "one", "--net", "two", "--expect-isolated"]);
        assert_eq!(run.code, 3, "{report:#}");
        let failed: Vec<_> = outcomes(&report)
            .into_iter()
            .filter(|r| r.2 == "fail")
            .collect();
        assert_eq!(failed, [t("one+two", "isolation", "fail")], "{report:#}");
    });
}

#[test]
fn smoke_fails_when_a_firewall_rule_drops_the_traffic() {
    host_test(
        "smoke_fails_when_a_firewall_rule_drops_the_traffic",
        |host| {
            bridge_net(host, "web", "smk0", "10.192.0.0/24", json!([]));
            // Bridged traffic goes through iptables' FORWARD chain with br_netfilter on.
            fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1").unwrap();
            let drop = [
                "FORWARD",
                "-s",
                "10.192.0.0/24",
                "-d",
                "10.192.0.0/24",
                "-p",
                "tcp",
                "-j",
                "DROP",
            ];
            let mut add = vec!["iptables", "-I"];
            add.extend(drop);
            sh_output(&add);
            let (run, report) = smoke(host, &["--net", "web"]);
            let mut del = vec!["iptables", "-D"];
            del.extend(drop);
            sh_output(&del);
            assert_eq!(run.code, 3, "{report:#}");
            let failed: Vec<_> = outcomes(&report)
                .into_iter()
                .filter(|r| r.2 == "fail")
                .collect();
            assert_eq!(
                failed,
                [t("web", "tcp a→b", "fail"), t("web", "tcp b→a", "fail")],
                "{report:#}"
            );
            assert!(
                detail(&report, "web", "tcp a→b").contains("connecting to 10.192.0."),
                "{report:#}"
            );
            // UDP still passes; the host is as before apart from the shared state.
            assert!(outcomes(&report).contains(&t("web", "udp a→b", "pass")));
            assert!(outcomes(&report).contains(&t("host", "left behind", "pass")));
        },
    );
}

#[test]
fn smoke_fails_when_a_plugin_leaves_a_rule_behind() {
    host_test("smoke_fails_when_a_plugin_leaves_a_rule_behind", |host| {
        host.fake_plugin(
            "leaky",
            r#"stdin=$(cat)
if [ "$CNI_COMMAND" = ADD ]; then
  iptables -w -A INPUT -s 10.9.9.9/32 -j ACCEPT
  printf '%s' "$stdin" | jq -c .prevResult
fi"#,
        );
        bridge_net(
            host,
            "web",
            "smk0",
            "10.191.0.0/24",
            json!([{"type": "leaky"}]),
        );
        let (run, report) = smoke(host, &["--net", "web"]);
        sh_output(&["iptables", "-F", "INPUT"]);
        assert_eq!(run.code, 3, "{report:#}");
        let failed: Vec<_> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["result"] == "fail")
            .map(|c| format!("{} {}: {}", c["network"], c["check"], c["detail"]))
            .collect();
        assert_eq!(
            failed,
            ["\"host\" \"left behind\": \"rule iptables filter -A INPUT -s 10.9.9.9/32 -j ACCEPT \
              added (2 times)\""],
            "{report:#}"
        );
    });
}

/// Starts `smoke` on network `web` (a bridge on `subnet` with a `hanger` plugin whose ADD in
/// the second run, `...-b`, writes its PID to the returned file and hangs) and waits until
/// that ADD hangs.
fn smoke_with_hanging_add(
    host: &Host,
    subnet: &str,
) -> (testsupport::cnitool::Started, std::path::PathBuf) {
    let pid_file = host.scratch.join("pid");
    host.fake_plugin(
        "hanger",
        &format!(
            r#"stdin=$(cat)
case "$CNI_COMMAND:$CNI_NETNS" in
ADD:*-b)
  echo $$ >"{pid}.tmp" && mv "{pid}.tmp" "{pid}"
  sleep 60 &
  wait ;;
ADD:*) printf '%s' "$stdin" | jq -c .prevResult ;;
esac"#,
            pid = pid_file.display()
        ),
    );
    bridge_net(host, "web", "smk0", subnet, json!([{"type": "hanger"}]));
    let started = host.cnitool().args(["smoke", "--net", "web"]).start();
    testsupport::wait_until(
        "the hanger to run",
        std::time::Duration::from_secs(30),
        || pid_file.exists(),
    );
    (started, pid_file)
}

/// SIGINT while the second run's ADD hangs: the plugin is stopped, the first run is torn
/// down, no namespace, record, cache entry, lease, veth or chain is left; exit 130.
#[test]
fn smoke_interrupted_tears_down_what_it_made() {
    use std::path::Path;

    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    host_test("smoke_interrupted_tears_down_what_it_made", |host| {
        let (started, pid_file) = smoke_with_hanging_add(host, "10.190.0.0/24");
        let plugin = fs::read_to_string(&pid_file).unwrap().trim().to_owned();
        kill(Pid::from_raw(started.pid()), Signal::SIGINT).unwrap();
        let run = started.wait();
        assert_eq!(run.code, 130, "{run:#?}");
        assert!(
            run.stderr
                .contains("error: interrupted by SIGINT; everything smoke made was torn down"),
            "{run:#?}"
        );
        assert!(
            run.stdout.contains("attach run a         pass"),
            "{}",
            run.stdout
        );
        assert!(
            !Path::new(&format!("/proc/{plugin}")).exists(),
            "plugin left running"
        );
        assert_eq!(fs::read_dir(&host.netns_dir).unwrap().count(), 0);
        assert_eq!(
            fs::read_dir(host.cache.join("cnitool-runs"))
                .unwrap()
                .count(),
            0
        );
    });
}

/// A plain user is told that smoke needs root, before anything is made.
#[test]
fn smoke_refuses_a_plain_user() {
    crate::util::plain_test(|host| {
        let run = host
            .cnitool()
            .args(["smoke", "--net", "web"])
            .under(&[
                "setpriv",
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
            ])
            .run();
        run.fails(2, "smoke needs root: it creates network namespaces");
        assert!(!host.netns_dir.exists());
    });
}

/// A plugin that leaves a process in the run's namespace fails the run's teardown check; the
/// process is killed and nothing else is left.
#[test]
fn smoke_fails_when_a_plugin_leaves_a_process_in_a_run() {
    host_test(
        "smoke_fails_when_a_plugin_leaves_a_process_in_a_run",
        |host| {
            host.fake_plugin(
                "spawner",
                r#"stdin=$(cat)
if [ "$CNI_COMMAND" = ADD ]; then
  nsenter --net="$CNI_NETNS" sleep 300 </dev/null >/dev/null 2>&1 &
  printf '%s' "$stdin" | jq -c .prevResult
fi"#,
            );
            bridge_net(
                host,
                "web",
                "smk0",
                "10.189.0.0/24",
                json!([{"type": "spawner"}]),
            );
            let (run, report) = smoke(host, &["--net", "web"]);
            assert_eq!(run.code, 3, "{report:#}");
            let failed: Vec<(String, String)> = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["result"] == "fail")
                .map(|c| {
                    (
                        c["check"].as_str().unwrap().to_owned(),
                        c["detail"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(failed.len(), 2, "{report:#}");
            for (check, detail) in &failed {
                assert_eq!(check, "left behind");
                assert!(
                    detail.starts_with("process(es) ")
                        && detail.ends_with(" (sleep) still in the run's namespace, killed"),
                    "{detail}"
                );
            }
            assert!(outcomes(&report).contains(&t("host", "left behind", "pass")));
        },
    );
}

/// A smoke killed outright (SIGKILL) leaves run records that `cnitool gc` follows to undo
/// everything: attachments, leases, veths, chains, namespaces.
#[test]
fn smoke_killed_is_finished_by_gc() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    host_test("smoke_killed_is_finished_by_gc", |host| {
        let (started, pid_file) = smoke_with_hanging_add(host, "10.188.0.0/24");
        let plugin: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        kill(Pid::from_raw(started.pid()), Signal::SIGKILL).unwrap();
        let run = started.wait();
        assert_eq!(run.code, -1, "{run:#?}");
        // The plugin's group (its sleep too) is left running by a killed tool.
        let _ = kill(Pid::from_raw(-plugin), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(plugin), Signal::SIGKILL);
        assert_eq!(
            fs::read_dir(host.cache.join("cnitool-runs"))
                .unwrap()
                .count(),
            2,
            "one record per run"
        );
        // Run a is attached; run b's attachment is recorded before its ADD runs.
        assert_eq!(host.cache_files().len(), 2, "{:?}", host.cache_files());
        let gc = host.run(&["gc"]).ok();
        assert_eq!(
            gc.stdout.matches("cleaned up run of pid").count(),
            2,
            "{gc:#?}"
        );
        assert_eq!(fs::read_dir(&host.netns_dir).unwrap().count(), 0);
        assert_eq!(
            fs::read_dir(host.cache.join("cnitool-runs"))
                .unwrap()
                .count(),
            0
        );
    });
}
