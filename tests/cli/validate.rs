//! `validate` as a CI gate: the reference plugins' rules on real netconfs, the checks against
//! the host (interfaces, routes, the dhcp socket) inside a throwaway host with its own veth
//! pair, and the output forms: table, `-q`, `-o json`, `--strict`, `--junit`, exit codes.

use std::fs;
use std::os::unix::net::UnixListener;

use serde_json::{json, Value};

use crate::util::*;

/// A bridge network with host-local IPAM on `subnet`.
fn bridge_net(h: &Host, name: &str, bridge: &str, subnet: &str) {
    h.conflist(
        name,
        "1.0.0",
        json!([{"type": "bridge", "bridge": bridge, "isGateway": true,
                "ipam": {"type": "host-local", "dataDir": h.ipam, "ranges": [[{"subnet": subnet}]]}},
               {"type": "portmap", "capabilities": {"portMappings": true}}]),
    );
}

/// `severity network file path: message` for each finding of `validate -o json`, and the
/// fix after ` => ` when there is one.
fn found(run: &Run) -> Vec<String> {
    run.json()["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {run:#?}"))
        .iter()
        .map(|f| {
            let file = f["file"].as_str().map_or("-".to_owned(), |p| {
                p.rsplit('/').next().unwrap_or(p).to_owned()
            });
            let mut s = format!(
                "{} {} {} {}: {}",
                f["severity"].as_str().unwrap(),
                f["network"].as_str().unwrap(),
                file,
                f["path"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            );
            if let Some(fix) = f["fix"].as_str() {
                s.push_str(" => ");
                s.push_str(fix);
            }
            s
        })
        .collect()
}

/// The findings that are not `info`.
fn problems(run: &Run) -> Vec<String> {
    found(run)
        .into_iter()
        .filter(|f| !f.starts_with("info "))
        .collect()
}

/// Runs `ip ARGS` in the calling thread's (throwaway) namespace.
fn ip(args: &[&str]) {
    let mut argv = vec!["ip"];
    argv.extend(args);
    sh_output(&argv);
}

/// A veth pair `up0`/`up1` in this throwaway host, `up0` with `addr` (if any) and up; the
/// returned guard deletes it.
struct Veth;

impl Veth {
    fn new(addr: Option<&str>) -> Veth {
        ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up1"]);
        if let Some(a) = addr {
            ip(&["addr", "add", a, "dev", "up0"]);
        }
        ip(&["link", "set", "up0", "up"]);
        ip(&["link", "set", "up1", "up"]);
        Veth
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", "up0"])
            .status();
    }
}

