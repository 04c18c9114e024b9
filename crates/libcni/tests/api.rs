//! `CniConfig` with fake plugins: small `#!/bin/sh` scripts that log `$CNI_COMMAND <name>` to
//! a file, keep their last stdin and `CNI_ARGS` per verb, and print canned results. The
//! target-namespace checks are off except where they are the subject, so no root is needed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libcni::api::{CniConfig, GcAttachment};
use libcni::conf::conf_list_from_bytes;
use libcni::invoke::{Cancel, RawExec};
use libcni::{Command, Error, IdKind, NetworkConfigList, RuntimeConf};
use serde_json::{json, Value};
use tempfile::TempDir;

use support::{dir_names, write_script};

const RESULT: &str = r#"{"cniVersion":"1.0.0","ips":[{"address":"10.199.0.5/24"}],"dns":{}}"#;
const VERSIONS: &str =
    r#"{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}"#;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    /// ADD exits 1 with a CNI error (code 7); every other verb succeeds.
    FailAdd,
    /// ADD sleeps for a minute; every other verb succeeds.
    HangAdd,
    /// ADD and DEL sleep for a minute.
    HangAddDel,
}

/// A temp dir with a plugin dir, a cache dir and the call log.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir(env.plugins()).unwrap();
        fs::write(env.log_path(), "").unwrap();
        env
    }

    fn plugins(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// Writes plugin `name`.
    fn plugin(&self, name: &str, mode: Mode) {
        let dir = self.dir.path().display();
        let log = self.log_path();
        let on_add = match mode {
            Mode::Ok => format!("printf '%s' '{RESULT}'"),
            Mode::FailAdd => {
                r#"echo '{"code":7,"msg":"refused","details":"by design"}'; exit 1"#.to_owned()
            }
            Mode::HangAdd | Mode::HangAddDel => "sleep 60".to_owned(),
        };
        let on_del = if mode == Mode::HangAddDel {
            "sleep 60"
        } else {
            ":"
        };
        let text = format!(
            r#"#!/bin/sh
stdin=$(cat)
n=$(basename "$0")
echo "$CNI_COMMAND $n" >>'{log}'
printf '%s' "$stdin" >"{dir}/stdin-$n-$CNI_COMMAND"
printf '%s' "$CNI_ARGS" >"{dir}/args-$n-$CNI_COMMAND"
case "$CNI_COMMAND" in
ADD) {on_add} ;;
DEL) {on_del} ;;
VERSION) echo '{VERSIONS}' ;;
esac
exit 0
"#,
            log = log.display()
        );
        write_script(&self.plugins(), name, &text);
    }

    fn log(&self) -> Vec<String> {
        fs::read_to_string(self.log_path())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn stdin(&self, plugin: &str, verb: &str) -> Value {
        let path = self.dir.path().join(format!("stdin-{plugin}-{verb}"));
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap()
    }

    fn cni_args(&self, plugin: &str, verb: &str) -> String {
        fs::read_to_string(self.dir.path().join(format!("args-{plugin}-{verb}"))).unwrap()
    }

    fn cfg(&self) -> CniConfig {
        CniConfig::new(vec![self.plugins()], self.cache_dir())
            .with_exec(Arc::new(RawExec::new(Some(Duration::from_secs(20)))))
            .with_netns_checks(false)
    }

    /// The cache files; asserts that the cache dir holds nothing else than the results and
    /// the one lock file (attachment locks are bytes of it, not files).
    fn cached(&self) -> Vec<String> {
        let others: Vec<String> = dir_names(&self.cache_dir())
            .into_iter()
            .filter(|n| n != "results" && n != "cnitool.lock")
            .collect();
        assert_eq!(
            others,
            Vec::<String>::new(),
            "unexpected files in the cache dir"
        );
        dir_names(&self.cache_dir().join("results"))
    }
}

/// A list of the given plugins (`extra` merged into every plugin object).
fn list(version: &str, plugins: &[&str], top: Value, extra: Value) -> NetworkConfigList {
    let plugins: Vec<Value> = plugins
        .iter()
        .map(|p| {
            let mut o = json!({ "type": p });
            for (k, v) in extra.as_object().unwrap() {
                o[k] = v.clone();
            }
            o
        })
        .collect();
    let mut doc = json!({ "cniVersion": version, "name": "apinet", "plugins": plugins });
    for (k, v) in top.as_object().unwrap() {
        doc[k] = v.clone();
    }
    conf_list_from_bytes(doc.to_string().as_bytes(), None).unwrap()
}

fn rt(container_id: &str) -> RuntimeConf {
    RuntimeConf {
        container_id: container_id.into(),
        netns: "/var/run/netns/api-test".into(),
        ifname: "eth0".into(),
        ..RuntimeConf::default()
    }
}

fn three(env: &Env) -> NetworkConfigList {
    for p in ["p0", "p1", "p2"] {
        env.plugin(p, Mode::Ok);
    }
    list("1.0.0", &["p0", "p1", "p2"], json!({}), json!({}))
}

fn lines(s: &[&str]) -> Vec<String> {
    s.iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn add_in_order_del_in_reverse() {
    let env = Env::new();
    let list = three(&env);
    let cfg = env.cfg();
    let result = cfg.add_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(result.to_json(), RESULT.as_bytes());
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD p1", "ADD p2", "DEL p2", "DEL p1", "DEL p0"])
    );
    assert!(env.cached().is_empty());
    // DEL is idempotent: a second one runs the plugins again and succeeds.
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(env.log().len(), 9);
}

