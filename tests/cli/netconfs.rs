//! Inspecting netconfs: `list`, `show`, `validate` and `version --plugins`, in table and JSON
//! form, against fixture directories and fake plugins that answer VERSION (so the snapshots
//! do not depend on the installed plugins' versions).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::util::*;

/// A fake plugin that answers VERSION with `versions` and fails any other verb.
fn versioned(h: &Host, name: &str, versions: &[&str]) {
    let list = serde_json::to_string(versions).unwrap();
    h.fake_plugin(
        name,
        &format!(
            r#"if [ "$CNI_COMMAND" = VERSION ]; then
  echo '{{"cniVersion":"1.0.0","supportedVersions":{list}}}'
  exit 0
fi
echo '{{"code":4,"msg":"a fake that only answers VERSION"}}'
exit 1"#
        ),
    );
}

/// A directory with one of each thing `list` notes: a good list, a second file with the same
/// name (shadowed), a file that is not JSON, and a single-plugin `.conf`.
fn mixed_fixtures(h: &Host) {
    h.write_conf(
        "10-web.conflist",
        r#"{"cniVersion":"1.0.0","name":"web","plugins":[
            {"type":"bridge","bridge":"web0","ipam":{"type":"host-local","subnet":"10.198.7.0/24"}},
            {"type":"portmap","capabilities":{"portMappings":true}}]}"#,
    );
    h.write_conf(
        "20-web-copy.conflist",
        r#"{"cniVersion":"0.4.0","name":"web","plugins":[{"type":"ptp"}]}"#,
    );
    h.write_conf(
        "30-broken.conflist",
        "{\"cniVersion\":\"1.0.0\",\n \"name\":\"broken\",\n \"plugins\": [\n",
    );
    h.write_conf(
        "40-single.conf",
        r#"{"cniVersion":"0.3.1","name":"single","type":"ptp","ipam":{"type":"host-local","subnet":"10.198.8.0/24"}}"#,
    );
}

/// The entry of a JSON array whose `key` is `value`.
#[track_caller]
fn entry<'a>(items: &'a Value, key: &str, value: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[key] == value)
        .unwrap_or_else(|| panic!("no entry with {key} = {value:?} in {items:#}"))
}

#[test]
fn list_notes_each_file_and_the_builtin_network() {
    plain_test(|h| {
        mixed_fixtures(h);
        let table = h.run(&["list"]).ok();
        assert_eq!(table.stderr, "", "list prints its notes in the table");
        let json = h.run(&["-o", "json", "list"]).ok();
        insta::assert_snapshot!("list_table", h.normalize(&table.stdout));
        insta::assert_snapshot!("list_json", h.normalize(&json.stdout));

        let items = json.json();
        let files: Vec<&str> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["file"].as_str().unwrap_or("(built-in)"))
            .map(|f| f.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(
            files,
            [
                "10-web.conflist",
                "20-web-copy.conflist",
                "30-broken.conflist",
                "40-single.conf",
                "(built-in)"
            ],
            "lookup order: .conflist files, then .conf, then the built-in network"
        );
        let shadowed = entry(
            &items,
            "file",
            h.conf.join("20-web-copy.conflist").to_str().unwrap(),
        );
        assert_eq!(
            shadowed["shadowedBy"],
            h.conf.join("10-web.conflist").to_str().unwrap()
        );
        let broken = entry(
            &items,
            "file",
            h.conf.join("30-broken.conflist").to_str().unwrap(),
        );
        assert_eq!(broken["name"], Value::Null);
        assert!(
            broken["error"].as_str().unwrap().contains("line 4"),
            "{broken}"
        );
        let single = entry(&items, "name", "single");
        assert_eq!(single["converted"], true);
        assert_eq!(single["plugins"], json!(["ptp"]));
        let builtin = entry(&items, "name", "cnitool");
        assert_eq!(builtin["builtIn"], true);
        assert_eq!(builtin["file"], Value::Null);
        assert_eq!(builtin["plugins"], json!(["bridge", "portmap"]));

        // A file named `cnitool` replaces the built-in network, in the listing too.
        h.conflist("cnitool", "1.0.0", json!([{"type": "ptp"}]));
        let items = h.run(&["-o", "json", "list"]).ok().json();
        let mine = entry(&items, "name", "cnitool");
        assert_eq!(mine["builtIn"], false);
        assert_eq!(mine["plugins"], json!(["ptp"]));
        let table = h.run(&["list"]).ok().stdout;
        assert!(!table.contains("(built-in)"), "{table}");
        assert!(!table.contains("built-in default"), "{table}");

        // `--names` (for shell completion): each usable name once.
        let names = h.run(&["list", "--names"]).ok().stdout;
        assert_eq!(
            names, "web\ncnitool\nsingle\n",
            "an unparsable file has no name"
        );
    });
}

