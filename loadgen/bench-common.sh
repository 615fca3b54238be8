# Sourced by the compare-*.sh benchmarks: their working directory, stopping the processes they
# started, and recording one measured value per line into "$results" (JSON lines, read by
# compare_ftp_report.py).

# SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps it.
stop_process() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# FIGURE SERVER ROUND VALUE [NOTE]: appends the run to "$results" and echoes it to stderr.
record() {
    jq -cn --arg f "$1" --arg s "$2" --argjson r "$3" --argjson v "$4" --arg n "${5:-}" \
        '{figure: $f, server: $s, round: $r, value: $v, note: $n}' >> "$results"
    printf '  %-10s %-10s round %s: %s %s\n' "$1" "$2" "$3" "$4" "${5:-}" >&2
}

# NAME: a fresh working directory in "$work" and, at exit (Ctrl-C included), the server in
# "$server_pid" stopped if one runs, then the directory removed.
begin_work() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    server_pid=""
    trap 'if [ -n "$server_pid" ]; then stop_process "$server_pid"; fi; rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
}
