//! `--rootless-netns private` (`docs/ROOTLESS.md`, decision 10): a run in a generation of
//! its own, which no other run joins, ended with the run; pasta publishing its ports (-p).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::{alive, connect_py, gen_pids, pasta_or_skip, rl_test, Bg, Rl, Server};

/// Prints the run's user namespace and IPv4 address on eth0.
const WHO: &str =
    "readlink /proc/self/ns/user; ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1";

/// The generation's `info.json`.
fn info(gen: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(gen.join("info.json")).unwrap()).unwrap()
}

/// A run's command that prints [`WHO`], runs `then`, and stays until its stdin closes.
fn bg_until_stdin(rl: &Rl, args: &[&str], then: &str) -> Bg {
    let script = format!("{WHO}; {then}; read _ || true");
    let mut cmd = rl.cmd(
        ["run"]
            .iter()
            .chain(args)
            .chain(&["--", "sh", "-c", &script]),
    );
    cmd.stdin(Stdio::piped());
    Bg::spawn(cmd)
}

/// A private run gets an address and reaches a server on the throwaway host (its loopback,
/// through 10.0.2.2); its generation is private, never `current`, shown as such by `rootless
/// status`, and gone when the run ends.
#[test]
fn private_run_reaches_the_host() {
    rl_test("private_run_reaches_the_host", |rl| {
        let srv = Server::start();
        let py = connect_py("10.0.2.2", srv.port);
        let mut a = bg_until_stdin(
            rl,
            &["--rootless-netns", "private", "--allow-host-loopback"],
            &format!("python3 -c \"{py}\""),
        );
        let _userns = a.expect_line();
        let addr = a.expect_line();
        assert!(addr.starts_with("10.231."), "an address on eth0: {addr:?}");
        assert_eq!(a.expect_line(), "OK hello");
        assert_eq!(srv.peers().len(), 1);
        let gens = rl.generations();
        assert_eq!(gens.len(), 1, "{gens:?}");
        assert_eq!(info(&gens[0])["private"], true);
        assert!(
            !rl.state().join("current").exists(),
            "a private run is never current"
        );
        let status = rl.run(["rootless", "status"]).ok();
        assert!(status.stdout.contains("(private)"), "{status:#?}");
        let (holder, uplink) = gen_pids(rl);
        drop(a.child.stdin.take());
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
        assert!(rl.generations().is_empty(), "ended with the run");
        assert!(!alive(holder) && !alive(uplink));
    });
}

/// Two private runs at once: two generations (two holders, two user namespaces), each with
/// its own address plan (both get the first address of the built-in network), and neither
/// reaches the other: B's connection to A's address stays in B's namespace (refused there)
/// and A's server sees no peer.
#[test]
fn two_private_runs_are_apart() {
    rl_test("two_private_runs_are_apart", |rl| {
        // A listens on 8080; when its stdin closes it says whether a connection came.
        let serve = "import socket,sys\ns=socket.socket()\ns.bind(('0.0.0.0',8080))\ns.listen()\nprint('listening',flush=True)\nsys.stdin.read()\ns.setblocking(False)\ntry:\n c,p=s.accept()\n print('peer',p[0],flush=True)\nexcept BlockingIOError:\n print('no peer',flush=True)\n";
        let mut a = bg_until_stdin(
            rl,
            &["--rootless-netns", "private"],
            &format!("python3 -c \"{serve}\""),
        );
        let a_userns = a.expect_line();
        let a_ip = a.expect_line();
        assert_eq!(a.expect_line(), "listening");
        let mut b = bg_until_stdin(
            rl,
            &["--rootless-netns", "private"],
            &format!("python3 -c \"{}\"", connect_py(&a_ip, 8080)),
        );
        let b_userns = b.expect_line();
        let b_ip = b.expect_line();
        let seen = b.expect_line();
        assert_ne!(a_userns, b_userns, "two user namespaces");
        assert_eq!(a_ip, b_ip, "each generation has its own address plan");
        assert!(
            seen.starts_with("ERR 111 "),
            "refused in B's own namespace: {seen}"
        );
        let gens = rl.generations();
        assert_eq!(gens.len(), 2, "{gens:?}");
        let holders: Vec<_> = gens
            .iter()
            .map(|g| info(g)["holder"]["pid"].clone())
            .collect();
        assert_ne!(holders[0], holders[1]);
        assert!(!rl.state().join("current").exists());
        drop(b.child.stdin.take());
        let (st, err) = b.finish();
        assert!(st.success(), "{err}");
        assert_eq!(rl.generations().len(), 1, "B's generation ended with B");
        drop(a.child.stdin.take());
        assert_eq!(a.expect_line(), "no peer");
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
    });
}

/// A shared run started while a private one lives does not join it: it starts the shared
/// generation (made `current`), in another user namespace, which ends with it while the
/// private one stays.
#[test]
fn shared_run_does_not_join_a_private_one() {
    rl_test("shared_run_does_not_join_a_private_one", |rl| {
        let mut a = bg_until_stdin(rl, &["--rootless-netns", "private"], "true");
        let a_userns = a.expect_line();
        let _ = a.expect_line();
        let private = rl.generations();
        assert_eq!(private.len(), 1);
        let mut b = bg_until_stdin(rl, &[], "true");
        let b_userns = b.expect_line();
        let _ = b.expect_line();
        assert_ne!(
            a_userns, b_userns,
            "the shared run has a namespace of its own"
        );
        let current = std::fs::read_to_string(rl.state().join("current")).unwrap();
        assert_ne!(
            private[0].file_name().unwrap().to_str().unwrap(),
            current.trim(),
            "the private generation is not current"
        );
        assert_eq!(rl.generations().len(), 2);
        drop(b.child.stdin.take());
        let (st, err) = b.finish();
        assert!(st.success(), "{err}");
        assert_eq!(rl.generations(), private, "the private generation stays");
        assert!(!rl.state().join("current").exists());
        drop(a.child.stdin.take());
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
    });
}

