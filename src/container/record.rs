//! Records of container attachments, in `<cache dir>/cnitool-containers/<id>.json`: what a
//! `container run` or `container attach` creates, written before its first side effect, so
//! that `detach`, the end of `run`, and `cnitool gc` (when the wrapper died or the container is
//! gone) can undo all of it: DEL the networks in reverse, delete the named namespace, remove
//! the pause container.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use libcni::cache::Cache;
use libcni::RuntimeConf;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::engine::{Engine, EngineError};
use crate::cmd::Context;
use crate::supervise::record::{list_json, write_atomic, Owner, PlannedAttachment};

/// How the attachment came to be, which decides when it is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `container run`: lives as long as its wrapper process ([`ContainerRecord::owner`]).
    Run,
    /// `container attach`: lives as long as the container runs in the recorded namespace.
    Attach,
}

/// What a `container run` or `container attach` creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    /// Run or attach.
    pub kind: Kind,
    /// `run`: the wrapper process.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// The engine, called again to remove the pause container or to look for the container.
    pub engine: Engine,
    /// `attach`: the container's full ID.
    #[serde(default)]
    pub container: String,
    /// `attach`: the container's name.
    #[serde(default)]
    pub container_name: String,
    /// `run` on docker: the pause container's name.
    #[serde(default)]
    pub pause: Option<String>,
    /// `run`: the file the engine writes the container's ID to.
    #[serde(default)]
    pub cidfile: Option<PathBuf>,
    /// The named network namespace (ours: deleted at the end).
    pub netns: PathBuf,
    /// The CNI container ID (the pause container's ID on docker); empty until known.
    pub container_id: String,
    /// The networks, in ADD order.
    pub attachments: Vec<PlannedAttachment>,
    /// `CNI_ARGS` pairs.
    #[serde(default)]
    pub cni_args: Vec<(String, String)>,
    /// Capability arguments.
    #[serde(default)]
    pub capability_args: Map<String, Value>,
    /// `run --name`: the names the container holds on its networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<crate::supervise::names::NameClaim>,
    /// `run --name` or `--add-host`: the hosts file mounted over the container's /etc/hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<PathBuf>,
    /// `attach`: the container's first process when it was attached; its names count while
    /// this process lives (a restarted container has another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Owner>,
    /// `attach --name` or `--add-host`: the engine's /etc/hosts of the container has a part of
    /// ours (written through `/proc/<init>/root/etc/hosts`), cut off again at the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hosts_in_place: bool,
    /// `run --dns*` (or DNS in the results): the resolv.conf mounted over the container's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<PathBuf>,
}

/// The directory of records under a cache directory.
pub fn dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("cnitool-containers")
}

impl ContainerRecord {
    /// Writes the record atomically as `<id>.json`, as durably as `cache` writes; returns its
    /// path.
    pub fn write(&self, cache: &Cache, id: &str) -> Result<PathBuf> {
        write_atomic(cache, &dir(cache.dir()), id, &serde_json::to_vec(self)?)
    }

    /// Every record, with its path (unreadable ones as errors).
    pub fn list(cache_dir: &Path) -> Result<Vec<(PathBuf, Result<ContainerRecord>)>> {
        list_json(&dir(cache_dir), "container record")
    }

    /// The named namespace's directory and name.
    fn netns_parts(&self) -> Option<(&Path, String)> {
        Some((
            self.netns.parent()?,
            self.netns.file_name()?.to_string_lossy().into_owned(),
        ))
    }

    /// Takes the container's names out of its record (at `path`) and out of the live hosts
    /// files, and our part out of the engine's /etc/hosts of an attached container: the
    /// first step of the end, so they go even if a DEL then fails. Under the names lock.
    ///
    /// # Errors
    /// When the record cannot be rewritten or the engine's file cannot be restored.
    pub fn withdraw_names(&mut self, cache: &Cache, path: &Path) -> Result<()> {
        if self.names.is_empty() && !self.hosts_in_place {
            return Ok(());
        }
        let _lock = crate::supervise::names::lock(cache.dir())?;
        let claims = std::mem::take(&mut self.names);
        let in_place = std::mem::take(&mut self.hosts_in_place);
        let id = path.file_stem().unwrap_or_default().to_string_lossy();
        self.write(cache, &id)?;
        if let (true, Some(init)) = (in_place, &self.init) {
            let hosts = crate::supervise::names::in_place_path(init.pid);
            crate::supervise::names::withdraw_over(&hosts, Some(init))
                .map_err(|e| anyhow!("restoring the container's /etc/hosts: {e}"))?;
        }
        let nets = claims.iter().map(|c| c.network.as_str()).collect();
        crate::supervise::names::refresh(cache.dir(), Some(&nets), None)
    }

