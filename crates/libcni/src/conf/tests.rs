//! Tests: the cases of Go's `libcni/conf_test.go` that apply, the Go fixtures, and what we do
//! better than Go.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tempfile::TempDir;

use super::*;

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(crate::GO_FIXTURES).join(rel)
}

fn lookup(dir: &Path, name: &str) -> Result<Lookup, Error> {
    load_conf_list(&[dir.to_path_buf()], name)
}

fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// The field of a [`Error::ConfigInvalid`], or a panic showing the error.
fn invalid_field(e: &Error) -> &str {
    match e {
        Error::ConfigInvalid { field, .. } => field,
        other => panic!("expected ConfigInvalid, got {other:?}"),
    }
}

fn types(list: &NetworkConfigList) -> Vec<&str> {
    list.plugins
        .iter()
        .map(|p| p.plugin_type.as_str())
        .collect()
}

// ---- Go: Describe("LoadConf") -------------------------------------------------------------

const SOME_PLUGIN: &str =
    r#"{ "name": "some-plugin", "type": "foobar", "some-key": "some-value" }"#;

#[test]
fn conf_is_found_and_converted() {
    for file in ["50-whatever.conf", "50-whatever.json"] {
        let d = tmp();
        let path = write(d.path(), file, SOME_PLUGIN);
        let found = lookup(d.path(), "some-plugin").unwrap();
        assert!(found.warnings.is_empty());
        let list = found.list;
        assert_eq!(list.name, "some-plugin");
        assert_eq!(list.cni_version, "");
        assert_eq!(list.source.as_deref(), Some(path.as_path()));
        assert_eq!(types(&list), ["foobar"]);
        assert_eq!(
            list.plugins[0].raw,
            object(json!({"name": "some-plugin", "type": "foobar", "some-key": "some-value"}))
        );
        // Go writes `"cniVersion":""` when the .conf has none.
        assert_eq!(
            String::from_utf8(list.bytes).unwrap(),
            r#"{"cniVersion":"","name":"some-plugin","plugins":[{"name":"some-plugin","some-key":"some-value","type":"foobar"}]}"#
        );
    }
}

#[test]
fn missing_dir_means_no_configs() {
    let d = tmp();
    let gone = d.path().join("gone");
    let err = lookup(&gone, "some-plugin").unwrap_err();
    assert!(matches!(err, Error::NoConfigs { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("no net configurations found in {}", gone.display())
    );
}

#[test]
fn empty_dir_and_unrelated_files_mean_no_configs() {
    let d = tmp();
    let err = lookup(d.path(), "x").unwrap_err();
    assert!(matches!(err, Error::NoConfigs { .. }), "{err:?}");
    write(d.path(), "README", "hi");
    write(d.path(), "x.conf.bak", SOME_PLUGIN);
    fs::create_dir(d.path().join("dir.conf")).unwrap();
    let err = lookup(d.path(), "x").unwrap_err();
    assert!(matches!(err, Error::NoConfigs { .. }), "{err:?}");
}

#[test]
fn not_found_lists_the_names() {
    let d = tmp();
    write(d.path(), "50-whatever.conf", SOME_PLUGIN);
    write(
        d.path(),
        "10-a.conflist",
        r#"{"name":"alpha","plugins":[{"type":"x"}]}"#,
    );
    let err = lookup(d.path(), "some-other-plugin").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "network \"some-other-plugin\" not found in {} (networks there: alpha, some-plugin)",
            d.path().display()
        )
    );
}

#[test]
fn nested_subdirs_are_not_searched() {
    let d = tmp();
    write(d.path(), "50-whatever.conf", SOME_PLUGIN);
    write(
        d.path(),
        "subdir1/subdir2/90-deep.conf",
        r#"{ "name": "deep", "type": "x" }"#,
    );
    write(
        d.path(),
        "subdir1/subdir2/90-deep.conflist",
        r#"{ "name": "deep", "plugins": [{"type": "x"}] }"#,
    );
    let err = lookup(d.path(), "deep").unwrap_err();
    assert!(matches!(err, Error::NetworkNotFound { .. }), "{err:?}");
}

#[test]
fn capabilities_are_read() {
    let d = tmp();
    write(
        d.path(),
        "50-whatever.conf",
        r#"{ "name": "some-plugin", "type": "noop", "cniVersion": "0.3.1", "capabilities": { "portMappings": true, "somethingElse": true, "noCapability": false } }"#,
    );
    let list = lookup(d.path(), "some-plugin").unwrap().list;
    assert_eq!(list.cni_version, "0.3.1");
    let caps = &list.plugins[0].capabilities;
    assert_eq!(caps.len(), 3);
    assert!(caps["portMappings"] && caps["somethingElse"] && !caps["noCapability"]);
}

