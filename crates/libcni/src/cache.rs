//! The on-disk result cache, byte-compatible with Go libcni's `cniCacheV1` files.
//!
//! Not part of the spec, but every runtime built on Go's libcni keeps one, and the Go
//! `cnitool` reads it: a file `<cache dir>/results/<network>-<container ID>-<ifname>` holding
//! one line of compact JSON with the keys, in this order, `kind`, `containerId`, `config`
//! (base64 of the network list's bytes), `ifName`, `networkName`, `netns`, `cniArgs`,
//! `capabilityArgs`, `result`, the last four left out when empty.
//!
//! Better than Go: files are written atomically (a temp file, then a rename; see
//! [`Durability`] for what reaches the disk when), so a killed writer never leaves the partial
//! files, and a crash on ext4 or XFS never the 0-byte files, that Go can; a file is checked against the
//! attachment it was asked for (`a-b` + `c` and `a` + `b-c` share a file name); a corrupt
//! file is reported as such so DEL can remove it and go on.
//!
//! Length: over 500 lines with its unit tests (about 180); the code is about 400.

use std::fs::{self};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::fsutil::{self, Durability};
use crate::json;

/// The `kind` of the files this module writes.
pub const CACHE_KIND: &str = "cniCacheV1";

/// One attachment of a network to a container interface, as the cache records it.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedAttachment {
    /// `containerId`.
    pub container_id: String,
    /// `config`: the network list's bytes at ADD time.
    pub config: Vec<u8>,
    /// `ifName`.
    pub ifname: String,
    /// `networkName`.
    pub network_name: String,
    /// `netns`: the namespace path at ADD time (Go writes it since libcni 1.2).
    pub netns: Option<String>,
    /// `cniArgs`: the `CNI_ARGS` pairs at ADD time.
    pub cni_args: Vec<(String, String)>,
    /// `capabilityArgs`: the capability arguments at ADD time.
    pub capability_args: Map<String, Value>,
    /// `result`: the final ADD result, keys sorted.
    pub result: Option<Value>,
}

/// What a cache file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheEntry {
    /// A `cniCacheV1` file.
    V1(CachedAttachment),
    /// A file from before `cniCacheV1`: the bare result.
    Legacy(Value),
}

impl CacheEntry {
    /// The cached result, in either format.
    pub fn result(&self) -> Option<&Value> {
        match self {
            CacheEntry::V1(a) => a.result.as_ref(),
            CacheEntry::Legacy(v) => Some(v),
        }
    }

    /// The attachment record, for `cniCacheV1` files.
    pub fn attachment(&self) -> Option<&CachedAttachment> {
        match self {
            CacheEntry::V1(a) => Some(a),
            CacheEntry::Legacy(_) => None,
        }
    }
}

/// The file layout; field order is the key order Go writes.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    kind: String,
    #[serde(rename = "containerId", default)]
    container_id: String,
    #[serde(with = "base64_bytes", default)]
    config: Vec<u8>,
    #[serde(rename = "ifName", default)]
    ifname: String,
    #[serde(rename = "networkName", default)]
    network_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    netns: String,
    #[serde(rename = "cniArgs", default, skip_serializing_if = "Vec::is_empty")]
    cni_args: Vec<(String, String)>,
    #[serde(
        rename = "capabilityArgs",
        default,
        skip_serializing_if = "Map::is_empty"
    )]
    capability_args: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        // Go encodes a nil []byte as null.
        let s: Option<String> = Option::deserialize(d)?;
        s.map_or(Ok(Vec::new()), |s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(serde::de::Error::custom)
        })
    }
}

/// Encodes an attachment exactly as Go's libcni writes it.
pub fn encode(att: &CachedAttachment) -> Vec<u8> {
    json::to_vec(&CacheFile {
        kind: CACHE_KIND.into(),
        container_id: att.container_id.clone(),
        config: att.config.clone(),
        ifname: att.ifname.clone(),
        network_name: att.network_name.clone(),
        netns: att.netns.clone().unwrap_or_default(),
        cni_args: att.cni_args.clone(),
        capability_args: att.capability_args.clone(),
        result: att.result.clone(),
    })
}

