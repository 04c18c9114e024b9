//! docker: a private dockerd in the throwaway host (own socket, data and exec roots, no
//! iptables, no bridge), the busybox image imported, every scenario.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::scenarios::{self, Engine};
use crate::util::*;

#[test]
fn docker_run_attach_detach_gc() {
    if !usable_or_skip(
        "docker_run_attach_detach_gc",
        &["dockerd", "docker", "runc"],
    ) {
        return;
    }
    let mut env = Env::new();
    let tar = env.busybox_tarball();
    let root = env.base.join("docker");
    let sock = format!("unix://{}", root.join("docker.sock").display());
    env.engine = vec![
        find_program("docker").unwrap().display().to_string(),
        "-H".into(),
        sock.clone(),
    ];
    let env = env;
    in_throwaway_host(|| {
        private_system_dirs();
        libcni::netns::set_link_up("lo").unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let log = File::create(root.join("dockerd.log")).unwrap();
        let child = Command::new(find_program("dockerd").unwrap())
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("docker.pid"))
            .args(["-H", &sock])
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
            let log = std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
            panic!("dockerd did not come up:\n{log}");
        }
        env.engine_ok(&["import", tar.to_str().unwrap(), "busybox:latest"]);

        scenarios::all(&Engine {
            env: &env,
            kind: "docker",
            run_opts: &[],
            subnet: "10.194.1",
        });

        drop(dockerd);
        wait_until("docker's processes to end", Duration::from_secs(20), || {
            processes_mentioning(&env.base).is_empty()
        });
    });
}
