//! [`CniConfig`]: ADD, CHECK, DEL, GC, STATUS and validation of network lists (SPEC.md
//! "Section 4: Plugin delegation" and the runtime's side of "Section 2: Execution
//! protocol"), mirroring Go's `libcni/api.go`.
//!
//! Where this differs from Go on purpose (see the crate's README):
//! - identifiers are validated on every verb before any path is built or plugin runs;
//! - ADD and CHECK refuse a namespace that is not a network namespace or is the caller's own;
//! - ADD of an attachment the cache already records is refused ([`Error::AlreadyAttached`]);
//! - a failed ADD is rolled back with a DEL of the whole list in reverse order;
//! - DEL restores the `CNI_ARGS` and capability arguments recorded at ADD when the caller
//!   gives none (Go leaks portmap rules when `CAP_ARGS` is omitted on DEL);
//! - CHECK without a cached result is [`Error::NotAttached`] (Go runs the plugins without
//!   `prevResult`, which the spec forbids);
//! - ADD of an interface another attachment holds (same container ID and interface name on
//!   another network, or same interface name in the same namespace) is refused
//!   ([`Error::InterfaceInUse`]): its rollback would delete the other attachment's interface;
//! - a failed ADD whose rollback failed too keeps its cache entry, so DEL and GC find it;
//! - DEL never removes a cache file that records another attachment (names can collide);
//! - GC holds an exclusive lock on the cache against concurrent ADD and DEL, and ADD and DEL
//!   of one attachment hold an exclusive lock on the attachment's bytes of the same lock file
//!   (`<cacheDir>/cnitool.lock`), so two of them never run the plugins for the same
//!   interface at once;
//! - a list with `cniVersions` runs at the highest of its versions that every plugin
//!   supports (their VERSION answers, asked once per plugin binary and kept), not simply the
//!   highest this library implements.
//!
//! Length: one file for every verb of [`CniConfig`], as Go keeps `api.go`: the verbs share the
//! list walk, the cache steps and the rollback, and read best in order. A split by verb (gc,
//! status, validate first) is the next step when it grows.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::cache::{Cache, CacheEntry, CachedAttachment};
use crate::conf::{NetworkConfigList, PluginConfig};
use crate::error::Error;
use crate::invoke::{
    self, join_cni_args, Args, Cancel, Command, Epoch, Exec, Observer, PluginRef, RawExec,
};
use crate::types::CniResult;
use crate::version::{PluginInfo, Version};
use crate::{fsutil, json, netns, validate};

/// The default cache directory, shared with Go's libcni.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/cni";

/// The cache's lock file: shared by ADD and DEL, exclusive for GC, and two bytes of it per
/// attachment (see [`attachment_lock_offsets`]).
const CACHE_LOCK: &str = "cnitool.lock";

/// Where, in `cnitool.lock`, the locks of one attachment are: FNV-1a (64 bits) of two keys,
/// shifted to stay a positive `off_t`, in ascending order (the order they are taken in, so
/// two processes never each hold the byte the other waits for):
/// - the interface, `<container ID> NUL <ifname>`: the spec's key of an attachment, so ADDs
///   of one interface on two networks run one after the other, and the second sees the
///   first in the cache (see [`Error::InterfaceInUse`]);
/// - the cache file name, `<network>-<container ID>-<ifname>`: attachments whose names map
///   to one file (`a-b` + `c`, `a` + `b-c`) wait for each other instead of racing on it.
///
/// The keys are part of the on-disk protocol: every `cnitool` running at once must agree.
fn attachment_lock_offsets(network: &str, container_id: &str, ifname: &str) -> [u64; 2] {
    fn fnv(key: &[u8]) -> u64 {
        const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
        let hash = key.iter().fold(FNV_OFFSET, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
        });
        hash >> 1
    }
    let interface = fnv(&[container_id.as_bytes(), ifname.as_bytes()].join(&0u8));
    let file = fnv(format!("{network}-{container_id}-{ifname}").as_bytes());
    [interface.min(file), interface.max(file)]
}

