//! Signals to the runner: forwarded to the command while it runs, rolling back during setup,
//! held off during teardown; SIGKILL of the runner kills the command and `gc` cleans up.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

use crate::plugins::{hook, install_hook};
use crate::util::{
    files_in, host_test, is_running, list, wait_for_file, wait_limit, wait_output, Host,
};

/// How long a signalled runner may take to clean up and exit.
const SIGNAL_LIMIT: Duration = Duration::from_secs(10);

/// Starts `cnitool run ARGS` with piped output.
fn spawn_run(host: &Host, args: &[&str]) -> Child {
    host.run_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cnitool run")
}

/// A command that writes its PID to `mark` (atomically), leaves `sleep 100` running in the
/// background, and becomes `sleep 30`.
fn sleeper(mark: &Path) -> String {
    let m = mark.display();
    format!("sleep 100 & echo $$ > {m}.tmp && mv {m}.tmp {m}; exec sleep 30")
}

fn read_pid(mark: &Path) -> i32 {
    fs::read_to_string(mark).unwrap().trim().parse().unwrap()
}

/// SIGTERM, SIGINT or SIGHUP while the command sleeps: forwarded to it, so it dies of it;
/// the runner exits 128+N after cleaning everything (the background sleep too).
fn signal_while_command_runs(test: &str, sig: Signal) {
    host_test(test, |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let mark = host.path("started");
        let child = spawn_run(host, &["--net", "t", "--", "sh", "-c", &sleeper(&mark)]);
        wait_for_file(&mark, SIGNAL_LIMIT);
        let cmd_pid = read_pid(&mark);
        let start = Instant::now();
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let out = wait_output(child, None);
        assert!(start.elapsed() < SIGNAL_LIMIT, "took {:?}", start.elapsed());
        assert_eq!(out.code(), 128 + sig as i32, "{out:#?}");
        assert!(!is_running(cmd_pid), "the command survived {sig}");
    });
}

#[test]
fn sigterm_while_command_runs() {
    signal_while_command_runs("sigterm_while_command_runs", Signal::SIGTERM);
}

#[test]
fn sigint_while_command_runs() {
    signal_while_command_runs("sigint_while_command_runs", Signal::SIGINT);
}

#[test]
fn sighup_while_command_runs() {
    signal_while_command_runs("sighup_while_command_runs", Signal::SIGHUP);
}

/// SIGTERM while a plugin's ADD is running: the ADD finishes, everything is rolled back, the
/// command never runs, exit 143. The record is on disk before the first plugin runs.
#[test]
fn signal_during_setup_rolls_back() {
    host_test("signal_during_setup_rolls_back", |host| {
        install_hook(host);
        let adding = host.path("adding");
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "addMark": adding, "addSleep": "1" })),
        ];
        host.netconf("t", &list("t", plugins));
        let ran = host.path("ran");
        let cmd = format!("touch {}", ran.display());
        let child = spawn_run(host, &["--net", "t", "--", "sh", "-c", &cmd]);
        wait_for_file(&adding, SIGNAL_LIMIT);
        assert_eq!(host.records().len(), 1, "the record exists during setup");
        let start = Instant::now();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let out = wait_output(child, None);
        assert!(start.elapsed() < SIGNAL_LIMIT, "took {:?}", start.elapsed());
        assert_eq!(out.code(), 143, "{out:#?}");
        assert!(out.stderr.contains("interrupted by SIGTERM"), "{out:#?}");
        assert!(!ran.exists(), "the command ran after an interrupted setup");
    });
}

/// Signals during teardown (a slow DEL) do not interrupt it: it completes, and the exit
/// status is still the command's.
#[test]
fn signals_during_teardown_are_held_off() {
    host_test("signals_during_teardown_are_held_off", |host| {
        install_hook(host);
        let deleting = host.path("deleting");
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "delMark": deleting, "delSleep": "1" })),
        ];
        host.netconf("t", &list("t", plugins));
        let child = spawn_run(host, &["--net", "t", "--", "sh", "-c", "exit 7"]);
        wait_for_file(&deleting, SIGNAL_LIMIT);
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        }
        let out = wait_output(child, None);
        assert_eq!(out.code(), 7, "{out:#?}");
    });
}

