//! `cnitool container run`: run a docker or podman container in the foreground on CNI
//! networks, and always clean up.
//!
//! Order: write a record, make the namespace (podman: a new named one; docker: a pause
//! container with `--network none`, its namespace bind-mounted to a name so the path stays
//! valid), ADD each network, write the hosts file and resolv.conf when the container gets
//! cnitool's (`--name`, `--add-host`; `--dns*` or DNS in the results), run `<engine> run
//! --network ns:PATH|container:PAUSE --cidfile F [--volume FILE:/etc/hosts] [--volume
//! FILE:/etc/resolv.conf] ARGS...` with the arguments exactly as given and stdio inherited,
//! then withdraw the names, DEL in reverse, delete the namespace, remove the pause container and the record. Signals during setup roll
//! back; during the run they go to the engine client (which passes them to the container), and
//! if the container has not ended `--stop-timeout` seconds later it is killed through the
//! engine. If the wrapper itself is killed, `cnitool gc` finds the record and undoes the rest.
//!
//! Length: about 650 lines of code: the verb's whole lifecycle (setup, the client's wait,
//! teardown), the checks of the engine's arguments, the container's hosts file and resolv.conf,
//! and the parts the rootless `container run` shares (`names_of`, `dns_of`, the client's wait).

use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::atomic::AtomicI32;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use libcni::netns::{self, CreateOptions};
use libcni::{NetworkConfigList, RuntimeConf};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cmd::{absolute, container_id_for, resolve_networks, Context, PluginArgs};
use crate::container::engine::{read_cidfile, Engine, EngineArgs, EngineKind};
use crate::container::record::{self, ContainerRecord, Kind};
use crate::supervise::child::ChildEvent;
use crate::supervise::names;
use crate::supervise::record::{Owner, PlannedAttachment};
use crate::supervise::resolv::{self, DnsFlags};
use crate::supervise::signals::Group;
use crate::supervise::signals::{check_signal, start_signal_thread};
use crate::supervise::wait::Event;
use crate::supervise::{random_hex, tool};
use crate::sys;

/// Exit codes of `container run`, shown in its `--help`.
pub const CONTAINER_RUN_EXIT_HELP: &str = "\
Exit status: the engine client's, which is the container's own (125-127 when the engine
itself fails, e.g. image missing, name in use). If the client is killed by signal N: 128+N.
  125  cnitool failed (bad argument, netconf, plugin, engine; nothing is left behind)

The container runs in the foreground: --detach (-d) is refused (use `container attach` for a
container that outlives the command). --network (--net) and --cidfile are set by cnitool, and
ports are published with cnitool's own -p (through portmap): the engine's are refused.
With cnitool's --dns, --dns-search or --dns-option, or DNS settings in the CNI results, the
container's /etc/resolv.conf is cnitool's (mounted over it); the engine's own DNS options
keep the engine's file, and are refused together with cnitool's.";

// Arguments of `container run`.
#[derive(Debug, Args)]
#[command(after_help = CONTAINER_RUN_EXIT_HELP)]
pub struct RunArgs {
    /// The engine.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0,
    /// eth1, ... by default). Without --net and without any netconf, the built-in network
    /// "cnitool" is used.
    #[arg(long = "net", value_name = "NAME[:IFNAME]")]
    pub nets: Vec<String>,
    /// docker: the image of the pause container that holds the network namespace. It must be
    /// present locally (it is never pulled) and have `sleep`.
    #[arg(long, value_name = "IMAGE", default_value = "busybox")]
    pub pause_image: String,
    /// Seconds to wait, after passing a signal to the container, before killing it.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub stop_timeout: u64,
    /// Name the container on its networks, as `cnitool run --name` does (this is not the
    /// engine's --name, which goes after --): runs, named namespaces and containers on them
    /// resolve NAME and NAME.NETWORK to its addresses while it runs. With --name or
    /// --add-host the container gets a hosts file of cnitool's, mounted over its /etc/hosts
    /// (the engine's own, with its --add-host and --hostname entries, is not used then),
    /// showing the names on its networks, kept current while it runs.
    #[arg(long = "name", value_name = "NAME")]
    pub cni_name: Option<String>,
    /// Another name, like --name (repeatable; needs --name).
    #[arg(long, value_name = "NAME", requires = "cni_name")]
    pub alias: Vec<String>,
    /// Add a line to the container's /etc/hosts (cnitool's hosts file): NAME:IP (repeatable).
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Plugin arguments and capabilities, applied to every network.
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// The arguments of `<engine> run`: options, image, command; passed as they are.
    #[arg(last = true, required = true, value_name = "ENGINE RUN ARGS")]
    pub engine_args: Vec<String>,
}