/// What a new user tried (the networks of podman and containerd on one subnet, a subnet
/// that is no address, a master that does not exist, a rate without burst): each found,
/// with its file, field and fix, and exit 3; the table says the same.
#[test]
fn validate_finds_what_add_would_reject() {
    host_test("validate_finds_what_add_would_reject", |h| {
        bridge_net(h, "podman", "cni-podman0", "10.88.0.0/16");
        bridge_net(h, "containerd", "cni0", "10.88.0.0/16");
        h.conflist(
            "typo",
            "1.0.0",
            json!([{"type": "bridge", "bridge": "cni9", "mtus": 1400,
                    "ipam": {"type": "host-local", "dataDir": h.ipam,
                             "ranges": [[{"subnet": "10.300.0.0/24"}]]}},
                   {"type": "bandwidth", "ingressRate": 1000000}]),
        );
        h.conflist(
            "lan",
            "1.0.0",
            json!([{"type": "macvlan", "master": "eth7",
                    "ipam": {"type": "host-local", "dataDir": h.ipam,
                             "ranges": [[{"subnet": "10.60.0.0/24", "gateway": "10.60.0.0"}]]}}]),
        );
        let run = h.run(&["-o", "json", "validate"]);
        assert_eq!(run.code, 3, "{run:#?}");
        assert_eq!(run.json()["ok"], false);
        let mut got = problems(&run);
        got.sort();
        let mut want = vec![
            "error lan lan.conflist .plugins[0].ipam.ranges[0][0].gateway: gateway 10.60.0.0 is the network address of 10.60.0.0/24: no host can have it => use 10.60.0.1".to_owned(),
            "error lan lan.conflist .plugins[0].master: master interface \"eth7\" does not exist on this host (interfaces: ) => set \"master\" to an existing interface".to_owned(),
            "error typo typo.conflist .plugins[0].ipam.ranges[0][0].subnet: \"10.300.0.0/24\" is not a CIDR subnet (like 10.22.0.0/24)".to_owned(),
            "error typo typo.conflist .plugins[1].ingressBurst: ingressRate is set without ingressBurst: bandwidth refuses a rate without a burst => add \"ingressBurst\" (bits; e.g. 100000 for 100 ms at the rate)".to_owned(),
            "warning typo typo.conflist .plugins[0].mtus: unknown key \"mtus\": the bridge plugin ignores it (did you mean \"mtu\"?) => rename it to \"mtu\"".to_owned(),
        ];
        // Files are read in name order: containerd before podman.
        want.push(format!(
            "warning podman podman.conflist .plugins[0].ipam.ranges[0][0].subnet: subnet 10.88.0.0/16 overlaps \
             10.88.0.0/16 of network \"containerd\" ({}): containers of both can get the same addresses and their \
             routes clash => give each network its own subnet",
            h.conf.join("containerd.conflist").display()
        ));
        want.sort();
        assert_eq!(got, want);

        // The table: one row per finding, the file by name, the field and the fix.
        let table = h.run(&["validate"]);
        assert_eq!(table.code, 3);
        assert!(
            table.stdout.lines().any(|l| l.starts_with("error")
                && l.contains("typo.conflist")
                && l.contains(".plugins[0].ipam.ranges[0][0].subnet")
                && l.contains("host-local: \"10.300.0.0/24\" is not a CIDR subnet")),
            "{}",
            table.stdout
        );
        // Naming only a good network: exit 0.
        h.run(&["validate", "podman"]).ok();
    });
}

/// `-q` prints only warnings and errors, and nothing at all for a clean configuration;
/// `--strict` makes a warning fail.
#[test]
fn validate_quiet_and_strict() {
    host_test("validate_quiet_and_strict", |h| {
        bridge_net(h, "web", "web0", "10.61.0.0/24");
        let clean = h.run(&["-q", "validate"]).ok();
        assert_eq!((clean.stdout.as_str(), clean.stderr.as_str()), ("", ""));
        // Without -q, the info lines.
        assert!(h.run(&["validate"]).ok().stdout.contains("CHECK available"));
        h.run(&["validate", "--strict"]).ok();

        // One warning (an unknown key): exit 0, but 3 with --strict.
        h.conflist(
            "web",
            "1.0.0",
            json!([{"type": "ptp", "ipMasquerade": true,
                    "ipam": {"type": "host-local", "dataDir": h.ipam, "ranges": [[{"subnet": "10.61.0.0/24"}]]}}]),
        );
        let quiet = h.run(&["-q", "validate"]).ok();
        let rows: Vec<&str> = quiet.stdout.lines().collect();
        assert_eq!(rows.len(), 2, "{}", quiet.stdout);
        assert!(rows[0].starts_with("SEVERITY"));
        assert!(
            rows[1].starts_with("warning") && rows[1].contains("unknown key \"ipMasquerade\""),
            "{}",
            quiet.stdout
        );
        let strict = h.run(&["-q", "validate", "--strict"]);
        assert_eq!(strict.code, 3, "{strict:#?}");
        assert_eq!(strict.stdout, quiet.stdout);
        let json = h.run(&["-q", "-o", "json", "validate", "--strict"]);
        assert_eq!(json.code, 3);
        assert_eq!(json.json()["ok"], false);
        assert_eq!(problems(&json).len(), found(&json).len(), "-q: no info");
    });
}

