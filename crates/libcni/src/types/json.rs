//! JSON the way Go's `encoding/json` reads and writes results.
//!
//! Writing goes through [`crate::json`] (Go's escaping and indentation); struct field order
//! comes from the `Serialize` derives.
//!
//! Reading: results are decoded from a [`serde_json::Value`] by hand rather than with serde
//! derives, to accept what Go accepts: `null` for any field means "absent", keys match
//! case-insensitively when there is no exact match, and unknown keys are ignored.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use super::net::{parse_ip, IpNet};
use crate::error::Error;

/// The value with sorted keys (serde_json's default map is a `BTreeMap`).
pub(crate) fn to_sorted_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialising a result cannot fail")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn decode_error(reason: impl Into<String>) -> Error {
    Error::Decode {
        what: "result",
        reason: reason.into(),
    }
}

/// The fields of one JSON object, with the path to it for error messages.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// The top-level object of a result.
    pub(crate) fn root(map: &'a Map<String, Value>) -> Fields<'a> {
        Fields {
            map,
            path: String::new(),
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn mismatch(&self, key: &str, want: &str, got: &Value) -> Error {
        decode_error(format!(
            "{}: cannot decode {} as {want}",
            self.at(key),
            kind(got)
        ))
    }

    /// The value of `key`; `None` when absent or `null`. Like Go, an exact match wins, then
    /// any key equal to it ignoring ASCII case.
    fn get(&self, key: &str) -> Option<&'a Value> {
        let v = self.map.get(key).or_else(|| {
            self.map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })?;
        (!v.is_null()).then_some(v)
    }

    /// A string field; absent is `""`.
    pub(crate) fn string(&self, key: &str) -> Result<String, Error> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.mismatch(key, "a string", v)),
        }
    }

    /// An integer field that may be absent (Go `*int`).
    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.mismatch(key, "an integer", v)),
            Some(v) => Err(self.mismatch(key, "an integer", v)),
        }
    }

    /// An integer field; absent is 0 (Go `int`).
    pub(crate) fn int(&self, key: &str) -> Result<i64, Error> {
        Ok(self.opt_int(key)?.unwrap_or(0))
    }

    /// A list of strings; absent is empty, a `null` element is `""` (as in Go).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    v => Err(self.mismatch(&format!("{key}[{i}]"), "a string", v)),
                })
                .collect(),
            Some(v) => Err(self.mismatch(key, "a list of strings", v)),
        }
    }

    /// A required `addr/prefix` field.
    pub(crate) fn ipnet(&self, key: &str) -> Result<IpNet, Error> {
        match self.get(key) {
            // Go leaves a missing address as a zero `net.IPNet` and prints it as "<nil>";
            // such a result is useless to every consumer, so it is refused here.
            None => Err(decode_error(format!("{}: missing", self.at(key)))),
            Some(Value::String(s)) => s
                .parse()
                .map_err(|e| decode_error(format!("{}: {e}", self.at(key)))),
            Some(v) => Err(self.mismatch(key, "an address with prefix", v)),
        }
    }

    /// An optional IP address; absent, `null` and `""` are `None` (Go `net.IP`).
    pub(crate) fn opt_ip(&self, key: &str) -> Result<Option<IpAddr>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => parse_ip(s)
                .map(Some)
                .map_err(|e| decode_error(format!("{}: {e}", self.at(key)))),
            Some(v) => Err(self.mismatch(key, "an IP address", v)),
        }
    }

    /// A nested object; absent is `None`.
    pub(crate) fn object(&self, key: &str) -> Result<Option<Fields<'a>>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map,
                path: self.at(key),
            })),
            Some(v) => Err(self.mismatch(key, "an object", v)),
        }
    }

    /// A list of objects; absent is empty. A `null` element is refused: Go keeps it as a nil
    /// pointer that every later step dereferences.
    pub(crate) fn objects(&self, key: &str) -> Result<Vec<Fields<'a>>, Error> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Fields {
                        map,
                        path: format!("{}[{i}]", self.at(key)),
                    }),
                    v => Err(self.mismatch(&format!("{key}[{i}]"), "an object", v)),
                })
                .collect(),
            Some(v) => Err(self.mismatch(key, "a list", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_go() {
        let v = serde_json::json!({"k": "a<b>&c\u{2028}\u{2029}\"\\\n\t\u{1}\u{8}\u{c}é"});
        assert_eq!(
            String::from_utf8(crate::json::to_vec(&v)).unwrap(),
            r#"{"k":"a\u003cb\u003e\u0026c\u2028\u2029\"\\\n\t\u0001\b\fé"}"#
        );
    }

    #[test]
    fn pretty_matches_marshal_indent() {
        let v = serde_json::json!({"a": {}, "b": [], "c": [1, {"d": "x"}]});
        assert_eq!(
            String::from_utf8(crate::json::to_vec_pretty(&v)).unwrap(),
            "{\n    \"a\": {},\n    \"b\": [],\n    \"c\": [\n        1,\n        {\n            \"d\": \"x\"\n        }\n    ]\n}"
        );
    }

    #[test]
    fn fields_follow_go_decoding_rules() {
        let v = serde_json::json!({
            "Name": "upper", "name2": null, "n": 3, "f": 1.5, "list": ["a", null],
            "gw": "", "bad": 1
        });
        let map = v.as_object().unwrap();
        let f = Fields::root(map);
        assert_eq!(f.string("name").unwrap(), "upper");
        assert_eq!(f.string("name2").unwrap(), "");
        assert_eq!(f.string("absent").unwrap(), "");
        assert_eq!(f.int("n").unwrap(), 3);
        assert_eq!(f.opt_int("absent").unwrap(), None);
        assert!(f.int("f").is_err());
        assert_eq!(
            f.strings("list").unwrap(),
            vec!["a".to_owned(), String::new()]
        );
        assert_eq!(f.opt_ip("gw").unwrap(), None);
        let e = f.string("bad").unwrap_err().to_string();
        assert_eq!(e, "decoding result: bad: cannot decode number as a string");
    }
}
