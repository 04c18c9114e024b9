//! Rootless podman containers on the user's rootless networks: `cnitool container run` as the
//! test user, with real rootless podman (its own storage and configuration in the test's
//! directory, vfs, runc, a busybox image imported from a tarball; nothing is pulled).
//!
//! Rootless podman maps the user's subordinate IDs with `newuidmap`, which needs a passwd
//! entry: the test user gets one, and its ranges, in a private overlay of `/etc` in the
//! throwaway mount namespace (the machine's files are never touched). Each test ends podman's
//! pause process, then the usual leak checks run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testsupport::isolate::PrivatePodman;

use crate::util::{rl_test, Bg, Rl};

/// The busybox applets the containers use.
const APPLETS: &[&str] = &[
    "sh", "cat", "grep", "ip", "ping", "httpd", "sleep", "echo", "read", "nc",
];

/// Rootless podman for the test user.
struct Pod {
    /// `--engine podman --engine-opt=...` for cnitool.
    engine: Vec<String>,
    /// podman's global options.
    global: Vec<String>,
    /// The configuration files' environment.
    env: Vec<(String, String)>,
    bin: PathBuf,
}

/// Whether rootless podman can run here (installed, with newuidmap); see
/// [`testsupport::prerequisite`].
fn podman_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = ["/usr/bin/podman", "/usr/bin/newuidmap", "/bin/busybox"]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    testsupport::prerequisite(
        test,
        "containers",
        (!missing.is_empty()).then(|| format!("{missing:?} (podman, uidmap, busybox-static)")),
    )
}

/// Runs `f` as a rootless podman test: the user's passwd entry and subordinate IDs, podman's
/// configuration, the image; afterwards podman's pause process is ended.
fn pod_test(test: &str, f: impl FnOnce(&Rl, &Pod) + Send) {
    if !podman_or_skip(test) {
        return;
    }
    rl_test(test, |rl| {
        let pod = Pod::new(rl);
        // Stopped also when `f` panics, so that the leak check reports the test's failure
        // rather than the pause process.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(rl, &pod)));
        if let Err(p) = result {
            // Whatever the failed test left: the next test gets a clean user.
            for (pid, _) in rl.processes() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            // And its temp dir can be removed (the overlay's layer is a mount point in it).
            crate::util::drop_passwd(rl);
            std::panic::resume_unwind(p);
        }
        pod.stop(rl);
        crate::util::drop_passwd(rl);
    });
}

impl crate::scenarios::Engine for Pod {
    fn image(&self) -> &str {
        "localhost/busybox"
    }

    fn run(&self, rl: &Rl, cnitool: &[&str], engine: &[&str]) -> std::process::Command {
        Pod::run(self, rl, cnitool, engine)
    }

    fn containers(&self, rl: &Rl) -> Vec<String> {
        let out = crate::util::wait_out(self.podman(rl, &["ps", "-aq"]).spawn().unwrap());
        assert_eq!(out.code(), 0, "{out:#?}");
        out.stdout.lines().map(str::to_owned).collect()
    }

    fn per_run(&self) -> usize {
        1
    }

    fn name(&self) -> &str {
        "podman"
    }

    fn engine(&self, rl: &Rl, args: &[&str]) -> crate::util::Out {
        crate::util::wait_out(self.podman(rl, args).spawn().unwrap())
    }

    fn container(&self, rl: &Rl, verb: &[&str], args: &[&str]) -> std::process::Command {
        let mut all: Vec<&str> = verb.to_vec();
        all.extend(self.engine.iter().map(String::as_str));
        all.extend(args);
        rl.cmd_env(all, &self.env())
    }

    fn remove(&self) -> Vec<&'static str> {
        // Without -t 0, podman gives the container 10 s for SIGTERM first.
        vec!["rm", "-f", "-t", "0"]
    }
}

