//! `cnitool run`: run a command on CNI networks in a private network namespace, and always
//! clean up. This file turns the arguments into a [`RunPlan`]; the run itself is
//! [`crate::supervise::run`] (as root) or [`crate::rootless::run`] (rootless).

use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::mpsc;
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use libcni::{NetworkConfigList, RuntimeConf};

use super::{resolve_networks, Context, PluginArgs};
use crate::output::Output;
use crate::supervise::run::Target;
use crate::supervise::signals::{handled_signals, start_signal_thread};
use crate::supervise::wait::Event;
use crate::supervise::{tool, RunPlan};

/// Exit codes of `run` (podman's convention), shown in `run --help`.
pub const RUN_EXIT_HELP: &str = "\
Exit status: the command's own. If the command is killed by signal N: 128+N.
  125  cnitool failed (bad argument, netconf, plugin, namespace): nothing is left behind, or,
       when a DEL or a rollback failed, the run's record is kept and the error names the
       `cnitool gc` that finishes the cleanup
  126  the command could not be executed
  127  the command was not found
  124  rootless, with --require-uplink: the rootless namespace's uplink or holder died
       during the run; the command was ended (SIGTERM, then SIGKILL 10 s later)";

// Arguments of `run`.
#[derive(Debug, Args)]
#[command(after_help = RUN_EXIT_HELP)]
pub struct RunArgs {
    /// A network to attach, NAME or NAME:IFNAME (repeatable, in order; interfaces are eth0,
    /// eth1, ... by default). Without --net and without any netconf, the built-in network
    /// "cnitool" is used (bridge cnitool0 on the first of 10.231.0.0/24 .. 10.231.15.0/24
    /// that no route of the host overlaps).
    #[arg(long = "net", value_name = "NAME[:IFNAME]")]
    pub nets: Vec<String>,
    /// Join this existing named network namespace instead of creating one; it is left in place
    /// and only the networks this run added are removed. Interface names it already has are
    /// refused.
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
    /// The command's hostname (in a UTS namespace of its own; default: --name). It resolves
    /// inside the run, to the run's addresses.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Name the run: while it runs, every other run (as root) on its networks resolves NAME
    /// and NAME.NETWORK to its addresses there, through the hosts file each run gets over
    /// /etc/hosts; the name goes when the run ends. A name held by a live run on the same
    /// network is refused. Without --name a run is not named. RFC 1123 label (letters,
    /// digits, hyphens; 1 to 63). Rootless, names are shared by your rootless runs.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Another name of the run, like --name (repeatable; needs --name).
    #[arg(long, value_name = "NAME", requires = "name")]
    pub alias: Vec<String>,
    /// Add a line to the command's /etc/hosts: NAME:IP (repeatable).
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Print each network's plugin calls (CNI_* environment and exact stdin) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Set up and tear down the networks one after another instead of at once (for
    /// comparison in benchmarks).
    #[arg(
        long,
        hide = true,
        env = "CNITOOL_RUN_SEQUENTIAL",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub sequential: bool,
    /// Plugin arguments and capabilities, applied to every network.
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// Rootless mode.
    #[command(flatten)]
    pub rootless: RootlessOpts,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD", value_hint = clap::ValueHint::CommandWithArguments)]
    pub command: Vec<String>,
}

// The rootless flags of `run`.
#[derive(Debug, Args, Clone)]
pub struct RootlessOpts {
    /// Run rootless even as root (implied when not root): the networks live in a user
    /// namespace shared by your runs (see --rootless-netns), with slirp4netns or pasta as
    /// the uplink.
    #[arg(long)]
    pub rootless: bool,
    /// Rootless uplink helper (auto: slirp4netns if installed, else pasta).
    #[arg(long, value_enum, default_value = "auto", value_name = "HELPER")]
    pub uplink: crate::rootless::state::UplinkKind,
    /// Rootless: let the command reach the host's loopback as 10.0.2.2.
    #[arg(long)]
    pub allow_host_loopback: bool,
    /// Rootless: the namespace the run's networks live in, shared by your rootless runs or
    /// private to this run.
    #[arg(long, value_enum, default_value = "shared", value_name = "MODE")]
    pub rootless_netns: crate::rootless::NetnsMode,
    /// Rootless: if the rootless namespace's uplink or holder dies while the command runs,
    /// end the command (SIGTERM, then SIGKILL 10 s later) and exit with 124.
    #[arg(long)]
    pub require_uplink: bool,
}

impl RootlessOpts {
    /// Whether this run is rootless.
    pub fn active(&self) -> bool {
        self.rootless || !nix::unistd::geteuid().is_root()
    }

    /// The plain options the rootless runner takes.
    pub fn options(&self) -> crate::rootless::Options {
        crate::rootless::Options {
            uplink: self.uplink,
            allow_host_loopback: self.allow_host_loopback,
            require_uplink: self.require_uplink,
            userns: None,
        }
    }
}

