//! Connectivity: host loopback, published ports, runs reaching each other, many at once.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::net::TcpStream;
use std::time::Duration;

use crate::util::{connect_py, pasta_or_skip, rl_test, wait_out, Bg, Server};

/// 2: without --allow-host-loopback 10.0.2.2 is unreachable at once; with it, the host's
/// 127.0.0.1 server answers and sees 127.0.0.1.
#[test]
fn host_loopback_slirp4netns() {
    host_loopback("host_loopback_slirp4netns", "slirp4netns");
}

/// 2, with pasta.
#[test]
fn host_loopback_pasta() {
    if !pasta_or_skip("host_loopback_pasta") {
        return;
    }
    host_loopback("host_loopback_pasta", "pasta");
}

fn host_loopback(test: &str, uplink: &str) {
    rl_test(test, |rl| {
        // pasta wants an external interface with a default route to copy: a dummy one in
        // the throwaway host (nothing is sent through it).
        let ip = |args: &str| {
            let st = std::process::Command::new("ip")
                .args(args.split(' '))
                .status()
                .unwrap();
            assert!(st.success(), "ip {args}");
        };
        if uplink == "pasta" {
            ip("link add rlext0 type veth peer name rlext1");
            ip("link set rlext1 up");
            ip("addr add 10.250.0.100/24 dev rlext0");
            ip("link set rlext0 up");
            ip("route add default via 10.250.0.1");
        }
        let srv = Server::start();
        let py = connect_py("10.0.2.2", srv.port);
        let out = rl
            .run(["run", "--uplink", uplink, "--", "python3", "-c", &py])
            .ok();
        let f: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(f[0], "ERR", "{out:#?}");
        if uplink == "slirp4netns" {
            assert_eq!(f[1], "101", "ENETUNREACH: {out:#?}");
            assert!(
                f[2].parse::<u64>().unwrap() < 100,
                "fails quickly: {out:#?}"
            );
        }
        assert!(srv.peers().is_empty());
        let out = rl
            .run([
                "run",
                "--uplink",
                uplink,
                "--allow-host-loopback",
                "--",
                "python3",
                "-c",
                &py,
            ])
            .ok();
        assert_eq!(out.stdout.trim(), "OK hello", "{out:#?}");
        assert_eq!(srv.peers().len(), 1);
        assert!(srv.peers()[0].ip().is_loopback());
        drop(srv);
        if uplink == "pasta" {
            rl.wait_until("the generation to end", Duration::from_secs(20), || {
                rl.generations().is_empty()
            });
            ip("link del rlext0");
        }
    });
}

const SERVE: &str = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',8080))\ns.listen()\nprint('listening',flush=True)\nc,a=s.accept()\nprint('peer',a[0],flush=True)\nc.sendall(b'hi')\nc.close()\n";

/// 3: -p reaches the command, which sees 10.0.2.2 and never 127.0.0.1 (CVE-2021-20199); the
/// port is closed afterwards; a second publisher and a privileged port are refused with
/// messages naming the port.
#[test]
fn publish() {
    rl_test("publish", |rl| {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let p = format!("{port}:8080");
        let a = Bg::spawn(rl.cmd(["run", "-p", &p, "--", "python3", "-c", SERVE]));
        assert_eq!(a.line(), "listening");
        let second = rl.run(["run", "-p", &p, "--", "true"]);
        let second = second.fails_with(&format!("127.0.0.1:{port}/tcp"));
        assert!(second.stderr.contains("in use"), "{second:#?}");
        let privileged = rl.run(["run", "-p", "80:8080", "--", "true"]);
        privileged.fails_with("privileged");
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        let peer = a.line();
        assert_eq!(
            peer, "peer 10.0.2.2",
            "the command sees the uplink, not 127.0.0.1"
        );
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port closed afterwards"
        );
    });
}

