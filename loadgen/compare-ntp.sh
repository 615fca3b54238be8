#!/usr/bin/env bash
# Side-by-side NTP benchmark on loopback, in one run: chronyd, the udp-reflector (the syscall
# floor) and ringd, each pinned to core 0, loaded by ringload pinned to core 1. Measures CPU time
# per answered request at 80,000/s, loss at 200,000/s, p99 |offset| at 150,000/s and the ramp's
# maximum rate; each figure is the median of alternating runs (A B C A B C ...). Writes the
# result into docs/benchmarks.md between markers, leaving the rest of that file alone.
#
# Usage: loadgen/compare-ntp.sh [--quick] [--rounds N] [--out FILE] [--servers LIST] [--no-build]
#   --quick       CI variant: 2 s runs, 0.5 s ramp steps, one round; prints the table and
#                 writes a file only when --out is given
#   --rounds N    alternating rounds (default 3; 1 with --quick)
#   --out FILE    markdown file to update (default docs/benchmarks.md, none with --quick)
#   --servers L   comma-separated subset of chronyd,reflector,ringd (default all three)
#   --no-build    use the release binaries already built
#
# Safety: chronyd always runs as `chronyd -x` (it never touches the system clock); every process
# is started by this script and stopped by PID; all load goes to 127.0.0.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release"

quick=0
rounds=""
out=""
servers="chronyd,reflector,ringd"
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --rounds) rounds=$2; shift ;;
        --out) out=$2; shift ;;
        --servers) servers=$2; shift ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-ntp.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" -eq 1 ]; then
    run_seconds=2
    step_seconds=0.5
    rounds=${rounds:-1}
else
    run_seconds=10
    step_seconds=2
    rounds=${rounds:-3}
    out=${out:-$root/docs/benchmarks.md}
fi
IFS=, read -r -a server_list <<< "$servers"
for server in "${server_list[@]}"; do
    case "$server" in chronyd|reflector|ringd) ;; *) echo "unknown server $server" >&2; exit 2 ;; esac
done

server_core=0
load_core=1
cpu_rate=80000
loss_rate=200000
offset_rate=150000

work=$(mktemp -d)
declare -A pid_of=()
declare -A port_of=()

source "$root/loadgen/bench-common.sh"

cleanup() {
    local server
    for server in "${!pid_of[@]}"; do
        stop_process "${pid_of[$server]}"
    done
    rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

# --- binaries and packages ------------------------------------------------------------------

if [ "$build" -eq 1 ]; then
    log "building release binaries"
    (cd "$root" && cargo build --release -q -p ringd -p ringload)
fi
needed=(ringload udp-reflector)
[[ ",$servers," == *,ringd,* ]] && needed+=(ringd)
for binary in "${needed[@]}"; do
    [ -x "$bin/$binary" ] || { log "missing $bin/$binary (build with cargo build --release)"; exit 1; }
done
if ! command -v chronyd >/dev/null; then
    log "installing chrony (without letting its package start a daemon)"
    bash "$root/tests/interop/install-packages.sh" chrony
fi
foreign_chronyd=$(pgrep -a -x chronyd || true)
if [ -n "$foreign_chronyd" ]; then
    log "note: a chronyd not started by this script is running (left alone): $foreign_chronyd"
fi

# --- servers --------------------------------------------------------------------------------

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        if [ -z "$(ss -Hlun "sport = :$port")" ]; then
            echo "$port"
            return
        fi
    done
}

# The same server directives for chronyd and ringd. `noclientlog`: chronyd's fastest setting,
# and with it neither server keeps per-client state or rate-limits, so both do the same work per
# request. chronyd also gets its housekeeping: no command port, a pidfile of its own.
write_server_conf() {
    local port=$1 file=$2
    cat > "$file" <<EOF
port $port
bindaddress 127.0.0.1
allow 127.0.0.0/8
local stratum 10
noclientlog
EOF
}

