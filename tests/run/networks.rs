//! Networks: two at once, joining an existing namespace, DNS from results, the built-in
//! network, many concurrent runs, a small subnet used over and over, and processes the
//! command leaves behind.

use std::collections::BTreeSet;
use std::fs;
use std::process::{Command, Stdio};

use nix::mount::{mount, MsFlags};
use serde_json::json;

use crate::plugins::{hook, install_hook};
use crate::util::{host_test, ipv4_of, is_running, list, sh, wait_output};

#[test]
fn two_networks_eth0_and_eth1() {
    host_test("two_networks_eth0_and_eth1", |host| {
        host.bridge_net("a", "br-a", "10.197.2.0/24");
        host.bridge_net("b", "br-b", "10.197.3.0/24");
        let out = host
            .run([
                "--net", "a", "--net", "b", "--", "ip", "-o", "-4", "addr", "show",
            ])
            .ok();
        let eth0 = ipv4_of(&out.stdout, "eth0");
        let eth1 = ipv4_of(&out.stdout, "eth1");
        assert!(
            eth0.len() == 1 && eth0[0].starts_with("10.197.2."),
            "{out:#?}"
        );
        assert!(
            eth1.len() == 1 && eth1[0].starts_with("10.197.3."),
            "{out:#?}"
        );
        host.assert_clean();

        // NAME:IFNAME picks the name; the others keep their position's ethN.
        let out = host
            .run([
                "--net", "a:ext0", "--net", "b", "--", "ip", "-o", "-4", "addr", "show",
            ])
            .ok();
        assert_eq!(ipv4_of(&out.stdout, "ext0").len(), 1, "{out:#?}");
        assert_eq!(ipv4_of(&out.stdout, "eth1").len(), 1, "{out:#?}");
        assert!(ipv4_of(&out.stdout, "eth0").is_empty(), "{out:#?}");
    });
}

#[test]
fn join_existing_namespace() {
    host_test("join_existing_namespace", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let path = libcni::netns::create(&host.netns_dir, "joined", Default::default()).unwrap();
        // A process of the namespace's owner, which the run must not kill.
        let mut owner = Command::new("nsenter")
            .arg(format!("--net={}", path.display()))
            .args(["sleep", "60"])
            .spawn()
            .unwrap();

        // The command leaves a daemon behind (double fork, new session): the run kills it even
        // though the namespace is not its own, because it is the command's descendant.
        let pidfile = host.tmp.path().join("daemon.pid");
        let script = format!(
            "setsid sh -c 'sleep 100 & echo $! > {}' ; ip -o -4 addr show",
            pidfile.display()
        );
        let out = host
            .run(["--net", "t", "--netns", "joined", "--", "sh", "-c", &script])
            .ok();
        assert_eq!(ipv4_of(&out.stdout, "eth0").len(), 1, "{out:#?}");
        let daemon: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!is_running(daemon), "the command's daemon survived the run");

        assert!(
            libcni::netns::identify(&path).is_ok(),
            "the namespace is gone"
        );
        let links = libcni::netns::run_in(&path, crate::util::host_links).unwrap();
        assert_eq!(links, ["lo"], "our attachment is left in the namespace");
        assert!(
            is_running(owner.id() as i32),
            "the run killed a process it does not own"
        );
        assert!(host.records().is_empty());

        owner.kill().unwrap();
        owner.wait().unwrap();
        libcni::netns::delete(&host.netns_dir, "joined").unwrap();
    });
}

