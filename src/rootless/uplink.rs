//! The uplink (`docs/ROOTLESS.md`, decisions 1, 9 and 17): slirp4netns (default) or pasta, started by the runner in
//! the host namespaces, attached to the holder's namespaces as `tap0`. Both get the same
//! IPv4 addressing: outer netns 10.0.2.100/24, host 10.0.2.2, DNS forwarder 10.0.2.3.
//! IPv6: slirp4netns's fd00::/64 by SLAAC (host fd00::2); pasta's copy of the host's address
//! with the gateway fe80::2.
//!
//! slirp4netns: readiness is the byte `1` on an anonymous ready pipe (anything else, EOF
//! included, is fatal: the shell prototype v1 silently ran with no uplink), then the IPv6
//! default route on `tap0`; its exit-fd is
//! the generation's FIFO, whose write end only the holder keeps, so it exits with the holder.
//! Port forwards go through its API socket (IPv4 host addresses only).
//!
//! pasta (this Debian build has neither ready-fd nor exit-fd): runs in the foreground,
//! detached; readiness is the default route appearing in the outer netns
//! (`/proc/<holder>/net/route`, and `ipv6_route` when the host has an IPv6 default route);
//! the last run or the holder kills it. It takes its port forwards only at its start
//! (`-t`/`-u`), so it publishes ports only for a private run's generation.
//!
//! Length: about 500 lines of code: two helpers (slirp4netns, pasta), each with its start,
//! readiness, port forwards and IPv6 setup.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::state::{Gen, GenInfo, Proc, UplinkKind};
use crate::sys;

/// How long an uplink may take to become ready.
pub const READY_LIMIT: Duration = Duration::from_secs(10);

const TUN_HINT: &str = "/dev/net/tun must be readable and writable by you: distributions ship \
                        it with mode 0666 (as root: chmod 0666 /dev/net/tun)";

/// Finds a program in `PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// Resolves `auto` and checks that the helper is installed, before anything is created.
pub fn resolve(kind: UplinkKind) -> Result<(UplinkKind, PathBuf)> {
    let want = |name: &str, other: &str| {
        find_program(name).ok_or_else(|| {
            anyhow!(
                "{name} not found in PATH: install it (e.g. apt-get install {}) or choose \
                 another helper with --uplink {other}",
                if name == "pasta" { "passt" } else { name }
            )
        })
    };
    match kind {
        UplinkKind::Slirp4netns => Ok((kind, want("slirp4netns", "pasta")?)),
        UplinkKind::Pasta => Ok((kind, want("pasta", "slirp4netns")?)),
        UplinkKind::Auto => match find_program("slirp4netns") {
            Some(p) => Ok((UplinkKind::Slirp4netns, p)),
            None => match find_program("pasta") {
                Some(p) => Ok((UplinkKind::Pasta, p)),
                None => bail!(
                    "neither slirp4netns nor pasta is in PATH: install one \
                     (apt-get install slirp4netns, or passt for pasta)"
                ),
            },
        },
    }
}

/// Checks `/dev/net/tun` before starting a helper, so the error names the fix.
pub fn check_tun() -> Result<()> {
    nix::unistd::access(
        "/dev/net/tun",
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .map_err(|e| anyhow!("cannot open /dev/net/tun ({e}): {TUN_HINT}"))
}

/// Starts the generation's uplink and records it in `info`. pasta publishes `forwards` from
/// its start (a private run's ports); slirp4netns takes them later ([`add_forward`]).
pub fn start(gen: &Gen, info: &mut GenInfo, program: &Path, forwards: &[Forward]) -> Result<()> {
    let proc = match info.uplink_kind {
        UplinkKind::Pasta => start_pasta(gen, info, program, forwards)?,
        _ => start_slirp(gen, info, program)?,
    };
    info.uplink = Some(proc);
    gen.write_info(info)
}

fn log_file(gen: &Gen) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(gen.dir.join("uplink.log"))
        .context("opening uplink.log")
}

