//! The reference Go cnitool's command line, `cnitool add|check|del NETWORK NETNS` with
//! everything else in the environment, parsed without clap.
//!
//! clap builds its whole command tree before parsing: it copies the ten global flags into
//! each of the seventeen subcommands (170 `Arg` clones, about 350 KiB of heap, growing and
//! moving vectors), then fills and copies the matches. Measured on `cnitool add` of loopback
//! (`docs/BENCHMARKS.md`): that is most of the tool's allocations and anonymous page faults. This
//! is the shape scripts written for the Go tool, and the benchmarks, use on every call; any
//! other command line (a flag, another verb, a value clap would have to judge) returns
//! `None` and goes to clap. `tests::plain_parse_matches_clap` checks that every command line
//! taken here gives exactly what clap gives, so the two cannot drift apart.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{env, parse_duration, Cli, Command, Global, DEFAULT_TIMEOUT};
use crate::cmd::{AttachArgs, ExistingArgs, PluginArgs, DEFAULT_IFNAME};

/// The global flags' environment variables that [`parse`] reads; `CNITOOL_SYNC_CACHE` is
/// not among them: clap judges its value (any is accepted as true or false).
const GLOBAL_ENV: [&str; 4] = [
    env::NETCONFPATH,
    env::CNI_PATH,
    env::CACHE_DIR,
    env::NETNS_DIR,
];

