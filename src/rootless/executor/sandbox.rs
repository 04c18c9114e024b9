//! Where the executor is and what it does there: the holder's user and mount namespaces, the
//! outer netns, the plugin sandbox (private `/var/lib` and `/run`), the run netns, and the
//! command started inside them.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use libcni::{NetworkConfigList, RuntimeConf};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde_json::Value;

use super::protocol::{Attach, CommandSpec, Request, Response};
use crate::cmd::Context;
use crate::ns::{self, CloneFlags};
use crate::sys;

/// The executor's state between requests. Where the process is, it asks the kernel
/// ([`ns::is_current`]); it never remembers it (see `src/ns.rs`).
pub(super) struct Exec {
    holder_mnt: OwnedFd,
    outer_net: OwnedFd,
    /// The command's mount namespace, unshared from the runner's view at start.
    cmd_mnt: Option<OwnedFd>,
    /// The sandbox's mount namespace, once made.
    sandbox: Option<OwnedFd>,
    /// The run netns this executor made.
    run_net: Option<OwnedFd>,
    /// The command's stdin, stdout and stderr.
    stdio: Vec<Option<OwnedFd>>,
    /// The runner's working directory (the command starts there).
    cwd: Option<PathBuf>,
}

impl Exec {
    /// Enters the holder's user namespace (and, for a command, unshares its mount namespace
    /// from the runner's view), then the holder's mount namespace and the outer netns.
    pub(super) fn enter(
        [user, mnt, net]: [OwnedFd; 3],
        stdio: Vec<Option<OwnedFd>>,
        command: bool,
    ) -> Result<Exec> {
        let parent = nix::unistd::getppid();
        ns::enter(&user, CloneFlags::CLONE_NEWUSER)
            .context("entering the rootless user namespace")?;
        // Changing credentials may clear the parent-death signal: set it again, then make
        // sure the runner did not die in between.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .context("setting the parent-death signal")?;
        if nix::unistd::getppid() != parent {
            bail!("the runner exited");
        }
        let mut cwd = None;
        let cmd_mnt = if !command {
            None
        } else {
            cwd = std::env::current_dir().ok();
            ns::unshare(CloneFlags::CLONE_NEWNS)
                .context("creating the command's mount namespace")?;
            // Nothing done in the command's view may propagate back to the runner's.
            libcni::netns::make_mounts_slave()?;
            Some(File::open("/proc/thread-self/ns/mnt")?.into())
        };
        ns::enter(&mnt, CloneFlags::CLONE_NEWNS)
            .context("entering the holder's mount namespace")?;
        ns::enter(&net, CloneFlags::CLONE_NEWNET)
            .context("entering the outer network namespace")?;
        drop(user);
        Ok(Exec {
            holder_mnt: mnt,
            outer_net: net,
            cmd_mnt,
            sandbox: None,
            run_net: None,
            stdio,
            cwd,
        })
    }

