//! Rootless docker containers on the user's rootless networks (`docs/ROOTLESS.md`, decision
//! 23): `cnitool container run|attach|detach --engine docker` as the test user, with a real
//! rootless docker daemon of that user (dockerd under rootlesskit, slirp4netns as its own
//! network, vfs, its data root, exec root, pidfile and socket in the test's directory,
//! `DOCKER_HOST` naming the socket, a busybox image imported from a tarball; nothing is
//! pulled).
//!
//! rootlesskit maps the user's subordinate IDs with `newuidmap`, which needs a passwd entry:
//! the test user gets one in a private overlay of `/etc` (see [`crate::util::with_passwd`]).
//! Each test removes its containers and stops the daemon (its mounts live in rootlesskit's
//! mount namespace and go with it), then the usual leak checks run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::podman::{image_tarball, name_addr};
use crate::util::{rl_test, wait_out, Bg, Out, Rl};

/// What a rootless docker daemon needs here.
const NEEDED: &[&str] = &[
    "/usr/bin/rootlesskit",
    "/usr/sbin/dockerd",
    "/usr/bin/newuidmap",
    "/bin/busybox",
];

/// The test user's rootless docker daemon.
struct Dock {
    /// rootlesskit (the daemon's parent).
    kit: Child,
    /// `DOCKER_HOST`.
    host: String,
    /// The daemon's log, shown when it does not start.
    log: PathBuf,
}

/// Whether rootless docker can run here; see [`testsupport::prerequisite`].
fn docker_or_skip(test: &str) -> bool {
    let mut missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if testsupport::find_in(&["/usr/bin", "/usr/local/bin", "/bin"], "docker").is_none() {
        missing.push("docker");
    }
    testsupport::prerequisite(
        test,
        "containers",
        (!missing.is_empty())
            .then(|| format!("{missing:?} (rootlesskit, docker.io, uidmap, busybox-static)")),
    )
}

/// Runs `f` as a rootless docker test: the user's passwd entry and subordinate IDs, the
/// daemon, the image; afterwards the containers are removed and the daemon stopped.
fn dock_test(test: &str, f: impl FnOnce(&Rl, &Dock) + Send) {
    if !docker_or_skip(test) {
        return;
    }
    rl_test(test, |rl| {
        crate::util::with_passwd(rl, "cnitool-rldock");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut dock = Dock::start(rl);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(rl, &dock)));
            dock.stop(rl);
            result
        }))
        .and_then(|r| r);
        if let Err(p) = result {
            // Whatever the failed test left: the next test gets a clean user, and the
            // overlay goes (the temp dir could not be removed under it).
            for (pid, _) in rl.processes() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            crate::util::drop_passwd(rl);
            std::panic::resume_unwind(p);
        }
        crate::util::drop_passwd(rl);
    });
}

impl crate::scenarios::Engine for Dock {
    fn image(&self) -> &str {
        "busybox"
    }

    fn run(&self, rl: &Rl, cnitool: &[&str], engine: &[&str]) -> std::process::Command {
        Dock::run(self, rl, cnitool, engine)
    }

    fn containers(&self, rl: &Rl) -> Vec<String> {
        Dock::containers(self, rl)
    }

    fn per_run(&self) -> usize {
        2
    }

    fn name(&self) -> &str {
        "docker"
    }

    fn engine(&self, rl: &Rl, args: &[&str]) -> Out {
        self.docker(rl, args)
    }

    fn container(&self, rl: &Rl, verb: &[&str], args: &[&str]) -> std::process::Command {
        let mut all: Vec<&str> = verb.to_vec();
        all.extend(["--engine", "docker"]);
        all.extend(args);
        self.cnitool(rl, &all)
    }

    fn remove(&self) -> Vec<&'static str> {
        vec!["rm", "-f"]
    }
}

