//! Capability arguments (CAP_ARGS, a JSON object) injected into plugin stdin as
//! `runtimeConfig` for a plugin that declares every key as a capability: never panics and
//! always yields valid JSON.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target calls one check
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cap_args(data));