/// How the engine client ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Exited(std::process::ExitStatus),
    Failed(io::Error),
}

/// Runs `container run`.
pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        return crate::rootless::container::run(&args, ctx);
    }
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicI32::new(0));
    start_signal_thread(tx.clone(), Event::Signal, Arc::clone(&pending)).map_err(tool)?;
    run_inner(&args, ctx, tx, &rx, &pending)
}

fn run_inner(
    args: &RunArgs,
    ctx: &Context,
    tx: Sender<Event>,
    rx: &mpsc::Receiver<Event>,
    pending: &AtomicI32,
) -> Result<ExitCode> {
    let engine_dns =
        check_engine_args(&args.engine_args, args.engine.engine().kind).map_err(tool)?;
    let nets = resolve_networks(&args.nets, ctx).map_err(tool)?;
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    // The DNS flags are applied in the container's resolv.conf whether or not a plugin
    // takes them too, as by `run`.
    args.plugin
        .require_capabilities(&lists, &["dns"])
        .map_err(tool)?;
    let dns = dns_of(args, engine_dns.as_deref()).map_err(tool)?;
    let cni_args = args.plugin.cni_args().map_err(tool)?;
    let capability_args = args.plugin.capability_args().map_err(tool)?;
    let (names, add_hosts) = names_of(args).map_err(tool)?;
    let engine = args.engine.engine();
    if engine.kind == EngineKind::Docker {
        // Before anything is created: also tells whether the daemon is reachable.
        engine.require_image(&args.pause_image).map_err(tool)?;
    }

    let name = format!("cnitool-{}", random_hex());
    let netns_path = absolute(&ctx.netns_dir.join(&name)).map_err(tool)?;
    let cache_dir = ctx.cni.cache().dir().to_path_buf();
    let cidfile = absolute(&record::dir(&cache_dir).join(format!("{name}.cid"))).map_err(tool)?;
    let mut rec = ContainerRecord {
        kind: Kind::Run,
        owner: Some(Owner::current().map_err(tool)?),
        engine: engine.clone(),
        container: String::new(),
        container_name: String::new(),
        pause: (engine.kind == EngineKind::Docker).then(|| format!("{name}-pause")),
        cidfile: Some(cidfile.clone()),
        netns: netns_path.clone(),
        // docker: the pause container's ID, known once it runs.
        container_id: match engine.kind {
            EngineKind::Podman => container_id_for(&netns_path),
            EngineKind::Docker => String::new(),
        },
        attachments: PlannedAttachment::all(&nets),
        cni_args,
        capability_args,
        names: Vec::new(),
        hosts: None,
        init: None,
        hosts_in_place: false,
        // Written after the ADDs when the flags or the results give DNS settings.
        resolv_conf: Some(
            absolute(&record::dir(&cache_dir).join(format!("{name}.resolv.conf"))).map_err(tool)?,
        ),
    };
    rec.names = names::claims_on(&names, nets.iter().map(|(l, _)| l.name.as_str()));
    if !names.is_empty() || !add_hosts.is_empty() {
        // Absolute: the engine mounts it.
        let hosts = record::dir(&cache_dir).join(format!("{name}.hosts"));
        rec.hosts = Some(absolute(&hosts).map_err(tool)?);
    }
    // Names are claimed with the record, under the lock (see `cnitool run --name`).
    let rec_path = (|| {
        let _lock = match rec.names.is_empty() {
            true => None,
            false => Some(names::lock(&cache_dir)?),
        };
        names::check_free(&cache_dir, &rec.names, None)?;
        rec.write(ctx.cni.cache(), &name)
    })()
    .map_err(tool)?;

    let mut added = 0;
    let mut resolv = false;
    let network = match setup(args, ctx, &mut rec, &nets, pending, &mut added).and_then(
        |(network, results)| {
            // The engine's own DNS options, without ours, keep the engine's resolv.conf.
            if engine_dns.is_none() {
                resolv = write_resolv(ctx, &rec, &dns, &results)?;
            }
            write_hosts(ctx, &mut rec, &name, &nets, &results, &names, &add_hosts)?;
            Ok(network)
        },
    ) {
        Ok(network) => network,
        Err(err) => {
            let withdrawn = rec.withdraw_names(ctx.cni.cache(), &rec_path);
            let cleanup = rec.teardown(ctx, &rec_path, Some(added), false);
            let cleanup = withdrawn.and(cleanup);
            return crate::supervise::setup_failed(err, cleanup);
        }
    };

    let files = ClientFiles {
        cidfile: &cidfile,
        hosts: rec.hosts.as_deref(),
        resolv: rec.resolv_conf.as_deref().filter(|_| resolv),
    };
    let grace = Duration::from_secs(args.stop_timeout);
    let (outcome, interrupted) =
        run_client(&engine, &network, files, &args.engine_args, grace, (tx, rx));

    // Teardown: signals stay blocked and queued; nothing interrupts it.
    let failed = matches!(outcome, Outcome::Failed(_));
    let withdrawn = rec.withdraw_names(ctx.cni.cache(), &rec_path);
    let cleanup = rec.teardown(ctx, &rec_path, Some(added), interrupted || failed);
    let cleanup = withdrawn.and(cleanup);
    let code = match outcome {
        Outcome::Exited(status) => crate::exit::of_command(status),
        Outcome::Failed(e) => {
            let err = match e.kind() {
                io::ErrorKind::NotFound => anyhow!(
                    "{}: not found (install {} or pass --engine-bin)",
                    engine.display(),
                    engine.kind.command_name()
                ),
                _ => anyhow!("running {} run: {e}", engine.display()),
            };
            let err = match cleanup {
                Ok(()) => err,
                Err(c) => err.context(format!("{c:#}")),
            };
            return Err(tool(err));
        }
    };
    cleanup.map_err(tool)?;
    Ok(ExitCode::from(code))
}

