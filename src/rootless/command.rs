//! The helper that starts the rootless uplink (`docs/ROOTLESS.md`, decision 1) inside the holder's user
//! namespace: `cnitool __rootless-uplink USERFD -- slirp4netns ...`. (The run's command is
//! started by the plugin executor: see [`super::executor`].)

use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitCode};

use clap::Args;

use crate::ns::{self, CloneFlags};
use crate::sys;

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
    if let Err(e) = ns::enter(&user, CloneFlags::CLONE_NEWUSER) {
        crate::diag!("cnitool: entering the rootless user namespace for the uplink: {e}");
        return ExitCode::from(125);
    }
    drop(user);
    let err = Command::new(&args.argv[0]).args(&args.argv[1..]).exec();
    crate::diag!("cnitool: starting {}: {err}", args.argv[0]);
    ExitCode::from(127)
}
