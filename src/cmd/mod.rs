//! The verbs, one file each (nested subcommands in a folder), and the steps they share:
//! the target and the attachment ([`target`]), the plugin arguments and capability flags
//! ([`caps`]), the networks of `run`, the commands a message tells to run next, dry runs.
//! The [`Context`] is in `src/context.rs`, the error kinds in `src/error.rs`.

pub mod add;
pub mod attachments;
pub mod check;
pub mod container;
pub mod del;
pub mod doctor;
pub mod gc;
pub mod list;
pub mod names;
pub mod netns;
pub mod rootless;
pub mod run;
pub mod show;
pub mod smoke;
pub mod status;
pub mod validate;
pub mod version;

mod caps;
mod target;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use libcni::{NetworkConfigList, RuntimeConf};

pub use self::caps::PluginArgs;
pub use self::target::{
    absolute, container_id_for, list_for_teardown, netns_arg, AttachArgs, ExistingArgs, Target,
};
pub use crate::context::{default_netconf_dirs, default_netns_dir, Context, DEFAULT_IFNAME};
use crate::output::Output;

/// The `cnitool del` command line that deletes the attachment of `network` to `target` as
/// `rt` describes it (for messages telling how to finish): the cache directory when it is not
/// the default, `-i` and `--container-id` when they are not what `del` would take by itself,
/// each word quoted for a POSIX shell where it needs it.
pub fn del_command(ctx: &Context, network: &str, target: &Target, rt: &RuntimeConf) -> String {
    let cache_dir = ctx.cni.cache().dir();
    let cache_dir = (cache_dir != Path::new(libcni::api::DEFAULT_CACHE_DIR)).then_some(cache_dir);
    del_words(cache_dir, network, target, rt)
}

fn del_words(cache_dir: Option<&Path>, network: &str, target: &Target, rt: &RuntimeConf) -> String {
    let mut words = vec!["cnitool".to_owned()];
    if let Some(dir) = cache_dir {
        words.push("--cache-dir".into());
        words.push(shell_word(&dir.to_string_lossy()));
    }
    words.push("del".into());
    words.push(shell_word(network));
    words.push(shell_word(&target.path.to_string_lossy()));
    if rt.ifname != DEFAULT_IFNAME {
        words.push("-i".into());
        words.push(shell_word(&rt.ifname));
    }
    if rt.container_id != container_id_for(&target.path) {
        words.push("--container-id".into());
        words.push(shell_word(&rt.container_id));
    }
    words.join(" ")
}

/// Runs a listing command (`iptables -V`, `ip -o link`, ...) and returns its stdout when it
/// ran and succeeded; its stderr is dropped.
pub fn command_stdout(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `cnitool gc` command line for this cache (for messages telling how to finish).
pub fn gc_command(ctx: &Context) -> String {
    let cache_dir = ctx.cni.cache().dir();
    if cache_dir == Path::new(libcni::api::DEFAULT_CACHE_DIR) {
        "cnitool gc".into()
    } else {
        format!(
            "cnitool --cache-dir {} gc",
            shell_word(&cache_dir.to_string_lossy())
        )
    }
}

/// `s` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Prints the plugin calls `command` would make (`--dry-run`).
pub fn print_dry_run(
    ctx: &Context,
    command: libcni::Command,
    list: &NetworkConfigList,
    rt: &RuntimeConf,
) -> Result<ExitCode> {
    let plan = ctx.cni.plan_network_list(command, list, rt)?;
    crate::output::print_plan(&plan, ctx.output.unwrap_or(Output::Table))?;
    Ok(ExitCode::SUCCESS)
}

/// The networks to attach (`--net NAME[:IFNAME]`) with their interface names.
pub fn resolve_networks(
    nets: &[String],
    ctx: &Context,
) -> Result<Vec<(NetworkConfigList, String)>> {
    if nets.is_empty() {
        let listing = libcni::conf::list_networks(&ctx.netconf_dirs);
        let names = listing.names();
        if names.is_empty() {
            return Ok(vec![(ctx.builtin_list()?, DEFAULT_IFNAME.into())]);
        }
        return Err(crate::usage!(
            "no --net given and netconfs exist, so the built-in network is not used; \
             networks available: {} (pick with --net NAME, or --net {} for the built-in one)",
            names.join(", "),
            crate::builtin::NAME
        ));
    }
    let mut out = Vec::new();
    for (i, spec) in nets.iter().enumerate() {
        let (name, ifname) = match spec.split_once(':') {
            Some((n, i)) => (n, i.to_owned()),
            None => (spec.as_str(), format!("eth{i}")),
        };
        libcni::validate::ifname(&ifname)?;
        if out
            .iter()
            .any(|(_, f): &(NetworkConfigList, String)| *f == ifname)
        {
            return Err(crate::usage!(
                "--net {spec}: interface {ifname} is used twice"
            ));
        }
        out.push((ctx.load_list(name)?, ifname));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn del_command_repeats_what_is_needed_quoted() {
        let target = |p: &str| Target {
            path: PathBuf::from(p),
            container_id: container_id_for(Path::new(p)),
        };
        let rt = |t: &Target, ifname: &str, id: &str| RuntimeConf {
            container_id: id.to_owned(),
            netns: t.path.clone(),
            ifname: ifname.to_owned(),
            ..RuntimeConf::default()
        };
        let t = target("/run/netns/web");
        assert_eq!(
            del_words(None, "mynet", &t, &rt(&t, "eth0", &t.container_id)),
            "cnitool del mynet /run/netns/web"
        );
        let t = target("/tmp/my ns/it's");
        assert_eq!(
            del_words(
                Some(Path::new("/tmp/c d")),
                "mynet",
                &t,
                &rt(&t, "net1", "ctr1")
            ),
            r"cnitool --cache-dir '/tmp/c d' del mynet '/tmp/my ns/it'\''s' -i net1 --container-id ctr1"
        );
    }
}
