//! The command's `/etc/resolv.conf`: from the DNS of the CNI results, with the `--dns` and
//! `--dns-search` flags no plugin took applied on top.

use libcni::CniResult;

/// `--dns` and `--dns-search` that no plugin of the run takes: the runtime's job, so `run`
/// writes them into the command's resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// `--dns`: nameservers, replacing the others.
    pub servers: Vec<String>,
    /// `--dns-search`: search domains, replacing the others.
    pub searches: Vec<String>,
}

impl DnsFlags {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.searches.is_empty()
    }

    /// `base` (a resolv.conf) with the flags applied: `--dns` replaces its `nameserver`
    /// lines, `--dns-search` its `search` and `domain` lines; other lines stay.
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
        let mut rest = Vec::new();
        for line in base.lines().map(str::trim_start) {
            match line.split_whitespace().next().unwrap_or("") {
                "nameserver" if self.servers.is_empty() => servers.push(line.to_owned()),
                "search" | "domain" if self.searches.is_empty() => search.push(line.to_owned()),
                "nameserver" | "search" | "domain" => {}
                _ if line.is_empty() || line.starts_with('#') => {}
                _ => rest.push(line.to_owned()),
            }
        }
        let mut out = String::from("# written by cnitool run (--dns, --dns-search)\n");
        for line in servers.iter().chain(&search).chain(&rest) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
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
