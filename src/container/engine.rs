//! The container engines: how `docker` and `podman` are called, and what their answers mean.
//!
//! Every call goes through the engine's own command-line client (no API socket of our own), with
//! the global options the user gave (`--engine-opt`), so `cnitool` sees exactly the engine the
//! user sees. Errors keep the engine's own message ("No such image", "Cannot connect to the
//! Docker daemon", "name is already in use").

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// A container engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Docker: joins the networks through a pause container (`--network container:ID`).
    Docker,
    /// Podman: joins the named network namespace by path (`--network ns:PATH`).
    Podman,
}

impl EngineKind {
    /// The client's command name.
    pub fn command_name(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

// Which engine to call, and how (shared by `container run`, `attach` and `detach`).
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// The container engine.
    #[arg(long, value_enum)]
    pub engine: EngineKind,
    /// The engine's client (default: docker or podman, found in PATH).
    #[arg(long, value_name = "PATH")]
    pub engine_bin: Option<PathBuf>,
    /// A global option for every engine call, one argument each (repeatable), e.g.
    /// --engine-opt=-H --engine-opt=unix:///run/other.sock, or --engine-opt=--root=/srv/c.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub engine_opt: Vec<String>,
}

/// The environment variables that choose which daemon or storage an engine's client talks to
/// (docker's `DOCKER_HOST`: a rootless daemon's socket; podman's configuration files).
const ENGINE_ENV: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
];

impl EngineArgs {
    /// The engine to call, with the engine's environment variables of this process (so that
    /// a later `gc`, run without them, calls the same daemon).
    pub fn engine(&self) -> Engine {
        Engine {
            kind: self.engine,
            bin: self
                .engine_bin
                .clone()
                .unwrap_or_else(|| self.engine.command_name().into()),
            opts: self.engine_opt.clone(),
            env: ENGINE_ENV
                .iter()
                .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
                .collect(),
        }
    }
}

/// An engine client and its global options; recorded, so that `gc` and `detach` call the
/// same engine later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    /// Docker or podman.
    pub kind: EngineKind,
    /// The client binary.
    pub bin: PathBuf,
    /// Global options put before every subcommand.
    #[serde(default)]
    pub opts: Vec<String>,
    /// The engine's environment variables when it was chosen (see [`EngineArgs::engine`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
}

/// A failed engine call.
#[derive(Debug)]
pub enum EngineError {
    /// The engine says the object does not exist ("No such container", "image not known").
    Missing(String),
    /// Any other failure, with the engine's message (or why the client could not run).
    Failed(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Missing(m) | EngineError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for EngineError {}

/// A running or stopped container, as the engine's inspect shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The full ID.
    pub id: String,
    /// The name, without docker's leading `/`.
    pub name: String,
    /// The PID of its first process in the caller's PID namespace; 0 when it does not run.
    pub pid: i32,
}

impl ContainerInfo {
    /// The container's network namespace, while it runs.
    pub fn netns(&self) -> Option<PathBuf> {
        (self.pid > 0).then(|| PathBuf::from(format!("/proc/{}/ns/net", self.pid)))
    }
}

/// Whether an engine's error message says the object does not exist: docker's "No such
/// container/object/image", podman's "no such container" and "image not known".
pub fn says_missing(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("no such ") || m.contains("not known")
}

impl Engine {
    /// The client with the global options, ready for a subcommand.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.opts)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// What to call the client in messages: `docker` or the path given.
    pub fn display(&self) -> String {
        self.bin.display().to_string()
    }