/// The runtime's description of one attachment (Go's `RuntimeConf`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeConf {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`: the namespace path.
    pub netns: PathBuf,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS` pairs.
    pub args: Vec<(String, String)>,
    /// Capability arguments (`runtimeConfig` sources), keyed by capability name.
    pub capability_args: Map<String, Value>,
}

/// One attachment a GC must keep (SPEC.md "GC": `cni.dev/valid-attachments`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GcAttachment {
    /// The container ID.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// The interface name.
    #[serde(rename = "ifname")]
    pub ifname: String,
}

/// One plugin call as [`CniConfig::plan_network_list`] plans it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCall {
    /// The plugin type.
    pub plugin: String,
    /// Its index in the list.
    pub index: usize,
    /// The binary that would run.
    pub path: PathBuf,
    /// The `CNI_*` variables it would get (on top of the inherited environment).
    pub env: Vec<(&'static str, String)>,
    /// Its exact stdin.
    pub stdin: Vec<u8>,
    /// ADD only: the previous plugin's result would be added as `prevResult`.
    pub prev_result_pending: bool,
}

/// What a GC did.
#[derive(Debug, Default)]
pub struct GcReport {
    /// Stale attachments that were deleted.
    pub deleted: Vec<CachedAttachment>,
    /// Whether the plugins were sent GC (1.1.0 and later, unless `disableGC`).
    pub plugins_collected: bool,
}

/// Plugin directories, cache directory and executor: everything needed to run a network list
/// (Go's `CNIConfig`).
#[derive(Debug, Clone)]
pub struct CniConfig {
    plugin_dirs: Vec<PathBuf>,
    cache: Cache,
    exec: Arc<dyn Exec>,
    observer: Option<Arc<dyn Observer>>,
    netns_checks: bool,
    /// VERSION answers by plugin binary, shared by clones: each plugin is asked once.
    versions: Arc<Mutex<HashMap<PathBuf, PluginInfo>>>,
    cancel: Option<Cancel>,
}

/// Serializes a plugin's stdin: the plugin object with injected keys, keys sorted, values
/// given either as JSON values or as pre-encoded bytes (Go keeps a struct's field order for
/// `prevResult` unless it re-encodes the document).
#[derive(Serialize)]
#[serde(untagged)]
enum Injected<'a> {
    Value(&'a Value),
    Raw(&'a RawValue),
}

impl CniConfig {
    /// A configuration running real plugins from `plugin_dirs`, caching under `cache_dir`.
    pub fn new(plugin_dirs: Vec<PathBuf>, cache_dir: impl Into<PathBuf>) -> CniConfig {
        CniConfig {
            plugin_dirs,
            cache: Cache::new(cache_dir),
            exec: Arc::new(RawExec::default()),
            observer: None,
            netns_checks: true,
            versions: Arc::default(),
            cancel: None,
        }
    }

    /// Replaces the executor (tests inject fakes; callers set time limits).
    pub fn with_exec(mut self, exec: Arc<dyn Exec>) -> CniConfig {
        self.exec = exec;
        self
    }

    /// Sets how far result-cache writes go before they return (default
    /// [`Durability::Atomic`](crate::fsutil::Durability::Atomic): atomic, not flushed).
    pub fn with_cache_durability(mut self, durability: crate::fsutil::Durability) -> CniConfig {
        self.cache = self.cache.with_durability(durability);
        self
    }

    /// Sets an observer that sees every plugin call.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> CniConfig {
        self.observer = Some(observer);
        self
    }

    /// Lets the caller interrupt ADD, CHECK and DEL (its Ctrl-C): when `cancel` fires, an
    /// operation under way stops before its next plugin and fails with
    /// [`Error::Interrupted`]; an ADD is then rolled back like any failed ADD (the rollback
    /// started after the cancel, so only a second cancel interrupts it). The library installs
    /// no signal handler: the caller fires the flag. Give the same flag to the executor
    /// ([`RawExec::cancel`]) so that the plugin running at that moment is stopped too.
    pub fn with_cancel(mut self, cancel: Cancel) -> CniConfig {
        self.cancel = Some(cancel);
        self
    }

    /// Now, for an interruptible operation about to start (see [`CniConfig::with_cancel`]).
    fn epoch(&self) -> Option<Epoch> {
        self.cancel.as_ref().map(Cancel::epoch)
    }

    /// [`Error::Interrupted`] when the caller cancelled since `epoch`, before the plugin at
    /// `index` runs.
    fn go_on(
        &self,
        epoch: Option<Epoch>,
        command: Command,
        index: usize,
        plugin: &PluginConfig,
    ) -> Result<(), Error> {
        match self.cancel.as_ref().zip(epoch) {
            Some((c, e)) if c.since(e) => Err(Error::Interrupted {
                command,
                plugin: plugin.plugin_type.clone(),
                index,
                stopped: false,
            }),
            _ => Ok(()),
        }
    }

    /// Turns the target-namespace checks of ADD, CHECK and DEL on (the default) or off
    /// (for callers whose "namespace" is not a real one, such as dry runs).
    pub fn with_netns_checks(mut self, on: bool) -> CniConfig {
        self.netns_checks = on;
        self
    }

    /// Moves the result cache to `cache_dir`, keeping its durability (a process that serves
    /// several caches derives one configuration per cache from one set of flags).
    pub fn with_cache_dir(mut self, cache_dir: impl Into<PathBuf>) -> CniConfig {
        let durability = self.cache.durability();
        self.cache = Cache::new(cache_dir).with_durability(durability);
        self
    }

    /// The plugin directories.
    pub fn plugin_dirs(&self) -> &[PathBuf] {
        &self.plugin_dirs
    }

    /// The result cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref()
    }

    /// Go's `c.args(action, rt)`.
    fn args(&self, command: Command, rt: &RuntimeConf) -> Result<Args, Error> {
        Ok(Args {
            command: command.as_str(),
            container_id: rt.container_id.clone(),
            netns: path_str(&rt.netns)?.to_owned(),
            ifname: rt.ifname.clone(),
            plugin_args: join_cni_args(&rt.args),
            path: self.plugin_path_env(),
        })
    }

    fn plugin_path_env(&self) -> String {
        self.plugin_dirs
            .iter()
            .map(|d| d.to_string_lossy())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Finds and runs one plugin of a list (everything but ADD, whose result is parsed).
    fn call(
        &self,
        index: usize,
        plugin: &PluginConfig,
        stdin: &[u8],
        args: &Args,
    ) -> Result<invoke::Reply, Error> {
        let path = self.find(plugin)?;
        let who = PluginRef {
            plugin: &plugin.plugin_type,
            index,
        };
        invoke::exec_plugin(&*self.exec, self.observer(), &path, who, stdin, args)
    }

    fn find(&self, plugin: &PluginConfig) -> Result<PathBuf, Error> {
        self.exec
            .find_in_path(&plugin.plugin_type, &self.plugin_dirs)
    }

    /// Takes the cache lock: shared for ADD and DEL, exclusive for GC.
    fn lock(&self, exclusive: bool) -> Result<Flock<File>, Error> {
        let dir = self.cache.dir();
        fsutil::create_private_dir(dir)
            .map_err(|e| Error::io("creating cache directory", dir, e))?;
        let path = dir.join(CACHE_LOCK);
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        fsutil::lock_file(&path, arg).map_err(|e| Error::io("locking", &path, e))
    }

    /// Takes the exclusive locks of one attachment, through the open cache lock (taken
    /// shared first): open-file-description locks on the attachment's bytes of
    /// `cnitool.lock` (see [`attachment_lock_offsets`]), so no file is created or removed per
    /// attachment. Two attachments whose keys hash to the same byte only wait for each other.
    /// Released when `cache_lock` is dropped.
    fn lock_attachment(
        &self,
        cache_lock: &Flock<File>,
        network: &str,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        for offset in attachment_lock_offsets(network, &rt.container_id, &rt.ifname) {
            fsutil::lock_byte(cache_lock, offset)
                .map_err(|e| Error::io("locking", self.cache.dir().join(CACHE_LOCK), e))?;
        }
        Ok(())
    }

    /// Refuses an ADD that the cache says cannot succeed: the attachment exists
    /// ([`Error::AlreadyAttached`]), or another attachment holds its interface
    /// ([`Error::InterfaceInUse`]): the same container ID and interface name on another
    /// network, or the same interface name in the same namespace under another container
    /// ID. Run under the attachment's locks, which cover the first case against a concurrent
    /// ADD on another network; a concurrent ADD of another container ID into the same
    /// namespace is not covered (the locks are keyed by container ID, not namespace).
    fn check_free(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<(), Error> {
        let cache_path = self.cache.path(&list.name, &rt.container_id, &rt.ifname);
        if cache_path.exists() {
            return Err(Error::AlreadyAttached {
                network: list.name.clone(),
                container_id: rt.container_id.clone(),
                ifname: rt.ifname.clone(),
                path: cache_path,
            });
        }
        self.check_interface_unheld(rt)
    }

    /// [`Error::InterfaceInUse`] when another attachment holds the interface of `rt` (the
    /// same container ID and interface name, or the same interface name in the same
    /// namespace), as the cache records it.
    fn check_interface_unheld(&self, rt: &RuntimeConf) -> Result<(), Error> {
        let target = (!rt.netns.as_os_str().is_empty())
            .then(|| netns::identify(&rt.netns).ok())
            .flatten();
        for (path, att) in self.cache.list_interface(&rt.ifname)? {
            let same_container = att.container_id == rt.container_id;
            let same_netns = || {
                target.is_some()
                    && att.netns.as_deref().and_then(|p| netns::identify(p).ok()) == target
            };
            if same_container || same_netns() {
                return Err(Error::InterfaceInUse {
                    ifname: rt.ifname.clone(),
                    other_network: att.network_name,
                    other_container_id: att.container_id,
                    path,
                });
            }
        }
        Ok(())
    }

    fn validate_attachment(list: &NetworkConfigList, rt: &RuntimeConf) -> Result<(), Error> {
        validate::container_id(&rt.container_id)?;
        validate::network_name(&list.name)?;
        validate::ifname(&rt.ifname)?;
        path_str(&rt.netns)?;
        Ok(())
    }

    /// ADD: runs the plugins in order, each getting the previous one's result, caches the
    /// final result and returns it (Go's `AddNetworkList`). On failure the list is rolled back
    /// with DEL in reverse order and nothing is cached; when the rollback fails too, the
    /// attachment's cache entry (without a result) is kept, so that DEL and GC find it.
    ///
    /// # Errors
    /// Validation errors before anything runs; [`Error::AlreadyAttached`] and
    /// [`Error::InterfaceInUse`] before any plugin runs; [`Error::AddFailed`] wrapping the
    /// plugin error and any rollback error.
    #[doc(alias = "AddNetworkList")]
    pub fn add_network_list(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<CniResult, Error> {
        Self::validate_attachment(list, rt)?;
        if self.netns_checks {
            netns::check_target(&rt.netns)?;
        }
        let list = &*self.negotiate_version(list)?;
        let lock = self.lock(false)?;
        self.lock_attachment(&lock, &list.name, rt)?;
        self.add_locked(list, rt)
    }

    fn add_locked(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<CniResult, Error> {
        self.check_free(list, rt)?;

        let mut att = CachedAttachment {
            container_id: rt.container_id.clone(),
            config: list.full_bytes(),
            ifname: rt.ifname.clone(),
            network_name: list.name.clone(),
            netns: Some(path_str(&rt.netns)?.to_owned()).filter(|s| !s.is_empty()),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: None,
        };
        // Recorded before the first plugin runs (without a result), so that an ADD killed
        // midway (SIGKILL, power loss) leaves an entry DEL and GC find and undo; otherwise
        // the addresses and rules of the plugins that ran are recorded nowhere.
        let cache_path = self.cache.write(&att)?;
        let forget = || {
            let _ = self.cache.remove(&list.name, &rt.container_id, &rt.ifname);
        };
        // The entry goes only once the rollback succeeded: a rollback that fails, times out
        // or is killed leaves addresses and rules that only the entry leads DEL and GC to.
        let roll_back = |error: Error, partial: Option<&CniResult>, ran: usize| {
            let rollback = self.rollback(list, rt, partial, ran).err().map(Box::new);
            let kept = match rollback {
                None => {
                    forget();
                    None
                }
                Some(_) => Some(cache_path.clone()),
            };
            Error::AddFailed {
                error: Box::new(error),
                rollback,
                kept,
            }
        };
        let epoch = self.epoch();
        let mut result: Option<CniResult> = None;
        for (index, plugin) in list.plugins.iter().enumerate() {
            let added = self
                .go_on(epoch, Command::Add, index, plugin)
                .and_then(|()| self.add_network(list, index, plugin, result.as_ref(), rt));
            match added {
                Ok(r) => result = Some(r),
                Err(error) => {
                    // Roll back every plugin that may have done something: those before
                    // the failed one and the failed one itself, unless it never started.
                    let ran = match error {
                        Error::PluginNotFound { .. }
                        | Error::PluginNotExecutable { .. }
                        | Error::Interrupted { stopped: false, .. } => index,
                        _ => index + 1,
                    };
                    return Err(roll_back(error, result.as_ref(), ran));
                }
            }
        }
        let Some(result) = result else {
            forget();
            return Err(Error::ConfigInvalid {
                path: list.source.clone(),
                field: "plugins".into(),
                reason: "the list has no plugins".into(),
            });
        };
        att.result = Some(result.to_sorted_value());
        if let Err(error) = self.cache.write(&att) {
            return Err(roll_back(error, Some(&result), list.plugins.len()));
        }
        Ok(result)
    }

    fn add_network(
        &self,
        list: &NetworkConfigList,
        index: usize,
        plugin: &PluginConfig,
        prev: Option<&CniResult>,
        rt: &RuntimeConf,
    ) -> Result<CniResult, Error> {
        let path = self.find(plugin)?;
        let stdin = build_one_config(list, plugin, prev, Some(rt));
        let who = PluginRef {
            plugin: &plugin.plugin_type,
            index,
        };
        let args = self.args(Command::Add, rt)?;
        invoke::exec_plugin_with_result(
            &*self.exec,
            self.observer(),
            &path,
            who,
            &stdin,
            &args,
            &list.cni_version,
        )
        .map(|(result, _)| result)
    }

    /// DEL, in reverse order, of the first `ran` plugins after a failed ADD, with the partial
    /// result as `prevResult`. Plugins that never ran are not sent DEL (one that is not
    /// installed would stop the rollback before it reached those that did run), and a failing
    /// DEL does not stop the others: the rollback is best effort.
    fn rollback(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
        partial: Option<&CniResult>,
        ran: usize,
    ) -> Result<(), Error> {
        let prev = partial
            .filter(|_| supports_prev_result_on_del(&list.cni_version))
            .and_then(|r| r.convert_to(&list.cni_version).ok());
        let args = self.args(Command::Del, rt)?;
        let mut errors = Vec::new();
        for (index, plugin) in list.plugins.iter().enumerate().take(ran).rev() {
            let stdin = build_one_config(list, plugin, prev.as_ref(), Some(rt));
            match self.call(index, plugin, &stdin, &args) {
                // A plugin that is not installed cannot have run: nothing to undo.
                Ok(_) | Err(Error::PluginNotFound { .. } | Error::PluginNotExecutable { .. }) => {}
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Multiple { errors }),
        }
    }

    /// The cached result converted to the list's version (Go's `getCachedResult`).
    fn cached_result(
        &self,
        list: &NetworkConfigList,
        entry: &CacheEntry,
    ) -> Result<Option<CniResult>, Error> {
        let Some(raw) = entry.result() else {
            return Ok(None);
        };
        let bytes = json::to_vec(raw);
        let result = CniResult::parse(&bytes, &list.cni_version)?;
        result.convert_to(&list.cni_version).map(Some)
    }

    /// CHECK: runs the plugins in order with the cached result as `prevResult` (Go's
    /// `CheckNetworkList`). Skipped when the list sets `disableCheck`. Like DEL, it uses the
    /// arguments recorded at ADD when `rt` carries none.
    ///
    /// # Errors
    /// [`Error::VerbUnsupported`] below 0.4.0; [`Error::NotAttached`] without a cached
    /// result; the first plugin error.
    #[doc(alias = "CheckNetworkList")]
    pub fn check_network_list(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        Self::validate_attachment(list, rt)?;
        let list = &*self.negotiate_version(list)?;
        let Some((rt, cached)) = self.prepare_check(list, rt)? else {
            return Ok(());
        };
        let args = self.args(Command::Check, &rt)?;
        let epoch = self.epoch();
        for (index, plugin) in list.plugins.iter().enumerate() {
            self.go_on(epoch, Command::Check, index, plugin)?;
            let stdin = build_one_config(list, plugin, Some(&cached), Some(&rt));
            self.call(index, plugin, &stdin, &args)?;
        }
        Ok(())
    }

    /// What CHECK needs before running anything: the version gate, the target namespace and
    /// the cached result; `None` when the list disables CHECK.
    fn prepare_check(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<Option<(RuntimeConf, CniResult)>, Error> {
        require_version(list, Command::Check, Version::V0_4_0)?;
        if list.disable_check {
            return Ok(None);
        }
        if self.netns_checks {
            netns::check_target(&rt.netns)?;
        }
        let not_attached = || Error::NotAttached {
            network: list.name.clone(),
            container_id: rt.container_id.clone(),
            ifname: rt.ifname.clone(),
        };
        let entry = self
            .cache
            .read(&list.name, &rt.container_id, &rt.ifname)?
            .ok_or_else(not_attached)?;
        let cached = self.cached_result(list, &entry)?.ok_or_else(not_attached)?;
        let mut rt = rt.clone();
        if let Some(att) = entry.attachment() {
            restore_cached_args(&mut rt, att);
        }
        Ok(Some((rt, cached)))
    }

    /// DEL: runs the plugins in reverse order with the cached result as `prevResult` (0.4.0
    /// and later), then removes the cache entry (Go's `DelNetworkList`). A missing cache entry
    /// is fine; a corrupt one is removed and ignored. When `rt` carries no `CNI_ARGS` or no
    /// capability arguments, those recorded at ADD are used.
    ///
    /// # Errors
    /// Validation errors; [`Error::InterfaceInUse`] before any plugin runs when nothing of
    /// this attachment is cached but another attachment holds its interface; the first plugin
    /// error (the cache entry is then kept, so DEL can be retried).
    #[doc(alias = "DelNetworkList")]
    pub fn del_network_list(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        Self::validate_attachment(list, rt)?;
        if self.netns_checks && rt.netns.exists() && !is_stale_netns_file(&rt.netns) {
            netns::check_target(&rt.netns)?;
        }
        // A DEL must still run when a plugin cannot answer VERSION: at the loaded version.
        let list = &*self.negotiate_version(list).unwrap_or(Cow::Borrowed(list));
        let lock = self.lock(false)?;
        self.lock_attachment(&lock, &list.name, rt)?;
        self.del_locked(list, rt)
    }

    /// DEL under the cache lock.
    fn del_locked(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<(), Error> {
        // Nothing of this attachment is recorded, but another one holds its interface: the
        // plugins' DEL (same CNI_IFNAME) would delete that one's interface and address.
        if !self
            .cache
            .path(&list.name, &rt.container_id, &rt.ifname)
            .exists()
        {
            self.check_interface_unheld(rt)?;
        }
        let (rt, prev) = self.prepare_del(list, rt, true)?;
        self.del_plugins(list, &rt, prev.as_ref())?;
        self.cache.remove(&list.name, &rt.container_id, &rt.ifname)
    }

    /// What DEL sends: the arguments restored from the cache and the cached result as
    /// `prevResult` (0.4.0 and later). A corrupt cache file is ignored, and removed when
    /// `remove_corrupt` is set. A namespace file whose namespace is gone (a stale file left
    /// after its bind mount was removed) is passed to the plugins as an empty `CNI_NETNS`,
    /// as containerd does for a closed namespace: plugins then release what lives outside
    /// the namespace (addresses, rules) instead of failing on a path that is no namespace,
    /// which left the attachment impossible to delete.
    fn prepare_del(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
        remove_corrupt: bool,
    ) -> Result<(RuntimeConf, Option<CniResult>), Error> {
        let mut rt = rt.clone();
        if self.netns_checks && is_stale_netns_file(&rt.netns) {
            rt.netns = PathBuf::new();
        }
        let entry = match self.cache.read(&list.name, &rt.container_id, &rt.ifname) {
            Ok(entry) => entry,
            Err(Error::CacheCorrupt { .. }) => {
                if remove_corrupt {
                    self.cache
                        .remove(&list.name, &rt.container_id, &rt.ifname)?;
                }
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(att) = entry.as_ref().and_then(CacheEntry::attachment) {
            restore_cached_args(&mut rt, att);
        }
        let prev = match &entry {
            Some(entry) if supports_prev_result_on_del(&list.cni_version) => {
                // Go: a cached result that cannot be used is dropped with its file.
                self.cached_result(list, entry).unwrap_or(None)
            }
            _ => None,
        };
        Ok((rt, prev))
    }

    /// The plugin calls ADD, CHECK or DEL would make, in order, with the exact environment and
    /// stdin, after the same validation as the verb itself; nothing is executed or written.
    /// On ADD only the first plugin's `prevResult` is known (it has none): the later plugins'
    /// stdin leaves it out and [`PlannedCall::prev_result_pending`] is set.
    ///
    /// # Errors
    /// Whatever the verb would fail with before running a plugin (validation, namespace,
    /// [`Error::AlreadyAttached`], [`Error::NotAttached`], a plugin that is not installed).
    pub fn plan_network_list(
        &self,
        command: Command,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<Vec<PlannedCall>, Error> {
        Self::validate_attachment(list, rt)?;
        let list = &*match command {
            Command::Del => self.negotiate_version(list).unwrap_or(Cow::Borrowed(list)),
            _ => self.negotiate_version(list)?,
        };
        let plan = |rt: &RuntimeConf, prev: Option<&CniResult>, reverse: bool| {
            let args = self.args(command, rt)?;
            let env = args.as_env();
            let mut calls = list
                .plugins
                .iter()
                .enumerate()
                .map(|(index, plugin)| {
                    Ok(PlannedCall {
                        plugin: plugin.plugin_type.clone(),
                        index,
                        path: self.find(plugin)?,
                        env: env.clone(),
                        stdin: build_one_config(list, plugin, prev, Some(rt)),
                        prev_result_pending: command == Command::Add && index > 0,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            if reverse {
                calls.reverse();
            }
            Ok(calls)
        };
        match command {
            Command::Add => {
                if self.netns_checks {
                    netns::check_target(&rt.netns)?;
                }
                self.check_free(list, rt)?;
                plan(rt, None, false)
            }
            Command::Check => match self.prepare_check(list, rt)? {
                Some((rt, cached)) => plan(&rt, Some(&cached), false),
                None => Ok(Vec::new()),
            },
            Command::Del => {
                if self.netns_checks && rt.netns.exists() && !is_stale_netns_file(&rt.netns) {
                    netns::check_target(&rt.netns)?;
                }
                let (rt, prev) = self.prepare_del(list, rt, false)?;
                plan(&rt, prev.as_ref(), true)
            }
            other => Err(Error::InvalidArgument {
                what: "dry run",
                reason: format!("{other} cannot be planned (only ADD, CHECK and DEL)"),
            }),
        }
    }

    fn del_plugins(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
        prev: Option<&CniResult>,
    ) -> Result<(), Error> {
        let args = self.args(Command::Del, rt)?;
        let epoch = self.epoch();
        for (index, plugin) in list.plugins.iter().enumerate().rev() {
            self.go_on(epoch, Command::Del, index, plugin)?;
            self.call(
                index,
                plugin,
                &build_one_config(list, plugin, prev, Some(rt)),
                &args,
            )?;
        }
        Ok(())
    }

    /// GC: deletes every cached attachment of the list that is not in `valid`, then (1.1.0
    /// and later) sends GC to each plugin with `cni.dev/valid-attachments` and the legacy
    /// `cni.dev/attachments`: `valid` as given, in our cache or not (Go's `GCNetworkList`).
    /// Nothing happens when the list sets `disableGC`. Holds the cache lock exclusively, so
    /// no ADD or DEL runs meanwhile.
    ///
    /// # Errors
    /// [`Error::Multiple`] with every failure; the other steps still run.
    #[doc(alias = "GCNetworkList")]
    pub fn gc_network_list(
        &self,
        list: &NetworkConfigList,
        valid: &[GcAttachment],
    ) -> Result<GcReport, Error> {
        let valid_set: BTreeSet<GcAttachment> = valid.iter().cloned().collect();
        self.gc(
            list,
            |att| {
                valid_set.contains(&GcAttachment {
                    container_id: att.container_id.clone(),
                    ifname: att.ifname.clone(),
                })
            },
            Some(valid),
        )
    }

    /// Removes what an ADD or DEL killed midway (SIGKILL, power loss) leaves in the cache
    /// directory besides attachments: a half-written cache file (`.NAME.tmpPID` whose writer
    /// is gone). Holds the exclusive cache lock, so no ADD or DEL is running meanwhile.
    /// Returns the paths removed.
    ///
    /// # Errors
    /// [`Error::Io`] when the cache lock cannot be taken.
    pub fn gc_stale_files(&self) -> Result<Vec<PathBuf>, Error> {
        if !self.cache.dir().exists() {
            return Ok(Vec::new()); // and do not create it (with the lock file) just for this
        }
        let _lock = self.lock(true)?;
        let mut removed = Vec::new();
        let results = self.cache.results_dir();
        for entry in fs::read_dir(&results).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix('.')
                .and_then(|n| n.rsplit_once(".tmp"))
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() && fs::remove_file(entry.path()).is_ok()
            {
                removed.push(entry.path());
            }
        }
        Ok(removed)
    }

    /// GC deciding which cached attachments are valid with `keep`, evaluated while the
    /// exclusive cache lock is held, so an attachment added after the decision cannot be
    /// mistaken for a stale one. The plugins are sent the kept attachments as valid.
    ///
    /// # Errors
    /// As [`CniConfig::gc_network_list`].
    pub fn gc_network_list_by(
        &self,
        list: &NetworkConfigList,
        keep: impl Fn(&CachedAttachment) -> bool,
    ) -> Result<GcReport, Error> {
        self.gc(list, keep, None)
    }

    /// GC keeping the cached attachments `keep` accepts. The plugins are sent `forward` as
    /// it is when given (the caller's valid attachments, which need not be in our cache: Go
    /// forwards them unchanged, and a plugin frees the addresses of any attachment left out),
    /// else the kept cached attachments, sorted.
    fn gc(
        &self,
        list: &NetworkConfigList,
        keep: impl Fn(&CachedAttachment) -> bool,
        forward: Option<&[GcAttachment]>,
    ) -> Result<GcReport, Error> {
        validate::network_name(&list.name)?;
        // GC's DELs must run even when a plugin cannot answer VERSION (as DEL).
        let list = &*self.negotiate_version(list).unwrap_or(Cow::Borrowed(list));
        let mut report = GcReport::default();
        if list.disable_gc {
            return Ok(report);
        }
        let _lock = self.lock(true)?;
        let mut kept = Vec::new();
        let mut errors = Vec::new();
        for (_, att) in self.cache.list(Some(&list.name))?.attachments {
            if keep(&att) {
                kept.push(GcAttachment {
                    container_id: att.container_id.clone(),
                    ifname: att.ifname.clone(),
                });
                continue;
            }
            let rt = RuntimeConf {
                container_id: att.container_id.clone(),
                netns: att.netns.clone().unwrap_or_default().into(),
                ifname: att.ifname.clone(),
                args: att.cni_args.clone(),
                capability_args: att.capability_args.clone(),
            };
            match Self::validate_attachment(list, &rt).and_then(|()| self.del_locked(list, &rt)) {
                Ok(()) => report.deleted.push(att),
                Err(e) => errors.push(e),
            }
        }

        if parse_version(&list.cni_version)? >= Version::V1_1_0 {
            report.plugins_collected = true;
            let valid = match forward {
                Some(valid) => valid.to_vec(),
                None => {
                    kept.sort();
                    kept.dedup();
                    kept
                }
            };
            let valid_json = serde_json::to_value(&valid).unwrap_or(Value::Null);
            let extra = [
                ("cni.dev/attachments", &valid_json),
                ("cni.dev/valid-attachments", &valid_json),
            ];
            let args = self.args(Command::Gc, &RuntimeConf::default())?;
            for (index, plugin) in list.plugins.iter().enumerate() {
                let stdin = inject(list, plugin, &extra, None);
                if let Err(e) = self.call(index, plugin, &stdin, &args) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(report)
        } else {
            Err(Error::Multiple { errors })
        }
    }

    /// STATUS: asks each plugin whether it is ready (1.1.0 and later; earlier versions have
    /// no STATUS and succeed). The first failure is returned (Go's `GetStatusNetworkList`).
    ///
    /// # Errors
    /// The first plugin error.
    #[doc(alias = "GetStatusNetworkList")]
    pub fn get_status_network_list(&self, list: &NetworkConfigList) -> Result<(), Error> {
        validate::network_name(&list.name)?;
        let list = &*self.negotiate_version(list)?;
        if parse_version(&list.cni_version)? < Version::V1_1_0 {
            return Ok(());
        }
        let args = self.args(Command::Status, &RuntimeConf::default())?;
        for (index, plugin) in list.plugins.iter().enumerate() {
            self.call(index, plugin, &inject(list, plugin, &[], None), &args)?;
        }
        Ok(())
    }

    /// Checks that every plugin of the list is installed and supports the list's version, and
    /// returns the capabilities the plugins declare (Go's `ValidateNetworkList`).
    ///
    /// # Errors
    /// [`Error::Multiple`] with a failure per plugin.
    #[doc(alias = "ValidateNetworkList")]
    pub fn validate_network_list(&self, list: &NetworkConfigList) -> Result<Vec<String>, Error> {
        validate::network_name(&list.name)?;
        let mut errors = Vec::new();
        let mut caps = BTreeSet::new();
        for (index, plugin) in list.plugins.iter().enumerate() {
            if let Err(e) = self.validate_plugin(index, plugin, &list.cni_version) {
                errors.push(e);
            }
            caps.extend(
                plugin
                    .capabilities
                    .iter()
                    .filter(|(_, on)| **on)
                    .map(|(c, _)| c.clone()),
            );
        }
        if errors.is_empty() {
            Ok(caps.into_iter().collect())
        } else {
            Err(Error::Multiple { errors })
        }
    }

    fn validate_plugin(
        &self,
        index: usize,
        plugin: &PluginConfig,
        version: &str,
    ) -> Result<(), Error> {
        let info = self.version_info_at(&plugin.plugin_type, index)?;
        let expected = if version.is_empty() { "0.1.0" } else { version };
        if info.supports(expected) {
            Ok(())
        } else {
            Err(Error::PluginVersionUnsupported {
                plugin: plugin.plugin_type.clone(),
                version: expected.to_owned(),
                supported: info.supported_versions,
            })
        }
    }

    /// A plugin's VERSION answer: asked once per binary, then the kept answer.
    fn version_info_at(&self, plugin_type: &str, index: usize) -> Result<PluginInfo, Error> {
        let path = self.exec.find_in_path(plugin_type, &self.plugin_dirs)?;
        let known = |m: &HashMap<PathBuf, PluginInfo>| m.get(&path).cloned();
        if let Some(info) = known(&self.versions.lock().unwrap_or_else(PoisonError::into_inner)) {
            return Ok(info);
        }
        let who = PluginRef {
            plugin: plugin_type,
            index,
        };
        let info = invoke::get_version_info(&*self.exec, self.observer(), &path, who)?;
        self.versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path, info.clone());
        Ok(info)
    }

    /// The list as it runs: with several candidate versions (`cniVersions`), at the highest
    /// one that every plugin supports, as their VERSION answers say (see
    /// [`NetworkConfigList::cni_versions`]), IPAM plugins included; the observer hears which. A list with one
    /// candidate or none runs as loaded, without asking.
    ///
    /// # Errors
    /// A plugin cannot be found or does not answer VERSION; [`Error::NoCommonVersion`] when
    /// no candidate suits every plugin.
    pub fn negotiate_version<'a>(
        &self,
        list: &'a NetworkConfigList,
    ) -> Result<Cow<'a, NetworkConfigList>, Error> {
        if list.cni_versions.len() < 2 {
            return Ok(Cow::Borrowed(list));
        }
        // The IPAM plugins too: they get the same `cniVersion` from the main plugin.
        let mut answers: Vec<(String, Vec<String>)> = Vec::new();
        for (index, plugin) in list.plugins.iter().enumerate() {
            for ty in std::iter::once(&plugin.plugin_type).chain(&plugin.ipam_type) {
                if answers.iter().any(|(t, _)| t == ty) {
                    continue;
                }
                let info = self.version_info_at(ty, index)?;
                answers.push((ty.clone(), info.supported_versions));
            }
        }
        let chosen = list
            .cni_versions
            .iter()
            .find(|v| answers.iter().all(|(_, supported)| supported.contains(v)))
            .ok_or_else(|| Error::NoCommonVersion {
                network: list.name.clone(),
                candidates: list.cni_versions.clone(),
                plugins: answers.clone(),
            })?;
        if let Some(o) = self.observer() {
            o.version_chosen(&list.name, chosen, &list.cni_versions);
        }
        if *chosen == list.cni_version {
            return Ok(Cow::Borrowed(list));
        }
        let mut list = list.clone();
        list.cni_version = chosen.clone();
        Ok(Cow::Owned(list))
    }

    /// Asks a plugin which spec versions it supports (Go's `GetVersionInfo`).
    ///
    /// # Errors
    /// [`Error::PluginNotFound`] or the plugin's failure.
    #[doc(alias = "GetVersionInfo")]
    pub fn get_version_info(&self, plugin_type: &str) -> Result<PluginInfo, Error> {
        self.version_info_at(plugin_type, 0)
    }

    /// The cached entry of an attachment, if any (Go's `GetNetworkListCachedResult` and
    /// `GetNetworkListCachedConfig` read the same file).
    ///
    /// # Errors
    /// [`Error::CacheCorrupt`] or [`Error::Io`].
    #[doc(alias = "GetNetworkListCachedConfig")]
    pub fn get_cached_attachment(
        &self,
        network: &str,
        rt: &RuntimeConf,
    ) -> Result<Option<CacheEntry>, Error> {
        validate::network_name(network)?;
        validate::container_id(&rt.container_id)?;
        validate::ifname(&rt.ifname)?;
        self.cache.read(network, &rt.container_id, &rt.ifname)
    }

    /// The cached result of an attachment converted to the list's version (Go's
    /// `GetNetworkListCachedResult`).
    ///
    /// # Errors
    /// As [`CniConfig::get_cached_attachment`], plus conversion errors.
    #[doc(alias = "GetNetworkListCachedResult")]
    pub fn get_cached_result(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<Option<CniResult>, Error> {
        match self.get_cached_attachment(&list.name, rt)? {
            Some(entry) => self.cached_result(list, &entry),
            None => Ok(None),
        }
    }

    /// Every cached attachment, optionally of one network only (Go's
    /// `GetCachedAttachments`, keyed by network instead of container).
    ///
    /// # Errors
    /// [`Error::Io`] when the cache directory cannot be read.
    #[doc(alias = "GetCachedAttachments")]
    pub fn get_cached_attachments(
        &self,
        network: Option<&str>,
    ) -> Result<Vec<CachedAttachment>, Error> {
        Ok(self
            .cache
            .list(network)?
            .attachments
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }
}

/// Fills in what the caller left out with what ADD recorded: Go's DEL uses only the current
/// arguments, so a DEL without the original `CAP_ARGS` leaves portmap's rules behind.
fn restore_cached_args(rt: &mut RuntimeConf, att: &CachedAttachment) {
    if rt.args.is_empty() {
        rt.args = att.cni_args.clone();
    }
    for (k, v) in &att.capability_args {
        rt.capability_args
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
}

/// Whether `path` is a plain file rather than a namespace: what is left of a persistent
/// namespace file once its bind mount is gone (`umount`, or `/run/netns` kept across a
/// reboot). The namespace it named no longer exists.
/// A namespace file whose namespace is gone: it exists, but is a plain file now.
fn is_stale_netns_file(path: &Path) -> bool {
    !path.as_os_str().is_empty() && path.exists() && netns::is_gone(path)
}

fn path_str(path: &Path) -> Result<&str, Error> {
    path.to_str().ok_or_else(|| Error::InvalidArgument {
        what: "network namespace path",
        reason: format!("{} is not valid UTF-8", path.display()),
    })
}

fn parse_version(v: &str) -> Result<Version, Error> {
    Version::parse(v)
}

fn supports_prev_result_on_del(version: &str) -> bool {
    Version::parse(version).is_ok_and(|v| v >= Version::V0_4_0)
}

fn require_version(list: &NetworkConfigList, command: Command, min: Version) -> Result<(), Error> {
    if parse_version(&list.cni_version)? < min {
        return Err(Error::VerbUnsupported {
            command,
            version: list.cni_version.clone(),
        });
    }
    Ok(())
}

/// The stdin of one plugin call (Go's `buildOneConfig` + `injectRuntimeConfig`): the plugin
/// object with the list's `name` and `cniVersion`, `prevResult`, and `runtimeConfig` holding
/// the capability arguments the plugin declares. Keys are sorted; `prevResult` keeps the
/// result's field order unless `runtimeConfig` is added, because Go then re-encodes the whole
/// document through a map (see the `list-spy` fixture).
pub fn build_one_config(
    list: &NetworkConfigList,
    plugin: &PluginConfig,
    prev: Option<&CniResult>,
    rt: Option<&RuntimeConf>,
) -> Vec<u8> {
    let runtime_config: Map<String, Value> = rt
        .map(|rt| {
            plugin
                .capabilities
                .iter()
                .filter(|(_, on)| **on)
                .filter_map(|(cap, _)| {
                    rt.capability_args
                        .get(cap)
                        .map(|v| (cap.clone(), v.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    if runtime_config.is_empty() {
        inject(list, plugin, &[], prev)
    } else {
        let mut doc = plugin.raw.clone();
        doc.insert("name".into(), Value::String(list.name.clone()));
        doc.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
        if let Some(prev) = prev {
            doc.insert("prevResult".into(), prev.to_sorted_value());
        }
        doc.insert("runtimeConfig".into(), Value::Object(runtime_config));
        json::to_vec(&doc)
    }
}

/// The plugin object with `name`, `cniVersion`, `extra` keys and `prevResult` (struct order).
fn inject(
    list: &NetworkConfigList,
    plugin: &PluginConfig,
    extra: &[(&str, &Value)],
    prev: Option<&CniResult>,
) -> Vec<u8> {
    let name = Value::String(list.name.clone());
    let version = Value::String(list.cni_version.clone());
    let prev_raw = prev.map(|r| {
        RawValue::from_string(String::from_utf8_lossy(&r.to_json()).into_owned())
            .expect("a result encodes to valid JSON")
    });
    let mut doc: std::collections::BTreeMap<&str, Injected<'_>> = plugin
        .raw
        .iter()
        .map(|(k, v)| (k.as_str(), Injected::Value(v)))
        .collect();
    doc.insert("name", Injected::Value(&name));
    doc.insert("cniVersion", Injected::Value(&version));
    for (k, v) in extra {
        doc.insert(k, Injected::Value(v));
    }
    if let Some(raw) = &prev_raw {
        doc.insert("prevResult", Injected::Raw(raw));
    }
    json::to_vec(&doc)
}
