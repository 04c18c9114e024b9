//! Direct plugin calls: the floor every comparison is measured against.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{Map, Value};

use crate::PLUGIN_DIR;

/// One plugin's stdin as a runtime builds it: the plugin object with `cniVersion`, `name`,
/// the `runtimeConfig` of the capabilities it declares, and `prevResult`.
pub(crate) fn plugin_stdin(
    list: &Value,
    plugin: &Value,
    caps: &Map<String, Value>,
    prev: Option<&Value>,
) -> Vec<u8> {
    let mut obj = plugin.as_object().cloned().unwrap_or_default();
    obj.insert("cniVersion".into(), list["cniVersion"].clone());
    obj.insert("name".into(), list["name"].clone());
    let mut rc = Map::new();
    if let Some(Value::Object(declared)) = plugin.get("capabilities") {
        for (k, on) in declared {
            if on == &Value::Bool(true) {
                if let Some(v) = caps.get(k) {
                    rc.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if !rc.is_empty() {
        obj.insert("runtimeConfig".into(), Value::Object(rc));
    }
    if let Some(p) = prev {
        obj.insert("prevResult".into(), p.clone());
    }
    serde_json::to_vec(&obj).expect("JSON")
}

/// Executes one plugin with the CNI environment and returns its stdout.
pub(crate) fn exec_plugin(
    kind: &str,
    command: &str,
    netns: &str,
    ifname: &str,
    id: &str,
    stdin: &[u8],
) -> Result<Vec<u8>> {
    let mut child = Command::new(Path::new(PLUGIN_DIR).join(kind))
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", ifname)
        .env("CNI_ARGS", "")
        .env("CNI_PATH", PLUGIN_DIR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting plugin {kind}"))?;
    child.stdin.take().expect("piped").write_all(stdin)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "plugin {kind} {command} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(out.stdout)
}

/// ADD of every plugin in order, each given the previous result; returns the final result.
pub(crate) fn floor_add(
    list: &Value,
    caps: &Map<String, Value>,
    netns: &str,
    ifname: &str,
    id: &str,
) -> Result<Value> {
    let mut prev: Option<Value> = None;
    for plugin in list["plugins"].as_array().expect("plugins") {
        let kind = plugin["type"].as_str().expect("type");
        let out = exec_plugin(
            kind,
            "ADD",
            netns,
            ifname,
            id,
            &plugin_stdin(list, plugin, caps, prev.as_ref()),
        )?;
        prev = Some(serde_json::from_slice(&out).context("plugin result")?);
    }
    prev.ok_or_else(|| anyhow!("no plugins"))
}

/// DEL of every plugin in reverse order with the ADD result as `prevResult`.
pub(crate) fn floor_del(
    list: &Value,
    caps: &Map<String, Value>,
    netns: &str,
    ifname: &str,
    id: &str,
    result: &Value,
) -> Result<()> {
    for plugin in list["plugins"].as_array().expect("plugins").iter().rev() {
        let kind = plugin["type"].as_str().expect("type");
        exec_plugin(
            kind,
            "DEL",
            netns,
            ifname,
            id,
            &plugin_stdin(list, plugin, caps, Some(result)),
        )?;
    }
    Ok(())
}
