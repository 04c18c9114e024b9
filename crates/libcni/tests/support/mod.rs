//! Shared helpers of the integration tests: root checks, throwaway host namespaces, plugin
//! scripts, and running `ip`/`iptables-save` from the namespace thread.
//!
//! Every test that touches networking runs in [`in_throwaway_host`]: a fresh thread with its
//! own network and mount namespace, so bridges, veths, iptables rules and sysctls never reach
//! the machine's namespace, and parallel tests never see each other's.

#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::mount::{mount, MsFlags};

#[allow(unused_imports)] // not every test binary that includes this module needs them
pub use testsupport::{in_throwaway_host, root_or_skip};

/// Mounts a tmpfs on `/run` in the calling thread's (private, throwaway) mount namespace, so
/// that `/run/netns/NAME` and other fixture paths can be used exactly as recorded.
pub fn private_run() {
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755"),
    )
    .expect("mounting a private tmpfs on /run");
}

/// Writes an executable script.
pub fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs a command (from the calling thread, so in its namespaces) and returns stdout;
/// panics with stderr on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Like [`run`] but returns whether it succeeded.
pub fn run_ok(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `ip -j ARGS` parsed.
pub fn ip_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let text = run("ip", &all);
    if text.trim().is_empty() {
        return serde_json::Value::Array(Vec::new());
    }
    serde_json::from_str(&text).unwrap()
}

/// Names of the links of the calling thread's namespace.
pub fn link_names() -> Vec<String> {
    ip_json(&["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_owned())
        .collect()
}

/// `iptables-save -t TABLE` without its `#` comment lines (empty when the table was never
/// used in this namespace).
pub fn iptables_save(table: &str) -> String {
    run("iptables-save", &["-t", table])
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Every `CNI-*` chain declared in any iptables table of the calling thread's namespace.
pub fn cni_chains() -> Vec<String> {
    run("iptables-save", &[])
        .lines()
        .filter(|l| l.starts_with(":CNI-"))
        .map(|l| l[1..].split(' ').next().unwrap().to_owned())
        .collect()
}

/// The file names in a directory, sorted (empty if it does not exist).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Replaces every MAC address (`xx:xx:xx:xx:xx:xx`, lowercase hex) with `MAC` and every
/// `veth` + 8 hex digits with `VETH`: the bytes that are random on each run.
pub fn normalize_random(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if i + 17 <= b.len()
            && (0..17).all(|k| {
                if k % 3 == 2 {
                    b[i + k] == b':'
                } else {
                    hex(b[i + k])
                }
            })
        {
            out.extend_from_slice(b"MAC");
            i += 17;
        } else if b[i..].starts_with(b"veth")
            && i + 12 <= b.len()
            && b[i + 4..i + 12].iter().all(|&c| hex(c))
        {
            out.extend_from_slice(b"VETH");
            i += 12;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