#[test]
fn failed_add_rolls_back_what_ran_in_reverse_at_each_position() {
    for k in 0..3 {
        let env = Env::new();
        let names = ["p0", "p1", "p2"];
        for (i, p) in names.iter().enumerate() {
            env.plugin(p, if i == k { Mode::FailAdd } else { Mode::Ok });
        }
        let list = list("1.0.0", &names, json!({}), json!({}));
        let err = env.cfg().add_network_list(&list, &rt("ctr1")).unwrap_err();
        match &err {
            Error::AddFailed {
                error, rollback, ..
            } => {
                assert!(rollback.is_none(), "k={k}: {rollback:?}");
                match &**error {
                    Error::Plugin {
                        plugin,
                        index,
                        command,
                        code,
                        msg,
                        details,
                    } => {
                        assert_eq!(plugin, names[k]);
                        assert_eq!(*index, k);
                        assert_eq!(*command, Command::Add);
                        assert_eq!(
                            (*code, msg.as_str(), details.as_str()),
                            (7, "refused", "by design")
                        );
                    }
                    other => panic!("k={k}: {other:?}"),
                }
            }
            other => panic!("k={k}: {other:?}"),
        }
        assert!(err.to_string().contains(names[k]), "{err}");
        let mut want: Vec<String> = (0..=k).map(|i| format!("ADD p{i}")).collect();
        want.extend((0..=k).rev().map(|i| format!("DEL p{i}")));
        assert_eq!(env.log(), want, "k={k}");
        assert!(env.cached().is_empty(), "k={k}");
        // The rollback DEL of a later plugin gets the partial result of the earlier ones.
        if k > 0 {
            assert_eq!(
                env.stdin("p0", "DEL")["prevResult"],
                serde_json::from_str::<Value>(RESULT).unwrap()
            );
        }
    }
}

#[test]
fn second_add_of_the_same_attachment_is_refused_before_any_plugin_runs() {
    let env = Env::new();
    let list = three(&env);
    let cfg = env.cfg();
    cfg.add_network_list(&list, &rt("ctr1")).unwrap();
    let err = cfg.add_network_list(&list, &rt("ctr1")).unwrap_err();
    match err {
        Error::AlreadyAttached {
            network,
            container_id,
            ifname,
            path,
        } => {
            assert_eq!(
                (network.as_str(), container_id.as_str(), ifname.as_str()),
                ("apinet", "ctr1", "eth0")
            );
            assert_eq!(path, env.cache_dir().join("results/apinet-ctr1-eth0"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.log().len(), 3);
    // Another container ID or ifname is another attachment.
    cfg.add_network_list(&list, &rt("ctr2")).unwrap();
    assert_eq!(env.cached(), ["apinet-ctr1-eth0", "apinet-ctr2-eth0"]);
}

#[test]
fn del_restores_cached_cni_args_and_capability_args() {
    let env = Env::new();
    env.plugin("pm", Mode::Ok);
    env.plugin("plain", Mode::Ok);
    let list = list(
        "1.0.0",
        &["plain", "pm"],
        json!({}),
        json!({"capabilities": {"portMappings": true}}),
    );
    let cfg = env.cfg();
    let ports = json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]);
    let mut add_rt = rt("ctr1");
    add_rt.args = vec![
        ("IgnoreUnknown".into(), "1".into()),
        ("FOO".into(), "bar".into()),
    ];
    add_rt
        .capability_args
        .insert("portMappings".into(), ports.clone());
    add_rt
        .capability_args
        .insert("bandwidth".into(), json!({"ingressRate": 1}));
    cfg.add_network_list(&list, &add_rt).unwrap();
    assert_eq!(
        env.stdin("pm", "ADD")["runtimeConfig"],
        json!({"portMappings": ports})
    );

    // DEL with neither CNI_ARGS nor capability args, as `cnitool del` without CAP_ARGS.
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    let del = env.stdin("pm", "DEL");
    assert_eq!(
        del["runtimeConfig"],
        json!({"portMappings": ports}),
        "{del}"
    );
    assert_eq!(
        del["prevResult"],
        serde_json::from_str::<Value>(RESULT).unwrap()
    );
    assert_eq!(env.cni_args("pm", "DEL"), "IgnoreUnknown=1;FOO=bar");
    assert_eq!(env.cni_args("plain", "DEL"), "IgnoreUnknown=1;FOO=bar");
    assert!(env.cached().is_empty());
}

#[test]
fn corrupt_cache_file_is_removed_on_del_and_del_succeeds() {
    let env = Env::new();
    let list = three(&env);
    let cfg = env.cfg();
    let path = cfg.cache().path("apinet", "ctr1", "eth0");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, b"{\"kind\":\"cniCacheV1\",\"containerId\":").unwrap();
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert!(!path.exists());
    assert_eq!(env.log(), lines(&["DEL p2", "DEL p1", "DEL p0"]));
    // Without a usable cache there is no prevResult.
    assert!(env.stdin("p0", "DEL").get("prevResult").is_none());
}

#[test]
fn check_below_0_4_0_is_refused_before_any_plugin_runs() {
    for version in ["0.1.0", "0.2.0", "0.3.0", "0.3.1"] {
        let env = Env::new();
        env.plugin("p0", Mode::Ok);
        let list = list(version, &["p0"], json!({}), json!({}));
        match env.cfg().check_network_list(&list, &rt("ctr1")) {
            Err(Error::VerbUnsupported {
                command,
                version: v,
            }) => {
                assert_eq!((command, v.as_str()), (Command::Check, version));
            }
            other => panic!("{version}: {other:?}"),
        }
        assert!(env.log().is_empty(), "{version}");
    }
}

