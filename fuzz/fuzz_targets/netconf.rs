//! Netconf parsing: a list or a single conf from arbitrary bytes never panics, and what
//! parses builds valid plugin stdin.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target calls one check
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::netconf(data));
