//! deploy/kubernetes: the manifests against the Kubernetes API schema (kubernetes-validate,
//! whose schemas ship with it), the privileges each container gets, and the check script the
//! DaemonSet runs, with the real binary and busybox's sh as in the image.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

const MANIFEST: &str = "deploy/kubernetes/node-check.yaml";
const SCRIPT: &str = "deploy/kubernetes/node-check.sh";

#[test]
fn kubernetes_manifests_pass_the_api_schema() {
    let test = "kubernetes_manifests_pass_the_api_schema";
    if !usable_or_skip(test, &["kubernetes-validate"]) {
        return;
    }
    let out = output(
        Command::new(find_program("kubernetes-validate").unwrap())
            .args(["--strict", "--quiet"])
            .arg(repo().join(MANIFEST)),
    );
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        show(&out)
    );
}

/// The manifest's documents, read by PyYAML (which kubernetes-validate brings).
fn documents() -> Vec<Value> {
    let json = ok(Command::new(find_program("python3").unwrap())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(repo().join(MANIFEST)));
    serde_json::from_str(&json).unwrap()
}

#[test]
fn node_check_gives_each_container_only_what_it_needs() {
    let test = "node_check_gives_each_container_only_what_it_needs";
    if !usable_or_skip(test, &["kubernetes-validate", "python3"]) {
        return;
    }
    let docs = documents();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "DaemonSet"]);
    // The ConfigMap carries the script as it is in the repository.
    assert_eq!(
        docs[1]["data"]["node-check.sh"].as_str().unwrap(),
        fs::read_to_string(repo().join(SCRIPT)).unwrap(),
        "{MANIFEST}'s ConfigMap differs from {SCRIPT}: copy the script into it"
    );
    let pod = &docs[2]["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["hostPID"], Value::Null);
    let containers = pod["containers"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["validate", "doctor"]);
    for (c, added) in containers
        .iter()
        .zip([&[][..], &["NET_ADMIN", "NET_RAW"][..]])
    {
        let name = c["name"].as_str().unwrap();
        let sc = &c["securityContext"];
        assert_eq!(sc["privileged"], Value::Null, "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{name}"
        );
        let add: Vec<&str> = sc["capabilities"]["add"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(add, added, "{name}");
        assert_eq!(
            c["command"],
            serde_json::json!(["/bin/sh", "/check/node-check.sh", name]),
        );
        // Only the pod's scratch space and the textfile directory are writable.
        for m in c["volumeMounts"].as_array().unwrap() {
            let writable = matches!(m["name"].as_str().unwrap(), "tmp" | "textfile");
            assert_eq!(m["readOnly"] == true, !writable, "{name}: {m}");
        }
    }
    let host_paths: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["hostPath"]["path"].as_str())
        .collect();
    assert_eq!(
        host_paths,
        [
            "/etc/cni/net.d",
            "/opt/cni/bin",
            "/var/lib/cni",
            "/run/netns",
            "/var/lib/node_exporter/textfile_collector"
        ]
    );
}

/// The script once (CHECK_INTERVAL=0) with `args`: its exit code, its log and the textfile.
fn node_check(dir: &Path, check: &str, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = output(
        Command::new("/bin/busybox")
            .arg("sh")
            .arg(repo().join(SCRIPT))
            .arg(check)
            .args(args)
            .env("CHECK_INTERVAL", "0")
            .env("TEXTFILE_DIR", dir)
            .env("TMPDIR", dir)
            .env("CNITOOL", env!("CARGO_BIN_EXE_cnitool")),
    );
    let log: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the log is not one JSON report ({e}): {}", show(&out)));
    let textfile = fs::read_to_string(dir.join(format!("cnitool_{check}.prom"))).unwrap();
    // Replaced atomically: no temporary file is left.
    assert!(!dir.join(format!(".cnitool_{check}.prom.tmp")).exists());
    (out.status.code(), log, textfile)
}

