//! podman: private storage, run directories and configuration in the throwaway host (none of
//! /etc/containers is read), runc (crun refuses this machine's cgroup setup) with ulimits root
//! may set, the busybox image imported, one test per scenario.

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
    podman_attach_with_names: scenarios::attach_with_names;
    podman_dns_flags_in_the_resolv_conf: scenarios::dns_flags_in_the_resolv_conf;
}

/// Runs `scenario` against podman in a confined throwaway host.
fn podman_test(test: &str, scenario: fn(&Engine<'_>)) {
    if !usable_or_skip(test, &["podman", "runc"]) {
        return;
    }
    let mut env = Env::new();
    let tar = env.busybox_tarball();
    // The test's own configuration (see `PrivatePodman`), with podman's CNI plugins the
    // reference ones.
    let podman = testsupport::isolate::PrivatePodman::new(&env.base, &[PLUGIN_DIR]);
    env.engine = std::iter::once(podman.bin.display().to_string())
        .chain(podman.global)
        .collect();
    env.engine_env = podman.env;
    let env = env;
    in_engine_host(&env, test, || {
        scenarios::run(&env, &tar, "podman", RUN_OPTS, scenario);
    });
}
