//! Driving the real `cnitool` binary: a command line built up, run to the end within a bound
//! (or started in the background, on a terminal, into a closed pipe), and what it did.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a single `cnitool` run may take before the test kills it and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The exit codes `cnitool --help` documents for a failure.
pub const DOCUMENTED_FAILURES: &[i32] = &[1, 2, 3, 4, 5, 125, 130, 143];

/// What one `cnitool` run did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// The signal that killed it.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the start to its exit.
    pub elapsed: Duration,
}

impl Run {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Asserts an exit code and a message substring on stderr (`error: ...`, one line).
    #[track_caller]
    pub fn fails(self, code: i32, msg: &str) -> Run {
        assert_eq!(self.code, code, "exit code: {self:#?}");
        assert!(self.stderr.contains(msg), "stderr lacks {msg:?}: {self:#?}");
        let errors = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .count();
        assert_eq!(errors, 1, "one error line: {self:#?}");
        self
    }

    /// Whether it failed the way users are promised: a documented exit code, exactly one
    /// `error: ` line, no panic, no signal.
    ///
    /// # Errors
    /// What is wrong, with the run.
    pub fn clear_failure(&self) -> Result<(), String> {
        if self.signal.is_some() || self.stderr.contains("panicked") {
            return Err(format!("crashed: {self:#?}"));
        }
        if !DOCUMENTED_FAILURES.contains(&self.code) {
            return Err(format!("undocumented exit code: {self:#?}"));
        }
        let errors = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .count();
        if errors != 1 {
            return Err(format!("want one `error:` line, got {errors}: {self:#?}"));
        }
        Ok(())
    }

    /// The stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A `cnitool` command line being built.
#[derive(Debug)]
pub struct Cnitool {
    cmd: Command,
    /// stdout was redirected already (else it is piped and collected).
    stdout_set: bool,
}

impl Cnitool {
    /// The binary at `bin` (a test gets it as `env!("CARGO_BIN_EXE_cnitool")`), with none of
    /// the variables it reads inherited from the test runner ([`crate::CNITOOL_ENV`]).
    pub fn new(bin: impl AsRef<OsStr>) -> Cnitool {
        let mut cmd = Command::new(bin);
        for var in crate::CNITOOL_ENV {
            cmd.env_remove(var);
        }
        Cnitool {
            cmd,
            stdout_set: false,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, a: impl IntoIterator<Item = S>) -> Self {
        self.cmd.args(a);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// `cmd` with this command line's environment and working directory.
    fn inherit(&self, mut cmd: Command) -> Command {
        for (k, v) in self.cmd.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = self.cmd.get_current_dir() {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs cnitool under another program: `prefix... cnitool ARGS...`, same environment.
    pub fn under(self, prefix: &[&str]) -> Self {
        let mut cmd = Command::new(prefix[0]);
        cmd.args(&prefix[1..])
            .arg(self.cmd.get_program())
            .args(self.cmd.get_args());
        Cnitool {
            cmd: self.inherit(cmd),
            stdout_set: self.stdout_set,
        }
    }

    /// Runs it to the end (killing it after [`RUN_LIMIT`] and failing).
    pub fn run(self) -> Run {
        self.start().wait()
    }

    /// Runs it with stdout a pipe nobody reads any more (its read end closed before the
    /// start, as after `| head -1` has exited): every write gets EPIPE. `Run::stdout` is empty.
    pub fn run_with_closed_stdout(mut self) -> Run {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        self.cmd.stdout(Stdio::from(write));
        self.stdout_set = true;
        self.run()
    }

    /// Runs it on a terminal: under util-linux `script`, which gives it a pty for stdin,
    /// stdout and stderr. `Run::stdout` is everything the terminal received (both streams,
    /// with the pty's `\r\n` line ends); `Run::stderr` is `script`'s own.
    pub fn run_in_pty(self) -> Run {
        let quote = |s: &OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
        let line: Vec<String> = std::iter::once(self.cmd.get_program())
            .chain(self.cmd.get_args())
            .map(quote)
            .collect();
        let mut script = Command::new("script");
        script.args(["-qec", &line.join(" "), "/dev/null"]);
        let mut script = self.inherit(script);
        // A terminal that understands the progress line's escape sequence.
        script.env("TERM", "xterm").env_remove("COLUMNS");
        Cnitool {
            cmd: script,
            stdout_set: false,
        }
        .run()
    }

    /// Starts it with stdout and stderr discarded (for tests that kill it).
    pub fn spawn_quiet(mut self) -> Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning cnitool")
    }

    /// Starts it in the background (stdout piped unless set, stderr piped).
    pub fn start(mut self) -> Started {
        if !self.stdout_set {
            self.cmd.stdout(Stdio::piped());
        }
        let started = Instant::now();
        let mut child = self
            .cmd
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning cnitool");
        let out = child.stdout.take();
        let err = child.stderr.take();
        Started {
            child,
            what: format!("{:?}", self.cmd),
            started,
            readers: (drain(out), drain(err)),
        }
    }
}

/// Reads a child's pipe to the end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_end(&mut s).ok();
        }
        s
    })
}

/// A `cnitool` running in the background ([`Cnitool::start`]).
#[derive(Debug)]
pub struct Started {
    child: Child,
    what: String,
    started: Instant,
    readers: (JoinHandle<Vec<u8>>, JoinHandle<Vec<u8>>),
}

impl Started {
    /// Its PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for it to end (killing it after [`RUN_LIMIT`] and failing).
    pub fn wait(mut self) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for cnitool") {
                break status;
            }
            if self.started.elapsed() > RUN_LIMIT {
                self.child.kill().ok();
                self.child.wait().ok();
                panic!("cnitool ran longer than {RUN_LIMIT:?}: {}", self.what);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        let stdout = self.readers.0.join().unwrap();
        let stderr = self.readers.1.join().unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        Run {
            code: status.code().unwrap_or(-1),
            signal: status.signal(),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
            elapsed,
        }
    }
}