/// 4: two concurrent runs reach each other over the shared bridge, by IP, with no NAT;
/// status lists both; everything goes after both end.
#[test]
fn two_runs_reach_each_other() {
    rl_test("two_runs_reach_each_other", |rl| {
        let serve = format!(
            "import socket,subprocess\nip=subprocess.check_output(['ip','-4','-o','addr','show','eth0']).split()[3].decode().split('/')[0]\n{}",
            SERVE.replace("print('listening',flush=True)", "print(ip,flush=True)")
        );
        let a = Bg::spawn(rl.cmd(["run", "--", "python3", "-c", &serve]));
        let a_ip = a.line();
        let client = format!(
            "import subprocess\nprint(subprocess.check_output(['ip','-4','-o','addr','show','eth0']).split()[3].decode().split('/')[0],flush=True)\n{}",
            connect_py(&a_ip, 8080)
        );
        // B stays until its stdin closes, so both runs are live at the status below.
        let mut cmd = rl.cmd([
            "run",
            "--",
            "sh",
            "-c",
            "python3 -c \"$0\"; read _ || true",
            &client,
        ]);
        cmd.stdin(std::process::Stdio::piped());
        let mut b = Bg::spawn(cmd);
        let b_ip = b.line();
        let seen = b.line();
        assert_eq!(seen, "OK hi", "B reaches A");
        assert_eq!(a.line(), format!("peer {b_ip}"), "A sees B's own address");
        let status = rl.run(["rootless", "status"]).ok();
        assert!(status.stdout.contains("runs: 2 live"), "{status:#?}");
        drop(b.child.stdin.take());
        let (holder, uplink) = crate::util::gen_pids(rl);
        let (sa, ea) = a.finish();
        let (sb, eb) = b.finish();
        assert!(sa.success() && sb.success(), "{ea}\n{eb}");
        assert!(!crate::util::alive(holder) && !crate::util::alive(uplink));
    });
}

/// 5: ten runs at once get ten addresses in one shared namespace (one user namespace), no
/// locking failure, and the namespace is gone after them.
#[test]
fn ten_parallel_runs() {
    rl_test("ten_parallel_runs", |rl| {
        let script =
            "readlink /proc/self/ns/user; ip -4 -o addr show eth0 | awk '{print $4}'; sleep 3";
        let children: Vec<_> = (0..10)
            .map(|_| rl.cmd(["run", "--", "sh", "-c", script]).spawn().unwrap())
            .collect();
        let outs: Vec<_> = children.into_iter().map(wait_out).collect();
        let mut ips = BTreeSet::new();
        let mut userns = BTreeSet::new();
        for o in outs {
            let o = o.ok();
            let l: Vec<&str> = o.stdout.lines().collect();
            userns.insert(l[0].to_owned());
            ips.insert(l[1].to_owned());
        }
        assert_eq!(ips.len(), 10, "{ips:?}");
        // All ran in the user namespace of one holder: one generation. (A run that started
        // after the others ended could see a second one; the sleep makes them overlap.)
        assert_eq!(userns.len(), 1, "{userns:?}");
    });
}

/// A fake DNS server for the throwaway host's 127.0.0.1:53: answers A queries for
/// `rlproto.test` with 10.1.2.3, NXDOMAIN for anything else, and prints each query it sees.
const FAKE_DNS: &str = r#"import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 53))
print('ready', flush=True)
while True:
    q, peer = s.recvfrom(512)
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode('ascii', 'replace'))
        i += 1 + q[i]
    qtype = int.from_bytes(q[i + 1:i + 3], 'big')
    name = '.'.join(labels).lower()
    print('query', peer[0], name, qtype, flush=True)
    known = name == 'rlproto.test'
    answer = known and qtype == 1
    flags = 0x8180 if known else 0x8183
    head = q[:2] + flags.to_bytes(2, 'big') + b'\x00\x01' + (b'\x00\x01' if answer else b'\x00\x00') + b'\x00\x00\x00\x00'
    body = q[12:i + 5]
    if answer:
        body += b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04' + bytes([10, 1, 2, 3])
    s.sendto(head + body, peer)
"#;

