//! `cnitool smoke`: prove that networks work end to end and leave nothing behind.
//!
//! For each network, two throwaway runs (named namespaces made here, recorded as `run`
//! records them so that `cnitool gc` undoes a smoke that was killed) are attached; then the
//! addresses, the gateway, TCP and UDP both ways between the runs, a published port (portmap)
//! from the host side, IPv6 and the MTU are checked with the tool's own sockets. Everything
//! is torn down, and the host is compared with how it was before.
//!
//! Length: about 800 lines of code: the smoke run's steps and their report (the traffic probe
//! and the leak snapshot are in `probe.rs` and `snapshot.rs`).

mod probe;
mod snapshot;

use std::fmt;
use std::fs;
use std::io::IsTerminal as _;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use libcni::netns::{self, CreateOptions};
use libcni::types::v1;
use libcni::{NetworkConfigList, RuntimeConf};
use serde_json::{json, Map, Value};

use super::{container_id_for, Context};
use crate::exit::Exit;
use crate::output::Output;
use crate::supervise::orphans::kill_namespace_processes;
use crate::supervise::random_hex;
use crate::supervise::record::{Owner, PlannedAttachment, RunRecord};

/// The port the probes' servers listen on inside the namespaces smoke made.
const PROBE_PORT: u16 = 40_000;
/// The container port a published port maps to.
const PUBLISHED_PORT: u16 = 40_001;

/// What `smoke` checks and its exit codes, shown in `smoke --help`.
pub const SMOKE_HELP: &str = "\
For each network: two throwaway runs are attached; their addresses must be inside the
configured ranges, the gateway must answer (TCP, else UDP), the runs must reach each other over
TCP and UDP (IPv6 too when configured), a datagram of the interface's MTU must pass, and a port
published through portmap must be reachable from the host with the client's address kept.
Networks given together are reported as isolated or not. Then everything is torn down and the
host (links, addresses, host-local files, iptables rules, nftables tables, cache, processes)
must be as before, apart from what plugins leave by design (listed as `shared`).

Exit status: 0 every check passed, 3 a check failed, 130/143 interrupted (after the teardown);
other errors as for every command.";

// Arguments of `smoke`.
#[derive(Debug, Args)]
#[command(after_help = SMOKE_HELP)]
pub struct SmokeArgs {
    /// A network to test (repeatable; default: every network in the config directories).
    #[arg(long = "net", value_name = "NAME")]
    pub nets: Vec<String>,
    /// Networks given together must not reach each other (else that is only reported).
    #[arg(long)]
    pub expect_isolated: bool,
    /// Also write the checks as a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It works.
    Pass,
    /// It does not.
    Fail,
    /// A finding that is not a failure (isolation between networks, a check that does not
    /// apply).
    Info,
    /// State the plugins leave on the host by design.
    Shared,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Info => "info",
            Outcome::Shared => "shared",
        })
    }
}

/// One check.
#[derive(Debug, Clone)]
struct CheckRow {
    network: String,
    check: String,
    outcome: Outcome,
    detail: String,
}

/// The checks so far, printed as they come in table mode.
#[derive(Debug)]
struct Report {
    rows: Vec<CheckRow>,
    table: bool,
}

impl Report {
    fn new(output: Option<Output>) -> Report {
        let table = output.unwrap_or(Output::Table) == Output::Table;
        if table {
            let _ = crate::outln!("{:<16} {:<20} {:<6} DETAIL", "NETWORK", "CHECK", "RESULT");
        }
        Report {
            rows: Vec::new(),
            table,
        }
    }

    fn add(&mut self, network: &str, check: &str, outcome: Outcome, detail: impl Into<String>) {
        let row = CheckRow {
            network: network.to_owned(),
            check: check.to_owned(),
            outcome,
            detail: detail.into(),
        };
        if self.table {
            let _ = crate::outln!(
                "{:<16} {:<20} {:<6} {}",
                row.network,
                row.check,
                row.outcome.to_string(),
                row.detail
            );
        }
        self.rows.push(row);
    }

    fn result(&mut self, network: &str, check: &str, r: Result<String, String>) {
        match r {
            Ok(d) => self.add(network, check, Outcome::Pass, d),
            Err(d) => self.add(network, check, Outcome::Fail, d),
        }
    }

    fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.outcome == Outcome::Fail)
    }
}

/// One throwaway run: a namespace of its own with the network attached.
#[derive(Debug)]
struct Probe {
    name: String,
    path: PathBuf,
    rt: RuntimeConf,
    record: PathBuf,
    created: bool,
    added: bool,
    result: Option<v1::Result>,
}

/// A network under test with its two runs.
#[derive(Debug)]
struct Subject {
    list: NetworkConfigList,
    runs: Vec<Probe>,
}

impl Subject {
    /// The addresses of run `i`, IPv4 first.
    fn addrs(&self, i: usize) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.runs[i]
            .result
            .iter()
            .flat_map(|r| &r.ips)
            .map(|ip| ip.address.addr)
            .collect();
        v.sort_by_key(|a| a.is_ipv6());
        v
    }

    fn gateways(&self, i: usize) -> Vec<IpAddr> {
        self.runs[i]
            .result
            .iter()
            .flat_map(|r| &r.ips)
            .filter_map(|ip| ip.gateway)
            .collect()
    }
}

/// The networks to test.
fn networks(args: &SmokeArgs, ctx: &Context) -> Result<Vec<NetworkConfigList>> {
    if args.nets.is_empty() {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        let lists: Vec<_> = listing
            .networks
            .into_iter()
            .filter(|n| !n.is_shadowed())
            .filter_map(|n| n.result.ok())
            .collect();
        if lists.is_empty() {
            return Err(crate::usage!(
                "no network to test: no usable netconf in {} (give --net NAME, or --net {} for \
                 the built-in one)",
                ctx.netconf_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::builtin::NAME
            ));
        }
        return Ok(lists);
    }
    args.nets.iter().map(|n| ctx.load_list(n)).collect()
}

/// The subnets a network's IPAM hands out (host-local `ranges` or `subnet`, static
/// `addresses`), as (address, prefix).
fn configured_ranges(list: &NetworkConfigList) -> Vec<(IpAddr, u8)> {
    fn parse(s: &str) -> Option<(IpAddr, u8)> {
        let (a, p) = s.split_once('/')?;
        Some((a.parse().ok()?, p.parse().ok()?))
    }
    let mut out = Vec::new();
    for p in &list.plugins {
        let Some(ipam) = p.raw.get("ipam") else {
            continue;
        };
        if let Some(s) = ipam.get("subnet").and_then(Value::as_str) {
            out.extend(parse(s));
        }
        for set in ipam
            .get("ranges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for r in set.as_array().into_iter().flatten() {
                out.extend(r.get("subnet").and_then(Value::as_str).and_then(parse));
            }
        }
        for a in ipam
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(a.get("address").and_then(Value::as_str).and_then(parse));
        }
    }
    out
}

/// Whether `ip` is inside `net/prefix`.
fn contains((net, prefix): (IpAddr, u8), ip: IpAddr) -> bool {
    let bits = |a: IpAddr| match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32u8),
        IpAddr::V6(v) => (u128::from(v), 128u8),
    };
    let ((n, nlen), (i, ilen)) = (bits(net), bits(ip));
    if nlen != ilen || prefix > nlen {
        return false;
    }
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    n & mask == i & mask
}

/// Whether the list has a plugin taking `portMappings`.
fn publishes(list: &NetworkConfigList) -> bool {
    list.plugins
        .iter()
        .any(|p| p.capabilities.get("portMappings") == Some(&true))
}

/// A TCP port free on the host now.
fn free_host_port() -> Result<u16> {
    Ok(TcpListener::bind("0.0.0.0:0")
        .context("finding a free port for the published-port check")?
        .local_addr()?
        .port())
}

