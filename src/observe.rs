//! What the user sees of plugin calls: a progress line on a terminal, `-v` lines on stderr,
//! a succeeding plugin's stderr (as the Go tool copies it), and the `--trace` file.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::thread::{self, ThreadId};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use libcni::invoke::{ExitStatus, Observer, PluginCall, PluginStart};
use serde_json::{json, Map, Value};

/// The `--trace` file: one JSON object per line, appended.
#[derive(Debug)]
pub struct TraceFile(Mutex<File>);

impl TraceFile {
    /// Opens (creates, mode 0600) the file for appending.
    pub fn open(path: &Path) -> Result<TraceFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening trace file {}", path.display()))?;
        Ok(TraceFile(Mutex::new(file)))
    }

    fn record(&self, call: &PluginCall<'_>) {
        let env: Map<String, Value> = call
            .env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut line = json!({
            "time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            "verb": env.get("CNI_COMMAND").cloned().unwrap_or(Value::Null),
            "plugin": call.who.plugin,
            "index": call.who.index,
            "path": call.path.display().to_string(),
            "env": env,
            "stdin": text(call.stdin),
            "durationMs": call.duration.as_secs_f64() * 1000.0,
        });
        match call.outcome {
            Ok(out) => {
                line["stdout"] = text(&out.stdout).into();
                line["stderr"] = text(&out.stderr).into();
                match out.status {
                    ExitStatus::Code(c) => line["exitCode"] = c.into(),
                    ExitStatus::Signal(s) => line["signal"] = s.into(),
                }
            }
            Err(e) => line["error"] = e.to_string().into(),
        }
        if let Ok(mut f) = self.0.lock() {
            // One write per line, so concurrent calls never interleave within a line.
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            let _ = f.write_all(&bytes);
        }
    }
}

/// The plugin calls running now, shown on one line of the terminal (stderr) that is
/// rewritten as calls start and end, and erased when none runs. So nothing of it is left on
/// the screen once a verb is done, and concurrent networks (`run` ADDs them on several
/// threads) share the line instead of printing over each other.
#[derive(Debug, Default)]
pub struct Progress {
    /// Each running call (one per thread: a thread runs one plugin at a time) and its label.
    running: Mutex<Vec<(ThreadId, String)>>,
}

impl Progress {
    /// A progress line when stderr is a terminal that understands `ESC [ K` and not `-q`;
    /// otherwise none (pipes, files and CI logs get no progress text).
    pub fn for_stderr(quiet: bool) -> Option<Progress> {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        (!quiet && !dumb && io::stderr().is_terminal()).then(Progress::default)
    }

    /// `ADD mynet/bridge`, or `VERSION bridge` when the stdin names no network.
    fn label(start: &PluginStart<'_>) -> String {
        #[derive(serde::Deserialize)]
        struct Name {
            name: Option<String>,
        }
        let network = serde_json::from_slice::<Name>(start.stdin)
            .ok()
            .and_then(|n| n.name);
        match network {
            Some(net) => format!("{} {net}/{}", start.command, start.who.plugin),
            None => format!("{} {}", start.command, start.who.plugin),
        }
    }

    /// The terminal's width: `COLUMNS` when set (shells set it for their own use, and it is
    /// the user's way to ask for another width), else 80.
    fn width() -> usize {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|&w| w >= 20)
            .unwrap_or(80)
    }

    /// The line for the running calls, cut to fit in `width` columns so that it never wraps:
    /// `ESC [ K` only erases the cursor's own row.
    fn line(running: &[(ThreadId, String)], width: usize) -> String {
        let labels: Vec<&str> = running.iter().map(|(_, l)| l.as_str()).collect();
        let line = format!("cnitool: {} ...", labels.join(", "));
        if line.chars().count() < width {
            return line;
        }
        let cut: String = line.chars().take(width - 4).collect();
        cut + "..."
    }

    /// Erases the line, lets `between` print (with the line out of the way), and draws the
    /// calls still running.
    fn redraw(&self, update: impl FnOnce(&mut Vec<(ThreadId, String)>), between: impl FnOnce()) {
        let Ok(mut running) = self.running.lock() else {
            return between();
        };
        let mut err = io::stderr().lock();
        let shown = !running.is_empty();
        update(&mut running);
        if shown {
            let _ = err.write_all(b"\r\x1b[K");
        }
        between();
        if !running.is_empty() {
            let _ = err.write_all(Progress::line(&running, Progress::width()).as_bytes());
        }
        let _ = err.flush();
    }

    fn start(&self, start: &PluginStart<'_>) {
        let label = Progress::label(start);
        let me = thread::current().id();
        self.redraw(|running| running.push((me, label)), || {});
    }

    /// Ends this thread's call; `between` prints what the call has to say.
    fn end(&self, between: impl FnOnce()) {
        let me = thread::current().id();
        self.redraw(|running| running.retain(|(t, _)| *t != me), between);
    }
}

