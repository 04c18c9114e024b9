//! Create, list, delete; names; a run directory that does not exist yet.

use std::fs;
use std::os::unix::fs::MetadataExt;

use crate::util::*;

#[test]
fn create_list_delete_round_trip() {
    if !root_or_skip("create_list_delete_round_trip") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        assert_eq!(env.ok(&["netns", "create", "blue"]), "");
        env.ok(&["netns", "create", "--no-lo", "red"]);

        // lo is up by default, down with --no-lo.
        let lo = env.ok(&["netns", "exec", "blue", "ip", "-o", "link", "show", "lo"]);
        assert!(link_is_up(&lo), "{lo}");
        let lo = env.ok(&["netns", "exec", "red", "ip", "-o", "link", "show", "lo"]);
        assert!(!link_is_up(&lo), "{lo}");

        let listed = env.list();
        assert_eq!(listed.len(), 2);
        for (entry, name) in listed.iter().zip(["blue", "red"]) {
            let path = env.run_dir.join(name);
            assert_eq!(entry["name"], name);
            assert_eq!(entry["path"], path.to_str().unwrap());
            assert_eq!(entry["inode"], fs::metadata(&path).unwrap().ino());
            assert_eq!(entry["processes"], 0);
            assert_eq!(entry["networks"], serde_json::json!([]));
        }
        assert_ne!(listed[0]["inode"], listed[1]["inode"]);

        let table = env.ok(&["netns", "list"]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("NAME  INODE"), "{table}");
        assert!(
            lines[1].starts_with("blue  ") && lines[1].ends_with(" 0          -"),
            "{table}"
        );
        assert!(lines[2].starts_with("red   "), "{table}");
        // The alias.
        assert_eq!(env.ok(&["netns", "ls"]), table);

        assert_eq!(env.run_dir_mounts(), (1, 2));
        env.ok(&["netns", "delete", "blue", "red"]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
        assert_eq!(env.list(), Vec::<serde_json::Value>::new());
    });
}

#[test]
fn list_counts_processes() {
    if !root_or_skip("list_counts_processes") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "busy"]);
        let mut child = env
            .cmd(&["netns", "exec", "busy", "sleep", "30"])
            .spawn()
            .unwrap();
        let mut seen = 0;
        for _ in 0..100 {
            seen = env.list()[0]["processes"].as_u64().unwrap();
            if seen == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(seen, 1);
        assert_eq!(env.list()[0]["processes"], 0);
        env.ok(&["netns", "delete", "busy"]);
    });
}

#[test]
fn invalid_names_are_refused_with_the_rule() {
    if !root_or_skip("invalid_names_are_refused_with_the_rule") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        let long = "n".repeat(65);
        for name in [
            "", ".", "..", ".hidden", "-x", "a/b", "../up", "a b", "é", &long,
        ] {
            for args in [
                // `--` so that "-x" is a name, not an unknown option.
                vec!["netns", "create", "--", name],
                vec!["netns", "exec", "--", name, "true"],
                vec!["netns", "delete", "--", name],
                vec!["netns", "delete", "--force", "--", name],
            ] {
                let err = env.fails(2, &args);
                assert!(
                    err.contains(
                        "must be 1 to 64 characters of A-Z a-z 0-9 _ . - and must not start \
                         with '.' or '-'"
                    ),
                    "{args:?}: {err}"
                );
            }
        }
        // 64 characters is fine.
        env.ok(&["netns", "create", &"n".repeat(64)]);
        env.ok(&["netns", "delete", &"n".repeat(64)]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
    });
}

#[test]
fn run_dir_that_does_not_exist_yet() {
    if !root_or_skip("run_dir_that_does_not_exist_yet") {
        return;
    }
    let mut env = Env::new();
    env.run_dir = env.base.join("a/b/netns");
    in_throwaway_host(|| {
        assert_eq!(env.list(), Vec::<serde_json::Value>::new());
        assert_eq!(
            env.ok(&["netns", "list"]),
            "NAME  INODE  PROCESSES  NETWORK  IFNAME  ADDRESSES\n"
        );
        assert!(!env.run_dir.exists(), "list must not create the run dir");
        env.ok(&["netns", "create", "first"]);
        let meta = fs::metadata(&env.run_dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(env.run_dir_mounts(), (1, 1));
        assert_eq!(env.list()[0]["name"], "first");
        env.ok(&["netns", "delete", "first"]);
        assert_eq!(env.run_dir_mounts(), (1, 0));
    });
}

#[test]
fn parallel_creates_leave_one_run_dir_mount() {
    if !root_or_skip("parallel_creates_leave_one_run_dir_mount") {
        return;
    }
    const N: usize = 50;
    let env = Env::new();
    in_throwaway_host(|| {
        let names: Vec<String> = (0..N).map(|i| format!("p{i}")).collect();
        let children: Vec<_> = names
            .iter()
            .map(|n| {
                env.cmd(&["netns", "create", "--no-lo", n])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (child, name) in children.into_iter().zip(&names) {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{name}: {}", show(&out));
        }
        assert_eq!(env.run_dir_mounts(), (1, N));
        let listed = env.list();
        assert_eq!(listed.len(), N);
        let inodes: std::collections::HashSet<u64> = listed
            .iter()
            .map(|e| e["inode"].as_u64().unwrap())
            .collect();
        assert_eq!(inodes.len(), N);

        let mut args = vec!["netns", "delete"];
        args.extend(names.iter().map(String::as_str));
        env.ok(&args);
        assert_eq!(env.run_dir_mounts(), (1, 0));
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
    });
}
