//! Starting the command inside the run's namespaces.
//!
//! A dedicated thread joins the network namespace, unshares a mount namespace (and a UTS
//! namespace for `--hostname`), prepares `/sys`, `/etc/resolv.conf` and `/etc/hosts` there, and spawns the
//! command, which inherits all of it. The thread then waits for the command: it must outlive
//! it, because `PR_SET_PDEATHSIG` fires when the spawning *thread* ends. The caller's
//! namespaces are never touched.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc::Sender;
use std::thread;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::ns::{self, CloneFlags};
use crate::sys;

/// What the command thread reports.
#[derive(Debug)]
pub enum ChildEvent {
    /// The command runs with this PID.
    Started(i32),
    /// Its namespaces or mounts could not be prepared: the tool's failure, not the command's.
    SetupFailed(io::Error),
    /// It could not be executed (not found, not executable, ...).
    Failed(io::Error),
    /// It ended.
    Exited(io::Result<ExitStatus>),
}

/// How to start the command.
#[derive(Debug)]
pub struct Spec {
    /// The network namespace to run in.
    pub netns: PathBuf,
    /// A file to bind-mount over `/etc/resolv.conf`.
    pub resolv_conf: Option<PathBuf>,
    /// A file to bind-mount over `/etc/hosts`.
    pub hosts: Option<PathBuf>,
    /// A hostname, in a UTS namespace of its own.
    pub hostname: Option<String>,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Start it in a process group of its own (see [`super::signals::Group`]).
    pub own_group: bool,
}

/// Starts the command thread; events arrive on `tx`, wrapped by `wrap`.
pub fn spawn<E: Send + 'static>(
    spec: Spec,
    tx: Sender<E>,
    wrap: fn(ChildEvent) -> E,
) -> io::Result<()> {
    thread::Builder::new()
        .name("cnitool-cmd".into())
        .spawn(move || {
            let mut cmd = match enter(&spec) {
                Ok(()) => command(&spec.argv, spec.own_group),
                Err(e) => {
                    let _ = tx.send(wrap(ChildEvent::SetupFailed(e)));
                    return;
                }
            };
            match cmd.spawn() {
                Err(e) => {
                    let _ = tx.send(wrap(ChildEvent::Failed(e)));
                }
                Ok(mut child) => {
                    let _ = tx.send(wrap(ChildEvent::Started(child.id() as i32)));
                    let _ = tx.send(wrap(ChildEvent::Exited(child.wait())));
                }
            }
        })
        .map(drop)
}

fn command(argv: &[String], own_group: bool) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if own_group {
        cmd.process_group(0);
    }
    sys::kill_with_parent(&mut cmd);
    cmd
}

/// Moves this thread into the run's namespaces and prepares its mount view.
fn enter(spec: &Spec) -> io::Result<()> {
    let netns = File::open(&spec.netns)?;
    ns::enter(&netns, CloneFlags::CLONE_NEWNET).map_err(io_err("joining the network namespace"))?;
    let mut flags = CloneFlags::CLONE_NEWNS;
    if spec.hostname.is_some() {
        flags |= CloneFlags::CLONE_NEWUTS;
    }
    ns::unshare(flags).map_err(io_err("creating a private mount namespace"))?;
    // Nothing done in this view may propagate back to the host's mounts.
    libcni::netns::make_mounts_slave().map_err(io::Error::other)?;
    // As `ip netns exec` does: /sys shows the namespace's own interfaces.
    if umount2("/sys", MntFlags::MNT_DETACH).is_ok() {
        let _ = mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::empty(),
            None::<&str>,
        );
    }
    if let Some(resolv) = &spec.resolv_conf {
        bind_resolv_conf(resolv)?;
    }
    if let Some(hosts) = &spec.hosts {
        bind_hosts(hosts)?;
    }
    if let Some(name) = &spec.hostname {
        nix::unistd::sethostname(name).map_err(io_err("setting the hostname"))?;
    }
    Ok(())
}

/// Bind-mounts `file` over `/etc/resolv.conf`. When that is a symbolic link (systemd-resolved),
/// the mount lands on its target, which must exist; a dangling link cannot be covered, and
/// the error says so.
pub(crate) fn bind_resolv_conf(file: &Path) -> io::Result<()> {
    const RESOLV: &str = "/etc/resolv.conf";
    mount(
        Some(file),
        RESOLV,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        let why = match std::fs::read_link(RESOLV) {
            Ok(target) if e == nix::Error::ENOENT => format!(
                "it is a symbolic link to {}, which does not exist",
                target.display()
            ),
            _ => e.to_string(),
        };
        io::Error::new(
            io::Error::from(e).kind(),
            format!("cannot put the DNS settings of the results over {RESOLV}: {why}"),
        )
    })
}

/// Bind-mounts the run's hosts `file` over `/etc/hosts`.
pub(crate) fn bind_hosts(file: &Path) -> io::Result<()> {
    mount(
        Some(file),
        "/etc/hosts",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(io_err("putting the run's hosts file over /etc/hosts"))
}

fn io_err(what: &'static str) -> impl Fn(nix::Error) -> io::Error {
    move |e| io::Error::new(io::Error::from(e).kind(), format!("{what}: {e}"))
}
