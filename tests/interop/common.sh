# Shared by the interop suites (sourced): a work directory, ringd started and stopped by PID,
# readiness and listening addresses from ringd's ready line, and the pass/fail tally.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ringd="$root/target/release/ringd"
ringctl="$root/target/release/ringctl"
work=$(mktemp -d)
ringd_pid=""
# Other processes a suite started (e.g. a chronyd serving ringd), stopped by PID at exit.
helper_pids=""
cleanup() {
    if [ -n "$ringd_pid" ]; then kill -TERM "$ringd_pid" 2>/dev/null || true; wait "$ringd_pid" 2>/dev/null || true; fi
    for pid in $helper_pids; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "ok: $name"; passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

# Starts ringd with ARGS..., logging to LOG, into ringd_pid, and waits (10 s at most) for its
# ready line; the first address SERVICE (ntp or ftp) listens on, as the ready line gives it,
# goes to ringd_found.
start_ringd() {
    local log=$1 service=$2; shift 2
    "$ringd" "$@" > /dev/null 2> "$log" &
    ringd_pid=$!
    ringd_found=""
    for _ in $(seq 1 100); do
        ringd_found=$(sed -n "s/.*ready: .* $service=\([^ ,]*\).*/\1/p" "$log" | head -1)
        [ -n "$ringd_found" ] && [ "$ringd_found" != none ] && return 0
        kill -0 "$ringd_pid" 2>/dev/null || break
        read -r -t 0.1 < /dev/zero || true
    done
    echo "ringd did not start serving $service:"; cat "$log"; return 1
}

# Stops ringd with SIGTERM; true if it exited 0.
stop_ringd() {
    local status=0
    kill -TERM "$ringd_pid"
    wait "$ringd_pid" || status=$?
    ringd_pid=""
    [ "$status" -eq 0 ]
}

summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
