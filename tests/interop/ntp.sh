#!/usr/bin/env bash
# NTP interop: real clients (ntpsec's ntpdig, chronyd in query-only mode) accept ringd's replies
# and measure offsets under 1 ms against it, on both I/O backends. Needs root (port 123:
# ntpdig cannot query another port) and the packages installed by install-packages.sh.
set -euo pipefail

source "$(dirname "$0")/common.sh"

# A loopback address of our own, so port 123 cannot collide with anything on 127.0.0.1.
server_ip=127.0.123.1

serve() {
    local io=$1
    printf 'port 123\nbindaddress %s\nallow 127.0.0.0/8\nlocal stratum 10\n' "$server_ip" > "$work/ringd.conf"
    start_ringd "$work/ringd-$io.log" '/NTP serving on/p' --ntp-conf "$work/ringd.conf" --shards 2 --io "$io"
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
    serve "$io"
    check "ntpdig accepts ringd ($io)" ntpdig_accepts
    check "chronyd -Q accepts ringd ($io)" chronyd_accepts
    check "ringd exits 0 on SIGTERM ($io)" stop_ringd
done

summary
