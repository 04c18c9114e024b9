//! `--help` and `--version` (no namespaces needed).

use crate::util::{cnitool_bare, plain_test};

#[test]
fn help_mentions_exit_codes_and_environment() {
    plain_test(|_| {
        let run = cnitool_bare().arg("--help").run().ok();
        for needle in [
            "Exit codes:",
            "2    usage",
            "3    configuration",
            "4    a plugin failed",
            "5    state conflict",
            "NETCONFPATH",
            "CNI_PATH",
            "CNI_IFNAME",
            "CNI_ARGS",
            "CAP_ARGS",
            "add",
            "del",
            "check",
            "gc",
            "status",
        ] {
            assert!(
                run.stdout.contains(needle),
                "--help lacks {needle:?}:\n{}",
                run.stdout
            );
        }
        let run = cnitool_bare().args(["add", "--help"]).run().ok();
        for needle in [
            "--ifname",
            "--pid",
            "--container-id",
            "--arg",
            "--publish",
            "--ip",
        ] {
            assert!(
                run.stdout.contains(needle),
                "add --help lacks {needle:?}:\n{}",
                run.stdout
            );
        }
    });
}

#[test]
fn version() {
    plain_test(|_| {
        let run = cnitool_bare().arg("--version").run().ok();
        assert_eq!(
            run.stdout,
            format!("cnitool {}\n", env!("CARGO_PKG_VERSION"))
        );
    });
}

/// `add -h` lists add's own options first and the global ones under a heading of their own.
#[test]
fn subcommand_help_keeps_global_options_apart() {
    plain_test(|_| {
        let help = cnitool_bare().args(["add", "-h"]).run().ok().stdout;
        let (own, global) = help
            .split_once("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("no Global options heading:\n{help}"));
        for flag in ["--ifname", "--publish", "--container-id"] {
            assert!(
                own.contains(flag) && !global.contains(flag),
                "{flag}:\n{help}"
            );
        }
        for flag in [
            "--netconf-dir",
            "--plugin-dir",
            "--cache-dir",
            "--timeout",
            "--quiet",
        ] {
            assert!(
                global.contains(flag) && !own.contains(flag),
                "{flag}:\n{help}"
            );
        }
    });
}

/// A flag whose value comes from the environment is not shown as required in the usage line
/// of a "missing argument" error.
#[test]
fn usage_does_not_show_flags_set_by_the_environment() {
    plain_test(|_| {
        let run = cnitool_bare()
            .env("NETCONFPATH", "/nonexistent-a")
            .env("CNI_PATH", "/nonexistent-b")
            .env("CNI_IFNAME", "eth9")
            .arg("add")
            .run()
            .fails(2, "required arguments were not provided");
        assert!(
            run.stderr
                .contains("Usage: cnitool add <NETWORK> <NETNS>\n"),
            "{run:#?}"
        );
        assert!(!run.stderr.contains("--netconf-dir"), "{run:#?}");
    });
}

/// `run` without the `--` before its command: exit 125 and a hint naming the `--`.
#[test]
fn run_without_dashes_says_where_the_command_goes() {
    plain_test(|_| {
        let run = cnitool_bare()
            .args(["run", "--net", "x", "ip", "a"])
            .run()
            .fails(125, "unexpected argument 'ip'");
        assert!(
            run.stderr.contains(
                "hint: the command to run goes after `--`: cnitool run [OPTIONS] -- COMMAND"
            ),
            "{run:#?}"
        );
    });
}

/// The man pages: exit codes, environment, files and examples are sections whose lines stay
/// as written (not filled into one paragraph); `run`'s synopsis shows the `--`; no page
/// refers to a page that does not exist.
#[test]
fn man_pages_keep_their_tables_and_refer_to_real_pages() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let top = page("cnitool.1");
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
        let start = top
            .find(&format!(".SH \"{section}\"\n.nf\n"))
            .unwrap_or_else(|| panic!("no no-fill section {section}:\n{top}"));
        assert!(top[start..].contains("\n.fi\n"), "{section}");
    }
    assert!(
        top.contains("\n  0    success\n  1    internal or I/O error\n"),
        "{top}"
    );
    assert!(
        top.contains("\n  NETCONFPATH        netconf directories"),
        "{top}"
    );
    let run = page("cnitool-run.1");
    assert!(run.contains("\\fB\\-\\-\\fR <\\fICMD\\fR>..."), "{run}");
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let reference = regex::Regex::new(r"(cnitool(?:\\-[a-z]+)*)\(1\)").unwrap();
    let mut seen = 0;
    for name in &pages {
        let text = page(name);
        for m in reference.captures_iter(&text) {
            let file = format!("{}.1", m[1].replace("\\-", "-"));
            assert!(
                pages.contains(&file),
                "{name} refers to {file}, which does not exist"
            );
            seen += 1;
        }
    }
    assert!(
        seen > 20,
        "the pages refer to their subcommands' pages ({seen} found)"
    );
}