/// Attaches `list` to two new runs; reports the ADDs.
fn set_up(ctx: &Context, list: NetworkConfigList, report: &mut Report) -> Result<Subject> {
    let mut subject = Subject {
        list,
        runs: Vec::new(),
    };
    let host_port = if publishes(&subject.list) {
        Some(free_host_port()?)
    } else {
        None
    };
    let tag = random_hex();
    for (i, side) in ["a", "b"].into_iter().enumerate() {
        let name = format!("cnitool-smoke-{tag}-{side}");
        let path = super::absolute(&ctx.netns_dir.join(&name))?;
        let mut caps = Map::new();
        if let (0, Some(port)) = (i, host_port) {
            caps.insert(
                "portMappings".into(),
                json!([{"hostPort": port, "containerPort": PUBLISHED_PORT, "protocol": "tcp"}]),
            );
        }
        let rt = RuntimeConf {
            container_id: container_id_for(&path),
            netns: path.clone(),
            ifname: "eth0".into(),
            args: Vec::new(),
            capability_args: caps,
        };
        let record = match (RunRecord {
            owner: Owner::current()?,
            netns: path.clone(),
            owns_netns: true,
            container_id: rt.container_id.clone(),
            attachments: vec![PlannedAttachment::new(
                &subject.list.name,
                "eth0",
                &subject.list.full_bytes(),
            )],
            cni_args: Vec::new(),
            capability_args: rt.capability_args.clone(),
            names: Vec::new(),
            container: None,
        }
        .write(ctx.cni.cache(), &format!("{name}-{}", std::process::id())))
        {
            Ok(path) => path,
            Err(e) => {
                for run in &subject.runs {
                    let _ = fs::remove_file(&run.record);
                }
                return Err(e);
            }
        };
        subject.runs.push(Probe {
            name,
            path,
            rt,
            record,
            created: false,
            added: false,
            result: None,
        });
    }
    for (i, run) in subject.runs.iter_mut().enumerate() {
        if interrupted() {
            break;
        }
        let check = format!("attach run {}", ["a", "b"][i]);
        let outcome = (|| -> Result<v1::Result> {
            netns::create(&ctx.netns_dir, &run.name, CreateOptions { lo_up: true })?;
            run.created = true;
            let result = ctx.cni.add_network_list(&subject.list, &run.rt)?;
            run.added = true;
            Ok(result.to_v1()?)
        })();
        match outcome {
            Ok(r) => {
                let addrs: Vec<String> = r.ips.iter().map(|ip| ip.address.to_string()).collect();
                report.add(&subject.list.name, &check, Outcome::Pass, addrs.join(", "));
                run.result = Some(r);
            }
            Err(e) => report.add(&subject.list.name, &check, Outcome::Fail, format!("{e:#}")),
        }
    }
    Ok(subject)
}

