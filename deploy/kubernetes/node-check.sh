#!/bin/sh
# Runs one `cnitool` check on this node every CHECK_INTERVAL seconds (0: once) and reports it:
# the JSON report in the log (stdout), and a Prometheus textfile CHECK.prom in TEXTFILE_DIR
# (node_exporter's textfile collector reads it), replaced atomically. Runs under the image's
# busybox sh; deploy/kubernetes/node-check.yaml carries a copy of it in a ConfigMap.
#   node-check.sh validate|doctor [cnitool arguments]
set -u
check=$1
shift
interval=${CHECK_INTERVAL:-300}
dir=${TEXTFILE_DIR:-/textfile}
cnitool=${CNITOOL:-/usr/bin/cnitool}
stderr=${TMPDIR:-/tmp}/cnitool-$check.stderr
while :; do
    report=$("$cnitool" "$check" -o json "$@" 2>"$stderr")
    code=$?
    printf '%s\n' "$report"
    [ -s "$stderr" ] && cat "$stderr" >&2
    count() { printf '%s\n' "$report" | grep -c "\"$1\": \"$2\""; }
    {
        echo "# HELP cnitool_${check}_exit_code Exit code of the last cnitool $check (0 clean, 3 errors found)."
        echo "# TYPE cnitool_${check}_exit_code gauge"
        echo "cnitool_${check}_exit_code $code"
        echo "# HELP cnitool_${check}_last_run_timestamp_seconds When the last cnitool $check ended."
        echo "# TYPE cnitool_${check}_last_run_timestamp_seconds gauge"
        echo "cnitool_${check}_last_run_timestamp_seconds $(date +%s)"
        if [ "$check" = validate ]; then
            echo "# HELP cnitool_validate_findings Findings of the last cnitool validate, by severity."
            echo "# TYPE cnitool_validate_findings gauge"
            for s in error warning info; do
                echo "cnitool_validate_findings{severity=\"$s\"} $(count severity $s)"
            done
        else
            echo "# HELP cnitool_doctor_checks Checks of the last cnitool doctor, by status."
            echo "# TYPE cnitool_doctor_checks gauge"
            for s in OK WARN FAIL; do
                echo "cnitool_doctor_checks{status=\"$s\"} $(count status $s)"
            done
        fi
    } >"$dir/.cnitool_$check.prom.tmp" && mv "$dir/.cnitool_$check.prom.tmp" "$dir/cnitool_$check.prom"
    [ "$interval" = 0 ] && exit "$code"
    sleep "$interval"
done