/// Makes the namespace and ADDs the networks; returns the engine's `--network` value.
/// `added` counts the networks ADDed so far, for the rollback.
fn setup(
    args: &RunArgs,
    ctx: &Context,
    rec: &mut ContainerRecord,
    nets: &[(NetworkConfigList, String)],
    pending: &AtomicI32,
    added: &mut usize,
) -> Result<(String, Vec<libcni::CniResult>)> {
    check_signal(pending)?;
    let (dir, name) = split_netns(&rec.netns)?;
    let network = match rec.engine.kind {
        EngineKind::Podman => {
            netns::create(dir, &name, CreateOptions { lo_up: true })
                .with_context(|| format!("creating network namespace {name:?}"))?;
            format!("ns:{}", rec.netns.display())
        }
        EngineKind::Docker => {
            let pause_name = rec.pause.clone().unwrap_or_default();
            let pause = rec
                .engine
                .start_pause(&pause_name, &args.pause_image)
                .context("starting the pause container")?;
            rec.container_id = pause.id.clone();
            rec.write(ctx.cni.cache(), &name)?;
            check_signal(pending)?;
            let source = pause.netns().unwrap_or_default();
            netns::attach(dir, &name, &source).with_context(|| {
                format!("naming the network namespace of pause container {pause_name}")
            })?;
            format!("container:{}", pause.id)
        }
    };
    let mut results = Vec::new();
    for (list, ifname) in nets {
        check_signal(pending)?;
        let rt = RuntimeConf {
            container_id: rec.container_id.clone(),
            netns: rec.netns.clone(),
            ifname: ifname.clone(),
            args: rec.cni_args.clone(),
            capability_args: rec.capability_args.clone(),
        };
        results.push(
            ctx.cni
                .add_network_list(list, &rt)
                .with_context(|| format!("adding network {:?} as {ifname}", list.name))?,
        );
        *added += 1;
    }
    check_signal(pending)?;
    Ok((network, results))
}

