# Sourced by the compare-*.sh benchmarks: stops one process they started, by its PID.

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