fn failure(gen: &Gen, name: &str, why: &str) -> anyhow::Error {
    let tail = gen.log_tail("uplink.log");
    let hint = if tail.contains("/dev/net/tun") || tail.contains("tun socket") {
        format!("; {TUN_HINT}")
    } else {
        String::new()
    };
    if tail.is_empty() {
        anyhow!("{name} did not become ready: {why}{hint}")
    } else {
        anyhow!("{name} did not become ready: {why}: {tail}{hint}")
    }
}

fn start_slirp(gen: &Gen, info: &GenInfo, program: &Path) -> Result<Proc> {
    let (ready_r, ready_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).context("creating the ready pipe")?;
    let exit_r: OwnedFd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(gen.dir.join("exit.fifo"))
        .context("opening the exit FIFO")?
        .into();
    let _ = fs::remove_file(gen.api_socket());
    let h = info.holder.pid;
    // Started from inside the holder's user namespace (see `command::uplink_main`).
    let user = File::open(format!("/proc/{h}/ns/user")).context("opening the holder's userns")?;
    let mut cmd = super::holder::self_command();
    cmd.arg("__rootless-uplink")
        .arg(user.as_raw_fd().to_string())
        .arg("--")
        .arg(program)
        .args(["--configure", "--mtu=65520", "--enable-ipv6"]);
    if !info.allow_host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    cmd.args(["--enable-sandbox", "--enable-seccomp"])
        .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_r.as_raw_fd()))
        .arg("--api-socket")
        .arg(gen.api_socket())
        .arg("--netns-type=path")
        .arg(format!("/proc/{h}/ns/net"))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(log_file(gen)?)
        .stderr(log_file(gen)?);
    sys::detach(&mut cmd);
    sys::inherit_fds(
        &mut cmd,
        vec![ready_w.as_raw_fd(), exit_r.as_raw_fd(), user.as_raw_fd()],
    );
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow!("starting {}: {e}", program.display()))?;
    drop(ready_w);
    drop(exit_r);
    drop(user);
    let pid = child.id() as i32;
    let proc = Proc::of(pid);
    // Anything but the byte '1' is a failure: EOF (it exited), a timeout, another byte.
    let mut fds = [PollFd::new(ready_r.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(READY_LIMIT.as_millis()).unwrap_or(u16::MAX);
    let ready = match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => Err(format!("no readiness after {READY_LIMIT:?}")),
        Ok(_) => {
            let mut b = [0u8; 1];
            match File::from(ready_r).read(&mut b) {
                Ok(1) if b[0] == b'1' => Ok(()),
                Ok(0) => Err("it exited".to_owned()),
                Ok(_) => Err(format!("unexpected readiness byte {:?}", b[0])),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = ready {
        let _ = child.kill();
        let status = child.wait();
        let why = match status {
            Ok(s) if why == "it exited" => format!("it exited ({s})"),
            _ => why,
        };
        return Err(failure(gen, "slirp4netns", &why));
    }
    // IPv6 comes by SLAAC after the byte (see `prepare_outer_netns`): an RS/RA round trip;
    // the first run's command must not start before it.
    wait_ipv6_default_route(h);
    thread::spawn(move || child.wait());
    Ok(proc?)
}

/// The outer netns's IPv6 settings for the uplink's `tap0`, written by the holder in its new
/// netns before any uplink starts (`docs/ROOTLESS.md`, decision 17). slirp4netns's
/// `--configure` sets up IPv4 only: `tap0` gets its IPv6 address (in fd00::/64) and its
/// default route (via fe80::2) from libslirp's router advertisements. Interfaces created
/// later take these defaults:
///
/// - `accept_dad = 0`: no duplicate address detection (no other host is on `tap0`), so the
///   link-local address is usable at once, the router solicitation goes out at once, and
///   so does the SLAAC address: IPv6 is ready within the uplink's start instead of about
///   two seconds later.
/// - `accept_ra = 2`: router advertisements are still taken when forwarding is on. The
///   bridge plugin turns `net.ipv6.conf.all.forwarding` on at the first ADD with an IPv6
///   gateway; with the default `accept_ra = 1` the kernel then drops the default route
///   learnt from the advertisement at once, and ignores the next ones (the outer netns
///   loses IPv6 outbound). The bridge plugin sets its bridges' `accept_ra` to 0 itself;
///   veth ends enslaved to a bridge never see the packets.
///
/// Best effort: a kernel without IPv6 has no `/proc/sys/net/ipv6`, and a read-only
/// `/proc/sys` (some containers) refuses the writes; IPv4 works either way, and the uplink's
/// start then warns that IPv6 has no way out ([`wait_ipv6_default_route`]).
pub fn prepare_outer_netns() {
    let conf = Path::new("/proc/sys/net/ipv6/conf/default");
    for (key, value) in [("accept_dad", "0"), ("accept_ra", "2")] {
        let _ = fs::write(conf.join(key), value);
    }
}

/// How long slirp4netns's `tap0` may take to get its IPv6 default route (measured: 0.1-2.2
/// ms, `docs/BENCHMARKS.md`, uplinks).
const IPV6_LIMIT: Duration = Duration::from_secs(1);

/// Waits until the holder's netns (`/proc/H/net/ipv6_route`) has a default route through
/// `tap0`; at once when `tap0` has no IPv6 (no line in `/proc/H/net/if_inet6`: a kernel
/// without IPv6, or IPv6 disabled on new interfaces). Not fatal: after [`IPV6_LIMIT`] a
/// warning says that the runs have no IPv6 way out.
fn wait_ipv6_default_route(holder: i32) {
    let has_ipv6 = fs::read_to_string(format!("/proc/{holder}/net/if_inet6")).is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().nth(5) == Some("tap0"))
    });
    if !has_ipv6 {
        return;
    }
    let path = format!("/proc/{holder}/net/ipv6_route");
    let end = Instant::now() + IPV6_LIMIT;
    while !fs::read_to_string(&path).is_ok_and(|t| has_ipv6_default_route(&t, Some("tap0"))) {
        if Instant::now() > end {
            crate::diag!(
                "cnitool: warning: slirp4netns's tap0 got no IPv6 default route within \
                 {IPV6_LIMIT:?} (no router advertisement): runs have IPv4 only outside"
            );
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `/proc/net/ipv6_route` text lists a default route (::/0) on `dev`, or on any
/// device but `lo` (where the kernel keeps its unreachable routes).
fn has_ipv6_default_route(text: &str, dev: Option<&str>) -> bool {
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 10
            && f[0].bytes().all(|b| b == b'0')
            && f[1] == "00"
            && dev.map_or(f[9] != "lo", |d| f[9] == d)
    })
}

/// pasta's arguments that publish `forwards`: `-t ADDR/PORT` (TCP) and `-u ADDR/PORT` (UDP),
/// each host port forwarded to the same port in the outer netns, where portmap DNATs it to
/// the run; `none` for a protocol without forwards (pasta's default, `auto`, would follow
/// the ports bound in the outer netns).
fn pasta_port_args(forwards: &[Forward]) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, proto) in [("-t", "tcp"), ("-u", "udp")] {
        let specs: Vec<String> = forwards
            .iter()
            .filter(|f| f.proto == proto)
            .map(|f| format!("{}/{}", f.host_addr, f.host_port))
            .collect();
        if specs.is_empty() {
            args.extend([flag.to_owned(), "none".to_owned()]);
        }
        for spec in specs {
            args.extend([flag.to_owned(), spec]);
        }
    }
    args
}