/// Runs `run`.
pub fn run(args: RunArgs, ctx: &Context) -> Result<ExitCode> {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicI32::new(0));
    // Blocked before any other thread exists, so every thread inherits the mask.
    handled_signals()
        .thread_block()
        .context("blocking signals")
        .map_err(tool)?;
    // Orphans of the command (daemons, `cmd &`) are re-parented to us, not to init, so they
    // can be found and killed when the command ends, even in a namespace we only joined.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| tool(anyhow!(e).context("becoming a child subreaper")))?;
    if args.rootless.active() && !args.dry_run {
        if args.netns.is_some() {
            return Err(tool(crate::usage!(
                "--netns cannot be used rootless: each rootless run gets its own namespace"
            )));
        }
        let ctx = crate::rootless::run::user_first(ctx);
        let nets = crate::rootless::run::resolve_networks(&args.nets, &ctx).map_err(tool)?;
        let plan = plan(&args, nets).map_err(tool)?;
        // The rootless runner starts the signal thread itself, after it forked its plugin
        // executor (a fork without exec needs a single-threaded process); signals stay
        // queued until then.
        return crate::rootless::run::run(
            &plan,
            &ctx,
            &args.rootless.options(),
            args.rootless.rootless_netns,
            tx,
            &rx,
            &pending,
        );
    }
    start_signal_thread(tx.clone(), Event::Signal, Arc::clone(&pending)).map_err(tool)?;
    let nets = resolve_networks(&args.nets, ctx).map_err(tool)?;
    let plan = plan(&args, nets).map_err(tool)?;
    let target = Target::resolve(args.netns.as_deref(), ctx, &plan).map_err(tool)?;
    if args.dry_run {
        return dry_run(&plan, &target, ctx).map_err(tool);
    }
    crate::supervise::run::run(&plan, &target, ctx, tx, rx, &pending)
}

/// The run's plan: `nets` with the plugin arguments, DNS flags, hostname and command.
fn plan(args: &RunArgs, nets: Vec<(NetworkConfigList, String)>) -> Result<RunPlan> {
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    args.plugin.require_capabilities(&lists, &["dns"])?;
    let dns = args.plugin.dns_for_runtime();
    let cni_args = args.plugin.cni_args()?;
    let capability_args = args.plugin.capability_args()?;
    if let Some(h) = &args.hostname {
        if h.is_empty() || h.len() > 64 || h.contains(['/', '\0']) {
            return Err(crate::usage!(
                "--hostname {h:?}: must be 1 to 64 characters"
            ));
        }
    }
    let names = crate::supervise::names::names_and_aliases(args.name.as_deref(), &args.alias)?;
    let add_hosts = parse_add_hosts(&args.add_host)?;
    Ok(RunPlan {
        nets,
        cni_args,
        capability_args,
        dns,
        hostname: args.hostname.clone().or_else(|| args.name.clone()),
        names,
        add_hosts,
        argv: args.command.clone(),
        sequential: args.sequential,
    })
}

/// `--add-host NAME:IP`: a host name (labels joined by dots) and an IPv4 or IPv6 address
/// (IPv6 may be in brackets).
pub fn parse_add_host(arg: &str) -> Result<(String, std::net::IpAddr)> {
    let bad =
        |why: &str| crate::usage!("--add-host {arg:?}: {why} (expected NAME:IP, e.g. db:10.0.0.5)");
    let (name, ip) = arg.split_once(':').ok_or_else(|| bad("no ':'"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad("not an IP address after ':'"))?;
    if name.is_empty()
        || name.len() > 253
        || name
            .split('.')
            .any(|l| crate::supervise::names::validate_label("", l).is_err())
    {
        return Err(bad("not a valid host name before ':'"));
    }
    Ok((name.to_owned(), ip))
}

/// Every `--add-host NAME:IP` ([`parse_add_host`]).
pub fn parse_add_hosts(args: &[String]) -> Result<Vec<(String, std::net::IpAddr)>> {
    args.iter().map(|a| parse_add_host(a)).collect()
}

/// `--dry-run`: prints each network's plugin calls and runs nothing.
fn dry_run(plan: &RunPlan, target: &Target, ctx: &Context) -> Result<ExitCode> {
    // The namespace does not exist yet: plan without the target checks.
    let cni = ctx.cni.clone().with_netns_checks(false);
    let format = ctx.output.unwrap_or(Output::Table);
    // JSON: one document, an array of the networks with their plans.
    let mut json = Vec::new();
    for (list, ifname) in &plan.nets {
        let rt = RuntimeConf {
            container_id: target.container_id.clone(),
            netns: target.path.clone(),
            ifname: ifname.clone(),
            args: plan.cni_args.clone(),
            capability_args: plan.capability_args.clone(),
        };
        let calls = cni.plan_network_list(libcni::Command::Add, list, &rt)?;
        match format {
            Output::Json => json.push(serde_json::json!({
                "network": list.name,
                "ifName": ifname,
                "calls": crate::output::plan_json(&calls),
            })),
            Output::None => {}
            Output::Table => {
                crate::outln!("# network {:?} as {ifname}", list.name)?;
                crate::output::print_plan(&calls, format)?;
            }
        }
    }
    if format == Output::Json {
        let text = serde_json::to_string_pretty(&json)?;
        crate::outln!("{text}")?;
    }
    Ok(ExitCode::SUCCESS)
}
