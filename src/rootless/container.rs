//! `cnitool container run` for a plain user: a rootless podman or docker container on the
//! user's rootless networks.
//!
//! podman: a rootless run ([`super::run::run_body`]) whose shared namespace lives in podman's
//! user namespace ([`super::podman`]) and whose command is a keeper holding the run netns;
//! while it runs, `podman run --network ns:/proc/KEEPER/ns/net` starts the container there.
//! docker (a rootless daemon: [`super::docker`]): a pause container is started first with
//! `--network none`; the shared namespace lives in its user namespace (rootlesskit's), the run
//! netns is the pause container's (bound and ADDed as by `container attach`), and `docker run
//! --network container:PAUSE` starts the container in it; the pause container is removed at
//! the end. Both get the run's hosts file and resolv.conf mounted over their own (names,
//! `--add-host`, `--dns*`). Ports (`-p`) are published as for a rootless run: portmap in the
//! outer netns, the uplink on the host. When the client ends, the keeper is killed and the
//! run undone as any rootless run; a wrapper killed meanwhile leaves a record that names the
//! container (and the pause container), which the next rootless run or `cnitool gc` kills
//! before it undoes the run.

use std::process::ExitCode;
use std::sync::atomic::AtomicI32;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::run::{run_body, Body, Spot};
use super::state::UplinkKind;
use super::Options;
use crate::cmd::container::run::{
    check_engine_args, dns_of, names_of, run_client, ClientFiles, Outcome as ClientOutcome, RunArgs,
};
use crate::cmd::Context;
use crate::container::engine::{read_cidfile, ContainerInfo, Engine, EngineKind};
use crate::supervise::signals::handled_signals;
use crate::supervise::wait::{Event, Outcome};
use crate::supervise::{tool, RunPlan};

/// Runs `container run` as a plain user.
pub fn run(args: &RunArgs, ctx: &Context) -> Result<ExitCode> {
    let (tx, rx) = mpsc::channel();
    // Blocked before any other thread exists (the runner forks its plugin executor).
    handled_signals()
        .thread_block()
        .context("blocking signals")
        .map_err(tool)?;
    let engine = args.engine.engine();
    // An engine argument that sets the resolv.conf keeps the engine's (then ours is not
    // mounted, and cnitool's --dns flags are refused).
    let engine_dns = check_engine_args(&args.engine_args, engine.kind).map_err(tool)?;
    let ctx = &super::run::user_first(ctx);
    let nets = super::run::resolve_networks(&args.nets, ctx).map_err(tool)?;
    let lists: Vec<_> = nets.iter().map(|(list, _)| list).collect();
    args.plugin
        .require_capabilities(&lists, &["dns"])
        .map_err(tool)?;
    let (names, add_hosts) = names_of(args).map_err(tool)?;
    let plan = RunPlan {
        cni_args: args.plugin.cni_args().map_err(tool)?,
        capability_args: args.plugin.capability_args().map_err(tool)?,
        dns: dns_of(args, engine_dns.as_deref()).map_err(tool)?,
        hostname: names.first().cloned(),
        names,
        add_hosts,
        argv: vec![
            super::holder::SELF_EXE.to_owned(),
            "__rootless-keep".to_owned(),
        ],
        sequential: false,
        nets,
    };
    if engine.kind == EngineKind::Podman {
        return run_with(
            args,
            ctx,
            &plan,
            &engine,
            engine_dns.as_deref(),
            None,
            (tx, rx),
        );
    }
    // docker: before anything is created, also tells whether the daemon is reachable.
    engine.require_image(&args.pause_image).map_err(tool)?;
    let name = format!("cnitool-{}-pause", crate::supervise::random_hex());
    let result = engine
        .start_pause(&name, &args.pause_image)
        .context("starting the pause container")
        .map_err(tool)
        .and_then(|pause| {
            let pause = Some(pause);
            run_with(
                args,
                ctx,
                &plan,
                &engine,
                engine_dns.as_deref(),
                pause,
                (tx, rx),
            )
        });
    // Whatever became of the run (the run netns is unmounted by now, or was never made).
    if let Err(e) = engine.remove(&name) {
        if !ctx.quiet {
            crate::diag!("cnitool: warning: removing the pause container {name}: {e}");
        }
    }
    result
}

/// The run of [`run`], once the engine (and docker's pause container) is known.
fn run_with(
    args: &RunArgs,
    ctx: &Context,
    plan: &RunPlan,
    engine: &Engine,
    engine_dns: Option<&str>,
    pause: Option<ContainerInfo>,
    (tx, rx): (Sender<Event>, Receiver<Event>),
) -> Result<ExitCode> {
    let pending = Arc::new(AtomicI32::new(0));
    let userns = match &pause {
        Some(p) => super::docker::userns_of(p),
        None => super::podman::userns(engine),
    }
    .map_err(tool)?;
    let opts = Options {
        uplink: UplinkKind::Auto,
        allow_host_loopback: false,
        require_uplink: false,
        userns: Some(userns),
    };
    let grace = Duration::from_secs(args.stop_timeout);
    let client_tx = tx.clone();
    let mut client = |spot: &Spot, rx: &Receiver<Event>| -> Outcome {
        let network = match &pause {
            Some(p) => format!("container:{}", p.id),
            None => format!("ns:/proc/{}/ns/net", spot.keeper),
        };
        let files = ClientFiles {
            cidfile: &spot.cidfile,
            hosts: Some(&spot.hosts),
            resolv: engine_dns.is_none().then_some(spot.resolv.as_path()),
        };
        let chans = (client_tx.clone(), rx);
        let (outcome, interrupted) =
            run_client(engine, &network, files, &args.engine_args, grace, chans);
        if interrupted || matches!(outcome, ClientOutcome::Failed(_)) {
            if let Some(cid) = read_cidfile(&spot.cidfile) {
                engine.kill(&cid);
            }
        }
        match outcome {
            ClientOutcome::Exited(status) => Outcome::Exited(status),
            ClientOutcome::Failed(e) => Outcome::Failed(e),
        }
    };
    run_body(
        plan,
        ctx,
        &opts,
        (tx, &rx, &pending),
        Body::Engine {
            engine: engine.clone(),
            pause: pause.clone(),
            client: &mut client,
        },
    )
}