/// The DNS flags, refused when an engine argument (`engine_dns`) sets the container's
/// resolv.conf too.
pub(crate) fn dns_of(args: &RunArgs, engine_dns: Option<&str>) -> Result<DnsFlags> {
    let dns = args.plugin.dns_for_runtime();
    if let (Some(arg), false) = (engine_dns, dns.is_empty()) {
        return Err(crate::usage!(
            "engine argument {arg:?}: cnitool's --dns, --dns-search and --dns-option (before \
             --) write the container's /etc/resolv.conf; give the DNS settings there only"
        ));
    }
    Ok(dns)
}

/// `--name` then the `--alias`es, and the `--add-host` entries, checked.
#[allow(clippy::type_complexity)]
pub(crate) fn names_of(args: &RunArgs) -> Result<(Vec<String>, Vec<(String, std::net::IpAddr)>)> {
    let names = names::names_and_aliases(args.cni_name.as_deref(), &args.alias)?;
    Ok((names, crate::cmd::run::parse_add_hosts(&args.add_host)?))
}

/// After the ADDs: writes the container's resolv.conf (into `rec.resolv_conf`), as `run`
/// writes its command's: the DNS of the CNI results, else (with DNS flags) the host's file,
/// whose loopback stub resolver is replaced by the servers it forwards to; then the flags on
/// top. Returns whether it wrote one: without flags and without DNS in the results, the
/// container keeps the engine's.
fn write_resolv(
    ctx: &Context,
    rec: &ContainerRecord,
    dns: &DnsFlags,
    results: &[libcni::CniResult],
) -> Result<bool> {
    let Some(path) = &rec.resolv_conf else {
        return Ok(false);
    };
    let mut content = resolv::resolv_conf(results);
    if content.is_none() && !dns.is_empty() {
        let (base, note) = resolv::host_base(
            Path::new("/etc/resolv.conf"),
            Path::new(resolv::RESOLVED_UPSTREAM),
        );
        if let (Some(note), false) = (note, ctx.quiet) {
            crate::diag!("cnitool: {note}");
        }
        content = Some(base);
    }
    let Some(mut content) = content else {
        return Ok(false);
    };
    if !dns.is_empty() {
        content = dns.apply(&content);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// After the ADDs: records the container's addresses with its names and writes its hosts
/// file (a standard head, its name on its addresses, the `--add-host` entries, the names on
/// its networks), rewriting the others' when it is named. Under the names lock.
fn write_hosts(
    ctx: &Context,
    rec: &mut ContainerRecord,
    id: &str,
    nets: &[(NetworkConfigList, String)],
    results: &[libcni::CniResult],
    names: &[String],
    add_hosts: &[(String, std::net::IpAddr)],
) -> Result<()> {
    let Some(hosts) = rec.hosts.clone() else {
        return Ok(());
    };
    let own = names::add_addresses(
        &mut rec.names,
        nets.iter().map(|(l, _)| l.name.as_str()),
        results,
    );
    // The container's files are the image's, not the host's: a standard head.
    let base = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    let head = names::hosts_head(base, names.first().map(String::as_str), &own, add_hosts);
    let cache_dir = ctx.cni.cache().dir();
    let _lock = names::lock(cache_dir)?;
    rec.write(ctx.cni.cache(), id)?;
    let nets = rec.attachments.iter().map(|a| a.network.clone()).collect();
    names::publish_file(cache_dir, &hosts, &nets, &rec.names, &head)
}

/// The directory and the name of a named namespace path.
fn split_netns(path: &Path) -> Result<(&Path, String)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir, name.to_string_lossy().into_owned())),
        _ => Err(anyhow!("invalid namespace path {}", path.display())),
    }
}

/// The files `<engine> run` is given: its `--cidfile`, and what is mounted over the
/// container's `/etc/hosts` and `/etc/resolv.conf`.
pub(crate) struct ClientFiles<'a> {
    pub cidfile: &'a Path,
    pub hosts: Option<&'a Path>,
    pub resolv: Option<&'a Path>,
}