impl Dock {
    /// Starts the daemon as the user and imports the image.
    fn start(rl: &Rl) -> Dock {
        let base = rl.tmp.path().join("docker");
        rl.user_dir(&base, 0o700);
        let log = base.join("dockerd.log");
        let p = |name: &str| base.join(name).display().to_string();
        let sock = p("docker.sock");
        // As dockerd-rootless.sh does it: rootlesskit makes the user, mount and network
        // namespaces (slirp4netns), and /run/docker & co. are the daemon's own.
        let mut cmd = rl.cmd_bin(
            Path::new("/usr/bin/rootlesskit"),
            [
                "--net=slirp4netns",
                "--mtu=65520",
                "--disable-host-loopback",
                "--copy-up=/etc",
                "--copy-up=/run",
                "--propagation=rslave",
                &format!("--state-dir={}", p("rootlesskit")),
                "/bin/sh",
                "-c",
                "rm -f /run/docker /run/containerd /run/xtables.lock; exec dockerd \"$@\"",
                "dockerd",
                &format!("--data-root={}", p("root")),
                &format!("--exec-root={}", p("exec")),
                &format!("--pidfile={}", p("dockerd.pid")),
                &format!("--host=unix://{sock}"),
                "--storage-driver=vfs",
            ],
            &[],
        );
        let out = fs::File::create(&log).unwrap();
        cmd.stdout(out.try_clone().unwrap()).stderr(out);
        let dock = Dock {
            kit: cmd.spawn().expect("starting rootlesskit"),
            host: format!("unix://{sock}"),
            log,
        };
        let start = std::time::Instant::now();
        rl.wait_until(
            "the docker daemon to answer",
            Duration::from_secs(90),
            || {
                let up = Path::new(&sock).exists() && dock.docker(rl, &["info"]).code() == 0;
                // With its log: why it did not come up.
                assert!(
                    up || start.elapsed() < Duration::from_secs(60),
                    "the docker daemon did not answer in 60 s: {}",
                    fs::read_to_string(&dock.log).unwrap_or_default()
                );
                up
            },
        );
        let tar = image_tarball(rl.tmp.path());
        let out = dock.docker(rl, &["import", tar.to_str().unwrap(), "busybox:latest"]);
        assert_eq!(out.code(), 0, "importing the image: {out:#?}");
        dock
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("DOCKER_HOST", self.host.as_str())]
    }

    /// `docker ARGS` as the user, waited for.
    fn docker(&self, rl: &Rl, args: &[&str]) -> Out {
        let bin = testsupport::find_in(&["/usr/bin", "/usr/local/bin", "/bin"], "docker")
            .expect("docker");
        wait_out(rl.cmd_bin(&bin, args, &self.env()).spawn().unwrap())
    }

    /// `cnitool ARGS` as the user, with `DOCKER_HOST`.
    fn cnitool(&self, rl: &Rl, args: &[&str]) -> std::process::Command {
        rl.cmd_env(args, &self.env())
    }

    /// `cnitool container run --engine docker CNITOOL_ARGS -- DOCKER_RUN_ARGS` as the user.
    fn run(&self, rl: &Rl, cnitool: &[&str], engine: &[&str]) -> std::process::Command {
        let mut args: Vec<&str> = vec!["container", "run", "--engine", "docker"];
        args.extend(cnitool);
        args.push("--");
        args.extend(engine);
        self.cnitool(rl, &args)
    }

    /// The containers, running or not (`docker ps -aq`).
    fn containers(&self, rl: &Rl) -> Vec<String> {
        let out = self.docker(rl, &["ps", "-aq"]);
        assert_eq!(out.code(), 0, "{out:#?}");
        out.stdout.lines().map(str::to_owned).collect()
    }

    /// Removes the containers, stops the daemon (SIGTERM to rootlesskit, which passes it on)
    /// and waits for the user's processes to end.
    fn stop(&mut self, rl: &Rl) {
        let all = self.containers(rl);
        if !all.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(all.iter().map(String::as_str));
            assert_eq!(self.docker(rl, &args).code(), 0);
        }
        let _ = kill(Pid::from_raw(self.kit.id() as i32), Signal::SIGTERM);
        let _ = self.kit.wait();
        // The daemon, containerd and the shims end by themselves.
        rl.wait_until(
            "the user's processes to end",
            Duration::from_secs(30),
            || rl.processes().is_empty(),
        );
    }
}

