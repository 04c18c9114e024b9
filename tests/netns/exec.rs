//! `netns exec`: the command replaces cnitool (pid, signals, stdin, exit status), /sys and
//! /etc/netns/NAME as `ip netns exec` sets them up, and the exit codes of failures.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::*;

#[test]
fn exit_status_and_signals_are_the_commands() {
    if !root_or_skip("exit_status_and_signals_are_the_commands") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "x"]);

        let out = env.run(&["netns", "exec", "x", "--", "sh", "-c", "exit 7"]);
        assert_eq!(out.status.code(), Some(7), "{}", show(&out));
        // Without `--`, options after the name still belong to the command.
        let out = env.run(&["netns", "exec", "x", "sh", "-c", "exit 0"]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));

        let out = env.run(&["netns", "exec", "x", "--", "sh", "-c", "kill -TERM $$"]);
        assert_eq!(
            out.status.signal(),
            Some(Signal::SIGTERM as i32),
            "{}",
            show(&out)
        );

        // No parent left behind: the command has the pid of the process we spawned.
        let child = env
            .cmd(&["netns", "exec", "x", "--", "sh", "-c", "echo $$"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pid.to_string());

        // A signal sent to that pid is handled by the command.
        let mut child = env
            .cmd(&[
                "netns",
                "exec",
                "x",
                "--",
                "sh",
                "-c",
                "trap 'exit 42' USR1; echo ready; while :; do sleep 0.05; done",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGUSR1).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(42));

        // stdin is the command's.
        let mut child = env
            .cmd(&["netns", "exec", "x", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.stdout, b"hello\n");

        // Rust ignores SIGPIPE in its own process; the command must not inherit that.
        let status = env.ok(&["netns", "exec", "x", "cat", "/proc/self/status"]);
        let ignored = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(
            ignored & (1 << (Signal::SIGPIPE as i32 - 1)),
            0,
            "SigIgn {ignored:#x}"
        );

        env.ok(&["netns", "delete", "x"]);
    });
}

#[test]
fn failures_exit_125_126_127() {
    if !root_or_skip("failures_exit_125_126_127") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        let err = env.fails(125, &["netns", "exec", "missing", "true"]);
        assert!(err.contains("missing: does not exist"), "{err}");

        env.ok(&["netns", "create", "x"]);
        let err = env.fails(127, &["netns", "exec", "x", "no-such-command-here"]);
        assert!(
            err.contains(
                r#"cannot run "no-such-command-here" in network namespace "x": command not found"#
            ),
            "{err}"
        );
        let script = env.base.join("not-executable");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
        let err = env.fails(126, &["netns", "exec", "x", script.to_str().unwrap()]);
        assert!(err.contains("permission denied"), "{err}");
        let err = env.fails(127, &["netns", "exec", "x", "/no/such/file"]);
        assert!(err.contains("no such file"), "{err}");

        // A stale file (its mount gone) is not entered.
        env.ok(&["netns", "delete", "x"]);
        fs::write(env.run_dir.join("stale"), "").unwrap();
        let err = env.fails(125, &["netns", "exec", "stale", "true"]);
        assert!(err.contains("not a namespace"), "{err}");
        fs::remove_file(env.run_dir.join("stale")).unwrap();
    });
}

#[test]
fn sys_shows_the_namespace_and_mounts_stay_private() {
    if !root_or_skip("sys_shows_the_namespace_and_mounts_stay_private") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        // A link in the (throwaway) host namespace that must not show inside. (This thread's
        // own /sys still describes the namespace that mounted it, the real host's.)
        ip(&["link", "add", "hostonly0", "type", "bridge"]);
        env.ok(&["netns", "create", "x"]);
        let before = mount_points();
        assert_eq!(
            env.ok(&["netns", "exec", "x", "ls", "/sys/class/net"]),
            "lo\n"
        );
        assert_eq!(mount_points(), before);
        env.ok(&["netns", "delete", "x"]);
    });
}

#[test]
fn etc_netns_files_cover_etc() {
    if !root_or_skip("etc_netns_files_cover_etc") {
        return;
    }
    let env = Env::new();
    let host_resolv = fs::read("/etc/resolv.conf").unwrap();
    in_throwaway_host(|| {
        private_etc_netns(&env);
        fs::create_dir("/etc/netns/dns").unwrap();
        fs::write("/etc/netns/dns/resolv.conf", "nameserver 192.0.2.53\n").unwrap();
        // No /etc/no-such-file to cover: reported and skipped, as iproute2 does.
        fs::write("/etc/netns/dns/no-such-file", "x\n").unwrap();
        env.ok(&["netns", "create", "dns"]);
        env.ok(&["netns", "create", "plain"]);

        let out = env.run(&["netns", "exec", "dns", "cat", "/etc/resolv.conf"]);
        assert!(out.status.success(), "{}", show(&out));
        assert_eq!(out.stdout, b"nameserver 192.0.2.53\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "warning: bind-mounting /etc/netns/dns/no-such-file over /etc/no-such-file"
            ),
            "{err}"
        );
        // -q silences that warning.
        let out = env.run(&["-q", "netns", "exec", "dns", "true"]);
        assert_eq!(out.stderr, b"");
        // Other namespaces and this mount namespace still see the real file.
        let out = env.run(&["netns", "exec", "plain", "cat", "/etc/resolv.conf"]);
        assert_eq!(out.stdout, host_resolv);
        assert_eq!(fs::read("/etc/resolv.conf").unwrap(), host_resolv);

        env.ok(&["netns", "delete", "dns", "plain"]);
    });
    assert_eq!(fs::read("/etc/resolv.conf").unwrap(), host_resolv);
}