/// Runs `<engine> run --network NETWORK --cidfile ... [--volume FILE:/etc/hosts] [--volume
/// FILE:/etc/resolv.conf] ENGINE_ARGS` and waits for it ([`wait_for_client`]). As `run`'s
/// command: on a terminal the client stays in our job (it keeps the terminal, and the
/// terminal's Ctrl-C reaches it once, directly); without one it gets a group of its own and
/// every signal through us. Returns how it ended and whether a signal came.
pub(crate) fn run_client(
    engine: &Engine,
    network: &str,
    files: ClientFiles<'_>,
    engine_args: &[String],
    grace: Duration,
    (tx, rx): (Sender<Event>, &mpsc::Receiver<Event>),
) -> (Outcome, bool) {
    let mut cmd = engine.command();
    cmd.arg("run")
        .arg("--network")
        .arg(network)
        .arg("--cidfile")
        .arg(files.cidfile);
    if let Some(hosts) = files.hosts {
        cmd.arg("--volume")
            .arg(format!("{}:/etc/hosts", hosts.display()));
    }
    if let Some(resolv) = files.resolv {
        cmd.arg("--volume")
            .arg(format!("{}:/etc/resolv.conf", resolv.display()));
    }
    cmd.args(engine_args);
    let group = Group::for_command();
    if group == Group::Own {
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    }
    match spawn_client(cmd, tx) {
        Ok(()) => wait_for_client(rx, engine, files.cidfile, grace, group),
        Err(e) => (Outcome::Failed(e), false),
    }
}

/// Starts the engine client on a thread that waits for it (`PR_SET_PDEATHSIG` follows the
/// spawning thread, so that thread must outlive the client). Its stdio is ours, so a TTY and
/// stdin pass through untouched.
fn spawn_client(mut cmd: Command, tx: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("cnitool-engine".into())
        .spawn(move || {
            sys::kill_with_parent(&mut cmd);
            match cmd.spawn() {
                Err(e) => {
                    let _ = tx.send(Event::Child(ChildEvent::Failed(e)));
                }
                Ok(mut child) => {
                    let _ = tx.send(Event::Child(ChildEvent::Started(child.id() as i32)));
                    let _ = tx.send(Event::Child(ChildEvent::Exited(child.wait())));
                }
            }
        })
        .map(drop)
}

