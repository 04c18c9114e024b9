//! Failures: a missing helper, an inaccessible /dev/net/tun, and SIGKILL of the runner, the
//! holder and the uplink.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::{alive, gen_pids, rl_test, wait_out, Bg, PATH};

fn sigkill(pid: i32) {
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
}

/// 9: PATH without the helper: a clear error, exit 125, no holder, no generation.
#[test]
fn missing_helper() {
    rl_test("missing_helper", |rl| {
        let bin = rl.tmp.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let path = bin.to_str().unwrap().to_owned();
        for (uplink, name, hint) in [
            (
                "slirp4netns",
                "slirp4netns not found in PATH",
                "--uplink pasta",
            ),
            ("pasta", "pasta not found in PATH", "apt-get install passt"),
            ("auto", "neither slirp4netns nor pasta", "install one"),
        ] {
            let out = wait_out(
                rl.cmd_env(
                    ["run", "--uplink", uplink, "--", "/bin/true"],
                    &[("PATH", &path)],
                )
                .spawn()
                .unwrap(),
            );
            let out = out.fails_with(name);
            assert!(out.stderr.contains(hint), "{out:#?}");
            assert_eq!(out.code(), 125);
            assert!(rl.generations().is_empty());
        }
    });
}

/// 10: the helper cannot open /dev/net/tun (a fake slirp4netns prints what the real one
/// prints): its message with the 0666 hint, and everything cleaned up. Then a 0600 node is
/// refused before anything starts.
#[test]
fn tun_not_accessible() {
    rl_test("tun_not_accessible", |rl| {
        let bin = rl.tmp.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let fake = bin.join("slirp4netns");
        fs::write(
            &fake,
            "#!/bin/sh\necho 'open(\"/dev/net/tun\"): Permission denied' >&2\necho 'child failed(1)' >&2\nexit 1\n",
        )
        .unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{PATH}", bin.display());
        let out = wait_out(
            rl.cmd_env(["run", "--", "true"], &[("PATH", &path)])
                .spawn()
                .unwrap(),
        );
        let out = out.fails_with("slirp4netns did not become ready");
        assert!(out.stderr.contains("Permission denied"), "{out:#?}");
        assert!(out.stderr.contains("0666"), "{out:#?}");
        assert!(rl.generations().is_empty());

        // A node the user cannot open (0600, as this machine ships it; whatever the machine's
        // own node is, a private one is bound over it in the throwaway mount namespace).
        rl.bind_tun(0o600);
        let out = rl.run(["run", "--", "true"]);
        let out = out.fails_with("/dev/net/tun");
        assert!(out.stderr.contains("0666"), "{out:#?}");
        assert!(rl.generations().is_empty());
    });
}

/// 6 (one run): SIGKILL of the runner kills the command (parent-death signal); the holder
/// then ends the generation (no live run), and slirp4netns follows (exit-fd).
#[test]
fn sigkill_runner_alone() {
    rl_test("sigkill_runner_alone", |rl| {
        let a = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", "echo $$; exec sleep 60"]));
        let cmd_pid: i32 = a.line().parse().unwrap();
        let (holder, uplink) = gen_pids(rl);
        sigkill(a.pid());
        a.finish_killed(Signal::SIGKILL);
        rl.wait_until("the command to die", Duration::from_secs(10), || {
            !alive(cmd_pid)
        });
        rl.wait_until(
            "the holder to end the generation",
            Duration::from_secs(20),
            || !alive(holder) && !alive(uplink) && rl.generations().is_empty(),
        );
    });
}

/// 6 (shared): SIGKILL of one runner while another run lives: the next run garbage-collects
/// the dead run (a gc line; its host-local reservation goes), the generation ends with the
/// last run.
#[test]
fn sigkill_runner_shared() {
    rl_test("sigkill_runner_shared", |rl| {
        let ip = "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1";
        let a = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", &format!("{ip}; exec sleep 60")]));
        let a_ip = a.line();
        let b = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", &format!("{ip}; sleep 60")]));
        let _b_ip = b.line();
        let gen = rl.generations()[0].clone();
        let reservation = gen.join("cni/networks/cnitool").join(&a_ip);
        assert!(reservation.exists());
        sigkill(a.pid());
        a.finish_killed(Signal::SIGKILL);
        let out = rl.run(["run", "--", "true"]).ok();
        assert!(out.stderr.contains("gc: runner of"), "{out:#?}");
        assert!(!reservation.exists(), "the dead run's address is released");
        // SIGTERM is forwarded to the command (sh), which dies of it: 128 + 15.
        kill(Pid::from_raw(b.pid()), Signal::SIGTERM).unwrap();
        b.finish_code(143);
    });
}

/// 7: SIGKILL of the holder: the running command loses its uplink, the next run starts a new
/// generation, the old run still ends cleanly (DEL through its held descriptors) with a
/// warning, and the old generation's directory goes with its last run.
#[test]
fn sigkill_holder() {
    rl_test("sigkill_holder", |rl| {
        let mut cmd = rl.cmd(["run", "--", "sh", "-c", "echo up; read x; echo done"]);
        cmd.stdin(std::process::Stdio::piped());
        let a = Bg::spawn(cmd);
        assert_eq!(a.line(), "up");
        let (holder, uplink) = gen_pids(rl);
        let old = rl.generations()[0].clone();
        sigkill(holder);
        rl.wait_until(
            "slirp4netns to follow the holder",
            Duration::from_secs(10),
            || !alive(uplink),
        );
        let out = rl.run(["run", "--", "true"]).ok();
        assert!(out.stderr.contains("starting a new generation"), "{out:#?}");
        assert!(old.exists(), "the old generation stays while its run lives");
        let mut a = a;
        drop(a.child.stdin.take());
        assert_eq!(a.line(), "done");
        let (st, err) = a.finish();
        assert!(st.success(), "{err}");
        assert!(err.contains("uplink or holder died"), "{err}");
        assert!(!old.exists());
    });
}

