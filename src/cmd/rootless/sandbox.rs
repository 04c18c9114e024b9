//! The plugin executor (ROOTLESS.md §7.2.3-4, §7.6): `cnitool __rootless-sandbox`, a child of
//! the runner that enters the holder's namespaces through descriptors the runner holds
//! (`setns(CLONE_NEWUSER)` is refused in a multi-threaded process, hence a process of its
//! own, which is single-threaded when it enters them), then:
//!
//! 1. in the holder's mount namespace: creates the run's netns (unshare, `lo` up, bind mount
//!    onto `gen/G/netns/<run>`) or removes one (unmount, unlink);
//! 2. in the outer netns and a private copy of that mount view (the sandbox): a tmpfs on
//!    `/var/lib` with the generation's `cni/` at `/var/lib/cni`, a tmpfs on `/run` (iptables
//!    legacy's `/run/xtables.lock`, `/run/netns`), and the state directory bound back at its
//!    own path, recursively, so the run netns mounts under it stay valid;
//! 3. runs the unmodified plugins there with libcni (ADD or DEL, the networks at once).
//!
//! The request comes as JSON on stdin, the outcome goes as JSON to stdout. The sandbox dies
//! with this process: neither the holder nor the command ever sees those mounts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _};
use std::os::fd::{AsRawFd as _, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use libcni::{NetworkConfigList, RuntimeConf};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::holder::self_exe;
use crate::cmd::Context;
use crate::sys;

/// One network to ADD or DEL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attach {
    /// The network list's bytes.
    pub list: String,
    /// The container ID.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: PathBuf,
    /// The interface.
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: Vec<(String, String)>,
    /// Capability arguments.
    pub caps: Map<String, Value>,
}

/// What the executor does, in this order.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The state directory (kept visible in the sandbox).
    pub state: PathBuf,
    /// The generation directory (its `cni/` becomes `/var/lib/cni`).
    pub gen: PathBuf,
    /// Create this run netns.
    pub create_netns: Option<PathBuf>,
    /// Remove this run netns (after the DELs when there are any: back in the holder's mount
    /// namespace, saving a second executor; see [`Response::removed_netns`]).
    pub remove_netns: Option<PathBuf>,
    /// ADD these (all at once); on failure the caller DELs.
    pub add: Vec<Attach>,
    /// DEL these (all at once).
    pub del: Vec<Attach>,
    /// One network after another.
    pub sequential: bool,
}

/// What it did: per ADD/DEL, the result JSON or the error text; `error` for the rest.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    /// ADD/DEL outcomes, in request order.
    pub outcomes: Vec<Result<Value, String>>,
    /// A failure before any plugin ran (namespaces, mounts).
    pub error: Option<String>,
    /// Whether `remove_netns` was done (after DELs it can fail to re-enter the holder's mount
    /// namespace; then the caller asks a fresh executor).
    #[serde(default)]
    pub removed_netns: bool,
}

/// The holder's namespaces, as descriptors the runner opened once.
#[derive(Debug)]
pub struct NsFds {
    /// `/proc/<holder>/ns/user`.
    pub user: File,
    /// `/proc/<holder>/ns/mnt`.
    pub mnt: File,
    /// `/proc/<holder>/ns/net` (the outer netns).
    pub net: File,
}

impl NsFds {
    /// Opens them (the caller has checked the holder's identity and re-checks it on `user`).
    pub fn open(pid: i32) -> io::Result<NsFds> {
        let o = |n: &str| File::open(format!("/proc/{pid}/ns/{n}"));
        Ok(NsFds {
            user: o("user")?,
            mnt: o("mnt")?,
            net: o("net")?,
        })
    }
}

