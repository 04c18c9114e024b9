//! Cache file parsing: arbitrary bytes never panic, and an entry that decodes survives an
//! encode/decode round trip unchanged.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target calls one check
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cache(data));
