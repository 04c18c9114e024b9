//! Shell completions and man pages, generated from the clap definitions into `completions/`
//! and `man/` and committed. The test below fails when they are out of date; run it with
//! `UPDATE_GENERATED=1` to rewrite them:
//! `UPDATE_GENERATED=1 cargo test --bin cnitool generated_files`.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Bash: a wrapper around clap's `_cnitool` that completes what clap cannot: network names
/// (a NETWORK argument, `--net`), namespace names (a NETNS argument, `--netns`,
/// `netns delete|exec NAME`) and, after `run ... --` or `netns exec NAME`, a command and then
/// its own arguments. The subcommand is found past any global option (and its value).
/// `@TAKES_VALUE@` is the `|`-list of the options that take a value.
const BASH_WRAPPER: &str = r#"
_cnitool_names() {
    cnitool "$@" 2>/dev/null
}

_cnitool_with_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local i word sub="" sub2="" args=() cmd_at=0
    for (( i = 1; i < COMP_CWORD; i++ )); do
        word="${COMP_WORDS[i]}"
        if [[ "$word" == "--" && "$sub" == run ]]; then
            cmd_at=$(( i + 1 ))
            break
        fi
        case "$word" in
            @TAKES_VALUE@) (( i++ )) ;;
            -*) ;;
            *)
                if [[ -z "$sub" ]]; then sub="$word"
                elif [[ "$sub" =~ ^(netns|container|rootless)$ && -z "$sub2" ]]; then sub2="$word"
                    [[ "$sub2" == del ]] && sub2=delete
                else args+=("$word")
                fi
                # `netns exec NAME`: the command starts after the name.
                if [[ "$sub $sub2" == "netns exec" && ${#args[@]} -eq 1 ]]; then
                    cmd_at=$(( i + 1 ))
                    break
                fi
                ;;
        esac
    done
    if (( cmd_at > 0 )); then
        if (( cmd_at == COMP_CWORD )); then
            COMPREPLY=( $(compgen -c -- "$cur") )
        else
            # The command's own arguments: what its completion (or bash's default) gives.
            _command_offset "$cmd_at" 2>/dev/null || compopt -o default
        fi
        return 0
    fi
    case "$prev" in
        --net)
            COMPREPLY=( $(compgen -W "$(_cnitool_names list --names)" -- "$cur") )
            return 0 ;;
        --netns)
            COMPREPLY=( $(compgen -W "$(_cnitool_names netns list --names)" -- "$cur") )
            return 0 ;;
    esac
    if [[ "$cur" != -* ]]; then
        case "$sub:${#args[@]}" in
            add:0|del:0|check:0|status:0|show:*|validate:*|gc:*)
                COMPREPLY=( $(compgen -W "$(_cnitool_names list --names)" -- "$cur") )
                return 0 ;;
            add:1|del:1|check:1)
                # A name in the netns directory, or a path.
                COMPREPLY=( $(compgen -W "$(_cnitool_names netns list --names)" -- "$cur") )
                compopt -o default
                return 0 ;;
        esac
        if [[ "$sub" == netns && ( "$sub2" == delete || "$sub2" == exec ) ]]; then
            COMPREPLY=( $(compgen -W "$(_cnitool_names netns list --names)" -- "$cur") )
            return 0
        fi
    fi
    _cnitool "$@"
}
complete -F _cnitool_with_names -o nosort -o bashdefault -o default cnitool
"#;

/// Fish: network and namespace names where bash completes them (fish finds the subcommand
/// past global options itself; the commands after `--` come from the CMD argument's hint).
const FISH_NAMES: &str = r#"
complete -c cnitool -n "__fish_seen_subcommand_from add del check status show validate gc" -f -a "(cnitool list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from run" -l net -f -a "(cnitool list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from add del check" -a "(cnitool netns list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from run" -l netns -f -a "(cnitool netns list --names 2>/dev/null)"
complete -c cnitool -n "__fish_seen_subcommand_from delete exec; and __fish_seen_subcommand_from netns" -f -a "(cnitool netns list --names 2>/dev/null)"
"#;

/// Zsh: the functions the generated script calls for network and namespace names (a NETNS
/// may also be a path).
const ZSH_NAMES: &str = r#"
_cnitool_networks() {
    local -a nets
    nets=(${(f)"$(cnitool list --names 2>/dev/null)"})
    _describe 'network' nets
}

_cnitool_netns() {
    local -a names
    names=(${(f)"$(cnitool netns list --names 2>/dev/null)"})
    _alternative "names:namespace:compadd -a names" "files:path:_files"
}
"#;

/// The command tree users see, for completions: without the hidden internal subcommands
/// (`__rootless-*`, which cnitool runs itself), the hidden flags (`--cni-args`, `--names`,
/// ...) and the `help` subcommands.
fn public_command() -> clap::Command {
    public(&full_command())
}