/// Passes signals to the engine client until it ends (those that did not reach it already,
/// see [`Group`]). After the first signal, the container
/// has `grace` to stop; then it is killed through the engine (a second signal does that at
/// once), and if the client still does not end, the client is killed. Returns how the client
/// ended and whether a signal came.
fn wait_for_client(
    rx: &mpsc::Receiver<Event>,
    engine: &Engine,
    cidfile: &Path,
    grace: Duration,
    group: Group,
) -> (Outcome, bool) {
    let mut pid = None;
    let mut queued = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut escalations = 0;
    let escalate = |pid: Option<i32>, escalations: &mut u32| {
        let cid = read_cidfile(cidfile);
        match (*escalations, cid) {
            (0, Some(cid)) => {
                crate::diag!("cnitool: the container did not stop; killing it");
                engine.kill(&cid);
            }
            _ => {
                if let Some(p) = pid {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
            }
        }
        *escalations += 1;
    };
    loop {
        let event = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        match event {
            Ok(Event::Signal(received)) => {
                let sig = received.signal;
                match pid {
                    _ if !group.forwards(received) => {}
                    Some(p) => {
                        let _ = kill(Pid::from_raw(p), sig);
                    }
                    None => queued.push(sig),
                }
                if deadline.is_some() {
                    escalate(pid, &mut escalations);
                }
                deadline = Some(Instant::now() + grace);
            }
            Ok(Event::Lost(what)) => crate::diag!(
                "cnitool: warning: the rootless namespace's uplink or holder died while the \
                 container runs ({what} ended): it lost outbound connectivity"
            ),
            Ok(Event::Child(ChildEvent::Started(p))) => {
                pid = Some(p);
                for sig in queued.drain(..) {
                    let _ = kill(Pid::from_raw(p), sig);
                }
            }
            Ok(Event::Child(ChildEvent::Exited(Ok(status)))) => {
                return (Outcome::Exited(status), deadline.is_some())
            }
            Ok(Event::Child(
                ChildEvent::Exited(Err(e)) | ChildEvent::Failed(e) | ChildEvent::SetupFailed(e),
            )) => return (Outcome::Failed(e), deadline.is_some()),
            Err(RecvTimeoutError::Timeout) => {
                escalate(pid, &mut escalations);
                deadline = Some(Instant::now() + Duration::from_secs(5));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return (
                    Outcome::Failed(io::Error::other("the engine client thread vanished")),
                    deadline.is_some(),
                )
            }
        }
    }
}

/// Options of `docker run` and `podman run` that take no value (the others take one, as
/// `--name web` does). Enough to find where the options end and the image begins; an unknown
/// flag is taken to have a value, so at worst the scan stops early and refuses nothing.
const ENGINE_BOOL_FLAGS: &[&str] = &[
    "--detach",
    "--interactive",
    "--tty",
    "--rm",
    "--init",
    "--privileged",
    "--publish-all",
    "--read-only",
    "--quiet",
    "--no-healthcheck",
    "--oom-kill-disable",
    "--disable-content-trust",
    "--sig-proxy",
    "--replace",
    "--rmi",
    "--env-host",
    "--http-proxy",
    "--no-hosts",
    "--read-only-tmpfs",
    "--rootfs",
    "--tls-verify",
    "--passwd",
    "--help",
];

/// Short options without a value (`-d`, `-i`, `-t`, `-P`, `-q`); they may be grouped (`-it`).
const ENGINE_BOOL_SHORTS: &[char] = &['d', 'i', 't', 'P', 'q'];

/// Refuses engine options that contradict the wrapper, before anything is created: a
/// detached container would lose its networks at once (the wrapper tears them down when the
/// client returns), and the engine's own networking (`--network`, `--net`, its port
/// publishing) and `--cidfile` are the wrapper's. Only the options before the image are
/// looked at: what follows is the container's command. Returns the first option that sets
/// the container's resolv.conf (the engine's `--dns*`, a volume or mount over it), if any.
pub(crate) fn check_engine_args(
    engine_args: &[String],
    engine: EngineKind,
) -> Result<Option<String>> {
    let engine = match engine {
        EngineKind::Docker => "docker",
        EngineKind::Podman => "podman",
    };
    let refuse = |arg: &str, option: &str| -> anyhow::Error {
        let why = match option {
            "--detach" => format!(
                "`container run` keeps the container in the foreground and removes its CNI \
                 networks when it ends; for a detached one, start it with `{engine} run -d \
                 --network none ...` and attach it with `cnitool container attach --engine \
                 {engine} NAME --net NET` (`container detach` removes them)"
            ),
            "--network" => "cnitool sets the container's network (its CNI networks: choose \
                 them with --net NAME before --)"
                .to_owned(),
            "--publish" => "the engine's networking is off; publish through the portmap plugin \
                 with cnitool's own -p before -- (`cnitool container run -p 8080:80 ... -- ...`)"
                .to_owned(),
            _ => "cnitool sets it (it finds the container by it)".to_owned(),
        };
        crate::usage!("engine argument {arg:?}: {why}")
    };
    // A volume or mount whose target is the container's resolv.conf.
    let over_resolv = |v: &str| {
        v.split([':', ',', '='])
            .any(|part| part.trim_end_matches('/') == "/etc/resolv.conf")
    };
    let mut dns = None;
    let mut args = engine_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            // The image: the rest is the container's command.
            return Ok(dns);
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let option = match name {
                "detach" if value.is_none_or(|v| v != "false") => Some("--detach"),
                "network" | "net" => Some("--network"),
                "publish" | "publish-all" => Some("--publish"),
                "cidfile" => Some("--cidfile"),
                _ => None,
            };
            if let Some(option) = option {
                return Err(refuse(arg, option));
            }
            let value = match value {
                Some(v) => Some(v),
                None if !ENGINE_BOOL_FLAGS.contains(&arg.as_str()) => {
                    args.next().map(String::as_str)
                }
                None => None,
            };
            let sets_dns = match name {
                "dns" | "dns-search" | "dns-option" | "dns-opt" => true,
                "volume" | "mount" => value.is_some_and(over_resolv),
                _ => false,
            };
            if sets_dns && dns.is_none() {
                dns = Some(arg.clone());
            }
            continue;
        }
        // A group of short options: booleans, perhaps ending with one that takes a value
        // (the rest of the group, or the next argument).
        for (i, c) in arg.char_indices().skip(1) {
            match c {
                'd' => return Err(refuse(arg, "--detach")),
                'p' | 'P' => return Err(refuse(arg, "--publish")),
                c if ENGINE_BOOL_SHORTS.contains(&c) => {}
                _ => {
                    let rest = &arg[i + c.len_utf8()..];
                    let value = match rest.is_empty() {
                        true => args.next().map(String::as_str),
                        false => Some(rest),
                    };
                    if c == 'v' && value.is_some_and(over_resolv) && dns.is_none() {
                        dns = Some(arg.clone());
                    }
                    break;
                }
            }
        }
    }
    Ok(dns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Result<(), String> {
        sets_dns(args).map(drop)
    }

    fn sets_dns(args: &[&str]) -> Result<Option<String>, String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        check_engine_args(&args, EngineKind::Docker).map_err(|e| e.to_string())
    }

    #[test]
    fn engine_options_that_set_the_resolv_conf() {
        for (args, want) in [
            (&["--dns", "10.0.0.1", "busybox"][..], Some("--dns")),
            (
                &["--rm", "--dns-search=a.test", "busybox"],
                Some("--dns-search=a.test"),
            ),
            (&["--dns-opt", "ndots:2", "busybox"], Some("--dns-opt")),
            (&["-v", "/x:/etc/resolv.conf:ro", "busybox"], Some("-v")),
            (
                &["-itv/x:/etc/resolv.conf", "busybox"],
                Some("-itv/x:/etc/resolv.conf"),
            ),
            (
                &[
                    "--mount",
                    "type=bind,src=/x,dst=/etc/resolv.conf",
                    "busybox",
                ],
                Some("--mount"),
            ),
            (&["-v", "/x:/etc/hosts", "-e", "A=--dns", "busybox"], None),
            (&["busybox", "--dns", "10.0.0.1"], None),
        ] {
            assert_eq!(sets_dns(args).unwrap().as_deref(), want, "{args:?}");
        }
    }

    #[test]
    fn contradicting_engine_options_are_refused_before_the_image_only() {
        for bad in [
            &["-d", "busybox"][..],
            &["--rm", "-dit", "busybox", "sh"],
            &["--detach", "busybox"],
            &["--detach=true", "busybox"],
            &["--name", "web", "-d", "busybox"],
            &["--network", "host", "busybox"],
            &["--net=none", "busybox"],
            &["--network=container:x", "busybox"],
            &["-p", "8080:80", "busybox"],
            &["-itp", "8080:80", "busybox"],
            &["--publish=8080:80", "busybox"],
            &["-P", "busybox"],
            &["--cidfile", "/tmp/x", "busybox"],
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            &["--rm", "busybox", "ls", "-d", "/"][..],
            &["-it", "--name", "d", "busybox", "sh", "-c", "ping -d x"],
            &["--detach=false", "busybox"],
            &["-e", "-d", "busybox"],
            &["-e", "X=1", "-w", "/", "busybox", "--network", "x"],
            &["--unknown-flag", "value", "busybox", "-d"],
            &["-u1000", "busybox", "-d"],
        ] {
            assert_eq!(check(good), Ok(()), "{good:?}");
        }
        assert_eq!(
            check(&["--rm", "-d", "busybox"]).unwrap_err(),
            "engine argument \"-d\": `container run` keeps the container in the foreground \
             and removes its CNI networks when it ends; for a detached one, start it with \
             `docker run -d --network none ...` and attach it with `cnitool container attach \
             --engine docker NAME --net NET` (`container detach` removes them)"
        );
    }
}
