//! `libcni::invoke` against real processes: small `#!/bin/sh` plugins written into temp dirs.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use libcni::invoke::{
    exec_plugin, exec_plugin_with_result, get_version_info, Args, Exec, ExecError, ExecRequest,
    ExitStatus, Observer, PluginCall, PluginRef, PluginStart, RawExec, Stream,
};
use libcni::{Command, Error};

const ADD_RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[],"ips":[],"dns":{}}"#;

/// Writes an executable `#!/bin/sh` plugin.
fn plugin(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A fixed parent environment, with stale `CNI_*` values and `CNI_NETNS_OVERRIDE` that must
/// not reach the plugin.
fn base_env() -> Vec<(OsString, OsString)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("CNI_COMMAND", "DEL"),
        ("CNI_IFNAME", "stale0"),
        ("CNI_NETNS_OVERRIDE", "1"),
        ("CAP_ARGS", r#"{"x":1}"#),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect()
}

fn raw() -> RawExec {
    RawExec {
        timeout: Some(Duration::from_secs(10)),
        grace: Duration::from_millis(300),
        base_env: Some(base_env()),
        ..RawExec::default()
    }
}

fn args(command: &'static str) -> Args {
    Args {
        command,
        container_id: "ctr1".into(),
        netns: "/run/netns/x".into(),
        ifname: "eth0".into(),
        plugin_args: "IgnoreUnknown=1;FOO=bar".into(),
        path: "/opt/cni/bin".into(),
    }
}

const WHO: PluginRef<'static> = PluginRef {
    plugin: "fake",
    index: 2,
};

fn run(exec: &RawExec, path: &Path, command: &'static str) -> Result<libcni::invoke::Reply, Error> {
    exec_plugin(exec, None, path, WHO, b"{}", &args(command))
}

fn run_add(path: &Path) -> Result<libcni::CniResult, Error> {
    exec_plugin_with_result(&raw(), None, path, WHO, b"{}", &args("ADD"), "1.0.0").map(|r| r.0)
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, Duration, bool)>>);

impl Observer for Recorder {
    fn plugin_call(&self, call: &PluginCall<'_>) {
        let command = call
            .env
            .iter()
            .find(|(k, _)| *k == "CNI_COMMAND")
            .map(|(_, v)| v.clone())
            .unwrap();
        self.0
            .lock()
            .unwrap()
            .push((command, call.duration, call.outcome.is_ok()));
    }
}

/// Non-zombie processes whose process group is `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may contain spaces, so split after ')'.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields[0] != "Z" && fields[2] == pgid.to_string() {
            found.push(pid);
        }
    }
    found
}

/// Waits for a killed group to be gone (killed processes take a moment to exit; the bound is
/// generous for a loaded machine, the poll returns as soon as they are).
fn assert_group_gone(pgid: i32) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = group_members(pgid);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "group {pgid} survives: {left:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn read_pid(path: &Path) -> i32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[test]
fn plugin_gets_exact_stdin_and_each_cni_var_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let path = plugin(
        dir.path(),
        "rec",
        &format!("cat > {d}/stdin\ncat /proc/$$/environ > {d}/environ\nprintf '%s' '{ADD_RESULT}'"),
    );
    let stdin = b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\xc3\xa9t\",\"type\":\"rec\"}\n\n";
    let observer = Recorder::default();
    let (result, reply) = exec_plugin_with_result(
        &raw(),
        Some(&observer),
        &path,
        WHO,
        stdin,
        &args("ADD"),
        "1.0.0",
    )
    .unwrap();
    assert_eq!(result.version(), "1.0.0");
    assert_eq!(reply.stdout, ADD_RESULT.as_bytes());
    assert!(reply.stderr.is_empty());
    assert_eq!(fs::read(dir.path().join("stdin")).unwrap(), stdin);

    let environ = fs::read(dir.path().join("environ")).unwrap();
    let entries: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8(e.to_vec()).unwrap())
        .collect();
    let count = |name: &str| {
        entries
            .iter()
            .filter(|e| e.split_once('=').unwrap().0 == name)
            .count()
    };
    for (name, value) in args("ADD").as_env() {
        assert_eq!(count(name), 1, "{name} in {entries:?}");
        assert!(entries.contains(&format!("{name}={value}")), "{name}");
    }
    assert_eq!(count("CNI_NETNS_OVERRIDE"), 0, "{entries:?}");
    assert!(entries.contains(&r#"CAP_ARGS={"x":1}"#.to_owned()));
    assert!(entries.contains(&"CNI_IFNAME=eth0".to_owned()));

    let calls = observer.0.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "ADD");
    assert!(calls[0].1 > Duration::ZERO && calls[0].2);
}