    pub(super) fn serve(&mut self, ctx: &Context, req: &Request) -> Result<Response> {
        let mut resp = Response::default();
        if let Some(path) = &req.create_netns {
            self.enter_holder()?;
            let run_net = create_netns(path)?;
            let m = run_net.metadata()?;
            resp.netns = Some((m.dev(), m.ino()));
            self.run_net = Some(run_net.into());
        }
        if let Some((source, path)) = &req.attach_netns {
            self.enter_holder()?;
            let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
                (Some(dir), Some(name)) => (dir, name),
                _ => bail!("{}: not a run netns path", path.display()),
            };
            libcni::netns::attach(dir, name, source)
                .with_context(|| format!("binding the network namespace {}", source.display()))?;
            let m = fs::metadata(path)?;
            resp.netns = Some((m.dev(), m.ino()));
        }
        let remove_later = req.remove_netns.as_ref().filter(|_| !req.del.is_empty());
        if let (Some(path), None) = (&req.remove_netns, remove_later) {
            self.enter_holder()?;
            remove_netns(path)?;
            resp.removed_netns = true;
        }
        if req.add.is_empty() && req.del.is_empty() {
            return Ok(resp);
        }
        self.enter_sandbox_ns(&req.state, &req.gen)?;
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
        resp.outcomes = crate::supervise::for_each(&req.add, req.sequential, add);
        resp.outcomes
            .extend(crate::supervise::for_each(&req.del, req.sequential, del));
        if let Some(path) = remove_later {
            // On failure the caller removes it with a fresh executor.
            resp.removed_netns = self
                .enter_holder()
                .and_then(|()| remove_netns(path))
                .is_ok();
        }
        Ok(resp)
    }

    /// Into the holder's mount namespace (and the outer netns).
    fn enter_holder(&mut self) -> Result<()> {
        self.enter_outer()?;
        if !ns::is_current(&self.holder_mnt, CloneFlags::CLONE_NEWNS) {
            ns::enter_mount(&self.holder_mnt)
                .context("re-entering the holder's mount namespace")?;
        }
        Ok(())
    }

    /// Into the sandbox (made on first use, from the holder's mount namespace).
    fn enter_sandbox_ns(&mut self, state: &Path, gen: &Path) -> Result<()> {
        self.enter_outer()?;
        match &self.sandbox {
            Some(sandbox) => {
                if !ns::is_current(sandbox, CloneFlags::CLONE_NEWNS) {
                    ns::enter_mount(sandbox).context("re-entering the plugin sandbox")?;
                }
            }
            None => {
                self.enter_holder()?;
                enter_sandbox(state, gen)?;
                self.sandbox = Some(File::open("/proc/thread-self/ns/mnt")?.into());
            }
        }
        Ok(())
    }

    /// Into the outer netns.
    fn enter_outer(&mut self) -> Result<()> {
        if !ns::is_current(&self.outer_net, CloneFlags::CLONE_NEWNET) {
            ns::enter(&self.outer_net, CloneFlags::CLONE_NEWNET)
                .context("re-entering the outer network namespace")?;
        }
        Ok(())
    }

    /// Starts the command in the run's netns and the command's mount namespace (unshared from
    /// the runner's view when this executor started), as uid 0 of the user namespace, with
    /// a fresh sysfs, the run's resolv.conf and hostname, in the runner's working directory,
    /// with the runner's stdio, and `PR_SET_PDEATHSIG` (it dies with this executor, which dies
    /// with the runner). Then returns to the outer netns, or ends this process when it cannot
    /// ([`ns::restore`]); plugins run afterwards (DEL) re-enter the sandbox. `Ok(Err(status))`: it could not be executed (message printed, status as
    /// `cnitool run` documents it).
    pub(super) fn start_command(&mut self, spec: &CommandSpec) -> Result<Result<Child, i32>> {
        let Some(argv0) = spec.argv.first() else {
            bail!("no command");
        };
        let cmd_mnt = self
            .cmd_mnt
            .take()
            .context("this executor was not started for a command (or started one already)")?;
        let Some(run_net) = &self.run_net else {
            bail!("this executor made no run netns");
        };
        ns::enter_mount(&cmd_mnt).context("entering the command's mount namespace")?;
        ns::enter(run_net, CloneFlags::CLONE_NEWNET)
            .context("joining the run's network namespace")?;
        if let Some(name) = &spec.hostname {
            // This process stays in that UTS namespace (the original one belongs to the
            // host's user namespace: no way back); nothing here uses the hostname.
            ns::unshare(CloneFlags::CLONE_NEWUTS)
                .context("creating the command's UTS namespace")?;
            nix::unistd::sethostname(name).context("setting the hostname")?;
        }
        // The netns is owned by our user namespace, so a fresh sysfs (showing its interfaces)
        // may be mounted over the host's; not fatal where a kernel refuses it.
        let _ = mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        );
        if let Some(resolv) = &spec.resolv {
            crate::supervise::child::bind_resolv_conf(resolv)?;
        }
        if let Some(hosts) = spec
            .hosts
            .as_ref()
            .filter(|_| Path::new("/etc/hosts").exists())
        {
            crate::supervise::child::bind_hosts(hosts)?;
        }
        // setns into a mount namespace moved this process to its root.
        let cwd = self.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
        if std::env::set_current_dir(&cwd).is_err() {
            let _ = std::env::set_current_dir("/");
        }
        let mut cmd = Command::new(argv0);
        cmd.args(&spec.argv[1..]);
        let mut stdio = std::mem::take(&mut self.stdio).into_iter();
        let mut next = || match stdio.next().flatten() {
            Some(fd) => Stdio::from(fd),
            None => Stdio::null(),
        };
        cmd.stdin(next()).stdout(next()).stderr(next());
        if spec.own_group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        sys::kill_with_parent(&mut cmd);
        let spawned = cmd.spawn();
        drop(cmd);
        drop(cmd_mnt);
        let _ = std::env::set_current_dir("/");
        ns::restore(
            &self.outer_net,
            CloneFlags::CLONE_NEWNET,
            "returning to the outer network namespace after starting the command",
        );
        match spawned {
            Ok(child) => Ok(Ok(child)),
            Err(err) => {
                let (code, what) = crate::exit::exec_failure(argv0.as_ref(), &err);
                crate::diag!("cnitool: {argv0}: {what}");
                Ok(Err(i32::from(code) << 8))
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

/// Creates the run's network namespace at `path` with `lo` up (in the current mount
/// namespace: the holder's, the only one where plugins and later executors look) and opens
/// it. [`libcni::netns::create`] does the work on a thread of its own: this one stays where
/// it is.
fn create_netns(path: &Path) -> Result<File> {
    let (dir, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(dir), Some(name)) => (dir, name),
        _ => bail!("{}: not a run netns path", path.display()),
    };
    libcni::netns::create(dir, name, libcni::netns::CreateOptions { lo_up: true })
        .context("creating the run's network namespace")?;
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// The plugin sandbox mounts (`docs/ROOTLESS.md`, decision 14).
fn enter_sandbox(state: &Path, gen: &Path) -> Result<()> {
    ns::unshare(CloneFlags::CLONE_NEWNS).context("creating the plugin sandbox mount namespace")?;
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