/// SIGKILL of the runner: the command dies with it; the record, namespace and attachment
/// stay until `cnitool gc` removes them (and the command's background process); a second
/// `gc` finds nothing. A live run's record is left alone by `gc`.
#[test]
fn sigkill_then_gc_restores_the_baseline() {
    host_test("sigkill_then_gc_restores_the_baseline", |host| {
        // With DNS, so the run also has a resolv.conf beside its record.
        let mut bridge = host.bridge_plugin("br-t", "10.197.1.0/24");
        bridge["dns"] = json!({ "nameservers": ["10.197.1.53"] });
        host.netconf("t", &list("t", vec![bridge]));

        // A live run that gc must not touch; it ends when `release` appears.
        let live_mark = host.path("live-started");
        let release = host.path("release");
        let live_cmd = format!(
            "touch {}; while [ ! -e {} ]; do sleep 0.05; done",
            live_mark.display(),
            release.display()
        );
        let mut live = spawn_run(host, &["--net", "t", "--", "sh", "-c", &live_cmd]);
        wait_for_file(&live_mark, SIGNAL_LIMIT);

        let mark = host.path("started");
        let mut victim = spawn_run(host, &["--net", "t", "--", "sh", "-c", &sleeper(&mark)]);
        wait_for_file(&mark, SIGNAL_LIMIT);
        let cmd_pid = read_pid(&mark);
        kill(Pid::from_raw(victim.id() as i32), Signal::SIGKILL).unwrap();
        let status = wait_limit(&mut victim, SIGNAL_LIMIT).expect("the runner died");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );

        let start = Instant::now();
        while is_running(cmd_pid) {
            assert!(
                start.elapsed() < SIGNAL_LIMIT,
                "the command outlived the runner"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            host.records().len(),
            2,
            "both runs' records: {:?}",
            host.records()
        );
        assert_eq!(files_in(&host.netns_dir).len(), 2);

        let out = host.tool(["gc"]).ok();
        let cleaned: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.contains("cleaned up run"))
            .collect();
        assert_eq!(cleaned.len(), 1, "{out:#?}");
        assert!(
            cleaned[0].contains(&format!("pid {}", victim.id())),
            "{out:#?}"
        );
        assert_eq!(host.records().len(), 1, "the live run keeps its record");

        let out = host.tool(["gc"]).ok();
        assert_eq!(out.stdout.trim(), "nothing to remove", "{out:#?}");

        fs::write(&release, "").unwrap();
        let out = wait_output(live, None);
        assert_eq!(out.code(), 0, "the live run was disturbed by gc: {out:#?}");
        live = spawn_run(host, &["--net", "t", "--", "true"]);
        assert_eq!(wait_output(live, None).code(), 0);
    });
}

/// SIGKILL of the runner while a plugin's ADD runs: the record and namespace are there, the
/// attachment half made and not cached; `gc` undoes it all.
#[test]
fn sigkill_during_setup_then_gc() {
    host_test("sigkill_during_setup_then_gc", |host| {
        install_hook(host);
        let adding = host.path("adding");
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "addMark": adding, "addSleep": "0.5" })),
        ];
        host.netconf("t", &list("t", plugins));
        let mut child = spawn_run(host, &["--net", "t", "--", "true"]);
        wait_for_file(&adding, SIGNAL_LIMIT);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        wait_limit(&mut child, SIGNAL_LIMIT).expect("the runner died");
        // The orphaned plugin finishes on its own.
        let left = host.wait_no_processes(SIGNAL_LIMIT);
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(host.records().len(), 1);

        // The netconf is gone by now: gc tears down with the copy in the record.
        fs::remove_file(host.conf.join("t.conflist")).unwrap();
        let out = host.tool(["gc"]).ok();
        assert!(out.stdout.contains("cleaned up run"), "{out:#?}");
        let out = host.tool(["gc"]).ok();
        assert_eq!(out.stdout.trim(), "nothing to remove", "{out:#?}");
    });
}

/// SIGKILL of the runner during a slow DEL: `gc` finishes the teardown.
#[test]
fn sigkill_during_teardown_then_gc() {
    host_test("sigkill_during_teardown_then_gc", |host| {
        install_hook(host);
        let deleting = host.path("deleting");
        let plugins = vec![
            host.bridge_plugin("br-t", "10.197.1.0/24"),
            hook(json!({ "delMark": deleting, "delSleep": "0.5" })),
        ];
        host.netconf("t", &list("t", plugins));
        let mut child = spawn_run(host, &["--net", "t", "--", "true"]);
        wait_for_file(&deleting, SIGNAL_LIMIT);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        wait_limit(&mut child, SIGNAL_LIMIT).expect("the runner died");
        let left = host.wait_no_processes(SIGNAL_LIMIT);
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(host.records().len(), 1);
        let out = host.tool(["gc"]).ok();
        assert!(out.stdout.contains("cleaned up run"), "{out:#?}");
    });
}

