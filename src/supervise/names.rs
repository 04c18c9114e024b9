//! Names between runs, without a resolver daemon: a run started with `--name` (and
//! `--alias`) claims those names on each of its networks in its run record, and every run
//! as root sees the names of the live runs on its networks through a hosts file of its own,
//! bind-mounted over `/etc/hosts` in its private mount namespace.
//!
//! - A claim is written into the run record before the run's first side effect, under the
//!   lock of the records directory ([`lock`]), after checking that no live run holds any of
//!   the names on the same network ([`check_free`]); its addresses are filled in after the
//!   ADDs ([`publish`]).
//! - A run's hosts file is `<record>.hosts`: the host's `/etc/hosts`, the run's own hostname
//!   and `--add-host` entries, then, after [`MARKER`], the names on its networks. When a named
//!   run starts or ends, the names part of every live run's file on the same networks is
//!   rewritten in place ([`refresh`]): the same inode (the bind mount pins it), one `pwrite`
//!   from offset 0 that never shrinks the file (shorter content is padded with a comment),
//!   so a reader sees the old or the new content, never an empty or cut file.
//! - Only records whose runner is alive count (for a container attached by `container
//!   attach`, its first process): a runner killed by SIGKILL leaves its claim in a record
//!   that nobody resolves any more, and `cnitool gc` removes the record and rewrites the live
//!   files.
//! - A file of someone else's making (a user's `/etc/netns/NAME/hosts`, the engine's
//!   `/etc/hosts` of a container that `container attach` names) keeps its own content as the
//!   head: ours follows it ([`publish_over`]) and can be cut off again ([`withdraw_over`]).
//!   An attached container's file is reached through `/proc/<its init>/root/etc/hosts`, only
//!   while that process (PID and start time) lives, checked after the file is opened.
//!
//! Length: about 800 lines of code: the records (runs, named namespaces, containers), the view
//! of the live names, the hosts files and their in-place rewrite, in one module because they
//! share one lock and one file format.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use libcni::CniResult;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::record::{dir, Owner, RunRecord};

/// The line after which a hosts file holds the names of the runs on its networks.
pub const MARKER: &str = "# cnitool: names of the live runs on this run's networks";

/// The line before the `--add-host` entries of a hosts file (just before [`MARKER`]).
const ADD_HOST_LINE: &str = "# cnitool: --add-host";

/// The names a run holds on one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameClaim {
    /// The network.
    pub network: String,
    /// The name (`--name`), then the aliases (`--alias`).
    pub names: Vec<String>,
    /// The run's addresses on the network (empty until its ADD succeeded).
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

/// Checks an RFC 1123 host name label (a `--name`, `--alias` or `--add-host` name part):
/// 1 to 63 letters, digits and hyphens, not beginning or ending with a hyphen.
pub fn validate_label(flag: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        return Ok(());
    }
    Err(crate::usage!(
        "{flag} {name:?}: not a valid name (RFC 1123: 1 to 63 letters, digits and hyphens, \
         not beginning or ending with a hyphen; no dots)"
    ))
}

/// `--name` then the `--alias`es (those not equal to an earlier one, without case), each
/// checked ([`validate_label`]).
pub fn names_and_aliases(name: Option<&str>, aliases: &[String]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    if let Some(name) = name {
        validate_label("--name", name)?;
        names.push(name.to_owned());
    }
    for a in aliases {
        validate_label("--alias", a)?;
        if !names.iter().any(|n| n.eq_ignore_ascii_case(a)) {
            names.push(a.clone());
        }
    }
    Ok(names)
}

/// A claim of `names` on each network of `networks` (none without names).
pub fn claims_on<'a>(
    names: &[String],
    networks: impl IntoIterator<Item = &'a str>,
) -> Vec<NameClaim> {
    let mut out: Vec<NameClaim> = Vec::new();
    if names.is_empty() {
        return out;
    }
    for net in networks {
        if !out.iter().any(|c| c.network == net) {
            out.push(NameClaim {
                network: net.to_owned(),
                names: names.to_vec(),
                addresses: Vec::new(),
            });
        }
    }
    out
}

