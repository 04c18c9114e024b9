//! The scenarios rootless podman and rootless docker containers share (`podman.rs`,
//! `docker.rs` run them with their engine): names both ways between a container and a
//! rootless run, a published port, and `container attach`/`detach`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::podman::name_addr;
use crate::util::{wait_out, Bg, Out, Rl};

/// What the scenarios need of an engine set up for the test user.
pub(crate) trait Engine {
    /// The busybox image's name in the engine.
    fn image(&self) -> &str;
    /// `cnitool container run --engine E CNITOOL -- ENGINE` as the user.
    fn run(&self, rl: &Rl, cnitool: &[&str], engine: &[&str]) -> Command;
    /// The engine's containers, running or not.
    fn containers(&self, rl: &Rl) -> Vec<String>;
    /// How many containers one `container run` keeps while it runs (docker: with its pause
    /// container).
    fn per_run(&self) -> usize;
    /// The engine's name (`--engine`).
    fn name(&self) -> &str;
    /// `ENGINE ARGS` (the engine's client with its global options) as the user, waited for.
    fn engine(&self, rl: &Rl, args: &[&str]) -> Out;
    /// `cnitool CONTAINER_VERB ... ARGS` as the user: `--engine` and the engine's options
    /// after the verb (`container attach`), then `args`.
    fn container(&self, rl: &Rl, verb: &[&str], args: &[&str]) -> Command;
    /// The engine's arguments that remove a running container at once.
    fn remove(&self) -> Vec<&'static str>;
}

/// A container on the built-in network next to a rootless run: each resolves the other by
/// name (hosts files kept current), the container pings the run by name; the container's
/// address is on the shared network; no container is left afterwards.
pub(crate) fn names_with_a_run(rl: &Rl, e: &dyn Engine) {
    // The run "web": says it is up, then waits for its stdin to close.
    let mut web = rl.cmd([
        "run",
        "--name",
        "web",
        "--",
        "sh",
        "-c",
        "echo up; read x || true",
    ]);
    web.stdin(Stdio::piped());
    let mut web = Bg::spawn(web);
    assert_eq!(web.expect_line(), "up");
    let web_addr = name_addr(rl, "cnitool", "web");
    assert!(web_addr.starts_with("10.231."), "{web_addr:?}");

    // The container "box": its hosts file shows web, it pings web by name, then waits for
    // its stdin (-i passes ours) to close.
    let mut boxed = e.run(
        rl,
        &["--name", "box"],
        &[
            "--rm",
            "-i",
            e.image(),
            "sh",
            "-c",
            "grep -v '^#' /etc/hosts | grep web; ip -4 -o addr show eth0 | \
             grep -o 'inet [0-9.]*'; ping -c 1 -W 5 web >/dev/null && echo pinged; \
             echo ready; read x; echo bye",
        ],
    );
    boxed.stdin(Stdio::piped());
    let mut boxed = Bg::spawn(boxed);
    assert_eq!(boxed.expect_line(), format!("{web_addr}\tweb.cnitool web"));
    let box_addr = boxed.expect_line();
    let box_addr = box_addr
        .strip_prefix("inet ")
        .unwrap_or(&box_addr)
        .to_owned();
    assert!(box_addr.starts_with("10.231."), "{box_addr:?}");
    assert_eq!(boxed.expect_line(), "pinged");
    assert_eq!(boxed.expect_line(), "ready");
    assert_eq!(name_addr(rl, "cnitool", "box"), box_addr);
    assert_eq!(e.containers(rl).len(), e.per_run());

    // The run sees the container's name in its hosts file, updated in place.
    let out = rl
        .run(["run", "--", "sh", "-c", "grep -w box /etc/hosts"])
        .ok();
    assert_eq!(out.stdout, format!("{box_addr}\tbox.cnitool box\n"));

    drop(boxed.child.stdin.take());
    assert_eq!(boxed.expect_line(), "bye");
    boxed.finish_code(0);
    assert_eq!(name_addr(rl, "cnitool", "box"), "");
    assert_eq!(e.containers(rl), Vec::<String>::new());
    drop(web.child.stdin.take());
    web.finish_code(0);
}