/// Bash completion, driven as bash calls it (COMP_WORDS, COMP_CWORD, the function with the
/// command, the current and the previous word): network names, namespace names, commands
/// after `run ... --`, past global options, and no hidden flags.
#[test]
fn bash_completion_completes_names_and_commands() {
    plain_test(|h| {
        h.conflist("alpha", "1.0.0", serde_json::json!([{"type": "loopback"}]));
        h.conflist("beta", "1.0.0", serde_json::json!([{"type": "loopback"}]));
        let netns_dir = h.scratch.join("netns");
        std::fs::create_dir(&netns_dir).unwrap();
        for name in ["web", "db"] {
            std::fs::write(netns_dir.join(name), "").unwrap();
        }
        let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_cnitool"))
            .parent()
            .unwrap();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/cnitool.bash");
        let complete = |line: &str| -> Vec<String> {
            // The word under the cursor is the last one (empty after a trailing space).
            let mut words: Vec<&str> = line.split_whitespace().collect();
            if line.ends_with(' ') {
                words.push("");
            }
            let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            let cword = words.len() - 1;
            let prev = if cword > 0 { words[cword - 1] } else { "" };
            let program = format!(
                "source {script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\n\
                 _cnitool_with_names cnitool '{cur}' '{prev}' 2>/dev/null\n\
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script = script.display(),
                words = quoted.join(" "),
                cur = words[cword],
            );
            let out = std::process::Command::new("bash")
                .args(["--norc", "--noprofile", "-c", &program])
                .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
                .env("NETCONFPATH", &h.conf)
                .env("CNITOOL_NETNS_DIR", &netns_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}: {out:?}");
            let mut got: Vec<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            got.sort();
            got
        };
        let networks = ["alpha", "beta", "cnitool"];
        assert_eq!(complete("cnitool add "), networks);
        assert_eq!(
            complete("cnitool -v --timeout 3s add "),
            networks,
            "past global options"
        );
        assert_eq!(complete("cnitool run --net "), networks);
        assert_eq!(complete("cnitool add alpha "), ["db", "web"]);
        assert_eq!(complete("cnitool --output json del beta w"), ["web"]);
        assert_eq!(complete("cnitool netns delete "), ["db", "web"]);
        assert_eq!(complete("cnitool netns exec "), ["db", "web"]);
        assert_eq!(complete("cnitool run --netns "), ["db", "web"]);
        let commands = complete("cnitool run --net alpha -- printen");
        assert!(commands.contains(&"printenv".to_owned()), "{commands:?}");
        assert!(
            !commands.iter().any(|c| c.starts_with("--")),
            "{commands:?}"
        );
        let commands = complete("cnitool netns exec web printen");
        assert!(commands.contains(&"printenv".to_owned()), "{commands:?}");
        let flags = complete("cnitool add --c");
        assert_eq!(
            flags,
            ["--cache-dir", "--cap", "--container-id"],
            "no hidden flags"
        );
        assert!(!complete("cnitool ").contains(&"help".to_owned()));
    });
}
