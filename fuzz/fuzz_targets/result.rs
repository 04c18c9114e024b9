//! Result parsing and conversion: a plugin's stdout, parsed for every spec version and
//! converted to every other one, never panics, and every conversion serialises to JSON.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target calls one check
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::result(data));