/// `--dns`, `--dns-search`, `--dns-option` and `--add-host` reach the command, on top of the
/// host's files, in the command's mount namespace only; /tmp keeps its own content (the
/// files are written on a tmpfs that is detached again). Bad values are refused.
#[test]
fn dns_and_add_host_flags_reach_the_command() {
    if !root_or_skip("dns_and_add_host_flags_reach_the_command") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "x"]);
        let host_files = (
            fs::read("/etc/resolv.conf").ok(),
            fs::read("/etc/hosts").unwrap(),
        );
        let marker = tempfile::Builder::new()
            .prefix("cnitool-exec-test.")
            .tempfile_in("/tmp")
            .unwrap();
        let script = format!(
            "grep -v '^#' /etc/resolv.conf | grep -E '^(nameserver|search|options)'; \
             getent hosts db; test -e {} && echo tmp-ok",
            marker.path().display()
        );
        let out = env.run(&[
            "netns",
            "exec",
            "--dns",
            "10.1.2.3",
            "--dns-search",
            "d.test",
            "--dns-option",
            "ndots:4",
            "--add-host",
            "db:10.9.9.9",
            "x",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            lines,
            [
                "nameserver 10.1.2.3".to_owned(),
                "search d.test".into(),
                "options ndots:4".into(),
                "10.9.9.9 db".into(),
                "tmp-ok".into(),
            ],
            "{}",
            show(&out)
        );
        assert_eq!(
            (
                fs::read("/etc/resolv.conf").ok(),
                fs::read("/etc/hosts").unwrap()
            ),
            host_files
        );
        let out = env.run(&["netns", "exec", "--add-host", "db=1.2.3.4", "x", "true"]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            show(&out).contains("--add-host \"db=1.2.3.4\": no ':'"),
            "{}",
            show(&out)
        );
        env.ok(&["netns", "delete", "x"]);
    });
}

/// `add --name`: named namespaces on a network resolve each other by name through
/// /etc/netns/NAME/hosts (what `netns exec` and `ip netns exec` put over /etc/hosts),
/// updated in place as names come and go; runs on the network see them too; a name taken
/// is refused naming the holder; `del` takes the names (and the files `add` made) away, and
/// `gc` those of a namespace deleted without `del`.
#[test]
fn named_namespaces_resolve_each_other() {
    if !root_or_skip("named_namespaces_resolve_each_other") {
        return;
    }
    let env = Env::new();
    env.bridge_net("nn", "cnitest9", "10.99.9.0/24");
    in_throwaway_host(|| {
        private_etc_netns(&env);
        for ns in ["a", "b", "c"] {
            env.ok(&["netns", "create", ns]);
        }
        env.ok(&["add", "nn", "a", "--name", "alpha", "--alias", "al"]);
        env.ok(&["add", "nn", "b", "--name", "beta"]);
        let names = env.ok(&["-o", "json", "names", "nn"]);
        let addr = |name: &str| testsupport::image::name_address(names.as_bytes(), name);
        let (alpha, beta) = (addr("alpha"), addr("beta"));
        assert!(!alpha.is_empty() && !beta.is_empty(), "{names}");
        let getent = |ns: &str, names: &str| -> (Option<i32>, String) {
            let out = env.run(&[
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                &format!("getent hosts {names}"),
            ]);
            let text = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
                .collect();
            (out.status.code(), text)
        };
        assert_eq!(
            getent("b", "alpha al alpha.nn"),
            (Some(0), format!("{alpha} alpha.nn alpha al\n").repeat(3))
        );
        // a's file was written before b was added: updated in place.
        assert_eq!(
            getent("a", "beta"),
            (Some(0), format!("{beta} beta.nn beta\n"))
        );
        // A run on the network resolves them too.
        let out = env.run(&["run", "--net", "nn", "--", "getent", "hosts", "beta.nn"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next(),
            Some(beta.as_str()),
            "{}",
            show(&out)
        );
        // Taken: refused, naming the holder; nothing is added.
        let out = env.run(&["add", "nn", "c", "--name", "AL"]);
        assert_eq!(out.status.code(), Some(5), "{}", show(&out));
        assert!(
            show(&out).contains(
                "name \"AL\" is taken on network \"nn\" by namespace \"a\" (which holds alpha, al;"
            ),
            "{}",
            show(&out)
        );
        let table = env.ok(&["names"]);
        assert!(
            table.contains(" netns a\n") && table.contains(" netns b\n"),
            "{table}"
        );
        // del takes b's name away from a, and the file and directory add made for b.
        env.ok(&["del", "nn", "b"]);
        assert_eq!(getent("a", "beta").0, Some(2));
        assert!(!std::path::Path::new("/etc/netns/b").exists());
        // a deleted without del: gc removes its names and files.
        env.ok(&["netns", "delete", "--force", "a"]);
        env.ok(&["gc"]);
        assert!(!std::path::Path::new("/etc/netns/a").exists());
        assert_eq!(
            env.ok(&["names"]),
            "NETWORK  NAME  ALIASES  ADDRESSES  HOLDER\n"
        );
        let left: Vec<_> = fs::read_dir(env.cache_dir.join("cnitool-runs"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
        env.ok(&["netns", "delete", "b", "c"]);
    });
}