#[test]
fn dns_from_results_reaches_resolv_conf() {
    host_test("dns_from_results_reaches_resolv_conf", |host| {
        install_hook(host);
        let host_resolv = fs::read("/etc/resolv.conf").ok();
        // bridge passes its netconf's "dns" into the result; the hook adds another.
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["dns"] = json!({ "nameservers": ["10.197.1.53"], "search": ["one.test"] });
        host.netconf("withdns", &list("withdns", vec![bridge]));
        let plugins = vec![
            host.bridge_plugin("br-u", "10.197.2.0/24"),
            hook(json!({ "dns": { "nameservers": ["10.197.2.53"], "options": ["ndots:2"] } })),
        ];
        host.netconf("hooked", &list("hooked", plugins));
        host.bridge_net("plain", "br-v", "10.197.3.0/24");

        let cat = ["--", "cat", "/etc/resolv.conf"];
        let out = host
            .run(["--net", "withdns", "--net", "hooked"].iter().chain(&cat))
            .ok();
        let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "nameserver 10.197.1.53",
                "nameserver 10.197.2.53",
                "search one.test",
                "options ndots:2"
            ],
            "{out:#?}"
        );
        assert_eq!(
            fs::read("/etc/resolv.conf").ok(),
            host_resolv,
            "host file changed"
        );

        // Without DNS in the results, the command sees the host's file.
        let out = host.run(["--net", "plain"].iter().chain(&cat)).ok();
        assert_eq!(Some(out.stdout.into_bytes()), host_resolv);
    });
}

/// Readies the throwaway host for the built-in network: host-local's default dataDir private
/// to its mount namespace (a tmpfs over /var/lib, which exists, so no /var/lib/cni is created
/// on the real disk) and checked for leases at the end; its bridge may stay.
fn builtin_network_host(host: &crate::util::Host) {
    mount(
        Some("tmpfs"),
        "/var/lib",
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let var_lib_cni = std::path::Path::new("/var/lib/cni");
    fs::create_dir(var_lib_cni).unwrap();
    host.allow_link("cnitool0");
    host.check_ipam_dir(var_lib_cni);
}

#[test]
fn builtin_network_when_no_netconf() {
    host_test("builtin_network_when_no_netconf", |host| {
        builtin_network_host(host);

        let out = host
            .run([
                "-p",
                "18080:80",
                "--",
                "sh",
                "-c",
                "ip -o -4 addr show; ip route show default",
            ])
            .ok();
        let eth0 = ipv4_of(&out.stdout, "eth0");
        assert!(
            eth0.len() == 1 && eth0[0].starts_with("10.231.0."),
            "{out:#?}"
        );
        assert!(out.stdout.contains("default via 10.231.0.1"), "{out:#?}");
        assert!(crate::util::host_links().contains(&"cnitool0".to_owned()));
        // --net cnitool names the built-in network even when netconfs exist.
        host.bridge_net("other", "br-o", "10.197.1.0/24");
        host.run(["--net", "cnitool", "--", "true"]).ok();
    });
}

/// Ten runs at once on one bridge network: all succeed, each with its own address; every
/// command waits until all ten run, so they really overlap.
#[test]
fn concurrent_runs_get_distinct_addresses() {
    host_test("concurrent_runs_get_distinct_addresses", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let started = host.path("started");
        fs::create_dir(&started).unwrap();
        let n = 10;
        let children: Vec<_> = (0..n)
            .map(|i| {
                let cmd = format!(
                    "ip -o -4 addr show dev eth0; touch {dir}/{i}; \
                     for _ in $(seq 400); do [ $(ls {dir} | wc -l) -ge {n} ] && exit 0; sleep 0.05; done; exit 9",
                    dir = started.display()
                );
                host.run_cmd(["--net", "t", "--", "sh", "-c", &cmd])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut addrs = BTreeSet::new();
        for child in children {
            let out = wait_output(child, None).ok();
            let a = ipv4_of(&out.stdout, "eth0");
            assert_eq!(a.len(), 1, "{out:#?}");
            assert!(addrs.insert(a[0].clone()), "address {} given twice", a[0]);
        }
        assert_eq!(addrs.len(), n);
    });
}

/// A /29 has five addresses for containers; eight runs in a row all get one (DEL releases).
#[test]
fn small_subnet_survives_sequential_runs() {
    host_test("small_subnet_survives_sequential_runs", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/29");
        for i in 0..8 {
            let out = host.run([
                "--net", "t", "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0",
            ]);
            assert_eq!(out.code(), 0, "run {i}: {out:#?}");
        }
    });
}

/// What the command leaves running in the namespace is killed before DEL runs.
#[test]
fn background_processes_are_killed_before_del() {
    host_test("background_processes_are_killed_before_del", |host| {
        install_hook(host);
        let pidfile = host.path("bg.pid");
        let log = host.path("calls");
        // At DEL, the hook logs whether the background process still runs.
        let probe = format!(
            "p=$(cat {}); if [ -d /proc/$p ] && ! grep -q '^[^)]*) [ZX]' /proc/$p/stat; \
             then echo bg-alive; else echo bg-gone; fi",
            pidfile.display()
        );
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "log": log, "delRun": probe })),
        ];
        host.netconf("t", &list("t", plugins));
        let cmd = format!(
            "sleep 100 & echo $! > {p}; (sleep 100 &) ; exit 0",
            p = pidfile.display()
        );
        host.run(["--net", "t", "--", "sh", "-c", &cmd]).ok();
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!is_running(pid), "the background sleep survived");
        let calls = fs::read_to_string(&log).unwrap();
        assert_eq!(
            calls.lines().collect::<Vec<_>>(),
            ["ADD hook", "DEL hook", "bg-gone"]
        );
    });
}

