//! Crash-safety records of `run`: what a run is about to create, written (atomically, synced)
//! before its first side effect, so `cnitool gc` can undo everything when the runner died
//! (SIGKILL, power loss). A record lives in `<cache dir>/cnitool-runs/<id>.json`, beside
//! the result cache, because it must survive a reboot just as the IPAM state does.

use std::fs::{self};
use std::io::{self};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use libcni::cache::Cache;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who owns a record: a process, identified so that PID reuse or a reboot is not mistaken
/// for the owner being alive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The runner's PID.
    pub pid: i32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
}

impl Owner {
    /// The calling process.
    pub fn current() -> Result<Owner> {
        let pid = std::process::id() as i32;
        Ok(Owner {
            pid,
            start_time: start_time(pid).context("reading this process's start time")?,
            boot_id: boot_id().context("reading the boot ID")?,
        })
    }

    /// Process `pid` (another's, such as a container's first process).
    pub fn of(pid: i32) -> Result<Owner> {
        Ok(Owner {
            pid,
            start_time: start_time(pid)
                .with_context(|| format!("reading the start time of process {pid}"))?,
            boot_id: boot_id().context("reading the boot ID")?,
        })
    }

    /// Whether this process still runs.
    pub fn is_alive(&self) -> bool {
        boot_id().is_ok_and(|b| b == self.boot_id)
            && start_time(self.pid).is_ok_and(|t| t == self.start_time)
    }
}

/// The boot ID, read once per process (it cannot change while the process lives; liveness
/// checks of many records would read it again each time).
fn boot_id() -> io::Result<String> {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(id) = BOOT_ID.get() {
        return Ok(id.clone());
    }
    let id = fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned();
    Ok(BOOT_ID.get_or_init(|| id).clone())
}

/// `/proc/<pid>/stat`, in one `read` where it fits 1 KiB (it always does unless the kernel
/// grows it): procfs reports size 0, so `read_to_string` would probe with several small reads.
pub(crate) fn read_stat(pid: i32) -> io::Result<String> {
    use std::io::Read as _;
    let mut f = fs::File::open(format!("/proc/{pid}/stat"))?;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..])? {
            0 => break,
            n => len += n,
        }
        // A stat line ends with a newline: no need for the read that returns 0.
        if buf[len - 1] == b'\n' {
            break;
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(io::Error::other)
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name, which may contain
/// spaces and parentheses itself).
fn start_time(pid: i32) -> io::Result<u64> {
    let stat = read_stat(pid)?;
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    // Fields after the name start at field 3; starttime is field 22.
    after
        .split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other("malformed stat"))
}

/// One network a run attaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAttachment {
    /// The network name.
    pub network: String,
    /// The interface name.
    pub ifname: String,
    /// The network list's bytes (base64), so it can be torn down even if the netconf is gone.
    pub config: String,
}

impl PlannedAttachment {
    /// The network list's bytes.
    pub fn config_bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.config)
            .unwrap_or_default()
    }

    /// The attachments of networks `nets` (with their interface names), in order.
    pub fn all(nets: &[(libcni::NetworkConfigList, String)]) -> Vec<PlannedAttachment> {
        nets.iter()
            .map(|(list, ifname)| PlannedAttachment::new(&list.name, ifname, &list.full_bytes()))
            .collect()
    }

    /// Builds one from a list's bytes.
    pub fn new(network: &str, ifname: &str, config: &[u8]) -> PlannedAttachment {
        PlannedAttachment {
            network: network.to_owned(),
            ifname: ifname.to_owned(),
            config: base64::engine::general_purpose::STANDARD.encode(config),
        }
    }
}

/// What a run creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The runner.
    pub owner: Owner,
    /// The network namespace path.
    pub netns: PathBuf,
    /// Whether the run created the namespace (and must delete it).
    pub owns_netns: bool,
    /// The container ID of the attachments.
    pub container_id: String,
    /// The networks, in ADD order.
    pub attachments: Vec<PlannedAttachment>,
    /// `CNI_ARGS` pairs.
    #[serde(default)]
    pub cni_args: Vec<(String, String)>,
    /// Capability arguments.
    #[serde(default)]
    pub capability_args: Map<String, Value>,
    /// The names the run holds on its networks (`run --name`, `--alias`; see
    /// [`super::names`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<super::names::NameClaim>,
    /// The container a rootless `container run` started in the run netns: killed through
    /// its engine when the runner is found dead, before the DEL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<EngineContainer>,
}

