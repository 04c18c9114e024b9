//! `cnitool run` as root, from a [`RunPlan`].
//!
//! The CNI repo's `scripts/priv-net-run.sh` does this in shell and leaks on every failure
//! path. Here the order is: write a crash-safety record, create the namespace, ADD each
//! network, run the command, then kill what it left running, DEL in reverse order while the
//! namespace still exists, delete the namespace and the record. Signals during setup roll
//! back; during the command they are forwarded to it (unless they reached it already, see
//! [`Group`]); during teardown they are held off.
//! If the runner itself dies (SIGKILL), the command dies with it (`PR_SET_PDEATHSIG`) and
//! `cnitool gc` finds the record and undoes the rest.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::mpsc::{Receiver, Sender};

use anyhow::{anyhow, Context as _, Result};
use libcni::netns::{self, CreateOptions};
use libcni::{CniResult, NetworkConfigList, RuntimeConf};

use super::child;
use super::names::{self, NameClaim};
use super::orphans::{kill_namespace_processes, kill_orphans};
use super::record::{Owner, PlannedAttachment, RunRecord};
use super::resolv::{self, resolv_conf};
use super::signals::{check_signal, Group};
use super::wait::{wait_for_command, Event, OnLost, Outcome};
use super::{for_each, random_hex, setup_failed, tool, RunPlan};
use crate::cmd::{container_id_for, Context};

/// The namespace a run uses.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name in the netns directory.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Whether the run creates it (and deletes it at the end), else it joins an existing one.
    pub owned: bool,
    /// The container ID the run's attachments use (derived from the path).
    pub container_id: String,
}

impl Target {
    /// The namespace named `join` (`--netns`), checked to exist and to have none of the
    /// run's interface names, or else a fresh name the run will create.
    pub fn resolve(join: Option<&str>, ctx: &Context, plan: &RunPlan) -> Result<Target> {
        let (name, owned) = match join {
            Some(name) => (name.to_owned(), false),
            None => (format!("cnitool-run-{}", random_hex()), true),
        };
        netns::validate_name(&name)?;
        let path = crate::cmd::absolute(&ctx.netns_dir.join(&name))?;
        let container_id = container_id_for(&path);
        if !owned {
            netns::check_target(&path)?;
            refuse_taken_ifnames(ctx, &path, &container_id, &plan.nets)?;
        }
        Ok(Target {
            name,
            path,
            owned,
            container_id,
        })
    }
}

/// Refuses to join a namespace under an interface name it already has: the ADD would fail on
/// it, and its rollback DEL (same `CNI_IFNAME`) would delete the interface from under
/// whoever made it. Names the network that holds it when the cache knows (an earlier
/// `cnitool add`), which the library's own check would also refuse.
fn refuse_taken_ifnames(
    ctx: &Context,
    netns_path: &Path,
    container_id: &str,
    nets: &[(NetworkConfigList, String)],
) -> Result<()> {
    let present = netns::interface_names(netns_path)?;
    let Some((list, ifname)) = nets.iter().find(|(_, i)| present.contains(i)) else {
        return Ok(());
    };
    let netns_str = netns_path.to_string_lossy();
    let holder = ctx
        .cni
        .cache()
        .list_interface(ifname)?
        .into_iter()
        .find(|(_, a)| a.container_id == container_id || a.netns.as_deref() == Some(&netns_str))
        .map(|(_, a)| {
            format!(
                ", attached to network {:?} (container {:?})",
                a.network_name, a.container_id
            )
        })
        .unwrap_or_default();
    Err(crate::conflict!(
        "namespace {} already has an interface {ifname:?}{holder}; adding network {:?} as \
         {ifname:?} would fail and its rollback delete that interface: choose another name \
         with --net {}:IFNAME",
        netns_path.display(),
        list.name,
        list.name
    ))
}

