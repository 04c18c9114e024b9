//! podman: private storage and run directories in the throwaway host, runc (crun refuses this
//! machine's cgroup setup) with ulimits root may set, the busybox image imported, every
//! scenario.

use std::time::Duration;

use crate::scenarios::{self, Engine};
use crate::util::*;

/// Options every `podman run` needs here: without CAP_SYS_RESOURCE, root cannot raise the
/// limits podman asks for by default.
const RUN_OPTS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

#[test]
fn podman_run_attach_detach_gc() {
    if !usable_or_skip("podman_run_attach_detach_gc", &["podman", "runc"]) {
        return;
    }
    let mut env = Env::new();
    let tar = env.busybox_tarball();
    let root = env.base.join("podman");
    env.engine = vec![
        find_program("podman").unwrap().display().to_string(),
        format!("--root={}", root.join("root").display()),
        format!("--runroot={}", root.join("runroot").display()),
        format!("--tmpdir={}", root.join("tmp").display()),
        "--runtime=runc".into(),
        "--storage-driver=vfs".into(),
        "--cgroup-manager=cgroupfs".into(),
        "--events-backend=none".into(),
    ];
    let env = env;
    in_throwaway_host(|| {
        // conmon and the containers must not outlive the test, whatever happens.
        let _reaper = Reaper(&env.base);
        private_system_dirs();
        libcni::netns::set_link_up("lo").unwrap();
        env.engine_ok(&["import", tar.to_str().unwrap(), "busybox:latest"]);

        scenarios::all(&Engine {
            env: &env,
            kind: "podman",
            run_opts: RUN_OPTS,
            subnet: "10.194.2",
        });

        wait_until("podman's processes to end", Duration::from_secs(20), || {
            processes_mentioning(&env.base).is_empty()
        });
    });
}

/// Kills, on drop, every process that mentions the test's directory.
struct Reaper<'a>(&'a std::path::Path);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        reap_leftovers(self.0);
    }
}