/// SIGKILL of a private runner: the command dies, the holder ends the generation (no live
/// run) and the uplink goes with it. Then the runner and its holder SIGKILLed together: the
/// uplink follows the holder (exit FIFO), the directory is left, and `cnitool gc` removes it.
#[test]
fn sigkill_private_runner() {
    rl_test("sigkill_private_runner", |rl| {
        let private = ["run", "--rootless-netns", "private", "--"];
        let cmd = |rl: &Rl| {
            let mut args = private.to_vec();
            args.extend(["sh", "-c", "echo $$; exec sleep 60"]);
            Bg::spawn(rl.cmd(args))
        };
        let mut a = cmd(rl);
        let cmd_pid: i32 = a.expect_line().parse().unwrap();
        let (holder, uplink) = gen_pids(rl);
        kill(Pid::from_raw(a.pid()), Signal::SIGKILL).unwrap();
        a.finish_killed(Signal::SIGKILL);
        rl.wait_until(
            "the command, holder and uplink to go",
            Duration::from_secs(20),
            || !alive(cmd_pid) && !alive(holder) && !alive(uplink) && rl.generations().is_empty(),
        );

        let mut b = cmd(rl);
        let cmd_pid: i32 = b.expect_line().parse().unwrap();
        let (holder, uplink) = gen_pids(rl);
        kill(Pid::from_raw(b.pid()), Signal::SIGKILL).unwrap();
        kill(Pid::from_raw(holder), Signal::SIGKILL).unwrap();
        b.finish_killed(Signal::SIGKILL);
        rl.wait_until("the processes to go", Duration::from_secs(20), || {
            !alive(cmd_pid) && !alive(holder) && !alive(uplink)
        });
        assert_eq!(rl.generations().len(), 1, "left for gc");
        let out = rl.run(["gc"]).ok();
        assert!(rl.generations().is_empty(), "{out:#?}");
    });
}

/// pasta wants an external interface with a default route to copy: a veth end in the
/// throwaway host (nothing is sent through it). Removed on drop.
struct ExtLink;

fn ip(args: &str) {
    let st = std::process::Command::new("ip")
        .args(args.split(' '))
        .status()
        .unwrap();
    assert!(st.success(), "ip {args}");
}

impl ExtLink {
    fn add() -> ExtLink {
        ip("link add rlext0 type veth peer name rlext1");
        ip("link set rlext1 up");
        ip("addr add 10.250.0.100/24 dev rlext0");
        ip("link set rlext0 up");
        ip("route add default via 10.250.0.1");
        ExtLink
    }
}

impl Drop for ExtLink {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", "rlext0"])
            .status();
    }
}

/// Serves one connection on 8080: prints `listening`, then the peer's address, sends `hi`
/// and reads until the client closes.
const SERVE: &str = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',8080))\ns.listen()\nprint('listening',flush=True)\nc,a=s.accept()\nprint('peer',a[0],flush=True)\nc.sendall(b'hi')\nwhile c.recv(16): pass\nprint('closed',flush=True)\n";

/// pasta and -p: refused in shared mode with a message naming the private mode (exit 125,
/// nothing started); in a private run a client on the throwaway host's 127.0.0.1 reaches
/// the command's server (pasta's forward into the outer netns, portmap's DNAT there), which
/// sees the bridge's gateway address (portmap masquerades the outer netns's loopback
/// source); the port is closed after the run.
#[test]
fn pasta_publish_private() {
    if !pasta_or_skip("pasta_publish_private") {
        return;
    }
    rl_test("pasta_publish_private", |rl| {
        let ext = ExtLink::add();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let p = format!("{port}:8080");
        let out = rl.run(["run", "--uplink", "pasta", "-p", &p, "--", "true"]);
        assert_eq!(out.code(), 125, "{out:#?}");
        let out = out.fails_with(
            "-p with pasta needs --rootless-netns private: pasta takes its ports only at its \
             start",
        );
        assert!(rl.generations().is_empty(), "{out:#?}");
        assert!(rl.processes().is_empty());

        let mut a = Bg::spawn(rl.cmd([
            "run",
            "--uplink",
            "pasta",
            "--rootless-netns",
            "private",
            "-p",
            &p,
            "--",
            "sh",
            "-c",
            &format!("ip -4 -o addr show eth0; python3 -c \"{SERVE}\""),
        ]));
        let eth0 = a.expect_line();
        assert_eq!(a.expect_line(), "listening");
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"x").unwrap();
        let mut got = [0u8; 2];
        let read = c.read_exact(&mut got);
        let peer = a.expect_line();
        assert!(read.is_ok() && &got == b"hi", "{read:?} {got:?}, {peer}");
        drop(c);
        assert_eq!(a.expect_line(), "closed");
        // The run is 10.231.0.2 on the bridge whose gateway is 10.231.0.1.
        assert!(eth0.contains(" 10.231.0.2/"), "{eth0}");
        assert_eq!(peer, "peer 10.231.0.1", "the source the command sees");
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
        assert!(rl.generations().is_empty());
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port closed afterwards"
        );
        drop(ext);
    });
}
