//! A single run, what the command sees, the sandbox, the runtime directory checks, status,
//! stop and gc.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::util::{rl_test, Bg};

/// 1 + 12: address, route, resolv.conf, uid 0 mapped to the user, the host's /var/lib and
/// /run, host-local's files in the generation, nothing left.
#[test]
fn single_run() {
    rl_test("single_run", |rl| {
        let file = rl.home.join("made-by-command");
        let script = format!(
            "echo UID $(id -u); echo ADDR $(ip -4 -o addr show eth0); \
             echo ROUTE $(ip route show default); echo RESOLV $(cat /etc/resolv.conf); \
             touch {f}; echo VARLIB $(ls /var/lib); echo RUN $(ls /run); \
             echo RESERVED $(ls $XDG_RUNTIME_DIR/cnitool/rootless-netns/gen/*/cni/networks/cnitool)",
            f = file.display()
        );
        let out = rl.run(["run", "--", "sh", "-c", &script]).ok();
        let field = |k: &str| -> String {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k} ")))
                .unwrap_or_else(|| panic!("{k} missing: {out:#?}"))
                .to_owned()
        };
        assert_eq!(field("UID"), "0", "uid 0 in the user namespace");
        assert!(field("ADDR").contains("inet 10.231.0."), "{out:#?}");
        assert!(
            field("ROUTE").starts_with("default via 10.231.0.1"),
            "{out:#?}"
        );
        let resolv = field("RESOLV");
        assert!(resolv.contains("nameserver 10.0.2.3"), "{resolv}");
        assert!(!resolv.contains("nameserver 127."), "{resolv}");
        // A file made as uid 0 inside belongs to the user outside.
        assert_eq!(fs::metadata(&file).unwrap().uid(), rl.uid);
        fs::remove_file(&file).unwrap();
        // The host's real /var/lib and /run, not the plugin sandbox's tmpfs.
        let host_var_lib: Vec<String> = fs::read_dir("/var/lib")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let seen_var_lib = field("VARLIB");
        for name in &host_var_lib {
            assert!(
                seen_var_lib.contains(name.as_str()),
                "{name} missing in {seen_var_lib}"
            );
        }
        let host_run: Vec<String> = fs::read_dir("/run")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for name in &host_run {
            assert!(
                field("RUN").contains(name.as_str()),
                "{name} missing in /run"
            );
        }
        // host-local's reservation lives in the generation (the sandbox's /var/lib/cni).
        assert!(field("RESERVED").contains("10.231.0."), "{out:#?}");
    });
}

/// 13: a mount made in the runner's view after the shared namespace started is seen by the
/// next command (its mount namespace is unshared from the runner's, not the holder's).
#[test]
fn mount_freshness() {
    rl_test("mount_freshness", |rl| {
        let a = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", "echo up; sleep 30"]));
        assert_eq!(a.line(), "up");
        let fresh = rl.tmp.path().join("fresh");
        fs::create_dir(&fresh).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &fresh,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("mode=755"),
        )
        .unwrap();
        fs::write(fresh.join("marker"), "x").unwrap();
        let out = rl
            .run(["run", "--", "cat", fresh.join("marker").to_str().unwrap()])
            .ok();
        assert_eq!(out.stdout, "x");
        nix::mount::umount2(&fresh, nix::mount::MntFlags::MNT_DETACH).unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(a.pid()),
            nix::sys::signal::Signal::SIGTERM,
        );
        let (st, _) = a.finish();
        assert_eq!(st.code(), Some(143));
    });
}

