//! Rendering results for people (tables) and programs (JSON), and the one path every command
//! writes its output and messages through ([`stdout`], [`out!`], [`outln!`], [`diag!`]).
//!
//! A reader that goes away (`cnitool list | head -1`, a closed pipe) ends the output
//! quietly, as with Go's tool and iproute2: the command finishes its work and exits with its
//! own status, and never reports failure (or panics, as `println!` does) for work that was
//! done only because nobody read the end of what it printed.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use libcni::types::v1;
use libcni::CniResult;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// JSON (ADD prints the CNI result, as the Go cnitool).
    Json,
    /// A human-readable table.
    Table,
    /// Nothing on stdout.
    None,
}

/// Set once stdout's reader has gone away; later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output, locked, for a command's output: writing to a closed pipe (EPIPE) succeeds
/// and drops the bytes, so the command ends as it would have; other write errors (a full
/// disk behind `>`) are still reported.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// See [`stdout`].
#[derive(Debug)]
pub struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    /// `Ok` for a reader that went away (remembered, so nothing more is written).
    fn quiet_on_epipe<T>(r: io::Result<T>, closed: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(closed)
            }
            r => r,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        let r = self.0.write(buf);
        Self::quiet_on_epipe(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            return Ok(());
        }
        let r = self.0.flush();
        Self::quiet_on_epipe(r, ())
    }
}

/// `print!` through [`stdout`]: evaluates to `io::Result<()>`.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!($crate::output::stdout(), $($t)*)
    }};
}

/// `println!` through [`stdout`]: evaluates to `io::Result<()>`.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::output::stdout(), $($t)*)
    }};
}

/// `eprintln!` that cannot fail: a message for stderr, written in one `write(2)` (so lines
/// of concurrent writers do not interleave) and dropped if stderr is closed (`2>&1 | head`
/// must not turn a finished command into a crash).
#[macro_export]
macro_rules! diag {
    ($($t:tt)*) => {
        $crate::output::diag(format_args!($($t)*))
    };
}

/// See [`diag!`].
pub fn diag(args: fmt::Arguments<'_>) {
    let mut line = args.to_string();
    line.push('\n');
    let _ = io::stderr().write_all(line.as_bytes());
}

/// Prints an ADD result: JSON indented by 4 spaces as the Go tool (plus a newline), a table,
/// or nothing.
///
/// # Errors
/// Writing to stdout failed.
pub fn print_result(result: &CniResult, format: Output) -> io::Result<()> {
    let mut out = stdout();
    match format {
        Output::Json => {
            out.write_all(&result.to_json_pretty())?;
            out.write_all(b"\n")?;
        }
        Output::Table => out.write_all(result_table(result).as_bytes())?,
        Output::None => {}
    }
    out.flush()
}

/// A result as tables of interfaces, addresses, routes and DNS settings, separated by blank
/// lines; empty sections are left out. Every result version is shown in its 1.x form (a
/// result that cannot be converted is printed as JSON).
pub fn result_table(result: &CniResult) -> String {
    let Ok(r) = result.to_v1() else {
        return String::from_utf8_lossy(&result.to_json_pretty()).into_owned() + "\n";
    };
    let mut sections = Vec::new();
    if !r.interfaces.is_empty() {
        sections.push(interfaces_table(&r.interfaces));
    }
    if !r.ips.is_empty() {
        sections.push(addresses_table(&r));
    }
    if !r.routes.is_empty() {
        sections.push(routes_table(&r.routes));
    }
    if !r.dns.is_empty() {
        sections.push(dns_table(&r.dns));
    }
    if sections.is_empty() {
        return format!("CNI result {}: nothing configured\n", result.version());
    }
    sections.join("\n")
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s
    }
}

fn interfaces_table(interfaces: &[v1::Interface]) -> String {
    let with_mtu = interfaces.iter().any(|i| i.mtu != 0);
    let mut header = vec!["INTERFACE", "MAC"];
    if with_mtu {
        header.push("MTU");
    }
    header.push("SANDBOX");
    let rows = interfaces
        .iter()
        .map(|i| {
            let mut row = vec![i.name.clone(), dash_if_empty(i.mac.clone())];
            if with_mtu {
                row.push(if i.mtu == 0 {
                    "-".into()
                } else {
                    i.mtu.to_string()
                });
            }
            let mut where_ = if i.sandbox.is_empty() {
                "(host)".to_owned()
            } else {
                i.sandbox.clone()
            };
            if !i.socket_path.is_empty() {
                where_.push_str(&format!(" socket {}", i.socket_path));
            }
            if !i.pci_id.is_empty() {
                where_.push_str(&format!(" pci {}", i.pci_id));
            }
            row.push(where_);
            row
        })
        .collect();
    table(&header, rows)
}

fn addresses_table(r: &v1::Result) -> String {
    let rows = r
        .ips
        .iter()
        .map(|ip| {
            let iface = match ip.interface {
                None => "-".to_owned(),
                Some(n) => usize::try_from(n)
                    .ok()
                    .and_then(|n| r.interfaces.get(n))
                    .map_or_else(|| format!("#{n}"), |i| i.name.clone()),
            };
            vec![
                ip.address.to_string(),
                ip.gateway.map_or_else(|| "-".into(), |g| g.to_string()),
                iface,
            ]
        })
        .collect();
    table(&["ADDRESS", "GATEWAY", "INTERFACE"], rows)
}

