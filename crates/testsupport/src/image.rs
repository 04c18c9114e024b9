//! What the container tests give their engines and read back from the tool: a busybox root
//! file system as a tarball for `import` (nothing is ever pulled), and the addresses of
//! names in `cnitool names -o json`.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's busybox-static.
pub const BUSYBOX: &str = "/bin/busybox";

/// Writes a root file system under `dir/rootfs` (busybox with `applets` linked in `/bin`,
/// the usual empty directories, and `files`: path in the image, content, mode), then tars
/// it as `dir/rootfs.tar` (mode 0644, readable by a rootless engine) and returns the tar.
///
/// # Panics
/// When a file cannot be written or `tar` fails.
pub fn busybox_tarball(dir: &Path, applets: &[&str], files: &[(&str, &str, u32)]) -> PathBuf {
    let root = dir.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    for d in ["etc", "proc", "sys", "dev", "tmp"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    for a in applets {
        symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    for (path, content, mode) in files {
        let path = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar failed: {st}");
    fs::set_permissions(&tar, fs::Permissions::from_mode(0o644)).unwrap();
    tar
}

/// The first address `cnitool names -o json` (its stdout, `json`) gives for `name`, or ""
/// when nothing holds the name.
///
/// # Panics
/// When `json` is not a JSON array of names.
pub fn name_address(json: &[u8], name: &str) -> String {
    let all: serde_json::Value = serde_json::from_slice(json).expect("names -o json");
    all.as_array()
        .expect("an array of names")
        .iter()
        .find(|x| x["name"] == name)
        .map(|x| x["addresses"][0].as_str().unwrap().to_owned())
        .unwrap_or_default()
}