#[test]
fn unreadable_file_is_an_io_error_naming_it() {
    let err = conf_from_file(Path::new("/tmp/nope/not-here")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(err.to_string(), "reading /tmp/nope/not-here");
    let err = conf_list_from_file(Path::new("/tmp/nope/not-here")).unwrap_err();
    assert_eq!(err.to_string(), "reading /tmp/nope/not-here");
}

#[test]
fn conf_without_type_is_rejected() {
    let bytes = br#"{ "name": "some-plugin", "some-key": "some-value" }"#;
    let err = conf_from_bytes(bytes, None).unwrap_err();
    assert_eq!(invalid_field(&err), "type");
    assert_eq!(err.to_string(), "network configuration: type: missing");

    let d = tmp();
    let path = write(d.path(), "50-whatever.conf", bytes);
    let err = conf_from_file(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: type: missing", path.display())
    );
}

// ---- Go: Describe("LoadNetworkConf") ------------------------------------------------------

const SOME_NETWORK: &str = r#"{
  "name": "some-network",
  "cniVersion": "0.2.0",
  "disableCheck": true,
  "plugins": [
    {
      "type": "host-local",
      "subnet": "10.0.0.1/24"
    },
    {
      "type": "bridge",
      "mtu": 1400
    },
    {
      "type": "port-forwarding",
      "ports": {"20.0.0.1:8080": "80"}
    }
  ]
}"#;

fn plugin(raw: Value) -> PluginConfig {
    conf_from_bytes(raw.to_string().as_bytes(), None).unwrap()
}

#[test]
fn conflist_is_found_with_exact_bytes() {
    let d = tmp();
    let path = write(d.path(), "50-whatever.conflist", SOME_NETWORK);
    let found = lookup(d.path(), "some-network").unwrap();
    assert!(found.warnings.is_empty());
    assert_eq!(
        found.list,
        NetworkConfigList {
            name: "some-network".into(),
            cni_version: "0.2.0".into(),
            cni_versions: Vec::new(),
            disable_check: true,
            disable_gc: false,
            plugins: vec![
                plugin(json!({"type": "host-local", "subnet": "10.0.0.1/24"})),
                plugin(json!({"type": "bridge", "mtu": 1400})),
                plugin(json!({"type": "port-forwarding", "ports": {"20.0.0.1:8080": "80"}})),
            ],
            bytes: SOME_NETWORK.as_bytes().to_vec(),
            source: Some(path),
        }
    );
}

#[test]
fn conflist_beats_conf_of_the_same_name() {
    let d = tmp();
    let list = write(d.path(), "50-whatever.conflist", SOME_NETWORK);
    // Sorts before the conflist, but .conflist files are tried first.
    write(
        d.path(),
        "49-whatever.conf",
        r#"{ "name": "some-network", "cniVersion": "0.2.0", "type": "bridge" }"#,
    );
    assert_eq!(
        lookup(d.path(), "some-network").unwrap().list.plugins.len(),
        3
    );

    fs::remove_file(list).unwrap();
    let found = lookup(d.path(), "some-network").unwrap().list;
    assert_eq!(types(&found), ["bridge"]);
}

#[test]
fn malformed_file_that_is_not_asked_for_is_a_warning() {
    let d = tmp();
    write(d.path(), "50-whatever.conflist", SOME_NETWORK);
    let bad = write(d.path(), "00-bad.conflist", "{");
    // Go fails here with "unexpected end of JSON input"; we find the network.
    let found = lookup(d.path(), "some-network").unwrap();
    assert_eq!(found.warnings.len(), 1);
    let warning = found.warnings[0].to_string();
    assert!(
        warning.starts_with(&format!("{}: line 1 column 1: ", bad.display())),
        "{warning}"
    );
}