fn routes_table(routes: &[v1::Route]) -> String {
    let rows = routes
        .iter()
        .map(|rt| {
            let mut attrs = Vec::new();
            for (name, v) in [
                ("mtu", rt.mtu),
                ("advmss", rt.advmss),
                ("priority", rt.priority),
            ] {
                if v != 0 {
                    attrs.push(format!("{name} {v}"));
                }
            }
            for (name, v) in [("table", rt.table), ("scope", rt.scope)] {
                if let Some(v) = v {
                    attrs.push(format!("{name} {v}"));
                }
            }
            vec![
                rt.dst.to_string(),
                rt.gw.map_or_else(|| "-".into(), |g| g.to_string()),
                attrs.join(", "),
            ]
        })
        .collect();
    table(&["ROUTE", "GATEWAY", ""], rows)
}

fn dns_table(dns: &v1::Dns) -> String {
    let mut rows = Vec::new();
    if !dns.nameservers.is_empty() {
        rows.push(vec!["nameservers".into(), dns.nameservers.join(" ")]);
    }
    if !dns.domain.is_empty() {
        rows.push(vec!["domain".into(), dns.domain.clone()]);
    }
    if !dns.search.is_empty() {
        rows.push(vec!["search".into(), dns.search.join(" ")]);
    }
    if !dns.options.is_empty() {
        rows.push(vec!["options".into(), dns.options.join(" ")]);
    }
    table(&["DNS", ""], rows)
}

/// A plain table (see [`crate::table`]) of `rows` under `header`.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = crate::table::new(header);
    for row in rows {
        t.add_row(row);
    }
    crate::table::render(&t)
}

/// A dry run as JSON: an array with, for each plugin in order, its `CNI_*` environment and
/// exact stdin.
pub fn plan_json(plan: &[libcni::api::PlannedCall]) -> serde_json::Value {
    plan.iter()
        .map(|c| {
            let env: serde_json::Map<String, serde_json::Value> = c
                .env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone().into()))
                .collect();
            serde_json::json!({
                "plugin": c.plugin,
                "index": c.index,
                "path": c.path.display().to_string(),
                "env": env,
                "stdin": String::from_utf8_lossy(&c.stdin),
                "prevResultPending": c.prev_result_pending,
            })
        })
        .collect()
}

/// Prints a dry run: for each plugin in order, its `CNI_*` environment and exact stdin.
///
/// # Errors
/// Writing to stdout failed.
pub fn print_plan(plan: &[libcni::api::PlannedCall], format: Output) -> io::Result<()> {
    let mut out = stdout();
    match format {
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, &plan_json(plan))?;
            out.write_all(b"\n")?;
        }
        Output::Table => {
            for (n, c) in plan.iter().enumerate() {
                if n > 0 {
                    writeln!(out)?;
                }
                writeln!(
                    out,
                    "# plugin {} of the list: {} ({})",
                    c.index + 1,
                    c.plugin,
                    c.path.display()
                )?;
                for (k, v) in &c.env {
                    writeln!(out, "{k}={v}")?;
                }
                out.write_all(&c.stdin)?;
                writeln!(out)?;
                if c.prev_result_pending {
                    writeln!(
                        out,
                        "# + prevResult: the previous plugin's result, known when it has run"
                    )?;
                }
            }
        }
        Output::None => {}
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_a_bridge_result() {
        let json = br#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                          {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/run/netns/x"}],
            "ips":[{"interface":1,"address":"10.1.0.5/24","gateway":"10.1.0.1"},
                   {"address":"fd00::5/64"}],
            "routes":[{"dst":"0.0.0.0/0"},{"dst":"10.9.0.0/16","gw":"10.1.0.254","mtu":1400}],
            "dns":{"nameservers":["10.1.0.53"],"search":["a.test","b.test"]}}"#;
        let r = CniResult::parse(json, "1.0.0").unwrap();
        assert_eq!(
            result_table(&r),
            "\
INTERFACE  MAC                SANDBOX
cni0       aa:bb:cc:dd:ee:01  (host)
eth0       aa:bb:cc:dd:ee:02  /run/netns/x

ADDRESS      GATEWAY   INTERFACE
10.1.0.5/24  10.1.0.1  eth0
fd00::5/64   -         -

ROUTE        GATEWAY
0.0.0.0/0    -
10.9.0.0/16  10.1.0.254  mtu 1400

DNS
nameservers  10.1.0.53
search       a.test b.test
"
        );
    }

    #[test]
    fn empty_result() {
        let r = CniResult::parse(br#"{"cniVersion":"1.0.0","dns":{}}"#, "1.0.0").unwrap();
        assert_eq!(result_table(&r), "CNI result 1.0.0: nothing configured\n");
    }

    #[test]
    fn old_result_is_shown_as_1x() {
        let r = CniResult::parse(
            br#"{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.5/24","gateway":"10.1.0.1"},"dns":{}}"#,
            "0.2.0",
        )
        .unwrap();
        let t = result_table(&r);
        assert!(t.contains("10.1.0.5/24  10.1.0.1"), "{t}");
    }
}
