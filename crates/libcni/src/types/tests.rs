//! Cross-family tests: every (from, to) conversion, decoding rules, and byte-exact checks
//! against the Go cnitool recordings in `tests/fixtures/go` (see its README).

use std::path::PathBuf;

use super::*;

const VERSIONS: [&str; 7] = [
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// One result per family, as the plugin would print it (compact, Go field order), with `VER`
/// for the version. Each exercises what its family can lose on the way down.
const SAMPLE_02: &str = r#"{"cniVersion":"VER","ip4":{"ip":"10.1.0.5/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]},"ip6":{"ip":"fd00:1::5/64","gateway":"fd00:1::1","routes":[{"dst":"::/0"}]},"dns":{"nameservers":["10.1.0.1"],"domain":"example.test","search":["a.test"],"options":["ndots:2"]}}"#;
// IPv6 first, two IPv4 and two IPv6 addresses: 0.2.0 keeps the first of each family.
const SAMPLE_04: &str = r#"{"cniVersion":"VER","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/run/netns/t"}],"ips":[{"version":"6","interface":0,"address":"fd00:1::5/64"},{"version":"4","interface":0,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"version":"4","interface":0,"address":"10.1.0.6/24"},{"version":"6","address":"fd00:1::6/64"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"10.9.0.0/16"},{"dst":"::/0","gw":"fd00:1::1"}],"dns":{"nameservers":["10.1.0.1"]}}"#;
// 1.1.0 interface and route fields; an empty DNS.
const SAMPLE_1: &str = r#"{"cniVersion":"VER","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":1400,"sandbox":"/run/netns/t","socketPath":"/run/vhost.sock","pciID":"0000:00:1f.0"},{"name":"lo"}],"ips":[{"interface":0,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"interface":0,"address":"10.1.0.6/24"},{"interface":1,"address":"fd00:1::5/64"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},{"dst":"::/0"}],"dns":{}}"#;

/// Expected JSON of a conversion, by (from family, to family).
fn expected(from: Family, to: Family) -> &'static str {
    match (from, to) {
        (Family::V02, Family::V02) => SAMPLE_02,
        (Family::V02, Family::V04) => {
            r#"{"cniVersion":"VER","ips":[{"version":"4","address":"10.1.0.5/24","gateway":"10.1.0.1"},{"version":"6","address":"fd00:1::5/64","gateway":"fd00:1::1"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"::/0"}],"dns":{"nameservers":["10.1.0.1"],"domain":"example.test","search":["a.test"],"options":["ndots:2"]}}"#
        }
        (Family::V02, Family::V1) => {
            r#"{"cniVersion":"VER","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"address":"fd00:1::5/64","gateway":"fd00:1::1"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"::/0"}],"dns":{"nameservers":["10.1.0.1"],"domain":"example.test","search":["a.test"],"options":["ndots:2"]}}"#
        }
        (Family::V04, Family::V02) => {
            r#"{"cniVersion":"VER","ip4":{"ip":"10.1.0.5/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"10.9.0.0/16"}]},"ip6":{"ip":"fd00:1::5/64","routes":[{"dst":"::/0","gw":"fd00:1::1"}]},"dns":{"nameservers":["10.1.0.1"]}}"#
        }
        (Family::V04, Family::V04) => SAMPLE_04,
        (Family::V04, Family::V1) => {
            r#"{"cniVersion":"VER","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/run/netns/t"}],"ips":[{"interface":0,"address":"fd00:1::5/64"},{"interface":0,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"interface":0,"address":"10.1.0.6/24"},{"address":"fd00:1::6/64"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"10.9.0.0/16"},{"dst":"::/0","gw":"fd00:1::1"}],"dns":{"nameservers":["10.1.0.1"]}}"#
        }
        (Family::V1, Family::V02) => {
            r#"{"cniVersion":"VER","ip4":{"ip":"10.1.0.5/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]},"ip6":{"ip":"fd00:1::5/64","routes":[{"dst":"::/0"}]},"dns":{}}"#
        }
        (Family::V1, Family::V04) => {
            r#"{"cniVersion":"VER","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/run/netns/t"},{"name":"lo"}],"ips":[{"version":"4","interface":0,"address":"10.1.0.5/24","gateway":"10.1.0.1"},{"version":"4","interface":0,"address":"10.1.0.6/24"},{"version":"6","interface":1,"address":"fd00:1::5/64"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},{"dst":"::/0"}],"dns":{}}"#
        }
        (Family::V1, Family::V1) => SAMPLE_1,
    }
}