/// What a run has created so far, undone in reverse by [`Teardown::run`].
#[derive(Debug)]
struct Teardown<'a> {
    ctx: &'a Context,
    netns_name: String,
    netns_path: PathBuf,
    netns_created: bool,
    added: Vec<(NetworkConfigList, RuntimeConf)>,
    sequential: bool,
    record_path: PathBuf,
    /// The record as last written, and its ID (names are taken out of it at the end).
    record: RunRecord,
    record_id: String,
    resolv_conf: Option<PathBuf>,
    /// The command's hosts file (see [`names`]).
    hosts: Option<PathBuf>,
    /// Whether the run's names were published into other runs' hosts files.
    published: bool,
    /// Networks whose failed ADD could not be rolled back: their cache entries are kept, and
    /// so are the namespace and the record, for `gc` to finish.
    unfinished: Vec<String>,
}

impl Teardown<'_> {
    /// Kills what is left in an owned namespace, DELs the networks in reverse order, deletes
    /// the namespace, then the record. Every step runs even if an earlier one failed; the
    /// record stays when something could not be undone (a DEL failed, or the rollback of a
    /// failed ADD), so `gc` can retry.
    fn run(&mut self) -> Result<()> {
        let mut errors = Vec::new();
        if let Err(e) = self.withdraw_names() {
            errors.push(e.context("withdrawing the run's names"));
        }
        if self.netns_created {
            kill_namespace_processes(&self.netns_path);
        }
        // DEL in reverse order of ADD (concurrently unless --sequential: the networks are
        // independent, so the order between them does not matter to the plugins).
        self.added.reverse();
        let outcomes = for_each(&self.added, self.sequential, |(list, rt)| {
            self.ctx
                .cni
                .del_network_list(list, rt)
                .with_context(|| format!("deleting network {:?}", list.name))
        });
        let mut kept = Vec::new();
        for (attachment, outcome) in std::mem::take(&mut self.added).into_iter().zip(outcomes) {
            if let Err(e) = outcome {
                errors.push(e);
                kept.push(attachment);
            }
        }
        self.added = kept;
        for network in &self.unfinished {
            errors.push(anyhow!(
                "the failed ADD of network {network:?} could not be rolled back"
            ));
        }
        // A failed DEL or rollback keeps the namespace (and the record): plugins need it to
        // undo what they set up from it (bridge finds the addresses to unmasquerade on the
        // container's link), and `gc` retries with it, then deletes it.
        if self.netns_created && errors.is_empty() {
            match netns::delete(&self.ctx.netns_dir, &self.netns_name) {
                Ok(()) => self.netns_created = false,
                Err(e) => errors.push(anyhow!(e).context("deleting the network namespace")),
            }
        }
        if let Some(resolv) = self.resolv_conf.take() {
            let _ = fs::remove_file(resolv);
        }
        if let Some(hosts) = self.hosts.take() {
            let _ = fs::remove_file(hosts);
        }
        if errors.is_empty() {
            fs::remove_file(&self.record_path)
                .with_context(|| format!("removing {}", self.record_path.display()))?;
            return Ok(());
        }
        let msgs: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        Err(anyhow!(
            "cleanup failed: {}; the run's record {} is kept: run `{}` to finish",
            msgs.join("; "),
            self.record_path.display(),
            crate::cmd::gc_command(self.ctx)
        ))
    }
}

impl Teardown<'_> {
    /// Takes the run's names out of its record and, when they were published, out of the
    /// hosts files of the other live runs on its networks: first of all, so the names go
    /// when the command ends, even if a DEL then fails and the record stays for `gc`.
    fn withdraw_names(&mut self) -> Result<()> {
        if self.record.names.is_empty() {
            return Ok(());
        }
        let cache_dir = self.ctx.cni.cache().dir();
        let _lock = names::lock(cache_dir)?;
        let claims = std::mem::take(&mut self.record.names);
        self.record.write(self.ctx.cni.cache(), &self.record_id)?;
        if std::mem::take(&mut self.published) {
            let nets = claims.iter().map(|c| c.network.as_str()).collect();
            names::refresh(cache_dir, Some(&nets), self.hosts.as_deref())?;
        }
        Ok(())
    }
}

/// The claims of a run named `names` on each of its networks (once per network).
pub(crate) fn claims(plan: &RunPlan) -> Vec<NameClaim> {
    names::claims_on(&plan.names, plan.nets.iter().map(|(l, _)| l.name.as_str()))
}

