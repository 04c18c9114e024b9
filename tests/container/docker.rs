//! docker: a private dockerd in the throwaway host (own socket, configuration, data and exec
//! roots, no iptables, no bridge), the busybox image imported, one test per scenario.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::scenarios::{self, Engine};
use crate::util::*;

macro_rules! docker_tests {
    ($($name:ident: $scenario:path;)*) => {$(
        #[test]
        fn $name() {
            docker_test(stringify!($name), $scenario);
        }
    )*};
}

docker_tests! {
    docker_address_status_and_arguments: scenarios::address_status_and_arguments;
    docker_missing_image_leaves_nothing: scenarios::missing_image_leaves_nothing;
    docker_missing_pause_image_leaves_nothing: scenarios::missing_pause_image_leaves_nothing;
    docker_published_port_reaches_the_container: scenarios::published_port_reaches_the_container;
    docker_sigterm_to_the_wrapper_cleans_up: scenarios::sigterm_to_the_wrapper_cleans_up;
    docker_gc_after_the_wrapper_was_killed: scenarios::gc_after_the_wrapper_was_killed;
    docker_attach_detach_and_gc: scenarios::attach_detach_and_gc;
    docker_names_between_a_container_and_a_run: scenarios::names_between_a_container_and_a_run;
    docker_attach_with_names: scenarios::attach_with_names;
    docker_dns_flags_in_the_resolv_conf: scenarios::dns_flags_in_the_resolv_conf;
}

/// Starts dockerd in a confined throwaway host and runs `scenario` against it.
fn docker_test(test: &str, scenario: fn(&Engine<'_>)) {
    if !usable_or_skip(test, &["dockerd", "docker", "runc"]) {
        return;
    }
    let mut env = Env::new();
    let tar = env.busybox_tarball();
    let root = env.base.join("docker");
    // The client's configuration directory and the daemon's configuration file are the
    // test's: neither ~/.docker nor /etc/docker/daemon.json is read.
    fs::create_dir_all(root.join("client")).unwrap();
    fs::write(root.join("daemon.json"), "{}").unwrap();
    let sock = format!("unix://{}", root.join("docker.sock").display());
    env.engine = vec![
        find_program("docker").unwrap().display().to_string(),
        "-H".into(),
        sock.clone(),
    ];
    env.engine_env = vec![("DOCKER_CONFIG".into(), root.join("client"))];
    let env = env;
    in_engine_host(&env, test, || {
        let dockerd = start_dockerd(&env, &root, &sock);
        scenarios::run(&env, &tar, "docker", &[], scenario);
        drop(dockerd);
    });
}

/// Starts dockerd with everything under `root` and waits until it answers.
fn start_dockerd(env: &Env, root: &Path, sock: &str) -> Daemon {
    let log = File::create(root.join("dockerd.log")).unwrap();
    let child = Command::new(find_program("dockerd").unwrap())
        .arg("--config-file")
        .arg(root.join("daemon.json"))
        .arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .arg("--pidfile")
        .arg(root.join("docker.pid"))
        .args(["-H", sock])
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .args(["--storage-driver", "vfs"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting dockerd");
    let dockerd = Daemon {
        child,
        name: "dockerd",
    };
    let up = (0..150).any(|_| {
        let ok = env
            .engine_cmd(&["version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            std::thread::sleep(Duration::from_millis(200));
        }
        ok
    });
    if !up {
        let log = fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
        panic!("dockerd did not come up:\n{log}");
    }
    dockerd
}