fn sample(f: Family) -> &'static str {
    expected(f, f)
}

fn family(v: &str) -> Family {
    Family::of(v).unwrap()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn every_version_pair_converts_as_go_does() {
    let mut checked = 0;
    for from in VERSIONS {
        let input = sample(family(from)).replace("VER", from);
        let result = CniResult::parse(input.as_bytes(), "0.0.0").unwrap();
        assert_eq!(result.version(), from);
        assert_eq!(text(result.to_json()), input, "round trip of {from}");
        for to in VERSIONS {
            let converted = result
                .convert_to(to)
                .unwrap_or_else(|e| panic!("{from} -> {to}: {e}"));
            assert_eq!(converted.version(), to, "{from} -> {to}");
            let want = expected(family(from), family(to)).replace("VER", to);
            assert_eq!(text(converted.to_json()), want, "{from} -> {to}");
            // What was printed reads back as the same result.
            let reread = CniResult::parse(&converted.to_json(), "0.0.0").unwrap();
            assert_eq!(reread, converted, "{from} -> {to} re-read");
            checked += 1;
        }
    }
    assert_eq!(checked, 49);
}

#[test]
fn to_02_fails_without_any_address() {
    for from in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let input = format!(
            r#"{{"cniVersion":"{from}","interfaces":[{{"name":"eth0"}}],"routes":[{{"dst":"0.0.0.0/0"}}],"dns":{{"nameservers":["10.1.0.1"]}}}}"#
        );
        let result = CniResult::parse(input.as_bytes(), from).unwrap();
        for to in ["0.1.0", "0.2.0"] {
            match result.convert_to(to) {
                Err(Error::ResultConversion {
                    from: f,
                    to: t,
                    reason,
                }) => {
                    assert_eq!((f.as_str(), t.as_str()), (from, to));
                    assert!(reason.contains("no valid IP addresses"), "{reason}");
                }
                other => panic!("{from} -> {to}: {other:?}"),
            }
        }
    }
    // A 0.2.0 result without addresses only changes its label within its family, as in Go.
    let empty = CniResult::parse(br#"{"cniVersion":"0.2.0","dns":{}}"#, "0.2.0").unwrap();
    assert_eq!(
        text(empty.convert_to("0.1.0").unwrap().to_json()),
        r#"{"cniVersion":"0.1.0","dns":{}}"#
    );
    assert_eq!(
        text(empty.convert_to("1.0.0").unwrap().to_json()),
        r#"{"cniVersion":"1.0.0","dns":{}}"#
    );
}

#[test]
fn to_02_keeps_one_address_per_family() {
    // Only IPv4 addresses: the second one is dropped, never moved to ip6; IPv6 routes are
    // dropped with no IPv6 address to carry them.
    let r = CniResult::parse(
        br#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"},{"address":"10.1.0.6/24"}],"routes":[{"dst":"::/0"},{"dst":"10.2.0.0/16","gw":"10.1.0.1"}]}"#,
        "1.0.0",
    )
    .unwrap();
    assert_eq!(
        text(r.convert_to("0.2.0").unwrap().to_json()),
        r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.5/24","routes":[{"dst":"10.2.0.0/16","gw":"10.1.0.1"}]},"dns":{}}"#
    );
    // The address decides the family, not the 0.3/0.4 `version` label (empty here, as the
    // Debian loopback plugin leaves it; Go would find no address and fail).
    let r = CniResult::parse(
        br#"{"cniVersion":"0.4.0","ips":[{"version":"","address":"::1/128"},{"version":"6","address":"127.0.0.1/8"}]}"#,
        "0.4.0",
    )
    .unwrap();
    assert_eq!(
        text(r.convert_to("0.2.0").unwrap().to_json()),
        r#"{"cniVersion":"0.2.0","ip4":{"ip":"127.0.0.1/8"},"ip6":{"ip":"::1/128"},"dns":{}}"#
    );
}

#[test]
fn relabel_within_1x_keeps_1_1_fields() {
    let input = SAMPLE_1.replace("VER", "1.1.0");
    let r = CniResult::parse(input.as_bytes(), "1.1.0").unwrap();
    let down = r.convert_to("1.0.0").unwrap();
    assert_eq!(
        text(down.to_json()),
        SAMPLE_1.replace("VER", "1.0.0"),
        "route mtu/table and interface mtu/socketPath/pciID survive 1.1.0 -> 1.0.0"
    );
    let CniResult::V1(v1) = down else {
        panic!("not a 1.x result")
    };
    assert_eq!(v1.routes[0].mtu, 1400);
    assert_eq!(v1.routes[0].table, Some(100));
    assert_eq!(v1.routes[0].scope, Some(0));
    assert_eq!(v1.interfaces[0].pci_id, "0000:00:1f.0");
}

#[test]
fn to_v1_views_every_family_as_1_1_0() {
    for from in VERSIONS {
        let input = sample(family(from)).replace("VER", from);
        let r = CniResult::parse(input.as_bytes(), from).unwrap();
        let v1 = r.to_v1().unwrap();
        assert_eq!(v1.cni_version, "1.1.0");
        assert_eq!(
            CniResult::V1(v1),
            r.convert_to("1.1.0").unwrap(),
            "from {from}"
        );
    }
}

#[test]
fn version_comes_from_result_then_config() {
    // (result, config version, version read)
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"cniVersion":"0.4.0"}"#, "1.0.0", "0.4.0"),
        (r#"{"dns":{}}"#, "1.0.0", "1.0.0"),
        (r#"{"cniVersion":""}"#, "0.3.1", "0.3.1"),
        // Not a string: Go's fixupResultVersion replaces it with the config's.
        (r#"{"cniVersion":1}"#, "0.4.0", "0.4.0"),
        (r#"{"cniVersion":null}"#, "1.1.0", "1.1.0"),
        // The lookup is by the exact key; `CNIVersion` is another field.
        (r#"{"CNIVersion":"0.4.0"}"#, "1.0.0", "1.0.0"),
        // Go's DecodeVersion: a config without a version is 0.1.0.
        (r#"{}"#, "", "0.1.0"),
        ("null", "1.0.0", "1.0.0"),
    ];
    for (input, config, want) in cases {
        let r = CniResult::parse(input.as_bytes(), config).unwrap();
        assert_eq!(r.version(), *want, "{input} with config {config}");
        assert_eq!(
            text(r.to_json()),
            format!(r#"{{"cniVersion":"{want}","dns":{{}}}}"#),
            "{input}"
        );
    }
}

#[test]
fn shape_follows_the_version_read() {
    // A 1.0.0-shaped result labelled 0.2.0 keeps only what 0.2.0 has (version-0.2.0 fixture).
    let r = CniResult::parse(
        br#"{"cniVersion":"0.2.0","interfaces":[{"name":"lo"}],"ips":[{"address":"127.0.0.1/8"}],"dns":{}}"#,
        "0.2.0",
    )
    .unwrap();
    assert_eq!(text(r.to_json()), r#"{"cniVersion":"0.2.0","dns":{}}"#);
    // A 0.4.0-shaped result labelled 1.0.0 loses its `version`s.
    let r = CniResult::parse(
        br#"{"ips":[{"version":"4","address":"10.1.0.5/24"}]}"#,
        "1.0.0",
    )
    .unwrap();
    assert_eq!(
        text(r.to_json()),
        r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"}],"dns":{}}"#
    );
}

#[test]
fn unsupported_versions_are_refused() {
    for v in [
        "0.5.0", "1.2.0", "1.0", "v1.0.0", " 1.0.0", "1.0.0 ", "0.1", "2.0.0",
    ] {
        let input = format!(r#"{{"cniVersion":"{v}"}}"#);
        match CniResult::parse(input.as_bytes(), "1.0.0") {
            Err(Error::UnsupportedResultVersion { version }) => assert_eq!(version, v),
            other => panic!("{v}: {other:?}"),
        }
        match CniResult::parse(b"{}", v) {
            Err(Error::UnsupportedResultVersion { version }) => assert_eq!(version, v),
            other => panic!("config {v}: {other:?}"),
        }
    }
    let r = CniResult::parse(b"{}", "1.0.0").unwrap();
    assert!(matches!(
        r.convert_to("0.5.0"),
        Err(Error::UnsupportedResultVersion { version }) if version == "0.5.0"
    ));
}

#[test]
fn garbage_and_wrong_types_are_decode_errors() {
    // (input, part of the reason)
    let cases: &[(&str, &str)] = &[
        ("", "EOF"),
        ("not json", "expected"),
        ("{", "EOF"),
        (r#"{"cniVersion":"1.0.0"} x"#, "trailing"),
        ("[]", "expected a JSON object, found an array"),
        (r#""1.0.0""#, "found a string"),
        ("42", "found a number"),
        ("true", "found a boolean"),
        (r#"{"ips":{}}"#, "ips: cannot decode object as a list"),
        (
            r#"{"ips":[1]}"#,
            "ips[0]: cannot decode number as an object",
        ),
        (
            r#"{"ips":[null]}"#,
            "ips[0]: cannot decode null as an object",
        ),
        (
            r#"{"ips":[{"address":5}]}"#,
            "ips[0].address: cannot decode number",
        ),
        (r#"{"ips":[{"interface":0}]}"#, "ips[0].address: missing"),
        (
            r#"{"ips":[{"address":"10.1.0.5"}]}"#,
            "ips[0].address: invalid CIDR address: 10.1.0.5",
        ),
        (
            r#"{"ips":[{"address":"10.1.0.5/24","gateway":"10.1.0"}]}"#,
            "ips[0].gateway: invalid IP address: 10.1.0",
        ),
        (
            r#"{"ips":[{"address":"10.1.0.5/24","interface":"0"}]}"#,
            "ips[0].interface: cannot decode string as an integer",
        ),
        (
            r#"{"ips":[{"address":"10.1.0.5/24","interface":1.5}]}"#,
            "ips[0].interface: cannot decode number as an integer",
        ),
        (
            r#"{"interfaces":[{"name":1}]}"#,
            "interfaces[0].name: cannot decode number as a string",
        ),
        (
            r#"{"routes":[{"dst":"0.0.0.0/0","table":true}]}"#,
            "routes[0].table: cannot decode bool as an integer",
        ),
        (
            r#"{"routes":[{"gw":"10.1.0.1"}]}"#,
            "routes[0].dst: missing",
        ),
        (r#"{"dns":[]}"#, "dns: cannot decode array as an object"),
        (
            r#"{"dns":{"nameservers":"10.1.0.1"}}"#,
            "dns.nameservers: cannot decode string as a list of strings",
        ),
        (
            r#"{"dns":{"search":[1]}}"#,
            "dns.search[0]: cannot decode number as a string",
        ),
    ];
    for version in ["0.4.0", "1.0.0", "1.1.0"] {
        for (input, want) in cases {
            match CniResult::parse(input.as_bytes(), version) {
                Err(Error::Decode { what, reason }) => {
                    assert_eq!(what, "result");
                    assert!(reason.contains(want), "{input}: {reason:?} lacks {want:?}");
                }
                other => panic!("{input} as {version}: {other:?}"),
            }
        }
    }
    // 1.x only: a 0.3/0.4 interface has no `mtu` and ignores it.
    let input = r#"{"interfaces":[{"name":"e","mtu":"1500"}]}"#;
    assert!(CniResult::parse(input.as_bytes(), "0.4.0").is_ok());
    match CniResult::parse(input.as_bytes(), "1.1.0") {
        Err(Error::Decode { reason, .. }) => assert_eq!(
            reason,
            "interfaces[0].mtu: cannot decode string as an integer"
        ),
        other => panic!("{other:?}"),
    }
    let cases_02: &[(&str, &str)] = &[
        (r#"{"ip4":"10.1.0.5/24"}"#, "ip4: cannot decode string"),
        (
            r#"{"ip4":{"ip":"bad"}}"#,
            "ip4.ip: invalid CIDR address: bad",
        ),
        (r#"{"ip6":{}}"#, "ip6.ip: missing"),
        (
            r#"{"ip4":{"ip":"10.1.0.5/24","routes":[{"dst":"x"}]}}"#,
            "ip4.routes[0].dst: invalid CIDR address: x",
        ),
    ];
    for (input, want) in cases_02 {
        match CniResult::parse(input.as_bytes(), "0.2.0") {
            Err(Error::Decode { reason, .. }) => {
                assert!(reason.contains(want), "{input}: {reason:?} lacks {want:?}")
            }
            other => panic!("{input}: {other:?}"),
        }
    }
}

#[test]
fn decoding_accepts_what_go_accepts() {
    // (input read as 1.0.0, compact output)
    let cases: &[(&str, &str)] = &[
        // Unknown fields, at any level, are ignored.
        (
            r#"{"foo":{"bar":[1]},"ips":[{"address":"10.1.0.5/24","extra":true}],"dns":{"x":1}}"#,
            r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"}],"dns":{}}"#,
        ),
        // null is absent; an empty gateway is no gateway.
        (
            r#"{"interfaces":null,"routes":null,"dns":null,"ips":[{"address":"10.1.0.5/24","gateway":"","interface":null}]}"#,
            r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"}],"dns":{}}"#,
        ),
        // Keys match case-insensitively, as in Go's encoding/json.
        (
            r#"{"IPs":[{"Address":"10.1.0.5/24","GATEWAY":"10.1.0.1"}],"DNS":{"Nameservers":["10.1.0.1"]}}"#,
            r#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"}],"dns":{"nameservers":["10.1.0.1"]}}"#,
        ),
        // Addresses are printed canonically, with the host part kept.
        (
            r#"{"ips":[{"address":"FD00:0:0::0005/64","gateway":"FD00::1"},{"address":"::ffff:10.1.0.5/120"}],"routes":[{"dst":"10.1.0.77/8","gw":"::ffff:10.1.0.1"}]}"#,
            r#"{"cniVersion":"1.0.0","ips":[{"address":"fd00::5/64","gateway":"fd00::1"},{"address":"10.1.0.5/24"}],"routes":[{"dst":"10.1.0.77/8","gw":"10.1.0.1"}],"dns":{}}"#,
        ),
        // Empty lists are left out; a zero table/scope is kept, zero mtu is not.
        (
            r#"{"interfaces":[],"ips":[],"routes":[{"dst":"::/0","mtu":0,"table":0,"scope":0}],"dns":{"nameservers":[],"domain":""}}"#,
            r#"{"cniVersion":"1.0.0","routes":[{"dst":"::/0","table":0,"scope":0}],"dns":{}}"#,
        ),
        // An interface keeps an empty name; negative indexes pass through as in Go.
        (
            r#"{"interfaces":[{}],"ips":[{"interface":-1,"address":"10.1.0.5/24"}]}"#,
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":""}],"ips":[{"interface":-1,"address":"10.1.0.5/24"}],"dns":{}}"#,
        ),
        // Go's HTML-safe string escaping.
        (
            r#"{"interfaces":[{"name":"a<b>&c","sandbox":"/run/netns/x\u2028"}]}"#,
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"a\u003cb\u003e\u0026c","sandbox":"/run/netns/x\u2028"}],"dns":{}}"#,
        ),
    ];
    for (input, want) in cases {
        let r =
            CniResult::parse(input.as_bytes(), "1.0.0").unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(text(r.to_json()), *want, "{input}");
    }
}

#[test]
fn pretty_and_sorted_output() {
    let input = SAMPLE_04.replace("VER", "0.4.0");
    let r = CniResult::parse(input.as_bytes(), "0.4.0").unwrap();
    let pretty = text(r.to_json_pretty());
    assert!(pretty.starts_with("{\n    \"cniVersion\": \"0.4.0\",\n    \"interfaces\": [\n"));
    assert!(pretty.ends_with("\n}"));
    // Same data either way.
    let compact: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
    let indented: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(compact, indented);
    assert_eq!(compact, r.to_sorted_value());
    assert!(serde_json::to_string(&r.to_sorted_value())
        .unwrap()
        .starts_with(
            r#"{"cniVersion":"0.4.0","dns":{"nameservers":["10.1.0.1"]},"interfaces":[{"mac":"#
        ));
}

// ---- Byte-exact checks against the Go recordings ----

fn fixture_dir() -> PathBuf {
    PathBuf::from(crate::GO_FIXTURES)
}

fn fixture(path: &str) -> Vec<u8> {
    let p = fixture_dir().join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()))
}

/// The exact bytes of the object under top-level `key` in a compact JSON document.
fn raw_member(doc: &[u8], key: &str) -> Vec<u8> {
    let needle = format!("\"{key}\":");
    let start = doc
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("no {key} in {}", String::from_utf8_lossy(doc)))
        + needle.len();
    assert_eq!(doc[start], b'{', "{key} is not an object");
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &b) in doc[start..].iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return doc[start..=start + i].to_vec();
                }
            }
            _ => {}
        }
    }
    panic!("unterminated {key}");
}

fn cached_result(folder: &str) -> String {
    let cache: serde_json::Value =
        serde_json::from_slice(&fixture(&format!("{folder}/cache-after-add"))).unwrap();
    serde_json::to_string(&cache["result"]).unwrap()
}

/// Checks one result the Go tool printed after `add`: `prevResult` bytes for the next plugin,
/// `add.stdout`, and the cache file's `result`.
fn check_add_outputs(folder: &str, result: &CniResult, prev_result_in: &str) {
    let stdin = fixture(&format!("{folder}/{prev_result_in}"));
    assert_eq!(
        text(result.to_json()),
        text(raw_member(&stdin, "prevResult")),
        "{folder}: prevResult in {prev_result_in}"
    );
    assert_eq!(
        text(result.to_json_pretty()),
        text(fixture(&format!("{folder}/add.stdout"))),
        "{folder}: add.stdout"
    );
    assert_eq!(
        serde_json::to_string(&result.to_sorted_value()).unwrap(),
        cached_result(folder),
        "{folder}: cache result"
    );
}

#[test]
fn fixture_list_spy() {
    let folder = "list-spy";
    let prev = raw_member(&fixture(&format!("{folder}/02-ADD.stdin")), "prevResult");
    let r = CniResult::parse(&prev, "1.0.0").unwrap();
    check_add_outputs(folder, &r, "02-ADD.stdin");
    // CHECK and DEL get the cached result back unchanged (same version).
    for call in ["04-CHECK.stdin", "05-DEL.stdin"] {
        let prev = raw_member(&fixture(&format!("{folder}/{call}")), "prevResult");
        let reread = CniResult::parse(&prev, "1.0.0").unwrap();
        assert_eq!(
            text(reread.convert_to("1.0.0").unwrap().to_json()),
            text(prev),
            "{call}"
        );
    }
    // Where the tool sorts the whole plugin config, prevResult is the sorted value.
    let sorted = raw_member(&fixture(&format!("{folder}/01-ADD.stdin")), "prevResult");
    assert_eq!(
        serde_json::to_string(&r.to_sorted_value()).unwrap(),
        text(sorted)
    );
}

#[test]
fn fixture_old_versions_read_1_0_shapes_with_empty_ip_version() {
    for (folder, version, netns) in [
        ("old-version-0.3.1", "0.3.1", "fx3"),
        ("version-0.4.0", "0.4.0", "fxv040"),
    ] {
        // What the Debian loopback plugin prints for such a config.
        let loopback = format!(
            r#"{{"cniVersion":"{version}","interfaces":[{{"name":"lo","mac":"00:00:00:00:00:00","sandbox":"/run/netns/{netns}"}}],"ips":[{{"interface":0,"address":"127.0.0.1/8"}},{{"interface":0,"address":"::1/128"}}],"dns":{{}}}}"#
        );
        let r = CniResult::parse(loopback.as_bytes(), version).unwrap();
        check_add_outputs(folder, &r, "01-ADD.stdin");
    }
    // 0.4.0 CHECK and DEL get the cached result as it was.
    for call in ["02-CHECK.stdin", "03-DEL.stdin"] {
        let prev = raw_member(&fixture(&format!("version-0.4.0/{call}")), "prevResult");
        let r = CniResult::parse(&prev, "0.4.0").unwrap();
        assert_eq!(text(r.convert_to("0.4.0").unwrap().to_json()), text(prev));
    }
}

#[test]
fn fixture_version_0_2_0() {
    let folder = "version-0.2.0";
    // Loopback's 1.0.0-shaped output read as 0.2.0 keeps only the DNS.
    let loopback = br#"{"cniVersion":"0.2.0","interfaces":[{"name":"lo","mac":"00:00:00:00:00:00","sandbox":"/run/netns/fxv020"}],"ips":[{"interface":0,"address":"127.0.0.1/8"},{"interface":0,"address":"::1/128"}],"dns":{}}"#;
    let r = CniResult::parse(loopback, "0.2.0").unwrap();
    assert_eq!(
        text(r.to_json()),
        text(raw_member(
            &fixture(&format!("{folder}/01-ADD.stdin")),
            "prevResult"
        ))
    );
    // The spy's canned 0.2.0 result (given sorted) comes out in 0.2.0 field order.
    let spy = raw_member(&fixture(&format!("{folder}/01-ADD.stdin")), "spyResult");
    let r = CniResult::parse(&spy, "0.2.0").unwrap();
    check_add_outputs(folder, &r, "02-ADD.stdin");
}

#[test]
fn fixture_mixed_1_0_0_result_in_0_4_0_list() {
    let folder = "version-mixed-1.0.0-result-in-0.4.0-list";
    // ADD: the 1.0.0 result passes unconverted.
    let spy = raw_member(&fixture(&format!("{folder}/01-ADD.stdin")), "spyResult");
    let r = CniResult::parse(&spy, "0.4.0").unwrap();
    assert_eq!(r.version(), "1.0.0");
    check_add_outputs(folder, &r, "02-ADD.stdin");
    let prev = raw_member(&fixture(&format!("{folder}/02-ADD.stdin")), "prevResult");
    let cached = CniResult::parse(&prev, "0.4.0").unwrap();
    assert_eq!(text(cached.to_json()), text(prev.clone()));
    // CHECK and DEL: converted to the list's 0.4.0.
    let down = cached.convert_to("0.4.0").unwrap();
    for call in [
        "03-CHECK.stdin",
        "04-CHECK.stdin",
        "05-DEL.stdin",
        "06-DEL.stdin",
    ] {
        let want = raw_member(&fixture(&format!("{folder}/{call}")), "prevResult");
        assert_eq!(text(down.to_json()), text(want), "{call}");
    }
}

#[test]
fn fixture_mixed_0_4_0_result_in_1_0_0_list() {
    let folder = "version-mixed-0.4.0-result-in-1.0.0-list";
    let spy = raw_member(&fixture(&format!("{folder}/01-ADD.stdin")), "spyResult");
    let r = CniResult::parse(&spy, "1.0.0").unwrap();
    assert_eq!(r.version(), "0.4.0");
    check_add_outputs(folder, &r, "02-ADD.stdin");
    let up = r.convert_to("1.0.0").unwrap();
    for call in [
        "03-CHECK.stdin",
        "04-CHECK.stdin",
        "05-DEL.stdin",
        "06-DEL.stdin",
    ] {
        let want = raw_member(&fixture(&format!("{folder}/{call}")), "prevResult");
        assert_eq!(text(up.to_json()), text(want), "{call}");
    }
}

#[test]
fn fixture_conf_upconvert_spy_empty_lists_are_omitted() {
    let folder = "conf-upconvert-spy";
    // The spy's reply when it has no prevResult.
    let r = CniResult::parse(
        br#"{"cniVersion":"1.0.0","interfaces":[],"ips":[],"dns":{}}"#,
        "1.0.0",
    )
    .unwrap();
    assert_eq!(
        text(r.to_json_pretty()),
        text(fixture(&format!("{folder}/add.stdout")))
    );
    assert_eq!(
        serde_json::to_string(&r.to_sorted_value()).unwrap(),
        cached_result(folder)
    );
    for call in ["02-CHECK.stdin", "03-DEL.stdin"] {
        let want = raw_member(&fixture(&format!("{folder}/{call}")), "prevResult");
        assert_eq!(text(r.to_json()), text(want), "{call}");
    }
}
