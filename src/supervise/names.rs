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
//! - Only records whose runner is alive count: a runner killed by SIGKILL leaves its claim
//!   in a record that nobody resolves any more, and `cnitool gc` removes the record and
//!   rewrites the live files.

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

use super::record::{dir, RunRecord};

/// The line after which a hosts file holds the names of the runs on its networks.
pub const MARKER: &str = "# cnitool: names of the live runs on this run's networks";

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

/// The readable records of live runners, with their paths (called under [`lock`]).
fn live_records(cache_dir: &Path) -> Result<Vec<(PathBuf, RunRecord)>> {
    Ok(RunRecord::list(cache_dir)?
        .into_iter()
        .filter_map(|(p, r)| r.ok().map(|r| (p, r)))
        .filter(|(_, r)| r.owner.is_alive())
        .collect())
}

/// Refuses `claims` when a live run (other than the one recorded at `me`) holds one of the
/// names on the same network; the error names the holder. Called under [`lock`].
pub fn check_free(cache_dir: &Path, claims: &[NameClaim], me: Option<&Path>) -> Result<()> {
    if claims.is_empty() {
        return Ok(());
    }
    for (path, rec) in live_records(cache_dir)? {
        if Some(path.as_path()) == me {
            continue;
        }
        for theirs in &rec.names {
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
                "name {name:?} is taken on network {:?} by the run of pid {} (which holds {}; \
                 record {}): choose another --name or --alias, or end that run",
                theirs.network,
                rec.owner.pid,
                theirs.names.join(", "),
                path.display()
            ));
        }
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
        out.push_str("# cnitool: --add-host\n");
        for (name, ip) in add_hosts {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out.push_str(MARKER);
    out.push('\n');
    out
}

/// The names part for a run on `networks`, from the live `records`: per network, per run
/// holding names there, a line per address: `ADDRESS NAME.NETWORK NAME ALIAS...` (the
/// `NAME.NETWORK` form only when the network name is a valid host name).
fn names_part(networks: &BTreeSet<&str>, records: &[(PathBuf, RunRecord)]) -> String {
    let mut out = String::new();
    for net in networks {
        for (_, rec) in records {
            for claim in rec.names.iter().filter(|c| c.network == *net) {
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
    }
    out
}

/// The path of the hosts file of the run recorded at `record`.
pub fn hosts_path(record: &Path) -> PathBuf {
    record.with_extension("hosts")
}

/// The networks a record attaches.
fn networks(rec: &RunRecord) -> BTreeSet<&str> {
    rec.attachments.iter().map(|a| a.network.as_str()).collect()
}

/// Writes the run's hosts file (`head`, then the names on its networks) and, when the run
/// holds names, rewrites the files of the other live runs on those networks. `record` is
/// the run's record (already carrying its claims' addresses). Called under [`lock`].
pub fn publish(
    cache_dir: &Path,
    record_path: &Path,
    record: &RunRecord,
    head: &str,
) -> Result<PathBuf> {
    let records = live_records(cache_dir)?;
    let path = hosts_path(record_path);
    let content = format!("{head}{}", names_part(&networks(record), &records));
    write_in_place(&path, &content, true)?;
    if !record.names.is_empty() {
        let nets = record.names.iter().map(|c| c.network.as_str()).collect();
        refresh_with(&records, &nets, Some(record_path));
    }
    Ok(path)
}

/// Rewrites the names part of the hosts file of every live run on one of `nets` (every
/// network when `None`), except the run recorded at `skip`. Called under [`lock`]; a file
/// that cannot be rewritten is skipped (its run may be ending).
pub fn refresh(cache_dir: &Path, nets: Option<&BTreeSet<&str>>, skip: Option<&Path>) -> Result<()> {
    let records = live_records(cache_dir)?;
    match nets {
        Some(nets) => refresh_with(&records, nets, skip),
        None => {
            let all: BTreeSet<&str> = records.iter().flat_map(|(_, r)| networks(r)).collect();
            refresh_with(&records, &all, skip);
        }
    }
    Ok(())
}

fn refresh_with(records: &[(PathBuf, RunRecord)], nets: &BTreeSet<&str>, skip: Option<&Path>) {
    for (path, rec) in records {
        let theirs = networks(rec);
        if Some(path.as_path()) == skip || theirs.is_disjoint(nets) {
            continue;
        }
        let hosts = hosts_path(path);
        let Ok(old) = fs::read_to_string(&hosts) else {
            continue;
        };
        let Some(end) = head_end(&old) else {
            continue;
        };
        let head = &old[..end];
        // Never created here: a run removes its file at its end without the lock, and must
        // not find it made again behind it.
        let _ = write_in_place(
            &hosts,
            &format!("{head}{}", names_part(&theirs, records)),
            false,
        );
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

/// The claims of every live run, per record (for `cnitool names`): `(pid, claim)`.
pub fn list(cache_dir: &Path) -> Result<Vec<(i32, NameClaim)>> {
    let mut out: Vec<(i32, NameClaim)> = live_records(cache_dir)?
        .into_iter()
        .flat_map(|(_, r)| {
            let pid = r.owner.pid;
            r.names.into_iter().map(move |c| (pid, c))
        })
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
