//! JSON encoding that produces the bytes Go's `encoding/json` produces.
//!
//! Plugins and the Go tool see what Go's `json.Marshal` writes, so we write the same:
//! `<`, `>`, `&`, U+2028 and U+2029 inside strings are escaped as `\u003c` and friends
//! (Go's HTML-safe default), and floating-point numbers use Go's formatting (`1` for `1.0`,
//! exponent form below 1e-6 and from 1e21). Map keys come out sorted because `serde_json`'s
//! default map is a `BTreeMap`, which is also Go's order for `map[string]interface{}`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Wraps a serde_json formatter, adding Go's string escapes and number format.
struct GoFormatter<F>(F);

fn write_go_fragment<W: ?Sized + Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        let escape = match c {
            '<' => "\\u003c",
            '>' => "\\u003e",
            '&' => "\\u0026",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            _ => continue,
        };
        writer.write_all(&fragment.as_bytes()[start..i])?;
        writer.write_all(escape.as_bytes())?;
        start = i + c.len_utf8();
    }
    writer.write_all(&fragment.as_bytes()[start..])
}

/// Go's `encoding/json` float format (`floatEncoder.encode`).
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go: strconv 'e' format, then "e-07" style exponents with at least two digits.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("+", exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else {
        // Rust's Display is the shortest round-trip form without exponent, like Go's 'f', -1.
        format!("{f}")
    }
}

macro_rules! delegate {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) ;)*) => {
        $(
            #[inline]
            fn $name<W: ?Sized + Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                self.0.$name(writer $(, $arg)*)
            }
        )*
    };
}

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_fragment(writer, fragment)
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        self.0.write_char_escape(writer, char_escape)
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }
}

/// Compact JSON, as Go's `json.Marshal`.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter(CompactFormatter));
    // Serializing our own types and `Value`s into a Vec cannot fail: every map key is a string.
    value
        .serialize(&mut ser)
        .expect("JSON serialization of an in-memory value");
    out
}

/// Indented JSON, as Go's `json.MarshalIndent(v, "", "    ")`.
pub(crate) fn to_vec_pretty<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        GoFormatter(PrettyFormatter::with_indent(b"    ")),
    );
    value
        .serialize(&mut ser)
        .expect("JSON serialization of an in-memory value");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = json!({"b": "<a&b>\u{2028}", "a": "\"q\"\n"});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"a":"\"q\"\n","b":"\u003ca\u0026b\u003e\u2028"}"#
        );
    }

    #[test]
    fn numbers_like_go() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-07"),
            (0.000001, "0.000001"),
            (-2.5e-10, "-2.5e-10"),
            (0.0, "0"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
        assert_eq!(
            to_vec(&json!({"n": 1000000, "f": 2.0})),
            br#"{"f":2,"n":1000000}"#
        );
    }

    #[test]
    fn pretty_uses_four_spaces() {
        let v = json!({"a": [1], "b": {}});
        assert_eq!(
            String::from_utf8(to_vec_pretty(&v)).unwrap(),
            "{\n    \"a\": [\n        1\n    ],\n    \"b\": {}\n}"
        );
    }
}
