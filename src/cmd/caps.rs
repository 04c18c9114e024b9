//! `CNI_ARGS` and the capability flags (`--mac`, `--ip`, `-p`, `--dns`, ...) shared by
//! `add`, `del`, `check`, `run` and `container run`: parsing, checking them against the
//! capabilities the network's plugins declare, and building the capability arguments.

use anyhow::Result;
use clap::Args;
use libcni::NetworkConfigList;
use serde_json::{Map, Value};

use crate::usage;

// `CNI_ARGS` and capability arguments, shared by `add`, `del`, `check` and `run`. A
// capability flag that no plugin of the network declares is refused (it would do nothing);
// see `PluginArgs::require_capabilities`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Plugin argument K=V, added to CNI_ARGS (repeatable).
    #[arg(long = "arg", value_name = "K=V")]
    pub args: Vec<String>,
    /// Plugin arguments K=V;K=V.
    #[arg(long = "cni-args", env = crate::cli::env::CNI_ARGS, hide = true)]
    pub cni_args: Option<String>,
    /// Capability arguments as one JSON object.
    #[arg(long = "cap-args", env = crate::cli::env::CAP_ARGS, hide = true)]
    pub cap_args: Option<String>,
    /// Capability argument NAME=JSON or NAME=@FILE (repeatable).
    #[arg(long = "cap", value_name = "NAME=JSON")]
    pub caps: Vec<String>,
    /// Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO] (portMappings capability).
    #[arg(short, long, value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Request an address, e.g. 10.22.0.5/24 (ips capability; repeatable).
    #[arg(long, value_name = "CIDR")]
    pub ip: Vec<String>,
    /// Request a MAC address (mac capability).
    #[arg(long, value_name = "MAC")]
    pub mac: Option<String>,
    /// DNS server for the container (dns capability; repeatable; `run` and `container run`
    /// write it into the command's or container's resolv.conf, whether or not a plugin takes
    /// it).
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain for the container (dns capability; repeatable; as --dns in `run`
    /// and `container run`).
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// DNS resolver option for the container, e.g. ndots:2 (dns capability; repeatable; as
    /// --dns in `run` and `container run`).
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
}

impl PluginArgs {
    /// The `CNI_ARGS` pairs: the `CNI_ARGS` variable, then each `--arg`.
    pub fn cni_args(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = match &self.cni_args {
            Some(s) => libcni::invoke::parse_cni_args(s).map_err(|e| usage!("{e}"))?,
            None => Vec::new(),
        };
        for a in &self.args {
            pairs.push(libcni::invoke::parse_pair(a).map_err(|e| usage!("--arg: {e}"))?);
        }
        Ok(pairs)
    }

    /// The capability arguments: `CAP_ARGS`, then `--cap`, `--publish`, `--ip`, `--mac`,
    /// `--dns` and `--dns-search`.
    pub fn capability_args(&self) -> Result<Map<String, Value>> {
        let mut caps = match &self.cap_args {
            Some(s) if !s.trim().is_empty() => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(usage!("invalid CAP_ARGS: must be a JSON object")),
                Err(e) => return Err(usage!("invalid CAP_ARGS: {e}")),
            },
            _ => Map::new(),
        };
        for c in &self.caps {
            let (name, value) = c
                .split_once('=')
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| usage!("--cap {c:?}: expected NAME=JSON or NAME=@FILE"))?;
            let text = match value.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .map_err(|e| usage!("--cap {name}: reading {file}: {e}"))?,
                None => value.to_owned(),
            };
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| usage!("--cap {name}: invalid JSON: {e}"))?;
            caps.insert(name.to_owned(), v);
        }
        if !self.publish.is_empty() {
            let mut list = match caps.remove("portMappings") {
                Some(Value::Array(a)) => a,
                Some(_) => return Err(usage!("invalid CAP_ARGS: portMappings must be an array")),
                None => Vec::new(),
            };
            for p in &self.publish {
                list.push(parse_publish(p)?);
            }
            caps.insert("portMappings".into(), Value::Array(list));
        }
        if !self.ip.is_empty() {
            for ip in &self.ip {
                validate_cidr_or_ip(ip).map_err(|e| usage!("--ip {ip:?}: {e}"))?;
            }
            caps.insert("ips".into(), self.ip.clone().into());
        }
        if let Some(mac) = &self.mac {
            if !is_mac(mac) {
                return Err(usage!(
                    "--mac {mac:?}: expected six hex bytes like 02:42:ac:11:00:02"
                ));
            }
            caps.insert("mac".into(), mac.clone().into());
        }
        if !self.dns.is_empty() || !self.dns_search.is_empty() || !self.dns_option.is_empty() {
            for d in &self.dns {
                d.parse::<std::net::IpAddr>()
                    .map_err(|_| usage!("--dns {d:?}: not an IP address"))?;
            }
            let mut dns = Map::new();
            if !self.dns.is_empty() {
                dns.insert("servers".into(), self.dns.clone().into());
            }
            if !self.dns_search.is_empty() {
                dns.insert("searches".into(), self.dns_search.clone().into());
            }
            for o in &self.dns_option {
                if o.is_empty() || o.contains(char::is_whitespace) {
                    return Err(usage!(
                        "--dns-option {o:?}: one resolver option without blanks, e.g. ndots:2"
                    ));
                }
            }
            if !self.dns_option.is_empty() {
                dns.insert("options".into(), self.dns_option.clone().into());
            }
            caps.insert("dns".into(), Value::Object(dns));
        }
        if let Some(pm) = caps.get("portMappings") {
            check_port_mappings(pm)?;
        }
        Ok(caps)
    }
}