#[test]
fn not_found_mentions_files_that_could_not_be_read() {
    let d = tmp();
    write(d.path(), "50-whatever.conflist", SOME_NETWORK);
    let bad = write(d.path(), "00-bad.conflist", "{");
    let err = lookup(d.path(), "some-plugin").unwrap_err();
    let Error::NetworkNotFoundBroken { found, broken, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(found, &["some-network"]);
    assert_eq!(broken.len(), 1);
    assert_eq!(
        err.to_string(),
        format!(
            "network \"some-plugin\" not found in {} (networks there: some-network); it may be \
             in what could not be read: {}: line 1 column 1: EOF while parsing an object",
            d.path().display(),
            bad.display()
        )
    );
    assert_eq!(err.kind(), crate::ErrorKind::Config);
    assert_eq!(err.cni_code(), 7);
}

#[test]
fn disable_flags_take_bools_or_strings() {
    let cases: &[(&str, Result<bool, &str>)] = &[
        (r#"true"#, Ok(true)),
        (r#"false"#, Ok(false)),
        (r#""true""#, Ok(true)),
        (r#""false""#, Ok(false)),
        (r#""TRUE""#, Ok(true)), // Go lowercases the string
        (r#""False""#, Ok(false)),
        (
            r#""adsfasdfasf""#,
            Err(r#"must be true or false, found "adsfasdfasf""#),
        ),
        (r#""yes""#, Err(r#"must be true or false, found "yes""#)),
        (
            r#"1"#,
            Err(r#"must be true, false, "true" or "false", found a number"#),
        ),
        (
            r#"null"#,
            Err(r#"must be true, false, "true" or "false", found null"#),
        ),
    ];
    let d = tmp();
    // A plugin file that only `loadOnlyInlinedPlugins` keeps out: its effect on the list.
    write(d.path(), "n/extra.conf", r#"{"type": "extra"}"#);
    for key in ["disableCheck", "disableGC", "loadOnlyInlinedPlugins"] {
        for (value, want) in cases {
            let text = format!(
                r#"{{"name": "n", "cniVersion": "0.4.0", "{key}": {value}, "plugins": [{{"type": "host-local"}}]}}"#
            );
            let got = conf_list_from_file(&write(d.path(), "n.conflist", text));
            match (want, got) {
                (Ok(b), Ok(list)) => {
                    let seen = match key {
                        "disableCheck" => list.disable_check,
                        "disableGC" => list.disable_gc,
                        _ => list.plugins.len() == 1,
                    };
                    assert_eq!(seen, *b, "{key}: {value}");
                }
                (
                    Err(reason),
                    Err(Error::ConfigInvalid {
                        field, reason: r, ..
                    }),
                ) => {
                    assert_eq!((field.as_str(), r.as_str()), (key, *reason), "{value}");
                }
                (want, got) => panic!("{key}: {value}: want {want:?}, got {got:?}"),
            }
        }
    }
}

// ---- Go: Context("for loadOnlyInlinedPlugins"), plugins from <dir>/<name>/*.conf ----------

const DIR_PLUGIN: &str = r#"{ "type": "bro-check-out-my-plugin", "subnet": "10.0.0.1/24" }"#;

#[test]
fn plugins_from_the_network_subdirectory() {
    struct Case {
        what: &'static str,
        list: &'static str,
        sub: Option<&'static [(&'static str, &'static str)]>,
        want: Result<&'static [&'static str], &'static str>,
    }
    const INLINE: &str = r#""plugins": [{"type": "host-local", "subnet": "10.0.0.1/24"}]"#;
    let cases = [
        Case {
            what: "loadOnlyInlinedPlugins true ignores the subdirectory",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", "loadOnlyInlinedPlugins": true, INLINE}"#,
            sub: Some(&[("funky-second-plugin.conf", DIR_PLUGIN)]),
            want: Ok(&["host-local"]),
        },
        Case {
            what: "merged, inlined first",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: Some(&[("funky-second-plugin.conf", DIR_PLUGIN)]),
            want: Ok(&["host-local", "bro-check-out-my-plugin"]),
        },
        Case {
            what: "subdirectory files in byte order; other extensions ignored",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: Some(&[
                ("b.conf", r#"{"type": "second"}"#),
                ("a.conf", r#"{"type": "first"}"#),
                ("c.json", r#"{"type": "ignored"}"#),
                ("d.conflist", r#"{"type": "ignored"}"#),
            ]),
            want: Ok(&["host-local", "first", "second"]),
        },
        Case {
            what: "no plugins key, loadOnlyInlinedPlugins false, subdirectory has one",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", "loadOnlyInlinedPlugins": false}"#,
            sub: Some(&[("funky-second-plugin.conf", DIR_PLUGIN)]),
            want: Ok(&["bro-check-out-my-plugin"]),
        },
        Case {
            what: "no plugins key and no subdirectory",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0"}"#,
            sub: None,
            want: Err("plugins"),
        },
        Case {
            what: "no plugins key and an empty subdirectory",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0"}"#,
            sub: Some(&[]),
            want: Err("plugins"),
        },
        Case {
            what: "inlined plugins and no subdirectory",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: None,
            want: Ok(&["host-local"]),
        },
        Case {
            what: "inlined plugins and an empty subdirectory",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: Some(&[]),
            want: Ok(&["host-local"]),
        },
        Case {
            what: "loadOnlyInlinedPlugins true and no plugins key",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", "loadOnlyInlinedPlugins": true}"#,
            sub: Some(&[("funky-second-plugin.conf", DIR_PLUGIN)]),
            want: Err("plugins"),
        },
        Case {
            what: "a subdirectory plugin without type",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: Some(&[("bad.conf", r#"{"subnet": "10.0.0.1/24"}"#)]),
            want: Err("type"),
        },
        Case {
            what: "a subdirectory plugin with a path as type",
            list: r#"{"name": "some-network", "cniVersion": "0.4.0", INLINE}"#,
            sub: Some(&[("bad.conf", r#"{"type": "../../bin/sh"}"#)]),
            want: Err("type"),
        },
    ];
    for case in cases {
        let d = tmp();
        let path = write(
            d.path(),
            "50-whatever.conflist",
            case.list.replace("INLINE", INLINE),
        );
        if let Some(files) = case.sub {
            let sub = d.path().join("some-network");
            fs::create_dir(&sub).unwrap();
            for (name, text) in files {
                write(&sub, name, text);
            }
        }
        let got = lookup(d.path(), "some-network");
        match (case.want, got) {
            (Ok(want), Ok(found)) => {
                assert_eq!(types(&found.list), want, "{}", case.what);
                // The bytes stay the file's, as in Go.
                assert_eq!(found.list.bytes, fs::read(&path).unwrap(), "{}", case.what);
                // The full bytes (what the cache records) give back every plugin, and are
                // the file's own bytes when it inlines them all.
                let full = found.list.full_bytes();
                let back = conf_list_from_bytes(&full, None).unwrap();
                assert_eq!(back.plugins, found.list.plugins, "{}", case.what);
                assert_eq!(back.cni_version, found.list.cni_version, "{}", case.what);
                let inlined = want.len() == 1 && want[0] == "host-local";
                assert_eq!(full == found.list.bytes, inlined, "{}", case.what);
                if !inlined {
                    let top: Value = serde_json::from_slice(&full).unwrap();
                    assert_eq!(top["loadOnlyInlinedPlugins"], true, "{}", case.what);
                    assert_eq!(top["name"], "some-network", "{}", case.what);
                }
            }
            (Err(field), Err(e)) => assert_eq!(invalid_field(&e), field, "{}: {e}", case.what),
            (want, got) => panic!("{}: want {want:?}, got {got:?}", case.what),
        }
    }
}

#[test]
fn broken_subdirectory_plugin_names_its_file() {
    let d = tmp();
    write(
        d.path(),
        "50.conflist",
        r#"{"name": "n", "plugins": [{"type": "a"}]}"#,
    );
    let bad = write(d.path(), "n/10-bad.conf", "{\"type\": \n}");
    let err = lookup(d.path(), "n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: line 2 column 1: ", bad.display())),
        "{err}"
    );
}

// ---- Go: Describe("Version selection") ----------------------------------------------------

/// The candidates a list can run at: existing versions of `cniVersions` and `cniVersion`,
/// highest first, without duplicates; none without `cniVersions`.
#[test]
fn cni_versions_candidates() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#""cniVersions": ["1.0.0", "1.1.0", "9.9.9", "1.0.1"]"#,
            &["1.1.0", "1.0.0"],
        ),
        (
            r#""cniVersion": "0.4.0", "cniVersions": ["1.0.0", "0.4.0"]"#,
            &["1.0.0", "0.4.0"],
        ),
        (r#""cniVersion": "1.0.0""#, &[]),
        (r#""cniVersions": ["2.0.0"]"#, &[]),
    ];
    for (fields, want) in cases {
        let text = format!(r#"{{"name": "test", {fields}, "plugins": [{{"type": "foo"}}]}}"#);
        let list = conf_list_from_bytes(text.as_bytes(), None).unwrap();
        assert_eq!(list.cni_versions, *want, "{fields}");
        if let Some(first) = want.first() {
            assert_eq!(list.cni_version, *first, "{fields}");
        }
    }
}

#[test]
fn cni_versions_negotiation() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        // Go's cases.
        (r#""cniVersions": ["1.1.0", "0.4.0", "1.0.0"]"#, Ok("1.1.0")),
        (
            r#""cniVersions": ["99.0.0", "1.1.0", "0.4.0", "1.0.0"]"#,
            Ok("1.1.0"),
        ),
        (
            r#""cniVersions": ["1.1.0", "0.4.0", "1.0.f"]"#,
            Err("cniVersions[2]"),
        ),
        (r#""cniVersion": "1.2.3""#, Ok("1.2.3")),
        (
            r#""cniVersion": "1.0.0", "cniVersions": ["0.1.0", "0.4.0"]"#,
            Ok("1.0.0"),
        ),
        (r#""cniVersions": []"#, Ok("")),
        // Ours.
        (
            r#""cniVersion": "1.2.3", "cniVersions": ["0.4.0"]"#,
            Ok("0.4.0"),
        ),
        (
            r#""cniVersion": "0.3.1", "cniVersions": ["1.0.0"]"#,
            Ok("1.0.0"),
        ),
        (r#""cniVersion": "1.2.3", "cniVersions": []"#, Ok("1.2.3")),
        (r#""cniVersions": ["2.0.0"]"#, Ok("")),
        // Only versions that exist are picked: "0.3" is no spec version string, nor are
        // "0.10.0" and "1.0.1", although they parse and are not above ours.
        (r#""cniVersions": ["0.3", "0.10.0"]"#, Ok("")),
        (r#""cniVersions": ["1.0.1", "1.0.0"]"#, Ok("1.0.0")),
        (
            r#""cniVersion": "1.0.1", "cniVersions": ["0.4.0"]"#,
            Ok("0.4.0"),
        ),
        (r#""cniVersions": "1.0.0""#, Err("cniVersions")),
        (r#""cniVersions": ["1.0.0", 1]"#, Err("cniVersions[1]")),
        (r#""cniVersion": 1"#, Err("cniVersion")),
        (r#""cniVersion": null"#, Err("cniVersion")),
        (r#""cniVersion": "v1""#, Err("cniVersion")),
        (
            r#""cniVersion": "x", "cniVersions": ["1.0.0"]"#,
            Err("cniVersion"),
        ),
    ];
    for (fields, want) in cases {
        let text = format!(r#"{{"name": "test", {fields}, "plugins": [{{"type": "foo"}}]}}"#);
        match (want, conf_list_from_bytes(text.as_bytes(), None)) {
            (Ok(v), Ok(list)) => assert_eq!(list.cni_version, *v, "{fields}"),
            (Err(field), Err(e)) => assert_eq!(invalid_field(&e), *field, "{fields}: {e}"),
            (want, got) => panic!("{fields}: want {want:?}, got {got:?}"),
        }
    }
}

// ---- Go: Describe("ConfListFromConf") -----------------------------------------------------

#[test]
fn conf_list_from_conf_round_trips() {
    let conf = conf_from_bytes(
        br#"{"name":"some-plugin","cniVersion":"0.3.1", "type":"foobar"}"#,
        None,
    )
    .unwrap();
    let list = conf_list_from_conf(&conf, None).unwrap();
    assert_eq!(list.name, "some-plugin");
    assert_eq!(list.cni_version, "0.3.1");
    assert!(!list.disable_check && !list.disable_gc);
    assert_eq!(list.plugins, vec![conf]);
    assert_eq!(list.source, None);
    // The bytes parse back to the same list.
    assert_eq!(conf_list_from_bytes(&list.bytes, None).unwrap(), list);
}

#[test]
fn conf_list_from_conf_checks_the_name() {
    let conf = conf_from_bytes(br#"{"type":"foobar"}"#, None).unwrap();
    let err = conf_list_from_conf(&conf, Some(Path::new("/x/a.conf"))).unwrap_err();
    assert_eq!(err.to_string(), r#"/x/a.conf: name: "" must not be empty"#);
}

// ---- Go fixtures ---------------------------------------------------------------------------

#[test]
fn upconverted_conf_bytes_match_go_cache() {
    for (folder, name) in [
        ("conf-upconvert-spy", "fxconfspy"),
        ("conf-upconvert", "fxconf"),
    ] {
        let dir = fixture(folder);
        let found = lookup(&dir, name).unwrap();
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let want = fs::read(dir.join("cache-config.decoded")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&found.list.bytes),
            String::from_utf8_lossy(&want),
            "{folder}"
        );
        assert_eq!(found.list.cni_version, "1.0.0");
    }
}

#[test]
fn fixture_conflist_keeps_bytes_and_sorts_raw() {
    let dir = fixture("list-spy");
    let list = lookup(&dir, "fxlist").unwrap().list;
    assert_eq!(
        list.bytes,
        fs::read(dir.join("20-fxlist.conflist")).unwrap()
    );
    assert_eq!(types(&list), ["loopback", "spy", "spy"]);
    let spy = &list.plugins[1];
    assert_eq!(
        spy.capabilities
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("bandwidth", false), ("portMappings", true)]
    );
    assert_eq!(
        serde_json::to_string(&spy.raw).unwrap(),
        r#"{"capabilities":{"bandwidth":false,"portMappings":true},"custom":{"a":2,"b":1},"type":"spy"}"#
    );
}

#[test]
fn fixture_error_cases() {
    let dir = fixture("errors/missing-network");
    let err = lookup(&dir, "fxmissing").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "network \"fxmissing\" not found in {} (networks there: fxother)",
            dir.display()
        )
    );

    let dir = fixture("errors/empty-netconf-dir");
    assert!(matches!(
        lookup(&dir, "x").unwrap_err(),
        Error::NoConfigs { .. }
    ));

    // Go: `error parsing configuration list: unexpected end of JSON input`, file not named.
    let dir = fixture("errors/malformed-conflist");
    let err = lookup(&dir, "fxbroken").unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::NetworkNotFoundBroken { .. }),
        "{err:?}"
    );
    let file = dir.join("20-fxbroken.conflist");
    assert!(
        text.ends_with(&format!(
            "{}: line 1 column 76: EOF while parsing a list",
            file.display()
        )),
        "{text}"
    );
}

// ---- Lookup order, shadowing, warnings -----------------------------------------------------

fn list_json(name: &str, ty: &str) -> String {
    format!(r#"{{"cniVersion": "1.0.0", "name": "{name}", "plugins": [{{"type": "{ty}"}}]}}"#)
}

fn conf_json(name: &str, ty: &str) -> String {
    format!(r#"{{"cniVersion": "1.0.0", "name": "{name}", "type": "{ty}"}}"#)
}

#[test]
fn order_across_files_and_dirs() {
    let d1 = tmp();
    let d2 = tmp();
    let gone = d1.path().join("gone");
    // Byte order: "10" before "9", "B" before "a".
    let p_10 = write(d1.path(), "10-x.conflist", list_json("net", "ten"));
    let p_9 = write(d1.path(), "9-x.conflist", list_json("net", "nine"));
    let p_upper = write(d1.path(), "B.conflist", list_json("other", "upper"));
    let p_lower = write(d1.path(), "a.conflist", list_json("other", "lower"));
    // A .conf sorting before every conflist still comes after them.
    let p_conf = write(d1.path(), "00.conf", conf_json("conf-only", "c"));
    let p_json = write(d1.path(), "01.json", conf_json("net", "json"));
    // The second directory comes after the first, even with smaller names.
    let p_d2 = write(d2.path(), "00-a.conflist", list_json("net", "second-dir"));
    let p_d2b = write(d2.path(), "01-b.conflist", list_json("late", "late"));
    let dirs = vec![gone, d1.path().to_path_buf(), d2.path().to_path_buf()];

    let got = |name: &str| types(&load_conf_list(&dirs, name).unwrap().list)[0].to_owned();
    assert_eq!(got("net"), "ten");
    assert_eq!(got("other"), "upper");
    assert_eq!(got("conf-only"), "c");
    assert_eq!(got("late"), "late");

    let listing = list_networks(&dirs);
    assert!(listing.errors.is_empty());
    let order: Vec<_> = listing
        .networks
        .iter()
        .map(|n| (n.path.clone(), n.kind, n.shadowed_by.clone()))
        .collect();
    assert_eq!(
        order,
        vec![
            (p_10.clone(), ConfKind::ConfList, None),
            (p_9, ConfKind::ConfList, Some(p_10.clone())),
            (p_upper.clone(), ConfKind::ConfList, None),
            (p_lower, ConfKind::ConfList, Some(p_upper)),
            (p_conf, ConfKind::Conf, None),
            (p_json, ConfKind::Conf, Some(p_10.clone())),
            (p_d2, ConfKind::ConfList, Some(p_10)),
            (p_d2b, ConfKind::ConfList, None),
        ]
    );
    assert_eq!(listing.names(), ["net", "other", "conf-only", "late"]);
    assert_eq!(
        listing.get("net").unwrap().result.as_ref().unwrap().plugins[0].plugin_type,
        "ten"
    );

    let err = load_conf_list(&dirs, "nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "network \"nope\" not found in {}, {}, {} (networks there: net, other, conf-only, late)",
            dirs[0].display(),
            dirs[1].display(),
            dirs[2].display()
        )
    );
}

#[test]
fn first_of_duplicate_names_wins_even_if_broken() {
    let d = tmp();
    let first = write(
        d.path(),
        "10.conflist",
        r#"{"name": "dup", "plugins": [{"type": "/bin/sh"}]}"#,
    );
    write(d.path(), "20.conflist", list_json("dup", "good"));
    let err = lookup(d.path(), "dup").unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}: plugins[0].type: \"/bin/sh\" must be a plain file name",
            first.display()
        )),
        "{err}"
    );
    let listing = list_networks(&[d.path().to_path_buf()]);
    assert!(listing.networks[0].result.is_err());
    assert_eq!(
        listing.networks[1].shadowed_by.as_deref(),
        Some(first.as_path())
    );
}

#[test]
fn unrelated_broken_files_are_warnings() {
    let d = tmp();
    let syntax = write(
        d.path(),
        "10-syntax.conflist",
        "{\"name\": \"a\",\n  oops\n}",
    );
    let bad_type = write(d.path(), "11-type.conflist", list_json("b", "../x"));
    let dangling = d.path().join("12-dangling.conflist");
    std::os::unix::fs::symlink(d.path().join("nowhere"), &dangling).unwrap();
    let no_type = write(d.path(), "13.conf", r#"{"name": "c"}"#);
    fs::create_dir(d.path().join("14-dir.conflist")).unwrap();
    std::os::unix::fs::symlink(d.path(), d.path().join("15-dirlink.conf")).unwrap();
    write(d.path(), "50-good.conflist", list_json("good", "bridge"));

    let found = lookup(d.path(), "good").unwrap();
    assert_eq!(types(&found.list), ["bridge"]);
    let warnings: Vec<String> = found.warnings.iter().map(ToString::to_string).collect();
    // A lookup reads only the names of the other files: those that cannot be read or are
    // not JSON are warnings; semantic errors of files with a readable name (11-type's
    // "../x", 13.conf's missing type) are for `list_networks` and `validate` to report.
    let expect = vec![
        format!(
            "{}: line 2 column 3: key must be a string",
            syntax.display()
        ),
        format!("reading {}", dangling.display()),
    ];
    assert_eq!(warnings, expect);

    write(d.path(), "20.json", conf_json("late", "x"));
    let found = lookup(d.path(), "late").unwrap();
    let warnings: Vec<String> = found.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings, expect);

    // The listing still names every problem.
    let listing = list_networks(&[d.path().to_path_buf()]);
    let errors: Vec<String> = listing
        .networks
        .iter()
        .filter_map(|n| n.result.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("plugins[0].type") && e.contains(&bad_type.display().to_string())),
        "{errors:?}"
    );
    assert!(
        errors.contains(&format!("{}: type: missing", no_type.display())),
        "{errors:?}"
    );

    let listing = list_networks(&[d.path().to_path_buf()]);
    let names: Vec<_> = listing.networks.iter().map(|n| n.name.as_deref()).collect();
    assert_eq!(
        names,
        [None, Some("b"), None, Some("good"), Some("c"), Some("late")]
    );
}

#[test]
fn malformed_target_reports_line_and_column() {
    let d = tmp();
    write(d.path(), "10-other.conflist", list_json("other", "x"));
    let target = write(
        d.path(),
        "20-target.conflist",
        "{\n  \"name\": \"target\",\n  \"plugins\": [\n    {\"type\": \"x\"},\n  ]\n}\n",
    );
    let err = lookup(d.path(), "target").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "network \"target\" not found in {} (networks there: other); it may be in what \
             could not be read: {}: line 5 column 3: trailing comma",
            d.path().display(),
            target.display()
        )
    );
}

#[test]
fn unreadable_directory_is_a_warning_then_part_of_not_found() {
    let d = tmp();
    let not_a_dir = write(d.path(), "file", "x");
    let good = tmp();
    write(good.path(), "a.conflist", list_json("a", "x"));
    let dirs = vec![not_a_dir.clone(), good.path().to_path_buf()];
    let found = load_conf_list(&dirs, "a").unwrap();
    assert_eq!(
        found.warnings[0].to_string(),
        format!("reading directory {}", not_a_dir.display())
    );
    let err = load_conf_list(&dirs, "b").unwrap_err();
    assert!(
        err.to_string().ends_with(&format!(
            "could not be read: reading directory {}: Not a directory (os error 20)",
            not_a_dir.display()
        )),
        "{err}"
    );
    assert_eq!(list_networks(&dirs).errors.len(), 1);
}

// ---- Parsing and validation ----------------------------------------------------------------

#[test]
fn parse_errors_have_positions() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "line 1 column 1: empty, expected a JSON object"),
        (b" \n\t", "line 1 column 1: empty, expected a JSON object"),
        (b"{\"name\": \"\xff\"}", "line 1 column 11: not valid UTF-8"),
        (
            b"\xEF\xBB\xBF{}",
            "line 1 column 1: starts with a UTF-8 byte order mark; remove it",
        ),
        (
            b"\n  [1]",
            "line 2 column 3: expected a JSON object, found an array",
        ),
        (
            b"\"x\"",
            "line 1 column 1: expected a JSON object, found a string",
        ),
        (b"{} {}", "line 1 column 4: trailing characters"),
    ];
    for (bytes, want) in cases {
        let err = conf_list_from_bytes(bytes, Some(Path::new("/n/x.conflist"))).unwrap_err();
        assert!(matches!(err, Error::ConfigParse { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("/n/x.conflist: {want}"),
            "{bytes:?}"
        );
    }
    let err = conf_from_bytes(b"{", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "network configuration: line 1 column 1: EOF while parsing an object"
    );
}

#[test]
fn list_validation_names_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"plugins": [{"type": "x"}]}"#, "name", "missing"),
        (
            r#"{"name": 1, "plugins": [{"type": "x"}]}"#,
            "name",
            "must be a string, found a number",
        ),
        (
            r#"{"name": "a b", "plugins": [{"type": "x"}]}"#,
            "name",
            r#""a b" may contain only letters, digits, '_', '.' and '-'"#,
        ),
        (
            r#"{"name": "../etc", "plugins": [{"type": "x"}]}"#,
            "name",
            r#""../etc" must start with a letter or digit"#,
        ),
        (r#"{"name": "n"}"#, "plugins", "missing"),
        (
            r#"{"name": "n", "plugins": []}"#,
            "plugins",
            "must not be empty",
        ),
        (
            r#"{"name": "n", "plugins": null}"#,
            "plugins",
            "must be an array of plugin objects, found null",
        ),
        (
            r#"{"name": "n", "plugins": {"type": "x"}}"#,
            "plugins",
            "must be an array of plugin objects, found an object",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x"}, "y"]}"#,
            "plugins[1]",
            "must be an object, found a string",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x"}, {}]}"#,
            "plugins[1].type",
            "missing",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x"}, {"type": ""}]}"#,
            "plugins[1].type",
            r#""" must not be empty"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x"}, {"type": 7}]}"#,
            "plugins[1].type",
            "must be a string, found a number",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x"}, {"type": "../x"}]}"#,
            "plugins[1].type",
            r#""../x" must be a plain file name (no '/', '\', NUL or whitespace)"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "/bin/sh"}]}"#,
            "plugins[0].type",
            r#""/bin/sh" must be a plain file name (no '/', '\', NUL or whitespace)"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": ".."}]}"#,
            "plugins[0].type",
            r#"".." must not be '.' or '..'"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "ipam": {"type": "../x"}}]}"#,
            "plugins[0].ipam.type",
            r#""../x" must be a plain file name (no '/', '\', NUL or whitespace)"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "ipam": {"type": "/bin/sh"}}]}"#,
            "plugins[0].ipam.type",
            r#""/bin/sh" must be a plain file name (no '/', '\', NUL or whitespace)"#,
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "ipam": {"type": 1}}]}"#,
            "plugins[0].ipam.type",
            "must be a string, found a number",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "ipam": "host-local"}]}"#,
            "plugins[0].ipam",
            "must be an object, found a string",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "capabilities": {"a": "yes"}}]}"#,
            "plugins[0].capabilities.a",
            "must be true or false, found a string",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "capabilities": []}]}"#,
            "plugins[0].capabilities",
            "must be an object, found an array",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "name": 1}]}"#,
            "plugins[0].name",
            "must be a string, found a number",
        ),
        (
            r#"{"name": "n", "plugins": [{"type": "x", "cniVersion": true}]}"#,
            "plugins[0].cniVersion",
            "must be a string, found a boolean",
        ),
    ];
    for (text, field, reason) in cases {
        let err =
            conf_list_from_bytes(text.as_bytes(), Some(Path::new("/n/x.conflist"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("/n/x.conflist: {field}: {reason}"),
            "{text}"
        );
    }
}

#[test]
fn conf_validation_names_the_field() {
    let cases: &[(&str, &str)] = &[
        (r#"{"name": "n", "type": "../x"}"#, "type"),
        (r#"{"name": "n", "type": "/bin/sh"}"#, "type"),
        (
            r#"{"name": "n", "type": "x", "ipam": {"type": "a/b"}}"#,
            "ipam.type",
        ),
        (
            r#"{"name": "n", "type": "x", "capabilities": {"a": 1}}"#,
            "capabilities.a",
        ),
    ];
    for (text, field) in cases {
        let err = conf_from_bytes(text.as_bytes(), None).unwrap_err();
        assert_eq!(invalid_field(&err), *field, "{text}");
    }
    // Through a lookup, a .conf with a bad type that is the network asked for fails.
    let d = tmp();
    write(d.path(), "10.conf", r#"{"name": "n", "type": "../x"}"#);
    assert_eq!(invalid_field(&lookup(d.path(), "n").unwrap_err()), "type");
}

#[test]
fn plugin_fields_are_read_and_raw_is_kept() {
    let list = conf_list_from_bytes(
        br#"{"name": "n", "cniVersion": "1.1.0", "plugins": [
            {"type": "bridge", "ipam": {"type": "host-local", "ranges": []}, "z": {"b": 1, "a": [3, 1]}, "name": "x"},
            {"type": "a", "ipam": {}, "capabilities": null},
            {"type": "b", "ipam": {"type": ""}, "name": null}
        ]}"#,
        None,
    )
    .unwrap();
    assert_eq!(list.plugins[0].ipam_type.as_deref(), Some("host-local"));
    assert_eq!(list.plugins[1].ipam_type, None);
    assert_eq!(list.plugins[2].ipam_type, None);
    assert!(list.plugins[1].capabilities.is_empty());
    assert_eq!(
        serde_json::to_string(&list.plugins[0].raw).unwrap(),
        r#"{"ipam":{"ranges":[],"type":"host-local"},"name":"x","type":"bridge","z":{"a":[3,1],"b":1}}"#
    );
}

#[test]
fn conf_files_filters_and_sorts() {
    let d = tmp();
    for name in ["b.conf", "a.json", ".conf", "c.conflist", "d.conf.bak", "e"] {
        write(d.path(), name, "{}");
    }
    fs::create_dir(d.path().join("dir.conf")).unwrap();
    let names = |exts: &[&str]| -> Vec<String> {
        conf_files(d.path(), exts)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    // Go's filepath.Ext gives ".conf" for a file named ".conf".
    assert_eq!(names(&[".conf", ".json"]), [".conf", "a.json", "b.conf"]);
    assert_eq!(names(&["conflist"]), ["c.conflist"]);
    assert!(conf_files(&d.path().join("gone"), &["conf"])
        .unwrap()
        .is_empty());
    let err = conf_files(&d.path().join("e"), &["conf"]).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn conf_list_from_file_reads_subdirectory_plugins() {
    let d = tmp();
    let path = write(d.path(), "x.conflist", r#"{"name": "n"}"#);
    write(d.path(), "n/1.conf", r#"{"type": "a"}"#);
    let list = conf_list_from_file(&path).unwrap();
    assert_eq!(types(&list), ["a"]);
    assert_eq!(list.source.as_deref(), Some(path.as_path()));
    // From bytes alone, no plugins.
    let err = conf_list_from_bytes(br#"{"name": "n"}"#, None).unwrap_err();
    assert_eq!(invalid_field(&err), "plugins");
}

/// A lookup reads the directory in chunks of growing size, in lookup order, and stops at the
/// match: broken files before it are warnings, files after it are never read.
#[test]
fn lookup_across_chunks_stops_at_the_match() {
    let d = tmp();
    for i in 0..1100 {
        write(
            d.path(),
            &format!("{i:05}.conflist"),
            list_json(&format!("n{i}"), "bridge"),
        );
    }
    let before = write(d.path(), "00020-broken.conflist", "{");
    write(d.path(), "01080-broken.conflist", "{");
    let found = lookup(d.path(), "n1050").unwrap();
    assert_eq!(found.list.name, "n1050");
    let warnings: Vec<String> = found.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&before.display().to_string()),
        "{warnings:?}"
    );

    let err = lookup(d.path(), "missing").unwrap_err().to_string();
    assert!(err.contains("n0, n1, n2"), "{}", &err[..200]);
    assert!(err.contains("n1099"));
    assert!(
        err.contains("01080-broken.conflist"),
        "both broken files may hold it"
    );
}

/// Netconfs around the size of the name peek's single read (4 KiB): a name past it, a file
/// of exactly that size, and a file that is a valid object up to the 4 KiB mark followed by
/// junk are all judged on their whole bytes.
#[test]
fn lookup_reads_netconfs_longer_than_the_peek_in_full() {
    let d = tmp();
    let padded = |name: &str, len: usize| {
        let head = r#"{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}],"x":""#.to_string();
        let tail = format!(r#"","name":"{name}"}}"#);
        let pad = "a".repeat(len - head.len() - tail.len());
        format!("{head}{pad}{tail}")
    };
    write(d.path(), "10-long.conflist", padded("long", 5000));
    write(d.path(), "20-exact.conflist", padded("exact", 4096));
    write(d.path(), "30-under.conflist", padded("under", 4095));
    let mut junk = padded("junk", 4096).into_bytes();
    junk.extend_from_slice(b"not json");
    let junk_path = write(d.path(), "40-junk.conflist", junk);
    write(d.path(), "50-last.conflist", list_json("last", "bridge"));
    for name in ["long", "exact", "under"] {
        assert_eq!(lookup(d.path(), name).unwrap().list.name, name);
    }
    let found = lookup(d.path(), "last").unwrap();
    let warnings: Vec<String> = found.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&junk_path.display().to_string()),
        "{warnings:?}"
    );
    let err = lookup(d.path(), "missing").unwrap_err().to_string();
    assert!(err.contains("long, exact, under"), "{err}");
}

#[test]
fn a_netconf_larger_than_16_mib_is_refused_not_read() {
    let d = tmp();
    let big = d.path().join("10-big.conflist");
    fs::File::create(&big)
        .unwrap()
        .set_len((16 << 20) + 1)
        .unwrap();
    write(d.path(), "20-good.conflist", list_json("good", "bridge"));
    let found = lookup(d.path(), "good").unwrap();
    let warnings: Vec<String> = found
        .warnings
        .iter()
        .map(|e| format!("{e}: {}", std::error::Error::source(e).unwrap()))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("10-big.conflist") && warnings[0].contains("larger than 16 MiB"),
        "{warnings:?}"
    );
}
