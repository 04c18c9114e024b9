//! Compact JSON as Go's `encoding/json` writes it, for bytes that Go tools read back and
//! compare (the cached `config` of a converted `.conf`).
//!
//! serde_json's default map is sorted like Go's map encoding. What remains is Go's
//! HTML-safe string escaping: `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, and
//! U+2028/U+2029 become `\u2028`/`\u2029`. Those characters can only occur inside JSON
//! strings, so replacing them in serde_json's output is exact.
//!
//! Not matched: Go decodes every number to a float64 and prints it back in its shortest form
//! (`1.0` becomes `1`, integers above 2^53 lose digits); we keep numbers as written.

use serde_json::{Map, Value};

/// Encodes `map` compactly with Go's escaping.
pub(super) fn to_vec(map: &Map<String, Value>) -> Vec<u8> {
    // Serializing a `Map<String, Value>` cannot fail: keys are strings, values are JSON.
    let plain = serde_json::to_string(map).unwrap_or_default();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v: Value =
            serde_json::from_str(r#"{"b":"<a & b>","a":{"z":1,"y":"\u2028\u2029"},"c":"\n\"\\"}"#)
                .unwrap();
        let Value::Object(map) = v else { panic!() };
        assert_eq!(
            String::from_utf8(to_vec(&map)).unwrap(),
            r#"{"a":{"y":"\u2028\u2029","z":1},"b":"\u003ca \u0026 b\u003e","c":"\n\"\\"}"#
        );
    }
}
