//! The runtime directory of rootless mode (`docs/ROOTLESS.md`, decision 8): where the shared namespace's
//! state lives. It must be private to the user, because whoever can write there can make
//! the tool kill or enter arbitrary processes.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use nix::unistd::geteuid;

/// Where the state is, and how it was found.
#[derive(Debug, Clone)]
pub struct RuntimeDir {
    /// `<runtime dir>/cnitool`.
    pub state: PathBuf,
    /// A warning to print (the fallback was used).
    pub warning: Option<String>,
}

/// Checks that `dir` is a directory (not a symbolic link) owned by the caller and not
/// writable by group or others; returns why not.
pub fn check_private(dir: &Path) -> Result<(), String> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    if meta.file_type().is_symlink() {
        return Err(format!("{} is a symbolic link", dir.display()));
    }
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let me = geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not by you (uid {me})",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o}); chmod 0700 it",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Finds (and with `create`, makes) `<runtime dir>/cnitool`:
/// `$XDG_RUNTIME_DIR` when set (refused, not skipped, when it is unsafe: the user asked for
/// it), else `/run/user/<uid>`, else `${TMPDIR:-/tmp}/cnitool-<uid>` with a warning.
pub fn resolve(create: bool) -> Result<RuntimeDir> {
    let uid = geteuid().as_raw();
    let mut warning = None;
    // dirs ignores a relative XDG_RUNTIME_DIR (as the XDG spec says); one that is set is
    // what the user asked for, so a relative one is refused, not skipped.
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        if dirs::runtime_dir().is_none() {
            bail!(
                "XDG_RUNTIME_DIR={} is not an absolute path; set it to a private directory \
                 such as /run/user/{uid}",
                Path::new(&x).display()
            );
        }
    }
    let base = match dirs::runtime_dir() {
        Some(x) => {
            check_private(&x).map_err(|why| {
                anyhow!(
                    "unsafe runtime directory: {why}; point XDG_RUNTIME_DIR at a directory \
                     that only you own and can write (mode 0700)"
                )
            })?;
            x
        }
        None => {
            let run_user = PathBuf::from(format!("/run/user/{uid}"));
            if check_private(&run_user).is_ok() {
                run_user
            } else {
                let tmp = std::env::var_os("TMPDIR")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .unwrap_or_else(|| PathBuf::from("/tmp"));
                let dir = tmp.join(format!("cnitool-{uid}"));
                if create {
                    // mkdir never follows a symbolic link in the last component; the
                    // ownership check below catches one planted by someone else.
                    match DirBuilder::new().mode(0o700).create(&dir) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => {
                            return Err(e).with_context(|| {
                                format!(
                                    "rootless mode needs a private runtime directory; set \
                                     XDG_RUNTIME_DIR (creating {} failed)",
                                    dir.display()
                                )
                            })
                        }
                    }
                }
                check_private(&dir).map_err(|why| {
                    anyhow!(
                        "rootless mode needs a private runtime directory; set XDG_RUNTIME_DIR \
                         ({why})"
                    )
                })?;
                warning = Some(format!(
                    "XDG_RUNTIME_DIR is unset and /run/user/{uid} is not usable: using {} \
                     (not cleaned at logout)",
                    dir.display()
                ));
                dir
            }
        }
    };
    // Plugins and helpers find the state by this path; resolve symbolic links in it once.
    let base = fs::canonicalize(&base).with_context(|| format!("resolving {}", base.display()))?;
    let state = base.join("cnitool");
    if create {
        match DirBuilder::new().mode(0o700).create(&state) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", state.display())),
        }
    }
    if state.exists() || create {
        check_private(&state).map_err(|why| anyhow!("unsafe state directory: {why}"))?;
    }
    Ok(RuntimeDir { state, warning })
}