write_chronyd_conf() {
    local port=$1 file=$2
    write_server_conf "$port" "$file"
    printf 'cmdport 0\npidfile %s/chronyd.pid\n' "$work" >> "$file"
}

wait_for_log_line() {
    local pid=$1 file=$2 pattern=$3
    for _ in $(seq 1 100); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "server did not become ready; its log:"; cat "$file" >&2
    return 1
}

# A server is ready when it answers ringload; chronyd has no readiness line of its own.
wait_until_answering() {
    local server=$1
    for _ in $(seq 1 50); do
        if "$bin/ringload" ntp "127.0.0.1:${port_of[$server]}" --rate 100 --duration 0.05 --json \
            > "$work/probe.json" 2>/dev/null && [ "$(json_field "$work/probe.json" answered)" -gt 0 ]; then
            return 0
        fi
        sleep 0.1
    done
    log "$server does not answer NTP on port ${port_of[$server]}"
    return 1
}

start_server() {
    local server=$1 port
    port=$(free_port)
    port_of[$server]=$port
    local log_file="$work/$server.log"
    case "$server" in
        chronyd)
            write_chronyd_conf "$port" "$work/chronyd.conf"
            taskset -c "$server_core" chronyd -x -d -f "$work/chronyd.conf" > "$log_file" 2>&1 &
            pid_of[$server]=$!
            ;;
        reflector)
            taskset -c "$server_core" "$bin/udp-reflector" --bind "127.0.0.1:$port" > "$log_file" 2>&1 &
            pid_of[$server]=$!
            wait_for_log_line "${pid_of[$server]}" "$log_file" "listening on"
            ;;
        ringd)
            write_server_conf "$port" "$work/ringd.conf"
            taskset -c "$server_core" "$bin/ringd" --ntp-conf "$work/ringd.conf" --shards 1 > "$log_file" 2>&1 &
            pid_of[$server]=$!
            wait_for_log_line "${pid_of[$server]}" "$log_file" "NTP serving on"
            ;;
    esac
    wait_until_answering "$server"
    log "started $server (pid ${pid_of[$server]}) on 127.0.0.1:$port, core $server_core"
}

# --- measurements ---------------------------------------------------------------------------

json_field() {
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$1" "$2"
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, counted
# after the parenthesised command name, which may contain spaces).
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# A fixed-rate run, repeated (at most twice) when the generator fell behind its schedule: the
# server then did not get the load asked for. Prints the server's CPU ticks of the kept run.
fixed_run() {
    local server=$1 rate=$2 json=$3 pid=${pid_of[$1]} attempt before after
    for attempt in 1 2 3; do
        before=$(cpu_ticks "$pid")
        taskset -c "$load_core" "$bin/ringload" ntp "127.0.0.1:${port_of[$server]}" \
            --rate "$rate" --duration "$run_seconds" --json > "$json"
        after=$(cpu_ticks "$pid")
        [ "$(json_field "$json" generator_fell_behind)" = "True" ] || break
        [ "$attempt" -lt 3 ] && log "  ($server at $rate/s: the generator fell behind, running again)"
    done
    echo $((after - before))
}

# One run of a figure, as a line of results.tsv.
record_run() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$work/results.tsv"
}

