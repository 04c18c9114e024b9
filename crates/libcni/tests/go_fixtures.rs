//! Replays the Go cnitool recordings (`tests/fixtures/go`, see its README) through
//! this library and compares the bytes the plugins got, the cache file and the result.
//!
//! Each replay runs in a throwaway network + mount namespace with a private tmpfs on `/run`,
//! so the recorded paths are real here: the fixture's own `spy` plugin sits in
//! `/run/cni-fx/bin` and logs to `/run/cni-fx/spylog` as when it was recorded, and the
//! namespaces are `/run/netns/<name>`. `CNI_PATH`, `CNI_NETNS` and every `sandbox` field then
//! equal the recordings byte for byte; nothing needs substituting.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use libcni::api::CniConfig;
use libcni::conf::load_conf_list;
use libcni::netns::{self, CreateOptions};
use libcni::{CniResult, Command, Error, RuntimeConf};
use serde_json::{Map, Value};

use support::{dir_names, in_throwaway_host, private_run, root_or_skip};

const PLUGIN_DIR: &str = "/run/cni-fx/bin";
const SPY_LOG: &str = "/run/cni-fx/spylog";
const NETNS_DIR: &str = "/run/netns";
const REAL_PLUGINS: &str = "/usr/lib/cni";

fn fixture_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/go"));
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing",
        dir.display()
    );
    dir
}

fn fixture(rel: &str) -> Vec<u8> {
    let path = fixture_dir().join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn fixture_str(rel: &str) -> String {
    String::from_utf8(fixture(rel)).unwrap()
}

/// One run of the Go tool, as `env.txt` records it.
#[derive(Debug, Clone)]
struct Run {
    label: String,
    verb: String,
    network: String,
    /// The absolute netns path (relative arguments joined to the recorded `cwd`).
    netns: String,
    cni_args: Option<String>,
    cap_args: Option<String>,
    exit: i32,
}

fn parse_env_txt(folder: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut cur: Option<Run> = None;
    let mut cwd = None;
    for line in fixture_str(&format!("{folder}/env.txt")).lines() {
        if let Some(label) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            cwd = None;
            cur = Some(Run {
                label: label.into(),
                verb: String::new(),
                network: String::new(),
                netns: String::new(),
                cni_args: None,
                cap_args: None,
                exit: -1,
            });
            continue;
        }
        let Some(run) = cur.as_mut() else { continue };
        if let Some(v) = line.strip_prefix("CNI_ARGS=") {
            run.cni_args = Some(v.into());
        } else if let Some(v) = line.strip_prefix("CAP_ARGS=") {
            run.cap_args = Some(v.into());
        } else if let Some(v) = line.strip_prefix("cwd: ") {
            cwd = Some(PathBuf::from(v));
        } else if let Some(v) = line.strip_prefix("argv: ") {
            let argv: Vec<&str> = v.split(' ').collect();
            run.verb = argv[1].into();
            run.network = argv[2].into();
            let p = Path::new(argv[3]);
            run.netns = match &cwd {
                Some(cwd) if p.is_relative() => cwd.join(p).to_string_lossy().into_owned(),
                _ => argv[3].into(),
            };
        } else if let Some(v) = line.strip_prefix("exit: ") {
            run.exit = v.parse().unwrap();
            runs.push(cur.take().unwrap());
        }
    }
    runs
}