fn start_pasta(gen: &Gen, info: &GenInfo, program: &Path, forwards: &[Forward]) -> Result<Proc> {
    let h = info.holder.pid;
    let mut cmd = Command::new(program);
    cmd.args(["--config-net", "--quiet", "--foreground"])
        .args(pasta_port_args(forwards));
    cmd.args([
        "-T",
        "none",
        "-U",
        "none",
        "-a",
        "10.0.2.100",
        "-n",
        "24",
        "-g",
        "10.0.2.2",
        // The IPv6 gateway: a link-local address pasta answers for, so that its gateway
        // mapping (`--allow-host-loopback`) takes no address a run can reach, and the gateway
        // copied from the host stays that gateway (`docs/ROOTLESS.md`, decision 17).
        "-g",
        "fe80::2",
        "--dns-forward",
        "10.0.2.3",
        "--ns-ifname",
        "tap0",
        "--mtu",
        "65520",
    ]);
    if !info.allow_host_loopback {
        cmd.arg("--no-map-gw");
    }
    cmd.arg("--userns")
        .arg(format!("/proc/{h}/ns/user"))
        .arg("--netns")
        .arg(format!("/proc/{h}/ns/net"))
        .stdin(Stdio::null())
        .stdout(log_file(gen)?)
        .stderr(log_file(gen)?);
    sys::detach(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow!("starting {}: {e}", program.display()))?;
    let proc = Proc::of(child.id() as i32)?;
    let end = Instant::now() + READY_LIMIT;
    let route = format!("/proc/{h}/net/route");
    // pasta configures IPv6 (the host's address and gateway) only when the host has an IPv6
    // default route; then the first run's command waits for it too.
    let ipv6 = fs::read_to_string("/proc/thread-self/net/ipv6_route")
        .is_ok_and(|t| has_ipv6_default_route(&t, None));
    let route6 = format!("/proc/{h}/net/ipv6_route");
    loop {
        if has_default_route(&route)
            && (!ipv6
                || fs::read_to_string(&route6)
                    .is_ok_and(|t| has_ipv6_default_route(&t, Some("tap0"))))
        {
            break;
        }
        if let Ok(Some(s)) = child.try_wait() {
            return Err(failure(gen, "pasta", &format!("it exited ({s})")));
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failure(
                gen,
                "pasta",
                &format!("no default route after {READY_LIMIT:?}"),
            ));
        }
        thread::sleep(Duration::from_millis(2));
    }
    thread::spawn(move || child.wait());
    Ok(proc)
}