/// Adds the addresses of `results` (one per network of `networks`, in order) to the claims
/// on their networks; returns all of them, in order (the container's own addresses).
pub fn add_addresses<'a>(
    claims: &mut [NameClaim],
    networks: impl IntoIterator<Item = &'a str>,
    results: &[CniResult],
) -> Vec<IpAddr> {
    let mut own = Vec::new();
    for (net, result) in networks.into_iter().zip(results) {
        let addrs = addresses(result);
        if let Some(claim) = claims.iter_mut().find(|c| c.network == net) {
            for a in &addrs {
                if !claim.addresses.contains(a) {
                    claim.addresses.push(*a);
                }
            }
        }
        own.extend(addrs);
    }
    own
}

/// Whether `s` is a host name of RFC 1123 labels joined by dots (so `NAME.s` is one too).
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| validate_label("", l).is_ok() && !l.is_empty())
}

/// The exclusive lock over the names of the runs recorded under a cache directory (a
/// `flock` of the records directory itself, so no lock file is left behind); released on
/// drop, and by the kernel when the holder dies.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] Flock<File>);

/// Takes the lock of the run records under `cache_dir`, waiting for it.
pub fn lock(cache_dir: &Path) -> Result<Lock> {
    let d = dir(cache_dir);
    libcni::fsutil::create_private_dir(&d).with_context(|| format!("creating {}", d.display()))?;
    let f = File::open(&d).with_context(|| format!("opening {}", d.display()))?;
    let l = Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking {}", d.display()))?;
    Ok(Lock(l))
}

/// A named namespace's attachment to a network, recorded by `cnitool add` (in
/// `<records dir>/<id>.nsattach`) so that the namespace sees the names on the network through
/// its `/etc/netns/NAME/hosts`, and, with `--name`, the others see it. It counts while the
/// namespace exists; `del` removes it, `gc` when the namespace is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsRecord {
    /// The namespace's path.
    pub netns: PathBuf,
    /// Its name (in the netns directory).
    pub ns_name: String,
    /// The container ID and interface of the attachment.
    pub container_id: String,
    pub ifname: String,
    /// The namespace's hosts file (`/etc/netns/NAME/hosts`).
    pub hosts: PathBuf,
    /// Whether `add` created that file (and its directory), so the last `del` removes them.
    pub created_hosts: bool,
    pub created_dir: bool,
    /// The names (`add --name`, `--alias`) and addresses on the network.
    pub claim: NameClaim,
}

/// The extension of [`NsRecord`] files.
const NS_EXT: &str = "nsattach";

impl NsRecord {
    /// The file name of the record of an attachment.
    pub fn path(cache_dir: &Path, container_id: &str, network: &str, ifname: &str) -> PathBuf {
        dir(cache_dir).join(format!("ns-{container_id}-{network}-{ifname}.{NS_EXT}"))
    }

