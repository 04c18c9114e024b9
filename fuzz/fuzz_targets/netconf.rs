//! Netconf parsing: a list or a single conf from arbitrary bytes never panics, and what
//! parses builds valid plugin stdin.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = libcni::conf::conf_list_from_bytes(data, None) {
        for plugin in &list.plugins {
            let stdin = libcni::api::build_one_config(&list, plugin, None, None);
            serde_json::from_slice::<serde_json::Value>(&stdin).expect("stdin is JSON");
        }
    }
    if let Ok(conf) = libcni::conf::conf_from_bytes(data, None) {
        let _ = libcni::conf::conf_list_from_conf(&conf, None);
    }
});