/// The checks of one network.
fn check_network(s: &Subject, report: &mut Report) {
    let net = &s.list.name;
    if s.runs.iter().any(|r| r.result.is_none()) {
        return;
    }
    // Addresses inside the configured ranges.
    let ranges = configured_ranges(&s.list);
    for i in 0..2 {
        let addrs = s.addrs(i);
        let check = format!("address run {}", ["a", "b"][i]);
        if addrs.is_empty() {
            report.add(net, &check, Outcome::Fail, "the result has no address");
        } else if ranges.is_empty() {
            report.add(
                net,
                &check,
                Outcome::Info,
                "no configured range to compare with",
            );
        } else if let Some(out) = addrs
            .iter()
            .find(|a| !ranges.iter().any(|r| contains(*r, **a)))
        {
            report.add(
                net,
                &check,
                Outcome::Fail,
                format!("{out} is outside the configured ranges"),
            );
        } else {
            report.add(net, &check, Outcome::Pass, "inside the configured ranges");
        }
    }
    // The gateway answers.
    if interrupted() {
        return;
    }
    let gateways = s.gateways(0);
    if gateways.is_empty() {
        report.add(net, "gateway", Outcome::Info, "no gateway in the result");
    }
    for gw in &gateways {
        let check = if gw.is_ipv4() { "gateway" } else { "gateway6" };
        report.result(net, check, probe::gateway_answers(&s.runs[0].path, *gw));
    }
    // The runs reach each other, over each address family they have.
    for (from, to) in [(0usize, 1usize), (1, 0)] {
        for addr in s.addrs(to) {
            if interrupted() {
                return;
            }
            let family = if addr.is_ipv4() { "" } else { "6" };
            let dir = format!("{}→{}", ["a", "b"][from], ["a", "b"][to]);
            let target = SocketAddr::new(addr, PROBE_PORT);
            let tcp = probe::tcp_server(s.runs[to].path.clone(), target).and_then(|server| {
                let said = probe::tcp_client(Some(&s.runs[from].path), target);
                let seen = server.seen();
                let said = said?;
                let seen = seen?;
                if seen.peer != seen.client {
                    return Err(format!(
                        "{target}: the server saw {} but the client is {}",
                        seen.peer, seen.client
                    ));
                }
                Ok(format!("{target} from {said}"))
            });
            report.result(net, &format!("tcp{family} {dir}"), tcp);
            let udp = probe::udp_server(s.runs[to].path.clone(), target).and_then(|server| {
                let got = probe::udp_client(Some(&s.runs[from].path), target, 64);
                let seen = server.seen();
                got?;
                let seen = seen?;
                Ok(format!("{target} from {}", seen.peer))
            });
            report.result(net, &format!("udp{family} {dir}"), udp);
        }
    }
    // A datagram of the interface's MTU passes (a to b).
    if interrupted() {
        return;
    }
    let mtu = libcni::netns::run_in(&s.runs[0].path, || libcni::netns::link_mtu("eth0"));
    match (mtu, s.addrs(1).first()) {
        (Ok(Ok(mtu)), Some(addr)) => {
            let header = if addr.is_ipv4() { 28 } else { 48 };
            let size = (mtu as usize).saturating_sub(header);
            let target = SocketAddr::new(*addr, PROBE_PORT + 1);
            let r = probe::udp_server(s.runs[1].path.clone(), target).and_then(|server| {
                let got = probe::udp_client(Some(&s.runs[0].path), target, size);
                let seen = server.seen();
                let got = got?;
                seen?;
                if got == size {
                    Ok(format!("a packet of {mtu} bytes (MTU of eth0) passed"))
                } else {
                    Err(format!("{size} bytes sent, {got} received"))
                }
            });
            report.result(net, "mtu", r);
        }
        (Ok(Err(e)), _) => report.add(net, "mtu", Outcome::Fail, e.to_string()),
        (Err(e), _) => report.add(net, "mtu", Outcome::Fail, e.to_string()),
        (_, None) => {}
    }
    // A published port reaches run a from the host, which the server sees as the client.
    if interrupted() {
        return;
    }
    if let Some(port) = s.runs[0]
        .rt
        .capability_args
        .get("portMappings")
        .and_then(|m| m[0]["hostPort"].as_u64())
    {
        if gateways.is_empty() {
            report.add(
                net,
                "published port",
                Outcome::Info,
                "no gateway: the host side of the link has no address to connect to",
            );
        }
        // Over each family the host side has an address of (IPv6 too when configured).
        for gw in &gateways {
            let (check, bind) = if gw.is_ipv4() {
                (
                    "published port",
                    SocketAddr::from(([0, 0, 0, 0], PUBLISHED_PORT)),
                )
            } else {
                (
                    "published port6",
                    SocketAddr::from(([0u16; 8], PUBLISHED_PORT)),
                )
            };
            let to = SocketAddr::new(*gw, port as u16);
            let r = probe::tcp_server(s.runs[0].path.clone(), bind).and_then(|server| {
                let said = probe::tcp_client(None, to);
                let seen = server.seen();
                let said = said?;
                let seen = seen?;
                if seen.peer.ip() != seen.client.ip() {
                    return Err(format!(
                        "the server saw {} but the client is {}",
                        seen.peer, seen.client
                    ));
                }
                Ok(format!(
                    "host → {to} → run a:{PUBLISHED_PORT}, client {said} seen as itself"
                ))
            });
            report.result(net, check, r);
        }
    }
}

/// Whether the first run of each network reaches the first run of every other one.
fn check_isolation(subjects: &[Subject], expect_isolated: bool, report: &mut Report) {
    for (i, a) in subjects.iter().enumerate() {
        for b in subjects.iter().skip(i + 1) {
            if a.runs[0].result.is_none() || b.runs[0].result.is_none() {
                continue;
            }
            let Some(addr) = b.addrs(0).into_iter().next() else {
                continue;
            };
            let target = SocketAddr::new(addr, PROBE_PORT);
            let reached = probe::tcp_server(b.runs[0].path.clone(), target)
                .and_then(|server| {
                    let r = probe::tcp_client(Some(&a.runs[0].path), target);
                    let _ = server.seen();
                    r
                })
                .is_ok();
            let label = format!("{}+{}", a.list.name, b.list.name);
            let (outcome, detail) = match (reached, expect_isolated) {
                (true, true) => (
                    Outcome::Fail,
                    format!("{target} is reachable (--expect-isolated)"),
                ),
                (true, false) => (Outcome::Info, format!("reach each other ({target})")),
                (false, _) => (Outcome::Pass, format!("isolated: {target} unreachable")),
            };
            report.add(&label, "isolation", outcome, detail);
        }
    }
}

