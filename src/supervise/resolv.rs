//! The command's `/etc/resolv.conf`: from the DNS of the CNI results (else the host's file,
//! with a loopback stub resolver replaced by the servers it forwards to), with the `--dns`,
//! `--dns-search` and `--dns-option` flags applied on top.

use std::net::IpAddr;
use std::path::Path;

use libcni::CniResult;

/// Where systemd-resolved writes the upstream servers its stub (127.0.0.53) forwards to.
pub const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// `--dns`, `--dns-search` and `--dns-option`: `run` writes them into the command's
/// resolv.conf (whether or not a plugin takes them too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// `--dns`: nameservers, replacing the others.
    pub servers: Vec<String>,
    /// `--dns-search`: search domains, replacing the others.
    pub searches: Vec<String>,
    /// `--dns-option`: resolver options, replacing the others.
    pub options: Vec<String>,
}

impl DnsFlags {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.searches.is_empty() && self.options.is_empty()
    }

    /// `base` (a resolv.conf) with the flags applied: `--dns` replaces its `nameserver`
    /// lines, `--dns-search` its `search` and `domain` lines, `--dns-option` its `options`
    /// lines; other lines stay.
    pub fn apply(&self, base: &str) -> String {
        let mut servers: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("nameserver {s}"))
            .collect();
        let mut search: Vec<String> = Vec::new();
        if !self.searches.is_empty() {
            search.push(format!("search {}", self.searches.join(" ")));
        }
        let mut options: Vec<String> = Vec::new();
        if !self.options.is_empty() {
            options.push(format!("options {}", self.options.join(" ")));
        }
        let mut rest = Vec::new();
        for line in base.lines().map(str::trim_start) {
            match line.split_whitespace().next().unwrap_or("") {
                "nameserver" if self.servers.is_empty() => servers.push(line.to_owned()),
                "search" | "domain" if self.searches.is_empty() => search.push(line.to_owned()),
                "options" if self.options.is_empty() => options.push(line.to_owned()),
                "nameserver" | "search" | "domain" | "options" => {}
                _ if line.is_empty() || line.starts_with('#') => {}
                _ => rest.push(line.to_owned()),
            }
        }
        let mut out =
            String::from("# written by cnitool run (--dns, --dns-search, --dns-option)\n");
        for line in servers.iter().chain(&search).chain(&options).chain(&rest) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The nameservers of a resolv.conf.
fn nameservers(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect()
}

/// The host's resolv.conf (`host`) as the base of a run's, and a note when it had to be
/// replaced: when every nameserver in it is a loopback address (a local stub such as
/// systemd-resolved's 127.0.0.53, which a private network namespace cannot reach) and
/// `upstream` (systemd-resolved's list of the servers it forwards to) names others, those
/// are used instead, with the host's search domains and options.
pub fn host_base(host: &Path, upstream: &Path) -> (String, Option<String>) {
    let text = std::fs::read_to_string(host).unwrap_or_default();
    let servers = nameservers(&text);
    let is_loopback = |s: &&str| s.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
    if servers.is_empty() || !servers.iter().all(is_loopback) {
        return (text, None);
    }
    let Ok(up) = std::fs::read_to_string(upstream) else {
        return (text, None);
    };
    let up_servers: Vec<&str> = nameservers(&up)
        .into_iter()
        .filter(|s| !is_loopback(s))
        .collect();
    if up_servers.is_empty() {
        return (text, None);
    }
    let mut out = String::new();
    for s in &up_servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    for line in text.lines().map(str::trim_start) {
        if !line.starts_with("nameserver") && !line.is_empty() && !line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        }
    }
    let note = format!(
        "the host's resolver {} ({}) is a local stub the run's namespace cannot reach: using \
         the servers it forwards to, {} (from {})",
        servers.join(", "),
        host.display(),
        up_servers.join(", "),
        upstream.display()
    );
    (out, Some(note))
}

/// `/etc/resolv.conf` content from the DNS settings of the results, if they carry any.
pub(crate) fn resolv_conf(results: &[CniResult]) -> Option<String> {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    let mut domain = None;
    for r in results {
        let Ok(v1) = r.to_v1() else { continue };
        for s in v1.dns.nameservers {
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        for s in v1.dns.search {
            if !search.contains(&s) {
                search.push(s);
            }
        }
        for o in v1.dns.options {
            if !options.contains(&o) {
                options.push(o);
            }
        }
        domain = domain.or(Some(v1.dns.domain).filter(|d| !d.is_empty()));
    }
    if servers.is_empty() {
        return None;
    }
    let mut out = String::from("# written by cnitool run from the CNI results\n");
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    } else if let Some(d) = domain {
        out.push_str(&format!("domain {d}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_resolver_is_replaced_by_its_upstream() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("resolv.conf");
        let up = tmp.path().join("upstream");
        std::fs::write(
            &host,
            "# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
        )
        .unwrap();
        // No upstream file: the host's file as it is.
        assert_eq!(host_base(&host, &up).1, None);
        std::fs::write(
            &up,
            "nameserver 192.0.2.1\nnameserver ::1\nnameserver 2001:db8::1\n",
        )
        .unwrap();
        let (text, note) = host_base(&host, &up);
        assert_eq!(
            text,
            "nameserver 192.0.2.1\nnameserver 2001:db8::1\noptions edns0 trust-ad\nsearch lan\n"
        );
        assert!(note
            .unwrap()
            .starts_with("the host's resolver 127.0.0.53 ("));
        // A host file with a real server: kept.
        std::fs::write(&host, "nameserver 127.0.0.53\nnameserver 10.0.0.1\n").unwrap();
        assert_eq!(
            host_base(&host, &up),
            ("nameserver 127.0.0.53\nnameserver 10.0.0.1\n".into(), None)
        );
    }

    #[test]
    fn flags_replace_their_lines() {
        let flags = DnsFlags {
            servers: vec![],
            searches: vec![],
            options: vec!["ndots:3".into(), "rotate".into()],
        };
        assert_eq!(
            flags.apply("nameserver 10.0.0.1\noptions ndots:1\nsortlist 10.0.0.0\n"),
            "# written by cnitool run (--dns, --dns-search, --dns-option)\nnameserver 10.0.0.1\noptions ndots:3 rotate\nsortlist 10.0.0.0\n"
        );
    }

    #[test]
    fn resolv_conf_from_results() {
        let r = CniResult::parse(
            br#"{"cniVersion":"1.0.0","dns":{"nameservers":["10.1.0.1","10.1.0.2"],"search":["a.test"],"options":["ndots:2"]}}"#,
            "1.0.0",
        )
        .unwrap();
        let none = CniResult::parse(br#"{"cniVersion":"1.0.0"}"#, "1.0.0").unwrap();
        assert_eq!(resolv_conf(std::slice::from_ref(&none)), None);
        let text = resolv_conf(&[none, r.clone(), r]).unwrap();
        assert_eq!(
            text,
            "# written by cnitool run from the CNI results\nnameserver 10.1.0.1\nnameserver 10.1.0.2\nsearch a.test\noptions ndots:2\n"
        );
    }
}
