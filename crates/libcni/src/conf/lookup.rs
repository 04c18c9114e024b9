//! Finding netconf files in directories: the lookup by name and the listing of everything.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{parse, Lookup, NetworkConfigList};
use crate::error::Error;

/// Which format a netconf file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfKind {
    /// A `.conflist`: a list with `plugins`.
    ConfList,
    /// A `.conf` or `.json` with one plugin, converted to a one-plugin list.
    Conf,
}

/// One netconf file found by [`list_networks`].
#[derive(Debug)]
pub struct ListedNetwork {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub kind: ConfKind,
    /// Its `name`, when the file could be read that far (even if it is otherwise broken).
    pub name: Option<String>,
    /// The parsed list, or why the file is unusable.
    pub result: Result<NetworkConfigList, Error>,
    /// The earlier file with the same `name` that a lookup would pick instead of this one.
    pub shadowed_by: Option<PathBuf>,
}

impl ListedNetwork {
    /// Whether an earlier file has the same `name`, so a lookup never returns this one.
    pub fn is_shadowed(&self) -> bool {
        self.shadowed_by.is_some()
    }
}

/// Every netconf in a set of directories, in lookup order.
#[derive(Debug, Default)]
pub struct Listing {
    /// The netconf files, in the order [`load_conf_list`] tries them.
    pub networks: Vec<ListedNetwork>,
    /// Directories that exist but could not be listed.
    pub errors: Vec<Error>,
}

impl Listing {
    /// The distinct network names, in lookup order (files whose `name` could not be read are
    /// left out).
    pub fn names(&self) -> Vec<String> {
        self.networks
            .iter()
            .filter(|n| !n.is_shadowed())
            .filter_map(|n| n.name.clone())
            .collect()
    }

    /// The entry a lookup of `name` would use.
    pub fn get(&self, name: &str) -> Option<&ListedNetwork> {
        self.networks
            .iter()
            .find(|n| n.name.as_deref() == Some(name))
    }
}

/// A netconf file to try.
struct Candidate {
    path: PathBuf,
    kind: ConfKind,
}

/// Go's `filepath.Ext` without the dot: what follows the last `.` of the file name
/// (`.conf` has the extension `conf`, unlike [`Path::extension`]).
fn go_ext(name: &[u8]) -> Option<&[u8]> {
    name.iter()
        .rposition(|&b| b == b'.')
        .map(|i| &name[i + 1..])
}

/// The non-directory entries of `dir` whose extension is in `exts`, sorted by path bytes.
fn scan(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, Error> {
    Ok(scan_groups(dir, &[exts])?.pop().unwrap_or_default())
}

/// [`scan`] for several groups of extensions at once (one listing of the directory): the
/// files of each group, sorted by path bytes.
fn scan_groups(dir: &Path, groups: &[&[&str]]) -> Result<Vec<Vec<PathBuf>>, Error> {
    let mut files: Vec<Vec<PathBuf>> = vec![Vec::new(); groups.len()];
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(Error::io("reading directory", dir, e)),
    };
    let strip = |e: &str| e.strip_prefix('.').unwrap_or(e).as_bytes().to_vec();
    let wanted: Vec<Vec<Vec<u8>>> = groups
        .iter()
        .map(|g| g.iter().map(|e| strip(e)).collect())
        .collect();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading directory", dir, e))?;
        let name = entry.file_name();
        let Some(ext) = go_ext(name.as_bytes()) else {
            continue;
        };
        let Some(group) = wanted.iter().position(|g| g.iter().any(|e| e == ext)) else {
            continue;
        };
        let path = entry.path();
        // Skip directories, and symbolic links to them, named like netconfs. A dangling link
        // stays in, so that reading it reports the problem.
        let is_dir = match entry.file_type() {
            Ok(t) if t.is_symlink() => fs::metadata(&path).is_ok_and(|m| m.is_dir()),
            Ok(t) => t.is_dir(),
            Err(e) => return Err(Error::io("reading directory", dir, e)),
        };
        if !is_dir {
            files[group].push(path);
        }
    }
    for group in &mut files {
        group.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    }
    Ok(files)
}