/// `--junit FILE`: one test case per network, a failure with every error of it; the
/// warnings of a passing network in system-out (failures with --strict).
#[test]
fn validate_writes_a_junit_report() {
    host_test("validate_writes_a_junit_report", |h| {
        bridge_net(h, "good", "good0", "10.62.0.0/24");
        h.conflist(
            "bad",
            "1.0.0",
            json!([{"type": "bridge", "bridge": "bad0", "vlan": 5000,
                    "ipam": {"type": "host-local", "dataDir": h.ipam, "ranges": [[{"subnet": "10.63.0.0/24"}]]}}]),
        );
        let report = h.scratch.join("report.xml");
        let run = h
            .cnitool()
            .args(["-o", "none", "validate", "--junit"])
            .arg(&report)
            .run();
        assert_eq!((run.code, run.stdout.as_str()), (3, ""), "{run:#?}");
        let xml = fs::read_to_string(&report).unwrap();
        let bad = h.conf.join("bad.conflist");
        let good = h.conf.join("good.conflist");
        assert_eq!(
            xml,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <testsuites name=\"cnitool validate\" tests=\"2\" failures=\"1\">\n  \
                 <testsuite name=\"cnitool validate\" tests=\"2\" failures=\"1\" errors=\"0\">\n    \
                 <testcase name=\"bad\" classname=\"{bad}\">\n      \
                 <failure type=\"error\" message=\"VLAN ID 5000 is out of range: 0 to 4094 (1 finding)\">error: {bad}: \
                 .plugins[0].vlan: bridge: VLAN ID 5000 is out of range: 0 to 4094</failure>\n    \
                 </testcase>\n    \
                 <testcase name=\"good\" classname=\"{good}\"/>\n  \
                 </testsuite>\n</testsuites>\n",
                bad = bad.display(),
                good = good.display()
            )
        );
    });
}

/// A netconf directory given that does not exist, or none with a netconf, is an error.
#[test]
fn validate_without_netconfs_fails() {
    plain_test(|h| {
        let missing = h.root().join("nonexistent");
        let run = h
            .cnitool()
            .env("NETCONFPATH", &missing)
            .args(["-o", "json", "validate"])
            .run();
        assert_eq!(run.code, 3, "{run:#?}");
        assert_eq!(
            found(&run),
            [format!(
                "error  nonexistent : netconf directory {} does not exist (NETCONFPATH / --netconf-dir) \
                 => create it or correct the path",
                missing.display()
            )]
        );
        // The same through --netconf-dir, in the table.
        let table = h
            .cnitool()
            .arg("--netconf-dir")
            .arg(&missing)
            .arg("validate")
            .run();
        assert_eq!(table.code, 3);
        assert!(table.stdout.contains("does not exist"), "{table:#?}");
        // An existing but empty directory.
        let empty = h.run(&["-q", "validate"]);
        assert_eq!(empty.code, 3);
        assert!(empty.stdout.contains("no netconf files in"), "{empty:#?}");
    });
}

/// The parents on this host: a macvlan/ipvlan/vlan master or host-device device that does
/// not exist is an error; the one a veth pair of the throwaway host provides passes;
/// `--no-host-checks` skips the question.
#[test]
fn validate_checks_parent_interfaces_on_this_host() {
    host_test("validate_checks_parent_interfaces_on_this_host", |h| {
        let _veth = Veth::new(None);
        let ipam = |n: u8| json!({"type": "host-local", "dataDir": h.ipam, "ranges": [[{"subnet": format!("10.64.{n}.0/24")}]]});
        for (name, plugin) in [
            (
                "mv",
                json!({"type": "macvlan", "master": "up0", "ipam": ipam(1)}),
            ),
            (
                "iv",
                json!({"type": "ipvlan", "master": "up0", "ipam": ipam(2)}),
            ),
            (
                "vl",
                json!({"type": "vlan", "master": "up0", "vlanId": 7, "ipam": ipam(3)}),
            ),
            (
                "hd",
                json!({"type": "host-device", "device": "up1", "ipam": ipam(4)}),
            ),
        ] {
            h.conflist(name, "1.0.0", json!([plugin]));
        }
        let run = h.run(&["-o", "json", "validate"]).ok();
        assert_eq!(problems(&run), Vec::<String>::new());

        for (name, plugin) in [
            (
                "mv",
                json!({"type": "macvlan", "master": "up9", "ipam": ipam(1)}),
            ),
            (
                "iv",
                json!({"type": "ipvlan", "master": "up9", "ipam": ipam(2)}),
            ),
            (
                "vl",
                json!({"type": "vlan", "master": "up9", "vlanId": 7, "ipam": ipam(3)}),
            ),
            (
                "hd",
                json!({"type": "host-device", "device": "up9", "ipam": ipam(4)}),
            ),
        ] {
            h.conflist(name, "1.0.0", json!([plugin]));
        }
        let run = h.run(&["-o", "json", "validate"]);
        assert_eq!(run.code, 3);
        let mut got = problems(&run);
        got.sort();
        let missing = |net: &str| {
            format!(
                "error {net} {net}.conflist .plugins[0].master: master interface \"up9\" does not exist on \
                 this host (interfaces: up0, up1) => set \"master\" to an existing interface"
            )
        };
        assert_eq!(
            got,
            [
                "error hd hd.conflist .plugins[0].device: device \"up9\" does not exist on this host => set \"device\" to an existing interface".to_owned(),
                missing("iv"),
                missing("mv"),
                missing("vl"),
            ]
        );
        // For a netconf meant for another machine.
        let elsewhere = h.run(&["-o", "json", "validate", "--no-host-checks"]).ok();
        assert_eq!(problems(&elsewhere), Vec::<String>::new());
    });
}