/// Runs `plan` in `target` with the signal thread started (it sends on `tx`); errors are
/// the tool's own (exit 125).
pub fn run(
    plan: &RunPlan,
    target: &Target,
    ctx: &Context,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    pending: &AtomicI32,
) -> Result<ExitCode> {
    let record = RunRecord {
        owner: Owner::current().map_err(tool)?,
        netns: target.path.clone(),
        owns_netns: target.owned,
        container_id: target.container_id.clone(),
        attachments: PlannedAttachment::all(&plan.nets),
        cni_args: plan.cni_args.clone(),
        capability_args: plan.capability_args.clone(),
        names: claims(plan),
        container: None,
    };
    let record_id = format!("{}-{}", target.name, std::process::id());
    let cache_dir = ctx.cni.cache().dir();
    // Names are claimed with the record, under the lock: two runs asking for the same name
    // on a network at once cannot both get it.
    let record_path = (|| {
        let _lock = match record.names.is_empty() {
            true => None,
            false => Some(names::lock(cache_dir)?),
        };
        names::check_free(cache_dir, &record.names, None)?;
        record.write(ctx.cni.cache(), &record_id)
    })()
    .map_err(tool)?;

    let mut teardown = Teardown {
        ctx,
        netns_name: target.name.clone(),
        netns_path: target.path.clone(),
        netns_created: false,
        added: Vec::new(),
        sequential: plan.sequential,
        record_path,
        record,
        record_id,
        resolv_conf: None,
        hosts: None,
        published: false,
        unfinished: Vec::new(),
    };

    let setup = setup(plan, target, ctx, pending, &mut teardown);

    if let Err(err) = setup {
        return setup_failed(err, teardown.run());
    }

    let group = Group::for_command();
    // A bind mount needs a file to cover: a host without /etc/hosts gives the command none.
    let hosts = teardown
        .hosts
        .clone()
        .filter(|_| Path::new("/etc/hosts").exists());
    if hosts.is_none() && !ctx.quiet && !(plan.names.is_empty() && plan.add_hosts.is_empty()) {
        crate::diag!(
            "warning: this host has no /etc/hosts to cover: the command does not see the \
             names of the runs or --add-host"
        );
    }
    let spec = child::Spec {
        netns: target.path.clone(),
        resolv_conf: teardown.resolv_conf.clone(),
        hosts,
        hostname: plan.hostname.clone(),
        argv: plan.argv.clone(),
        own_group: group == Group::Own,
    };
    let outcome = match child::spawn(spec, tx, Event::Child) {
        Ok(()) => wait_for_command(&rx, OnLost::Warn { quiet: ctx.quiet }, group).0,
        Err(e) => Outcome::SetupFailed(e),
    };

    // Teardown: signals stay blocked and queued; nothing interrupts it.
    kill_orphans(&[]);
    let cleanup = teardown.run();
    let code = match outcome {
        Outcome::Exited(status) => crate::exit::of_command(status),
        Outcome::SetupFailed(e) => {
            let err = anyhow!(e).context("preparing the command's namespaces");
            return Err(tool(match cleanup {
                Ok(()) => err,
                Err(c) => err.context(format!("{c:#}")),
            }));
        }
        Outcome::Failed(e) => {
            let (code, what) = crate::exit::exec_failure(plan.argv[0].as_ref(), &e);
            crate::diag!("cnitool: {}: {what}", plan.argv[0]);
            code
        }
    };
    if let Err(e) = cleanup {
        return Err(tool(e));
    }
    Ok(ExitCode::from(code))
}

