//! Cache file parsing: arbitrary bytes never panic, and an entry that decodes survives an
//! encode/decode round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(libcni::cache::CacheEntry::V1(att)) = libcni::cache::decode(data) {
        let again = libcni::cache::decode(&libcni::cache::encode(&att)).expect("re-decode");
        assert_eq!(again, libcni::cache::CacheEntry::V1(att));
    }
});