/// 11: XDG_RUNTIME_DIR unset: the fallback under TMPDIR, with a warning. Refused: owned by
/// someone else, group-writable, a symbolic link.
#[test]
fn runtime_dir_checks() {
    rl_test("runtime_dir_checks", |rl| {
        let tmpdir = rl.tmp.path().join("tmpdir");
        rl.user_dir(&tmpdir, 0o700);
        let out = crate::util::wait_out(
            rl.cmd_env(
                ["run", "--", "true"],
                &[
                    ("XDG_RUNTIME_DIR", ""),
                    ("TMPDIR", tmpdir.to_str().unwrap()),
                ],
            )
            .spawn()
            .unwrap(),
        )
        .ok();
        assert!(out.stderr.contains("XDG_RUNTIME_DIR is unset"), "{out:#?}");
        let fallback = tmpdir.join(format!("cnitool-{}", rl.uid));
        assert!(fallback.join("cnitool/rootless-netns/lock").exists());
        assert_eq!(
            fs::read_dir(fallback.join("cnitool/rootless-netns/gen"))
                .unwrap()
                .count(),
            0
        );

        let root_owned = rl.tmp.path().join("root-owned");
        fs::create_dir(&root_owned).unwrap();
        let group_writable = rl.tmp.path().join("group-writable");
        rl.user_dir(&group_writable, 0o770);
        let link = rl.tmp.path().join("link");
        std::os::unix::fs::symlink(&rl.run, &link).unwrap();
        for (dir, why) in [
            (&root_owned, "is owned by uid 0"),
            (&group_writable, "writable by group or others"),
            (&link, "is a symbolic link"),
        ] {
            let out = crate::util::wait_out(
                rl.cmd_env(
                    ["run", "--", "true"],
                    &[("XDG_RUNTIME_DIR", dir.to_str().unwrap())],
                )
                .spawn()
                .unwrap(),
            )
            .fails_with(why);
            assert!(out.stderr.contains("XDG_RUNTIME_DIR"), "{out:#?}");
            assert_eq!(out.code(), 125);
        }
    });
}

/// 4 (status) + 14: status lists the live run; stop refuses while it lives, --force works;
/// gc and stop on a clean state are no-ops.
#[test]
fn status_stop_gc() {
    rl_test("status_stop_gc", |rl| {
        let out = rl.run(["rootless", "status"]).ok();
        assert!(
            out.stdout.contains("no shared rootless namespace"),
            "{out:#?}"
        );
        let a = Bg::spawn(rl.cmd(["run", "--", "sh", "-c", "echo up; sleep 30"]));
        assert_eq!(a.line(), "up");
        let out = rl.run(["rootless", "status"]).ok();
        assert!(out.stdout.contains("runs: 1 live"), "{out:#?}");
        assert!(out.stdout.contains("slirp4netns"), "{out:#?}");
        let json = rl.run(["-o", "json", "rootless", "status"]).ok();
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["generations"][0]["runs"].as_array().unwrap().len(), 1);
        let out = rl.run(["rootless", "stop"]);
        let out = out.fails_with("still use the shared rootless namespace");
        assert!(out.stderr.contains("--force"), "{out:#?}");
        // --force ends the live run first: its command gets SIGTERM (sh dies of it: 143, the
        // run's status), the run is undone, then the namespace goes.
        let gen = rl.generations()[0].clone();
        let reserved = gen.join("cni/networks/cnitool");
        assert_eq!(
            fs::read_dir(&reserved).unwrap().count(),
            3,
            "lock, last, one lease"
        );
        let out = rl.run(["rootless", "stop", "--force"]).ok();
        assert!(
            out.stderr.contains("cnitool: ending rootless r"),
            "{out:#?}"
        );
        let err = a.finish_code(143);
        assert!(
            !err.contains("error"),
            "the run undid itself cleanly: {err}"
        );
        assert!(rl.generations().is_empty());
        let out = rl.run(["gc"]).ok();
        assert_eq!(out.stdout.trim(), "nothing to remove", "{out:#?}");
        rl.run(["rootless", "stop"]).ok();
    });
}

/// The binary in a directory the user cannot enter (a checkout under a 0700 home, started
/// through a descriptor): `run` re-executes itself for the namespace holder and the plugin
/// executor through `/proc/self/exe`, not by that path, so it works (it used to fail
/// "starting the namespace holder: Permission denied").
#[test]
fn run_from_a_path_the_user_cannot_reach() {
    rl_test("run_from_a_path_the_user_cannot_reach", |rl| {
        use std::os::unix::fs::PermissionsExt;
        let locked = rl.tmp.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
        let bin = locked.join("cnitool");
        fs::copy(env!("CARGO_BIN_EXE_cnitool"), &bin).unwrap();
        // The user cannot reach it by its path.
        let by_path = rl
            .cmd_bin(
                std::path::Path::new("/bin/sh"),
                ["-c", "test -x \"$0\"", bin.to_str().unwrap()],
                &[],
            )
            .status()
            .unwrap();
        assert!(!by_path.success(), "{} is reachable", bin.display());
        let out = crate::util::wait_out(
            rl.cmd_bin(&bin, ["run", "--", "sh", "-c", "echo ran as $(id -u)"], &[])
                .spawn()
                .unwrap(),
        )
        .ok();
        assert_eq!(out.stdout, "ran as 0\n", "{out:#?}");
    });
}