measure() {
    local server=$1 figure=$2 round=$3 json="$work/$1-$2-$3.json" ticks
    case "$figure" in
        cpu)
            ticks=$(fixed_run "$server" "$cpu_rate" "$json")
            record_run "$server" cpu "$round" \
                "$(python3 -c 'import sys; t, hz, n = map(float, sys.argv[1:]); print(t / hz * 1e6 / n if n else "")' \
                    "$ticks" "$(getconf CLK_TCK)" "$(json_field "$json" answered)")" \
                "$(json_field "$json" generator_fell_behind)"
            ;;
        loss)
            fixed_run "$server" "$loss_rate" "$json" > /dev/null
            record_run "$server" loss "$round" "$(json_field "$json" loss_percent)" "$(json_field "$json" generator_fell_behind)"
            ;;
        offset)
            fixed_run "$server" "$offset_rate" "$json" > /dev/null
            record_run "$server" offset "$round" "$(json_field "$json" offset_abs_p99_us)" "$(json_field "$json" generator_fell_behind)"
            ;;
        ramp)
            taskset -c "$load_core" "$bin/ringload" ntp "127.0.0.1:${port_of[$server]}" \
                --ramp --step-duration "$step_seconds" --json > "$json" 2>/dev/null
            record_run "$server" ramp "$round" "$(json_field "$json" max_rate)" "$(json_field "$json" stop_reason)"
            ;;
    esac
    log "  $server $figure round $round: $(tail -n 1 "$work/results.tsv" | cut -f4,5)"
}

started_at=$(date +%s)
load_average=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$work/results.tsv"
for server in "${server_list[@]}"; do
    start_server "$server"
done
for round in $(seq 1 "$rounds"); do
    log "round $round of $rounds"
    for figure in cpu loss offset ramp; do
        for server in "${server_list[@]}"; do
            # The reflector copies T1 into T2 and T3: its offset would mean nothing.
            [ "$figure" = offset ] && [ "$server" = reflector ] && continue
            measure "$server" "$figure" "$round"
        done
    done
done
elapsed=$(( $(date +%s) - started_at ))

# --- report ---------------------------------------------------------------------------------

ringd_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [ -n "$(git -C "$root" status --porcelain -- src loadgen Cargo.toml 2>/dev/null)" ]; then
    ringd_rev="$ringd_rev with uncommitted changes"
fi
if [ "$build" -eq 0 ]; then
    ringd_rev="$ringd_rev, binaries built before the run"
fi
export BENCH_MACHINE_CPU BENCH_MACHINE_CORES BENCH_KERNEL BENCH_CHRONY BENCH_RINGD BENCH_LOAD BENCH_ELAPSED
BENCH_MACHINE_CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
BENCH_MACHINE_CORES=$(nproc)
BENCH_KERNEL=$(uname -r)
BENCH_CHRONY=$(chronyd -v | head -n 1)
if [ -x "$bin/ringd" ]; then
    BENCH_RINGD="$("$bin/ringd" --version) (git $ringd_rev)"
else
    BENCH_RINGD="ringd not built"
fi
BENCH_LOAD=$load_average
BENCH_ELAPSED=$elapsed
export BENCH_ROUNDS=$rounds BENCH_RUN_SECONDS=$run_seconds BENCH_STEP_SECONDS=$step_seconds BENCH_QUICK=$quick
export BENCH_SERVERS=$servers BENCH_CPU_RATE=$cpu_rate BENCH_LOSS_RATE=$loss_rate BENCH_OFFSET_RATE=$offset_rate
write_server_conf PORT "$work/example.conf"
write_chronyd_conf PORT "$work/example-chronyd.conf"
export BENCH_CONF BENCH_CHRONYD_EXTRA
BENCH_CONF=$(cat "$work/example.conf")
BENCH_CHRONYD_EXTRA=$(tail -n +"$(( $(wc -l < "$work/example.conf") + 1 ))" "$work/example-chronyd.conf" | sed "s|$work|TMPDIR|")

python3 "$root/loadgen/compare_ntp_report.py" "$work/results.tsv" > "$work/section.md"
cat "$work/section.md"

if [ -n "$out" ]; then
    python3 - "$out" "$work/section.md" <<'EOF'
import os, sys
path, section_path = sys.argv[1], sys.argv[2]
begin, end = "<!-- compare-ntp:begin -->", "<!-- compare-ntp:end -->"
section = f"{begin}\n{open(section_path).read().rstrip()}\n{end}\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1].lstrip("\n")
    text = head + section + ("\n" + tail if tail else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
EOF
    log "wrote $out"
fi