/// The files in `dir` with one of the extensions `exts` (given with or without the dot:
/// `"conflist"` or `".conflist"`), sorted by the bytes of the path. Directories are skipped;
/// a missing directory gives an empty list.
///
/// # Errors
/// [`Error::Io`] naming `dir` when it exists but cannot be listed.
#[doc(alias = "ConfFiles")]
pub fn conf_files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, Error> {
    scan(dir, exts)
}

/// The netconf files of one directory in lookup order: `.conflist`, then `.conf` and `.json`.
fn dir_candidates(dir: &Path) -> Result<Vec<Candidate>, Error> {
    let [lists, confs]: [Vec<PathBuf>; 2] = scan_groups(dir, &[&["conflist"], &["conf", "json"]])?
        .try_into()
        .unwrap_or_default();
    Ok(lists
        .into_iter()
        .map(|path| Candidate {
            path,
            kind: ConfKind::ConfList,
        })
        .chain(confs.into_iter().map(|path| Candidate {
            path,
            kind: ConfKind::Conf,
        }))
        .collect())
}

/// Every candidate of every directory, directory by directory (lazily, so a lookup that
/// succeeds early does not list later directories).
fn candidates(dirs: &[PathBuf]) -> impl Iterator<Item = Result<Candidate, Error>> + '_ {
    dirs.iter().flat_map(|dir| match dir_candidates(dir) {
        Ok(found) => found.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => vec![Err(e)],
    })
}

