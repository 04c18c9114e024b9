//! What every engine must do: one function per scenario, each run by one test per engine in
//! a throwaway host of its own, with the engine started there ([`run`]). Each scenario ends
//! with nothing left: no container, no cnitool file, and the host as the baseline had it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use testsupport::snapshot::Snapshot;

use crate::host::PORTMAP_SHARED_CHAINS;
use crate::util::*;

/// The test network's first three octets.
const SUBNET: &str = "10.194.1";

/// One engine under test, ready in its throwaway host.
#[derive(Debug)]
pub struct Engine<'a> {
    pub env: &'a Env,
    /// `docker` or `podman`.
    pub kind: &'static str,
    /// Options every `run` needs on this machine (podman: runc's ulimits).
    pub run_opts: &'a [&'a str],
    /// The network's first three octets, e.g. `10.194.1`.
    pub subnet: &'static str,
    /// The host after the warm-up: what every scenario must leave.
    baseline: Snapshot,
}

/// Runs `scenario` with the engine whose client `env` names, which must be up: imports the
/// busybox image from `tar`, writes the network `tnet` (bridge `cnitest0`, host-local,
/// portmap), runs a warm-up (`cnitool run -p` without the engine: the bridge and portmap's
/// shared chains are made, as they stay by design), takes the host's baseline, then runs it.
pub fn run(
    env: &Env,
    tar: &Path,
    kind: &'static str,
    run_opts: &[&str],
    scenario: fn(&Engine<'_>),
) {
    env.engine_ok(&["import", tar.to_str().unwrap(), "busybox:latest"]);
    env.bridge_portmap_net("tnet", "cnitest0", &format!("{SUBNET}.0/24"));
    let out = env.run(&["run", "--net", "tnet", "-p", "8080:80", "--", "true"]);
    assert!(out.status.success(), "the warm-up run: {}", show(&out));
    let baseline = crate::host::take(env);
    assert_eq!(
        baseline.cni_chains(),
        PORTMAP_SHARED_CHAINS,
        "after the warm-up, only portmap's shared chains: {baseline:#?}"
    );
    let e = Engine {
        env,
        kind,
        run_opts,
        subnet: SUBNET,
        baseline,
    };
    e.env.assert_no_cnitool_state();
    scenario(&e);
}

impl Engine<'_> {
    /// `cnitool container run ... --net tnet [EXTRA] -- --rm RUN_OPTS ARGS`.
    fn run_cmd(&self, extra: &[&str], args: &[&str]) -> std::process::Command {
        let mut all = vec!["--net", "tnet"];
        all.extend_from_slice(extra);
        all.extend(["--", "--rm"]);
        all.extend_from_slice(self.run_opts);
        all.extend_from_slice(args);
        self.env.container("run", self.kind, &all)
    }

    /// The engine's containers, running or not.
    fn containers(&self) -> Vec<String> {
        self.env
            .engine_ok(&["ps", "-a", "-q"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The host now.
    fn host(&self) -> Snapshot {
        crate::host::take(self.env)
    }

    /// Asserts that the host is as the baseline had it.
    fn assert_host_clean(&self) {
        if let Some(diff) = self.host().diff(&self.baseline) {
            panic!("the host differs from its baseline:\n{diff}");
        }
    }

    /// Asserts that the host has what one attachment to `tnet` adds, and nothing else of a
    /// kind the final check looks at: the host end of one veth and one lease.
    fn assert_one_attachment(&self) {
        let now = self.host();
        let links = now.added(&self.baseline, "links");
        assert!(
            links.len() == 1 && links[0].starts_with("veth"),
            "one new veth on the host: {links:?}"
        );
        let leases = now.added(&self.baseline, "host-local allocations");
        assert!(
            leases.len() == 1 && leases[0].starts_with(&format!("tnet/{}.", self.subnet)),
            "one lease: {leases:?}"
        );
    }

    fn assert_nothing_left(&self) {
        wait_until(
            "the engine to remove the containers",
            Duration::from_secs(20),
            || self.containers().is_empty(),
        );
        self.env.assert_no_cnitool_state();
        self.assert_host_clean();
    }
}

/// Starts `container run ... sleep 1000` and returns it once the container runs.
fn start_sleeper(e: &Engine<'_>, extra: &[&str]) -> std::process::Child {
    let child = e
        .run_cmd(extra, &["busybox", "sleep", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let records = e.env.cache_dir.join("cnitool-containers");
    wait_until("the container to run", Duration::from_secs(30), || {
        let Some(f) = std::fs::read_dir(&records).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "cid"))
        }) else {
            return false;
        };
        let cid = std::fs::read_to_string(f).unwrap_or_default();
        !cid.is_empty()
            && e.env
                .engine_cmd(&["inspect", "--format", "{{.State.Running}}", &cid])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true")
    });
    // Running is also when the client passes signals on: `docker run` and `podman run` both
    // install their signal proxy before they start the container (docker between create
    // and start, podman before StartAndAttach), so a container the engine reports running
    // has a client that forwards. (The client's SigCgt in /proc tells nothing here: the Go
    // runtime catches SIGTERM from its first instruction, proxy or not.) The wrapper's own
    // handler is in place before it makes anything.
    e.assert_one_attachment();
    child
}

/// The wrapper is SIGKILLed: its engine client dies with it, the container and the networks
/// stay; `gc` sees the wrapper gone and kills the container, DELs, removes the rest.
pub fn gc_after_the_wrapper_was_killed(e: &Engine<'_>) {
    let mut child = start_sleeper(e, &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    // docker: and the pause container.
    let containers = if e.kind == "docker" { 2 } else { 1 };
    assert_eq!(e.containers().len(), containers);
    e.assert_one_attachment();
    let out = e.env.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cleaned up container run of pid"),
        "{}",
        show(&out)
    );
    e.assert_nothing_left();
}

/// The container has its CNI address, gets its arguments exactly (spaces kept, no shell in
/// between), and its exit status is the wrapper's.
pub fn address_status_and_arguments(e: &Engine<'_>) {
    let script = r#"ip -o -4 addr show eth0; printf '[%s]' "$@"; echo; exit 7"#;
    let out = e
        .run_cmd(
            &[],
            &["busybox", "sh", "-c", script, "sh", "a b", " c ", "*"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("inet {}.", e.subnet)),
        "{}",
        show(&out)
    );
    assert!(stdout.contains("[a b][ c ][*]"), "{}", show(&out));
    e.assert_nothing_left();
}

/// A missing image: the engine's own message reaches the user, the exit code is the engine's
/// (125), and everything set up before (namespace, networks) is undone.
pub fn missing_image_leaves_nothing(e: &Engine<'_>) {
    let out = e
        .run_cmd(&[], &["--pull", "never", "cnitool-no-such-image", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    let expected = match e.kind {
        "docker" => "no such image",
        _ => "image not known",
    };
    assert!(stderr.contains(expected), "{}", show(&out));
    e.assert_nothing_left();
}

/// docker: a missing pause image fails before anything is made (exit 125, docker's message).
pub fn missing_pause_image_leaves_nothing(e: &Engine<'_>) {
    let out = e
        .run_cmd(&["--pause-image", "cnitool-no-pause"], &["busybox", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"cnitool-no-pause\" is not present locally")
            && stderr.contains("No such image"),
        "{}",
        show(&out)
    );
    e.assert_nothing_left();
}

/// `-p 8080:80` goes through portmap: the host side (the test's namespace) reaches a server
/// in the container on the bridge's address.
pub fn published_port_reaches_the_container(e: &Engine<'_>) {
    let mut child = e
        .run_cmd(
            &["-p", "8080:80"],
            &[
                "busybox",
                "sh",
                "-c",
                "echo hello-from-container | nc -l -p 80",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The mapping is in place once portmap's chain for this container is there.
    wait_until("portmap's DNAT chain", Duration::from_secs(30), || {
        e.host()
            .cni_chains()
            .iter()
            .any(|c| c.starts_with("CNI-DN-"))
    });
    e.assert_one_attachment();
    let addr: SocketAddr = format!("{}.1:8080", e.subnet).parse().unwrap();
    let line = read_line_from(addr);
    assert_eq!(line, "hello-from-container\n");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the container with the server did not end");
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    e.assert_nothing_left();
}

/// SIGTERM to the wrapper goes to the container; one that ignores it (a shell-less `sleep` as
/// PID 1) is killed after --stop-timeout, and everything is torn down.
pub fn sigterm_to_the_wrapper_cleans_up(e: &Engine<'_>) {
    let child = start_sleeper(e, &["--stop-timeout", "1"]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not stop"),
        "{}",
        show(&out)
    );
    e.assert_nothing_left();
}

/// A running container is attached and detached; attached again, then removed behind the
/// tool's back, `gc` cleans up.
pub fn attach_detach_and_gc(e: &Engine<'_>) {
    let mut args = vec!["run", "-d", "--name", "web", "--network", "none"];
    args.extend_from_slice(e.run_opts);
    args.extend(["busybox", "sleep", "1000"]);
    e.env.engine_ok(&args);
    let addr_in_web = || {
        e.env
            .engine_cmd(&["exec", "web", "ip", "-o", "-4", "addr", "show"])
            .output()
            .unwrap()
    };

    let out = e
        .env
        .container("attach", e.kind, &["web", "--net", "tnet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let inside = String::from_utf8_lossy(&addr_in_web().stdout).into_owned();
    assert!(inside.contains(&format!("inet {}.", e.subnet)), "{inside}");
    e.assert_one_attachment();

    let again = e
        .env
        .container("attach", e.kind, &["web", "--net", "tnet"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(5),
        "a state conflict: {}",
        show(&again)
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already attached"),
        "{}",
        show(&again)
    );

    let out = e
        .env
        .container("detach", e.kind, &["web"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let inside = String::from_utf8_lossy(&addr_in_web().stdout).into_owned();
    assert!(!inside.contains(e.subnet), "{inside}");
    e.env.assert_no_cnitool_state();
    e.assert_host_clean();

    let out = e
        .env
        .container("attach", e.kind, &["web", "--net", "tnet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let rm: &[&str] = match e.kind {
        "podman" => &["rm", "-f", "-t", "0", "web"],
        _ => &["rm", "-f", "web"],
    };
    e.env.engine_ok(rm);
    let out = e.env.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cleaned up"),
        "{}",
        show(&out)
    );
    e.assert_nothing_left();
}

/// `container run --name`: while the container runs, a run on the network resolves the
/// container's name, which goes when it ends; the container resolves a named run on its
/// network (its hosts file, mounted over /etc/hosts, lists it, with --add-host entries).
pub fn names_between_a_container_and_a_run(e: &Engine<'_>) {
    let names = |name: &str| name_address(e, name);
    // The container's name, resolved by a run while it runs (the container is the only
    // attachment then).
    let child = start_sleeper(e, &["--name", "box", "--stop-timeout", "1"]);
    let box_addr = names("box");
    assert!(box_addr.starts_with(e.subnet), "{box_addr:?}");
    let out = e
        .env
        .run(&["run", "--net", "tnet", "--", "getent", "hosts", "box.tnet"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next(),
        Some(box_addr.as_str()),
        "{}",
        show(&out)
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait_with_output().unwrap();
    assert_eq!(names("box"), "");
    let mut web = start_named_run(e, "web");
    let web_addr = names("web");
    let out = e
        .run_cmd(
            &["--name", "box", "--add-host", "db:10.9.9.9"],
            &[
                "busybox",
                "sh",
                "-c",
                "grep -v '^#' /etc/hosts; ping -c 1 -W 5 web.tnet >/dev/null && echo pinged",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{web_addr}\tweb.tnet web\n")),
        "{}",
        show(&out)
    );
    assert!(
        stdout.contains("10.9.9.9\tdb\n") && stdout.ends_with("pinged\n"),
        "{}",
        show(&out)
    );

    drop(web.stdin.take());
    assert!(web.wait().unwrap().success());
    e.assert_nothing_left();
}

/// The address `cnitool names -o json` gives for NAME on `tnet`, or "" when it is not named.
fn name_address(e: &Engine<'_>, name: &str) -> String {
    let out = e.env.run(&["-o", "json", "names", "tnet"]);
    assert!(out.status.success(), "{}", show(&out));
    testsupport::image::name_address(&out.stdout, name)
}

/// `cnitool run --net tnet -- getent hosts NAME`: the first address, or "" when unknown.
fn resolved_by_a_run(e: &Engine<'_>, name: &str) -> String {
    let out = e
        .env
        .run(&["run", "--net", "tnet", "--", "getent", "hosts", name]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A named run on `tnet` that lives until its stdin closes.
fn start_named_run(e: &Engine<'_>, name: &str) -> std::process::Child {
    let ready = e.env.base.join(format!("{name}.ready"));
    let _ = std::fs::remove_file(&ready);
    let child = e
        .env
        .cmd(&[
            "run",
            "--name",
            name,
            "--net",
            "tnet",
            "--",
            "sh",
            "-c",
            &format!("touch {}; read x || true", ready.display()),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the named run to start", Duration::from_secs(30), || {
        ready.exists()
    });
    child
}

/// `container attach --name`: the engine's /etc/hosts of the running container gets the
/// names on its network after its own lines (a read-only one is refused before anything is
/// made); a run resolves and reaches the container by name, the container resolves a named
/// run; a name held by a run is refused to the container and the other way round, naming
/// the holder; `detach` leaves the engine's file as it was, and `gc` withdraws the names of
/// a container removed behind the tool's back.
pub fn attach_with_names(e: &Engine<'_>) {
    let rm: &[&str] = match e.kind {
        "podman" => &["rm", "-f", "-t", "0"],
        _ => &["rm", "-f"],
    };
    let start = |name: &str, extra: &[&str], cmd: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
        args.extend_from_slice(extra);
        args.extend_from_slice(e.run_opts);
        args.push("busybox");
        args.extend_from_slice(cmd);
        e.env.engine_ok(&args);
    };
    let attach = |args: &[&str]| e.env.container("attach", e.kind, args).output().unwrap();
    let hosts_of = |name: &str| e.env.engine_ok(&["exec", name, "cat", "/etc/hosts"]);

    // A read-only /etc/hosts: refused before any plugin runs.
    let ro = e.env.base.join("ro-hosts");
    std::fs::write(&ro, "127.0.0.1\tlocalhost\n").unwrap();
    let volume = format!("{}:/etc/hosts:ro", ro.display());
    start("ro", &["-v", &volume], &["sleep", "1000"]);
    let out = attach(&["ro", "--net", "tnet", "--name", "ro"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("its /etc/hosts (/proc/") && stderr.contains("cannot be written"),
        "{}",
        show(&out)
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    e.env.assert_no_cnitool_state();
    e.assert_host_clean();
    let mut args = rm.to_vec();
    args.push("ro");
    e.env.engine_ok(&args);

    start(
        "web",
        &[],
        &[
            "sh",
            "-c",
            "echo hello-from-web | nc -l -p 80; exec sleep 1000",
        ],
    );
    let engine_hosts = hosts_of("web");
    let mut peer = start_named_run(e, "peer");
    let peer_addr = name_address(e, "peer");

    // The name of a live run: refused, naming the run; nothing is made.
    let out = attach(&["web", "--net", "tnet", "--name", "peer"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("name \"peer\" is taken on network \"tnet\" by the run of pid"),
        "{}",
        show(&out)
    );
    assert_eq!(hosts_of("web"), engine_hosts);
    assert!(
        std::fs::read_dir(e.env.cache_dir.join("cnitool-containers"))
            .map(|rd| rd.count() == 0)
            .unwrap_or(true)
    );

    let out = attach(&[
        "web",
        "--net",
        "tnet",
        "--name",
        "box",
        "--alias",
        "boxy",
        "--add-host",
        "db:10.9.9.9",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let box_addr = name_address(e, "box");
    assert!(box_addr.starts_with(e.subnet), "{box_addr:?}");
    // The container's file: the engine's lines, ours after them.
    let hosts = hosts_of("web");
    assert!(hosts.starts_with(&engine_hosts), "{hosts}");
    for line in [
        "10.9.9.9\tdb\n".to_owned(),
        format!("{peer_addr}\tpeer.tnet peer\n"),
        format!("{box_addr}\tbox.tnet box boxy\n"),
    ] {
        assert!(hosts.contains(&line), "{line:?} in {hosts}");
    }
    let out = e
        .env
        .engine_cmd(&["exec", "web", "sh", "-c", "ping -c 1 -W 5 peer.tnet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the container pings the run: {}",
        show(&out)
    );
    // A run resolves the container, and reaches it by name.
    assert_eq!(resolved_by_a_run(e, "boxy"), box_addr);
    let out = e.env.run(&[
        "run",
        "--net",
        "tnet",
        "--",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/box.tnet/80; head -n 1 <&3",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello-from-web\n",
        "{}",
        show(&out)
    );
    // The container's name: refused to a run, naming the container.
    let out = e
        .env
        .run(&["run", "--name", "boxy", "--net", "tnet", "--", "true"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("by container \"web\" (pid"),
        "{}",
        show(&out)
    );

    // The run ends: its name goes from the container's file.
    drop(peer.stdin.take());
    assert!(peer.wait().unwrap().success());
    wait_until(
        "the run's name to leave the container's file",
        Duration::from_secs(10),
        || !hosts_of("web").contains("peer"),
    );

    let out = e
        .env
        .container("detach", e.kind, &["web"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        hosts_of("web"),
        engine_hosts,
        "the engine's file, as it was"
    );
    assert_eq!(name_address(e, "box"), "");
    assert_eq!(resolved_by_a_run(e, "box.tnet"), "");
    e.env.assert_no_cnitool_state();
    e.assert_host_clean();

    // Attached again, then removed behind the tool's back: its names no longer count, and
    // gc withdraws them from the files of the live runs.
    let out = attach(&["web", "--net", "tnet", "--name", "box"]);
    assert!(out.status.success(), "{}", show(&out));
    let mut peer = start_named_run(e, "peer");
    // The run's own hosts file, beside its record.
    let runs = e.env.cache_dir.join("cnitool-runs");
    let peer_hosts = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .find(|p| p.extension().is_some_and(|x| x == "hosts"))
        .unwrap();
    let box_line = format!("{}\tbox.tnet box\n", name_address(e, "box"));
    let peer_sees = || std::fs::read_to_string(&peer_hosts).unwrap();
    assert!(peer_sees().contains(&box_line), "{}", peer_sees());
    let mut args = rm.to_vec();
    args.push("web");
    e.env.engine_ok(&args);
    assert_eq!(name_address(e, "box"), "");
    let out = e.env.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cleaned up"),
        "{}",
        show(&out)
    );
    assert!(!peer_sees().contains("box"), "{}", peer_sees());
    assert_eq!(resolved_by_a_run(e, "box.tnet"), "");
    drop(peer.stdin.take());
    assert!(peer.wait().unwrap().success());
    e.assert_nothing_left();
}

/// `container run --dns/--dns-search/--dns-option` write the container's /etc/resolv.conf
/// on a network without the `dns` capability; on one whose plugin declares it, the plugin
/// gets them too, and without flags the results' DNS is the container's.
pub fn dns_flags_in_the_resolv_conf(e: &Engine<'_>) {
    let flags = [
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
    ];
    let resolv = |net: &str, flags: &[&str]| -> String {
        let mut args = vec!["--net", net];
        args.extend_from_slice(flags);
        args.extend(["--", "--rm"]);
        args.extend_from_slice(e.run_opts);
        args.extend(["busybox", "cat", "/etc/resolv.conf"]);
        let out = e.env.container("run", e.kind, &args).output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
        // Without comments, one line.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let ours = "nameserver 192.0.2.53; search example.test; options ndots:3";
    // tnet: no plugin takes the dns capability.
    let text = resolv("tnet", &flags);
    assert!(text.starts_with(ours), "{text}");
    // Without flags or DNS in the results: the engine's file.
    assert!(!resolv("tnet", &[]).contains("192.0.2.53"));
    e.assert_nothing_left();

    // dnet: a plugin takes it, and puts DNS settings of its own in the result.
    e.env
        .dns_probe_net("dnet", "cnitest0", &format!("{}.0/24", e.subnet));
    let text = resolv("dnet", &flags);
    assert!(
        text.starts_with(ours),
        "the flags over the results' DNS: {text}"
    );
    let log = std::fs::read_to_string(e.env.base.join("dnsprobe.log")).unwrap();
    assert!(
        log.contains(
            r#"ADD {"dns":{"options":["ndots:3"],"searches":["example.test"],"servers":["192.0.2.53"]}}"#
        ),
        "{log}"
    );
    assert_eq!(
        resolv("dnet", &[]),
        "nameserver 192.0.2.99; search probe.test",
        "without flags, the results' DNS"
    );
    e.assert_nothing_left();
}
