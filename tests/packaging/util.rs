//! Running the repository's scripts and other programs, and the prerequisite policy of the
//! packaging tests (class `packaging`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A program on `PATH`, in the system directories or in `~/.cargo/bin` (where `cargo install`
/// puts cargo-deb; `pip` puts kubernetes-validate on `PATH`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from));
    dirs.extend(cargo_home.map(|h| h.join("bin")));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Whether `test` may run: root and every program of `needs` installed
/// (`scripts/install-deps` installs them); see [`testsupport::prerequisite`] (class
/// `packaging`).
pub fn usable_or_skip(test: &str, needs: &[&str]) -> bool {
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|p| find_program(p).is_none())
        .collect();
    testsupport::root_or_skip(test)
        && testsupport::prerequisite(
            test,
            "packaging",
            (!missing.is_empty()).then(|| missing.join(", ")),
        )
}

/// Runs `cmd` with no stdin and returns what it did.
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs `cmd`, asserts it succeeded, returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// stdout and stderr for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds the static-pie release binary (`scripts/release/build-release`, incremental) and
/// returns its path.
pub fn release_binary() -> PathBuf {
    let out =
        ok(Command::new(repo().join("scripts/release/build-release")).env_remove("RUSTFLAGS"));
    PathBuf::from(out.trim())
}