    /// Writes the record atomically.
    pub fn write(&self, cache: &libcni::cache::Cache, path: &Path) -> Result<()> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        libcni::fsutil::write_atomic(
            &dir(cache.dir()),
            &name,
            &serde_json::to_vec(self)?,
            cache.durability(),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Every readable record, with its path.
    pub fn list(cache_dir: &Path) -> Vec<(PathBuf, NsRecord)> {
        let Ok(rd) = fs::read_dir(dir(cache_dir)) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, NsRecord)> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == NS_EXT))
            .filter_map(|p| {
                let rec = serde_json::from_slice(&fs::read(&p).ok()?).ok()?;
                Some((p, rec))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether its namespace still exists.
    pub fn is_alive(&self) -> bool {
        libcni::netns::identify(&self.netns).is_ok()
    }
}

/// Who holds names and who sees them, from the live records (called under [`lock`]).
struct View {
    /// Each claim, with the record holding it and a description of its holder.
    claims: Vec<(PathBuf, Holder, NameClaim)>,
    /// Each hosts file to keep current.
    consumers: Vec<Consumer>,
}

/// A hosts file showing the names on some networks.
struct Consumer {
    /// The file.
    hosts: PathBuf,
    /// The networks whose names it shows.
    nets: BTreeSet<String>,
    /// For a file reached through `/proc/PID/root`: the process it must belong to.
    proof: Option<Owner>,
}

/// Who holds a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A run, by its runner's PID.
    Run(i32),
    /// A named namespace (`add --name`).
    Netns(String),
    /// A `container run`, by its wrapper's PID.
    Container(i32),
    /// A container named by `container attach`, by its name and its init's PID.
    Attached(String, i32),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Run(pid) => write!(f, "the run of pid {pid}"),
            Holder::Netns(name) => write!(f, "namespace {name:?}"),
            Holder::Container(pid) => write!(f, "the container run of pid {pid}"),
            Holder::Attached(name, pid) => write!(f, "container {name:?} (pid {pid})"),
        }
    }
}

impl View {
    fn read(cache_dir: &Path) -> Result<View> {
        let mut claims = Vec::new();
        let mut consumers: Vec<Consumer> = Vec::new();
        let nets_of = |atts: &[super::record::PlannedAttachment]| {
            atts.iter().map(|a| a.network.clone()).collect()
        };
        for (path, rec) in RunRecord::list(cache_dir)? {
            let Ok(rec) = rec else { continue };
            if !rec.owner.is_alive() {
                continue;
            }
            consumers.push(Consumer {
                hosts: hosts_path(&path),
                nets: nets_of(&rec.attachments),
                proof: None,
            });
            for c in rec.names {
                claims.push((path.clone(), Holder::Run(rec.owner.pid), c));
            }
        }
        for (path, rec) in crate::container::record::ContainerRecord::list(cache_dir)? {
            let Ok(rec) = rec else { continue };
            // A `container run` lives with its wrapper, an attached container with its init.
            let holder = match (&rec.owner, &rec.init) {
                (Some(o), _) if o.is_alive() => Holder::Container(o.pid),
                (None, Some(i)) if i.is_alive() => Holder::Attached(rec.container_name, i.pid),
                _ => continue,
            };
            if let Some(hosts) = &rec.hosts {
                consumers.push(Consumer {
                    hosts: hosts.clone(),
                    nets: nets_of(&rec.attachments),
                    proof: None,
                });
            }
            if let (true, Some(init)) = (rec.hosts_in_place, &rec.init) {
                consumers.push(Consumer {
                    hosts: in_place_path(init.pid),
                    nets: nets_of(&rec.attachments),
                    proof: Some(init.clone()),
                });
            }
            for c in rec.names {
                claims.push((path.clone(), holder.clone(), c));
            }
        }
        for (path, rec) in NsRecord::list(cache_dir) {
            if !rec.is_alive() {
                continue;
            }
            match consumers.iter_mut().find(|c| c.hosts == rec.hosts) {
                Some(c) => {
                    c.nets.insert(rec.claim.network.clone());
                }
                None => consumers.push(Consumer {
                    hosts: rec.hosts.clone(),
                    nets: [rec.claim.network.clone()].into(),
                    proof: None,
                }),
            }
            if !rec.claim.names.is_empty() {
                claims.push((path, Holder::Netns(rec.ns_name), rec.claim));
            }
        }
        Ok(View { claims, consumers })
    }
}

/// The `/etc/hosts` of the container whose first process is `pid`, as seen from here.
pub fn in_place_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root/etc/hosts"))
}

