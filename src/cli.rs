//! The command line: global flags and the subcommands (clap definitions only).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cmd;
use crate::output::Output;
use crate::rootless;

pub mod plain;

/// Exit codes, documented in `--help` and the man page.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success
  1    internal or I/O error
  2    usage or validation error (bad argument, identifier, CNI_ARGS, CAP_ARGS)
  3    configuration error (netconf missing or invalid, plugin not installed, version)
  4    a plugin failed (its CNI code is in the message)
  5    state conflict (already attached, interface held by another network, not attached,
       unusable or own namespace)
  125  run: cnitool failed; 126/127: the command could not be run or was not found
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM, 129 by SIGHUP (128+N): add, del, check,
       gc, status and smoke stop the running plugin; add rolls back; the message says what
       is left

Environment:
  NETCONFPATH        netconf directories, ':'-separated (default /etc/cni/net.d, ~/.config/cni/net.d)
  CNI_PATH           plugin directories, ':'-separated (default /opt/cni/bin:/usr/libexec/cni:/usr/lib/cni)
  CNI_IFNAME         interface name (default eth0)
  CNI_ARGS           extra plugin arguments, K=V;K=V
  CAP_ARGS           capability arguments, a JSON object
  CNITOOL_CACHE_DIR  result cache directory (default /var/lib/cni)
  CNITOOL_NETNS_DIR  named network namespaces (default /run/netns; $XDG_RUNTIME_DIR/netns for users)