/// `-p 18080:80`: a client on the host's loopback reaches the container's server through
/// cnitool's uplink and portmap (not the engine's own port forwarding); the server sees
/// 10.0.2.2 (slirp4netns's host address), never 127.0.0.1.
pub(crate) fn published_port(rl: &Rl, e: &dyn Engine) {
    let mut server = e.run(
        rl,
        &["-p", "18080:80"],
        &[
            "--rm",
            "-i",
            e.image(),
            "sh",
            "-c",
            "httpd -p 80 -h /www && echo ready; read x || true",
        ],
    );
    server.stdin(Stdio::piped());
    let mut server = Bg::spawn(server);
    assert_eq!(server.expect_line(), "ready");
    let mut c = TcpStream::connect(("127.0.0.1", 18080)).expect("connecting to the port");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /cgi-bin/peer HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    // httpd listens on both families: the IPv4 client as a mapped address.
    assert!(reply.ends_with("peer=[::ffff:10.0.2.2]\n"), "{reply:?}");
    drop(server.child.stdin.take());
    server.finish_code(0);
    assert_eq!(e.containers(rl), Vec::<String>::new());
}

/// `container attach` of a running container (started by the engine with `--network none`):
/// it gets an address on the shared network, and a rootless run reaches its server, which
/// sees the run's own address (same bridge, no NAT); attaching twice is refused; `detach`
/// takes its interface away and the namespace ends; a second attachment is undone by `gc`
/// once the container is gone (a run keeps the namespace live meanwhile: alone, the idle
/// namespace would be ended by its holder as soon as the container is gone, racing gc).
pub(crate) fn attach_and_detach(rl: &Rl, e: &dyn Engine) {
    let image = e.image().to_owned();
    let started = e.engine(
        rl,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "web",
            &image,
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    assert_eq!(started.code(), 0, "{started:#?}");
    let attach = || {
        wait_out(
            e.container(rl, &["-o", "json", "container", "attach"], &["web"])
                .spawn()
                .unwrap(),
        )
    };
    let out = attach();
    assert_eq!(out.code(), 0, "{out:#?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let addr = v["attachments"][0]["result"]["ips"][0]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(addr.starts_with("10.231."), "{out:#?}");
    attach().fails_with("container web is already attached");

    let out = rl
        .run([
            "run",
            "--",
            "sh",
            "-c",
            &format!(
                "ip -4 -o addr show eth0 | grep -o 'inet [0-9.]*'; \
                 busybox wget -q -O - http://{addr}/cgi-bin/peer"
            ),
        ])
        .ok();
    let mut lines = out.stdout.lines();
    let me = lines
        .next()
        .unwrap()
        .strip_prefix("inet ")
        .unwrap()
        .to_owned();
    assert_eq!(
        lines.next(),
        Some(format!("peer=[::ffff:{me}]").as_str()),
        "{out:#?}"
    );

    let detach = || {
        wait_out(
            e.container(rl, &["container", "detach"], &["web"])
                .spawn()
                .unwrap(),
        )
    };
    let out = detach();
    assert_eq!(out.code(), 0, "{out:#?}");
    assert!(
        out.stdout
            .starts_with(&format!("detached {} container web (", e.name()))
            && out.stdout.lines().count() == 1,
        "{out:#?}"
    );
    let links = e.engine(rl, &["exec", "web", "ip", "-o", "link"]);
    assert_eq!(links.code(), 0, "{links:#?}");
    assert!(!links.stdout.contains("eth0"), "{links:#?}");
    rl.wait_until(
        "the shared namespace to end",
        Duration::from_secs(10),
        || rl.generations().is_empty(),
    );
    detach().fails_with("container \"web\" is not attached");

    let mut keep = crate::util::live_run(rl);
    assert_eq!(attach().code(), 0);
    let mut rm = e.remove();
    rm.push("web");
    let removed = e.engine(rl, &rm);
    assert_eq!(removed.code(), 0, "{removed:#?}");
    let out = rl.run(["gc"]).ok();
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("removed its attachments"),
        "{out:#?}"
    );
    drop(keep.child.stdin.take());
    keep.finish_code(0);
    rl.wait_until(
        "the shared namespace to end",
        Duration::from_secs(10),
        || rl.generations().is_empty(),
    );
}
