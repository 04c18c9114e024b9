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
