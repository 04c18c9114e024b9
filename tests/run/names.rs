//! Names between runs (`run --name`, `--alias`): live runs on a network find each other by
//! name through the hosts file each run gets over `/etc/hosts`; names go when a run ends,
//! or after `gc` when its runner was killed; a name held on a network is refused; networks
//! keep their names apart; `--add-host` reaches the command.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::util::{host_test, is_running, list, wait_for_file, wait_output, Host, Out};

/// How long a run may take to start or to answer.
const LIMIT: Duration = Duration::from_secs(30);

/// A run whose command is a small shell that runs the lines written to its standard input
/// (until it is closed), so the test can ask it things while it lives.
struct Live {
    child: Child,
    answers: PathBuf,
    asked: usize,
}

impl Live {
    /// Starts `cnitool run ARGS -- sh` running `pre` first; returns once `pre` is done.
    fn start(host: &Host, tag: &str, args: &[&str], pre: &str) -> Live {
        let ready = host.path(&format!("{tag}.ready"));
        let script = format!(
            "{pre}\ntouch {}\nwhile read line; do eval \"$line\"; done",
            ready.display()
        );
        let child = host
            .run_cmd(args.iter().copied().chain(["--", "sh", "-c", &script]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning cnitool run");
        let start = std::time::Instant::now();
        while !ready.exists() {
            if !is_running(child.id() as i32) || start.elapsed() > LIMIT {
                let out = wait_output(child, None);
                panic!("run {tag} did not start: {out:#?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Live {
            child,
            answers: host.path(tag),
            asked: 0,
        }
    }

    /// Runs `cmd` in the run's shell: its output and `rc=STATUS`.
    fn ask(&mut self, cmd: &str) -> String {
        self.asked += 1;
        let file = self.answers.with_extension(format!("answer{}", self.asked));
        let f = file.display();
        let line = format!("{{ {cmd} ; }} > {f}.tmp 2>&1; echo rc=$? >> {f}.tmp; mv {f}.tmp {f}\n");
        self.child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        wait_for_file(&file, LIMIT);
        fs::read_to_string(&file).unwrap()
    }

    /// Ends the command (closes its input) and waits for the run.
    fn end(mut self) -> Out {
        drop(self.child.stdin.take());
        wait_output(self.child, None)
    }
}

/// A dual-stack bridge network (IPv4 and IPv6 from host-local).
fn dual_net(host: &Host, name: &str, bridge: &str, v4: &str, v6: &str) {
    let mut plugin = host.bridge_plugin(bridge, v4);
    plugin["ipam"]["ranges"] = json!([[{ "subnet": v4 }], [{ "subnet": v6 }]]);
    plugin["ipam"]["routes"] = json!([]);
    host.netconf(name, &list(name, vec![plugin]));
}

/// The addresses `cnitool names -o json` gives for NAME on NETWORK.
fn addresses_of(host: &Host, network: &str, name: &str) -> Vec<String> {
    let out = host.tool(["-o", "json", "names"]).ok();
    let all: Value = serde_json::from_str(&out.stdout).unwrap();
    let entry = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["network"] == network && e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed on {network}: {}", out.stdout));
    serde_json::from_value(entry["addresses"].clone()).unwrap()
}

/// The first column of each output line but the last (`rc=N`), deduplicated.
fn first_column(answer: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in answer.lines().filter(|l| !l.starts_with("rc=")) {
        let a = l.split_whitespace().next().unwrap().to_owned();
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// `text` with the blanks of each line collapsed to one space.
fn words(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect()
}

/// The listening check of a TCP server on port 7000 (0x1B58), by polling /proc.
const LISTENING: &str =
    "until grep -qE ':1B58 0+:0000 0A' /proc/net/tcp /proc/net/tcp6; do :; done";

#[test]
fn runs_find_each_other_by_name() {
    host_test("runs_find_each_other_by_name", |host| {
        dual_net(host, "n", "br-nm", "10.197.40.0/24", "fd00:197:40::/64");
        let etc_hosts = (
            fs::read("/etc/hosts").unwrap(),
            fs::metadata("/etc/hosts").unwrap().ino(),
        );

        let server = format!("echo hi-from-web | busybox nc -l -p 7000 &\n{LISTENING}");
        let mut web = Live::start(
            host,
            "web",
            &["--name", "web", "--alias", "www", "--net", "n"],
            &server,
        );
        let mut db = Live::start(host, "db", &["--name", "db", "--net", "n"], "true");
        let web_addrs = addresses_of(host, "n", "web");
        let db_addrs = addresses_of(host, "n", "db");
        assert_eq!(web_addrs.len(), 2, "IPv4 and IPv6: {web_addrs:?}");
        assert!(
            web_addrs[0].starts_with("10.197.40.") && web_addrs[1].starts_with("fd00:197:40::")
        );

        // db, started second, resolves web by its name, alias and NAME.NETWORK, both families.
        for name in ["web", "www", "web.n"] {
            let v4 = db.ask(&format!("getent ahostsv4 {name}"));
            assert_eq!(first_column(&v4), [web_addrs[0].clone()], "{name}: {v4}");
            let v6 = db.ask(&format!("getent ahostsv6 {name}"));
            assert_eq!(first_column(&v6), [web_addrs[1].clone()], "{name}: {v6}");
        }
        let tcp = db.ask(&format!("busybox nc {} 7000 </dev/null", "web"));
        assert_eq!(tcp, "hi-from-web\nrc=0\n");
        // web, whose hosts file was written before db started, sees db (updated in place).
        let seen = web.ask("getent ahostsv4 db");
        assert_eq!(first_column(&seen), [db_addrs[0].clone()], "{seen}");
        // Its own hostname (default: the name) resolves to its own addresses.
        let me = web.ask("hostname; getent ahostsv4 $(hostname) | head -n 1");
        assert_eq!(
            words(&me),
            format!("web\n{} STREAM web\nrc=0\n", web_addrs[0])
        );

        // A third run, unnamed, joining later sees both.
        let out = host
            .run(["--net", "n", "--", "sh", "-c", "getent ahostsv4 web db.n"])
            .ok();
        assert_eq!(
            first_column(&format!("{}rc=0", out.stdout)),
            [web_addrs[0].clone(), db_addrs[0].clone()],
            "{out:#?}"
        );

        // The table lists both.
        let table = host.tool(["names", "n"]).ok().stdout;
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 3, "{table}");
        assert!(
            rows[0].starts_with("NETWORK") && rows[1].contains(" db ") && rows[2].contains(" www "),
            "{table}"
        );

        // db ends: its name goes from web's view and from new runs'.
        db.end().ok();
        assert_eq!(web.ask("getent hosts db"), "rc=2\n");
        let out = host.run(["--net", "n", "--", "getent", "hosts", "db"]);
        assert_eq!(out.code(), 2, "{out:#?}");
        web.end().ok();
        assert_eq!(
            host.tool(["names"]).ok().stdout,
            "NETWORK  NAME  ALIASES  ADDRESSES  HOLDER\n"
        );
        // The host's own /etc/hosts was not touched.
        assert_eq!(
            (
                fs::read("/etc/hosts").unwrap(),
                fs::metadata("/etc/hosts").unwrap().ino()
            ),
            etc_hosts
        );
    });
}

#[test]
fn name_clash_and_networks_apart() {
    host_test("name_clash_and_networks_apart", |host| {
        host.bridge_net("a", "br-na", "10.197.41.0/24");
        host.bridge_net("b", "br-nb", "10.197.42.0/24");
        let web_a = Live::start(host, "wa", &["--name", "web", "--net", "a"], "true");
        // Taken on a: refused, naming the holder; nothing is left of the refused run.
        let out = host
            .run([
                "--name", "other", "--alias", "WEB", "--net", "a", "--", "true",
            ])
            .code_is(125);
        let holder = format!(
            "name \"WEB\" is taken on network \"a\" by the run of pid {} (which holds web;",
            web_a.child.id()
        );
        assert!(out.stderr.contains(&holder), "{out:#?}");
        // Free on b: another run takes it there.
        let mut web_b = Live::start(host, "wb", &["--name", "web", "--net", "b"], "true");
        let a_addr = addresses_of(host, "a", "web");
        let b_addr = addresses_of(host, "b", "web");
        // Each network resolves its own web; a run on b does not know a's.
        for name in ["web", "web.b"] {
            let seen = web_b.ask(&format!("getent ahostsv4 {name}"));
            assert_eq!(first_column(&seen), b_addr, "{seen}");
        }
        assert_eq!(web_b.ask("getent hosts web.a"), "rc=2\n");
        let out = host
            .run(["--net", "a", "--", "getent", "ahostsv4", "web"])
            .ok();
        assert_eq!(first_column(&out.stdout), a_addr, "{out:#?}");
        // Bad names are refused before anything is done.
        let out = host
            .run(["--name", "bad_name", "--net", "a", "--", "true"])
            .code_is(125);
        assert!(
            out.stderr
                .contains("--name \"bad_name\": not a valid name (RFC 1123"),
            "{out:#?}"
        );
        web_b.end().ok();
        web_a.end().ok();
    });
}

#[test]
fn names_of_a_killed_run_go_after_gc() {
    host_test("names_of_a_killed_run_go_after_gc", |host| {
        host.bridge_net("k", "br-nk", "10.197.43.0/24");
        let mut web = Live::start(host, "kw", &["--name", "web", "--net", "k"], "true");
        let ghost = Live::start(host, "kg", &["--name", "ghost", "--net", "k"], "true");
        let ghost_addr = addresses_of(host, "k", "ghost");
        assert_eq!(first_column(&web.ask("getent ahostsv4 ghost")), ghost_addr);
        kill(Pid::from_raw(ghost.child.id() as i32), Signal::SIGKILL).unwrap();
        let out = wait_output(ghost.child, None);
        assert_eq!(out.code(), -1, "{out:#?}");
        // The dead run's name is no longer listed, nor claimed: a new run may take it.
        let listed = host.tool(["names"]).ok().stdout;
        assert!(!listed.contains("ghost"), "{listed}");
        host.run(["--name", "ghost", "--net", "k", "--", "true"])
            .ok();
        // gc finishes the dead run and takes its name out of the live runs' files.
        host.tool(["gc"]).ok();
        assert_eq!(web.ask("getent hosts ghost"), "rc=2\n");
        web.end().ok();
    });
}

#[test]
fn add_host_reaches_the_command() {
    host_test("add_host_reaches_the_command", |host| {
        host.bridge_net("h", "br-nh", "10.197.44.0/24");
        let out = host
            .run([
                "--add-host",
                "db.example:10.9.8.7",
                "--add-host",
                "v6:[fd00::7]",
                "--net",
                "h",
                "--",
                "sh",
                "-c",
                "getent hosts db.example v6",
            ])
            .ok();
        assert_eq!(
            words(&out.stdout),
            "10.9.8.7 db.example\nfd00::7 v6\n",
            "{out:#?}"
        );
        let out = host
            .run(["--add-host", "nocolon", "--net", "h", "--", "true"])
            .code_is(125);
        assert!(
            out.stderr.contains("--add-host \"nocolon\": no ':'"),
            "{out:#?}"
        );
    });
}

/// A run's /etc/hosts is rewritten in place while it reads it: named runs start and end (two
/// at a time, their updates racing each other under the lock) while the reader checks every
/// read: never empty or cut (the host's head and the marker are always there, every line is
/// a comment, blank, or an address with names), and the inode never changes. Nothing is left
/// after all of them ended (an ending run's file is not made again by another's update).
#[test]
fn hosts_file_updates_never_show_a_cut_file() {
    host_test("hosts_file_updates_never_show_a_cut_file", |host| {
        host.bridge_net("u", "br-nu", "10.197.45.0/24");
        let bad = host.path("bad");
        let reads = host.path("reads");
        let check = format!(
            "n=0; ino=$(stat -c %i /etc/hosts)\n\
             while [ ! -e {stop} ]; do\n\
               cp /etc/hosts {snap}\n\
               grep -q '^# cnitool: names of the live runs' {snap} || cp {snap} {bad}\n\
               grep -q localhost {snap} || cp {snap} {bad}\n\
               grep -qvE '^(#.*|[0-9a-f.:]+[[:space:]]+[a-z0-9.-]+([[:space:]]+[a-z0-9.-]+)*|)$' {snap} && cp {snap} {bad}\n\
               [ \"$(stat -c %i /etc/hosts)\" = \"$ino\" ] || echo inode > {bad}\n\
               n=$((n+1))\n\
             done\n\
             echo $n > {reads}",
            stop = host.path("stop").display(),
            snap = host.path("snap").display(),
            bad = bad.display(),
            reads = reads.display(),
        );
        let reader = host
            .run_cmd(["--net", "u", "--", "sh", "-c", &check])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for round in 0..4 {
            let a = format!("a{round}");
            let b = format!("b-with-a-longer-name{round}");
            let one = Live::start(host, &a, &["--name", &a, "--net", "u"], "true");
            let two = Live::start(
                host,
                &b,
                &["--name", &b, "--alias", "x", "--net", "u"],
                "true",
            );
            // Both end at once.
            let (mut one, mut two) = (one, two);
            drop(one.child.stdin.take());
            drop(two.child.stdin.take());
            wait_output(one.child, None).ok();
            wait_output(two.child, None).ok();
        }
        fs::write(host.path("stop"), "").unwrap();
        wait_output(reader, None).ok();
        let n: u32 = fs::read_to_string(&reads).unwrap().trim().parse().unwrap();
        assert!(n > 0, "the reader never read");
        assert!(
            !bad.exists(),
            "a read saw: {:?}",
            fs::read_to_string(&bad).unwrap_or_default()
        );
    });
}
