//! The `CNI_*` environment of a plugin call (SPEC.md "Parameters") and `CNI_ARGS` parsing.
//!
//! Mirrors Go's `pkg/invoke/args.go`.

use std::fmt;

use crate::error::Error;

/// A CNI verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `ADD`
    Add,
    /// `DEL`
    Del,
    /// `CHECK`
    Check,
    /// `GC`
    Gc,
    /// `STATUS`
    Status,
    /// `VERSION`
    Version,
}

impl Command {
    /// The value of `CNI_COMMAND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Gc => "GC",
            Command::Status => "STATUS",
            Command::Version => "VERSION",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `CNI_*` variables of one plugin call. Go's `invoke.Args`: every variable is always set,
/// empty when it does not apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `CNI_COMMAND`.
    pub command: &'static str,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_NETNS`.
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`, already joined.
    pub plugin_args: String,
    /// `CNI_PATH`, the plugin directories joined with `:`.
    pub path: String,
}

/// The variables a plugin call sets, in Go's order.
pub const CNI_VARS: [&str; 6] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_ARGS",
    "CNI_IFNAME",
    "CNI_PATH",
];

impl Args {
    /// The `CNI_*` pairs, in Go's order. The executor adds them to the inherited environment.
    pub fn as_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CNI_COMMAND", self.command.to_owned()),
            ("CNI_CONTAINERID", self.container_id.clone()),
            ("CNI_NETNS", self.netns.clone()),
            ("CNI_ARGS", self.plugin_args.clone()),
            ("CNI_IFNAME", self.ifname.clone()),
            ("CNI_PATH", self.path.clone()),
        ]
    }
}

/// Parses `K=V;K=V` into pairs, in order.
///
/// Go's cnitool rejects a pair without exactly one `=` or with an empty key or value. We split
/// at the first `=` (so values may contain `=`) and allow empty values; an empty key, a pair
/// without `=` and an empty pair (`a=1;;b=2`) are errors. The empty string means no arguments.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the bad pair.
pub fn parse_cni_args(s: &str) -> Result<Vec<(String, String)>, Error> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(';').map(parse_pair).collect()
}

/// Parses one `K=V` pair (as given to `--arg`).
///
/// # Errors
/// [`Error::InvalidArgument`] when there is no `=`, the key is empty, or either side contains
/// `;` (which `CNI_ARGS` cannot carry).
pub fn parse_pair(pair: &str) -> Result<(String, String), Error> {
    let bad = |why: &str| Error::InvalidArgument {
        what: "CNI_ARGS",
        reason: format!("pair {pair:?} {why}"),
    };
    let (k, v) = pair.split_once('=').ok_or_else(|| bad("has no '='"))?;
    if k.is_empty() {
        return Err(bad("has an empty key"));
    }
    if k.contains(';') || v.contains(';') {
        return Err(bad("contains ';'"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Joins pairs into the `CNI_ARGS` form.
pub fn join_cni_args(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins_cni_args() {
        let pairs = parse_cni_args("IgnoreUnknown=1;FOO=bar").unwrap();
        assert_eq!(
            pairs,
            [
                ("IgnoreUnknown".into(), "1".into()),
                ("FOO".into(), "bar".into())
            ]
        );
        assert_eq!(join_cni_args(&pairs), "IgnoreUnknown=1;FOO=bar");
        assert!(parse_cni_args("").unwrap().is_empty());
        assert_eq!(
            parse_cni_args("K=a=b").unwrap(),
            [("K".into(), "a=b".into())]
        );
        assert_eq!(parse_cni_args("K=").unwrap(), [("K".into(), String::new())]);
    }

    #[test]
    fn rejects_bad_pairs_naming_them() {
        let err = parse_cni_args("A").unwrap_err().to_string();
        assert_eq!(err, "invalid CNI_ARGS: pair \"A\" has no '='");
        assert!(parse_cni_args("=v").is_err());
        assert!(parse_cni_args("a=1;;b=2").is_err());
        assert!(parse_pair("a=b;c").is_err());
    }

    #[test]
    fn env_is_complete_and_ordered() {
        let args = Args {
            command: "ADD",
            container_id: "c".into(),
            netns: "/run/netns/x".into(),
            ifname: "eth0".into(),
            plugin_args: String::new(),
            path: "/usr/lib/cni".into(),
        };
        let names: Vec<_> = args.as_env().into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, CNI_VARS);
    }
}