/// Creates the namespace (when the run owns it), ADDs the networks and writes the command's
/// resolv.conf, recording each step in `teardown`; a handled signal in between ends it with
/// [`super::signals::Interrupted`].
fn setup(
    plan: &RunPlan,
    target: &Target,
    ctx: &Context,
    pending: &AtomicI32,
    teardown: &mut Teardown<'_>,
) -> Result<Vec<CniResult>> {
    check_signal(pending)?;
    if target.owned {
        netns::create(&ctx.netns_dir, &target.name, CreateOptions { lo_up: true })?;
        teardown.netns_created = true;
    }
    check_signal(pending)?;
    let results = add_all(plan, target, ctx, teardown)?;
    // The DNS flags apply on top of the results' DNS, else the host's file (whose loopback
    // stub resolver, unreachable from the namespace, is replaced by its upstream servers).
    let mut content = resolv_conf(&results);
    if content.is_none() {
        let (base, note) = resolv::host_base(
            Path::new("/etc/resolv.conf"),
            Path::new(resolv::RESOLVED_UPSTREAM),
        );
        if let Some(note) = note {
            if !ctx.quiet {
                crate::diag!("cnitool: {note}");
            }
            content = Some(format!("# written by cnitool run\n{base}"));
        } else if !plan.dns.is_empty() {
            content = Some(base);
        }
    }
    if !plan.dns.is_empty() {
        content = content.map(|base| plan.dns.apply(&base));
    }
    if let Some(content) = content {
        let path = teardown.record_path.with_extension("resolv.conf");
        fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        teardown.resolv_conf = Some(path);
    }
    write_hosts(plan, ctx, &results, teardown)?;
    check_signal(pending)?;
    Ok(results)
}

/// Writes the command's hosts file and publishes the run's names with their addresses
/// (`results` are in the order of `plan.nets`), under the names lock.
fn write_hosts(
    plan: &RunPlan,
    ctx: &Context,
    results: &[CniResult],
    teardown: &mut Teardown<'_>,
) -> Result<()> {
    let own = names::add_addresses(
        &mut teardown.record.names,
        plan.nets.iter().map(|(l, _)| l.name.as_str()),
        results,
    );
    let base = fs::read_to_string("/etc/hosts")
        .unwrap_or_else(|_| "127.0.0.1\tlocalhost\n::1\tlocalhost\n".to_owned());
    let head = names::hosts_head(&base, plan.hostname.as_deref(), &own, &plan.add_hosts);
    let cache_dir = ctx.cni.cache().dir();
    let _lock = names::lock(cache_dir)?;
    if !teardown.record.names.is_empty() {
        teardown
            .record
            .write(ctx.cni.cache(), &teardown.record_id)?;
    }
    let path = names::hosts_path(&teardown.record_path);
    teardown.hosts = Some(path.clone());
    names::publish(cache_dir, &teardown.record_path, &teardown.record, &head)
        .with_context(|| format!("writing {}", path.display()))?;
    teardown.published = !teardown.record.names.is_empty();
    Ok(())
}

/// ADDs the networks, at once: they are independent (distinct interfaces, their own plugins
/// and IPAM state). A failed ADD rolls itself back; the others are undone by the teardown.
fn add_all(
    plan: &RunPlan,
    target: &Target,
    ctx: &Context,
    teardown: &mut Teardown<'_>,
) -> Result<Vec<CniResult>> {
    let attachments: Vec<(NetworkConfigList, RuntimeConf)> = plan
        .nets
        .iter()
        .map(|(list, ifname)| {
            let rt = RuntimeConf {
                container_id: target.container_id.clone(),
                netns: target.path.clone(),
                ifname: ifname.clone(),
                args: plan.cni_args.clone(),
                capability_args: plan.capability_args.clone(),
            };
            (list.clone(), rt)
        })
        .collect();
    let outcomes = for_each(&attachments, plan.sequential, |(list, rt)| {
        ctx.cni.add_network_list(list, rt).map_err(|e| {
            let hint = match &e {
                libcni::Error::InterfaceInUse { .. } => format!(
                    " (choose another interface name with --net {}:IFNAME)",
                    list.name
                ),
                _ => String::new(),
            };
            anyhow::Error::new(e).context(format!(
                "adding network {:?} as {}{hint}",
                list.name, rt.ifname
            ))
        })
    });
    let mut results = Vec::new();
    let mut first_error = None;
    for (attachment, outcome) in attachments.into_iter().zip(outcomes) {
        match outcome {
            Ok(result) => {
                teardown.added.push(attachment);
                results.push(result);
            }
            Err(e) => {
                if let Some(libcni::Error::AddFailed { kept: Some(_), .. }) =
                    e.downcast_ref::<libcni::Error>()
                {
                    teardown.unfinished.push(attachment.0.name.clone());
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(results)
}