/// Subnets that overlap the host's own routes are warnings; the route of a macvlan's own
/// parent is not an overlap (macvlan shares the parent's subnet by design).
#[test]
fn validate_warns_of_subnets_on_the_hosts_routes() {
    host_test("validate_warns_of_subnets_on_the_hosts_routes", |h| {
        let _veth = Veth::new(Some("10.65.0.1/24"));
        bridge_net(h, "clash", "clash0", "10.65.0.0/16");
        h.conflist(
            "lan",
            "1.0.0",
            json!([{"type": "macvlan", "master": "up0",
                    "ipam": {"type": "host-local", "dataDir": h.ipam,
                             "ranges": [[{"subnet": "10.65.0.0/24", "rangeStart": "10.65.0.100"}]]}}]),
        );
        let run = h.run(&["-o", "json", "validate", "clash"]).ok();
        assert_eq!(
            problems(&run),
            ["warning clash clash.conflist .plugins[0].ipam.ranges[0][0].subnet: subnet 10.65.0.0/16 overlaps \
              this host's route 10.65.0.0/24 dev up0: traffic to one of them goes the wrong way => pick a subnet \
              no route of the host covers"]
        );
        assert_eq!(h.run(&["validate", "--strict", "clash"]).code, 3);
        let lan = h.run(&["-o", "json", "validate", "lan"]).ok();
        assert_eq!(problems(&lan), Vec::<String>::new());
        // An address without a prefix route of its own is found too.
        ip(&["addr", "add", "10.69.0.9/32", "dev", "up1"]);
        bridge_net(h, "vip", "vip0", "10.69.0.0/24");
        let vip = h.run(&["-o", "json", "validate", "vip"]).ok();
        assert_eq!(
            problems(&vip),
            ["warning vip vip.conflist .plugins[0].ipam.ranges[0][0].subnet: subnet 10.69.0.0/24 holds \
              this host's address 10.69.0.9 (dev up1): a container given it clashes with the host => pick \
              a subnet without the host's addresses"]
        );
    });
}

/// Two networks on one bridge with different subnets.
#[test]
fn validate_warns_of_a_bridge_shared_by_different_subnets() {
    host_test(
        "validate_warns_of_a_bridge_shared_by_different_subnets",
        |h| {
            bridge_net(h, "a", "shared0", "10.66.1.0/24");
            bridge_net(h, "b", "shared0", "10.66.2.0/24");
            let run = h.run(&["-o", "json", "validate"]).ok();
            assert_eq!(
            problems(&run),
            ["warning b b.conflist .plugins[0].bridge: bridge \"shared0\" is also used by network \"a\" with \
              other subnets (10.66.2.0/24 here, 10.66.1.0/24 there): the bridge gets both gateways and the \
              networks are not isolated => give each network its own \"bridge\""]
        );
            bridge_net(h, "b", "other0", "10.66.2.0/24");
            assert_eq!(
                problems(&h.run(&["-o", "json", "validate"]).ok()),
                Vec::<String>::new()
            );
        },
    );
}

/// Two files with one name: the later one is never used, and says which file wins.
#[test]
fn validate_names_the_file_that_wins_a_name() {
    host_test("validate_names_the_file_that_wins_a_name", |h| {
        bridge_net(h, "web", "web0", "10.67.0.0/24");
        h.write_conf(
            "zz-web.conflist",
            r#"{"cniVersion":"1.0.0","name":"web","plugins":[{"type":"ptp"}]}"#,
        );
        let run = h.run(&["-o", "json", "validate"]).ok();
        assert_eq!(
            problems(&run),
            [format!(
                "warning web zz-web.conflist .name: {} is shadowed by {}: both are named \"web\" and the first \
                 in lookup order wins, so this file is never used => rename the network in one of the files, \
                 or remove this one",
                h.conf.join("zz-web.conflist").display(),
                h.conf.join("web.conflist").display()
            )]
        );
    });
}