fn public(full: &clap::Command) -> clap::Command {
    let mut cmd = clap::Command::new(full.get_name().to_owned())
        .about(full.get_about().cloned().unwrap_or_default())
        .disable_help_subcommand(true)
        .visible_aliases(
            full.get_visible_aliases()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
    if let Some(version) = full.get_version() {
        cmd = cmd.version(version.to_owned());
    }
    // `--help` and `--version` are generated again for the new command.
    for arg in full
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !["help", "version"].contains(&a.get_id().as_str()))
    {
        cmd = cmd.arg(arg.clone());
    }
    cmd.subcommands(
        full.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(public),
    )
}

/// The options of the whole tree that take a value, for the bash wrapper's word scan.
fn options_with_values() -> String {
    fn collect(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
        for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
            if arg.get_action().takes_values() {
                out.extend(arg.get_long().map(|l| format!("--{l}")));
                out.extend(arg.get_short().map(|s| format!("-{s}")));
            }
        }
        for sub in cmd.get_subcommands() {
            collect(sub, out);
        }
    }
    let mut all = std::collections::BTreeSet::new();
    collect(&public_command(), &mut all);
    all.into_iter().collect::<Vec<_>>().join("|")
}

/// The whole command tree: subcommands' arguments are deferred (built only for the
/// subcommand being parsed, which keeps start-up lean), so the tree is built first. Without
/// the `help` subcommands clap adds (no page or completion for them: `-h` and `--help` are
/// the documented way).
fn full_command() -> clap::Command {
    fn no_help(cmd: clap::Command) -> clap::Command {
        cmd.disable_help_subcommand(true).mut_subcommands(no_help)
    }
    let mut cmd = no_help(Cli::command());
    cmd.build();
    cmd
}