/// Parses `[argv0, add|check|del, NETWORK, NETNS]`, with `env` giving the environment;
/// `None` for anything else, or when a variable the flags read is set but empty or not
/// UTF-8 (clap's rules for those are left to clap).
pub fn parse(args: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Option<Cli> {
    let [_, verb, network, netns] = args else {
        return None;
    };
    let positional = |s: &OsString| {
        s.to_str()
            .filter(|s| !s.is_empty() && !s.starts_with('-'))
            .map(str::to_owned)
    };
    let (network, netns) = (positional(network)?, positional(netns)?);
    // Unset: Ok(None); set to a non-empty UTF-8 string: Ok(Some); else Err (clap decides).
    let var = |name: &str| match env(name) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .ok()
            .filter(|s| !s.is_empty())
            .map(Some)
            .ok_or(()),
    };
    if env(env::SYNC_CACHE).is_some() {
        return None;
    }
    let [netconf_dir, plugin_dir, cache_dir, netns_dir] = GLOBAL_ENV.map(var);
    let global = Global {
        netconf_dir: netconf_dir.ok()?,
        plugin_dir: plugin_dir.ok()?,
        cache_dir: cache_dir
            .ok()?
            .map_or_else(|| libcni::api::DEFAULT_CACHE_DIR.into(), PathBuf::from),
        sync_cache: false,
        netns_dir: netns_dir.ok()?.map(PathBuf::from),
        timeout: parse_duration(DEFAULT_TIMEOUT).ok()?,
        output: None,
        trace: None,
        verbose: false,
        quiet: false,
    };
    let attach = AttachArgs {
        network,
        netns: Some(netns),
        ifname: var(env::CNI_IFNAME)
            .ok()?
            .unwrap_or_else(|| DEFAULT_IFNAME.into()),
        pid: None,
        container_id: None,
        plugin: PluginArgs {
            args: Vec::new(),
            cni_args: var(env::CNI_ARGS).ok()?,
            cap_args: var(env::CAP_ARGS).ok()?,
            caps: Vec::new(),
            publish: Vec::new(),
            ip: Vec::new(),
            mac: None,
            dns: Vec::new(),
            dns_search: Vec::new(),
            dns_option: Vec::new(),
        },
    };
    let existing = |attach| ExistingArgs {
        attach,
        dry_run: false,
        current_config: false,
    };
    let command = match verb.to_str()? {
        "add" => Command::Add(crate::cmd::add::AddArgs {
            attach,
            dry_run: false,
            result_version: None,
            name: None,
            alias: Vec::new(),
        }),
        "check" => Command::Check(existing(attach)),
        "del" => Command::Del(existing(attach)),
        _ => return None,
    };
    Some(Cli { global, command })
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command as Process;

    use clap::Parser as _;

    use super::*;

    /// A command line and the environment it runs with.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a OsStr)]);

    /// Set in the child [`compare_in_child`] runs in: the command line, separated by U+001F.
    const CASE: &str = "CNITOOL_TEST_PLAIN_ARGV";

    /// Runs one case in a child process with only `env` (clap reads the process
    /// environment, which a test must not change under its siblings); returns what the child printed: `plain` when
    /// the command line was taken here and matched clap's parse, `clap` when it was left to
    /// clap.
    fn run_case(argv: &[&str], env: &[(&str, &OsStr)]) -> String {
        let out = Process::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "cli::plain::tests::compare_in_child",
                "--nocapture",
            ])
            .args(["--test-threads", "1", "-q"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(env.iter().copied())
            .env(CASE, argv.join("\u{1f}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{argv:?} {env:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.contains("VERDICT plain") {
            "plain".into()
        } else if stdout.contains("VERDICT clap") {
            "clap".into()
        } else {
            panic!("{argv:?}: the child ran no comparison: {stdout}");
        }
    }

    /// The comparison itself, in the child [`run_case`] starts (it returns at once in a
    /// normal test run, where the case variable is not set).
    #[test]
    #[allow(clippy::print_stdout)] // the verdict goes to the parent test through stdout
    fn compare_in_child() {
        let Some(case) = std::env::var_os(CASE) else {
            return;
        };
        let argv: Vec<OsString> = case
            .as_bytes()
            .split(|&b| b == 0x1f)
            .map(|a| OsStr::from_bytes(a).to_owned())
            .collect();
        match parse(&argv, |k| std::env::var_os(k)) {
            Some(plain) => {
                let clap = Cli::try_parse_from(&argv).expect("clap accepts what plain took");
                assert_eq!(format!("{plain:#?}"), format!("{clap:#?}"), "{argv:?}");
                println!("VERDICT plain");
            }
            None => println!("VERDICT clap"),
        }
    }

    #[test]
    fn plain_parse_matches_clap() {
        let s = |v: &'static str| OsStr::new(v);
        let full: Vec<(&str, &OsStr)> = vec![
            ("NETCONFPATH", s("/etc/a:/etc/b")),
            ("CNI_PATH", s("/opt/cni/bin")),
            ("CNITOOL_CACHE_DIR", s("/tmp/cache")),
            ("CNITOOL_NETNS_DIR", s("/tmp/netns")),
            ("CNI_IFNAME", s("net1")),
            ("CNI_ARGS", s("IgnoreUnknown=1;K=V")),
            ("CAP_ARGS", s(r#"{"portMappings":[]}"#)),
        ];
        let taken: &[Case<'_>] = &[
            (&["cnitool", "add", "mynet", "/run/netns/x"], &[]),
            (&["cnitool", "del", "mynet", "x"], &[]),
            (&["cnitool", "check", "my-net.1", "/proc/1/ns/net"], &[]),
            (&["cnitool", "add", "help", "version"], &[]),
            (&["cnitool", "add", "a b", "c=d"], &full),
            (&["cnitool", "del", "lo", "/run/netns/p1"], &full),
            (&["cnitool", "check", "lo", "p1"], &full),
        ];
        for (argv, env) in taken {
            assert_eq!(run_case(argv, env), "plain", "{argv:?} {env:?}");
        }
        let bad = OsStr::from_bytes(b"/tmp/\xff");
        let left: &[Case<'_>] = &[
            (&["cnitool", "add", "mynet"], &[]),
            (&["cnitool", "add", "mynet", "x", "y"], &[]),
            (&["cnitool", "add", "-o", "json"], &[]),
            (&["cnitool", "add", "mynet", "--pid"], &[]),
            (&["cnitool", "-v", "add", "mynet"], &[]),
            (&["cnitool", "status", "mynet", "x"], &[]),
            (&["cnitool", "gc", "mynet", "x"], &[]),
            (&["cnitool", "ADD", "mynet", "x"], &[]),
            (&["cnitool", "add", "", "x"], &[]),
            (
                &["cnitool", "add", "mynet", "x"],
                &[("CNITOOL_SYNC_CACHE", s("1"))],
            ),
            (&["cnitool", "add", "mynet", "x"], &[("CNI_IFNAME", s(""))]),
            (&["cnitool", "add", "mynet", "x"], &[("NETCONFPATH", bad)]),
        ];
        for (argv, env) in left {
            assert_eq!(run_case(argv, env), "clap", "{argv:?} {env:?}");
        }
    }
}
