//! What every test binary of the workspace shares (a dev-dependency only): the root/CI policy,
//! the throwaway host namespace and the environment `cnitool` reads.

/// Whether a root-only test may run: as root, yes. Otherwise it fails under `CI=true` (a CI
/// job must never pass by skipping) and is skipped with a message elsewhere.
///
/// # Panics
/// When not root and `CI=true`.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} needs root, and CI=true forbids skipping it");
    }
    eprintln!("skipping {test}: needs root (namespaces, mounts, real plugins)");
    false
}

/// Runs `f` on a thread of its own in a new network and mount namespace (every mount private):
/// the throwaway "host" of a networking test. Processes `f` starts inherit both, so links,
/// rules, sysctls and mounts never reach the machine. Panics resume on the caller.
///
/// # Panics
/// When the namespaces cannot be created.
pub fn in_throwaway_host<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    libcni::netns::run_in_new(
        libcni::netns::NewNamespaces {
            net: true,
            mount: true,
        },
        f,
    )
    .expect("creating a throwaway host namespace")
}

/// The environment variables `cnitool` reads, and the plugin-protocol ones a plugin would
/// inherit; tests remove them from the `cnitool` processes they start, so the machine's or
/// the developer's settings never leak into a test.
pub const CNITOOL_ENV: &[&str] = &[
    "NETCONFPATH",
    "CNI_PATH",
    "CNI_IFNAME",
    "CNI_ARGS",
    "CAP_ARGS",
    "CNITOOL_CACHE_DIR",
    "CNITOOL_NETNS_DIR",
    "CNITOOL_RUN_SEQUENTIAL",
    "CNITOOL_SYNC_CACHE",
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_NETNS_OVERRIDE",
];