/// --ip, --dns and --arg reach the plugins at ADD, and the same arguments at DEL.
#[test]
fn plugin_arguments_reach_the_plugins() {
    host_test("plugin_arguments_reach_the_plugins", |host| {
        install_hook(host);
        let log = host.path("calls");
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["capabilities"] = json!({ "ips": true });
        let mut probe = hook(json!({ "log": log, "logArgs": true }));
        probe["capabilities"] = json!({ "ips": true, "dns": true });
        host.netconf("t", &list("t", vec![bridge, probe]));
        let out = host
            .run([
                "--net",
                "t",
                "--ip",
                "10.197.1.77/24",
                "--dns",
                "10.197.1.53",
                // Plugins refuse unknown CNI_ARGS without IgnoreUnknown.
                "--arg",
                "IgnoreUnknown=1",
                "--arg",
                "FOO=bar",
                "--",
                "ip",
                "-o",
                "-4",
                "addr",
                "show",
            ])
            .ok();
        assert_eq!(ipv4_of(&out.stdout, "eth0"), ["10.197.1.77"], "{out:#?}");
        let calls = fs::read_to_string(&log).unwrap();
        let args_of = |cmd: &str| {
            calls
                .lines()
                .find(|l| l.starts_with(&format!("{cmd} CNI_ARGS=")))
                .unwrap_or_else(|| panic!("no {cmd} in {calls}"))
                .split_once(' ')
                .unwrap()
                .1
                .to_owned()
        };
        let add = args_of("ADD");
        assert!(add.contains("FOO=bar"), "{calls}");
        assert!(add.contains(r#""ips":["10.197.1.77/24"]"#), "{calls}");
        assert!(
            add.contains(r#""dns":{"servers":["10.197.1.53"]}"#),
            "{calls}"
        );
        assert_eq!(args_of("DEL"), add, "DEL gets the arguments of ADD");
    });
}

/// The built-in network never takes a subnet the host already routes: with a bridge of
/// another tool on its first subnet (as podman's first network may be), `run` takes the next
/// one and says so under `-v`, and the host keeps one route per subnet; with every candidate
/// routed, it fails before any plugin runs, naming what to do.
#[test]
fn builtin_network_avoids_subnets_in_use() {
    host_test("builtin_network_avoids_subnets_in_use", |host| {
        builtin_network_host(host);
        host.allow_link("other0");
        sh("ip link add other0 type bridge && ip addr add 10.231.0.1/24 dev other0 && ip link set other0 up");

        let out = host
            .run(["-v", "--", "ip", "-o", "-4", "addr", "show", "eth0"])
            .ok();
        let eth0 = ipv4_of(&out.stdout, "eth0");
        assert!(
            eth0.len() == 1 && eth0[0].starts_with("10.231.1."),
            "{out:#?}"
        );
        assert!(
            out.stderr.contains(
                "built-in network: 10.231.0.0/24 (route 10.231.0.0/24 dev other0) in use on \
                 this host; using 10.231.1.0/24"
            ),
            "{out:#?}"
        );
        let routes = sh("ip -o -4 route show 10.231.0.0/24");
        assert_eq!(routes.lines().count(), 1, "{routes}");
        // The bridge keeps its subnet for later runs, even once the other goes away.
        sh("ip link del other0");
        let out = host
            .run(["--", "ip", "-o", "-4", "addr", "show", "eth0"])
            .ok();
        assert!(
            ipv4_of(&out.stdout, "eth0")[0].starts_with("10.231.1."),
            "{out:#?}"
        );

        // Every candidate routed (and no bridge of ours yet): a clear failure, nothing run.
        sh("ip link del cnitool0");
        sh("ip link add other0 type bridge && ip addr add 10.231.0.1/16 dev other0 && ip link set other0 up");
        let out = host.run(["--", "true"]).code_is(125);
        assert!(
            out.stderr.contains("no free subnet")
                && out.stderr.contains("write a netconf named cnitool"),
            "{out:#?}"
        );
        assert!(!crate::util::host_links().contains(&"cnitool0".to_owned()));
        sh("ip link del other0");
    });
}

/// `--dns` and `--dns-search` that no plugin declares the `dns` capability for are the
/// runtime's job: `run` writes them into the command's resolv.conf (over the results' DNS,
/// else over the host's file); the host's file is untouched. A capability flag no plugin
/// takes otherwise (`-p` without portmap) fails before anything is set up.
#[test]
fn dns_flags_without_dns_plugin_reach_resolv_conf() {
    host_test("dns_flags_without_dns_plugin_reach_resolv_conf", |host| {
        let host_resolv = fs::read("/etc/resolv.conf").ok();
        host.bridge_net("plain", "br-v", "10.197.3.0/24");
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["dns"] = json!({ "nameservers": ["10.197.1.53"], "search": ["one.test"] });
        host.netconf("withdns", &list("withdns", vec![bridge]));
        let cat = ["--", "cat", "/etc/resolv.conf"];

        let out = host
            .run(
                [
                    "--net",
                    "plain",
                    "--dns",
                    "10.197.3.53",
                    "--dns",
                    "10.197.3.54",
                    "--dns-search",
                    "a.test",
                ]
                .iter()
                .chain(&cat),
            )
            .ok();
        let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines[..3],
            [
                "nameserver 10.197.3.53",
                "nameserver 10.197.3.54",
                "search a.test"
            ],
            "{out:#?}"
        );
        assert!(
            !lines[3..].iter().any(|l| l.starts_with("nameserver")
                || l.starts_with("search")
                || l.starts_with("domain")),
            "{out:#?}"
        );

        // Over the results' DNS: --dns-search replaces the search, the servers stay.
        let out = host
            .run(
                ["--net", "withdns", "--dns-search", "b.test"]
                    .iter()
                    .chain(&cat),
            )
            .ok();
        let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            ["nameserver 10.197.1.53", "search b.test"],
            "{out:#?}"
        );
        assert_eq!(
            fs::read("/etc/resolv.conf").ok(),
            host_resolv,
            "host file changed"
        );

        let out = host
            .run(["--net", "plain", "-p", "8080:80", "--", "true"])
            .code_is(125);
        assert!(
            out.stderr.contains(
                "-p/--publish: no plugin of network \"plain\" declares the \"portMappings\" capability"
            ),
            "{out:#?}"
        );
        host.assert_clean();
    });
}

/// `--dns`, `--dns-search`, `--dns-option` and `--add-host` reach the command whether or not
/// a plugin of the network takes the `dns` capability (one that does gets them too, as its
/// capability argument). Before, a DNS-capable plugin swallowed them: the command saw the
/// host's file.
#[test]
fn dns_flags_reach_the_command_with_and_without_a_dns_plugin() {
    host_test(
        "dns_flags_reach_the_command_with_and_without_a_dns_plugin",
        |host| {
            install_hook(host);
            let log = host.path("calls");
            host.bridge_net("plain", "br-v", "10.197.3.0/24");
            let mut probe = hook(json!({ "log": log, "logArgs": true }));
            probe["capabilities"] = json!({ "dns": true });
            let bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
            host.netconf("dnsplugin", &list("dnsplugin", vec![bridge, probe]));
            for net in ["plain", "dnsplugin"] {
                let out = host
                    .run([
                        "--net",
                        net,
                        "--dns",
                        "10.197.5.53",
                        "--dns-search",
                        "c.test",
                        "--dns-option",
                        "ndots:3",
                        "--add-host",
                        "db:10.9.9.9",
                        "--",
                        "sh",
                        "-c",
                        "grep -v '^#' /etc/resolv.conf; getent hosts db",
                    ])
                    .ok();
                let text: String = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    text.starts_with("nameserver 10.197.5.53 search c.test options ndots:3 ")
                        && text.ends_with(" 10.9.9.9 db"),
                    "{net}: {out:#?}"
                );
            }
            let calls = fs::read_to_string(&log).unwrap();
            assert!(
            calls.contains(r#""dns":{"options":["ndots:3"],"searches":["c.test"],"servers":["10.197.5.53"]}"#),
            "{calls}"
        );
        },
    );
}

/// A host whose resolver is a loopback stub (systemd-resolved's 127.0.0.53, unreachable from
/// the run's namespace): the command gets the servers the stub forwards to, with the host's
/// search domains, and `run` says so; flags still apply on top.
#[test]
fn stub_resolver_replaced_by_its_upstream_servers() {
    host_test("stub_resolver_replaced_by_its_upstream_servers", |host| {
        host.bridge_net("plain", "br-v", "10.197.3.0/24");
        let stub = host.path("stub-resolv.conf");
        fs::write(&stub, "nameserver 127.0.0.53\nsearch lan.test\n").unwrap();
        // Mounts of the throwaway host only (its mount namespace is private).
        mount(
            Some(&stub),
            "/etc/resolv.conf",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        mount(
            Some("tmpfs"),
            "/run",
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        fs::create_dir_all("/run/systemd/resolve").unwrap();
        fs::write(
            "/run/systemd/resolve/resolv.conf",
            "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch lan.test\n",
        )
        .unwrap();
        let out = host
            .run([
                "--net",
                "plain",
                "--",
                "grep",
                "-v",
                "^#",
                "/etc/resolv.conf",
            ])
            .ok();
        assert_eq!(
            out.stdout, "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch lan.test\n",
            "{out:#?}"
        );
        assert!(
            out.stderr.contains(
                "cnitool: the host's resolver 127.0.0.53 (/etc/resolv.conf) is a local stub \
                 the run's namespace cannot reach: using the servers it forwards to, \
                 192.0.2.1, 2001:db8::1 (from /run/systemd/resolve/resolv.conf)"
            ),
            "{out:#?}"
        );
        let out = host
            .run([
                "--net",
                "plain",
                "--dns-search",
                "x.test",
                "--",
                "grep",
                "-v",
                "^#",
                "/etc/resolv.conf",
            ])
            .ok();
        assert_eq!(
            out.stdout, "nameserver 192.0.2.1\nnameserver 2001:db8::1\nsearch x.test\n",
            "{out:#?}"
        );
    });
}