/// DELs, deletes the namespaces and the records; each failure is a check.
fn tear_down(ctx: &Context, subjects: &mut [Subject], report: &mut Report) {
    for s in subjects.iter_mut() {
        for run in s.runs.iter_mut().rev() {
            let mut errors = Vec::new();
            if run.added {
                if let Err(e) = ctx.cni.del_network_list(&s.list, &run.rt) {
                    errors.push(format!("DEL: {e:#}"));
                }
            }
            // Nothing of smoke's own runs in the namespace (its probes are threads): a
            // process there was started by a plugin and outlived DEL.
            if run.created {
                let left: Vec<String> = netns::identify(&run.path)
                    .map(netns::processes_in)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|pid| {
                        let comm =
                            fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                        format!("{pid} ({})", comm.trim())
                    })
                    .collect();
                if !left.is_empty() {
                    report.add(
                        &s.list.name,
                        "left behind",
                        Outcome::Fail,
                        format!(
                            "process(es) {} still in the run's namespace, killed",
                            left.join(", ")
                        ),
                    );
                }
                kill_namespace_processes(&run.path);
            }
            if run.created && errors.is_empty() {
                if let Err(e) = netns::delete(&ctx.netns_dir, &run.name) {
                    errors.push(format!("deleting the namespace: {e}"));
                }
            }
            if errors.is_empty() {
                let _ = fs::remove_file(&run.record);
            } else {
                report.add(
                    &s.list.name,
                    "teardown",
                    Outcome::Fail,
                    format!(
                        "{} (record {} kept: run `{}`)",
                        errors.join("; "),
                        run.record.display(),
                        super::gc_command(ctx)
                    ),
                );
            }
        }
    }
}

/// Whether SIGINT, SIGTERM or SIGHUP came (see [`crate::interrupt`]): the plugin call under
/// way was stopped, and smoke goes on to the teardown.
fn interrupted() -> bool {
    crate::interrupt::received().is_some()
}

