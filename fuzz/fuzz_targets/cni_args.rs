//! CNI_ARGS parsing: never panics, and what parses joins back to the same pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pairs) = libcni::invoke::parse_cni_args(s) {
        let joined = libcni::invoke::join_cni_args(&pairs);
        if !pairs.is_empty() {
            assert_eq!(libcni::invoke::parse_cni_args(&joined).unwrap(), pairs);
        }
    }
});