/// The capability flags and the capability each one feeds (`runtimeConfig` key).
const CAPABILITY_FLAGS: &[(&str, &str, &str)] = &[
    ("-p/--publish", "portMappings", "such as portmap"),
    (
        "--ip",
        "ips",
        "such as bridge or macvlan with host-local or static IPAM",
    ),
    ("--mac", "mac", "such as tuning"),
    ("--dns", "dns", "that applies DNS settings"),
    ("--dns-search", "dns", "that applies DNS settings"),
    ("--dns-option", "dns", "that applies DNS settings"),
];

impl PluginArgs {
    /// The capability flags given: `(flag, capability, example plugins)`.
    fn given_capability_flags(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let given = [
            !self.publish.is_empty(),
            !self.ip.is_empty(),
            self.mac.is_some(),
            !self.dns.is_empty(),
            !self.dns_search.is_empty(),
            !self.dns_option.is_empty(),
        ];
        CAPABILITY_FLAGS
            .iter()
            .zip(given)
            .filter(|(_, g)| *g)
            .map(|(f, _)| *f)
            .collect()
    }

    /// Refuses a capability flag (`-p`, `--ip`, `--mac`, `--dns`, `--dns-search`) that no
    /// plugin of `lists` declares: the library passes a capability argument only to the
    /// plugins that declare it, so the flag would do nothing. Capabilities in `except` are
    /// not checked (`run` and `container run` apply DNS themselves). `--cap` and
    /// `CAP_ARGS` are passed on unchecked, as Go's tool does.
    ///
    /// # Errors
    /// A [`UsageError`](crate::error::UsageError) naming the flag, the network(s) and the capability.
    pub fn require_capabilities(
        &self,
        lists: &[&NetworkConfigList],
        except: &[&str],
    ) -> Result<()> {
        for (flag, cap, example) in self.given_capability_flags() {
            if except.contains(&cap) || lists.iter().any(|l| declares(l, cap)) {
                continue;
            }
            let names: Vec<String> = lists.iter().map(|l| format!("{:?}", l.name)).collect();
            let which = match names.as_slice() {
                [one] => format!("network {one}"),
                many => format!("networks {}", many.join(", ")),
            };
            return Err(usage!(
                "{flag}: no plugin of {which} declares the {cap:?} capability, so the flag \
                 would do nothing (add a plugin {example} with \"capabilities\": {{\"{cap}\": true}}, \
                 or drop the flag)"
            ));
        }
        Ok(())
    }

    /// `--dns`, `--dns-search` and `--dns-option`, which `run` (and `container run`) writes
    /// into the command's resolv.conf itself, whether or not a plugin takes the `dns` capability (a plugin that
    /// does may configure something else with them, a DNS server of its own, and need not
    /// put them in its result).
    pub fn dns_for_runtime(&self) -> crate::supervise::resolv::DnsFlags {
        crate::supervise::resolv::DnsFlags {
            servers: self.dns.clone(),
            searches: self.dns_search.clone(),
            options: self.dns_option.clone(),
        }
    }
}

