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