/// dhcp IPAM without the daemon's socket fails ADD: an error until something listens.
#[test]
fn validate_wants_the_dhcp_daemon_socket() {
    host_test("validate_wants_the_dhcp_daemon_socket", |h| {
        let _veth = Veth::new(None);
        let socket = h.scratch.join("dhcp.sock");
        h.conflist(
            "lan",
            "1.0.0",
            json!([{"type": "macvlan", "master": "up0",
                    "ipam": {"type": "dhcp", "daemonSocketPath": socket}}]),
        );
        let run = h.run(&["-o", "json", "validate"]);
        assert_eq!(run.code, 3, "{run:#?}");
        assert_eq!(
            problems(&run),
            [format!(
                "error lan lan.conflist .plugins[0].ipam.daemonSocketPath: no dhcp daemon socket at {s}: ADD \
                 fails until the daemon runs => start it: /usr/lib/cni/dhcp daemon -socketpath {s} (or its \
                 systemd unit)",
                s = socket.display()
            )]
        );
        let _listener = UnixListener::bind(&socket).unwrap();
        let run = h.run(&["-o", "json", "validate"]).ok();
        assert_eq!(problems(&run), Vec::<String>::new());
        let v: Value = run.json();
        assert_eq!(v["ok"], true);
    });
}

/// VERSION is asked once per plugin binary in a run, however many networks use it (a fake
/// plugin counts its VERSION calls).
#[test]
fn validate_asks_each_plugin_binary_version_once() {
    plain_test(|h| {
        let count = h.scratch.join("versions");
        h.fake_plugin(
            "counted",
            &format!(
                r#"if [ "$CNI_COMMAND" = VERSION ]; then
  echo "$CNI_COMMAND" >> {count}
  echo '{{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}}'
  exit 0
fi
exit 1"#,
                count = count.display()
            ),
        );
        for i in 0..40 {
            h.conflist(
                &format!("n{i:02}"),
                "1.0.0",
                json!([{"type": "counted", "ipam": {"type": "counted"}}, {"type": "counted"}]),
            );
        }
        let run = h.run(&["-q", "validate"]).ok();
        assert_eq!(run.stdout, "");
        assert_eq!(fs::read_to_string(&count).unwrap(), "VERSION\n");
    });
}

/// macvlan and vlan take at most their master's MTU. sysfs, where the MTU is read, shows the
/// namespace it was mounted in: this throwaway host mounts its own over `/sys` (its mounts
/// are private to it) and unmounts it at the end.
#[test]
fn validate_checks_the_mtu_against_the_master() {
    host_test("validate_checks_the_mtu_against_the_master", |h| {
        let _veth = Veth::new(None);
        ip(&["link", "set", "up0", "mtu", "1400"]);
        sh_output(&["mount", "-t", "sysfs", "sysfs", "/sys"]);
        struct Unmount;
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg("/sys").status();
            }
        }
        let _unmount = Unmount;
        let ipam = json!({"type": "host-local", "dataDir": h.ipam, "ranges": [[{"subnet": "10.70.0.0/24"}]]});
        h.conflist(
            "mv",
            "1.0.0",
            json!([{"type": "macvlan", "master": "up0", "mtu": 1500, "ipam": ipam}]),
        );
        let run = h.run(&["-o", "json", "validate"]);
        assert_eq!(run.code, 3, "{run:#?}");
        assert_eq!(
            problems(&run),
            ["error mv mv.conflist .plugins[0].mtu: MTU 1500 is above the MTU 1400 of master up0 \
              (ADD refuses it) => use at most 1400, or leave \"mtu\" out to take the master's"]
        );
        h.conflist(
            "mv",
            "1.0.0",
            json!([{"type": "macvlan", "master": "up0", "mtu": 1400, "ipam": ipam}]),
        );
        assert_eq!(
            problems(&h.run(&["-o", "json", "validate"]).ok()),
            Vec::<String>::new()
        );
    });
}
