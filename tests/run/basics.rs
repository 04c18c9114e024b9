//! The command's view and its exit status: address and default route, hostname, exit codes
//! passed through, 126/127, standard input and a terminal.

use std::fs;
use std::process::Command;

use crate::util::{finish, host_test, ipv4_of, write_exec};

#[test]
fn address_and_default_route_inside() {
    host_test("address_and_default_route_inside", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let out = host
            .run([
                "--net",
                "t",
                "--hostname",
                "box1",
                "--",
                "sh",
                "-c",
                "ip -o -4 addr show; ip route show default; hostname; ip link show eth0 >/dev/null",
            ])
            .ok();
        let addrs = ipv4_of(&out.stdout, "eth0");
        assert_eq!(addrs.len(), 1, "{out:#?}");
        assert!(addrs[0].starts_with("10.197.1."), "{out:#?}");
        assert!(
            out.stdout.contains("default via 10.197.1.1 dev eth0"),
            "{out:#?}"
        );
        // lo is up inside: `ip -o -4 addr` only lists 127.0.0.1 on an up lo.
        assert_eq!(ipv4_of(&out.stdout, "lo"), ["127.0.0.1"], "{out:#?}");
        assert!(out.stdout.lines().any(|l| l == "box1"), "{out:#?}");
        assert_ne!(nix::unistd::gethostname().unwrap(), "box1");
    });
}

#[test]
fn exit_status_passes_through() {
    host_test("exit_status_passes_through", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        for (script, code) in [
            ("exit 0", 0),
            ("exit 3", 3),
            ("exit 125", 125),
            ("kill -TERM $$", 128 + 15),
            ("kill -KILL $$", 128 + 9),
        ] {
            let out = host.run(["--net", "t", "--", "sh", "-c", script]);
            assert_eq!(out.code(), code, "{script}: {out:#?}");
            assert!(!out.stderr.contains("error:"), "{script}: {out:#?}");
            host.assert_clean();
        }
    });
}

#[test]
fn not_found_127_and_not_executable_126() {
    host_test("not_found_127_and_not_executable_126", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let out = host
            .run(["--net", "t", "--", "no-such-command-xyz"])
            .code_is(127);
        assert!(out.stderr.contains("no-such-command-xyz"), "{out:#?}");
        assert!(out.stderr.contains("not found"), "{out:#?}");
        host.assert_clean();

        let script = host.path("not-executable");
        fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
        let out = host
            .run(["--net", "t", "--", script.to_str().unwrap()])
            .code_is(126);
        assert!(out.stderr.contains("permission denied"), "{out:#?}");
        assert!(!out.stdout.contains("ran"), "{out:#?}");
        host.assert_clean();

        // A directory is not executable either.
        host.run(["--net", "t", "--", "/"]).code_is(126);
    });
}

#[test]
fn stdin_reaches_the_command() {
    host_test("stdin_reaches_the_command", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let input = b"first line\nsecond line\n";
        let out = finish(
            host.run_cmd(["--net", "t", "--", "sh", "-c", "cat; echo done"]),
            Some(input),
        )
        .ok();
        assert_eq!(out.stdout, "first line\nsecond line\ndone\n", "{out:#?}");
    });
}

#[test]
fn terminal_reaches_the_command() {
    host_test("terminal_reaches_the_command", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        // script(1) gives the runner a pseudo-terminal as stdin, stdout and stderr.
        let runner = host.path("runner.sh");
        let args: Vec<String> = host
            .run_cmd([
                "--net",
                "t",
                "--",
                "sh",
                "-c",
                "test -t 0 && test -t 1 && test -t 2 && echo TTY-OK",
            ])
            .get_args()
            .map(|a| format!("'{}'", a.to_str().unwrap()))
            .collect();
        write_exec(
            &runner,
            &format!(
                "#!/bin/sh\nexec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNITOOL_RUN_TEST={} {} {}\n",
                host.tmp.path().display(),
                env!("CARGO_BIN_EXE_cnitool"),
                args.join(" ")
            ),
        );
        let mut script = Command::new("script");
        script.args(["-qec", runner.to_str().unwrap(), "/dev/null"]);
        let out = finish(script, None);
        assert!(out.stdout.contains("TTY-OK"), "{out:#?}");
        assert_eq!(out.code(), 0, "{out:#?}");
    });
}

/// `--dry-run` prints each network's plugin calls and creates nothing: no namespace, no
/// record, no cache entry, and the command does not run.
#[test]
fn dry_run_creates_nothing() {
    host_test("dry_run_creates_nothing", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let marker = host.tmp.path().join("ran");
        let cmd = format!("touch {}", marker.display());
        let out = host
            .run(["--net", "t", "--dry-run", "--", "sh", "-c", &cmd])
            .ok();
        assert!(out.stdout.contains("# network \"t\" as eth0"), "{out:#?}");
        assert!(out.stdout.contains("CNI_COMMAND=ADD"), "{out:#?}");
        assert!(out.stdout.contains("\"type\":\"bridge\""), "{out:#?}");
        assert!(!marker.exists(), "the command ran");
        assert!(host.records().is_empty());
        assert!(
            fs::read_dir(&host.netns_dir).map_or(true, |mut d| d.next().is_none()),
            "a namespace was created"
        );
    });
}