/// Whether a plugin of `list` declares capability `cap`.
fn declares(list: &NetworkConfigList, cap: &str) -> bool {
    list.plugins
        .iter()
        .any(|p| p.capabilities.get(cap) == Some(&true))
}

fn validate_cidr_or_ip(s: &str) -> Result<(), String> {
    let (ip, prefix) = s.split_once('/').unwrap_or((s, ""));
    let ip: std::net::IpAddr = ip.parse().map_err(|_| "not an IP address".to_owned())?;
    if !prefix.is_empty() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(p) if p <= max => {}
            _ => return Err(format!("prefix length must be 0 to {max}")),
        }
    }
    Ok(())
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_port(s: &str, what: &str, spec: &str) -> Result<u16> {
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(usage!(
            "--publish {spec:?}: {what} {s:?} must be a number from 1 to 65535"
        )),
    }
}

/// Parses `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]` (IPv6 host addresses in brackets)
/// into a portmap `portMappings` entry.
pub fn parse_publish(spec: &str) -> Result<Value> {
    let (ports, proto) = match spec.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(usage!(
            "--publish {spec:?}: protocol must be tcp, udp or sctp"
        ));
    }
    let (host_ip, rest) = if let Some(stripped) = ports.strip_prefix('[') {
        let (ip, rest) = stripped
            .split_once("]:")
            .ok_or_else(|| usage!("--publish {spec:?}: unterminated [IPv6 address]"))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = ports.split(':').collect();
        match parts.as_slice() {
            [_, _] => (None, ports),
            [ip, _, _] => (Some(*ip), &ports[ip.len() + 1..]),
            _ => {
                return Err(usage!(
                    "--publish {spec:?}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]"
                ))
            }
        }
    };
    let (host, ctr) = rest.split_once(':').ok_or_else(|| {
        usage!("--publish {spec:?}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]")
    })?;
    let mut m = Map::new();
    m.insert(
        "hostPort".into(),
        parse_port(host, "host port", spec)?.into(),
    );
    m.insert(
        "containerPort".into(),
        parse_port(ctr, "container port", spec)?.into(),
    );
    m.insert("protocol".into(), proto.into());
    if let Some(ip) = host_ip.filter(|ip| !ip.is_empty()) {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| usage!("--publish {spec:?}: {ip:?} is not an IP address"))?;
        m.insert("hostIP".into(), ip.into());
    }
    Ok(Value::Object(m))
}

/// Checks the ports of a `portMappings` capability argument.
fn check_port_mappings(pm: &Value) -> Result<()> {
    let Value::Array(list) = pm else {
        return Err(usage!("invalid CAP_ARGS: portMappings must be an array"));
    };
    for (i, entry) in list.iter().enumerate() {
        for key in ["hostPort", "containerPort"] {
            match entry.get(key).and_then(Value::as_u64) {
                Some(p) if (1..=65535).contains(&p) => {}
                _ => {
                    return Err(usage!(
                        "invalid CAP_ARGS: portMappings[{i}].{key} = {} must be a number from 1 to 65535",
                        entry.get(key).unwrap_or(&Value::Null)
                    ))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs() {
        let ok = [
            (
                "8080:80",
                r#"{"containerPort":80,"hostPort":8080,"protocol":"tcp"}"#,
            ),
            (
                "127.0.0.1:8080:80/udp",
                r#"{"containerPort":80,"hostIP":"127.0.0.1","hostPort":8080,"protocol":"udp"}"#,
            ),
            (
                "[::1]:8443:443/TCP",
                r#"{"containerPort":443,"hostIP":"::1","hostPort":8443,"protocol":"tcp"}"#,
            ),
        ];
        for (spec, want) in ok {
            assert_eq!(parse_publish(spec).unwrap().to_string(), want, "{spec}");
        }
        for bad in [
            "80",
            "0:80",
            "70000:80",
            "a:80",
            "1:2:3:4",
            "8080:80/icmp",
            "x.y:1:2",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn macs_and_cidrs() {
        assert!(is_mac("02:42:ac:11:00:02"));
        assert!(!is_mac("02:42:ac:11:00"));
        assert!(validate_cidr_or_ip("10.0.0.5/24").is_ok());
        assert!(validate_cidr_or_ip("fd00::5").is_ok());
        assert!(validate_cidr_or_ip("10.0.0.5/33").is_err());
    }
}
