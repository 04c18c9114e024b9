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