fn completion(shell: Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut public_command(), "cnitool", &mut buf);
    let mut text = String::from_utf8(buf).expect("completion scripts are UTF-8");
    match shell {
        Shell::Bash => {
            text.push_str(&BASH_WRAPPER.replace("@TAKES_VALUE@", &options_with_values()))
        }
        Shell::Fish => text.push_str(FISH_NAMES),
        Shell::Zsh => {
            // Network and namespace arguments complete with our functions instead of file
            // names.
            text = text
                .lines()
                .map(|l| {
                    let network_arg = l.contains(":network -- ")
                        || l.contains("::networks -- ")
                        || l.contains("]:NETWORK:")
                        || l.contains("=[A network to attach");
                    // Not `netns create NAME`: that one names a namespace to be.
                    let netns_arg = l.contains(":netns -- ")
                        || l.contains("]:NETNS:_default'")
                        || l.starts_with("'--netns=[Join")
                        || l.starts_with("'*::names -- The namespaces to delete")
                        || l.starts_with("':name -- ") && l.contains("(in the netns directory)");
                    if network_arg {
                        l.replace(":_default'", ":_cnitool_networks'")
                    } else if netns_arg {
                        l.replace(":_default'", ":_cnitool_netns'")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            text.push('\n');
            // Defined before the compdef dispatch at the end runs.
            text = text.replacen("\n_cnitool() {", &format!("{ZSH_NAMES}\n_cnitool() {{"), 1);
        }
        _ => {}
    }
    text
}

fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    render(&full_command(), "cnitool", &mut out);
    out
}

fn render(cmd: &clap::Command, name: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let cmd = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    render_page(&cmd, &mut buf).expect("rendering a man page into memory");
    out.push((format!("{name}.1"), buf));
    // Not the `help` subcommands clap adds when it builds the tree.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        render(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}

/// One page: clap_mangen's sections, with the synopsis showing the `--` before a trailing
/// command, and the text after the options (exit codes, environment, files, examples) as
/// sections of their own whose lines stay as written (clap_mangen would fill them into one
/// paragraph).
fn render_page(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    let mut synopsis = Vec::new();
    man.render_synopsis_section(&mut synopsis)?;
    let mut synopsis = String::from_utf8(synopsis).expect("roff is UTF-8");
    for arg in cmd.get_positionals().filter(|a| a.is_last_set()) {
        let name = arg
            .get_value_names()
            .and_then(|n| n.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
        let plain = format!("<\\fI{name}\\fR>");
        synopsis = synopsis.replace(&plain, &format!("\\fB\\-\\-\\fR {plain}..."));
    }
    out.extend_from_slice(synopsis.as_bytes());
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    if let Some(text) = cmd.get_after_help() {
        out.extend_from_slice(extra_sections(&text.to_string()).as_bytes());
    }
    if cmd.get_version().is_some() || cmd.get_long_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The after-help text as roff: a block that starts with `Heading:` alone on its line becomes
/// section HEADING (`Exit codes` is EXIT STATUS, as man pages name it); every line is kept as
/// written (`.nf`).
fn extra_sections(text: &str) -> String {
    let escape = |l: &str| l.replace('\\', "\\e").replace('-', "\\-");
    let mut roff = String::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(first) = lines.next() else { continue };
        let heading = first
            .strip_suffix(':')
            .filter(|h| !h.contains(' ') || h.len() < 20);
        let body: Vec<&str> = match heading {
            Some(h) => {
                let h = if h == "Exit codes" { "EXIT STATUS" } else { h };
                roff.push_str(&format!(".SH \"{}\"\n", h.to_uppercase()));
                lines.collect()
            }
            None => {
                if roff.is_empty() {
                    roff.push_str(".SH \"EXIT STATUS\"\n");
                }
                block.lines().collect()
            }
        };
        roff.push_str(".nf\n");
        for line in body {
            let line = escape(line);
            // A line may not start with a control character.
            let line = if line.starts_with(['.', '\'']) {
                format!("\\&{line}")
            } else {
                line
            };
            roff.push_str(&line);
            roff.push('\n');
        }
        roff.push_str(".fi\n");
    }
    roff
}

/// Every generated file with its path relative to the repository.
pub fn generated() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "completions/cnitool.bash".to_owned(),
            completion(Shell::Bash).into_bytes(),
        ),
        (
            "completions/_cnitool".to_owned(),
            completion(Shell::Zsh).into_bytes(),
        ),
        (
            "completions/cnitool.fish".to_owned(),
            completion(Shell::Fish).into_bytes(),
        ),
    ];
    files.extend(
        man_pages()
            .into_iter()
            .map(|(n, b)| (format!("man/{n}"), b)),
    );
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let update = std::env::var_os("UPDATE_GENERATED").is_some();
        let mut stale = Vec::new();
        for (rel, bytes) in generated() {
            let path = root.join(&rel);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            } else if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                stale.push(rel);
            }
        }
        // No page or script of a removed subcommand may stay behind.
        let expected: Vec<String> = generated().into_iter().map(|(r, _)| r).collect();
        for dir in ["completions", "man"] {
            for e in std::fs::read_dir(root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let rel = format!("{dir}/{}", e.file_name().to_string_lossy());
                if !expected.contains(&rel) {
                    if update {
                        std::fs::remove_file(e.path()).unwrap();
                    } else {
                        stale.push(rel);
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "out of date: {stale:?}; run UPDATE_GENERATED=1 cargo test --bin cnitool generated_files"
        );
    }

    #[test]
    fn internal_subcommands_stay_out_of_completions() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = completion(shell);
            assert!(!text.contains("rootless-holder"), "{shell}");
            assert!(!text.contains("rootless-sandbox"), "{shell}");
            assert!(text.contains("netns"), "{shell}");
        }
    }

    #[test]
    fn completions_know_namespace_names_and_commands_and_hide_hidden_flags() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = completion(shell);
            assert!(text.contains("netns list --names"), "{shell}");
            assert!(
                !text.contains("cni-args") && !text.contains("cap-args"),
                "{shell}"
            );
            // `--names` is only what the scripts themselves call.
            let offered = text
                .lines()
                .filter(|l| {
                    l.contains("opts=") || l.starts_with("'--names") || l.contains("-l names")
                })
                // (the `names` subcommand is offered; the `--names` flag is not).
                .any(|l| l.contains("--names") || l.contains("-l names"));
            assert!(!offered, "{shell} offers --names");
        }
        let zsh = completion(Shell::Zsh);
        // add/check/del NETNS, attachments and run --netns, netns exec, netns delete (and
        // its alias del).
        assert_eq!(zsh.matches(":_cnitool_netns'").count(), 8, "{zsh}");
        assert!(
            !zsh.contains("Create a named network namespace") || {
                let create = zsh.split("(create)").nth(1).unwrap_or("");
                let create = create.split(";;").next().unwrap_or("");
                !create.contains("_cnitool_netns")
            }
        );
        assert_eq!(
            zsh.matches(":_cmdambivalent'").count(),
            2,
            "run and netns exec commands"
        );
        let fish = completion(Shell::Fish);
        assert!(
            fish.contains("-l netns -f -a \"(cnitool netns list --names"),
            "{fish}"
        );
    }

    #[test]
    fn completions_know_network_names() {
        assert!(completion(Shell::Bash).contains("_cnitool_names list --names"));
        assert!(completion(Shell::Fish).contains("cnitool list --names"));
        let zsh = completion(Shell::Zsh);
        assert!(
            zsh.contains(":_cnitool_networks'"),
            "zsh NETWORK args use the function"
        );
    }

    #[test]
    fn man_pages_document_exit_codes_and_environment() {
        let pages = man_pages();
        let root = String::from_utf8_lossy(&pages[0].1).into_owned();
        assert!(root.contains(".SH \"EXIT STATUS\""), "{root}");
        assert!(root.contains("NETCONFPATH"));
        assert!(pages.iter().any(|(n, _)| n == "cnitool-run.1"));
        assert!(pages.iter().any(|(n, _)| n == "cnitool-netns-create.1"));
    }
}