/// SIGKILL of a runner that joined a namespace: `gc` removes its attachment and record and
/// leaves the namespace and its other processes alone.
#[test]
fn sigkill_joined_run_then_gc_keeps_the_namespace() {
    host_test("sigkill_joined_run_then_gc_keeps_the_namespace", |host| {
        host.bridge_net("t", "br-t", "10.197.1.0/24");
        let path = libcni::netns::create(&host.netns_dir, "joined", Default::default()).unwrap();
        let mut owner = std::process::Command::new("nsenter")
            .arg(format!("--net={}", path.display()))
            .args(["sleep", "60"])
            .spawn()
            .unwrap();
        let mark = host.path("started");
        let cmd = format!("touch {}; exec sleep 30", mark.display());
        let mut child = spawn_run(
            host,
            &["--net", "t", "--netns", "joined", "--", "sh", "-c", &cmd],
        );
        wait_for_file(&mark, SIGNAL_LIMIT);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        wait_limit(&mut child, SIGNAL_LIMIT).expect("the runner died");
        let left = host.wait_no_processes(SIGNAL_LIMIT);
        assert!(left.is_empty(), "the command outlived the runner: {left:?}");

        let out = host.tool(["gc"]).ok();
        assert!(out.stdout.contains("cleaned up run"), "{out:#?}");
        assert!(
            libcni::netns::identify(&path).is_ok(),
            "gc deleted a joined namespace"
        );
        let links = libcni::netns::run_in(&path, crate::util::host_links).unwrap();
        assert_eq!(links, ["lo"], "the attachment is still in the namespace");
        assert!(
            is_running(owner.id() as i32),
            "gc killed a process it does not own"
        );
        owner.kill().unwrap();
        owner.wait().unwrap();
        libcni::netns::delete(&host.netns_dir, "joined").unwrap();
    });
}

/// How a SIGINT reaches the runner in [`sigints_received`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// `kill(-pgid)` to the runner's whole process group, as a shell's `kill -INT -PGID`.
    ToGroup,
    /// `kill(pid)` to the runner alone.
    ToRunner,
    /// Ctrl-C typed on the runner's terminal (a pty under util-linux `script`, the runner in
    /// its foreground group): the kernel sends SIGINT to that whole group.
    CtrlC,
}