/// See [`crate::scenarios::names_with_a_run`]; the pause container is gone too.
#[test]
fn docker_container_and_run_share_the_network_and_names() {
    dock_test(
        "docker_container_and_run_share_the_network_and_names",
        |rl, dock| crate::scenarios::names_with_a_run(rl, dock),
    );
}

/// See [`crate::scenarios::published_port`] (docker's own port driver is not used).
#[test]
fn docker_published_port_reaches_the_container() {
    dock_test("docker_published_port_reaches_the_container", |rl, dock| {
        crate::scenarios::published_port(rl, dock)
    });
}

/// The wrapper SIGKILLed while its container runs: the container and the pause container
/// run on, and so does the shared namespace; `cnitool gc` kills the container, removes the
/// pause container and undoes the run, and the namespace ends.
#[test]
fn docker_killed_wrapper_is_cleaned_up_by_gc() {
    dock_test("docker_killed_wrapper_is_cleaned_up_by_gc", |rl, dock| {
        let mut wrapper = Bg::spawn(dock.run(
            rl,
            &["--name", "orphan"],
            &["busybox", "sh", "-c", "echo ready; sleep 1000"],
        ));
        assert_eq!(wrapper.expect_line(), "ready");
        kill(Pid::from_raw(wrapper.pid()), Signal::SIGKILL).unwrap();
        let st = wrapper.child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(st.signal(), Some(Signal::SIGKILL as i32));
        let running = dock.docker(rl, &["ps", "-q"]);
        assert_eq!(running.stdout.lines().count(), 2, "{running:#?}");
        assert_eq!(rl.generations().len(), 1, "the shared namespace stays");
        assert_eq!(name_addr(rl, "cnitool", "orphan"), "");

        let out = rl.run(["gc"]).ok();
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(said.contains("killed its container"), "{out:#?}");
        assert!(said.contains("removed its pause container"), "{out:#?}");
        assert!(said.contains("removed its attachments"), "{out:#?}");
        // The container (no --rm) stays, stopped; the pause container is gone.
        rl.wait_until("the container to stop", Duration::from_secs(30), || {
            dock.docker(rl, &["ps", "-q"]).stdout.is_empty()
        });
        assert_eq!(dock.containers(rl).len(), 1);
        rl.wait_until(
            "the shared namespace to end",
            Duration::from_secs(10),
            || rl.generations().is_empty(),
        );
    });
}

/// See [`crate::scenarios::attach_and_detach`].
#[test]
fn docker_attach_and_detach_a_running_container() {
    dock_test(
        "docker_attach_and_detach_a_running_container",
        |rl, dock| crate::scenarios::attach_and_detach(rl, dock),
    );
}

/// Without a reachable docker daemon, `container run --engine docker` as a plain user fails
/// with the engine's message before anything is made.
#[test]
fn docker_without_a_daemon_fails_cleanly() {
    rl_test("docker_without_a_daemon_fails_cleanly", |rl| {
        let sock = rl.tmp.path().join("no-such.sock");
        let host = format!("unix://{}", sock.display());
        let out = wait_out(
            rl.cmd_env(
                [
                    "container",
                    "run",
                    "--engine",
                    "docker",
                    "--",
                    "busybox",
                    "true",
                ],
                &[("DOCKER_HOST", &host)],
            )
            .spawn()
            .unwrap(),
        );
        assert_eq!(out.code(), 125, "{out:#?}");
        assert!(
            out.stderr.contains("Cannot connect to the Docker daemon"),
            "{out:#?}"
        );
        assert!(rl.generations().is_empty());
    });
}
