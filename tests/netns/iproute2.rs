//! Interoperation with `ip netns`, both ways, in iproute2's own run directory: `/run/netns`
//! on a tmpfs that exists only in the throwaway mount namespace.

use std::path::Path;
use std::process::Command;

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

/// iproute2's own `ip netns exec NAME` puts `/etc/netns/NAME/hosts`, the file `cnitool add
/// NET NAME --name X` writes, over `/etc/hosts`: namespaces named on a network resolve each
/// other through it (one made by `ip netns add`, one by `cnitool netns create`), and `del`
/// takes the names away and removes the file and the directory `add` made.
#[test]
fn ip_netns_exec_resolves_the_names_add_writes() {
    if !root_or_skip("ip_netns_exec_resolves_the_names_add_writes") {
        return;
    }
    let mut env = Env::new();
    env.pass_run_dir = false;
    env.run_dir = "/run/netns".into();
    env.bridge_net("nn", "cnitest8", "10.99.8.0/24");
    in_throwaway_host(|| {
        mount_tmpfs("/run");
        private_etc_netns(&env);
        ip(&["netns", "add", "a"]);
        env.ok(&["netns", "create", "b"]);
        env.ok(&["add", "nn", "a", "--name", "alpha", "--alias", "al"]);
        env.ok(&["add", "nn", "b", "--name", "beta"]);
        assert!(Path::new("/etc/netns/a/hosts").is_file());
        assert!(Path::new("/etc/netns/b/hosts").is_file());

        let names = env.ok(&["-o", "json", "names", "nn"]);
        let addr = |name: &str| testsupport::image::name_address(names.as_bytes(), name);
        let (alpha, beta) = (addr("alpha"), addr("beta"));
        assert!(!alpha.is_empty() && !beta.is_empty(), "{names}");
        assert!(alpha.starts_with("10.99.8.") && beta.starts_with("10.99.8."));
        assert_ne!(alpha, beta);

        // `ip netns exec NS getent hosts NAMES`: exit code and lines, blanks collapsed.
        let getent = |ns: &str, names: &[&str]| -> (Option<i32>, String) {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "getent", "hosts"])
                .args(names)
                .output()
                .expect("running ip");
            let text = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
                .collect();
            (out.status.code(), text)
        };
        assert_eq!(
            getent("b", &["alpha", "al", "alpha.nn"]),
            (Some(0), format!("{alpha} alpha.nn alpha al\n").repeat(3))
        );
        // a's file was written before b was added: updated in place, seen by ip too.
        assert_eq!(
            getent("a", &["beta"]),
            (Some(0), format!("{beta} beta.nn beta\n"))
        );

        // del takes beta away from a's file, and b's file and directory go.
        env.ok(&["del", "nn", "b"]);
        assert_eq!(getent("a", &["beta"]), (Some(2), String::new()));
        assert!(!Path::new("/etc/netns/b").exists());
        env.ok(&["del", "nn", "a"]);
        assert!(!Path::new("/etc/netns/a").exists());
        assert_eq!(entries(Path::new("/etc/netns")), Vec::<String>::new());
        assert_eq!(env.ok(&["-o", "json", "names"]).trim(), "[]");

        ip(&["netns", "delete", "a"]);
        env.ok(&["netns", "delete", "b"]);
        assert_eq!(entries(&env.run_dir), Vec::<String>::new());
        assert_eq!(env.ipam_leases("nn"), Vec::<String>::new());
    });
}