#[test]
fn decodes_plugin_errors_like_go() {
    let dir = tempfile::tempdir().unwrap();
    let errjson = plugin(
        dir.path(),
        "fx-errjson",
        "cat >/dev/null\nprintf '%s\\n' '{\"code\":7,\"msg\":\"bad config\",\"details\":\"field x\"}'\nexit 1",
    );
    let err = run(&raw(), &errjson, "DEL").unwrap_err();
    match &err {
        Error::Plugin {
            plugin,
            index,
            command,
            code,
            msg,
            details,
        } => {
            assert_eq!(
                (plugin.as_str(), *index, *command),
                ("fake", 2, Command::Del)
            );
            assert_eq!(
                (*code, msg.as_str(), details.as_str()),
                (7, "bad config", "field x")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "plugin \"fake\" failed (DEL, CNI code 7: invalid network config): bad config; field x"
    );

    let errstderr = plugin(
        dir.path(),
        "fx-errstderr",
        "cat >/dev/null\necho oops >&2\nexit 1",
    );
    match run(&raw(), &errstderr, "ADD").unwrap_err() {
        Error::Plugin {
            code, msg, details, ..
        } => assert_eq!((code, msg.as_str(), details.as_str()), (999, "oops", "")),
        other => panic!("{other:?}"),
    }

    let errnotjson = plugin(
        dir.path(),
        "fx-errnotjson",
        "cat >/dev/null\necho 'not json'\nexit 1",
    );
    match run(&raw(), &errnotjson, "ADD").unwrap_err() {
        Error::PluginOutput {
            plugin,
            command,
            reason,
            ..
        } => {
            assert_eq!((plugin.as_str(), command), ("fake", Command::Add));
            assert!(
                reason.starts_with(
                    "exit status 1 with an unparsable error message \"not json\\n\": "
                ),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    let silent = plugin(dir.path(), "silent", "exit 3");
    match run(&raw(), &silent, "CHECK").unwrap_err() {
        Error::Plugin { code, msg, .. } => {
            assert_eq!(code, 999);
            assert_eq!(
                msg,
                "netplugin failed with no error message (exit status 3)"
            );
        }
        other => panic!("{other:?}"),
    }

    // An error object without `code` keeps its message, under code 0 (as Go decodes it).
    let nocode = plugin(dir.path(), "nocode", "echo '{\"msg\":\"boom\"}'\nexit 1");
    let err = run(&raw(), &nocode, "ADD").unwrap_err();
    assert!(
        matches!(&err, Error::Plugin { code: 0, msg, details, .. } if msg == "boom" && details.is_empty()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin \"fake\" failed (ADD, CNI code 0): boom"
    );
    // JSON with nothing of an error object is as unusable as non-JSON.
    let empty = plugin(dir.path(), "emptyobj", "echo '{\"x\":1}'\nexit 1");
    match run(&raw(), &empty, "ADD").unwrap_err() {
        Error::PluginOutput { reason, .. } => assert_eq!(
            reason,
            "exit status 1 with an error object that has no code, msg or details: \"{\\\"x\\\":1}\\n\""
        ),
        other => panic!("{other:?}"),
    }

    // A long stderr is bounded in the message.
    let noisy = plugin(
        dir.path(),
        "noisy",
        "head -c 100000 /dev/zero | tr '\\0' x >&2\nexit 1",
    );
    match run(&raw(), &noisy, "ADD").unwrap_err() {
        Error::Plugin { msg, .. } => {
            assert!(msg.len() < 1000, "{}", msg.len());
            assert!(msg.ends_with("... (100000 bytes)"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn success_keeps_stderr_beside_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let ok = plugin(
        dir.path(),
        "fx-okstderr",
        &format!(
            "cat >/dev/null\necho 'warning from plugin' >&2\n\
             if [ \"$CNI_COMMAND\" = ADD ]; then echo '{ADD_RESULT}'; fi\nexit 0"
        ),
    );
    let (result, reply) =
        exec_plugin_with_result(&raw(), None, &ok, WHO, b"{}", &args("ADD"), "1.0.0").unwrap();
    assert_eq!(result.version(), "1.0.0");
    assert_eq!(reply.stderr, b"warning from plugin\n");
    let del = run(&raw(), &ok, "DEL").unwrap();
    assert!(del.stdout.is_empty());
    assert_eq!(del.stderr, b"warning from plugin\n");
}

#[test]
fn add_with_exit_0_needs_a_real_result() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "nothing",
            "exit 0",
            "exited successfully but printed no result",
        ),
        (
            "blank",
            "echo; echo",
            "exited successfully but printed no result",
        ),
        ("garbage", "echo garbage", "result is not JSON: "),
        (
            "null",
            "echo null",
            "result is not a JSON object: \"null\\n\"",
        ),
        ("list", "echo '[1]'", "result is not a JSON object: "),
    ];
    for (name, body, want) in cases {
        let path = plugin(dir.path(), name, body);
        match run_add(&path) {
            Err(Error::PluginOutput {
                command: Command::Add,
                reason,
                ..
            }) => assert!(reason.starts_with(want), "{name}: {reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // An error object is an error, even with exit status 0 and a cniVersion.
    let errobj = plugin(
        dir.path(),
        "errobj",
        r#"echo '{"cniVersion":"1.0.0","code":11,"msg":"try later"}'"#,
    );
    match run_add(&errobj) {
        Err(Error::Plugin { code, msg, .. }) => assert_eq!((code, msg.as_str()), (11, "try later")),
        other => panic!("{other:?}"),
    }
    // DEL and CHECK print nothing on success.
    let nothing = dir.path().join("nothing");
    assert!(run(&raw(), &nothing, "DEL").unwrap().stdout.is_empty());
}

#[test]
fn output_beyond_the_limit_kills_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let exec = RawExec {
        max_output: 1000,
        ..raw()
    };
    let flood = plugin(
        dir.path(),
        "flood",
        &format!(
            "echo $$ > {}/pid\nwhile :; do echo xxxxxxxxxxxxxxxx; done",
            dir.path().display()
        ),
    );
    let start = Instant::now();
    match run(&exec, &flood, "ADD").unwrap_err() {
        Error::PluginOutput { reason, .. } => {
            assert_eq!(reason, "stdout output exceeds 1000 bytes; killed");
        }
        other => panic!("{other:?}"),
    }
    // Killed on the spot, not at a timeout (there is none): bounded well below 60 s.
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_group_gone(read_pid(&dir.path().join("pid")));

    let flood_err = plugin(
        dir.path(),
        "flood-err",
        "head -c 5000 /dev/zero >&2; exit 0",
    );
    let req = ExecRequest {
        plugin_path: &flood_err,
        stdin: b"",
        env: &[],
    };
    match exec.exec(&req) {
        Err(ExecError::OutputTooLarge {
            stream: Stream::Stderr,
            limit: 1000,
        }) => {}
        other => panic!("{other:?}"),
    }

    // Exactly the limit is fine.
    let exact = plugin(dir.path(), "exact", "head -c 1000 /dev/zero");
    let out = exec
        .exec(&ExecRequest {
            plugin_path: &exact,
            stdin: b"",
            env: &[],
        })
        .unwrap();
    assert_eq!((out.status, out.stdout.len()), (ExitStatus::Code(0), 1000));
}

#[test]
fn death_by_signal_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin(dir.path(), "killed", "kill -9 $$");
    match run(&raw(), &path, "ADD").unwrap_err() {
        Error::PluginSignaled {
            signal, command, ..
        } => assert_eq!((signal, command), (9, Command::Add)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin(
        dir.path(),
        "slow",
        &format!(
            "echo $$ > {}/pid\nsleep 60 &\nsleep 60",
            dir.path().display()
        ),
    );
    let exec = RawExec {
        timeout: Some(Duration::from_millis(300)),
        grace: Duration::from_millis(1000),
        ..raw()
    };
    let start = Instant::now();
    match run(&exec, &path, "ADD").unwrap_err() {
        Error::PluginTimeout { timeout, .. } => assert_eq!(timeout, Duration::from_millis(300)),
        other => panic!("{other:?}"),
    }
    let took = start.elapsed();
    // SIGTERM is obeyed: no need to wait for the grace period.
    // Not the whole grace: the plugin ends on SIGTERM (generous for a loaded machine).
    assert!(took < Duration::from_millis(300 + 1000) * 5, "{took:?}");
    assert_group_gone(read_pid(&dir.path().join("pid")));
}

#[test]
fn sigterm_ignored_means_sigkill_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin(
        dir.path(),
        "stubborn",
        &format!(
            "trap '' TERM\necho $$ > {}/pid\nsleep 60 &\nsleep 60",
            dir.path().display()
        ),
    );
    let exec = RawExec {
        timeout: Some(Duration::from_millis(200)),
        grace: Duration::from_millis(300),
        ..raw()
    };
    let start = Instant::now();
    assert!(matches!(
        run(&exec, &path, "ADD"),
        Err(Error::PluginTimeout { .. })
    ));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_millis(500) * 10, "{took:?}");
    assert_group_gone(read_pid(&dir.path().join("pid")));
}

#[test]
fn a_plugin_that_ignores_stdin_does_not_block_us() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![b'x'; 8 << 20];
    let deaf = plugin(dir.path(), "deaf", "echo done");
    let exec = RawExec {
        timeout: Some(Duration::from_secs(5)),
        ..raw()
    };
    let reply = exec_plugin(&exec, None, &deaf, WHO, &big, &args("DEL")).unwrap();
    assert_eq!(reply.stdout, b"done\n");
    // And one that reads it all gets every byte.
    let counter = plugin(dir.path(), "counter", "wc -c");
    let reply = exec_plugin(&exec, None, &counter, WHO, &big, &args("DEL")).unwrap();
    assert_eq!(
        String::from_utf8(reply.stdout).unwrap().trim(),
        (8 << 20).to_string()
    );
}

#[test]
fn busy_binary_is_retried_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(format!("#!/bin/sh\nprintf '%s' '{ADD_RESULT}'\n").as_bytes())
        .unwrap();
    file.set_permissions(fs::Permissions::from_mode(0o755))
        .unwrap();
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(60));
        drop(file);
    });
    let result = run_add(&path).unwrap();
    assert_eq!(result.version(), "1.0.0");
    release.join().unwrap();

    // Never released: the retries give up with the OS error.
    let stuck_path = dir.path().join("stuck");
    let mut stuck = fs::File::create(&stuck_path).unwrap();
    stuck.write_all(b"#!/bin/sh\nexit 0\n").unwrap();
    stuck
        .set_permissions(fs::Permissions::from_mode(0o755))
        .unwrap();
    match run(&raw(), &stuck_path, "ADD").unwrap_err() {
        Error::PluginExec { source, path, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::ETXTBSY));
            assert_eq!(path, stuck_path);
        }
        other => panic!("{other:?}"),
    }
    drop(stuck);
}

#[test]
fn spawn_failure_is_plugin_exec() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let observer = Recorder::default();
    let err = exec_plugin(&raw(), Some(&observer), &missing, WHO, b"", &args("ADD")).unwrap_err();
    assert!(matches!(err, Error::PluginExec { .. }), "{err:?}");
    // The observer sees failed calls too.
    assert_eq!(observer.0.lock().unwrap().len(), 1);
    assert!(!observer.0.lock().unwrap()[0].2);
}

