//! Security checks: plugin types never reach outside the plugin directories, hostile
//! identifiers never reach a path or a plugin, state files are private, and
//! `CNI_NETNS_OVERRIDE` never reaches a plugin.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::{figure, host_test, Host};

/// A plugin that notes each call (`<scratch>/calls`) and its environment, then passes
/// `prevResult` on.
fn spy(h: &Host) -> PathBuf {
    let calls = h.scratch.join("calls");
    h.script(
        "spy",
        &format!(
            r#"input=$(cat)
echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME" >> {calls}
env > {env}.$CNI_COMMAND
case "$CNI_COMMAND" in ADD) printf '%s' "$input" | jq -c '.prevResult // {{cniVersion: .cniVersion}}';; esac"#,
            calls = calls.display(),
            env = h.scratch.join("env").display()
        ),
    );
    calls
}

/// An executable outside the plugin dirs that leaves a marker if it ever runs.
fn canary(h: &Host) -> (PathBuf, PathBuf) {
    let outside = h.root.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let marker = h.scratch.join("canary-ran");
    let exe = outside.join("evil");
    fs::write(&exe, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    (exe, marker)
}

#[test]
fn plugin_type_paths_never_execute_outside_plugin_dirs() {
    host_test("plugin_type_paths_never_execute_outside_plugin_dirs", |h| {
        let (exe, marker) = canary(h);
        h.netns("ctr");
        h.rebaseline();
        let types = [
            exe.display().to_string(),
            "../outside/evil".to_owned(),
            "./../outside/evil".to_owned(),
            "..".to_owned(),
            "bin/../../outside/evil".to_owned(),
            "evil\0".to_owned(),
        ];
        let mut cases = 0;
        for ty in &types {
            for (i, plugins) in [
                json!([{"type": ty}]),
                json!([{"type": "bridge", "bridge": "relbr9", "ipam": {"type": ty}}]),
                json!([{"type": "loopback"}, {"type": ty}]),
            ]
            .into_iter()
            .enumerate()
            {
                h.conflist("evil", plugins);
                for args in [
                    &["add", "evil", "ctr"][..],
                    &["del", "evil", "ctr"],
                    &["check", "evil", "ctr"],
                    &["status", "evil"],
                    &["gc", "evil"],
                    &["run", "--net", "evil", "--", "true"],
                ] {
                    cases += 1;
                    let run = h.run(args);
                    assert!(
                        !marker.exists(),
                        "type {ty:?} (list {i}) ran {exe:?}: {run:#?}"
                    );
                    assert_ne!(run.code, 0, "type {ty:?} (list {i}) accepted: {run:#?}");
                    assert!(run.clear_failure().is_ok() || run.code == 125, "{run:#?}");
                }
                h.assert_clean(&format!("after plugin type {ty:?}"));
            }
        }
        fs::remove_file(h.conf.join("evil.conflist")).unwrap();
        figure(
            "security",
            format!("plugin types with paths: {cases} cases, 0 executions"),
        );
    });
}

/// Hostile identifiers on every verb: refused as usage errors (exit 2) before any plugin
/// runs or any file is created.
#[test]
fn hostile_identifiers_never_reach_a_path_or_plugin() {
    host_test("hostile_identifiers_never_reach_a_path_or_plugin", |h| {
        let calls = spy(h);
        h.conflist("idnet", json!([{"type": "spy"}]));
        h.netns("ctr");
        h.rebaseline();
        let long = "a".repeat(300);
        let hostile = [
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            "x%d",
            "a%2fb",
            "%",
            &long,
            "a b",
            ".",
        ];
        let mut cases = 0;
        for bad in hostile {
            let mut attempts: Vec<Vec<&str>> = vec![
                vec!["add", "idnet", "ctr", "--container-id", bad],
                vec!["del", "idnet", "ctr", "--container-id", bad],
                vec!["check", "idnet", "ctr", "--container-id", bad],
                vec!["add", "idnet", "ctr", "--ifname", bad],
                vec!["del", "idnet", "ctr", "--ifname", bad],
                vec!["add", bad, "ctr"],
                vec!["del", bad, "ctr"],
                vec!["gc", bad],
                vec!["status", bad],
                vec!["netns", "create", bad],
                vec!["netns", "delete", bad],
                vec!["run", "--net", bad, "--", "true"],
                vec!["run", "--netns", bad, "--net", "idnet", "--", "true"],
            ];
            let with_ifname = format!("idnet:{bad}");
            attempts.push(vec!["run", "--net", &with_ifname, "--", "true"]);
            if !bad.contains('/') && bad != "." && bad != ".." {
                // Bare names are namespace names (with '/', or '.' and '..', it is a path).
                attempts.push(vec!["add", "idnet", bad]);
            }
            for args in attempts {
                cases += 1;
                let run = h.run(&args);
                assert!(
                    run.code == 2 || (run.code == 125 && args[0] == "run"),
                    "{args:?}: want a usage error: {run:#?}"
                );
                assert!(
                    !calls.exists(),
                    "{args:?} reached a plugin: {:?}",
                    fs::read_to_string(&calls)
                );
                assert!(
                    h.snapshot().diff(h.baseline.as_ref().unwrap()).is_none(),
                    "{args:?}"
                );
            }
        }
        // NUL cannot travel in argv or the environment; the library refuses it on every verb.
        let cni = libcni::CniConfig::new(vec![h.bin.clone()], &h.cache);
        let list = libcni::conf::conf_list_from_bytes(
            br#"{"cniVersion":"1.0.0","name":"idnet","plugins":[{"type":"spy"}]}"#,
            None,
        )
        .unwrap();
        for (id, ifname) in [("a\0b", "eth0"), ("ok", "e\0th"), ("a/../b", "eth0")] {
            cases += 3;
            let rt = libcni::RuntimeConf {
                container_id: id.into(),
                netns: h.netns_dir.join("ctr"),
                ifname: ifname.into(),
                args: vec![],
                capability_args: Default::default(),
            };
            assert!(cni.add_network_list(&list, &rt).is_err());
            assert!(cni.del_network_list(&list, &rt).is_err());
            assert!(cni.check_network_list(&list, &rt).is_err());
            assert!(!calls.exists(), "{id:?}/{ifname:?} reached a plugin");
        }
        figure(
            "security",
            format!("hostile identifiers: {cases} cases, 0 reached a plugin or path"),
        );
    });
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Cache, record and lock files are 0600 in 0700 directories, even under umask 000.
#[test]
fn state_files_are_private() {
    host_test("state_files_are_private", |h| {
        spy(h);
        h.conflist("modes", json!([{"type": "spy"}]));
        h.netns("ctr");
        h.rebaseline();
        // umask is per process: the binary runs through sh with umask 000.
        let sh_umask = |args: &str| {
            let cmd = format!(
                "umask 000; exec {} --cache-dir {} --netns-dir {} {args}",
                env!("CARGO_BIN_EXE_cnitool"),
                h.cache.display(),
                h.netns_dir.display()
            );
            let out = std::process::Command::new("sh")
                .args(["-c", &cmd])
                .env("NETCONFPATH", &h.conf)
                .env("CNI_PATH", &h.bin)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args}: {out:?}");
        };
        sh_umask("add modes ctr");
        // A run in progress: its record exists while the command runs.
        let record_dir = h.cache.join("cnitool-runs");
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                &format!(
                    "umask 000; exec {} --cache-dir {} --netns-dir {} run --net modes -- sleep 30",
                    env!("CARGO_BIN_EXE_cnitool"),
                    h.cache.display(),
                    h.netns_dir.display()
                ),
            ])
            .env("NETCONFPATH", &h.conf)
            .env("CNI_PATH", &h.bin)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while fs::read_dir(&record_dir).map_or(true, |d| d.count() == 0) {
            assert!(
                std::time::Instant::now() < deadline,
                "no run record appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut checked = Vec::new();
        let mut stack = vec![h.cache.clone()];
        while let Some(d) = stack.pop() {
            assert_eq!(mode(&d), 0o700, "directory {}", d.display());
            checked.push(d.clone());
            for e in fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    assert_eq!(mode(&p), 0o600, "file {}", p.display());
                    checked.push(p);
                }
            }
        }
        let names: Vec<String> = checked
            .iter()
            .map(|p| p.strip_prefix(&h.cache).unwrap().display().to_string())
            .collect();
        for want in ["results", "cnitool-runs", "cnitool.lock"] {
            assert!(
                names.iter().any(|n| n.starts_with(want)),
                "{want} not seen in {names:?}"
            );
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        assert!(child.wait().unwrap().code().is_some());
        sh_umask("del modes ctr");
        figure(
            "security",
            format!("file modes: {} paths checked, all 0600/0700", checked.len()),
        );
    });
}