#[test]
fn list_of_an_empty_directory_shows_the_builtin_network() {
    plain_test(|h| {
        let table = h.run(&["ls"]).ok().stdout;
        insta::assert_snapshot!("list_empty", h.normalize(&table));
    });
}

#[test]
fn show_prints_the_effective_list() {
    host_test("show_prints_the_effective_list", |h| {
        mixed_fixtures(h);
        // `cniVersions`: the highest version this tool implements (9.0.0 is skipped), and
        // plugins from `<dir>/<name>/*.conf` appended, with the list's name and version.
        h.write_conf(
            "50-neg.conflist",
            r#"{"cniVersion":"0.3.1","cniVersions":["0.4.0","1.0.0","9.0.0"],"name":"neg",
                "disableCheck":true,"plugins":[{"type":"bridge","custom":{"kept":[1,2]}}]}"#,
        );
        fs::create_dir(h.conf.join("neg")).unwrap();
        fs::write(
            h.conf.join("neg/10-tuning.conf"),
            r#"{"cniVersion":"0.3.1","name":"other","type":"tuning","sysctl":{"net.core.somaxconn":"512"}}"#,
        )
        .unwrap();

        let single = h.run(&["show", "single"]).ok();
        let neg = h.run(&["-o", "json", "show", "neg"]).ok();
        let builtin = h.run(&["-o", "json", "show", "cnitool"]).ok();
        insta::assert_snapshot!("show_converted_conf", h.normalize(&single.stdout));
        insta::assert_snapshot!("show_negotiated_json", h.normalize(&neg.stdout));
        insta::assert_snapshot!("show_builtin_json", h.normalize(&builtin.stdout));

        let neg = neg.json();
        assert_eq!(neg["config"]["cniVersion"], "1.0.0");
        assert_eq!(neg["config"]["disableCheck"], true);
        assert_eq!(neg["config"].get("cniVersions"), None);
        let plugins = neg["config"]["plugins"].as_array().unwrap();
        assert_eq!(plugins.len(), 2);
        assert_eq!(plugins[0]["custom"], json!({"kept": [1, 2]}));
        assert_eq!(plugins[1]["type"], "tuning");
        assert_eq!(plugins[1]["cniVersion"], "1.0.0");
        assert_eq!(plugins[1]["name"], "neg");
        assert_eq!(builtin.json()["source"], "(built-in)");

        // The same list reaches the plugins: compare with a dry run's stdin.
        h.netns("plan");
        let plan = h
            .run(&["-o", "json", "add", "--dry-run", "neg", "plan"])
            .ok()
            .json();
        for (i, call) in plan.as_array().unwrap().iter().enumerate() {
            let mut stdin: Value = serde_json::from_str(call["stdin"].as_str().unwrap()).unwrap();
            let stdin = stdin.as_object_mut().unwrap();
            stdin.remove("runtimeConfig");
            stdin.remove("prevResult");
            assert_eq!(Value::Object(stdin.clone()), plugins[i], "plugin {i}");
        }

        // A broken network is an error naming the file; an unknown one lists what exists.
        h.run(&["show", "broken"])
            .fails(3, "30-broken.conflist: line 4");
        h.run(&["show", "nosuch"]).fails(3, "nosuch");
    });
}