fn container_id(netns: &str) -> String {
    fixture_str("container-ids.txt")
        .lines()
        .find_map(|l| l.strip_prefix(netns).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{netns} not in container-ids.txt"))
        .to_owned()
}

/// What a replay produced; collected inside the namespace.
#[derive(Debug)]
struct Replay {
    /// Per run: its label and our outcome (the result for a successful ADD).
    outcomes: Vec<(Run, Result<Option<CniResult>, Error>)>,
    /// Per logged spy call: (number, stdin, `CNI_*` lines).
    spy: Vec<(String, Vec<u8>, String)>,
    /// The cache file right after the first successful ADD.
    cache_after_add: Option<Vec<u8>>,
    /// Files left in the cache's results directory at the end.
    results_left: Vec<String>,
}

impl Replay {
    fn outcome(&self, label: &str) -> &Result<Option<CniResult>, Error> {
        &self
            .outcomes
            .iter()
            .find(|(r, _)| r.label == label)
            .unwrap_or_else(|| panic!("no run {label}"))
            .1
    }
}

/// Replays every run of `folder` in a throwaway host namespace.
fn replay(folder: &str, runs: &[Run]) -> Replay {
    in_throwaway_host(|| replay_steps(folder, None, runs, |_| {}))
}

/// Sets up the recorded paths in the calling thread's throwaway namespaces and replays every
/// run of `folder` (with `netconf` replacing the folder's netconf files when given), calling
/// `after` with each run's label after it.
fn replay_steps(
    folder: &str,
    netconf: Option<(&str, &[u8])>,
    runs: &[Run],
    mut after: impl FnMut(&str),
) -> Replay {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_owned();
    let fx = fixture_dir();
    let replay = {
        private_run();
        fs::create_dir_all(PLUGIN_DIR).unwrap();
        fs::create_dir_all(SPY_LOG).unwrap();
        for p in dir_names(&fx.join("plugins")) {
            let dst = Path::new(PLUGIN_DIR).join(&p);
            fs::copy(fx.join("plugins").join(&p), &dst).unwrap();
        }
        let conf_dir = PathBuf::from(format!("/run/cni-fx/netconf/{folder}"));
        fs::create_dir_all(&conf_dir).unwrap();
        match netconf {
            Some((name, bytes)) => fs::write(conf_dir.join(name), bytes).unwrap(),
            None => {
                for f in dir_names(&fx.join(folder)) {
                    if f.ends_with(".conf") || f.ends_with(".conflist") {
                        fs::copy(fx.join(folder).join(&f), conf_dir.join(&f)).unwrap();
                    }
                }
            }
        }
        let cfg = CniConfig::new(
            vec![PLUGIN_DIR.into(), REAL_PLUGINS.into()],
            cache_dir.clone(),
        );
        let mut outcomes = Vec::new();
        let mut cache_after_add = None;
        let mut made = Vec::new();
        for run in runs {
            let real = fs::canonicalize(Path::new(&run.netns).parent().unwrap())
                .unwrap_or_else(|_| NETNS_DIR.into());
            assert_eq!(real, Path::new(NETNS_DIR), "netns of {run:?}");
            let name = Path::new(&run.netns).file_name().unwrap().to_str().unwrap();
            if !Path::new(NETNS_DIR).join(name).exists() && !name.contains("does-not-exist") {
                netns::create(NETNS_DIR, name, CreateOptions::default()).unwrap();
                made.push(name.to_owned());
            }
            let list = load_conf_list(std::slice::from_ref(&conf_dir), &run.network)
                .unwrap()
                .list;
            let rt = RuntimeConf {
                container_id: container_id(&run.netns),
                netns: run.netns.clone().into(),
                ifname: "eth0".into(),
                args: run
                    .cni_args
                    .as_deref()
                    .map(|a| libcni::invoke::parse_cni_args(a).unwrap())
                    .unwrap_or_default(),
                capability_args: run
                    .cap_args
                    .as_deref()
                    .map(|a| serde_json::from_str::<Map<String, Value>>(a).unwrap())
                    .unwrap_or_default(),
            };
            let outcome = match run.verb.as_str() {
                "add" => cfg.add_network_list(&list, &rt).map(Some),
                "check" => cfg.check_network_list(&list, &rt).map(|()| None),
                "del" => cfg.del_network_list(&list, &rt).map(|()| None),
                other => panic!("verb {other}"),
            };
            if run.verb == "add" && outcome.is_ok() && cache_after_add.is_none() {
                let path = cfg.cache().path(&list.name, &rt.container_id, &rt.ifname);
                cache_after_add = Some(fs::read(path).unwrap());
            }
            outcomes.push((run.clone(), outcome));
            after(&run.label);
        }
        let mut spy = Vec::new();
        for f in dir_names(Path::new(SPY_LOG)) {
            if let Some(n) = f.strip_suffix(".stdin") {
                let log = Path::new(SPY_LOG);
                spy.push((
                    n.to_owned(),
                    fs::read(log.join(&f)).unwrap(),
                    fs::read_to_string(log.join(format!("{n}.env"))).unwrap(),
                ));
            }
        }
        for name in made {
            netns::delete(NETNS_DIR, &name).unwrap();
        }
        assert!(netns::list(NETNS_DIR).unwrap().is_empty());
        Replay {
            outcomes,
            spy,
            cache_after_add,
            results_left: dir_names(&cache_dir.join("results")),
        }
    };
    drop(cache);
    replay
}

/// The fixture's logged calls: (`NN-COMMAND`, stdin, env).
fn fixture_calls(folder: &str) -> Vec<(String, Vec<u8>, String)> {
    dir_names(&fixture_dir().join(folder))
        .into_iter()
        .filter_map(|f| f.strip_suffix(".stdin").map(str::to_owned))
        .map(|n| {
            let stdin = fixture(&format!("{folder}/{n}.stdin"));
            let env = fixture_str(&format!("{folder}/{n}.env"));
            (n, stdin, env)
        })
        .collect()
}

/// Our spy call `ours` equals the fixture's call `theirs` byte for byte.
fn assert_call(folder: &str, ours: &(String, Vec<u8>, String), theirs: &(String, Vec<u8>, String)) {
    assert_eq!(
        String::from_utf8_lossy(&ours.1),
        String::from_utf8_lossy(&theirs.1),
        "{folder}: stdin of our call {} vs {}",
        ours.0,
        theirs.0
    );
    assert_eq!(
        ours.2, theirs.2,
        "{folder}: CNI_* of our call {} vs {}",
        ours.0, theirs.0
    );
    let command = theirs.0.split('-').nth(1).unwrap();
    assert!(ours.2.contains(&format!("CNI_COMMAND={command}\n")));
}

/// The cache file after ADD equals `cache-after-add` once our `netns` key (upstream main
/// writes it; v1.1.2 did not) is taken out.
fn assert_cache(folder: &str, ours: &[u8], netns: &str) {
    let ours = String::from_utf8(ours.to_vec()).unwrap();
    let key = format!(r#","netns":"{netns}""#);
    assert!(
        ours.contains(&format!(r#""networkName":{}{key}"#, networkname(&ours))),
        "{folder}: our cache has no netns right after networkName: {ours}"
    );
    assert_eq!(
        ours.replacen(&key, "", 1),
        fixture_str(&format!("{folder}/cache-after-add")),
        "{folder}: cache file"
    );
}

fn networkname(cache: &str) -> String {
    let v: Value = serde_json::from_str(cache).unwrap();
    v["networkName"].to_string()
}

/// Replays a folder where we behave as Go: same exit codes, same calls, same cache, same
/// output.
fn assert_same_as_go(folder: &str) -> Replay {
    let runs = parse_env_txt(folder);
    let r = replay(folder, &runs);
    for (run, outcome) in &r.outcomes {
        assert_eq!(
            outcome.is_ok(),
            run.exit == 0,
            "{folder}: {} exit {} but we got {outcome:?}",
            run.label,
            run.exit
        );
        if let Ok(Some(result)) = outcome {
            assert_eq!(
                String::from_utf8(result.to_json_pretty()).unwrap(),
                fixture_str(&format!("{folder}/{}.stdout", run.label)),
                "{folder}: {} stdout",
                run.label
            );
        }
    }
    let theirs = fixture_calls(folder);
    assert_eq!(
        r.spy
            .iter()
            .map(|c| c
                .2
                .lines()
                .find(|l| l.starts_with("CNI_COMMAND"))
                .unwrap_or("")
                .to_owned())
            .collect::<Vec<_>>(),
        theirs
            .iter()
            .map(|c| format!("CNI_COMMAND={}", c.0.split('-').nth(1).unwrap()))
            .collect::<Vec<_>>(),
        "{folder}: call order"
    );
    for (ours, theirs) in r.spy.iter().zip(&theirs) {
        assert_call(folder, ours, theirs);
    }
    if fixture_dir().join(folder).join("cache-after-add").exists() {
        let netns = &runs.iter().find(|r| r.verb == "add").unwrap().netns;
        assert_cache(folder, r.cache_after_add.as_ref().unwrap(), netns);
    }
    assert!(
        r.results_left.is_empty(),
        "{folder}: cache left {:?}",
        r.results_left
    );
    r
}

fn assert_check_refused(r: &Replay, version: &str) {
    match r.outcome("check") {
        Err(Error::VerbUnsupported {
            command: Command::Check,
            version: v,
        }) => assert_eq!(v, version),
        other => panic!("check: {other:?}"),
    }
}

macro_rules! same_as_go {
    ($($name:ident: $folder:literal $(, $after:expr)?;)*) => {$(
        #[test]
        fn $name() {
            if !root_or_skip(stringify!($name)) {
                return;
            }
            let _r = assert_same_as_go($folder);
            $( ($after)(&_r); )?
        }
    )*};
}

same_as_go! {
    list_spy: "list-spy";
    conf_upconvert_spy: "conf-upconvert-spy";
    old_version_0_3_1: "old-version-0.3.1", |r| assert_check_refused(r, "0.3.1");
    version_0_4_0: "version-0.4.0";
    version_0_2_0: "version-0.2.0", |r| assert_check_refused(r, "0.2.0");
    version_mixed_1_0_0_result_in_0_4_0_list: "version-mixed-1.0.0-result-in-0.4.0-list";
    version_mixed_0_4_0_result_in_1_0_0_list: "version-mixed-0.4.0-result-in-1.0.0-list";
    container_id_symlink_and_relative: "container-id";
}

// ---- errors/* that concern the library ----

fn replay_errors(case: &str) -> Replay {
    let folder = format!("errors/{case}");
    let runs = parse_env_txt(&folder);
    replay(&folder, &runs)
}

fn plugin_dirs() -> Vec<PathBuf> {
    vec![PLUGIN_DIR.into(), REAL_PLUGINS.into()]
}

/// Go leaves the first plugin ADDed; we roll it back with a DEL (with the partial result as
/// `prevResult`), and nothing is cached either way.
#[test]
fn errors_missing_second_plugin_rolls_back_the_first() {
    if !root_or_skip("errors_missing_second_plugin_rolls_back_the_first") {
        return;
    }
    let r = replay_errors("missing-second-plugin");
    match r.outcome("add") {
        Err(Error::AddFailed {
            error, rollback, ..
        }) => {
            assert!(rollback.is_none(), "rollback failed: {rollback:?}");
            match &**error {
                Error::PluginNotFound { plugin, dirs } => {
                    assert_eq!(plugin, "fx-nosuchplugin");
                    assert_eq!(dirs, &plugin_dirs());
                }
                other => panic!("inner error {other:?}"),
            }
        }
        other => panic!("add: {other:?}"),
    }
    let theirs = fixture_calls("errors/missing-second-plugin");
    assert_eq!(theirs.len(), 1);
    assert_eq!(r.spy.len(), 2, "ADD then the rollback DEL: {:?}", r.spy);
    assert_call("missing-second-plugin", &r.spy[0], &theirs[0]);
    let del = &r.spy[1];
    assert_eq!(
        del.2,
        theirs[0].2.replace("CNI_COMMAND=ADD", "CNI_COMMAND=DEL")
    );
    let stdin: Value = serde_json::from_slice(&del.1).unwrap();
    assert_eq!(stdin["delegate"], "loopback");
    assert_eq!(
        stdin["prevResult"]["interfaces"][0]["sandbox"], "/run/netns/fxerr",
        "the rollback DEL gets the partial result: {stdin}"
    );
    assert!(r.results_left.is_empty());
}

fn assert_plugin_error(
    e: &Error,
    plugin: &str,
    command: Command,
    code: u32,
    msg: &str,
    details: &str,
) {
    match e {
        Error::Plugin {
            plugin: p,
            index,
            command: c,
            code: k,
            msg: m,
            details: d,
        } => {
            assert_eq!((p.as_str(), *index, *c), (plugin, 0, command), "{e:?}");
            assert_eq!((*k, m.as_str(), d.as_str()), (code, msg, details), "{e:?}");
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn errors_plugin_error_json() {
    if !root_or_skip("errors_plugin_error_json") {
        return;
    }
    let r = replay_errors("plugin-error-json");
    match r.outcome("add") {
        Err(Error::AddFailed {
            error, rollback, ..
        }) => {
            assert_plugin_error(
                error,
                "fx-errjson",
                Command::Add,
                7,
                "bad config",
                "field x",
            );
            // The rollback DEL hits the same failing plugin.
            let rollback = rollback.as_deref().expect("the rollback DEL fails too");
            assert_plugin_error(
                rollback,
                "fx-errjson",
                Command::Del,
                7,
                "bad config",
                "field x",
            );
        }
        other => panic!("add: {other:?}"),
    }
    let del = r.outcome("del").as_ref().unwrap_err();
    assert_plugin_error(del, "fx-errjson", Command::Del, 7, "bad config", "field x");
    // Go forgets the attachment; we keep its entry until a DEL succeeds (none does here).
    assert_eq!(r.results_left.len(), 1, "{:?}", r.results_left);
    assert!(r.results_left[0].ends_with("-eth0"), "{:?}", r.results_left);
}

#[test]
fn errors_plugin_error_stderr_only() {
    if !root_or_skip("errors_plugin_error_stderr_only") {
        return;
    }
    let r = replay_errors("plugin-error-stderr-only");
    match r.outcome("add") {
        // Go: `netplugin failed: "oops\n"`; we keep stderr as the message, code 999.
        Err(Error::AddFailed { error, .. }) => {
            assert_plugin_error(error, "fx-errstderr", Command::Add, 999, "oops", "");
        }
        other => panic!("add: {other:?}"),
    }
}

#[test]
fn errors_plugin_error_not_json() {
    if !root_or_skip("errors_plugin_error_not_json") {
        return;
    }
    let r = replay_errors("plugin-error-not-json");
    match r.outcome("add") {
        Err(Error::AddFailed { error, .. }) => match &**error {
            Error::PluginOutput {
                plugin,
                index,
                command,
                reason,
            } => {
                assert_eq!(
                    (plugin.as_str(), *index, *command),
                    ("fx-errnotjson", 0, Command::Add)
                );
                assert!(reason.contains("not json"), "{reason}");
                assert!(reason.contains("exit status 1"), "{reason}");
            }
            other => panic!("inner error {other:?}"),
        },
        other => panic!("add: {other:?}"),
    }
}

/// Go runs CHECK without `prevResult` (the spec forbids it); we refuse with `NotAttached`
/// before any plugin runs. DEL without a cache runs the plugin without `prevResult`, as Go.
#[test]
fn errors_check_and_del_without_cache() {
    if !root_or_skip("errors_check_and_del_without_cache") {
        return;
    }
    let r = replay_errors("check-and-del-without-cache");
    match r.outcome("check") {
        Err(Error::NotAttached {
            network,
            container_id,
            ifname,
        }) => {
            assert_eq!(network, "fxnocache");
            assert_eq!(container_id, "cnitool-c499fc7ca27293a92261");
            assert_eq!(ifname, "eth0");
        }
        other => panic!("check: {other:?}"),
    }
    assert!(r.outcome("del").is_ok());
    let theirs = fixture_calls("errors/check-and-del-without-cache");
    assert_eq!(r.spy.len(), 1, "only DEL ran: {:?}", r.spy);
    assert_call("check-and-del-without-cache", &r.spy[0], &theirs[1]);
}

// ---- bridge-real: real bridge + host-local + portmap (through the spy) ----

const BR_NAME: &str = "cnitfxbr5";
const BR_NET: &str = "10.199.41.";

/// The bridge-real run with our own bridge name, subnet and host-local `dataDir`; MACs and
/// the veth name are random, so both sides are compared after [`normalize_random`] and after
/// mapping our names back to the recorded ones. Where we differ on purpose: the DEL without
/// `CAP_ARGS` gets the cached `portMappings` and removes the DNAT chain, which Go leaks.
#[test]
fn bridge_real_and_portmap_del_without_cap_args() {
    if !root_or_skip("bridge_real_and_portmap_del_without_cap_args") {
        return;
    }
    use support::{cni_chains, iptables_save, link_names, normalize_random};
    let folder = "bridge-real";
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_owned();
    let orig = fixture_str(&format!("{folder}/20-fxbridge.conflist"));
    let ours = orig
        .replace("fxbr0", BR_NAME)
        .replace("10.241.0.", BR_NET)
        .replace(
            r#""ipam": {"type": "host-local","#,
            &format!(r#""ipam": {{"dataDir": "{data_dir}", "type": "host-local","#),
        );
    assert!(ours.contains(&data_dir));
    let back = |s: &str| {
        normalize_random(
            &s.replace(&format!(r#""dataDir":"{data_dir}","#), "")
                .replace(BR_NAME, "fxbr0")
                .replace(BR_NET, "10.241.0."),
        )
    };
    let runs = parse_env_txt(folder);
    assert_eq!(runs[1].cap_args, None, "the recorded del has no CAP_ARGS");

    // Run inside one namespace so the host side can be inspected between the steps.
    let (nat_after_add, nat_after_del, links_after_del, chains_after_del, r) =
        in_throwaway_host(|| {
            let nat = std::cell::RefCell::new(Vec::new());
            let r = replay_steps(
                folder,
                Some(("20-fxbridge.conflist", ours.as_bytes())),
                &runs,
                |label| {
                    nat.borrow_mut()
                        .push((label.to_owned(), iptables_save("nat")));
                },
            );
            let nat = nat.into_inner();
            (
                nat[0].1.clone(),
                nat[1].1.clone(),
                link_names(),
                cni_chains(),
                r,
            )
        });

    for (run, outcome) in &r.outcomes {
        assert!(outcome.is_ok(), "{}: {outcome:?}", run.label);
    }
    let result = r.outcome("add").as_ref().unwrap().as_ref().unwrap();
    assert_eq!(
        back(&String::from_utf8(result.to_json_pretty()).unwrap()),
        normalize_random(&fixture_str(&format!("{folder}/add.stdout")))
    );
    // The spy delegating to portmap: ADD exactly as Go (modulo random bytes) ...
    let theirs = fixture_calls(folder);
    assert_eq!(r.spy.len(), 2);
    assert_eq!(
        back(&String::from_utf8_lossy(&r.spy[0].1)),
        normalize_random(&String::from_utf8_lossy(&theirs[0].1))
    );
    assert_eq!(r.spy[0].2, theirs[0].2);
    // ... but DEL gets the cached portMappings: the same document as ADD (Go's has no
    // runtimeConfig, see portmap-del-runtimeConfig.txt).
    assert!(r.spy[1].2.contains("CNI_COMMAND=DEL\n"));
    assert_eq!(
        back(&String::from_utf8_lossy(&r.spy[1].1)),
        normalize_random(&String::from_utf8_lossy(&theirs[0].1)),
        "our DEL stdin carries runtimeConfig.portMappings"
    );
    // The cache: the recorded one except `config` (our conflist) and `netns`.
    let cache = String::from_utf8(r.cache_after_add.clone().unwrap()).unwrap();
    let parsed: Value = serde_json::from_str(&cache).unwrap();
    let fx_cache = fixture_str(&format!("{folder}/cache-after-add"));
    let fx_parsed: Value = serde_json::from_str(&fx_cache).unwrap();
    let cache = cache
        .replacen(r#","netns":"/run/netns/fx5""#, "", 1)
        .replacen(
            parsed["config"].as_str().unwrap(),
            fx_parsed["config"].as_str().unwrap(),
            1,
        );
    assert_eq!(back(&cache), normalize_random(&fx_cache));
    // iptables after ADD: the same rules, the same chain name (it hashes the network name and
    // container ID, both as recorded).
    assert_eq!(
        nat_after_add.replace(BR_NET, "10.241.0."),
        fixture_str(&format!("{folder}/iptables-nat-after-add.txt"))
    );
    assert!(fixture_str(&format!("{folder}/iptables-nat-after-del.txt")).contains(":CNI-DN-"));
    assert!(!nat_after_del.contains("CNI-DN-"), "{nat_after_del}");
    assert!(
        chains_after_del.iter().all(|c| !c.starts_with("CNI-DN-")),
        "{chains_after_del:?}"
    );
    // Nothing left of the attachment: no veth on the host side (the bridge itself stays, as
    // with Go), no cache file, host-local released the address.
    assert!(
        links_after_del.iter().all(|l| !l.starts_with("veth")),
        "{links_after_del:?}"
    );
    assert!(r.results_left.is_empty());
    let mut left = dir_names(&data.path().join("fxbridge"));
    left.sort();
    assert_eq!(
        left.join("\n") + "\n",
        fixture_str(&format!("{folder}/host-local-files-after-del.txt"))
    );
}