/// Runs a request in a new executor process and returns its response.
pub fn call(ctx: &Context, fds: &NsFds, req: &Request, verbose: bool) -> Result<Response> {
    let mut cmd = Command::new(self_exe()?);
    let dirs: Vec<String> = ctx
        .cni
        .plugin_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    cmd.arg("--plugin-dir")
        .arg(dirs.join(":"))
        .arg("--cache-dir")
        .arg(req.gen.join("cache"))
        .arg("--timeout")
        .arg(format!("{}ms", ctx.timeout.as_millis()));
    if verbose {
        cmd.arg("--verbose");
    } else if ctx.quiet {
        cmd.arg("--quiet");
    }
    cmd.arg("__rootless-sandbox")
        .arg(fds.user.as_raw_fd().to_string())
        .arg(fds.mnt.as_raw_fd().to_string())
        .arg(fds.net.as_raw_fd().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    sys::inherit_fds(
        &mut cmd,
        vec![
            fds.user.as_raw_fd(),
            fds.mnt.as_raw_fd(),
            fds.net.as_raw_fd(),
        ],
    );
    sys::kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().context("starting the plugin executor")?;
    let input = serde_json::to_vec(req)?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || io::Write::write_all(&mut stdin, &input));
    let out = child
        .wait_with_output()
        .context("running the plugin executor")?;
    let _ = writer.join();
    if out.stdout.is_empty() {
        bail!("the plugin executor failed ({})", out.status);
    }
    let resp: Response =
        serde_json::from_slice(&out.stdout).context("the plugin executor's reply")?;
    if let Some(e) = &resp.error {
        bail!("{e}");
    }
    Ok(resp)
}

/// The executor's main. Single-threaded until the plugins run.
pub fn main(ctx: &Context, fds: [RawFd; 3]) -> ExitCode {
    let mut input = Vec::new();
    let resp = match io::stdin().read_to_end(&mut input) {
        Err(e) => Response {
            error: Some(format!("reading the request: {e}")),
            ..Response::default()
        },
        Ok(_) => match serde_json::from_slice::<Request>(&input) {
            Err(e) => Response {
                error: Some(format!("bad request: {e}")),
                ..Response::default()
            },
            Ok(req) => serve(ctx, fds, &req).unwrap_or_else(|e| Response {
                error: Some(format!("{e:#}")),
                ..Response::default()
            }),
        },
    };
    println!("{}", serde_json::to_string(&resp).unwrap_or_default());
    ExitCode::SUCCESS
}

fn serve(ctx: &Context, fds: [RawFd; 3], req: &Request) -> Result<Response> {
    let [user, mnt, net] = fds.map(sys::take_inherited_fd);
    setns(&user, CloneFlags::CLONE_NEWUSER).context("entering the rootless user namespace")?;
    setns(&mnt, CloneFlags::CLONE_NEWNS).context("entering the holder's mount namespace")?;
    if let Some(path) = &req.create_netns {
        create_netns(path)?;
    }
    let remove_later = req.remove_netns.as_ref().filter(|_| !req.del.is_empty());
    let mut resp = Response::default();
    if let (Some(path), None) = (&req.remove_netns, remove_later) {
        remove_netns(path)?;
        resp.removed_netns = true;
    }
    setns(&net, CloneFlags::CLONE_NEWNET).context("entering the outer network namespace")?;
    drop((user, net));
    if req.add.is_empty() && req.del.is_empty() {
        return Ok(resp);
    }
    enter_sandbox(&req.state, &req.gen)?;
    let parse = |a: &Attach| -> Result<(NetworkConfigList, RuntimeConf)> {
        let list = libcni::conf::conf_list_from_bytes(a.list.as_bytes(), None)?;
        let rt = RuntimeConf {
            container_id: a.container_id.clone(),
            netns: a.netns.clone(),
            ifname: a.ifname.clone(),
            args: a.args.clone(),
            capability_args: a.caps.clone(),
        };
        Ok((list, rt))
    };
    let add = |a: &Attach| -> Result<Value, String> {
        let (list, rt) = parse(a).map_err(|e| format!("{e:#}"))?;
        let r = ctx
            .cni
            .add_network_list(&list, &rt)
            .map_err(|e| format!("adding network {:?} as {}: {e}", list.name, rt.ifname))?;
        serde_json::to_value(r.to_v1().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    };
    let del = |a: &Attach| -> Result<Value, String> {
        let (list, rt) = parse(a).map_err(|e| format!("{e:#}"))?;
        ctx.cni
            .del_network_list(&list, &rt)
            .map_err(|e| format!("deleting network {:?}: {e}", list.name))?;
        Ok(Value::Null)
    };
    resp.outcomes = crate::cmd::run::for_each(&req.add, req.sequential, add);
    resp.outcomes
        .extend(crate::cmd::run::for_each(&req.del, req.sequential, del));
    if let Some(path) = remove_later {
        // On failure the caller removes it with a fresh executor.
        resp.removed_netns = back_to(&mnt).and_then(|()| remove_netns(path)).is_ok();
    }
    Ok(resp)
}

/// Re-enters the holder's mount namespace after the plugins ran. `setns(CLONE_NEWNS)` is
/// refused (EINVAL) while another thread shares this process's filesystem context, and the
/// plugin-runner threads, though joined, may still be finishing their exit in the kernel: a
/// short bounded retry.
fn back_to(mnt: &std::os::fd::OwnedFd) -> Result<()> {
    let mut tries = 0;
    loop {
        match setns(mnt, CloneFlags::CLONE_NEWNS) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EINVAL) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_micros(250));
            }
            Err(e) => {
                return Err(anyhow!(e).context("re-entering the holder's mount namespace"));
            }
        }
    }
}