/// Starts `run` with a command that counts the SIGINTs it receives; sends [`ROUNDS`]
/// SIGINTs the way `how` says, each once the command counted the one before, lets the
/// command end, and returns how many it received. Without a terminal the runner is started
/// in a process group of its own, as a shell starts a job.
///
/// Many rounds because a duplicate is not always seen: two SIGINTs pending at once are one
/// for the kernel, so a copy that comes before the command took the first is lost (against
/// the runner that forwarded a copy of each, 3 rounds often counted 3; 20 counted 21).
fn sigints_received(host: &Host, how: Sent) -> usize {
    use std::io::Write as _;
    host.bridge_net("t", "br-t", "10.197.1.0/24");
    let (mark, count, stop) = (host.path("mark"), host.path("count"), host.path("stop"));
    // Perl counts every delivery (its deferred handler runs once per signal received).
    let script = host.path("count-sigints.pl");
    fs::write(
        &script,
        format!(
            r#"$SIG{{INT}} = sub {{ open(my $f, ">>", "{count}") or die; print $f "INT\n"; close $f }};
open(my $m, ">", "{mark}.tmp") or die; close $m; rename "{mark}.tmp", "{mark}";
select(undef, undef, undef, 0.02) until -e "{stop}";
"#,
            count = count.display(),
            mark = mark.display(),
            stop = stop.display(),
        ),
    )
    .unwrap();
    let mut run = host.run_cmd(["--net", "t", "--", "perl"]);
    run.arg(&script);
    let mut cmd = if how == Sent::CtrlC {
        // `exec`: the runner itself is the terminal's foreground job, with no shell between.
        let line: Vec<String> = std::iter::once(run.get_program())
            .chain(run.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let mut script = std::process::Command::new("script");
        script
            .args(["-qec", &format!("exec {}", line.join(" ")), "/dev/null"])
            .env_clear()
            .envs(run.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::piped());
        script
    } else {
        // A session of its own, without a terminal (as in CI or under a service manager,
        // whatever runs this test): setsid(1) execs the runner, so its PID is the child's.
        let mut setsid = std::process::Command::new("setsid");
        setsid
            .arg(run.get_program())
            .args(run.get_args())
            .env_clear()
            .envs(run.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null());
        setsid
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cnitool run");
    wait_for_file(&mark, SIGNAL_LIMIT);
    let runner = child.id() as i32;
    let counted = || {
        fs::read_to_string(&count)
            .map(|c| c.lines().count())
            .unwrap_or(0)
    };
    for round in 1..=ROUNDS {
        match how {
            Sent::ToGroup => kill(Pid::from_raw(-runner), Signal::SIGINT).unwrap(),
            Sent::ToRunner => kill(Pid::from_raw(runner), Signal::SIGINT).unwrap(),
            Sent::CtrlC => child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap(),
        }
        let start = Instant::now();
        while counted() < round {
            assert!(
                start.elapsed() < SIGNAL_LIMIT,
                "SIGINT {round} never arrived"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fs::write(&stop, "").unwrap();
    let out = wait_output(child, None);
    assert_eq!(out.code(), 0, "{out:#?}");
    counted()
}

/// SIGINTs sent in [`sigints_received`].
const ROUNDS: usize = 20;

/// One Ctrl-C, one signal: a SIGINT sent to the runner's whole process group reaches the
/// command once (it used to get the group's copy and the runner's forwarded one).
#[test]
fn group_wide_sigint_reaches_the_command_once() {
    host_test("group_wide_sigint_reaches_the_command_once", |host| {
        assert_eq!(sigints_received(host, Sent::ToGroup), ROUNDS);
    });
}

/// Ctrl-C on the terminal the runner is the foreground job of: the command (which keeps the
/// terminal) gets the terminal's SIGINT, and the runner does not add its own copy.
#[test]
fn ctrl_c_on_a_terminal_reaches_the_command_once() {
    host_test("ctrl_c_on_a_terminal_reaches_the_command_once", |host| {
        assert_eq!(sigints_received(host, Sent::CtrlC), ROUNDS);
    });
}

/// A SIGINT sent to the runner alone (`kill PID`) is still forwarded to the command, once.
#[test]
fn sigint_to_the_runner_alone_is_forwarded_once() {
    host_test("sigint_to_the_runner_alone_is_forwarded_once", |host| {
        assert_eq!(sigints_received(host, Sent::ToRunner), ROUNDS);
    });
}

/// `container run` without a terminal: the engine client gets a process group of its own, so
/// a SIGINT sent to the wrapper's whole group (a shell's `kill -INT -PGID`) reaches the client
/// once, through the wrapper (it used to be in the wrapper's group and get both copies).
/// The engine is a fake podman that counts the SIGINTs its `run` receives.
#[test]
fn container_run_group_sigint_reaches_the_engine_client_once() {
    host_test(
        "container_run_group_sigint_reaches_the_engine_client_once",
        |host| {
            host.bridge_net("t", "br-t", "10.197.1.0/24");
            let (mark, count, stop, pgid) = (
                host.path("mark"),
                host.path("count"),
                host.path("stop"),
                host.path("pgid"),
            );
            let podman = host.path("podman");
            fs::write(
                &podman,
                format!(
                    r#"#!/bin/sh
[ "$1" = run ] || exit 0
while [ $# -gt 0 ]; do [ "$1" = --cidfile ] && echo fakecid > "$2"; shift; done
ps -o pgid= $$ | tr -d ' ' > {pgid}
trap 'echo INT >> {count}' INT
: > {mark}
while [ ! -e {stop} ]; do sleep 0.02; done
"#,
                    pgid = pgid.display(),
                    count = count.display(),
                    mark = mark.display(),
                    stop = stop.display(),
                ),
            )
            .unwrap();
            fs::set_permissions(&podman, fs::Permissions::from_mode(0o755)).unwrap();
            let wrapper = host.cnitool();
            let mut cmd = std::process::Command::new("setsid");
            cmd.arg(wrapper.get_program())
                .args(wrapper.get_args())
                .args(["container", "run", "--engine", "podman", "--engine-bin"])
                .arg(&podman)
                .args(["--net", "t", "--", "--rm", "busybox", "true"])
                .env_clear()
                .envs(wrapper.get_envs().filter_map(|(k, v)| Some((k, v?))))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let child = cmd.spawn().expect("spawning cnitool container run");
            wait_for_file(&mark, SIGNAL_LIMIT);
            let wrapper_pid = child.id() as i32;
            let client_pgid: i32 = fs::read_to_string(&pgid).unwrap().trim().parse().unwrap();
            assert_ne!(
                client_pgid, wrapper_pid,
                "the client has a group of its own"
            );
            kill(Pid::from_raw(-wrapper_pid), Signal::SIGINT).unwrap();
            wait_for_file(&count, SIGNAL_LIMIT);
            fs::write(&stop, "").unwrap();
            let out = wait_output(child, None);
            let received = fs::read_to_string(&count).unwrap().lines().count();
            assert_eq!(received, 1, "{out:#?}");
            assert_eq!(out.code(), 0, "the client's own status: {out:#?}");
        },
    );
}