/// Finishes a `.conflist` read from `path`: appends `<dir>/<name>/*.conf` unless
/// `loadOnlyInlinedPlugins`, and insists on at least one plugin (Go v1.3.0
/// `NetworkConfFromFile`).
pub(super) fn list_from_file_parts(
    map: &Map<String, Value>,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<NetworkConfigList, Error> {
    let parsed = parse::list(map, bytes, Some(path))?;
    let mut list = parsed.list;
    if !parsed.load_only_inlined {
        // The name is a checked network name, so this stays inside the directory.
        let plugin_dir = path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(&list.name);
        for file in scan(&plugin_dir, &["conf"])? {
            list.plugins.push(super::conf_from_file(&file)?);
        }
    }
    if list.plugins.is_empty() {
        return Err(parse::invalid(
            Some(path),
            "plugins",
            format!(
                "missing, and there are no plugin files in {}",
                path.with_file_name(&list.name).join("*.conf").display()
            ),
        ));
    }
    Ok(list)
}

/// A candidate read as far as it goes.
struct Loaded {
    /// `name`, if the file is a JSON object with a string `name`.
    name: Option<String>,
    result: Result<NetworkConfigList, Error>,
}

fn load(c: &Candidate) -> Loaded {
    match super::read(&c.path) {
        Ok(bytes) => load_bytes(c, bytes),
        Err(e) => Loaded {
            name: None,
            result: Err(e),
        },
    }
}

/// The `name` of a netconf, read without building the rest of the document; `None` when the
/// bytes are not a JSON object whose `name` is a string or absent.
///
/// The whole document is still scanned (stopping at the name would be cheaper, but a file
/// broken further on would then go unreported by the lookup).
fn peek_name(bytes: &[u8]) -> Option<Option<String>> {
    #[derive(serde::Deserialize)]
    struct NameOnly {
        #[serde(default)]
        name: Option<String>,
    }
    serde_json::from_slice::<NameOnly>(bytes)
        .ok()
        .map(|n| n.name)
}

/// A candidate file read, with its name peeked; or why it could not be (and whether the
/// failure was a file's rather than a directory's).
type Read = Result<(Candidate, Vec<u8>, Option<Option<String>>), (Error, bool)>;

/// How many files a lookup reads between two checks for the match.
const LOOKUP_CHUNK: usize = 1024;

/// How much of a netconf the name peek reads at once: most netconfs fit.
const PEEK_BYTES: usize = 4096;

/// Reads one candidate and peeks its name. The bytes are kept only where a full parse may
/// follow (the name is `name`, or could not be read): other files cost no memory.
///
/// One `read` into `buf` is taken as the whole file when it comes back short: reads of
/// regular files return less than asked only at the end of the file, and this spares the
/// `read` that would only confirm it (one system call in four of a lookup through a large
/// directory). What is then kept, and any file that fills `buf`, is read again in full
/// ([`super::read`]), so a short read in the middle of a file (some FUSE file systems) costs
/// at most a missed warning about a file that is not the network asked for, never a wrong
/// network.
fn read_one(c: Result<Candidate, Error>, name: &str, buf: &mut [u8; PEEK_BYTES]) -> Read {
    let c = c.map_err(|e| (e, false))?;
    let head = read_head(&c.path, buf).map_err(|e| (Error::io("reading", &c.path, e), true))?;
    if let Some(head) = head {
        if let Some(Some(n)) = peek_name(head) {
            if n != name {
                return Ok((c, Vec::new(), Some(Some(n))));
            }
        }
    }
    let bytes = super::read(&c.path).map_err(|e| (e, true))?;
    let peeked = peek_name(&bytes);
    if matches!(&peeked, Some(Some(n)) if n != name) {
        return Ok((c, Vec::new(), peeked));
    }
    Ok((c, bytes, peeked))
}

/// The whole of a file that is shorter than `buf`, read with one `read`; `None` when the
/// read filled `buf` (the file may be longer).
fn read_head<'b>(path: &Path, buf: &'b mut [u8; PEEK_BYTES]) -> io::Result<Option<&'b [u8]>> {
    let mut file = fs::File::open(path)?;
    let n = loop {
        match io::Read::read(&mut file, buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    Ok((n < PEEK_BYTES).then(|| &buf[..n]))
}

/// [`read_one`] for each candidate, on up to as many threads as there are cores, keeping
/// the order.
fn read_names(candidates: Vec<Result<Candidate, Error>>, name: &str) -> Vec<Read> {
    let read_all = |part: Vec<Result<Candidate, Error>>| -> Vec<Read> {
        let mut buf = [0; PEEK_BYTES];
        part.into_iter()
            .map(|c| read_one(c, name, &mut buf))
            .collect()
    };
    // Threads only pay for themselves on large directories (and asking how many cores there
    // are reads the cgroup files: not worth it for a small one either).
    if candidates.len() < 256 {
        return read_all(candidates);
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 {
        return read_all(candidates);
    }
    let chunk = candidates.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Result<Candidate, Error>>> = Vec::new();
    let mut rest = candidates.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| scope.spawn(move || read_all(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn load_bytes(c: &Candidate, bytes: Vec<u8>) -> Loaded {
    let path = c.path.as_path();
    let map = match parse::object(&bytes, Some(path)) {
        Ok(map) => map,
        Err(e) => {
            return Loaded {
                name: None,
                result: Err(e),
            }
        }
    };
    let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
    let result = match c.kind {
        ConfKind::ConfList => list_from_file_parts(&map, bytes, path),
        ConfKind::Conf => parse::plugin(map, "", Some(path))
            .and_then(|plugin| super::conf_list_from_conf(&plugin, Some(path))),
    };
    Loaded { name, result }
}

/// Finds the network `name` in `dirs` (in order; within a directory `.conflist` files first,
/// then `.conf`/`.json`, each group in byte order of the path). The first file whose `name`
/// matches is the network, even if a later one with that name is valid.
///
/// Files that are broken but are not the network asked for do not stop the lookup: they are
/// returned in [`Lookup::warnings`]. Only their name is read, so a file that is valid JSON
/// with a readable `name` but otherwise invalid is not reported here ([`list_networks`]
/// reports it). That includes files so broken their `name` cannot be
/// read, and directories that cannot be listed; if the network is then not found, those are
/// reported in [`Error::NetworkNotFoundBroken`], since any of them may have held it.
///
/// # Errors
/// - the error of the first file named `name` when that file is broken
///   ([`Error::ConfigParse`], [`Error::ConfigInvalid`], [`Error::Io`]);
/// - [`Error::NetworkNotFoundBroken`] when not found and something could not be read;
/// - [`Error::NoConfigs`] when the directories hold no netconf file at all;
/// - [`Error::NetworkNotFound`] listing the networks found.
#[doc(alias = "LoadConfList")]
#[doc(alias = "LoadNetworkConf")]
pub fn load_conf_list(dirs: &[PathBuf], name: &str) -> Result<Lookup, Error> {
    // Each problem met, and whether it hides a network name (so it may be the one asked for).
    let mut problems: Vec<(Error, bool)> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    // `found` keeps lookup order for the error; this set keeps the lookup linear (a `Vec`
    // search made 10,000 netconfs cost 50 million string comparisons).
    let mut seen: HashSet<String> = HashSet::new();
    let mut any_file = false;
    // Reading the files is most of the cost of a lookup in a large directory: read them and
    // their names on every core, a chunk at a time in lookup order, and stop at the match.
    let all: Vec<Result<Candidate, Error>> = candidates(dirs).collect();
    let mut rest = all.into_iter().peekable();
    // Small first chunks, so a network near the front is found after a few files.
    let mut size = 16;
    while rest.peek().is_some() {
        let chunk: Vec<Result<Candidate, Error>> = rest.by_ref().take(size).collect();
        size = (size * 4).min(LOOKUP_CHUNK);
        for item in read_names(chunk, name) {
            let (candidate, bytes, peeked) = match item {
                Ok(read) => read,
                Err((e, is_file)) => {
                    any_file |= is_file;
                    problems.push((e, true));
                    continue;
                }
            };
            any_file = true;
            // Most files are not the one asked for: only their name was read (a fraction of a
            // full parse). A file whose name cannot be read that way is loaded fully, for the
            // error it gets.
            if let Some(Some(n)) = peeked {
                if n != name {
                    if seen.insert(n.clone()) {
                        found.push(n);
                    }
                    continue;
                }
            }
            let loaded = load_bytes(&candidate, bytes);
            match loaded.name {
                Some(n) if n == name => {
                    let warnings = problems.into_iter().map(|(e, _)| e).collect();
                    return loaded.result.map(|list| Lookup { list, warnings });
                }
                Some(n) => {
                    if let Err(e) = loaded.result {
                        problems.push((e, false));
                    }
                    if seen.insert(n.clone()) {
                        found.push(n);
                    }
                }
                // Every valid netconf has a name, so the result is an error here.
                None => problems.extend(loaded.result.err().map(|e| (e, true))),
            }
        }
    }
    let broken: Vec<Error> = problems
        .into_iter()
        .filter_map(|(e, hides_name)| hides_name.then_some(e))
        .collect();
    let (name, dirs) = (name.to_owned(), dirs.to_vec());
    if !broken.is_empty() {
        Err(Error::NetworkNotFoundBroken {
            name,
            dirs,
            found,
            broken,
        })
    } else if !any_file {
        Err(Error::NoConfigs { dirs })
    } else {
        Err(Error::NetworkNotFound { name, dirs, found })
    }
}

/// Reads every netconf in `dirs`, in lookup order, for listing networks and explaining a
/// failed lookup. Each file is parsed completely (with its `<dir>/<name>/*.conf` plugins); a
/// file whose `name` an earlier file already has is marked [`ListedNetwork::shadowed_by`].
///
/// This does not fail: unreadable files are entries with an error, and directories that
/// cannot be listed are in [`Listing::errors`]. Missing directories count as empty.
pub fn list_networks(dirs: &[PathBuf]) -> Listing {
    let mut listing = Listing::default();
    // The first file of each name, so that finding what shadows a file stays linear.
    let mut first: HashMap<String, PathBuf> = HashMap::new();
    for candidate in candidates(dirs) {
        let candidate = match candidate {
            Ok(c) => c,
            Err(e) => {
                listing.errors.push(e);
                continue;
            }
        };
        let loaded = load(&candidate);
        let shadowed_by = match &loaded.name {
            Some(n) => match first.get(n) {
                Some(earlier) => Some(earlier.clone()),
                None => {
                    first.insert(n.clone(), candidate.path.clone());
                    None
                }
            },
            None => None,
        };
        listing.networks.push(ListedNetwork {
            path: candidate.path,
            kind: candidate.kind,
            name: loaded.name,
            result: loaded.result,
            shadowed_by,
        });
    }
    listing
}