/// Decodes a cache file's bytes.
///
/// # Errors
/// A message saying what is wrong (the caller adds the path).
pub fn decode(bytes: &[u8]) -> Result<CacheEntry, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("empty file".into());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if value.get("kind").and_then(Value::as_str) != Some(CACHE_KIND) {
        return match value {
            Value::Object(_) => Ok(CacheEntry::Legacy(value)),
            _ => Err("not a JSON object".into()),
        };
    }
    let file: CacheFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(CacheEntry::V1(CachedAttachment {
        container_id: file.container_id,
        config: file.config,
        ifname: file.ifname,
        network_name: file.network_name,
        netns: Some(file.netns).filter(|n| !n.is_empty()),
        cni_args: file.cni_args,
        capability_args: file.capability_args,
        result: file.result,
    }))
}

/// The cache directory (Go's `CacheDir`, default `/var/lib/cni`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
    durability: Durability,
}

impl Cache {
    /// A cache rooted at `dir`; nothing is created until something is written.
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            durability: Durability::default(),
        }
    }

    /// Sets how far writes go before they return (default [`Durability::Atomic`]).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Cache {
        self.durability = durability;
        self
    }

    /// How far writes go before they return.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/results`, where the result files live.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// The file of one attachment (Go: `getCacheFilePath`). The parts must have passed
    /// [`crate::validate`], which keeps them free of `/` and short enough for one file name.
    pub fn path(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.results_dir()
            .join(format!("{network}-{container_id}-{ifname}"))
    }

    /// Writes an attachment atomically (a temp file, then a rename), as durably as the cache's
    /// [`Durability`] says. The directories are created 0700 and the file 0600.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn write(&self, att: &CachedAttachment) -> Result<PathBuf, Error> {
        let path = self.path(&att.network_name, &att.container_id, &att.ifname);
        let name = format!("{}-{}-{}", att.network_name, att.container_id, att.ifname);
        fsutil::create_private_dir(&self.dir)
            .and_then(|()| {
                fsutil::write_atomic(&self.results_dir(), &name, &encode(att), self.durability)
            })
            .map_err(|e| Error::io("writing cache file", &path, e))
    }

    /// Reads the entry of one attachment. `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`Error::CacheCorrupt`] when the file does not parse or records another attachment;
    /// [`Error::Io`] when it cannot be read.
    pub fn read(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<CacheEntry>, Error> {
        let path = self.path(network, container_id, ifname);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading cache file", &path, e)),
        };
        let corrupt = |reason: String| Error::CacheCorrupt {
            path: path.clone(),
            reason,
        };
        let entry = decode(&bytes).map_err(corrupt)?;
        if let CacheEntry::V1(att) = &entry {
            let want = (network, container_id, ifname);
            let got = (
                att.network_name.as_str(),
                att.container_id.as_str(),
                att.ifname.as_str(),
            );
            if got != want {
                return Err(corrupt(format!(
                    "records network {:?}, container {:?}, interface {:?}, not the requested {:?}, {:?}, {:?}",
                    got.0, got.1, got.2, want.0, want.1, want.2
                )));
            }
        }
        Ok(Some(entry))
    }

    /// Removes the entry of one attachment; a missing one is fine. A file that records
    /// another attachment (`a-b` + `c` and `a` + `b-c` share a file name) is not this one's
    /// entry and is left alone; an unreadable or unparsable one is removed.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<(), Error> {
        let path = self.path(network, container_id, ifname);
        if let Ok(bytes) = fs::read(&path) {
            if let Ok(CacheEntry::V1(att)) = decode(&bytes) {
                if (
                    att.network_name.as_str(),
                    att.container_id.as_str(),
                    att.ifname.as_str(),
                ) != (network, container_id, ifname)
                {
                    return Ok(());
                }
            }
        }
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("removing cache file", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// The attachments recorded for interface `ifname`, of any network and container: the
    /// `cniCacheV1` files named `...-<ifname>` that record that interface. Only those files
    /// are read; unreadable ones are skipped (as [`Cache::list`] reports them).
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read (a missing one is empty).
    pub fn list_interface(&self, ifname: &str) -> Result<Vec<(PathBuf, CachedAttachment)>, Error> {
        let dir = self.results_dir();
        let suffix = format!("-{ifname}");
        let entries = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading cache directory", &dir, e)),
        };
        let mut names: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .filter(|n| {
                let n = n.as_encoded_bytes();
                !n.starts_with(b".") && n.ends_with(suffix.as_bytes())
            })
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .filter_map(|name| {
                let path = dir.join(name);
                match fs::read(&path).ok().map(|b| decode(&b)) {
                    Some(Ok(CacheEntry::V1(att))) if att.ifname == ifname => Some((path, att)),
                    _ => None,
                }
            })
            .collect())
    }

    /// Every `cniCacheV1` attachment in the cache, sorted by file name, optionally only those
    /// of one network (Go: `GetCachedAttachments`, which skips files it cannot read).
    /// Unreadable files are returned beside the attachments so callers can report them.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read (a missing one is empty).
    pub fn list(&self, network: Option<&str>) -> Result<Listing, Error> {
        let dir = self.results_dir();
        let mut names = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .filter(|n| !n.as_encoded_bytes().starts_with(b"."))
                .collect::<Vec<_>>(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("reading cache directory", &dir, e)),
        };
        names.sort();
        let mut listing = Listing::default();
        for name in names {
            let path = dir.join(&name);
            let entry = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| decode(&b));
            match entry {
                Ok(CacheEntry::V1(att)) => {
                    if att.ifname.is_empty() || att.network_name.is_empty() {
                        listing
                            .unreadable
                            .push((path, "missing ifName or networkName".into()));
                    } else if network.is_none_or(|n| n == att.network_name) {
                        listing.attachments.push((path, att));
                    }
                }
                Ok(CacheEntry::Legacy(_)) => {}
                Err(reason) => listing.unreadable.push((path, reason)),
            }
        }
        Ok(listing)
    }
}

