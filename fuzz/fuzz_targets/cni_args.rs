//! CNI_ARGS parsing: never panics, and what parses joins back to the same pairs.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target calls one check
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cni_args(data));