/// Fake plugins for `validate`: `fakebr` supports up to 1.1.0, `fakeipam` up to 1.0.0,
/// `fakeold` only 0.3.x.
fn fake_plugins(h: &Host) {
    versioned(h, "fakebr", &["0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
    versioned(h, "fakeipam", &["0.3.1", "0.4.0", "1.0.0"]);
    versioned(h, "fakeold", &["0.3.0", "0.3.1"]);
}

/// Netconfs that validate cleanly, covering the CHECK/GC availability lines.
fn good_fixtures(h: &Host) {
    h.write_conf(
        "10-good.conflist",
        r#"{"cniVersion":"1.0.0","name":"good","plugins":[
            {"type":"fakebr","ipam":{"type":"fakeipam"}},
            {"type":"fakebr","capabilities":{"portMappings":true,"bandwidth":false}}]}"#,
    );
    h.write_conf(
        "20-gc.conflist",
        r#"{"cniVersion":"1.1.0","name":"gcnet","disableGC":true,"plugins":[{"type":"fakebr"}]}"#,
    );
    h.write_conf(
        "30-nocheck.conflist",
        r#"{"cniVersion":"1.0.0","name":"nocheck","disableCheck":true,"plugins":[{"type":"fakebr"}]}"#,
    );
    h.write_conf(
        "40-old.conf",
        r#"{"cniVersion":"0.3.1","name":"old","type":"fakeold"}"#,
    );
}