/// Shows plugin calls on stderr: on a terminal (unless `-q`) which calls are running; with
/// `-v` each call and its duration; always (unless `-q`) what a succeeding plugin printed on
/// stderr, as the Go tool does; and records every call in the `--trace` file.
#[derive(Debug)]
pub struct CliObserver {
    /// `-v`.
    pub verbose: bool,
    /// `-q`.
    pub quiet: bool,
    /// `--trace`.
    pub trace: Option<TraceFile>,
    /// The progress line, when stderr is a terminal (see [`Progress::for_stderr`]).
    pub progress: Option<Progress>,
}

impl Observer for CliObserver {
    fn plugin_start(&self, start: &PluginStart<'_>) {
        if let Some(progress) = &self.progress {
            progress.start(start);
        }
    }

    fn plugin_call(&self, call: &PluginCall<'_>) {
        if let Some(trace) = &self.trace {
            trace.record(call);
        }
        match &self.progress {
            Some(progress) => progress.end(|| self.report(call)),
            None => self.report(call),
        }
    }

    fn version_chosen(&self, network: &str, version: &str, candidates: &[String]) {
        if self.verbose {
            let line = format!(
                "cnitool: network {network:?} runs at cniVersion {version}: the highest of \
                 cniVersions {} that every plugin supports\n",
                candidates.join(", ")
            );
            let _ = io::stderr().write_all(line.as_bytes());
        }
    }
}

impl CliObserver {
    /// The `-v` line and a succeeding plugin's stderr.
    fn report(&self, call: &PluginCall<'_>) {
        let command = call
            .env
            .iter()
            .find(|(k, _)| *k == "CNI_COMMAND")
            .map_or("?", |(_, v)| v.as_str());
        if self.verbose {
            let status = match call.outcome {
                Ok(out) => match out.status {
                    ExitStatus::Code(c) => format!("exit {c}"),
                    ExitStatus::Signal(s) => format!("killed by signal {s}"),
                },
                Err(e) => e.to_string(),
            };
            // Formatted first and written at once: `eprintln!` makes one write(2) per piece
            // of the format (about 16 here) on the unbuffered stderr, and lines of concurrent
            // networks could interleave.
            let line = format!(
                "cnitool: {command} {} (plugin {} of the list, {}) {status} in {:.1?}\n",
                call.who.plugin,
                call.who.index + 1,
                call.path.display(),
                call.duration
            );
            let _ = io::stderr().write_all(line.as_bytes());
        }
        if let Ok(out) = call.outcome {
            if out.status == ExitStatus::Code(0) && !out.stderr.is_empty() && !self.quiet {
                let _ = io::stderr().write_all(&out.stderr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use libcni::invoke::PluginRef;
    use libcni::Command;

    use super::*;

    fn label(command: Command, stdin: &[u8]) -> String {
        Progress::label(&PluginStart {
            who: PluginRef {
                plugin: "bridge",
                index: 0,
            },
            command,
            path: Path::new("/usr/lib/cni/bridge"),
            env: &[],
            stdin,
        })
    }

    #[test]
    fn labels_name_the_network_when_the_stdin_does() {
        let stdin = br#"{"cniVersion":"1.0.0","name":"mynet","type":"bridge"}"#;
        assert_eq!(label(Command::Add, stdin), "ADD mynet/bridge");
        assert_eq!(
            label(Command::Version, br#"{"cniVersion":"1.1.0"}"#),
            "VERSION bridge"
        );
        assert_eq!(label(Command::Del, b"not json"), "DEL bridge");
    }

    #[test]
    fn the_line_never_wraps() {
        let me = thread::current().id();
        let running = vec![
            (me, "ADD a/bridge".to_owned()),
            (me, "ADD b/bridge".to_owned()),
        ];
        assert_eq!(
            Progress::line(&running, 80),
            "cnitool: ADD a/bridge, ADD b/bridge ..."
        );
        let cut = Progress::line(&running, 20);
        assert_eq!(cut, "cnitool: ADD a/b...");
        assert!(cut.chars().count() < 20);
    }
}
