//! Capability arguments (CAP_ARGS, a JSON object) injected into plugin stdin as
//! `runtimeConfig` for a plugin that declares every key as a capability: never panics and
//! always yields valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
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
});