/// The textfile with the timestamp's value replaced by `T`, after checking it is a number.
fn without_timestamp(textfile: &str) -> String {
    textfile
        .lines()
        .map(|l| match l.split_once("_last_run_timestamp_seconds ") {
            Some((name, t)) if !name.starts_with('#') => {
                assert!(t.parse::<u64>().is_ok(), "{l}");
                format!("{name}_last_run_timestamp_seconds T\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn node_check_reports_json_and_a_prometheus_textfile() {
    let test = "node_check_reports_json_and_a_prometheus_textfile";
    if !(testsupport::plugins_or_skip(test)
        && testsupport::prerequisite(
            test,
            "packaging",
            (!Path::new("/bin/busybox").exists()).then(|| "/bin/busybox (busybox-static)".into()),
        ))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let netconf = tmp.path().join("net.d");
    fs::create_dir(&netconf).unwrap();
    fs::write(
        netconf.join("10-pods.conflist"),
        r#"{"cniVersion": "1.0.0", "name": "pods", "plugins": [
          {"type": "bridge", "bridge": "cni-pods", "isGatway": true,
           "ipam": {"type": "host-local", "subnet": "10.250.7.0/33"}}]}"#,
    )
    .unwrap();
    let dirs = [
        "--netconf-dir",
        netconf.to_str().unwrap(),
        "--plugin-dir",
        testsupport::PLUGIN_DIR,
    ];

    let mut args = dirs.to_vec();
    args.push("--no-host-checks");
    let (code, log, textfile) = node_check(tmp.path(), "validate", &args);
    assert_eq!(code, Some(3), "{log}");
    assert_eq!(log["ok"], false);
    let count = |key: &str, value: &str| {
        log[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f[if key == "findings" {
                    "severity"
                } else {
                    "status"
                }] == value
            })
            .count()
    };
    let (errors, warnings, infos) = (
        count("findings", "error"),
        count("findings", "warning"),
        count("findings", "info"),
    );
    assert_eq!((errors, warnings), (2, 1), "{log}");
    assert_eq!(
        without_timestamp(&textfile),
        format!(
            "# HELP cnitool_validate_exit_code Exit code of the last cnitool validate (0 clean, 3 errors found).\n\
             # TYPE cnitool_validate_exit_code gauge\n\
             cnitool_validate_exit_code 3\n\
             # HELP cnitool_validate_last_run_timestamp_seconds When the last cnitool validate ended.\n\
             # TYPE cnitool_validate_last_run_timestamp_seconds gauge\n\
             cnitool_validate_last_run_timestamp_seconds T\n\
             # HELP cnitool_validate_findings Findings of the last cnitool validate, by severity.\n\
             # TYPE cnitool_validate_findings gauge\n\
             cnitool_validate_findings{{severity=\"error\"}} {errors}\n\
             cnitool_validate_findings{{severity=\"warning\"}} {warnings}\n\
             cnitool_validate_findings{{severity=\"info\"}} {infos}\n"
        )
    );

    // doctor reads the host: a throwaway one.
    let cache = tmp.path().join("cache");
    let mut args = dirs.to_vec();
    args.extend(["--cache-dir", cache.to_str().unwrap()]);
    let (code, log, textfile) =
        testsupport::in_throwaway_host(|| node_check(tmp.path(), "doctor", &args));
    let (ok_, warn, fail) = (
        count_status(&log, "OK"),
        count_status(&log, "WARN"),
        count_status(&log, "FAIL"),
    );
    assert_eq!(code, Some(if fail > 0 { 3 } else { 0 }), "{log}");
    assert!(ok_ > 0, "{log}");
    let lines: Vec<&str> = textfile.lines().collect();
    assert!(lines.contains(&&*format!("cnitool_doctor_exit_code {}", code.unwrap())));
    assert_eq!(
        &lines[lines.len() - 3..],
        [
            format!("cnitool_doctor_checks{{status=\"OK\"}} {ok_}"),
            format!("cnitool_doctor_checks{{status=\"WARN\"}} {warn}"),
            format!("cnitool_doctor_checks{{status=\"FAIL\"}} {fail}"),
        ],
        "{textfile}"
    );
}

fn count_status(log: &Value, status: &str) -> usize {
    log["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .count()
}