/// DNS end to end: the throwaway host resolves through a fake server on its own
/// 127.0.0.1:53 (its /etc/resolv.conf, in the throwaway mount namespace only, says
/// `nameserver 127.0.0.1`); the command's resolver is slirp4netns's forwarder 10.0.2.3, which
/// relays to the host's resolver even though host loopback is disabled. No real name is
/// queried and nothing leaves the throwaway namespaces.
#[test]
fn dns_through_the_uplink() {
    rl_test("dns_through_the_uplink", |rl| {
        let script = rl.tmp.path().join("fake-dns.py");
        std::fs::write(&script, FAKE_DNS).unwrap();
        let resolv = rl.tmp.path().join("host-resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").unwrap();
        // The throwaway mount namespace only (rl_test made its mounts private).
        nix::mount::mount(
            Some(&resolv),
            "/etc/resolv.conf",
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .expect("binding a fake resolv.conf in the throwaway mount namespace");
        let mut dns = std::process::Command::new("python3")
            .arg(&script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let mut dns_out = std::io::BufReader::new(dns.stdout.take().unwrap());
        let mut ready = String::new();
        std::io::BufRead::read_line(&mut dns_out, &mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the fake DNS server started");
        let out = rl.run([
            "run",
            "--",
            "sh",
            "-c",
            "cat /etc/resolv.conf; getent ahostsv4 rlproto.test",
        ]);
        let _ = dns.kill();
        let _ = dns.wait();
        let mut queries = String::new();
        let _ = dns_out.read_to_string(&mut queries);
        nix::mount::umount("/etc/resolv.conf").unwrap();
        let out = out.ok();
        assert!(
            out.stdout.contains("nameserver 10.0.2.3"),
            "the command's resolver is the forwarder: {out:#?}"
        );
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("10.1.2.3 ") && l.contains("rlproto.test")),
            "getent resolved through the fake host's server: {out:#?}\nqueries: {queries}"
        );
        assert!(
            queries.contains("query 127.0.0.1 rlproto.test 1"),
            "the fake server saw slirp4netns's query from the host's loopback: {queries}"
        );
    });
}

/// Names between rootless runs: a named run is found by its name, alias and NAME.NETWORK
/// from another rootless run of the user (through the hosts file each gets), `names` lists
/// it, the name cannot be taken twice, and it goes when the run ends.
#[test]
fn names_between_rootless_runs() {
    rl_test("names_between_rootless_runs", |rl| {
        let stop = rl.home.join("stop-web");
        let web = Bg::spawn(rl.cmd([
            "run",
            "--name",
            "web",
            "--alias",
            "www",
            "--",
            "sh",
            "-c",
            &format!(
                "ip -4 -o addr show eth0; echo up; while [ ! -e {} ]; do sleep 0.05; done",
                stop.display()
            ),
        ]));
        let line = web.line();
        let addr = line
            .split_whitespace()
            .nth(3)
            .and_then(|a| a.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        assert_eq!(web.line(), "up");
        let out = rl
            .run(["run", "--", "sh", "-c", "getent hosts web www web.cnitool"])
            .ok();
        let words: String = out
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
            .collect();
        assert_eq!(words, format!("{addr} web.cnitool web www\n").repeat(3));
        let listed = rl.run(["-o", "json", "names"]).ok();
        assert!(
            listed.stdout.contains("\"name\": \"web\"") && listed.stdout.contains(&addr),
            "{listed:#?}"
        );
        let clash = rl.run(["run", "--name", "WWW", "--", "true"]);
        assert_eq!(clash.status.code(), Some(125), "{clash:#?}");
        assert!(
            clash
                .stderr
                .contains("name \"WWW\" is taken on network \"cnitool\" by the run of pid"),
            "{clash:#?}"
        );
        std::fs::write(&stop, "").unwrap();
        let (st, err) = web.finish();
        assert!(st.success(), "{st}: {err}");
        let out = rl.run(["run", "--", "getent", "hosts", "web"]);
        assert_eq!(out.status.code(), Some(2), "{out:#?}");
    });
}