#[test]
fn check_runs_in_order_with_the_cached_result_and_disable_check_skips_it() {
    let env = Env::new();
    let list_on = three(&env);
    let cfg = env.cfg();
    cfg.add_network_list(&list_on, &rt("ctr1")).unwrap();
    cfg.check_network_list(&list_on, &rt("ctr1")).unwrap();
    assert_eq!(env.log()[3..], lines(&["CHECK p0", "CHECK p1", "CHECK p2"]));
    assert_eq!(
        env.stdin("p0", "CHECK")["prevResult"],
        serde_json::from_str::<Value>(RESULT).unwrap()
    );
    // CHECK of an attachment that was never added.
    assert!(matches!(
        cfg.check_network_list(&list_on, &rt("ctr9")),
        Err(Error::NotAttached { .. })
    ));
    let off = list(
        "1.0.0",
        &["p0", "p1", "p2"],
        json!({"disableCheck": true}),
        json!({}),
    );
    assert!(off.disable_check);
    let before = env.log().len();
    cfg.check_network_list(&off, &rt("ctr1")).unwrap();
    cfg.check_network_list(&off, &rt("never-added")).unwrap();
    assert_eq!(env.log().len(), before);
}

#[test]
fn gc_deletes_only_stale_attachments_and_sends_both_attachment_keys() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("p1", Mode::Ok);
    let list = list("1.1.0", &["p0", "p1"], json!({}), json!({}));
    let cfg = env.cfg();
    for c in ["ctr-a", "ctr-b", "ctr-c"] {
        cfg.add_network_list(&list, &rt(c)).unwrap();
    }
    fs::write(env.log_path(), "").unwrap();
    let valid = [GcAttachment {
        container_id: "ctr-a".into(),
        ifname: "eth0".into(),
    }];
    let report = cfg.gc_network_list(&list, &valid).unwrap();
    let mut deleted: Vec<&str> = report
        .deleted
        .iter()
        .map(|a| a.container_id.as_str())
        .collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["ctr-b", "ctr-c"]);
    assert!(report.plugins_collected);
    assert_eq!(env.cached(), ["apinet-ctr-a-eth0"]);
    let log = env.log();
    assert_eq!(log.len(), 6, "{log:?}");
    assert_eq!(
        log[..4].iter().filter(|l| l.starts_with("DEL ")).count(),
        4,
        "{log:?}"
    );
    assert_eq!(log[4..], lines(&["GC p0", "GC p1"]));
    // Each stale attachment was DELed in reverse order.
    assert_eq!(log[..2], lines(&["DEL p1", "DEL p0"]));
    let gc = env.stdin("p1", "GC");
    let want = json!([{"containerID": "ctr-a", "ifname": "eth0"}]);
    assert_eq!(gc["cni.dev/valid-attachments"], want, "{gc}");
    assert_eq!(gc["cni.dev/attachments"], want, "{gc}");
    assert_eq!(gc["cniVersion"], "1.1.0");
    assert!(gc.get("prevResult").is_none());
}

#[test]
fn gc_below_1_1_0_sends_no_gc_to_plugins() {
    let env = Env::new();
    let list = three(&env);
    let cfg = env.cfg();
    cfg.add_network_list(&list, &rt("ctr-b")).unwrap();
    fs::write(env.log_path(), "").unwrap();
    let report = cfg.gc_network_list(&list, &[]).unwrap();
    assert!(!report.plugins_collected);
    assert_eq!(env.log(), lines(&["DEL p2", "DEL p1", "DEL p0"]));
    assert!(env.cached().is_empty());
}

#[test]
fn status_below_1_1_0_runs_nothing() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    for version in ["0.3.1", "0.4.0", "1.0.0"] {
        let list = list(version, &["p0"], json!({}), json!({}));
        env.cfg().get_status_network_list(&list).unwrap();
    }
    assert!(env.log().is_empty());
    let list = list("1.1.0", &["p0"], json!({}), json!({}));
    env.cfg().get_status_network_list(&list).unwrap();
    assert_eq!(env.log(), lines(&["STATUS p0"]));
}

#[test]
fn hanging_plugin_times_out_and_is_rolled_back() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("hang", Mode::HangAdd);
    env.plugin("p2", Mode::Ok);
    let list = list("1.0.0", &["p0", "hang", "p2"], json!({}), json!({}));
    let exec = RawExec {
        timeout: Some(Duration::from_secs(1)),
        grace: Duration::from_millis(200),
        ..RawExec::default()
    };
    let cfg = CniConfig::new(vec![env.plugins()], env.cache_dir())
        .with_exec(Arc::new(exec))
        .with_netns_checks(false);
    let start = Instant::now();
    let err = cfg.add_network_list(&list, &rt("ctr1")).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    match err {
        Error::AddFailed {
            error, rollback, ..
        } => {
            assert!(rollback.is_none(), "{rollback:?}");
            match *error {
                Error::PluginTimeout {
                    plugin,
                    index,
                    command,
                    timeout,
                } => {
                    assert_eq!((plugin.as_str(), index, command), ("hang", 1, Command::Add));
                    assert_eq!(timeout, Duration::from_secs(1));
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD hang", "DEL hang", "DEL p0"])
    );
    assert!(env.cached().is_empty());
}

impl Env {
    /// A configuration whose executor and operations honour `cancel`.
    fn cancellable(&self, cancel: &Cancel) -> CniConfig {
        let exec = RawExec {
            timeout: Some(Duration::from_secs(30)),
            grace: Duration::from_secs(5),
            cancel: Some(cancel.clone()),
            ..RawExec::default()
        };
        CniConfig::new(vec![self.plugins()], self.cache_dir())
            .with_exec(Arc::new(exec))
            .with_netns_checks(false)
            .with_cancel(cancel.clone())
    }

    /// Fires `cancel` once `line` is in the call log (from another thread), as a Ctrl-C
    /// while that call runs.
    fn cancel_at(&self, cancel: &Cancel, line: &'static str) -> std::thread::JoinHandle<()> {
        let log = self.log_path();
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !fs::read_to_string(&log).unwrap().lines().any(|l| l == line) {
                assert!(Instant::now() < deadline, "{line:?} never ran");
                std::thread::sleep(Duration::from_millis(5));
            }
            cancel.cancel();
        })
    }
}

