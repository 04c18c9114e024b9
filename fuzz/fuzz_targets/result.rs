//! Result parsing and conversion: a plugin's stdout, parsed for every spec version and
//! converted to every other one, never panics, and every conversion serialises to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for &from in libcni::version::SUPPORTED {
        let Ok(result) = libcni::CniResult::parse(data, from) else {
            continue;
        };
        let _ = result.to_v1();
        for &to in libcni::version::SUPPORTED {
            if let Ok(converted) = result.convert_to(to) {
                let json = converted.to_json();
                serde_json::from_slice::<serde_json::Value>(&json).expect("result JSON");
            }
        }
    }
});