/// Unmounts and removes a run netns file (in the current mount namespace: the holder's).
fn remove_netns(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(anyhow!(e).context(format!("unmounting {}", path.display()))),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!(e).context(format!("removing {}", path.display()))),
    }
}

/// Creates a network namespace and bind-mounts it at `path` (in the current mount
/// namespace: the holder's, the only one where plugins and later executors look).
fn create_netns(path: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let made = (|| -> Result<()> {
        // This process is single-threaded, so its only thread moves; it returns to the outer
        // netns by descriptor right after.
        unshare(CloneFlags::CLONE_NEWNET).context("creating the run's network namespace")?;
        libcni::netns::set_link_up("lo").context("setting lo up")?;
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting the run netns on {}", path.display()))
    })();
    if made.is_err() {
        let _ = fs::remove_file(path);
    }
    made
}

/// The plugin sandbox mounts (ROOTLESS.md "What must be private-mounted").
fn enter_sandbox(state: &Path, gen: &Path) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).context("creating the plugin sandbox mount namespace")?;
    let m = |src: Option<&Path>,
             dst: &Path,
             fstype: Option<&str>,
             flags: MsFlags,
             data: Option<&str>| {
        mount(src, dst, fstype, flags, data)
            .with_context(|| format!("sandbox: mounting on {}", dst.display()))
    };
    m(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    // Reach the state directory through a descriptor, since the tmpfs mounts below may
    // cover its path (it is usually under /run).
    let keep = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(state)
        .with_context(|| format!("opening {}", state.display()))?;
    let via = PathBuf::from(format!("/proc/self/fd/{}", keep.as_raw_fd()));
    let rel = gen
        .strip_prefix(state)
        .context("the generation is not under the state dir")?;
    let nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    m(
        Some(Path::new("tmpfs")),
        Path::new("/var/lib"),
        Some("tmpfs"),
        nodev,
        Some("mode=755"),
    )?;
    fs::create_dir("/var/lib/cni").context("sandbox: creating /var/lib/cni")?;
    m(
        Some(&via.join(rel).join("cni")),
        Path::new("/var/lib/cni"),
        None,
        MsFlags::MS_BIND,
        None,
    )?;
    m(
        Some(Path::new("tmpfs")),
        Path::new("/run"),
        Some("tmpfs"),
        nodev,
        Some("mode=755"),
    )?;
    fs::create_dir_all(state).with_context(|| format!("sandbox: creating {}", state.display()))?;
    // Recursive: a plain bind would drop the run netns mounts under it (measured).
    m(
        Some(&via),
        state,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    drop(keep);
    Ok(())
}