/// A cancel (the caller's Ctrl-C) stops the plugin running then at once (not after the 30 s
/// timeout), the plugins after it never run, and the ADD is rolled back as on any failure.
#[test]
fn cancel_stops_the_running_plugin_and_add_rolls_back() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("hang", Mode::HangAdd);
    env.plugin("p2", Mode::Ok);
    let list = list("1.0.0", &["p0", "hang", "p2"], json!({}), json!({}));
    let cancel = Cancel::new();
    let cfg = env.cancellable(&cancel);
    let firing = env.cancel_at(&cancel, "ADD hang");
    let start = Instant::now();
    let err = cfg.add_network_list(&list, &rt("ctr1")).unwrap_err();
    firing.join().unwrap();
    // SIGTERM is obeyed: no wait for the 5 s grace period either.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    match err {
        Error::AddFailed {
            error, rollback, ..
        } => {
            assert!(rollback.is_none(), "{rollback:?}");
            match *error {
                Error::Interrupted {
                    command,
                    plugin,
                    index,
                    stopped,
                } => assert_eq!(
                    (command, plugin.as_str(), index, stopped),
                    (Command::Add, "hang", 1, true)
                ),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD hang", "DEL hang", "DEL p0"])
    );
    assert!(env.cached().is_empty());
}

/// The rollback started after the first cancel, so it runs; a second cancel stops the
/// rollback DEL running then, and the rollback goes on with the plugins before it.
#[test]
fn second_cancel_stops_the_rollback_del() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("hang", Mode::HangAddDel);
    let list = list("1.0.0", &["p0", "hang"], json!({}), json!({}));
    let cancel = Cancel::new();
    let cfg = env.cancellable(&cancel);
    let first = env.cancel_at(&cancel, "ADD hang");
    let second = env.cancel_at(&cancel, "DEL hang");
    let start = Instant::now();
    let err = cfg.add_network_list(&list, &rt("ctr1")).unwrap_err();
    first.join().unwrap();
    second.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    match err {
        Error::AddFailed {
            error, rollback, ..
        } => {
            assert!(
                matches!(
                    *error,
                    Error::Interrupted {
                        command: Command::Add,
                        stopped: true,
                        ..
                    }
                ),
                "{error:?}"
            );
            assert!(
                matches!(
                    rollback.as_deref(),
                    Some(Error::Interrupted {
                        command: Command::Del,
                        stopped: true,
                        ..
                    })
                ),
                "{rollback:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD hang", "DEL hang", "DEL p0"])
    );
}

/// A cancelled DEL stops the plugin running then and runs no further one; the cache entry
/// stays, so DEL can be run again to finish.
#[test]
fn cancelled_del_keeps_the_entry_for_a_retry() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("hang", Mode::HangAddDel);
    let cancel = Cancel::new();
    let cfg = env.cancellable(&cancel);
    // An attachment of "apinet" recorded by an ADD of p0 alone; the DEL list has "hang" last,
    // so DEL runs it first.
    let p0_only = list("1.0.0", &["p0"], json!({}), json!({}));
    cfg.add_network_list(&p0_only, &rt("ctr1")).unwrap();
    let full = list("1.0.0", &["p0", "hang"], json!({}), json!({}));
    let firing = env.cancel_at(&cancel, "DEL hang");
    let err = cfg.del_network_list(&full, &rt("ctr1")).unwrap_err();
    firing.join().unwrap();
    match &err {
        Error::Interrupted {
            command,
            plugin,
            index,
            stopped,
        } => assert_eq!(
            (*command, plugin.as_str(), *index, *stopped),
            (Command::Del, "hang", 1, true)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), libcni::ErrorKind::Interrupted);
    assert_eq!(env.log(), lines(&["ADD p0", "DEL hang"]));
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
}

#[test]
fn invalid_identifiers_are_rejected_before_any_plugin_runs() {
    let env = Env::new();
    let good = three(&env);
    let cfg = env.cfg();
    let mut cases: Vec<(IdKind, NetworkConfigList, RuntimeConf)> = Vec::new();
    for id in ["", "-ctr", "a/b", "ctr 1", "../x"] {
        cases.push((IdKind::ContainerId, good.clone(), rt(id)));
    }
    for ifname in [
        "eth%d",
        "0123456789abcdef",
        "a/b",
        "",
        ".",
        "..",
        "a:b",
        "a b",
    ] {
        let mut r = rt("ctr1");
        r.ifname = ifname.into();
        cases.push((IdKind::IfName, good.clone(), r));
    }
    for name in ["a/b", "../x", "", "-net"] {
        let mut l = good.clone();
        l.name = name.into();
        cases.push((IdKind::NetworkName, l, rt("ctr1")));
    }
    for (kind, list, r) in &cases {
        let results = [
            cfg.add_network_list(list, r).map(|_| ()),
            cfg.check_network_list(list, r),
            cfg.del_network_list(list, r),
        ];
        for res in results {
            match res {
                Err(Error::InvalidIdentifier { kind: k, .. }) => {
                    assert_eq!(
                        k, *kind,
                        "{:?} {:?} {:?}",
                        list.name, r.container_id, r.ifname
                    )
                }
                other => panic!("{kind:?} {:?} {r:?}: {other:?}", list.name),
            }
        }
    }
    assert!(env.log().is_empty(), "{:?}", env.log());
    assert!(env.cached().is_empty());
}