/// Refuses `claims` when a live run or named namespace (other than the record at `me`)
/// holds one of the names on the same network; the error names the holder. Called under
/// [`lock`].
pub fn check_free(cache_dir: &Path, claims: &[NameClaim], me: Option<&Path>) -> Result<()> {
    if claims.iter().all(|c| c.names.is_empty()) {
        return Ok(());
    }
    for (path, holder, theirs) in View::read(cache_dir)?.claims {
        if Some(path.as_path()) == me {
            continue;
        }
        let Some(mine) = claims.iter().find(|c| c.network == theirs.network) else {
            continue;
        };
        let Some(name) = mine
            .names
            .iter()
            .find(|n| theirs.names.iter().any(|t| t.eq_ignore_ascii_case(n)))
        else {
            continue;
        };
        return Err(crate::conflict!(
            "name {name:?} is taken on network {:?} by {holder} (which holds {}; record {}): \
             choose another --name or --alias, or end that holder",
            theirs.network,
            theirs.names.join(", "),
            path.display()
        ));
    }
    Ok(())
}

/// The addresses of a result on the container's side: those whose interface is in the
/// sandbox, or every address when the result does not say which interface has it.
pub fn addresses(result: &CniResult) -> Vec<IpAddr> {
    let Ok(v1) = result.to_v1() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ip in &v1.ips {
        let in_sandbox = match ip.interface {
            Some(i) => usize::try_from(i)
                .ok()
                .and_then(|i| v1.interfaces.get(i))
                .is_none_or(|iface| !iface.sandbox.is_empty()),
            None => true,
        };
        if in_sandbox && !out.contains(&ip.address.addr) {
            out.push(ip.address.addr);
        }
    }
    out
}

