//! What the user sees of plugin calls: `-v` lines on stderr, a succeeding plugin's stderr
//! (as the Go tool copies it), and the `--trace` file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use libcni::invoke::{ExitStatus, Observer, PluginCall};
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

/// Shows plugin calls on stderr: with `-v` each call and its duration; always (unless `-q`)
/// what a succeeding plugin printed on stderr, as the Go tool does; and records every call
/// in the `--trace` file.
#[derive(Debug)]
pub struct CliObserver {
    /// `-v`.
    pub verbose: bool,
    /// `-q`.
    pub quiet: bool,
    /// `--trace`.
    pub trace: Option<TraceFile>,
}

impl Observer for CliObserver {
    fn plugin_call(&self, call: &PluginCall<'_>) {
        if let Some(trace) = &self.trace {
            trace.record(call);
        }
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
            eprintln!(
                "cnitool: {command} {} (plugin {} of the list, {}) {status} in {:.1?}",
                call.who.plugin,
                call.who.index + 1,
                call.path.display(),
                call.duration
            );
        }
        if let Ok(out) = call.outcome {
            if out.status == ExitStatus::Code(0) && !out.stderr.is_empty() && !self.quiet {
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}