#[test]
fn target_netns_checks_refuse_non_namespaces_and_the_callers_own() {
    let env = Env::new();
    let list = three(&env);
    let cfg = CniConfig::new(vec![env.plugins()], env.cache_dir());
    let file = env.dir.path().join("not-a-netns");
    fs::write(&file, "").unwrap();
    let targets: [(&Path, &str); 4] = [
        (&file, "regular file"),
        (Path::new("/nonexistent/netns/x"), "does not exist"),
        (
            Path::new("/proc/thread-self/ns/net"),
            "own network namespace",
        ),
        (env.dir.path(), "directory"),
    ];
    for (path, why) in targets {
        let mut r = rt("ctr1");
        r.netns = path.to_owned();
        for res in [
            cfg.add_network_list(&list, &r).map(|_| ()),
            cfg.check_network_list(&list, &r),
        ] {
            match res {
                Err(Error::Netns { path: p, reason }) => {
                    assert_eq!(p, path);
                    assert!(reason.contains(why), "{path:?}: {reason}");
                }
                other => panic!("{path:?}: {other:?}"),
            }
        }
    }
    assert!(env.log().is_empty(), "{:?}", env.log());
    assert!(env.cached().is_empty());
}

#[test]
fn validate_network_list_reports_plugins_without_the_version() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("p1", Mode::Ok);
    let ok = list(
        "1.0.0",
        &["p0", "p1"],
        json!({}),
        json!({"capabilities": {"portMappings": true, "bandwidth": false}}),
    );
    assert_eq!(
        env.cfg().validate_network_list(&ok).unwrap(),
        ["portMappings"]
    );
    assert_eq!(env.log(), lines(&["VERSION p0", "VERSION p1"]));

    let too_new = list("1.1.0", &["p0", "p1"], json!({}), json!({}));
    match env.cfg().validate_network_list(&too_new) {
        Err(Error::Multiple { errors }) => {
            assert_eq!(errors.len(), 2);
            for (e, name) in errors.iter().zip(["p0", "p1"]) {
                match e {
                    Error::PluginVersionUnsupported {
                        plugin,
                        version,
                        supported,
                    } => {
                        assert_eq!((plugin.as_str(), version.as_str()), (name, "1.1.0"));
                        assert_eq!(supported, &["0.3.0", "0.3.1", "0.4.0", "1.0.0"]);
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        other => panic!("{other:?}"),
    }
}

/// The real Debian plugins (1.1.1) answer VERSION up to 1.0.0.
#[test]
fn validate_network_list_with_real_plugins() {
    let dirs = vec![PathBuf::from("/usr/lib/cni")];
    if !testsupport::prerequisite(
        "validate_network_list_with_real_plugins",
        "plugins",
        (!dirs[0].join("bridge").exists()).then(|| "the reference plugins in /usr/lib/cni".into()),
    ) {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let cfg = CniConfig::new(dirs, cache.path());
    let ok = list("1.0.0", &["bridge", "portmap"], json!({}), json!({}));
    cfg.validate_network_list(&ok).unwrap();
    let too_new = list("1.1.0", &["bridge", "nosuchplugin"], json!({}), json!({}));
    match cfg.validate_network_list(&too_new) {
        Err(Error::Multiple { errors }) => {
            assert!(
                matches!(&errors[0], Error::PluginVersionUnsupported { plugin, version, .. } if plugin == "bridge" && version == "1.1.0"),
                "{errors:?}"
            );
            assert!(
                matches!(&errors[1], Error::PluginNotFound { plugin, .. } if plugin == "nosuchplugin"),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrent_adds_of_one_attachment_run_the_plugins_once() {
    let env = Env::new();
    // A slow plugin widens the window between the cache check and the cache write.
    let slow = format!(
        "#!/bin/sh\ncat >/dev/null\necho \"$CNI_COMMAND slow\" >>'{}'\nsleep 0.5\nprintf '%s' '{RESULT}'\n",
        env.log_path().display()
    );
    write_script(&env.plugins(), "slow", &slow);
    let list = list("1.0.0", &["slow"], json!({}), json!({}));
    let cfg = env.cfg();
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| cfg.add_network_list(&list, &rt("ctr1"))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::AlreadyAttached { .. })))
        .count();
    assert_eq!((ok, refused), (1, 1), "{outcomes:?}");
    assert_eq!(env.log(), lines(&["ADD slow"]));
}

/// The rollback is best effort: a DEL that times out does not stop the DELs before it.
#[test]
fn rollback_goes_on_past_a_failing_del() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("hang", Mode::HangAddDel);
    let list = list("1.0.0", &["p0", "hang"], json!({}), json!({}));
    let exec = RawExec {
        timeout: Some(Duration::from_millis(500)),
        grace: Duration::from_millis(100),
        ..RawExec::default()
    };
    let cfg = CniConfig::new(vec![env.plugins()], env.cache_dir())
        .with_exec(Arc::new(exec))
        .with_netns_checks(false);
    match cfg.add_network_list(&list, &rt("ctr1")).unwrap_err() {
        Error::AddFailed {
            error, rollback, ..
        } => {
            assert!(
                matches!(
                    *error,
                    Error::PluginTimeout {
                        index: 1,
                        command: Command::Add,
                        ..
                    }
                ),
                "{error:?}"
            );
            let rollback = rollback.expect("the rollback DEL of hang timed out");
            assert!(
                matches!(
                    *rollback,
                    Error::PluginTimeout {
                        index: 1,
                        command: Command::Del,
                        ..
                    }
                ),
                "{rollback:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD hang", "DEL hang", "DEL p0"])
    );
    // The rollback failed: the entry stays (without a result), so that DEL finds it...
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
    let entry = cfg.get_cached_attachment("apinet", &rt("ctr1")).unwrap();
    let att = entry.as_ref().and_then(|e| e.attachment()).unwrap();
    assert_eq!(att.result, None);
    assert_eq!(att.netns.as_deref(), Some("/var/run/netns/api-test"));
    // ...and once a DEL succeeds, it is gone.
    env.plugin("hang", Mode::Ok);
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert!(env.cached().is_empty());
}

/// The rollback error says where the attachment is still recorded.
#[test]
fn failed_rollback_keeps_the_cache_entry_and_names_it() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    let faildel = format!(
        "#!/bin/sh\ncat >/dev/null\necho \"$CNI_COMMAND faildel\" >>'{}'\n\
         echo '{{\"code\":11,\"msg\":\"busy\"}}'; exit 1\n",
        env.log_path().display()
    );
    write_script(&env.plugins(), "faildel", &faildel);
    let list = list("1.0.0", &["p0", "faildel"], json!({}), json!({}));
    let cfg = env.cfg();
    let err = cfg.add_network_list(&list, &rt("ctr1")).unwrap_err();
    let path = env.cache_dir().join("results/apinet-ctr1-eth0");
    match &err {
        Error::AddFailed {
            rollback: Some(_),
            kept: Some(kept),
            ..
        } => assert_eq!(kept, &path),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().ends_with(&format!(
            "the attachment stays recorded in {} until a DEL of it succeeds)",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(
        env.log(),
        lines(&["ADD p0", "ADD faildel", "DEL faildel", "DEL p0"])
    );
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
    // A second ADD is refused (the entry is there), a DEL that fails keeps it, one that
    // succeeds removes it.
    assert!(matches!(
        cfg.add_network_list(&list, &rt("ctr1")),
        Err(Error::AlreadyAttached { .. })
    ));
    assert!(cfg.del_network_list(&list, &rt("ctr1")).is_err());
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
    env.plugin("faildel", Mode::Ok);
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert!(env.cached().is_empty());
}

/// The spec keys an attachment by container ID and interface name: ADD of a second network
/// on the same interface is refused before any plugin runs (its rollback DEL would delete
/// the first network's interface), naming the network that holds it.
#[test]
fn add_of_an_interface_another_network_holds_is_refused_before_any_plugin_runs() {
    let env = Env::new();
    let first = three(&env);
    let second = list(
        "1.0.0",
        &["p0", "p1", "p2"],
        json!({"name": "othernet"}),
        json!({}),
    );
    let cfg = env.cfg();
    cfg.add_network_list(&first, &rt("ctr1")).unwrap();
    fs::write(env.log_path(), "").unwrap();
    let before = fs::read(cfg.cache().path("apinet", "ctr1", "eth0")).unwrap();
    for planned in [true, false] {
        let err = if planned {
            cfg.plan_network_list(Command::Add, &second, &rt("ctr1"))
                .unwrap_err()
        } else {
            cfg.add_network_list(&second, &rt("ctr1")).unwrap_err()
        };
        match &err {
            Error::InterfaceInUse {
                ifname,
                other_network,
                other_container_id,
                path,
            } => {
                assert_eq!(ifname, "eth0");
                assert_eq!(
                    (other_network.as_str(), other_container_id.as_str()),
                    ("apinet", "ctr1")
                );
                assert_eq!(path, &env.cache_dir().join("results/apinet-ctr1-eth0"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.kind(), libcni::ErrorKind::State);
        assert!(
            err.to_string().starts_with(
                "interface \"eth0\" is already attached to network \"apinet\" (container \"ctr1\""
            ),
            "{err}"
        );
    }
    assert_eq!(env.log(), Vec::<String>::new(), "no plugin ran");
    assert_eq!(env.cached(), ["apinet-ctr1-eth0"]);
    assert_eq!(
        fs::read(cfg.cache().path("apinet", "ctr1", "eth0")).unwrap(),
        before
    );
    // Another interface name, or another container, is another attachment.
    let mut eth1 = rt("ctr1");
    eth1.ifname = "eth1".into();
    cfg.add_network_list(&second, &eth1).unwrap();
    cfg.add_network_list(&second, &rt("ctr2")).unwrap();
    assert_eq!(
        env.cached(),
        [
            "apinet-ctr1-eth0",
            "othernet-ctr1-eth1",
            "othernet-ctr2-eth0"
        ]
    );
}

/// Two ADDs of one interface on two networks at once: the lock covers the check, so one
/// runs its plugins and the other is refused without running any.
#[test]
fn concurrent_adds_of_one_interface_on_two_networks_run_one_network() {
    let env = Env::new();
    let slow = format!(
        "#!/bin/sh\ncat >/dev/null\necho \"$CNI_COMMAND slow\" >>'{}'\nsleep 0.5\nprintf '%s' '{RESULT}'\n",
        env.log_path().display()
    );
    write_script(&env.plugins(), "slow", &slow);
    let lists = [
        list("1.0.0", &["slow"], json!({"name": "net-a"}), json!({})),
        list("1.0.0", &["slow"], json!({"name": "net-b"}), json!({})),
    ];
    let cfg = env.cfg();
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = lists
            .iter()
            .map(|l| s.spawn(|| cfg.add_network_list(l, &rt("ctr1"))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::InterfaceInUse { .. })))
        .count();
    assert_eq!((ok, refused), (1, 1), "{outcomes:?}");
    assert_eq!(env.log(), lines(&["ADD slow"]));
    assert_eq!(env.cached().len(), 1);
}

/// `a-b` + container `c` and `a` + container `b-c` share a cache file name: a DEL of the
/// never-added second leaves the first's file alone.
#[test]
fn del_of_a_never_added_attachment_leaves_a_colliding_file_alone() {
    let env = Env::new();
    for p in ["p0", "p1", "p2"] {
        env.plugin(p, Mode::Ok);
    }
    let ab = list("1.0.0", &["p0"], json!({"name": "a-b"}), json!({}));
    let a = list("1.0.0", &["p0"], json!({"name": "a"}), json!({}));
    let cfg = env.cfg();
    cfg.add_network_list(&ab, &rt("c")).unwrap();
    let path = cfg.cache().path("a-b", "c", "eth0");
    assert_eq!(path, cfg.cache().path("a", "b-c", "eth0"));
    let before = fs::read(&path).unwrap();
    cfg.del_network_list(&a, &rt("b-c")).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "the other attachment's file"
    );
    // Its own DEL still finds it, with its cached result.
    cfg.del_network_list(&ab, &rt("c")).unwrap();
    assert!(env.stdin("p0", "DEL").get("prevResult").is_some());
    assert!(env.cached().is_empty());
}

/// GC forwards the caller's valid attachments unchanged, those not in our cache included
/// (as Go does): a plugin frees the addresses of every attachment left out of the list.
#[test]
fn gc_forwards_valid_attachments_missing_from_the_cache() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    let list = list("1.1.0", &["p0"], json!({}), json!({}));
    let cfg = env.cfg();
    cfg.add_network_list(&list, &rt("ctr-a")).unwrap();
    cfg.add_network_list(&list, &rt("ctr-stale")).unwrap();
    let elsewhere = GcAttachment {
        container_id: "ctr-elsewhere".into(),
        ifname: "net1".into(),
    };
    let valid = [
        elsewhere.clone(),
        GcAttachment {
            container_id: "ctr-a".into(),
            ifname: "eth0".into(),
        },
    ];
    let report = cfg.gc_network_list(&list, &valid).unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(report.deleted[0].container_id, "ctr-stale");
    assert_eq!(env.cached(), ["apinet-ctr-a-eth0"]);
    // As given, in the caller's order.
    let want = json!([
        {"containerID": "ctr-elsewhere", "ifname": "net1"},
        {"containerID": "ctr-a", "ifname": "eth0"},
    ]);
    let gc = env.stdin("p0", "GC");
    assert_eq!(gc["cni.dev/valid-attachments"], want, "{gc}");
    assert_eq!(gc["cni.dev/attachments"], want, "{gc}");
    cfg.del_network_list(&list, &rt("ctr-a")).unwrap();
}

#[test]
fn check_restores_cached_args_too() {
    let env = Env::new();
    env.plugin("pm", Mode::Ok);
    let list = list(
        "1.0.0",
        &["pm"],
        json!({}),
        json!({"capabilities": {"portMappings": true}}),
    );
    let cfg = env.cfg();
    let mut add_rt = rt("ctr1");
    add_rt.args = vec![("K".into(), "V".into())];
    add_rt
        .capability_args
        .insert("portMappings".into(), json!([]));
    cfg.add_network_list(&list, &add_rt).unwrap();
    cfg.check_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(
        env.stdin("pm", "CHECK")["runtimeConfig"],
        json!({"portMappings": []})
    );
    assert_eq!(env.cni_args("pm", "CHECK"), "K=V");
    // Arguments given on DEL win over the cached ones.
    let mut del_rt = rt("ctr1");
    del_rt.args = vec![("K".into(), "other".into())];
    cfg.del_network_list(&list, &del_rt).unwrap();
    assert_eq!(env.cni_args("pm", "DEL"), "K=other");
}

/// The plan of a dry run is byte for byte what the plugins then really receive: the first
/// plugin of ADD, and every plugin of CHECK and DEL (whose `prevResult` comes from the cache).
#[test]
fn plans_match_what_plugins_receive() {
    let env = Env::new();
    let list = three(&env);
    let cfg = env.cfg();
    let mut rt = rt("ctr1");
    rt.args = vec![("K".into(), "v".into())];
    rt.capability_args = json!({"portMappings": [{"hostPort": 8080, "containerPort": 80}]})
        .as_object()
        .unwrap()
        .clone();

    let add = cfg.plan_network_list(Command::Add, &list, &rt).unwrap();
    assert_eq!(add.len(), 3);
    assert!(env.log().is_empty(), "planning runs nothing");
    assert!(env.cached().is_empty(), "planning writes nothing");
    assert!(!add[0].prev_result_pending && add[1].prev_result_pending);
    cfg.add_network_list(&list, &rt).unwrap();
    let got: Value = serde_json::from_slice(&add[0].stdin).unwrap();
    assert_eq!(got, env.stdin("p0", "ADD"));
    let cni_args = add[0].env.iter().find(|(k, _)| *k == "CNI_ARGS").unwrap();
    assert_eq!(cni_args.1, env.cni_args("p0", "ADD"));

    // DEL and CHECK without the arguments: restored from the cache in the plan too.
    let bare = rt_without_args(&rt);
    for (command, verb) in [(Command::Check, "CHECK"), (Command::Del, "DEL")] {
        let plan = cfg.plan_network_list(command, &list, &bare).unwrap();
        let order: Vec<&str> = plan.iter().map(|c| c.plugin.as_str()).collect();
        let want: &[&str] = if command == Command::Del {
            &["p2", "p1", "p0"]
        } else {
            &["p0", "p1", "p2"]
        };
        assert_eq!(order, want);
        if command == Command::Check {
            cfg.check_network_list(&list, &bare).unwrap();
        } else {
            cfg.del_network_list(&list, &bare).unwrap();
        }
        for call in &plan {
            let got: Value = serde_json::from_slice(&call.stdin).unwrap();
            assert_eq!(got, env.stdin(&call.plugin, verb), "{verb} {}", call.plugin);
            assert!(got.get("prevResult").is_some());
            let args = call.env.iter().find(|(k, _)| *k == "CNI_ARGS").unwrap();
            assert_eq!(args.1, env.cni_args(&call.plugin, verb));
        }
    }

    // After DEL there is nothing to CHECK, and planning a second ADD is fine.
    let err = cfg
        .plan_network_list(Command::Check, &list, &bare)
        .unwrap_err();
    assert!(matches!(err, Error::NotAttached { .. }), "{err}");
    assert_eq!(
        cfg.plan_network_list(Command::Add, &list, &rt)
            .unwrap()
            .len(),
        3
    );
}

fn rt_without_args(rt: &RuntimeConf) -> RuntimeConf {
    RuntimeConf {
        args: Vec::new(),
        capability_args: Default::default(),
        ..rt.clone()
    }
}

/// An observer that keeps the version choices it hears of.
#[derive(Debug, Default)]
struct Choices(std::sync::Mutex<Vec<String>>);

impl libcni::invoke::Observer for Choices {
    fn plugin_call(&self, _: &libcni::invoke::PluginCall<'_>) {}

    fn version_chosen(&self, network: &str, version: &str, candidates: &[String]) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{network} {version} of {}", candidates.join(",")));
    }
}

/// `"cniVersions": ["1.0.0", "1.1.0"]` with plugins that support up to 1.0.0: the list runs
/// at 1.0.0, the highest version the library and every plugin support; each plugin is asked
/// VERSION once, and the answers are reused by later verbs; the observer hears the choice.
#[test]
fn cni_versions_step_down_to_what_every_plugin_supports() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    env.plugin("p1", Mode::Ok);
    let two = |versions: Value| {
        list(
            "",
            &["p0", "p1"],
            json!({"cniVersions": versions}),
            json!({}),
        )
    };
    let list = two(json!(["1.0.0", "1.1.0"]));
    assert_eq!(list.cni_version, "1.1.0");
    assert_eq!(list.cni_versions, ["1.1.0", "1.0.0"]);
    let choices = Arc::new(Choices::default());
    let cfg = env.cfg().with_observer(choices.clone());
    cfg.add_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(env.stdin("p0", "ADD")["cniVersion"], "1.0.0");
    assert_eq!(env.stdin("p1", "ADD")["cniVersion"], "1.0.0");
    cfg.check_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(env.stdin("p1", "CHECK")["cniVersion"], "1.0.0");
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert_eq!(env.stdin("p0", "DEL")["cniVersion"], "1.0.0");
    assert_eq!(
        env.log(),
        lines(&[
            "VERSION p0",
            "VERSION p1",
            "ADD p0",
            "ADD p1",
            "CHECK p0",
            "CHECK p1",
            "DEL p1",
            "DEL p0"
        ])
    );
    assert_eq!(
        *choices.0.lock().unwrap(),
        ["apinet 1.0.0 of 1.1.0,1.0.0"; 3]
    );

    // No candidate suits every plugin: refused before any ADD, naming what each supports.
    let old = two(json!(["1.1.0", "0.2.0"]));
    let err = env.cfg().add_network_list(&old, &rt("ctr2")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "network \"apinet\": no version of 1.1.0, 0.2.0 is supported by every plugin (p0 \
         supports 0.3.0, 0.3.1, 0.4.0, 1.0.0; p1 supports 0.3.0, 0.3.1, 0.4.0, 1.0.0)"
    );
    assert_eq!(env.log()[8..], lines(&["VERSION p0", "VERSION p1"]));
    assert!(env.cached().is_empty());
}

/// A list without `cniVersion` is 0.1.0 for result conversion, as in Go: the cached-result
/// getter and `convert_to("")` give a 0.1.0 result instead of failing.
#[test]
fn empty_version_converts_as_0_1_0() {
    let env = Env::new();
    env.plugin("p0", Mode::Ok);
    let list = list("", &["p0"], json!({}), json!({}));
    assert_eq!(list.cni_version, "");
    let cfg = env.cfg();
    let result = cfg.add_network_list(&list, &rt("ctr1")).unwrap();
    let converted = result.convert_to("").unwrap();
    assert_eq!(converted.version(), "0.1.0");
    let cached = cfg.get_cached_result(&list, &rt("ctr1")).unwrap().unwrap();
    assert_eq!(cached.version(), "0.1.0");
    assert_eq!(
        String::from_utf8(cached.to_json()).unwrap(),
        r#"{"cniVersion":"0.1.0","ip4":{"ip":"10.199.0.5/24"},"dns":{}}"#
    );
    cfg.del_network_list(&list, &rt("ctr1")).unwrap();
    assert!(env.cached().is_empty());
}