fn has_default_route(route: &str) -> bool {
    fs::read_to_string(route).is_ok_and(|t| {
        t.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    })
}

/// One published port as the uplink forwards it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forward {
    /// tcp or udp.
    pub proto: String,
    /// The host address slirp4netns listens on.
    pub host_addr: IpAddr,
    /// The host port (also the port portmap DNATs in the outer netns).
    pub host_port: u16,
    /// slirp4netns's id for it.
    #[serde(default)]
    pub id: Option<u64>,
}

impl std::fmt::Display for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host_addr {
            IpAddr::V6(a) => write!(f, "[{a}]:{}/{}", self.host_port, self.proto),
            IpAddr::V4(a) => write!(f, "{a}:{}/{}", self.host_port, self.proto),
        }
    }
}

/// Binds the host port briefly, to turn slirp4netns's errno-less `add_hostfwd` failure into
/// "in use" or "privileged".
///
/// An IPv6 host address is refused first: slirp4netns 1.2's `add_hostfwd` parses `host_addr`
/// as IPv4 only (`bad arguments.host_addr` for `::1` and `::`: measured); pasta takes ports
/// only for a private run (decision 9), where the same rule holds (IPv6 forwards through pasta
/// are not tried).
pub fn precheck(fwd: &Forward) -> Result<()> {
    if fwd.host_addr.is_ipv6() {
        return Err(crate::usage!(
            "cannot publish host port {fwd}: slirp4netns publishes ports on IPv4 host addresses \
             only; publish on an IPv4 one (e.g. -p 127.0.0.1:{port}:PORT) and connect to it \
             over IPv4 (the command sees every client as 10.0.2.2 either way)",
            port = fwd.host_port
        ));
    }
    let addr = SocketAddr::new(fwd.host_addr, fwd.host_port);
    let res = if fwd.proto == "udp" {
        UdpSocket::bind(addr).map(drop)
    } else {
        TcpListener::bind(addr).map(drop)
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow!(
            "cannot publish host port {fwd}: it is in use (by another run or program); pick \
             another host port"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let start = fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "1024".into());
            Err(anyhow!(
                "cannot publish host port {fwd}: ports below {start} are privileged; use a \
                 higher host port (or, as root, lower net.ipv4.ip_unprivileged_port_start)"
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => Err(anyhow!(
            "cannot publish host port {fwd}: {} is not an address of this host",
            fwd.host_addr
        )),
        Err(e) => Err(anyhow!("cannot publish host port {fwd}: {e}")),
    }
}

/// One call on the slirp4netns API socket.
fn api(socket: &Path, req: &Value) -> Result<Value> {
    let mut s = UnixStream::connect(socket)
        .with_context(|| format!("connecting to the slirp4netns API {}", socket.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(req.to_string().as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let v: Value =
        serde_json::from_str(&buf).with_context(|| format!("slirp4netns API reply {buf:?}"))?;
    if let Some(err) = v.get("error") {
        bail!(
            "{}",
            err.get("desc").and_then(Value::as_str).unwrap_or("error")
        );
    }
    Ok(v)
}

/// Adds a forward (host port -> outer netns 10.0.2.100, same port); returns its id.
pub fn add_forward(gen: &Gen, fwd: &Forward) -> Result<u64> {
    let v = api(
        &gen.api_socket(),
        &json!({"execute": "add_hostfwd", "arguments": {
            "proto": fwd.proto, "host_addr": fwd.host_addr.to_string(),
            "host_port": fwd.host_port, "guest_port": fwd.host_port}}),
    )
    .with_context(|| format!("publishing host port {fwd}"))?;
    v.pointer("/return/id")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("slirp4netns API: no id in {v}"))
}

/// Removes a forward.
pub fn remove_forward(gen: &Gen, id: u64) -> Result<()> {
    api(
        &gen.api_socket(),
        &json!({"execute": "remove_hostfwd", "arguments": {"id": id}}),
    )
    .map(drop)
}

/// Reads a run's forwards.
pub fn read_forwards(path: &Path) -> Vec<Forward> {
    fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The host address to listen on when `-p` gives none: loopback only.
pub const DEFAULT_HOST_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_default_route() {
        // Lines of /proc/net/ipv6_route: a prefix route, a default route learnt from an
        // advertisement (via fe80::2), the kernel's unreachable default on lo.
        let text = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     tap0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000400 00000001 00000000 00450003     tap0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";
        assert!(has_ipv6_default_route(text, Some("tap0")));
        assert!(!has_ipv6_default_route(text, Some("eth0")));
        assert!(has_ipv6_default_route(text, None));
        let lo_only = text.lines().nth(2).unwrap();
        assert!(!has_ipv6_default_route(lo_only, None));
        assert!(!has_ipv6_default_route(
            text.lines().next().unwrap(),
            Some("tap0")
        ));
    }

    #[test]
    fn pasta_ports() {
        let fwd = |proto: &str, a: &str, port| Forward {
            proto: proto.into(),
            host_addr: a.parse().unwrap(),
            host_port: port,
            id: None,
        };
        assert_eq!(pasta_port_args(&[]), ["-t", "none", "-u", "none"]);
        let fwds = [
            fwd("tcp", "127.0.0.1", 8080),
            fwd("udp", "0.0.0.0", 5353),
            fwd("tcp", "10.1.2.3", 9090),
        ];
        assert_eq!(
            pasta_port_args(&fwds),
            [
                "-t",
                "127.0.0.1/8080",
                "-t",
                "10.1.2.3/9090",
                "-u",
                "0.0.0.0/5353"
            ]
        );
    }

    #[test]
    fn ipv6_host_address_refused() {
        let fwd = |a: &str| Forward {
            proto: "tcp".into(),
            host_addr: a.parse().unwrap(),
            host_port: 8080,
            id: None,
        };
        let err = precheck(&fwd("::1")).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot publish host port [::1]:8080/tcp: slirp4netns publishes")
                && err.contains("-p 127.0.0.1:8080:PORT"),
            "{err}"
        );
        assert!(precheck(&fwd("::")).is_err());
    }
}
