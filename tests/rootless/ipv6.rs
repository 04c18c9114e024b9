//! IPv6 (scenario 16 of `docs/ROOTLESS.md`): a dual-stack run reaches an IPv6 server outside
//! the rootless namespace, through slirp4netns and through pasta, and `-p` with an IPv6 host
//! address is refused. The server lives in a peer namespace the test makes, behind a veth
//! pair from the throwaway host: no traffic leaves the namespaces the test made.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::util::{pasta_or_skip, rl_test, Rl, Server};

/// The throwaway host's end of the veth pair, and its addresses.
const HOST_LINK: &str = "rl6h0";
pub(crate) const HOST_V6: &str = "fd99::1";
pub(crate) const PEER_V6: &str = "fd99::2";
/// The peer's port.
pub(crate) const PORT: u16 = 9000;

/// A dual-stack network of the user (bridge with masquerade, both families).
const DUAL: &str = r#"{
  "cniVersion": "1.0.0",
  "name": "dual",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "dual0",
      "isGateway": true,
      "ipMasq": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "10.232.0.0/24" }], [{ "subnet": "fd42:cafe::/64" }]],
        "routes": [{ "dst": "0.0.0.0/0" }, { "dst": "::/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
"#;

/// Writes the dual-stack network into the user's netconf directory.
pub(crate) fn dual_network(rl: &Rl) {
    let dir = rl.home.join(".config/cni/net.d");
    for d in [
        rl.home.join(".config"),
        rl.home.join(".config/cni"),
        dir.clone(),
    ] {
        rl.user_dir(&d, 0o755);
    }
    std::fs::write(dir.join("dual.conflist"), DUAL).unwrap();
}

#[track_caller]
fn ip(args: &str) {
    let st = Command::new("ip").args(args.split(' ')).status().unwrap();
    assert!(st.success(), "ip {args}");
}

/// The IPv6 server: a python3 process in a network namespace of its own (unshared by it),
/// reached from the throwaway host over a veth pair; it prints each client's address.
/// With `routes`, the throwaway host also routes both families' default through the peer
/// (pasta copies the host's addresses and default routes, and wants an IPv4 one).
pub(crate) struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

const PEER_SERVER: &str = "import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('::',9000))\ns.listen()\nprint('ready',flush=True)\nwhile True:\n c,a=s.accept()\n print('peer',a[0],flush=True)\n c.sendall(b'hello6\\n')\n c.close()\n";

impl Peer {
    pub(crate) fn start(routes: bool) -> Peer {
        let mut child = Command::new("unshare")
            .args(["--net", "--", "python3", "-c", PEER_SERVER])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        out.read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the peer server started");
        let pid = child.id().to_string();
        ip(&format!("link add {HOST_LINK} type veth peer name rl6p0"));
        ip(&format!("link set rl6p0 netns {pid}"));
        ip(&format!("addr add {HOST_V6}/64 dev {HOST_LINK} nodad"));
        ip(&format!("addr add 10.251.0.1/24 dev {HOST_LINK}"));
        ip(&format!("link set {HOST_LINK} up"));
        let peer_ip = |args: &str| {
            let st = Command::new("nsenter")
                .args(["-t", &pid, "-n", "ip"])
                .args(args.split(' '))
                .status()
                .unwrap();
            assert!(st.success(), "ip {args} in the peer");
        };
        peer_ip("link set lo up");
        peer_ip(&format!("addr add {PEER_V6}/64 dev rl6p0 nodad"));
        peer_ip("addr add 10.251.0.2/24 dev rl6p0");
        peer_ip("link set rl6p0 up");
        if routes {
            ip("route add default via 10.251.0.2");
            ip(&format!("-6 route add default via {PEER_V6}"));
        }
        Peer { child, out }
    }

    /// Stops the server and returns the clients it saw; the veth pair goes.
    pub(crate) fn stop(mut self) -> Vec<String> {
        self.end();
        let mut seen = Vec::new();
        let mut line = String::new();
        while self.out.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(a) = line.trim().strip_prefix("peer ") {
                seen.push(a.to_owned());
            }
            line.clear();
        }
        ip(&format!("link del {HOST_LINK}"));
        seen
    }

    fn end(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A failed test still ends the server (the veth pair goes with the throwaway host).
impl Drop for Peer {
    fn drop(&mut self) {
        self.end();
    }
}

/// The command of a run: its own IPv6 address, then a connection to the peer, then one to
/// the throwaway host's ::1 through fd00::2 (slirp4netns's host address; 1 s timeout).
fn client(loopback_port: u16) -> String {
    format!(
        "import socket,subprocess\n\
         print(subprocess.check_output(['ip','-6','-o','addr','show','eth0','scope','global']).split()[3].decode(),flush=True)\n\
         def try_(h,p):\n try:\n  s=socket.create_connection((h,p),timeout=1)\n  print('OK',s.recv(10).decode().strip(),flush=True)\n except Exception as e:\n  print('ERR',type(e).__name__,flush=True)\n\
         try_('{PEER_V6}',{PORT})\ntry_('fd00::2',{loopback_port})\n"
    )
}

/// A TCP server on the throwaway host's ::1 (ephemeral port) that records its clients.
fn loopback6() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("[::1]:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// 16: a dual-stack run gets an address of its network's IPv6 range and reaches the IPv6
/// peer through slirp4netns, masqueraded twice (the bridge plugin's ip6tables MASQUERADE in
/// the outer netns, then slirp4netns's socket): the peer sees the throwaway host's address.
/// The throwaway host's ::1 stays out of reach through fd00::2 without
/// `--allow-host-loopback`, as 127.0.0.1 does through 10.0.2.2.
#[test]
fn ipv6_slirp4netns() {
    rl_test("ipv6_slirp4netns", |rl| {
        dual_network(rl);
        let peer = Peer::start(false);
        let (lo, lo_port) = loopback6();
        let out = rl
            .run([
                "run",
                "--net",
                "dual",
                "--",
                "python3",
                "-c",
                &client(lo_port),
            ])
            .ok();
        let seen = peer.stop();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines[0].starts_with("fd42:cafe::"), "{out:#?}");
        assert_eq!(lines[1], "OK hello6", "{out:#?}");
        assert_eq!(
            lines[2], "ERR TimeoutError",
            "host ::1 unreachable: {out:#?}"
        );
        assert_eq!(
            seen,
            [HOST_V6],
            "the peer sees the throwaway host's address"
        );
        assert!(lo.accept().is_err(), "nothing reached the host's ::1");
    });
}

/// 16, with pasta: the throwaway host has IPv6 (and IPv4) default routes through the peer,
/// which pasta copies into the outer netns with the host's address (its gateway is fe80::2,
/// see `uplink::start_pasta`); the run reaches the peer, which sees the throwaway host's
/// address. With `--allow-host-loopback` too: the peer, the host's IPv6 gateway, is still the
/// peer, not the host's `::1` on the same port (pasta maps its gateway address to the host).
#[test]
fn ipv6_pasta() {
    if !pasta_or_skip("ipv6_pasta") {
        return;
    }
    rl_test("ipv6_pasta", |rl| {
        dual_network(rl);
        let peer = Peer::start(true);
        // On the peer's port: a connection mapped to the host would land here, and time
        // out (nothing accepts it).
        let lo = std::net::TcpListener::bind(("::1", PORT)).unwrap();
        lo.set_nonblocking(true).unwrap();
        let mut outs = Vec::new();
        for flag in [None, Some("--allow-host-loopback")] {
            let mut args = vec!["run", "--uplink", "pasta", "--net", "dual"];
            args.extend(flag);
            let script = client(PORT);
            args.extend(["--", "python3", "-c", &script]);
            outs.push(rl.run(args));
            // pasta leaves with its generation (runs of the two flags cannot share one);
            // the link goes after it.
            rl.wait_until("the generation to end", Duration::from_secs(20), || {
                rl.generations().is_empty()
            });
        }
        let seen = peer.stop();
        for out in outs {
            let out = out.ok();
            let lines: Vec<&str> = out.stdout.lines().collect();
            assert!(lines[0].starts_with("fd42:cafe::"), "{out:#?}");
            assert_eq!(lines[1], "OK hello6", "{out:#?}");
            assert!(
                lines[2].starts_with("ERR "),
                "fd00::2 is nothing with pasta: {out:#?}"
            );
        }
        assert_eq!(
            seen,
            [HOST_V6, HOST_V6],
            "the peer sees the throwaway host's address"
        );
        assert!(lo.accept().is_err(), "nothing reached the host's ::1");
    });
}

const SERVE: &str = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',8080))\ns.listen()\nprint('listening',flush=True)\nc,a=s.accept()\nprint('peer',a[0],flush=True)\nc.sendall(b'hi')\nc.close()\n";

/// 16, ports: `-p [::1]:PORT:8080` is refused before anything starts (slirp4netns 1.2 takes
/// IPv4 host addresses only), with the way out in the message; a plain `-p PORT:8080` of a
/// dual-stack run publishes on 127.0.0.1 only: [::1]:PORT is refused, 127.0.0.1:PORT
/// reaches the command.
#[test]
fn ipv6_publish() {
    rl_test("ipv6_publish", |rl| {
        dual_network(rl);
        let srv = Server::start();
        let port = srv.port;
        drop(srv);
        let refused = rl.run([
            "run",
            "--net",
            "dual",
            "-p",
            &format!("[::1]:{port}:8080"),
            "--",
            "true",
        ]);
        assert_eq!(refused.code(), 125, "{refused:#?}");
        assert_eq!(
            refused.stderr.trim(),
            format!(
                "error: cannot publish host port [::1]:{port}/tcp: slirp4netns publishes ports \
                 on IPv4 host addresses only; publish on an IPv4 one (e.g. -p \
                 127.0.0.1:{port}:PORT) and connect to it over IPv4 (the command sees every \
                 client as 10.0.2.2 either way)"
            )
        );
        assert!(rl.generations().is_empty(), "nothing started");
        let a = crate::util::Bg::spawn(rl.cmd([
            "run",
            "--net",
            "dual",
            "-p",
            &format!("{port}:8080"),
            "--",
            "python3",
            "-c",
            SERVE,
        ]));
        assert_eq!(a.line(), "listening");
        let v6 = std::net::TcpStream::connect(("::1", port));
        assert_eq!(
            v6.map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "[::1]:{port} is not published"
        );
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = String::new();
        std::io::Read::read_to_string(&mut c, &mut got).unwrap();
        assert_eq!(got, "hi");
        assert_eq!(a.line(), "peer 10.0.2.2");
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
    });
}
