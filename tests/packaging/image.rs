//! The container image of `scripts/release/build-image`, built with podman (private storage,
//! run directories and configuration, nothing pulled) in a confined throwaway host
//! (`testsupport::isolate`), then run as a node would run it: `cnitool validate` on a netconf
//! directory mounted at `/etc/cni/net.d`, with the image's own plugins, and `cnitool doctor`
//! with the privileges the DaemonSet of deploy/kubernetes gives it.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use testsupport::isolate;

use crate::util::*;

/// A valid network: bridge with host-local, then portmap.
const GOOD: &str = r#"{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni-pods", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "subnet": "10.250.7.0/24"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}"#;

/// The same with a subnet that is none.
const BAD: &str = r#"{"cniVersion": "1.0.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni-pods", "isGateway": true,
   "ipam": {"type": "host-local", "subnet": "10.250.7.0/33"}}]}"#;

#[test]
fn image_runs_validate_and_doctor_on_mounted_netconfs() {
    let test = "image_runs_validate_and_doctor_on_mounted_netconfs";
    if !usable_or_skip(test, &["podman", "runc"]) {
        return;
    }
    let bin = release_binary();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    for (dir, conf) in [("good", GOOD), ("bad", BAD)] {
        fs::create_dir(base.join(dir)).unwrap();
        fs::write(base.join(dir).join("10-pods.conflist"), conf).unwrap();
    }
    let podman = Podman::new(&base);
    let layer = base.join("etc-layer");
    fs::create_dir(&layer).unwrap();
    let scope = format!("cnitool-test-{}-{test}", std::process::id());
    let ((), left) = isolate::in_confined_host(&scope, &layer, Duration::from_secs(30), || {
        isolate::tmpfs_over(&["/run", "/var/lib", "/var/tmp"]);
        let mut build = Command::new(repo().join("scripts/release/build-image"));
        build
            .args(["-t", "localhost/cnitool-test"])
            .env("CNITOOL_BIN", &bin)
            .env("PODMAN_OPTS", podman.0.global.join(" "));
        podman.env(&mut build);
        assert_eq!(ok(&mut build), "localhost/cnitool:0.1.0\n");

        // Valid: exit 0; the plugins' VERSION answers show that the image's plugins run.
        let out = output(&mut podman.validate(&base.join("good")));
        assert!(out.status.success(), "{}", show(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["ok"], true, "{report}");
        let versions = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("supports cniVersion 1.0.0")
            })
            .map(|f| f["plugin"].as_str().unwrap())
            .collect::<Vec<_>>();
        assert_eq!(versions, ["bridge", "host-local", "portmap"], "{report}");
        assert!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["file"] == "/etc/cni/net.d/10-pods.conflist"),
            "{report}"
        );

        // Invalid: exit 3, the finding names the field.
        let out = output(&mut podman.validate(&base.join("bad")));
        assert_eq!(out.status.code(), Some(3), "{}", show(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert!(errors.contains(&".plugins[0].ipam.subnet"), "{report}");

        // doctor with the node's network (the throwaway host's) and the two capabilities the
        // DaemonSet gives it: the image's iptables answers for the networks that need it.
        let out = output(&mut podman.doctor(&base.join("good")));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor -o json ({e}): {}", show(&out)));
        let backend = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "iptables-backend")
            .unwrap_or_else(|| panic!("no iptables-backend check: {report}"));
        assert_eq!(backend["status"], "OK", "{report}");
        assert!(
            backend["message"].as_str().unwrap().contains("nf_tables")
                || backend["message"].as_str().unwrap().contains("legacy"),
            "{report}"
        );

        // Nothing but the image is left in the private storage.
        let containers = ok(&mut podman.cmd(&["ps", "--all", "--quiet"]));
        assert_eq!(containers, "");
    });
    assert!(
        left.is_empty(),
        "processes the test started outlived it (killed now): {left:?}"
    );
}

/// podman with the test's own storage, run directories and configuration
/// ([`isolate::PrivatePodman`]).
struct Podman(isolate::PrivatePodman);

impl Podman {
    fn new(base: &Path) -> Podman {
        Podman(isolate::PrivatePodman::new(base, &[]))
    }

    fn env(&self, cmd: &mut Command) {
        cmd.envs(self.0.env.iter().map(|(k, v)| (k, v)));
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.0.bin);
        c.args(&self.0.global).args(args);
        self.env(&mut c);
        c
    }

    /// `cnitool doctor -o json` in the image on the host's network, with NET_ADMIN and NET_RAW
    /// only and `dir` at /etc/cni/net.d.
    fn doctor(&self, dir: &Path) -> Command {
        let volume = format!("{}:/etc/cni/net.d:ro", dir.display());
        self.cmd(&[
            "run",
            "--rm",
            "--pull=never",
            "--network=host",
            "--cap-drop=all",
            "--cap-add=NET_ADMIN,NET_RAW",
            "--read-only",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "-v",
            &volume,
            "localhost/cnitool-test",
            "doctor",
            "-o",
            "json",
        ])
    }

    /// `cnitool validate -o json --no-host-checks` in the image, with `dir` mounted read-only
    /// at /etc/cni/net.d, no network and no privilege (root without capabilities).
    fn validate(&self, dir: &Path) -> Command {
        let volume = format!("{}:/etc/cni/net.d:ro", dir.display());
        self.cmd(&[
            "run",
            "--rm",
            "--pull=never",
            "--network=none",
            "--cap-drop=all",
            "--read-only",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "-v",
            &volume,
            "localhost/cnitool-test",
            "validate",
            "--no-host-checks",
            "-o",
            "json",
        ])
    }
}