/// Records the order of `plugin_start` and `plugin_call`, and whether the plugin had run
/// (left its mark) when `plugin_start` came.
#[derive(Debug)]
struct Sequence {
    mark: PathBuf,
    events: Mutex<Vec<String>>,
}

impl Observer for Sequence {
    fn plugin_start(&self, start: &PluginStart<'_>) {
        self.events.lock().unwrap().push(format!(
            "start {} {} {} ran={}",
            start.command,
            start.who.plugin,
            String::from_utf8_lossy(start.stdin),
            self.mark.exists()
        ));
    }

    fn plugin_call(&self, call: &PluginCall<'_>) {
        self.events.lock().unwrap().push(format!(
            "call {} ran={}",
            call.who.plugin,
            self.mark.exists()
        ));
    }
}

#[test]
fn observer_sees_each_start_before_the_plugin_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let path = plugin(dir.path(), "marker", &format!("touch {}", mark.display()));
    let observer = Sequence {
        mark,
        events: Mutex::default(),
    };
    exec_plugin(
        &raw(),
        Some(&observer),
        &path,
        WHO,
        br#"{"name":"n"}"#,
        &args("DEL"),
    )
    .unwrap();
    assert_eq!(
        *observer.events.lock().unwrap(),
        [
            r#"start DEL fake {"name":"n"} ran=false"#,
            "call fake ran=true"
        ]
    );
    // A call that is refused before running starts nothing.
    let events = Sequence {
        mark: dir.path().join("never"),
        events: Mutex::default(),
    };
    exec_plugin(&raw(), Some(&events), &path, WHO, b"", &args("FROB")).unwrap_err();
    assert!(events.events.lock().unwrap().is_empty());
}

