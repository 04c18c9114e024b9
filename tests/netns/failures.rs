//! Failure paths of create and delete leave no file, mount, cache entry or lease behind.

use std::fs;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::util::*;

#[test]
fn create_never_clobbers_an_existing_file() {
    if !root_or_skip("create_never_clobbers_an_existing_file") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "taken"]);
        let inode = env.list()[0]["inode"].clone();
        let err = env.fails(5, &["netns", "create", "taken"]);
        assert!(err.contains("taken: already exists"), "{err}");
        assert_eq!(env.list()[0]["inode"], inode);
        env.ok(&["netns", "delete", "taken"]);

        // Also a plain file (a stale one, or anything else) is left alone.
        fs::write(env.run_dir.join("file"), "keep me").unwrap();
        env.fails(5, &["netns", "create", "file"]);
        assert_eq!(
            fs::read_to_string(env.run_dir.join("file")).unwrap(),
            "keep me"
        );
        assert_eq!(env.run_dir_mounts(), (1, 0));
        // Listed as stale, and deleted like one.
        let table = env.ok(&["netns", "list"]);
        assert!(table.contains("file  stale"), "{table}");
        env.ok(&["netns", "delete", "file"]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
    });
}

#[test]
fn create_in_a_read_only_run_dir_leaves_nothing() {
    if !root_or_skip("create_in_a_read_only_run_dir_leaves_nothing") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        fs::create_dir(&env.run_dir).unwrap();
        let bind = |flags: MsFlags| {
            let src = Some(env.run_dir.as_path()).filter(|_| !flags.contains(MsFlags::MS_REMOUNT));
            mount(src, &env.run_dir, None::<&str>, flags, None::<&str>).unwrap();
        };
        bind(MsFlags::MS_BIND);
        bind(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY);
        let err = env.fails(1, &["netns", "create", "ro"]);
        assert!(err.contains("Read-only file system"), "{err}");
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
    });
}

#[test]
fn failed_attach_rolls_everything_back() {
    if !root_or_skip("failed_attach_rolls_everything_back") {
        return;
    }
    let env = Env::new();
    env.bridge_net("good", "cnitest0", "10.99.1.0/24");
    env.netconf("broken", "1.0.0", r#"{"type": "no-such-plugin"}"#);
    in_throwaway_host(|| {
        // An unknown network: nothing is created, not even the run dir.
        let err = env.fails(
            3,
            &[
                "netns", "create", "n", "--attach", "good", "--attach", "nope",
            ],
        );
        assert!(err.contains(r#""nope""#), "{err}");
        assert!(!env.run_dir.exists());

        // The second ADD fails: the first is DELeted, then the namespace.
        let err = env.fails(
            3,
            &[
                "netns", "create", "n", "--attach", "good", "--attach", "broken",
            ],
        );
        assert!(
            err.contains(r#"creating network namespace "n" (rolled back)"#),
            "{err}"
        );
        assert!(err.contains(r#"adding network "broken" as eth1"#), "{err}");
        assert!(err.contains("no-such-plugin"), "{err}");
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
        assert_eq!(env.cache_files(), Vec::<String>::new());
        assert_eq!(env.ipam_leases("good"), Vec::<String>::new());
        // The host side of the veth went with the DEL.
        assert!(!ip(&["-o", "link", "show"]).contains("veth"));
    });
}

#[test]
fn failed_del_keeps_the_namespace_for_a_retry() {
    if !root_or_skip("failed_del_keeps_the_namespace_for_a_retry") {
        return;
    }
    let mut env = Env::new();
    env.bridge_net("good", "cnitest1", "10.99.2.0/24");
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "n", "--attach", "good"]);
        // No plugins to run DEL with.
        let real_plugins = std::mem::replace(&mut env.plugin_dir, env.base.clone());
        let err = env.fails(3, &["netns", "delete", "--force", "n"]);
        assert!(
            err.contains(r#"deleting network "good" (eth0) from network namespace "n" (the namespace is kept)"#),
            "{err}"
        );
        assert_eq!(entries(&env.run_dir), ["n"]);
        assert_eq!(env.run_dir_mounts(), (1, 1));
        assert_eq!(env.cache_files().len(), 1);

        env.plugin_dir = real_plugins;
        env.ok(&["netns", "delete", "--force", "n"]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
        assert_eq!(env.cache_files(), Vec::<String>::new());
        assert_eq!(env.ipam_leases("good"), Vec::<String>::new());
    });
}

#[test]
fn deleting_a_missing_namespace() {
    if !root_or_skip("deleting_a_missing_namespace") {
        return;
    }
    let env = Env::new();
    in_throwaway_host(|| {
        let err = env.fails(5, &["netns", "delete", "ghost"]);
        assert!(err.contains("ghost: does not exist"), "{err}");
        env.ok(&["netns", "delete", "--force", "ghost"]);

        // Several names: each is tried, every failure reported, the existing one deleted.
        env.ok(&["netns", "create", "real"]);
        let err = env.fails(5, &["netns", "delete", "ghost1", "real", "ghost2"]);
        assert!(err.contains("ghost1: does not exist"), "{err}");
        assert!(err.contains("ghost2: does not exist"), "{err}");
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
    });
}

#[test]
fn force_delete_of_a_stale_file_with_attachments() {
    if !root_or_skip("force_delete_of_a_stale_file_with_attachments") {
        return;
    }
    let env = Env::new();
    env.bridge_net("good", "cnitest3", "10.99.5.0/24");
    in_throwaway_host(|| {
        env.ok(&["netns", "create", "n", "--attach", "good"]);
        // What an unmount by hand leaves: the file, no namespace, a cache entry.
        umount2(&env.run_dir.join("n"), MntFlags::MNT_DETACH).unwrap();
        let listed = env.list();
        assert_eq!(listed[0]["inode"], serde_json::Value::Null);
        assert_eq!(listed[0]["networks"][0]["network"], "good");
        env.fails(5, &["netns", "delete", "n"]);
        env.ok(&["netns", "delete", "--force", "n"]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.cache_files(), Vec::<String>::new());
        assert_eq!(env.ipam_leases("good"), Vec::<String>::new());
    });
}