/// What `validate -o json` found, as `severity network plugin: message` lines.
fn findings(run: &Run) -> Vec<String> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}: {}",
                f["severity"].as_str().unwrap(),
                f["network"].as_str().unwrap(),
                f["plugin"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[track_caller]
fn assert_finding(found: &[String], want: &str) {
    assert!(
        found.iter().any(|f| f.contains(want)),
        "no finding {want:?} in {found:#?}"
    );
}

#[test]
fn validate_good_netconfs_exits_0() {
    plain_test(|h| {
        fake_plugins(h);
        good_fixtures(h);
        let table = h.run(&["validate"]).ok();
        let json = h.run(&["-o", "json", "validate"]).ok();
        insta::assert_snapshot!("validate_good_table", h.normalize(&table.stdout));
        insta::assert_snapshot!("validate_good_json", h.normalize(&json.stdout));
        assert_eq!(json.json()["ok"], true);
        let found = findings(&json);
        for want in [
            "info good fakebr: supports cniVersion 1.0.0 (plugin supports 0.3.1, 0.4.0, 1.0.0, 1.1.0)",
            "info good fakeipam: supports cniVersion 1.0.0",
            "info good fakebr: capabilities: portMappings",
            "info good : CHECK available",
            "info good : GC and STATUS not available (cniVersion 1.0.0 < 1.1.0)",
            "info gcnet : CHECK available",
            "info gcnet : GC disabled by disableGC; STATUS available",
            "info nocheck : CHECK disabled by disableCheck",
            "info old : converted from a single-plugin .conf",
            "info old fakeold: supports cniVersion 0.3.1",
            "info old : CHECK not available (cniVersion 0.3.1 < 0.4.0)",
        ] {
            assert_finding(&found, want);
        }
        assert!(
            !found.iter().any(|f| f.contains("bandwidth")),
            "a capability set to false is not listed: {found:#?}"
        );
        assert!(!found
            .iter()
            .any(|f| f.starts_with("error") || f.starts_with("warning")));

        // Named networks: only those; the built-in one validates too.
        let named = h.run(&["-o", "json", "validate", "gcnet"]).ok();
        assert!(findings(&named).iter().all(|f| f.contains(" gcnet ")));
        assert_eq!(
            named.json()["findings"][0]["file"],
            h.conf.join("20-gc.conflist").to_str().unwrap()
        );
        let builtin = h
            .cnitool()
            .args(["-o", "json", "validate", "cnitool"])
            .env("CNI_PATH", REAL_PLUGINS)
            .run()
            .ok();
        assert_finding(
            &findings(&builtin),
            "info cnitool portmap: capabilities: portMappings",
        );
        assert_eq!(builtin.json()["findings"][0]["file"], Value::Null);
    });
}

#[test]
fn validate_reports_each_problem_and_exits_3() {
    plain_test(|h| {
        fake_plugins(h);
        good_fixtures(h);
        h.write_conf(
            "50-missing.conflist",
            r#"{"cniVersion":"1.0.0","name":"missing","plugins":[{"type":"fakebr","ipam":{"type":"nosuchipam"}},{"type":"nosuchplugin"}]}"#,
        );
        h.write_conf(
            "60-tooold.conflist",
            r#"{"cniVersion":"1.0.0","name":"tooold","plugins":[{"type":"fakeold"}]}"#,
        );
        h.write_conf("70-broken.conflist", "{\"name\": \"broken\",\n  oops\n}");
        h.write_conf(
            "80-dup.conflist",
            r#"{"cniVersion":"1.0.0","name":"good","plugins":[{"type":"nosuchplugin"}]}"#,
        );
        let table = h.run(&["validate"]);
        assert_eq!(table.code, 3, "{table:#?}");
        let json = h.run(&["-o", "json", "validate"]);
        assert_eq!(json.code, 3, "{json:#?}");
        insta::assert_snapshot!("validate_bad_table", h.normalize(&table.stdout));
        insta::assert_snapshot!("validate_bad_json", h.normalize(&json.stdout));
        assert_eq!(json.json()["ok"], false);
        let found = findings(&json);
        let conf = h.conf.display();
        for want in [
            format!("error missing nosuchipam: plugin \"nosuchipam\" not found in {}/bin, /usr/lib/cni", h.root().display()),
            "error missing nosuchplugin: plugin \"nosuchplugin\" not found".to_owned(),
            "error tooold fakeold: does not support cniVersion 1.0.0 (plugin supports 0.3.0, 0.3.1)".to_owned(),
            format!("error ? : {conf}/70-broken.conflist: line 2 column 3"),
            format!("warning good : {conf}/80-dup.conflist is shadowed by {conf}/10-good.conflist"),
            "info old : converted from a single-plugin .conf".to_owned(),
            "info good : CHECK available".to_owned(),
        ] {
            assert_finding(&found, &want);
        }
        // The shadowed file is never used, so its plugins are not checked.
        assert!(
            !found.iter().any(|f| f.contains("good nosuchplugin")),
            "{found:#?}"
        );
        // Every finding names its file (all of these networks come from files).
        let doc = json.json();
        for f in doc["findings"].as_array().unwrap() {
            assert!(f["file"].is_string(), "{f}");
        }

        // Naming only good networks passes; naming a bad or unknown one fails.
        h.run(&["validate", "good", "old"]).ok();
        assert_eq!(h.run(&["validate", "tooold"]).code, 3);
        let unknown = h.run(&["-o", "json", "validate", "nosuch"]);
        assert_eq!(unknown.code, 3);
        assert_finding(
            &findings(&unknown),
            "error nosuch : network \"nosuch\" not found",
        );
        // -o none: only the exit code.
        let quiet = h.run(&["-o", "none", "validate"]);
        assert_eq!((quiet.code, quiet.stdout.as_str()), (3, ""));
    });
}

#[test]
fn validate_of_an_empty_directory_fails() {
    plain_test(|h| {
        let run = h.run(&["-o", "json", "validate"]);
        assert_eq!(run.code, 3, "{run:#?}");
        assert_finding(
            &findings(&run),
            &format!("error  : no netconf files in {}", h.conf.display()),
        );
    });
}

#[test]
fn version_asks_every_plugin() {
    plain_test(|h| {
        versioned(h, "fake-a", &["0.4.0", "1.0.0", "1.1.0"]);
        versioned(h, "fake-b", &["0.3.1"]);
        // Plugins from before VERSION existed answer like Go's old `skel`: 0.1.0 only.
        h.fake_plugin(
            "fake-legacy",
            r#"echo '{"code":4,"msg":"unknown CNI_COMMAND: VERSION"}'; exit 1"#,
        );
        h.fake_plugin("fake-broken", "echo 'segfault (not really)' >&2; exit 2");
        // Not a plugin: not executable.
        let readme = h.bin.join("README");
        fs::write(&readme, "not a plugin").unwrap();
        fs::set_permissions(&readme, fs::Permissions::from_mode(0o644)).unwrap();
        let bin = h.bin.to_str().unwrap();
        let table = h.run(&["--plugin-dir", bin, "version", "--plugins"]).ok();
        let json = h
            .run(&["--plugin-dir", bin, "-o", "json", "version", "--plugins"])
            .ok();
        let plain = h.run(&["-o", "json", "version"]).ok();
        insta::assert_snapshot!("version_plugins_table", h.normalize(&table.stdout));
        insta::assert_snapshot!("version_plugins_json", h.normalize(&json.stdout));
        insta::assert_snapshot!("version_json", h.normalize(&plain.stdout));
        let doc = json.json();
        let plugins = &doc["plugins"];
        assert_eq!(plugins.as_array().unwrap().len(), 4, "{doc:#}");
        assert_eq!(
            entry(plugins, "plugin", "fake-a")["supportedVersions"],
            json!(["0.4.0", "1.0.0", "1.1.0"])
        );
        assert_eq!(
            entry(plugins, "plugin", "fake-legacy")["supportedVersions"],
            json!(["0.1.0"])
        );
        let broken = entry(plugins, "plugin", "fake-broken");
        assert!(
            broken["error"].as_str().unwrap().contains("segfault"),
            "{broken}"
        );
        assert_eq!(broken.get("supportedVersions"), None);
        assert_eq!(plain.json().get("plugins"), None);
        assert!(plain.json()["cniVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("1.1.0")));
    });
}

/// The defaults, with no `NETCONFPATH`, `CNI_PATH`, `--cache-dir` or `--netns-dir`: netconfs
/// from `/etc/cni/net.d`, then `~/.config/cni/net.d` (the first file of a name wins), plugins
/// from `/opt/cni/bin`, `/usr/libexec/cni`, `/usr/lib/cni` in that order, the cache in
/// `/var/lib/cni`, names in `/run/netns`. Each default directory is a private layer of the
/// throwaway host.
#[test]
fn default_directories() {
    host_test("default_directories", |h| {
        use nix::mount::{mount, MsFlags};
        // (Only over directories the machine has: creating one would touch its disk.)
        let layered: Vec<&str> = ["/etc", "/opt", "/usr/libexec"]
            .into_iter()
            .filter(|d| std::path::Path::new(d).is_dir())
            .collect();
        assert!(
            layered.contains(&"/etc") && layered.contains(&"/opt"),
            "{layered:?}"
        );
        for dir in &layered {
            let layer = h.scratch.join(format!("layer{}", dir.replace('/', "-")));
            fs::create_dir(&layer).unwrap();
            testsupport::isolate::private_layer(std::path::Path::new(dir), &layer);
        }
        // Empty CNI directories whatever the machine has in them (podman ships a netconf).
        for dir in ["/etc/cni", "/opt/cni"] {
            fs::create_dir_all(dir).unwrap();
        }
        let tmpfs = ["/var/lib", "/run", "/etc/cni", "/opt/cni"];
        for dir in tmpfs {
            mount(
                Some("tmpfs"),
                dir,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .unwrap();
        }
        let home = h.scratch.join("home");
        let system = std::path::Path::new("/etc/cni/net.d");
        let user = home.join(".config/cni/net.d");
        for d in [system, &user, std::path::Path::new("/opt/cni/bin")] {
            fs::create_dir_all(d).unwrap();
        }
        let conf = |dir: &std::path::Path, name: &str, plugin: &str| {
            let text = json!({"cniVersion": "1.0.0", "name": name, "plugins": [{"type": plugin}]});
            fs::write(dir.join(format!("{name}.conflist")), text.to_string()).unwrap();
        };
        conf(system, "sys", "loopback");
        conf(&user, "mine", "loopback");
        conf(system, "both", "which");
        conf(&user, "both", "loopback");
        // A plugin in /opt/cni/bin shadows one of the same name in /usr/lib/cni.
        let which = "/opt/cni/bin/which";
        fs::write(
            which,
            "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"dns\":{}}'\nexit 0\n",
        )
        .unwrap();
        fs::set_permissions(which, fs::Permissions::from_mode(0o755)).unwrap();
        // And its loopback, a wrapper that leaves a mark, comes before /usr/lib/cni's.
        let mark = h.scratch.join("opt-loopback-ran");
        fs::write(
            "/opt/cni/bin/loopback",
            format!(
                "#!/bin/sh\n: > {}\nexec /usr/lib/cni/loopback\n",
                mark.display()
            ),
        )
        .unwrap();
        fs::set_permissions("/opt/cni/bin/loopback", fs::Permissions::from_mode(0o755)).unwrap();

        // An empty XDG_CONFIG_HOME is ignored (not absolute): ~/.config it is.
        let cnitool = || cnitool_bare().env("HOME", &home).env("XDG_CONFIG_HOME", "");
        let list = cnitool().args(["-o", "json", "list"]).run().ok().json();
        let files: Vec<(&str, &str, &Value)> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["builtIn"] == false)
            .map(|n| {
                (
                    n["name"].as_str().unwrap(),
                    n["file"].as_str().unwrap(),
                    &n["shadowedBy"],
                )
            })
            .collect();
        let user_file = |name: &str| user.join(format!("{name}.conflist")).display().to_string();
        let (mine, user_both) = (user_file("mine"), user_file("both"));
        let shadowing = json!("/etc/cni/net.d/both.conflist");
        assert_eq!(
            files,
            [
                ("both", "/etc/cni/net.d/both.conflist", &Value::Null),
                ("sys", "/etc/cni/net.d/sys.conflist", &Value::Null),
                ("both", user_both.as_str(), &shadowing),
                ("mine", mine.as_str(), &Value::Null),
            ],
            "{list:#}"
        );

        cnitool().args(["netns", "create", "ctr"]).run().ok();
        assert!(std::path::Path::new("/run/netns/ctr").exists());
        let add = cnitool()
            .args(["-o", "json", "add", "both", "ctr"])
            .run()
            .ok();
        assert_eq!(add.json()["cniVersion"], "1.0.0", "{add:#?}");
        let results: Vec<String> = fs::read_dir("/var/lib/cni/results")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let id = go_container_id(std::path::Path::new("/run/netns/ctr"));
        assert_eq!(results, [format!("both-{id}-eth0")]);
        // The system file won, and its plugin came from /opt/cni/bin: `which` exists nowhere
        // else. The user's network of the same name is the one shown as shadowed.
        let show = cnitool()
            .args(["-o", "json", "show", "both"])
            .run()
            .ok()
            .json();
        assert_eq!(show["config"]["plugins"][0]["type"], "which", "{show:#}");
        assert_eq!(show["source"], "/etc/cni/net.d/both.conflist");
        cnitool().args(["del", "both", "ctr"]).run().ok();
        assert!(!mark.exists());
        cnitool().args(["add", "mine", "ctr"]).run().ok();
        assert!(mark.exists(), "loopback came from /opt/cni/bin");
        cnitool().args(["del", "mine", "ctr"]).run().ok();
        cnitool().args(["netns", "delete", "ctr"]).run().ok();
        assert_eq!(fs::read_dir("/var/lib/cni/results").unwrap().count(), 0);
        for dir in tmpfs.iter().rev().chain(layered.iter().rev()) {
            nix::mount::umount2(*dir, nix::mount::MntFlags::MNT_DETACH).unwrap();
        }
    });
}

/// `version --plugins` asks every executable of the plugin directories, which may hold
/// programs that are no plugins: one that never answers is given 2 s (not the 5-minute
/// `--timeout`), killed, and listed as no plugin; the others are still listed.
#[test]
fn version_plugins_does_not_stall_on_a_silent_program() {
    plain_test(|h| {
        versioned(h, "fake-a", &["1.0.0"]);
        let pids = h.scratch.join("pids");
        for name in ["silent-1", "silent-2", "silent-3"] {
            h.fake_plugin(
                name,
                &format!("echo $$ >> {}\nexec sleep 600", pids.display()),
            );
        }
        h.fake_plugin("chatty", "echo 'usage: chatty FILE'\nexit 0");
        let bin = h.bin.to_str().unwrap();
        let start = std::time::Instant::now();
        let run = h
            .run(&["--plugin-dir", bin, "-o", "json", "version", "--plugins"])
            .ok();
        let took = start.elapsed();
        assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
        let plugins = &run.json()["plugins"];
        assert_eq!(
            entry(plugins, "plugin", "fake-a")["supportedVersions"],
            json!(["1.0.0"])
        );
        for name in ["silent-1", "silent-2", "silent-3"] {
            let e = entry(plugins, "plugin", name);
            assert_eq!(e["answersVersion"], false, "{e}");
            assert_eq!(
                e["error"],
                format!("plugin {name:?} (VERSION) timed out after 2s and was killed"),
                "{e}"
            );
        }
        let chatty = entry(plugins, "plugin", "chatty");
        assert_eq!(chatty["answersVersion"], false, "{chatty}");
        assert!(
            chatty["error"]
                .as_str()
                .unwrap()
                .contains("usage: chatty FILE"),
            "{chatty}"
        );
        // The silent ones were killed, not left running.
        let pids = fs::read_to_string(&pids).unwrap();
        assert_eq!(pids.lines().count(), 3, "{pids}");
        for pid in pids.lines() {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "{pid} still runs"
            );
        }
        let table = h.run(&["--plugin-dir", bin, "version", "--plugins"]).ok();
        assert!(
            table.stdout.lines().any(|l| l.starts_with("silent-1 ")
                && l.ends_with("not a CNI plugin (no VERSION answer): plugin \"silent-1\" (VERSION) timed out after 2s and was killed")),
            "{table:#?}"
        );
    });
}
