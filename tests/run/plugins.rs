//! Fake plugins: small shell scripts written into a test host's plugin directory.

use std::path::Path;

use serde_json::{json, Value};

use crate::util::{Host, REAL_PLUGINS};

/// Delegates to the real plugin named after `wrap-` in its file name and logs each call as
/// `COMMAND REAL` to `log`. Its ADD fails when its config has `"failAdd": "before"` (before
/// delegating: nothing done) or `"failAdd": "after"` (after the real plugin's ADD succeeded:
/// a plugin that made changes and then failed).
const WRAP: &str = r#"#!/bin/sh
real=${0##*/wrap-}
conf=$(cat)
echo "$CNI_COMMAND $real" >> "@LOG@"
mode=$(printf '%s' "$conf" | sed -n 's/.*"failAdd": *"\([a-z]*\)".*/\1/p')
fail() {
    echo "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"injected ADD failure in $real\"}"
    exit 1
}
[ "$CNI_COMMAND" = ADD ] && [ "$mode" = before ] && fail
out=$(printf '%s' "$conf" | "@REAL@/$real")
rc=$?
[ $rc -ne 0 ] && { printf '%s' "$out"; exit $rc; }
[ "$CNI_COMMAND" = ADD ] && [ "$mode" = after ] && fail
printf '%s' "$out"
"#;

/// A chained plugin driven by its config: logs `COMMAND hook` to `log` (and, with `logArgs`,
/// its `CNI_ARGS` and `runtimeConfig`); on ADD touches
/// `addMark`, sleeps `addSleep` seconds, adds `dns` to the result if given, and passes the
/// previous result on; on DEL touches `delMark`, sleeps `delSleep`, runs `delRun` (sh), and
/// fails if the file `delFailOnce` does not exist yet (creating it: the next DEL succeeds).
const HOOK: &str = r#"#!/bin/sh
conf=$(cat)
get() { printf '%s' "$conf" | jq -r ".$1 // empty"; }
log=$(get log)
[ -n "$log" ] && echo "$CNI_COMMAND hook" >> "$log"
[ -n "$(get logArgs)" ] && echo "$CNI_COMMAND CNI_ARGS=$CNI_ARGS runtimeConfig=$(printf '%s' "$conf" |
    jq -c '.runtimeConfig // {}')" >> "$log"
case "$CNI_COMMAND" in
ADD)
    m=$(get addMark); [ -n "$m" ] && touch "$m"
    s=$(get addSleep); [ -n "$s" ] && sleep "$s"
    printf '%s' "$conf" | jq -c '(.prevResult // {cniVersion: .cniVersion})
        + (if .dns then {dns: .dns} else {} end)'
    ;;
DEL)
    m=$(get delMark); [ -n "$m" ] && touch "$m"
    s=$(get delSleep); [ -n "$s" ] && sleep "$s"
    c=$(get delRun); [ -n "$c" ] && sh -c "$c" >> "${log:-/dev/null}" 2>&1
    f=$(get delFailOnce)
    if [ -n "$f" ] && [ ! -e "$f" ]; then
        touch "$f"
        echo '{"cniVersion":"1.0.0","code":11,"msg":"injected DEL failure"}'
        exit 1
    fi
    ;;
esac
exit 0
"#;

/// Installs `wrap-<real>` for each real plugin, logging to `log`.
pub fn install_wrappers(host: &Host, reals: &[&str], log: &Path) {
    let script = WRAP
        .replace("@LOG@", log.to_str().unwrap())
        .replace("@REAL@", REAL_PLUGINS);
    for real in reals {
        host.plugin(&format!("wrap-{real}"), &script);
    }
}

/// Installs the `hook` plugin.
pub fn install_hook(host: &Host) {
    host.plugin("hook", HOOK);
}

/// A `hook` plugin entry with the given settings (`log`, `logArgs`, `addMark`, `addSleep`, `dns`,
/// `delMark`, `delSleep`, `delRun`, `delFailOnce`).
pub fn hook(settings: Value) -> Value {
    let mut v = json!({ "type": "hook" });
    v.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    v
}