Files:
  /etc/cni/net.d/*.conflist, *.conf, *.json   network configurations
  /var/lib/cni/results/NET-CONTAINER-IFNAME   result cache, shared with the Go cnitool
  /var/lib/cni/cnitool-runs/                  records of running `cnitool run`s (for gc)
  /var/lib/cni/cnitool-containers/            records of `container run` and `attach` (for gc)
  /run/netns/NAME                             named network namespaces (as iproute2)

Examples:
  cnitool run -- ip -brief addr                      a command on the built-in network
  cnitool netns create web && cnitool add mynet web  attach a named namespace
  cnitool add -p 8080:80 mynet /run/netns/web        publish a port through portmap
  cnitool del mynet web                              detach (uses what ADD recorded)
  cnitool container run --engine docker --net mynet -- --rm -it alpine sh
                                                     a container on mynet, torn down after
  cnitool validate --strict --junit report.xml       check every netconf (CI gate)";

/// Bring up CNI networks by hand, in CI and around container engines.
#[derive(Debug, Parser)]
#[command(name = "cnitool", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Flags shared by every subcommand (listed apart in every `-h`).
    #[command(flatten, next_help_heading = "Global options")]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The environment variables the flags read, named once for clap and the plain parser.
pub mod env {
    /// `--netconf-dir`.
    pub const NETCONFPATH: &str = "NETCONFPATH";
    /// `--plugin-dir`.
    pub const CNI_PATH: &str = "CNI_PATH";
    /// `--cache-dir`.
    pub const CACHE_DIR: &str = "CNITOOL_CACHE_DIR";
    /// `--sync-cache`.
    pub const SYNC_CACHE: &str = "CNITOOL_SYNC_CACHE";
    /// `--netns-dir`.
    pub const NETNS_DIR: &str = "CNITOOL_NETNS_DIR";
    /// `-i`.
    pub const CNI_IFNAME: &str = "CNI_IFNAME";
    /// `--cni-args`.
    pub const CNI_ARGS: &str = "CNI_ARGS";
    /// `--cap-args`.
    pub const CAP_ARGS: &str = "CAP_ARGS";
}

/// The default of `--timeout`.
pub const DEFAULT_TIMEOUT: &str = "5m";

// Flags shared by every subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Netconf directories, searched in order (':'-separated).
    #[arg(long, global = true, env = env::NETCONFPATH, value_name = "DIRS")]
    pub netconf_dir: Option<String>,
    /// Plugin directories, searched in order (':'-separated).
    #[arg(long, global = true, env = env::CNI_PATH, value_name = "DIRS")]
    pub plugin_dir: Option<String>,
    /// Result cache directory.
    #[arg(
        long,
        global = true,
        env = env::CACHE_DIR,
        value_name = "DIR",
        default_value = libcni::api::DEFAULT_CACHE_DIR
    )]
    pub cache_dir: PathBuf,
    /// Flush every cache and record write to disk (fsync) before going on. Without it writes
    /// are atomic and their write-back is started, not waited for.
    #[arg(long, global = true, env = env::SYNC_CACHE, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub sync_cache: bool,
    /// Directory of named network namespaces.
    #[arg(long, global = true, env = env::NETNS_DIR, value_name = "DIR")]
    pub netns_dir: Option<PathBuf>,
    /// Time limit for each plugin call (e.g. 30s, 500ms, 2m; 0 = none).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, default_value = DEFAULT_TIMEOUT)]
    pub timeout: Duration,
    /// Output format.
    #[arg(short, long, global = true, value_enum)]
    pub output: Option<Output>,
    /// Append one JSON line per plugin call (verb, plugin, env, stdin, stdout, stderr, exit
    /// status, duration) to FILE, to share or replay a failure.
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Show each plugin call and its duration on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print nothing but errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

// The subcommands.
// `defer`: a subcommand's arguments are built only when it is the one parsed, which keeps
// start-up lean (measured: 0.2 ms and 30 page faults less per run). A doc comment on an
// `Args` struct or `Subcommand` enum of the tree would then replace the description its
// parent gives, so those carry plain comments.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Attach a container's network namespace to a network (CNI ADD).
    Add(cmd::add::AddArgs),
    /// Check an attachment (CNI CHECK).
    Check(cmd::check::CheckArgs),
    /// Detach a container from a network (CNI DEL).
    Del(cmd::del::DelArgs),
    /// Remove stale attachments whose namespace is gone (CNI GC).
    ///
    /// A DEL without the namespace may leave packet-filter rules behind (bridge cannot find
    /// the addresses to unmasquerade): the rules that still name a removed attachment's
    /// container ID are listed, and gc exits 4.
    Gc(cmd::gc::GcArgs),
    /// Ask a network's plugins whether they are ready (CNI STATUS).
    Status(cmd::status::StatusArgs),
    /// List every network in the config directories (and the built-in one).
    #[command(visible_alias = "ls")]
    List(cmd::list::ListArgs),
    /// Show a network list exactly as it will be used, as JSON (the file it came from on
    /// stderr; with -o json, both in one document).
    Show(cmd::show::ShowArgs),
    /// Check netconfs against the installed plugins, the reference plugins' rules and this
    /// host (exit 3 on any error).
    ///
    /// Without root and without running a plugin but VERSION (asked once per binary). For
    /// the reference plugins (bridge, ptp, macvlan, ipvlan, vlan, host-device, loopback,
    /// dummy, tap, host-local, static, dhcp, portmap, firewall, tuning, bandwidth, sbr,
    /// vrf): field names and types (an unknown key names the nearest known one), values
    /// (subnets, ranges, gateways, routes, MTU, MAC addresses, VLAN IDs, modes, rates and
    /// bursts, tuning sysctls), capabilities the plugin does not read; on this host (unless
    /// --no-host-checks): a master/device interface that does not exist, the dhcp daemon's
    /// socket, subnets on the host's routes or addresses. Across networks: one name in two
    /// files (the first in lookup order wins), overlapping subnets, a bridge shared by
    /// different subnets. Other plugin types get the generic checks only.
    ///
    /// Each finding has a severity (error: ADD would fail or the network cannot work;
    /// warning: probably not what is meant; info), the file, the field as a jq path, the
    /// message and the fix when one is obvious. Exit 0 without errors (--strict: without
    /// warnings either), else 3. -q prints only warnings and errors (the table: nothing
    /// when clean); -o json gives {"ok", "findings": [{severity, network, plugin, file,
    /// path, message, fix}]}; --junit FILE a JUnit XML report besides. A netconf directory
    /// given that does not exist, or no netconf at all, is an error.
    Validate(cmd::validate::ValidateArgs),
    /// Check the host the networks run on (read-only; exit 3 on any FAIL).
    Doctor(cmd::doctor::DoctorArgs),
    /// Prove that networks work end to end and leave nothing behind (exit 3 on any failed
    /// check).
    Smoke(cmd::smoke::SmokeArgs),
    /// Show the tool's version, the spec versions and (--plugins) the plugins' versions.
    Version(cmd::version::VersionArgs),
    /// Show what the cache says is attached.
    Attachments(cmd::attachments::AttachmentsArgs),
    /// The names of the live runs on each network (`run --name`, `--alias`) and their
    /// addresses.
    Names(cmd::names::NamesArgs),
    /// Persistent named network namespaces (iproute2-compatible).
    Netns(cmd::netns::NetnsArgs),
    /// Run a command on CNI networks in a private network namespace, then clean up.
    Run(cmd::run::RunArgs),
    /// Put docker or podman containers on CNI networks (run, attach, detach).
    Container(cmd::container::ContainerArgs),
    /// The shared rootless network namespace of `run` for unprivileged users.
    Rootless(cmd::rootless::RootlessArgs),
    /// Internal: the rootless namespace holder.
    #[command(name = "__rootless-holder", hide = true)]
    RootlessHolder(rootless::HolderArgs),
    /// Internal: the rootless plugin executor.
    #[command(name = "__rootless-sandbox", hide = true)]
    RootlessSandbox(rootless::SandboxArgs),
    /// Internal: holds a rootless run netns for a container (waits until killed).
    #[command(name = "__rootless-keep", hide = true)]
    RootlessKeep,
    /// Internal: starts the rootless uplink in the holder's user namespace.
    #[command(name = "__rootless-uplink", hide = true)]
    RootlessUplink(rootless::command::UplinkExecArgs),
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (examples: 30s, 500ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// A "required argument missing" error as if no environment variable were set. clap counts a
/// flag whose value came from the environment (`NETCONFPATH`, `CNI_PATH`, ...) as given, and
/// shows it in the usage line of the error as if it were required; the same command line
/// parsed without the variables gives the usage users expect. Other errors are left as they
/// are.
pub fn usage_without_env(err: clap::Error, argv: &[std::ffi::OsString]) -> clap::Error {
    use clap::CommandFactory as _;
    if err.kind() != clap::error::ErrorKind::MissingRequiredArgument {
        return err;
    }
    fn strip(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.env(None)).mut_subcommands(strip)
    }
    let mut cmd = Cli::command();
    // Built first: the subcommands' deferred arguments and the global ones exist then.
    cmd.build();
    match strip(cmd).try_get_matches_from(argv) {
        Err(again) if again.kind() == err.kind() => again,
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