/// What [`Cache::list`] found.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The attachments, with their files.
    pub attachments: Vec<(PathBuf, CachedAttachment)>,
    /// Files that could not be read or parsed, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Other spellings of the namespace path `path` under which an attachment may have been
/// cached (the container ID a caller derives from a path changes with its spelling): the
/// path with its symbolic links resolved, and `/run/...` for `/var/run/...` or the reverse
/// (`/var/run` is a link to `/run` on current systems). `path` itself is not among them.
pub fn netns_path_spellings(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(real) = fs::canonicalize(path) {
        out.push(real);
    }
    let s = path.to_string_lossy();
    if let Some(rest) = s.strip_prefix("/var/run/") {
        out.push(PathBuf::from(format!("/run/{rest}")));
    } else if let Some(rest) = s.strip_prefix("/run/") {
        out.push(PathBuf::from(format!("/var/run/{rest}")));
    }
    out.retain(|p| p != path);
    out
}

/// Whether a namespace path recorded in the cache (`cached`) names the namespace at `path`:
/// the same path, or, when `path` exists, the same file once symbolic links are resolved.
pub fn same_netns_path(cached: &Path, path: &Path) -> bool {
    cached == path || path.exists() && fs::canonicalize(cached).ok() == fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use serde_json::json;

    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = Path::new(crate::GO_FIXTURES).join(rel);
        fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
    }

    #[test]
    fn round_trips_go_fixtures_byte_for_byte() {
        for folder in [
            "list-spy",
            "conf-upconvert",
            "conf-upconvert-spy",
            "old-version-0.3.1",
            "version-0.2.0",
            "version-0.4.0",
            "version-mixed-1.0.0-result-in-0.4.0-list",
            "version-mixed-0.4.0-result-in-1.0.0-list",
            "bridge-real",
        ] {
            let bytes = fixture(&format!("{folder}/cache-after-add"));
            let CacheEntry::V1(att) = decode(&bytes).unwrap() else {
                panic!("{folder}: not cniCacheV1");
            };
            assert_eq!(
                String::from_utf8(encode(&att)).unwrap(),
                String::from_utf8(bytes).unwrap(),
                "{folder}"
            );
        }
    }

    #[test]
    fn config_field_is_the_files_bytes() {
        let att = match decode(&fixture("list-spy/cache-after-add")).unwrap() {
            CacheEntry::V1(a) => a,
            CacheEntry::Legacy(_) => unreachable!(),
        };
        assert_eq!(att.config, fixture("list-spy/20-fxlist.conflist"));
        assert_eq!(
            att.cni_args,
            [
                ("IgnoreUnknown".to_owned(), "1".to_owned()),
                ("FOO".to_owned(), "bar".to_owned())
            ]
        );
        assert_eq!(att.netns, None);
    }

    fn sample() -> CachedAttachment {
        CachedAttachment {
            container_id: "cnitool-aa3b289e5e55be8e4b09".into(),
            config: b"{}".to_vec(),
            ifname: "eth0".into(),
            network_name: "net".into(),
            netns: Some("/run/netns/x".into()),
            cni_args: vec![],
            capability_args: Map::new(),
            result: Some(json!({"cniVersion": "1.0.0", "dns": {}})),
        }
    }

    #[test]
    fn netns_goes_after_network_name() {
        let s = String::from_utf8(encode(&sample())).unwrap();
        assert_eq!(
            s,
            r#"{"kind":"cniCacheV1","containerId":"cnitool-aa3b289e5e55be8e4b09","config":"e30=","ifName":"eth0","networkName":"net","netns":"/run/netns/x","result":{"cniVersion":"1.0.0","dns":{}}}"#
        );
    }

    #[test]
    fn writes_atomically_with_modes_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path().join("cni"));
        let att = sample();
        let path = cache.write(&att).unwrap();
        assert_eq!(
            path,
            tmp.path()
                .join("cni/results/net-cnitool-aa3b289e5e55be8e4b09-eth0")
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&cache.results_dir()), 0o700);
        assert_eq!(mode(cache.dir()), 0o700);
        // Only the final file remains: no temp file.
        assert_eq!(fs::read_dir(cache.results_dir()).unwrap().count(), 1);
        let got = cache
            .read("net", &att.container_id, "eth0")
            .unwrap()
            .unwrap();
        assert_eq!(got, CacheEntry::V1(att.clone()));
        assert_eq!(cache.list(None).unwrap().attachments.len(), 1);
        assert_eq!(cache.list(Some("other")).unwrap().attachments.len(), 0);
        cache.remove("net", &att.container_id, "eth0").unwrap();
        cache.remove("net", &att.container_id, "eth0").unwrap();
        assert!(cache
            .read("net", &att.container_id, "eth0")
            .unwrap()
            .is_none());
    }

    #[test]
    fn detects_corrupt_and_mismatched_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        fs::create_dir_all(cache.results_dir()).unwrap();
        fs::write(cache.path("n", "c", "eth0"), b"").unwrap();
        let err = cache.read("n", "c", "eth0").unwrap_err();
        assert!(matches!(err, Error::CacheCorrupt { .. }), "{err}");
        fs::write(cache.path("n", "c", "eth0"), b"{\"kind\":\"cniCacheV1\",").unwrap();
        assert!(cache.read("n", "c", "eth0").is_err());

        // "a-b" + "c" and "a" + "b-c" share a file name: the fields decide.
        let mut att = sample();
        att.network_name = "a-b".into();
        att.container_id = "c".into();
        cache.write(&att).unwrap();
        let err = cache.read("a", "b-c", "eth0").unwrap_err().to_string();
        assert!(err.contains("records network \"a-b\""), "{err}");
        assert!(cache.read("a-b", "c", "eth0").unwrap().is_some());

        let listing = cache.list(None).unwrap();
        assert_eq!(listing.attachments.len(), 1);
        assert_eq!(listing.unreadable.len(), 1);
    }

    #[test]
    fn reads_legacy_bare_results() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        fs::create_dir_all(cache.results_dir()).unwrap();
        fs::write(
            cache.path("n", "c", "eth0"),
            br#"{"cniVersion":"0.3.1","ips":[]}"#,
        )
        .unwrap();
        let entry = cache.read("n", "c", "eth0").unwrap().unwrap();
        assert!(matches!(entry, CacheEntry::Legacy(_)));
        assert_eq!(entry.result().unwrap()["cniVersion"], "0.3.1");
    }

    #[test]
    fn netns_path_spellings_and_sameness() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("ns");
        fs::write(&real, b"").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let real = fs::canonicalize(&real).unwrap();

        assert_eq!(netns_path_spellings(&link), vec![real.clone()]);
        assert!(netns_path_spellings(&real).is_empty());
        assert_eq!(
            netns_path_spellings(Path::new("/var/run/netns/cnitool-test-none")),
            vec![PathBuf::from("/run/netns/cnitool-test-none")]
        );
        assert_eq!(
            netns_path_spellings(Path::new("/run/netns/cnitool-test-none")),
            vec![PathBuf::from("/var/run/netns/cnitool-test-none")]
        );

        assert!(same_netns_path(&link, &real));
        assert!(same_netns_path(&real, &link));
        let gone = dir.path().join("gone");
        assert!(same_netns_path(&gone, &gone));
        assert!(!same_netns_path(&real, &gone));
    }
}