/// A container started by a run, as its engine knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineContainer {
    /// The engine (called again to kill it).
    pub engine: crate::container::engine::Engine,
    /// The `--cidfile` the engine writes the container's ID to.
    pub cidfile: PathBuf,
    /// The run netns (`st_dev`, `st_ino`), once made: while a process is in it, the
    /// container runs on it, and the run is not over, even when its runner is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<(u64, u64)>,
    /// `container attach`: the container's name. The container was not started by the run,
    /// which only attached it: gc never kills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<String>,
    /// docker: the ID of the pause container whose network namespace is the run netns (the
    /// container joins it with `--network container:ID`); removed when the run is undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<String>,
}

impl EngineContainer {
    /// Whether a process (the container's) is still in the run netns.
    pub fn is_running(&self) -> bool {
        self.netns.is_some_and(|(dev, ino)| {
            !libcni::netns::processes_in(libcni::netns::NetnsId { dev, ino }).is_empty()
        })
    }
}

/// The directory of records under a cache directory.
pub fn dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("cnitool-runs")
}

impl RunRecord {
    /// Writes the record atomically, as durably as `cache` writes; returns its path.
    pub fn write(&self, cache: &Cache, id: &str) -> Result<PathBuf> {
        write_atomic(cache, &dir(cache.dir()), id, &serde_json::to_vec(self)?)
            .context("writing run record")
    }

    /// The path of the record `id` under a cache directory.
    pub fn path_in(cache_dir: &Path, id: &str) -> PathBuf {
        dir(cache_dir).join(format!("{id}.json"))
    }

    /// Every record in the cache directory, with its path (unreadable ones as errors).
    pub fn list(cache_dir: &Path) -> Result<Vec<(PathBuf, Result<RunRecord>)>> {
        list_json(&dir(cache_dir), "run record")
    }
}

/// Writes `<dir>/<id>.json` atomically, as durably as `cache` writes (see
/// [`libcni::fsutil::write_atomic`]), mode 0600 in a 0700 directory; returns its path. Shared
/// with `container`'s records.
pub(crate) fn write_atomic(cache: &Cache, dir: &Path, id: &str, bytes: &[u8]) -> Result<PathBuf> {
    let name = format!("{id}.json");
    libcni::fsutil::write_atomic(dir, &name, bytes, cache.durability())
        .with_context(|| format!("writing {}", dir.join(&name).display()))
}

/// Every `*.json` file in `dir` parsed as a `T`, sorted by path (unreadable ones as errors
/// naming `what`); a missing directory is an empty list. Temp files of writers that died
/// are removed on the way.
pub(crate) fn list_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    what: &str,
) -> Result<Vec<(PathBuf, Result<T>)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp") {
            remove_if_stale(&path);
            continue;
        }
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let rec = fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice(&b)?))
            .with_context(|| format!("{what} {}", path.display()));
        out.push((path, rec));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A temp file of a record whose writer died between writing and renaming it. The writer
/// creates nothing before the rename, so such a file guards nothing and can go; one younger
/// than a few seconds may still be renamed by a live writer.
fn remove_if_stale(path: &Path) {
    let old = fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() >= 10));
    if old {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_identifies_this_process() {
        let me = Owner::current().unwrap();
        assert!(me.is_alive());
        let reused = Owner {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(
            !reused.is_alive(),
            "a different start time is another process"
        );
        let rebooted = Owner {
            boot_id: "x".into(),
            ..me
        };
        assert!(!rebooted.is_alive());
    }

    #[test]
    fn records_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = RunRecord {
            owner: Owner::current().unwrap(),
            netns: "/run/netns/x".into(),
            owns_netns: true,
            container_id: "c".into(),
            attachments: vec![PlannedAttachment::new("n", "eth0", b"{}")],
            cni_args: vec![],
            capability_args: Map::new(),
            names: Vec::new(),
            container: None,
        };
        let path = rec.write(&Cache::new(tmp.path()), "r1").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
        // A temp file left by a writer that died: removed once it is old, ignored before.
        let stale = dir(tmp.path()).join(".r2.json.tmp4242");
        fs::write(&stale, b"{").unwrap();
        let all = RunRecord::list(tmp.path()).unwrap();
        assert!(stale.exists(), "a fresh temp file may still be renamed");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        RunRecord::list(tmp.path()).unwrap();
        assert!(!stale.exists(), "an old temp file is removed");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.as_ref().unwrap(), &rec);
        assert_eq!(rec.attachments[0].config_bytes(), b"{}");
    }
}