impl Pod {
    fn new(rl: &Rl) -> Pod {
        crate::util::with_passwd(rl, "cnitool-rlpod");
        let base = rl.tmp.path().join("pod");
        rl.user_dir(&base, 0o755);
        let private = PrivatePodman::new(&base, &[]);
        rl.user_dir(&base.join("podman"), 0o755);
        let pod = Pod {
            engine: ["--engine", "podman"]
                .iter()
                .map(|s| s.to_string())
                .chain(private.global.iter().map(|g| format!("--engine-opt={g}")))
                .collect(),
            global: private.global.clone(),
            env: private
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.display().to_string()))
                .collect(),
            bin: private.bin.clone(),
        };
        let tar = image_tarball(rl.tmp.path());
        let out = crate::util::wait_out(
            pod.podman(
                rl,
                &["import", tar.to_str().unwrap(), "localhost/busybox:latest"],
            )
            .spawn()
            .unwrap(),
        );
        assert_eq!(out.code(), 0, "importing the image: {out:#?}");
        pod
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `podman GLOBAL ARGS` as the user.
    fn podman(&self, rl: &Rl, args: &[&str]) -> std::process::Command {
        let all: Vec<&str> = self
            .global
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect();
        rl.cmd_bin(&self.bin, all, &self.env())
    }

    /// `cnitool container run ENGINE CNITOOL_ARGS -- PODMAN_RUN_ARGS` as the user.
    fn run(&self, rl: &Rl, cnitool: &[&str], engine: &[&str]) -> std::process::Command {
        let mut args: Vec<&str> = vec!["container", "run"];
        args.extend(self.engine.iter().map(String::as_str));
        args.extend(cnitool);
        args.push("--");
        args.extend(engine);
        rl.cmd_env(args, &self.env())
    }

    /// Ends podman's pause process (it holds podman's user namespace), as `podman system
    /// migrate` would, once podman's own cleanup of the containers (conmon's exit command,
    /// which starts a pause process again if there is none) is over.
    fn stop(&self, rl: &Rl) {
        let comm = |pid: i32| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        };
        rl.wait_until("podman's cleanup to end", Duration::from_secs(30), || {
            rl.processes()
                .iter()
                .all(|(pid, _)| comm(*pid) == "podman pause")
        });
        for (pid, _) in rl.processes() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        rl.wait_until(
            "the user's processes to end",
            Duration::from_secs(20),
            || rl.processes().is_empty(),
        );
    }
}

/// A root file system with busybox, its applets and a CGI script that prints the client's
/// address (`/www/cgi-bin/peer`), as a tarball for `podman import`.
pub(crate) fn image_tarball(dir: &Path) -> PathBuf {
    let cgi = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"peer=$REMOTE_ADDR\"\n";
    testsupport::image::busybox_tarball(dir, APPLETS, &[("/www/cgi-bin/peer", cgi, 0o755)])
}

/// The address of `name` on `net` in `cnitool names -o json` as the user ("" if none).
pub(crate) fn name_addr(rl: &Rl, net: &str, name: &str) -> String {
    let out = rl.run(["-o", "json", "names", net]).ok();
    testsupport::image::name_address(out.stdout.as_bytes(), name)
}

/// See [`crate::scenarios::names_with_a_run`].
#[test]
fn container_and_run_share_the_network_and_names() {
    pod_test(
        "container_and_run_share_the_network_and_names",
        |rl, pod| {
            crate::scenarios::names_with_a_run(rl, pod);
        },
    );
}

/// See [`crate::scenarios::published_port`].
#[test]
fn published_port_reaches_the_container() {
    pod_test("published_port_reaches_the_container", |rl, pod| {
        crate::scenarios::published_port(rl, pod);
    });
}

/// The wrapper SIGKILLed while its container runs: the container goes on, and so does the
/// shared namespace (its holder sees the container in the run netns); `cnitool gc` as the
/// user kills the container and undoes the run, and the namespace ends.
#[test]
fn killed_wrapper_is_cleaned_up_by_gc() {
    pod_test("killed_wrapper_is_cleaned_up_by_gc", |rl, pod| {
        let mut wrapper = Bg::spawn(pod.run(
            rl,
            &["--name", "orphan"],
            &[
                "--rm",
                "localhost/busybox",
                "sh",
                "-c",
                "echo ready; sleep 1000",
            ],
        ));
        assert_eq!(wrapper.expect_line(), "ready");
        kill(Pid::from_raw(wrapper.pid()), Signal::SIGKILL).unwrap();
        // Not `finish`: the engine client, which holds the output pipes, outlives the
        // wrapper (podman joins its user namespace at its start, which clears the
        // parent-death signal), until gc kills its container.
        let st = wrapper.child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(st.signal(), Some(Signal::SIGKILL as i32));
        let ps = crate::util::wait_out(pod.podman(rl, &["ps", "-q"]).spawn().unwrap());
        assert_eq!(
            ps.stdout.lines().count(),
            1,
            "the container runs on: {ps:#?}"
        );
        assert_eq!(rl.generations().len(), 1, "the shared namespace stays");
        // Its name no longer counts: its runner is gone.
        assert_eq!(name_addr(rl, "cnitool", "orphan"), "");

        let out = rl.run(["gc"]).ok();
        assert!(
            out.stderr.contains("killed its container")
                || out.stdout.contains("killed its container"),
            "{out:#?}"
        );
        rl.wait_until("the container to end", Duration::from_secs(30), || {
            let ps = crate::util::wait_out(pod.podman(rl, &["ps", "-aq"]).spawn().unwrap());
            ps.code() == 0 && ps.stdout.is_empty()
        });
        rl.wait_until(
            "the shared namespace to end",
            Duration::from_secs(10),
            || rl.generations().is_empty(),
        );
    });
}

