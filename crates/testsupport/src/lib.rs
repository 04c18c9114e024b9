//! What every test binary of the workspace shares (a dev-dependency only): the prerequisite and
//! skip policy, the throwaway host namespace, mount counts, the environment `cnitool` reads,
//! the runner of the real binary ([`cnitool`]) and the leak snapshot ([`snapshot`]).

pub mod cnitool;
pub mod image;
pub mod isolate;
pub mod snapshot;

/// Whether this is a CI run: any non-empty `CI` (CI services set `true`, `1` or their name).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether the developer asked to skip tests that need `class` (`CNITOOL_TEST_SKIP`, a comma
/// list of classes such as `root,containers,pasta`, or `all`). Never under CI.
fn skip_asked(class: &str) -> bool {
    !in_ci()
        && std::env::var("CNITOOL_TEST_SKIP").is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|c| c == class || c == "all")
        })
}

/// Decides whether `test` runs, given what of its prerequisites of `class` is `missing`
/// (`None`: nothing). A test whose prerequisite is missing fails, saying how to get it or how
/// to skip it; it is skipped only when `CNITOOL_TEST_SKIP` names `class`, outside CI. A skip
/// is printed and, when `CNITOOL_TEST_SKIPS` names a file (`scripts/test` sets it), appended
/// to it, so the suite's last line counts skipped tests.
///
/// # Panics
/// When something is missing and skipping it was not asked for.
#[track_caller]
pub fn prerequisite(test: &str, class: &str, missing: Option<String>) -> bool {
    let Some(missing) = missing else {
        return true;
    };
    if !skip_asked(class) {
        let how = if in_ci() {
            "CI never skips a test"
        } else {
            "install it (scripts/install-deps) or skip such tests with CNITOOL_TEST_SKIP="
        };
        let class = if in_ci() { "" } else { class };
        panic!("{test} needs {missing}: {how}{class}");
    }
    eprintln!("SKIPPED {test}: needs {missing} (CNITOOL_TEST_SKIP)");
    if let Some(log) = std::env::var_os("CNITOOL_TEST_SKIPS") {
        use std::io::Write as _;
        let line = format!("{test}\t{missing}\n");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
            .expect("opening the CNITOOL_TEST_SKIPS file");
        // One write(2) of one short line: appends from parallel tests never interleave.
        f.write_all(line.as_bytes()).expect("recording a skip");
    }
    false
}

/// Whether a root-only test may run: as root, yes; otherwise see [`prerequisite`] (class
/// `root`).
#[track_caller]
pub fn root_or_skip(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    prerequisite(
        test,
        "root",
        (!root).then(|| "root (namespaces, mounts, real plugins)".to_owned()),
    )
}

/// The reference plugins the tests run.
pub const PLUGIN_DIR: &str = "/usr/lib/cni";

/// Whether a test that runs the reference plugins may run: root and the plugins installed.
#[track_caller]
pub fn plugins_or_skip(test: &str) -> bool {
    root_or_skip(test)
        && prerequisite(
            test,
            "plugins",
            (!std::path::Path::new(PLUGIN_DIR).join("bridge").exists())
                .then(|| format!("the reference CNI plugins in {PLUGIN_DIR}")),
        )
}

/// The first of `dirs` that holds `program`.
pub fn find_in(dirs: &[&str], program: &str) -> Option<std::path::PathBuf> {
    dirs.iter()
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.exists())
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

/// One line of `/proc/thread-self/mountinfo`: the mount's ID, its parent's and where it is.
#[derive(Debug)]
struct MountEntry {
    id: u32,
    parent: u32,
    point: String,
}

fn mount_table() -> Vec<MountEntry> {
    std::fs::read_to_string("/proc/thread-self/mountinfo")
        .expect("reading /proc/thread-self/mountinfo")
        .lines()
        .map(|line| {
            let mut fields = line.split(' ');
            let mut next = || fields.next().expect("a mountinfo line has 5+ fields");
            let id = next().parse().expect("mount ID");
            let parent = next().parse().expect("parent mount ID");
            let point = next_nth(&mut next, 3);
            MountEntry { id, parent, point }
        })
        .collect()
}

fn next_nth<'a>(next: &mut impl FnMut() -> &'a str, skip: usize) -> String {
    for _ in 0..skip - 1 {
        next();
    }
    next().to_owned()
}

/// The mount points the calling thread can reach, in mount order: mounts hidden under a
/// later mount on the same path or on a directory above them are left out. A throwaway host
/// copies the machine's mount table, so a `/run/netns` the machine has (after any
/// `ip netns add`) is still listed under the tmpfs a test puts on `/run`; counting it would
/// make the test depend on the machine.
pub fn visible_mount_points() -> Vec<String> {
    let table = mount_table();
    let descends_from = |m: &MountEntry, ancestor: u32| {
        let mut id = m.id;
        // Bounded: a parent loop (the root of a namespace is its own parent) ends the walk.
        for _ in 0..table.len() {
            if id == ancestor {
                return true;
            }
            match table.iter().find(|p| p.id == id) {
                Some(e) if e.parent != id => id = e.parent,
                _ => return false,
            }
        }
        false
    };
    let covers = |upper: &str, lower: &str| {
        upper == lower
            || upper == "/"
            || lower
                .strip_prefix(upper)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    table
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            !table[i + 1..]
                .iter()
                .any(|later| covers(&later.point, &m.point) && !descends_from(later, m.id))
        })
        .map(|(_, m)| m.point.clone())
        .collect()
}

/// Detaches every mount at or below `dir` in the calling thread's mount namespace, the last
/// made first: a mount point inside a temp dir would make its removal fail (EBUSY) and leave
/// the dir behind, whatever a test that panicked midway did not unmount.
pub fn unmount_all_under(dir: &std::path::Path) {
    let Some(dir) = dir.to_str() else { return };
    let under = |p: &str| p == dir || p.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    for m in mount_table().iter().rev().filter(|m| under(&m.point)) {
        nix::mount::umount2(m.point.as_str(), nix::mount::MntFlags::MNT_DETACH).ok();
    }
}

/// (visible mounts on `dir`, visible mounts below `dir`) in the calling thread's mount
/// namespace.
pub fn mounts_at_and_below(dir: &std::path::Path) -> (usize, usize) {
    let dir = dir.to_str().expect("a UTF-8 path");
    let points = visible_mount_points();
    let below = |p: &String| p.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
    (
        points.iter().filter(|p| *p == dir).count(),
        points.iter().filter(|p| below(p)).count(),
    )
}

/// Polls `cond` (every 10 ms) until it holds; fails naming `what` after `limit`, which is
/// meant to be generous: the poll returns as soon as the condition holds, however loaded the
/// machine is.
///
/// # Panics
/// When `cond` still does not hold after `limit`.
#[track_caller]
pub fn wait_until(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