/// The first part of a run's hosts file: `base` (the host's `/etc/hosts`), the run's
/// `hostname` on its `own` addresses (on 127.0.1.1 when it has none), the `--add-host`
/// entries, then [`MARKER`].
pub fn hosts_head(
    base: &str,
    hostname: Option<&str>,
    own: &[IpAddr],
    add_hosts: &[(String, IpAddr)],
) -> String {
    let mut out = String::new();
    for line in base.lines() {
        // A marker in the host's file would cut the run's own part on the next rewrite.
        if line.trim() != MARKER {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let Some(h) = hostname {
        out.push_str("# cnitool: the run's hostname\n");
        if own.is_empty() {
            out.push_str(&format!("127.0.1.1\t{h}\n"));
        }
        for a in own {
            out.push_str(&format!("{a}\t{h}\n"));
        }
    }
    if !add_hosts.is_empty() {
        out.push_str(ADD_HOST_LINE);
        out.push('\n');
        for (name, ip) in add_hosts {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out.push_str(MARKER);
    out.push('\n');
    out
}

/// The names part of a hosts file showing `networks`: per network, per holder of names
/// there, a line per address: `ADDRESS NAME.NETWORK NAME ALIAS...` (the `NAME.NETWORK` form
/// only when the network name is a valid host name).
fn names_part(networks: &BTreeSet<String>, view: &View) -> String {
    let mut out = String::new();
    for net in networks {
        for (_, _, claim) in view.claims.iter().filter(|(_, _, c)| c.network == *net) {
            let mut names = Vec::new();
            if is_hostname(net) {
                names.push(format!("{}.{net}", claim.names[0]));
            }
            names.extend(claim.names.iter().cloned());
            for a in &claim.addresses {
                out.push_str(&format!("{a}\t{}\n", names.join(" ")));
            }
        }
    }
    out
}

/// The path of the hosts file of the run recorded at `record`.
pub fn hosts_path(record: &Path) -> PathBuf {
    record.with_extension("hosts")
}

/// Writes the run's hosts file (`head`, then the names on its networks) and, when the run
/// holds names, rewrites the other live files showing those networks. `record` is the run's
/// record (already written with its claims' addresses). Called under [`lock`].
pub fn publish(
    cache_dir: &Path,
    record_path: &Path,
    record: &RunRecord,
    head: &str,
) -> Result<PathBuf> {
    let path = hosts_path(record_path);
    let nets = record
        .attachments
        .iter()
        .map(|a| a.network.clone())
        .collect();
    publish_file(cache_dir, &path, &nets, &record.names, head)?;
    Ok(path)
}

/// Writes the hosts file at `path` of a consumer on `nets` (`head`, then the names there)
/// and, for `claims` that hold names, rewrites the other live files showing their networks.
/// The record holding `claims` must be written already. Called under [`lock`].
pub fn publish_file(
    cache_dir: &Path,
    path: &Path,
    nets: &BTreeSet<String>,
    claims: &[NameClaim],
    head: &str,
) -> Result<()> {
    let view = View::read(cache_dir)?;
    write_in_place(path, &format!("{head}{}", names_part(nets, &view)), true)
        .with_context(|| format!("writing {}", path.display()))?;
    if !claims.is_empty() {
        let nets = claims.iter().map(|c| c.network.clone()).collect();
        refresh_with(&view, &nets, Some(path));
    }
    Ok(())
}

/// Writes (or updates) the hosts file of a named namespace attached by `add` (its record at
/// `me`, written with its addresses), then the other files showing its network when it
/// holds names. A file without the [`MARKER`] (the user's own) keeps its content as the head
/// ([`publish_over`]). Returns whether the file was created. Called under [`lock`].
pub fn publish_ns(cache_dir: &Path, rec: &NsRecord) -> Result<bool> {
    let created = !rec.hosts.exists();
    if created {
        let base = fs::read_to_string("/etc/hosts").unwrap_or_default();
        write_in_place(&rec.hosts, &hosts_head(&base, None, &[], &[]), true)
            .with_context(|| format!("writing {}", rec.hosts.display()))?;
    }
    publish_over(
        cache_dir,
        &rec.hosts,
        None,
        &[],
        &[rec.claim.network.clone()].into(),
        std::slice::from_ref(&rec.claim),
    )?;
    Ok(created)
}

/// Writes our part into the existing hosts file at `path`, made by someone else (a user's
/// `/etc/netns/NAME/hosts`, an engine's `/etc/hosts` of a running container), in place: its
/// own content stays as the head (all that precedes a part of ours written before), then the
/// `add_hosts` entries, [`MARKER`] and the names on its networks (those the live records
/// give the file, else `nets`). With `proof`, the file is written only while that process
/// lives (a file under `/proc/PID/root`). Then, for `claims` that hold names, rewrites the
/// other live files showing their networks. The record holding `claims` must be written
/// already. Called under [`lock`].
pub fn publish_over(
    cache_dir: &Path,
    path: &Path,
    proof: Option<&Owner>,
    add_hosts: &[(String, IpAddr)],
    nets: &BTreeSet<String>,
    claims: &[NameClaim],
) -> Result<()> {
    let view = View::read(cache_dir)?;
    let nets = view
        .consumers
        .iter()
        .find(|c| c.hosts == path)
        .map_or(nets, |c| &c.nets);
    (|| {
        let f = open_existing(path, proof)?;
        let old = read_all(&f)?;
        let head = hosts_head(foreign_part(&old), None, &[], add_hosts);
        write_padded(&f, &format!("{head}{}", names_part(nets, &view)))
    })()
    .with_context(|| format!("writing {}", path.display()))?;
    let named: BTreeSet<String> = claims
        .iter()
        .filter(|c| !c.names.is_empty())
        .map(|c| c.network.clone())
        .collect();
    if !named.is_empty() {
        refresh_with(&view, &named, Some(path));
    }
    Ok(())
}

/// Cuts our part ([`publish_over`]'s) off the hosts file at `path`, leaving its own content
/// as it was: one truncation at a line boundary, so a reader sees the file with or without
/// our part, nothing else. A file without the [`MARKER`] is left alone, and so is a file
/// under `/proc/PID/root` whose process (`proof`) is gone. Called under [`lock`].
pub fn withdraw_over(path: &Path, proof: Option<&Owner>) -> io::Result<()> {
    let f = match open_existing(path, proof) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let old = read_all(&f)?;
    if head_end(&old).is_none() {
        return Ok(());
    }
    f.set_len(foreign_part(&old).len() as u64)
}

/// Checks that [`publish_over`] could write the file at `path`: it exists and opens for
/// writing (not on a read-only mount), and `proof`'s process lives.
pub fn check_over(path: &Path, proof: Option<&Owner>) -> io::Result<()> {
    open_existing(path, proof).map(drop)
}

/// Opens an existing file for reading and writing; with `proof`, only while that process
/// lives, checked after the open: a file under `/proc/PID/root` opened then is that
/// process's, even if the PID is reused afterwards (`NotFound` otherwise).
fn open_existing(path: &Path, proof: Option<&Owner>) -> io::Result<File> {
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    match proof {
        Some(p) if !p.is_alive() => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("process {} is gone", p.pid),
        )),
        _ => Ok(f),
    }
}

/// The content of a file opened for reading, from its start.
fn read_all(mut f: &File) -> io::Result<String> {
    use std::io::Read as _;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

/// The part of a hosts file that is not ours: all that precedes our `--add-host` entries
/// and [`MARKER`] (the whole file when it has no marker).
fn foreign_part(text: &str) -> &str {
    let Some(end) = head_end(text) else {
        return text;
    };
    let head = &text[..end - MARKER.len() - 1];
    let add_hosts = format!("{ADD_HOST_LINE}\n");
    match head.rfind(&add_hosts) {
        Some(i) if i == 0 || head.as_bytes()[i - 1] == b'\n' => &head[..i],
        _ => head,
    }
}

/// Rewrites the names part of every live hosts file showing one of `nets` (every network
/// when `None`), except `skip`. Called under [`lock`]; a file that cannot be rewritten is
/// skipped (its run may be ending).
pub fn refresh(cache_dir: &Path, nets: Option<&BTreeSet<&str>>, skip: Option<&Path>) -> Result<()> {
    let view = View::read(cache_dir)?;
    let nets: BTreeSet<String> = match nets {
        Some(nets) => nets.iter().map(|n| n.to_string()).collect(),
        None => view
            .consumers
            .iter()
            .flat_map(|c| c.nets.iter().cloned())
            .collect(),
    };
    refresh_with(&view, &nets, skip);
    Ok(())
}

fn refresh_with(view: &View, nets: &BTreeSet<String>, skip: Option<&Path>) {
    for c in &view.consumers {
        if Some(c.hosts.as_path()) == skip || c.nets.is_disjoint(nets) {
            continue;
        }
        // Never created here: a run removes its file at its end without the lock, and must
        // not find it made again behind it.
        let Ok(f) = open_existing(&c.hosts, c.proof.as_ref()) else {
            continue;
        };
        let Ok(old) = read_all(&f) else {
            continue;
        };
        let Some(end) = head_end(&old) else {
            continue;
        };
        let _ = write_padded(&f, &format!("{}{}", &old[..end], names_part(&c.nets, view)));
    }
}

/// Where the head of a hosts file ends: after the [`MARKER`] line.
fn head_end(text: &str) -> Option<usize> {
    let line = format!("{MARKER}\n");
    if text.starts_with(&line) {
        return Some(line.len());
    }
    text.find(&format!("\n{line}")).map(|i| i + 1 + line.len())
}

/// Writes `content` over the file at `path` in place (created mode 0644 if missing and
/// `create`, else a missing file is an error): one
/// write from offset 0, padded to the file's current length with a comment line so the file
/// never shrinks, and no truncation, so a concurrent reader sees the whole old content or the
/// whole new one (with trailing padding), never an empty or cut file.
pub fn write_in_place(path: &Path, content: &str, create: bool) -> io::Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create(create)
        .truncate(false)
        .mode(0o644)
        .open(path)?;
    write_padded(&f, content)
}

/// [`write_in_place`]'s write, into an open file.
fn write_padded(f: &File, content: &str) -> io::Result<()> {
    let old_len = f.metadata()?.len() as usize;
    f.write_all_at(padded(content, old_len).as_bytes(), 0)
}

/// `content` padded to at least `len` bytes: a `#` comment of spaces, ending with a newline.
fn padded(content: &str, len: usize) -> String {
    let mut out = content.to_owned();
    match len.saturating_sub(content.len()) {
        0 => {}
        1 => out.push('\n'),
        n => {
            out.push('#');
            out.push_str(&" ".repeat(n - 2));
            out.push('\n');
        }
    }
    out
}

/// Claims the names of `rec` (an attachment of a named namespace, without addresses yet)
/// before its ADD: refused when a live holder has one of them on the network. Returns the
/// record's path and the record, written.
pub fn claim_ns(cache: &libcni::cache::Cache, rec: NsRecord) -> Result<(PathBuf, NsRecord)> {
    let _lock = lock(cache.dir())?;
    let path = NsRecord::path(
        cache.dir(),
        &rec.container_id,
        &rec.claim.network,
        &rec.ifname,
    );
    check_free(cache.dir(), std::slice::from_ref(&rec.claim), Some(&path))?;
    rec.write(cache, &path)?;
    Ok((path, rec))
}

/// After the ADD: records the addresses and writes the namespace's hosts file (creating
/// `/etc/netns/NAME/` if needed) and the other files showing the network.
pub fn publish_ns_added(
    cache: &libcni::cache::Cache,
    path: &Path,
    mut rec: NsRecord,
    result: &CniResult,
) -> Result<()> {
    let _lock = lock(cache.dir())?;
    rec.claim.addresses = addresses(result);
    if let Some(dir) = rec.hosts.parent() {
        if !dir.exists() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            rec.created_dir = true;
        }
    }
    rec.created_hosts = !rec.hosts.exists();
    rec.write(cache, path)?;
    publish_ns(cache.dir(), &rec)?;
    Ok(())
}

/// Removes the record of a named namespace's attachment (`del`, or `gc` when the namespace
/// is gone), the namespace's hosts file and directory when `add` created them and no other
/// attachment of it shows names, and rewrites the live files. Nothing to do without a record.
pub fn remove_ns(cache_dir: &Path, path: &Path) -> Result<()> {
    let Ok(bytes) = fs::read(path) else {
        return Ok(());
    };
    let _lock = lock(cache_dir)?;
    let rec: Option<NsRecord> = serde_json::from_slice(&bytes).ok();
    fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    if let Some(rec) = rec {
        let shared = NsRecord::list(cache_dir)
            .iter()
            .any(|(_, o)| o.hosts == rec.hosts && o.is_alive());
        if !shared {
            if rec.created_hosts {
                let _ = fs::remove_file(&rec.hosts);
            }
            if let (true, Some(dir)) = (rec.created_dir, rec.hosts.parent()) {
                let _ = fs::remove_dir(dir);
            }
        }
    }
    refresh(cache_dir, None, None)
}

/// `gc`: removes the records of named namespaces that are gone (see [`remove_ns`]); a line
/// per record.
pub fn gc_ns(cache_dir: &Path, dry_run: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (path, rec) in NsRecord::list(cache_dir) {
        if rec.is_alive() {
            continue;
        }
        let what = format!(
            "names of namespace {:?} on network {:?}",
            rec.ns_name, rec.claim.network
        );
        if dry_run {
            done.push(format!("would remove {what}"));
            continue;
        }
        remove_ns(cache_dir, &path)?;
        done.push(format!("removed {what}"));
    }
    Ok(done)
}

/// The claims of every live run and named namespace (for `cnitool names`).
pub fn list(cache_dir: &Path) -> Result<Vec<(Holder, NameClaim)>> {
    let mut out: Vec<(Holder, NameClaim)> = View::read(cache_dir)?
        .claims
        .into_iter()
        .map(|(_, h, c)| (h, c))
        .collect();
    out.sort_by(|a, b| (&a.1.network, &a.1.names).cmp(&(&b.1.network, &b.1.names)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["web", "a", "Web-1", &"x".repeat(63)] {
            assert!(validate_label("--name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-web", "web-", "a.b", "a_b", "wéb", &"x".repeat(64)] {
            let e = validate_label("--name", bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--name {bad:?}: not a valid name")),
                "{e}"
            );
        }
        assert!(is_hostname("mynet") && is_hostname("a.b"));
        assert!(!is_hostname("my_net") && !is_hostname("a..b"));
    }

    #[test]
    fn padding_never_shrinks() {
        assert_eq!(padded("ab\n", 0), "ab\n");
        assert_eq!(padded("ab\n", 4), "ab\n\n");
        assert_eq!(padded("ab\n", 7), "ab\n#  \n");
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("hosts");
        assert!(write_in_place(&p, "x\n", false).is_err(), "not created");
        write_in_place(&p, "1.2.3.4 long-name\n", true).unwrap();
        use std::os::unix::fs::MetadataExt as _;
        let ino = fs::metadata(&p).unwrap().ino();
        write_in_place(&p, "1.2.3.4 a\n", false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "1.2.3.4 a\n#      \n");
        assert_eq!(fs::metadata(&p).unwrap().ino(), ino);
    }

    #[test]
    fn our_part_over_a_file_of_someone_else() {
        let engine = "127.0.0.1\tlocalhost\n172.17.0.2\tabc123\n";
        let ours = format!(
            "{}10.0.0.3\tweb.n web\n",
            hosts_head(
                engine,
                None,
                &[],
                &[("db".into(), "10.9.9.9".parse().unwrap())]
            )
        );
        assert!(ours.starts_with(&format!(
            "{engine}{ADD_HOST_LINE}\n10.9.9.9\tdb\n{MARKER}\n"
        )));
        assert_eq!(foreign_part(&ours), engine);
        assert_eq!(foreign_part(engine), engine);
        let no_add_hosts = format!("{}x\n", hosts_head(engine, None, &[], &[]));
        assert_eq!(foreign_part(&no_add_hosts), engine);

        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("hosts");
        // A dead process's file is left alone.
        let me = Owner::current().unwrap();
        let gone = Owner {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        fs::write(&p, &ours).unwrap();
        withdraw_over(&p, Some(&gone)).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), ours);
        assert!(check_over(&p, Some(&gone)).is_err());
        check_over(&p, Some(&me)).unwrap();
        withdraw_over(&p, Some(&me)).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), engine);
        // Without our part: nothing to cut.
        withdraw_over(&p, None).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), engine);
        assert!(check_over(&tmp.path().join("missing"), None).is_err());
    }

    #[test]
    fn head_and_names() {
        let head = hosts_head(
            "127.0.0.1 localhost\n",
            Some("box"),
            &["10.0.0.2".parse().unwrap()],
            &[("db".into(), "10.9.9.9".parse().unwrap())],
        );
        assert_eq!(
            head,
            format!(
                "127.0.0.1 localhost\n# cnitool: the run's hostname\n10.0.0.2\tbox\n\
                 # cnitool: --add-host\n10.9.9.9\tdb\n{MARKER}\n"
            )
        );
        assert_eq!(head_end(&head), Some(head.len()));
        assert_eq!(head_end(&format!("{MARKER}\nx\n")), Some(MARKER.len() + 1));
        assert_eq!(head_end("no marker\n"), None);
    }
}
