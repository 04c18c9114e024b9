//! The fuzz targets' checks, one function per target (named after its `corpus/` folder):
//! each takes arbitrary bytes and panics only when a property breaks. The libFuzzer targets in
//! `fuzz_targets/` call them, and `cargo test` replays every corpus file through them
//! (`crates/libcni/tests/fuzz_corpus.rs`), so the properties are checked on every test run.

use serde_json::{json, Map, Value};

/// Netconf parsing: a list or a single conf from arbitrary bytes never panics, and what
/// parses builds valid plugin stdin.
pub fn netconf(data: &[u8]) {
    if let Ok(list) = libcni::conf::conf_list_from_bytes(data, None) {
        for plugin in &list.plugins {
            let stdin = libcni::api::build_one_config(&list, plugin, None, None);
            serde_json::from_slice::<Value>(&stdin).expect("stdin is JSON");
        }
    }
    if let Ok(conf) = libcni::conf::conf_from_bytes(data, None) {
        let _ = libcni::conf::conf_list_from_conf(&conf, None);
    }
}

/// Result parsing and conversion: a plugin's stdout, parsed for every spec version and
/// converted to every other one, never panics, and every conversion serialises to JSON.
pub fn result(data: &[u8]) {
    for &from in libcni::version::SUPPORTED {
        let Ok(result) = libcni::CniResult::parse(data, from) else {
            continue;
        };
        let _ = result.to_v1();
        for &to in libcni::version::SUPPORTED {
            if let Ok(converted) = result.convert_to(to) {
                let json = converted.to_json();
                serde_json::from_slice::<Value>(&json).expect("result JSON");
            }
        }
    }
}

/// Cache file parsing: arbitrary bytes never panic, and an entry that decodes survives an
/// encode/decode round trip unchanged.
pub fn cache(data: &[u8]) {
    if let Ok(libcni::cache::CacheEntry::V1(att)) = libcni::cache::decode(data) {
        let again = libcni::cache::decode(&libcni::cache::encode(&att)).expect("re-decode");
        assert_eq!(again, libcni::cache::CacheEntry::V1(att));
    }
}

/// CNI_ARGS parsing: never panics, and what parses joins back to the same pairs.
pub fn cni_args(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pairs) = libcni::invoke::parse_cni_args(s) {
        let joined = libcni::invoke::join_cni_args(&pairs);
        if !pairs.is_empty() {
            assert_eq!(libcni::invoke::parse_cni_args(&joined).unwrap(), pairs);
        }
    }
}

/// Capability arguments (CAP_ARGS, a JSON object) injected into plugin stdin as
/// `runtimeConfig` for a plugin that declares every key as a capability: never panics and
/// always yields valid JSON.
pub fn cap_args(data: &[u8]) {
    let Ok(Value::Object(caps)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let declared: Map<String, Value> = caps.keys().map(|k| (k.clone(), json!(true))).collect();
    let bytes = json!({"cniVersion": "1.0.0", "name": "fuzz",
        "plugins": [{"type": "p", "capabilities": declared}]})
    .to_string();
    let Ok(list) = libcni::conf::conf_list_from_bytes(bytes.as_bytes(), None) else {
        return;
    };
    let rt = libcni::RuntimeConf {
        container_id: "c".into(),
        netns: "/run/netns/x".into(),
        ifname: "eth0".into(),
        args: vec![],
        capability_args: caps,
    };
    for plugin in &list.plugins {
        let stdin = libcni::api::build_one_config(&list, plugin, None, Some(&rt));
        serde_json::from_slice::<Value>(&stdin).expect("stdin is JSON");
    }
}