    /// Undoes what the record describes, in this order: withdraw the names
    /// ([`ContainerRecord::withdraw_names`]), kill the run's container (when
    /// `kill_container`), DEL the first `added` networks in reverse (all of them when `None`:
    /// DEL of a network never added is harmless), delete the named namespace, remove the pause
    /// container, then the cidfile and the record at `path`. Every step runs even if an earlier
    /// one failed; the record stays when something could not be undone, so `gc` can retry.
    ///
    /// # Errors
    /// One error listing every step that failed.
    pub fn teardown(
        &self,
        ctx: &Context,
        path: &Path,
        added: Option<usize>,
        kill_container: bool,
    ) -> Result<()> {
        let mut errors = Vec::new();
        if let Err(e) = self.clone().withdraw_names(ctx.cni.cache(), path) {
            errors.push(format!("withdrawing the names: {e:#}"));
        }
        if kill_container {
            if let Some(cid) = self
                .cidfile
                .as_deref()
                .and_then(super::engine::read_cidfile)
            {
                self.engine.kill(&cid);
            }
        }
        let live_ns = libcni::netns::identify(&self.netns).is_ok();
        let added = added.unwrap_or(self.attachments.len());
        if !self.container_id.is_empty() {
            for att in self.attachments[..added].iter().rev() {
                let rt = RuntimeConf {
                    container_id: self.container_id.clone(),
                    // Plugins take an empty path as "the namespace is gone".
                    netns: if live_ns {
                        self.netns.clone()
                    } else {
                        PathBuf::new()
                    },
                    ifname: att.ifname.clone(),
                    args: self.cni_args.clone(),
                    capability_args: self.capability_args.clone(),
                };
                let res = libcni::conf::conf_list_from_bytes(&att.config_bytes(), None)
                    .map_err(anyhow::Error::from)
                    .and_then(|list| Ok(ctx.cni.del_network_list(&list, &rt)?));
                if let Err(e) = res {
                    errors.push(format!("deleting network {:?}: {e:#}", att.network));
                }
            }
        }
        if let Some((dir, name)) = self.netns_parts() {
            match libcni::netns::delete(dir, &name) {
                Ok(()) => {}
                Err(libcni::Error::Netns { reason, .. }) if reason == "does not exist" => {}
                Err(e) => errors.push(format!("deleting the network namespace: {e}")),
            }
        }
        if let Some(pause) = &self.pause {
            if let Err(e) = self.engine.remove(pause) {
                errors.push(format!("removing the pause container {pause}: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(anyhow!("cleanup failed: {}", errors.join("; ")));
        }
        if let Some(cidfile) = &self.cidfile {
            let _ = fs::remove_file(cidfile);
        }
        if let Some(hosts) = &self.hosts {
            let _ = fs::remove_file(hosts);
        }
        if let Some(resolv) = &self.resolv_conf {
            let _ = fs::remove_file(resolv);
        }
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow!("removing {}: {e}", path.display())),
        }
    }

    /// Whether the attachment is stale: for `run`, its wrapper is gone; for `attach`, the
    /// container is gone, stopped, or runs in another namespace than the one recorded (it was
    /// restarted). `Err` when the engine cannot tell (daemon not reachable): nothing proves the
    /// container is gone, so the attachment is kept.
    pub fn is_stale(&self) -> Result<bool, EngineError> {
        match self.kind {
            Kind::Run => Ok(!self.owner.as_ref().is_some_and(Owner::is_alive)),
            Kind::Attach => match self.engine.inspect_container(&self.container) {
                Err(EngineError::Missing(_)) => Ok(true),
                Err(e) => Err(e),
                Ok(info) => {
                    let recorded = libcni::netns::identify(&self.netns).ok();
                    let current = info.netns().and_then(|p| libcni::netns::identify(p).ok());
                    Ok(recorded.is_none() || current != recorded)
                }
            },
        }
    }

    /// One line naming what the record is about, for `gc` and errors.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Run => format!(
                "container run of pid {} ({})",
                self.owner.as_ref().map_or(0, |o| o.pid),
                self.netns.display()
            ),
            Kind::Attach => format!(
                "{} container {} ({})",
                self.engine.kind.command_name(),
                if self.container_name.is_empty() {
                    &self.container
                } else {
                    &self.container_name
                },
                self.netns.display()
            ),
        }
    }
}

/// `gc`'s part: tears down every stale record. Returns a line per record (what was or, with
/// `dry_run`, would be cleaned up); failures are warnings, and the record stays for next time.
pub fn collect_stale(ctx: &Context, dry_run: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (path, rec) in ContainerRecord::list(ctx.cni.cache().dir())? {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                crate::diag!("warning: {e:#}");
                continue;
            }
        };
        match rec.is_stale() {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                crate::diag!(
                    "warning: keeping {}: cannot tell whether it is gone: {e}",
                    rec.describe()
                );
                continue;
            }
        }
        if dry_run {
            done.push(format!("would clean up {}", rec.describe()));
            continue;
        }
        match rec.teardown(ctx, &path, None, rec.kind == Kind::Run) {
            Ok(()) => done.push(format!("cleaned up {}", rec.describe())),
            Err(e) => crate::diag!("warning: could not clean up {}: {e:#}", rec.describe()),
        }
    }
    Ok(done)
}