    /// Runs `<client> <opts> ARGS` with no input and returns its trimmed stdout.
    ///
    /// # Errors
    /// [`EngineError::Missing`] when the engine says the object does not exist, otherwise
    /// [`EngineError::Failed`] with `<client> <subcommand>: <the engine's message>`.
    pub fn call(&self, args: &[&str]) -> Result<String, EngineError> {
        // `docker image inspect`, `podman rm`: the subcommand, up to the first option.
        let sub: Vec<&str> = args
            .iter()
            .copied()
            .take_while(|a| !a.starts_with('-'))
            .collect();
        let what = format!("{} {}", self.display(), sub.join(" "));
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => EngineError::Failed(format!(
                    "{}: not found (install {} or pass --engine-bin)",
                    self.display(),
                    self.kind.command_name()
                )),
                _ => EngineError::Failed(format!("{what}: {e}")),
            })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("See '"))
            .collect::<Vec<_>>()
            .join(" ");
        let msg = if msg.is_empty() {
            format!("{what}: exit status {}", out.status)
        } else {
            format!("{what}: {msg}")
        };
        Err(if says_missing(&msg) {
            EngineError::Missing(msg)
        } else {
            EngineError::Failed(msg)
        })
    }

    /// Inspects a container by name or ID.
    ///
    /// # Errors
    /// Those of [`Engine::call`]; [`EngineError::Missing`] when there is no such container.
    pub fn inspect_container(&self, name: &str) -> Result<ContainerInfo, EngineError> {
        let out = self.call(&[
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Id}} {{.State.Pid}} {{.Name}}",
            "--",
            name,
        ])?;
        let mut parts = out.splitn(3, ' ');
        let (Some(id), Some(pid)) = (parts.next(), parts.next()) else {
            return Err(EngineError::Failed(format!(
                "{} inspect {name}: unexpected answer {out:?}",
                self.display()
            )));
        };
        let pid = pid.parse().map_err(|_| {
            EngineError::Failed(format!(
                "{} inspect {name}: unexpected PID in {out:?}",
                self.display()
            ))
        })?;
        let name = parts
            .next()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_owned();
        Ok(ContainerInfo {
            id: id.to_owned(),
            name,
            pid,
        })
    }

    /// Checks that an image exists locally (nothing is ever pulled).
    ///
    /// # Errors
    /// The engine's message, saying that the image must be there already when it is missing.
    pub fn require_image(&self, image: &str) -> Result<()> {
        match self.call(&["image", "inspect", "--format", "{{.Id}}", "--", image]) {
            Ok(_) => Ok(()),
            Err(EngineError::Missing(m)) => Err(anyhow!(
                "pause image {image:?} is not present locally and cnitool never pulls it \
                 (load or build it, or choose another with --pause-image): {m}"
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a detached pause container `name` from `image` without networking
    /// (`--network none`: the CNI networks are its only ones) and returns it.
    ///
    /// # Errors
    /// The engine's message (name in use, image missing, daemon not reachable).
    pub fn start_pause(&self, name: &str, image: &str) -> Result<ContainerInfo> {
        self.call(&[
            "run",
            "--detach",
            "--network",
            "none",
            "--name",
            name,
            "--label",
            "io.cnitool.pause=true",
            "--",
            image,
            "sleep",
            "2147483647",
        ])?;
        let info = self.inspect_container(name)?;
        if info.pid <= 0 {
            return Err(anyhow!(
                "pause container {name} stopped right after it started (does {image:?} have sleep?)"
            ));
        }
        Ok(info)
    }

    /// Removes a container at once (SIGKILL); one that is already gone is fine.
    ///
    /// # Errors
    /// The engine's message.
    pub fn remove(&self, container: &str) -> Result<(), EngineError> {
        let args: &[&str] = match self.kind {
            EngineKind::Docker => &["rm", "--force", "--volumes", "--", container],
            // Without --time 0, podman waits 10s for SIGTERM first.
            EngineKind::Podman => &["rm", "--force", "--time", "0", "--", container],
        };
        match self.call(args) {
            Ok(_) | Err(EngineError::Missing(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends SIGKILL to a container; one that is gone or not running is fine.
    pub fn kill(&self, container: &str) {
        let _ = self.call(&["kill", "--", container]);
    }
}

/// The container ID an engine wrote to a `--cidfile`, if it did.
pub fn read_cidfile(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_messages() {
        for m in [
            "docker inspect: Error: No such object: x",
            "docker inspect: Error response from daemon: No such container: x",
            "podman inspect: Error: inspecting object: no such container nosuch",
            "podman image: Error: busybox2: image not known",
        ] {
            assert!(says_missing(m), "{m}");
        }
        for m in [
            "docker inspect: Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?",
            "docker run: Error response from daemon: Conflict. The container name \"/p\" is already in use",
        ] {
            assert!(!says_missing(m), "{m}");
        }
    }
}
