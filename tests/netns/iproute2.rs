//! Interoperation with `ip netns`, both ways, in iproute2's own run directory: `/run/netns`
//! on a tmpfs that exists only in the throwaway mount namespace.

use crate::util::*;

#[test]
fn iproute2_and_cnitool_share_run_netns() {
    if !root_or_skip("iproute2_and_cnitool_share_run_netns") {
        return;
    }
    let mut env = Env::new();
    // The default run directory for root: /run/netns.
    env.pass_run_dir = false;
    env.run_dir = "/run/netns".into();
    in_throwaway_host(|| {
        mount_tmpfs("/run");

        // Ours, used by ip.
        env.ok(&["netns", "create", "ours"]);
        assert!(env.run_dir.join("ours").exists());
        let lo = ip(&["netns", "exec", "ours", "ip", "-o", "link", "show", "lo"]);
        assert!(link_is_up(&lo), "{lo}");
        assert!(ip(&["netns", "list"])
            .lines()
            .any(|l| l.starts_with("ours")));

        // Theirs, used by us.
        ip(&["netns", "add", "theirs"]);
        let lo = env.ok(&["netns", "exec", "theirs", "ip", "-o", "link", "show", "lo"]);
        assert!(!link_is_up(&lo), "ip netns add leaves lo down: {lo}");
        let listed = env.list();
        let names: Vec<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ours", "theirs"]);
        assert!(listed.iter().all(|e| e["inode"].is_u64()));

        // One shared mount on the run dir, whoever set it up first.
        assert_eq!(env.run_dir_mounts(), (1, 2));

        // Each deletes the other's.
        env.ok(&["netns", "delete", "theirs"]);
        ip(&["netns", "delete", "ours"]);
        assert_eq!(ip(&["netns", "list"]), "");
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.run_dir_mounts(), (1, 0));
    });
}