/// 8: SIGKILL of the uplink: the next run restarts it; the running command gets its
/// connectivity back and its published port works again.
#[test]
fn sigkill_uplink() {
    rl_test("sigkill_uplink", |rl| {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let serve = "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',8080))\ns.listen()\nprint('listening',flush=True)\nwhile True:\n c,a=s.accept()\n c.sendall(b'hi')\n c.close()\n";
        let p = format!("{port}:8080");
        let a = Bg::spawn(rl.cmd(["run", "-p", &p, "--", "python3", "-c", serve]));
        assert_eq!(a.line(), "listening");
        let get = || {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            let mut s = String::new();
            std::io::Read::read_to_string(&mut c, &mut s).ok()?;
            Some(s)
        };
        assert_eq!(get().as_deref(), Some("hi"));
        let (holder, uplink) = gen_pids(rl);
        sigkill(uplink);
        rl.wait_until("the uplink to die", Duration::from_secs(10), || {
            !alive(uplink)
        });
        assert_eq!(get(), None, "no forward while the uplink is dead");
        let out = rl.run(["run", "--", "true"]).ok();
        assert!(out.stderr.contains("restarting it"), "{out:#?}");
        let (holder2, uplink2) = gen_pids(rl);
        assert_eq!(holder, holder2);
        assert_ne!(uplink, uplink2);
        assert_eq!(
            get().as_deref(),
            Some("hi"),
            "the published port works again"
        );
        kill(Pid::from_raw(a.pid()), Signal::SIGTERM).unwrap();
        a.finish_code(143);
    });
}

/// `--require-uplink`: SIGKILL of the uplink while the command runs ends the command at once
/// (SIGTERM), the run exits 124 with a message naming the flag, and nothing is left: the
/// holder ends the generation after the run, slirp4netns is gone. A command that ignores
/// SIGTERM gets SIGKILL 10 s later, and what it left running is killed too.
#[test]
fn require_uplink_ends_the_command() {
    rl_test("require_uplink_ends_the_command", |rl| {
        // Runs `script` (which prints a PID) with --require-uplink, SIGKILLs the uplink once
        // the PID is printed, waits for the run to exit 124; returns the PID, how long the
        // run took after the kill, and its stderr.
        let kill_uplink_under = |script: &str| {
            let a = Bg::spawn(rl.cmd(["run", "--require-uplink", "--", "sh", "-c", script]));
            let pid: i32 = a.line().parse().unwrap();
            let (_, uplink) = gen_pids(rl);
            let t = Instant::now();
            sigkill(uplink);
            let (st, err) = a.finish();
            assert_eq!(st.code(), Some(124), "{err}");
            (pid, t.elapsed(), err)
        };

        let (cmd_pid, took, err) = kill_uplink_under("echo $$; exec sleep 60");
        assert!(err.contains("uplink or holder died"), "{err}");
        assert!(err.contains("--require-uplink"), "{err}");
        // At once: well before the 10 s grace after which SIGKILL would have ended it.
        assert!(took < Duration::from_secs(8), "ended at once: {took:?}");
        assert!(!alive(cmd_pid));

        // A command that ignores SIGTERM (and leaves a child behind).
        let (child, took, _) = kill_uplink_under("trap '' TERM; sleep 60 & echo $!; wait");
        assert!(
            took >= Duration::from_secs(9) && took < Duration::from_secs(60),
            "SIGKILL after the grace period: {took:?}"
        );
        assert!(!alive(child), "the command's child is killed too");
    });
}

/// Without `--require-uplink`, the uplink's death is reported while the command still runs
/// (watched through pidfds), and the run keeps the command's own exit status.
#[test]
fn uplink_death_is_reported_at_once() {
    rl_test("uplink_death_is_reported_at_once", |rl| {
        use std::io::{BufRead as _, Read as _};
        let mut cmd = rl.cmd(["run", "--", "sh", "-c", "echo up; read x; exit 3"]);
        cmd.stdin(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "up");
        let (_, uplink) = gen_pids(rl);
        sigkill(uplink);
        // The warning must come while the command still waits for its input.
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let mut byte = [0u8; 1];
            let mut sent = false;
            while let Ok(1) = stderr.read(&mut byte) {
                text.push(byte[0]);
                if !sent && String::from_utf8_lossy(&text).contains("outbound connectivity") {
                    let _ = tx.send(String::from_utf8_lossy(&text).into_owned());
                    sent = true;
                }
            }
            String::from_utf8_lossy(&text).into_owned()
        });
        let warning = rx.recv_timeout(Duration::from_secs(10));
        drop(child.stdin.take());
        let st = wait_out_status(child);
        let rest = reader.join().unwrap();
        let warning = warning.unwrap_or_else(|_| panic!("no warning during the command: {rest}"));
        assert!(warning.contains("uplink or holder died"), "{warning}");
        assert!(warning.contains("slirp4netns"), "{warning}");
        assert_eq!(st.code(), Some(3), "{rest}");
    });
}

/// Waits (bounded) for a child whose output is read elsewhere.
fn wait_out_status(mut child: std::process::Child) -> std::process::ExitStatus {
    let end = Instant::now() + crate::util::LIMIT;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
