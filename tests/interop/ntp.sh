#!/usr/bin/env bash
# NTP interop: real clients (ntpsec's ntpdig, chronyd in query-only mode) accept ringd's replies
# and measure offsets under 1 ms against it, on both I/O backends. Needs root (port 123:
# ntpdig cannot query another port) and the packages installed by install-packages.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
ringd="$root/target/release/ringd"
work=$(mktemp -d)
ringd_pid=""
cleanup() {
    if [ -n "$ringd_pid" ]; then kill -TERM "$ringd_pid" 2>/dev/null || true; wait "$ringd_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A loopback address of our own, so port 123 cannot collide with anything on 127.0.0.1.
server_ip=127.0.123.1
passed=0
failed=0

check() {
    local name=$1; shift
    if "$@"; then
        echo "ok: $name"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; failed=$((failed + 1))
    fi
}

start_ringd() {
    local io=$1
    printf 'port 123\nbindaddress %s\nallow 127.0.0.0/8\nlocal stratum 10\n' "$server_ip" > "$work/ringd.conf"
    "$ringd" --ntp-conf "$work/ringd.conf" --shards 2 --io "$io" 2> "$work/ringd-$io.log" &
    ringd_pid=$!
    for _ in $(seq 1 100); do
        grep -q "NTP serving on" "$work/ringd-$io.log" && return 0
        kill -0 "$ringd_pid" 2>/dev/null || break
        read -r -t 0.1 < /dev/zero || true
    done
    echo "ringd did not start:"; cat "$work/ringd-$io.log"; return 1
}

stop_ringd() {
    kill -TERM "$ringd_pid"
    local status=0
    wait "$ringd_pid" || status=$?
    ringd_pid=""
    [ "$status" -eq 0 ]
}

ntpdig_accepts() {
    local json
    json=$(ntpdig -j "$server_ip")
    echo "  ntpdig: $json"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["stratum"] == 10, r
assert r["leap"] == "no-leap", r
assert abs(r["offset"]) < 0.001, r
' "$json"
}

chronyd_accepts() {
    printf 'server %s iburst maxsamples 4\npidfile %s/chronyd.pid\n' "$server_ip" "$work" > "$work/client.conf"
    # -Q: query-only, the clock is never touched; -t bounds the run.
    local out
    out=$(timeout 60 chronyd -Q -f "$work/client.conf" -t 30 -d 2>&1)
    echo "$out" | sed 's/^/  chronyd: /' | grep -E "wrong by|No suitable" || true
    python3 -c '
import re, sys
m = re.search(r"System clock wrong by ([-0-9.]+) seconds", sys.argv[1])
assert m, "chronyd -Q found no usable source"
assert abs(float(m.group(1))) < 0.001, m.group(0)
' "$out"
}

for io in uring mmsg; do
    start_ringd "$io"
    check "ntpdig accepts ringd ($io)" ntpdig_accepts
    check "chronyd -Q accepts ringd ($io)" chronyd_accepts
    check "ringd exits 0 on SIGTERM ($io)" stop_ringd
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