/// See [`crate::scenarios::attach_and_detach`].
#[test]
fn attach_and_detach_a_running_container() {
    pod_test("attach_and_detach_a_running_container", |rl, pod| {
        crate::scenarios::attach_and_detach(rl, pod);
    });
}

/// A container on a dual-stack network of the user gets an address of its IPv6 range and
/// reaches an IPv6 server outside the rootless namespace through slirp4netns (a peer
/// namespace of the test's, behind a veth pair from the throwaway host), masqueraded: the
/// server sees the throwaway host's address.
#[test]
fn container_reaches_an_ipv6_peer() {
    pod_test("container_reaches_an_ipv6_peer", |rl, pod| {
        crate::ipv6::dual_network(rl);
        let peer = crate::ipv6::Peer::start(false);
        let script = format!(
            "ip -6 -o addr show eth0 scope global | grep -o 'inet6 [0-9a-f:]*'; \
             nc {} {} </dev/null",
            crate::ipv6::PEER_V6,
            crate::ipv6::PORT
        );
        let out = crate::util::wait_out(
            pod.run(
                rl,
                &["--net", "dual"],
                &["--rm", "localhost/busybox", "sh", "-c", &script],
            )
            .spawn()
            .unwrap(),
        );
        let seen = peer.stop();
        assert_eq!(out.code(), 0, "{out:#?}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines[0].starts_with("inet6 fd42:cafe::"), "{out:#?}");
        assert_eq!(lines.get(1), Some(&"hello6"), "{out:#?}");
        assert_eq!(seen, [crate::ipv6::HOST_V6], "{out:#?}");
    });
}

/// podman's pause process restarted while the user's runs live: the shared namespace stays
/// in the old user namespace, which podman's containers cannot join; `container run` is
/// refused with exit 125 and the reason, before anything is made (no container, the one
/// generation of the live run).
#[test]
fn container_refused_when_the_namespace_is_podmans_old_one() {
    pod_test(
        "container_refused_when_the_namespace_is_podmans_old_one",
        |rl, pod| {
            let mut keep = crate::util::live_run(rl);
            let comm =
                |pid: i32| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            for (pid, _) in rl.processes() {
                if comm(pid).trim_end() == "podman pause" {
                    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
                }
            }
            rl.wait_until(
                "podman's pause process to end",
                Duration::from_secs(10),
                || {
                    rl.processes()
                        .iter()
                        .all(|(pid, _)| comm(*pid).trim_end() != "podman pause")
                },
            );
            let out = crate::util::wait_out(
                pod.run(rl, &[], &["--rm", "localhost/busybox", "true"])
                    .spawn()
                    .unwrap(),
            );
            assert_eq!(out.code(), 125, "{out:#?}");
            assert!(
                out.stderr.contains(
                    "the shared rootless namespace lives in another user namespace than the \
                     engine's containers"
                ) && out
                    .stderr
                    .contains("wait for its runs to end, or `cnitool rootless stop`"),
                "{out:#?}"
            );
            assert_eq!(
                crate::scenarios::Engine::containers(pod, rl),
                Vec::<String>::new()
            );
            assert_eq!(rl.generations().len(), 1);
            drop(keep.child.stdin.take());
            keep.finish_code(0);
            rl.wait_until(
                "the shared namespace to end",
                Duration::from_secs(10),
                || rl.generations().is_empty(),
            );
        },
    );
}