/// `CNI_NETNS_OVERRIDE` in cnitool's environment never reaches a plugin (ADD, CHECK, DEL,
/// and `run`).
#[test]
fn netns_override_never_reaches_plugins() {
    host_test("netns_override_never_reaches_plugins", |h| {
        spy(h);
        h.conflist("ovr", json!([{"type": "spy"}]));
        h.netns("ctr");
        h.rebaseline();
        let with_override = |args: &[&str]| {
            h.cnitool()
                .env("CNI_NETNS_OVERRIDE", "1")
                .args(args)
                .run()
                .ok();
        };
        let mut seen = 0;
        for args in [
            &["add", "ovr", "ctr"][..],
            &["check", "ovr", "ctr"],
            &["del", "ovr", "ctr"],
            &["run", "--net", "ovr", "--", "true"],
        ] {
            with_override(args);
            for cmd in ["ADD", "CHECK", "DEL"] {
                let p = h.scratch.join(format!("env.{cmd}"));
                if let Ok(env) = fs::read_to_string(&p) {
                    seen += 1;
                    assert!(!env.contains("CNI_NETNS_OVERRIDE"), "{args:?} {cmd}: {env}");
                    fs::remove_file(p).unwrap();
                }
            }
        }
        assert!(seen >= 5, "the spy saw {seen} calls");
        figure(
            "security",
            format!("CNI_NETNS_OVERRIDE: {seen} plugin calls, never passed"),
        );
    });
}
