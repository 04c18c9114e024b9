//! Starting the command of a rootless run (ROOTLESS.md §7.2.5): `cnitool __rootless-cmd`,
//! spawned by the runner's command thread (with `PR_SET_PDEATHSIG`), enters the holder's user
//! namespace, unshares a mount namespace from the runner's *current* view (the holder's is a
//! stale snapshot: measured), joins the run's netns, puts the uplink's DNS forwarder over
//! `/etc/resolv.conf` there, and execs the command as uid 0 of the user namespace.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result};
use clap::Args;
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::sys;

// Arguments of the hidden `__rootless-cmd`.
#[derive(Debug, Args)]
pub struct CmdArgs {
    /// Descriptor of the holder's user namespace.
    pub user_fd: i32,
    /// Descriptor of the run's network namespace.
    pub net_fd: i32,
    /// The runner's PID (the parent-death signal must come from it).
    pub parent: i32,
    /// File to bind over /etc/resolv.conf.
    #[arg(long)]
    pub resolv: Option<PathBuf>,
    /// Hostname (in a UTS namespace of its own).
    #[arg(long)]
    pub hostname: Option<String>,
    /// The command.
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

/// The helper's main: returns only on failure (exit 125 for setup, 126/127 for exec).
pub fn main(args: CmdArgs) -> ExitCode {
    if let Err(e) = enter(&args) {
        eprintln!("cnitool: preparing the command's namespaces: {e:#}");
        return ExitCode::from(125);
    }
    let err = Command::new(&args.argv[0]).args(&args.argv[1..]).exec();
    let (code, what) = match err.kind() {
        std::io::ErrorKind::NotFound => (127, "command not found".to_owned()),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied".to_owned()),
        _ => (125, format!("could not start the command: {err}")),
    };
    eprintln!("cnitool: {}: {what}", args.argv[0]);
    ExitCode::from(code)
}

fn enter(args: &CmdArgs) -> Result<()> {
    let user = sys::take_inherited_fd(args.user_fd);
    let net = sys::take_inherited_fd(args.net_fd);
    setns(&user, CloneFlags::CLONE_NEWUSER).context("entering the rootless user namespace")?;
    // Changing credentials (setns into a user namespace) clears the parent-death signal:
    // set it again, then make sure the runner did not die in between.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .context("setting the parent-death signal")?;
    if nix::unistd::getppid().as_raw() != args.parent {
        anyhow::bail!("the runner exited");
    }
    let mut flags = CloneFlags::CLONE_NEWNS;
    if args.hostname.is_some() {
        flags |= CloneFlags::CLONE_NEWUTS;
    }
    unshare(flags).context("creating the command's mount namespace")?;
    libcni::netns::make_mounts_slave()?;
    setns(&net, CloneFlags::CLONE_NEWNET).context("joining the run's network namespace")?;
    drop((user, net));
    // The netns is owned by our user namespace, so a fresh sysfs (showing its interfaces)
    // may be mounted over the host's; not fatal where a kernel refuses it.
    let _ = mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    if let Some(resolv) = &args.resolv {
        crate::cmd::run::child::bind_resolv_conf(resolv)?;
    }
    if let Some(name) = &args.hostname {
        nix::unistd::sethostname(name).context("setting the hostname")?;
    }
    Ok(())
}

// Arguments of the hidden `__rootless-uplink`.
#[derive(Debug, Args)]
pub struct UplinkExecArgs {
    /// Descriptor of the holder's user namespace.
    pub user_fd: i32,
    /// The uplink's command line.
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

/// Enters the holder's user namespace and execs the uplink (slirp4netns): its
/// `--enable-sandbox` needs to be uid 0 of a user namespace (`setegid(0)` fails otherwise),
/// as it is under podman, which runs it from inside its rootless user namespace. Descriptors
/// the uplink needs (ready-fd, exit-fd) pass through untouched.
pub fn uplink_main(args: UplinkExecArgs) -> ExitCode {
    let user = sys::take_inherited_fd(args.user_fd);
    if let Err(e) = setns(&user, CloneFlags::CLONE_NEWUSER) {
        eprintln!("cnitool: entering the rootless user namespace for the uplink: {e}");
        return ExitCode::from(125);
    }
    drop(user);
    let err = Command::new(&args.argv[0]).args(&args.argv[1..]).exec();
    eprintln!("cnitool: starting {}: {err}", args.argv[0]);
    ExitCode::from(127)
}