#[test]
fn unknown_verb_runs_nothing() {
    let observer = Recorder::default();
    let err = exec_plugin(
        &raw(),
        Some(&observer),
        Path::new("/bin/true"),
        WHO,
        b"",
        &args("FROB"),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                what: "CNI_COMMAND",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(observer.0.lock().unwrap().is_empty());
}

#[test]
fn version_info_is_queried_like_go() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let path = plugin(
        dir.path(),
        "ver",
        &format!(
            "cat > {d}/stdin\nenv | grep '^CNI_' | sort > {d}/env\n\
             echo '{{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\"]}}'"
        ),
    );
    let who = PluginRef {
        plugin: "ver",
        index: 0,
    };
    let info = get_version_info(&raw(), None, &path, who).unwrap();
    assert_eq!(info.cni_version, "1.0.0");
    assert_eq!(info.supported_versions, ["0.4.0", "1.0.0"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("stdin")).unwrap(),
        r#"{"cniVersion":"1.1.0"}"#
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("env")).unwrap(),
        "CNI_ARGS=\nCNI_COMMAND=VERSION\nCNI_CONTAINERID=\nCNI_IFNAME=dummy\nCNI_NETNS=dummy\nCNI_PATH=dummy\n"
    );

    let legacy = plugin(
        dir.path(),
        "legacy",
        "echo '{\"code\":4,\"msg\":\"unknown CNI_COMMAND: VERSION\"}'\nexit 1",
    );
    assert_eq!(
        get_version_info(&raw(), None, &legacy, who).unwrap(),
        libcni::version::PluginInfo::legacy()
    );

    let other_error = plugin(
        dir.path(),
        "other",
        "echo '{\"code\":4,\"msg\":\"nope\"}'\nexit 1",
    );
    assert!(matches!(
        get_version_info(&raw(), None, &other_error, who),
        Err(Error::Plugin { code: 4, .. })
    ));

    let garbage = plugin(dir.path(), "garbage", "echo '{\"supportedVersions\":[]}'");
    match get_version_info(&raw(), None, &garbage, who).unwrap_err() {
        Error::PluginOutput {
            command: Command::Version,
            reason,
            ..
        } => assert!(reason.starts_with("invalid VERSION reply: "), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn leftover_holders_of_stdout_do_not_hang_us() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin(
        dir.path(),
        "leaky",
        &format!(
            "echo $$ > {}/pid\nsleep 60 &\necho ok",
            dir.path().display()
        ),
    );
    let exec = RawExec {
        grace: Duration::from_millis(200),
        ..raw()
    };
    let start = Instant::now();
    let reply = run(&exec, &path, "DEL").unwrap();
    assert_eq!(reply.stdout, b"ok\n");
    assert!(start.elapsed() < Duration::from_secs(20));
    // The leftover is left alone (it is not the call's to kill); clean it up here.
    let pgid = read_pid(&dir.path().join("pid"));
    assert!(!group_members(pgid).is_empty());
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_group_gone(pgid);
}
