//! podman: private storage, run directories and configuration in the throwaway host (none of
//! /etc/containers is read), runc (crun refuses this machine's cgroup setup) with ulimits root
//! may set, the busybox image imported, one test per scenario.

use std::fs;

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

macro_rules! podman_tests {
    ($($name:ident: $scenario:path;)*) => {$(
        #[test]
        fn $name() {
            podman_test(stringify!($name), $scenario);
        }
    )*};
}

podman_tests! {
    podman_address_status_and_arguments: scenarios::address_status_and_arguments;
    podman_missing_image_leaves_nothing: scenarios::missing_image_leaves_nothing;
    podman_published_port_reaches_the_container: scenarios::published_port_reaches_the_container;
    podman_sigterm_to_the_wrapper_cleans_up: scenarios::sigterm_to_the_wrapper_cleans_up;
    podman_gc_after_the_wrapper_was_killed: scenarios::gc_after_the_wrapper_was_killed;
    podman_attach_detach_and_gc: scenarios::attach_detach_and_gc;
    podman_names_between_a_container_and_a_run: scenarios::names_between_a_container_and_a_run;
}

/// Runs `scenario` against podman in a confined throwaway host.
fn podman_test(test: &str, scenario: fn(&Engine<'_>)) {
    if !usable_or_skip(test, &["podman", "runc"]) {
        return;
    }
    let mut env = Env::new();
    let tar = env.busybox_tarball();
    let root = env.base.join("podman");
    fs::create_dir_all(&root).unwrap();
    let (storage, run, tmp) = (root.join("root"), root.join("runroot"), root.join("tmp"));
    // The test's own configuration: with CONTAINERS_CONF set, podman reads that file and no
    // other containers.conf; likewise for storage and registries (no search registry: short
    // names resolve to local images only, nothing is pulled).
    let conf = root.join("containers.conf");
    fs::write(
        &conf,
        format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\n\
             runtime = \"runc\"\ntmp_dir = \"{}\"\n\n\
             [network]\nnetwork_backend = \"cni\"\nnetwork_config_dir = \"{}\"\n\
             cni_plugin_dirs = [\"{PLUGIN_DIR}\"]\n",
            tmp.display(),
            root.join("net.d").display(),
        ),
    )
    .unwrap();
    let storage_conf = root.join("storage.conf");
    fs::write(
        &storage_conf,
        format!(
            "[storage]\ndriver = \"vfs\"\nrunroot = \"{}\"\ngraphroot = \"{}\"\n",
            run.display(),
            storage.display()
        ),
    )
    .unwrap();
    let registries = root.join("registries.conf");
    fs::write(&registries, "unqualified-search-registries = []\n").unwrap();
    env.engine = vec![
        find_program("podman").unwrap().display().to_string(),
        format!("--root={}", storage.display()),
        format!("--runroot={}", run.display()),
        format!("--tmpdir={}", tmp.display()),
        "--runtime=runc".into(),
        "--storage-driver=vfs".into(),
        "--cgroup-manager=cgroupfs".into(),
        "--events-backend=none".into(),
    ];
    env.engine_env = vec![
        ("CONTAINERS_CONF".into(), conf),
        ("CONTAINERS_STORAGE_CONF".into(), storage_conf),
        ("CONTAINERS_REGISTRIES_CONF".into(), registries),
    ];
    let env = env;
    in_engine_host(&env, test, || {
        scenarios::run(&env, &tar, "podman", RUN_OPTS, scenario);
    });
}