/// Escapes text for XML attributes and content.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The checks as JUnit XML: a suite per network, a test case per check; failures as
/// `<failure>`, findings and shared state as `<system-out>`.
fn junit(rows: &[CheckRow]) -> String {
    let mut suites: Vec<(&str, Vec<&CheckRow>)> = Vec::new();
    for r in rows {
        match suites.iter_mut().find(|(n, _)| *n == r.network) {
            Some((_, v)) => v.push(r),
            None => suites.push((&r.network, vec![r])),
        }
    }
    let fails = |v: &[&CheckRow]| v.iter().filter(|r| r.outcome == Outcome::Fail).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"cnitool smoke\" tests=\"{}\" failures=\"{}\">\n",
        rows.len(),
        rows.iter().filter(|r| r.outcome == Outcome::Fail).count()
    ));
    for (name, cases) in &suites {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
            xml(name),
            cases.len(),
            fails(cases)
        ));
        for c in cases {
            out.push_str(&format!(
                "    <testcase classname=\"smoke.{}\" name=\"{}\">",
                xml(name),
                xml(&c.check)
            ));
            match c.outcome {
                Outcome::Fail => {
                    out.push_str(&format!("<failure message=\"{}\"/>", xml(&c.detail)))
                }
                _ => out.push_str(&format!(
                    "<system-out>{}: {}</system-out>",
                    c.outcome,
                    xml(&c.detail)
                )),
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Runs `smoke`: exit 0 when every check passed, 3 when one failed.
pub fn run(args: SmokeArgs, ctx: &Context) -> Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        return Err(crate::usage!(
            "smoke needs root: it creates network namespaces and runs the plugins on the host \
             (rootless networks are not covered); run it with sudo"
        ));
    }
    let lists = networks(&args, ctx)?;
    let shared = snapshot::Shared::of(&lists);
    let before = snapshot::take(&lists, ctx.cni.cache().dir());
    let mut report = Report::new(ctx.output);
    let progress = std::io::stderr().is_terminal() && !ctx.quiet;
    let mut subjects = Vec::new();
    let mut setup_error = None;
    for list in lists.iter().cloned() {
        if interrupted() {
            break;
        }
        if progress {
            crate::diag!("smoke: attaching {:?} to two runs", list.name);
        }
        match set_up(ctx, list, &mut report) {
            Ok(s) => subjects.push(s),
            Err(e) => {
                setup_error = Some(e);
                break;
            }
        }
    }
    if setup_error.is_none() {
        for s in subjects.iter().take_while(|_| !interrupted()) {
            if progress {
                crate::diag!("smoke: probing {:?}", s.list.name);
            }
            check_network(s, &mut report);
        }
        if !interrupted() {
            check_isolation(&subjects, args.expect_isolated, &mut report);
        }
    }
    if progress {
        crate::diag!("smoke: tearing down");
    }
    tear_down(ctx, &mut subjects, &mut report);
    if let Some(e) = setup_error {
        return Err(e);
    }
    if let Some(sig) = crate::interrupt::received() {
        let left = report.rows.iter().any(|r| r.check == "teardown");
        crate::diag!(
            "error: interrupted by {}; {}",
            sig.as_str(),
            if left {
                "the teardown failed (see above)"
            } else {
                "everything smoke made was torn down"
            }
        );
        return Ok(ExitCode::from(crate::interrupt::exit_status()));
    }
    let after = snapshot::take(&lists, ctx.cni.cache().dir());
    for tool in after.missing_tools() {
        report.add("host", "left behind", Outcome::Info, tool);
    }
    let (leaks, by_design) = snapshot::diff(&before, &after, &shared);
    for l in &leaks {
        report.add("host", "left behind", Outcome::Fail, l.clone());
    }
    for l in &by_design {
        report.add("host", "left by design", Outcome::Shared, l.clone());
    }
    if leaks.is_empty() {
        report.add("host", "left behind", Outcome::Pass, "nothing");
    }
    let failed = report.failed();
    if ctx.output == Some(Output::Json) {
        let checks: Vec<Value> = report
            .rows
            .iter()
            .map(|r| {
                json!({"network": r.network, "check": r.check,
                       "result": r.outcome.to_string().to_lowercase(), "detail": r.detail})
            })
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"ok": !failed, "checks": checks}))?
        )?;
    }
    if let Some(path) = &args.junit {
        fs::write(path, junit(&report.rows))
            .with_context(|| format!("writing the JUnit report {}", path.display()))?;
    }
    if !ctx.quiet {
        let n = |o| report.rows.iter().filter(|r| r.outcome == o).count();
        crate::diag!(
            "smoke: {} passed, {} failed, {} finding(s), {} left by design",
            n(Outcome::Pass),
            n(Outcome::Fail),
            n(Outcome::Info),
            n(Outcome::Shared)
        );
    }
    Ok(if failed {
        Exit::Config.into()
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_membership() {
        let net = |s: &str| {
            let (a, p) = s.split_once('/').unwrap();
            (a.parse().unwrap(), p.parse().unwrap())
        };
        assert!(contains(net("10.1.0.0/24"), "10.1.0.9".parse().unwrap()));
        assert!(!contains(net("10.1.0.0/24"), "10.1.1.9".parse().unwrap()));
        assert!(contains(net("fd00::/64"), "fd00::5".parse().unwrap()));
        assert!(!contains(net("fd00::/64"), "10.1.0.9".parse().unwrap()));
        assert!(contains(net("0.0.0.0/0"), "1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn junit_escapes_and_counts() {
        let rows = vec![
            CheckRow {
                network: "n".into(),
                check: "tcp a→b".into(),
                outcome: Outcome::Fail,
                detail: "x <y> & \"z\"".into(),
            },
            CheckRow {
                network: "n".into(),
                check: "gateway".into(),
                outcome: Outcome::Pass,
                detail: "ok".into(),
            },
        ];
        let x = junit(&rows);
        assert!(x.contains("<testsuites name=\"cnitool smoke\" tests=\"2\" failures=\"1\">"));
        assert!(x.contains("<failure message=\"x &lt;y&gt; &amp; &quot;z&quot;\"/>"));
        assert!(x.contains("<system-out>pass: ok</system-out>"));
    }
}
