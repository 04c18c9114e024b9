//! The progress line: on a terminal, `add`, `run` and the other verbs show which network and
//! plugin is running, on stderr, and erase it when done; `-q`, pipes and files get none of it.

use serde_json::json;

use crate::util::*;

/// Erases the progress line (carriage return, erase to end of line).
const ERASE: &str = "\r\x1b[K";

/// `slow1` and `slow2`: one fake plugin each that takes a moment, and returns a fixed
/// result. `run`'s two concurrent ADDs wait for each other (a barrier of marker files, bounded
/// at 20 s), so they overlap however loaded the machine is.
fn slow_networks(h: &Host) {
    let dir = h.scratch.join("barrier");
    std::fs::create_dir_all(&dir).unwrap();
    h.fake_plugin(
        "slowpoke",
        &format!(
            r#"cat >/dev/null
if [ "$CNI_COMMAND" = ADD ] && [ "$BARRIER" = 1 ]; then
    : > {dir}/$$
    i=0
    while [ "$(ls {dir} | wc -l)" -lt 2 ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done
fi
sleep 0.5
if [ "$CNI_COMMAND" = ADD ]; then echo '{{"cniVersion":"1.0.0","ips":[{{"address":"10.198.9.5/24"}}],"dns":{{}}}}'; fi"#,
            dir = dir.display()
        ),
    );
    for net in ["slow1", "slow2"] {
        h.conflist(net, "1.0.0", json!([{"type": "slowpoke"}]));
    }
}

/// The lines left on the screen: of each line, what follows its last erasure.
fn screen(terminal: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = terminal
        .split("\r\n")
        .map(|l| l.rsplit(ERASE).next().unwrap())
        .collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// The progress lines drawn, as the terminal received them (between erasures).
fn drawn(terminal: &str) -> Vec<&str> {
    terminal
        .split(ERASE)
        .flat_map(|part| part.split("\r\n"))
        .filter(|l| l.starts_with("cnitool: ") && l.ends_with(" ..."))
        .collect()
}

#[test]
fn run_shows_progress_on_a_terminal_only() {
    host_test("run_shows_progress_on_a_terminal_only", |h| {
        slow_networks(h);
        let args = [
            "run", "--net", "slow1", "--net", "slow2", "--", "echo", "hello",
        ];
        let tty = h.cnitool().env("BARRIER", "1").args(args).run_in_pty().ok();
        let lines = drawn(&tty.stdout);
        for want in [
            "ADD slow1/slowpoke",
            "ADD slow2/slowpoke",
            "DEL slow1/slowpoke",
        ] {
            assert!(
                lines.iter().any(|l| l.contains(want)),
                "no progress for {want}: {lines:#?}\n{tty:#?}"
            );
        }
        // The concurrent ADDs share one line.
        assert!(
            lines.iter().any(
                |l| *l == "cnitool: ADD slow1/slowpoke, ADD slow2/slowpoke ..."
                    || *l == "cnitool: ADD slow2/slowpoke, ADD slow1/slowpoke ..."
            ),
            "{lines:#?}"
        );
        // What stays on the screen: the command's output, every progress line erased.
        assert_eq!(screen(&tty.stdout), ["hello"], "{tty:#?}");
        assert!(tty.stdout.ends_with(ERASE), "{tty:#?}");

        // Pipes: the command's output only, and no progress on stderr.
        let piped = h.cnitool().args(args).run().ok();
        assert_eq!(piped.stdout, "hello\n");
        assert_eq!(piped.stderr, "");

        // -q on a terminal: the command's output only.
        let quiet = h.cnitool().arg("-q").args(args).run_in_pty().ok();
        assert_eq!(quiet.stdout, "hello\r\n");
    });
}

#[test]
fn add_and_del_show_progress_on_a_terminal() {
    host_test("add_and_del_show_progress_on_a_terminal", |h| {
        slow_networks(h);
        h.netns("p");
        let add = h
            .cnitool()
            .args(["-o", "json", "add", "slow1", "p"])
            .run_in_pty()
            .ok();
        assert_eq!(
            drawn(&add.stdout),
            ["cnitool: ADD slow1/slowpoke ..."],
            "{add:#?}"
        );
        // The result is on the screen as it is in the cache (the pty turns "\n" into "\r\n").
        let result = screen(&add.stdout).join("\n");
        let cached = h.cache_entry("slow1", &go_container_id(&h.netns_dir.join("p")), "eth0");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&result).unwrap(),
            cached["result"]
        );
        let del = h.cnitool().args(["del", "slow1", "p"]).run_in_pty().ok();
        assert_eq!(drawn(&del.stdout), ["cnitool: DEL slow1/slowpoke ..."]);
        assert!(del.stdout.ends_with(ERASE), "{del:#?}");

        // `-v` lines and a plugin's stderr are printed on lines of their own.
        h.fake_plugin(
            "chatty",
            r#"cat >/dev/null; echo 'chatty: note' >&2
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","dns":{}}'; fi"#,
        );
        h.conflist("chat", "1.0.0", json!([{"type": "chatty"}]));
        let add = h
            .cnitool()
            .args(["-v", "-o", "none", "add", "chat", "p"])
            .run_in_pty()
            .ok();
        let lines = screen(&add.stdout);
        assert_eq!(lines.len(), 2, "{add:#?}");
        let verbose = format!(
            "cnitool: ADD chatty (plugin 1 of the list, {}/chatty) exit 0 in",
            h.bin.display()
        );
        assert!(lines[0].starts_with(&verbose), "{add:#?}");
        assert_eq!(lines[1], "chatty: note");
        assert!(
            add.stdout.starts_with("cnitool: ADD chat/chatty ..."),
            "{add:#?}"
        );
        h.run(&["del", "chat", "p"]).ok();
    });
}
