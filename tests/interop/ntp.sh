#!/usr/bin/env bash
# NTP interop: real clients (ntpsec's ntpdig, chronyd in query-only mode) accept ringd's replies
# and measure offsets under 1 ms against it, on both I/O backends, also with a key (ntpdig -a) and
# over NTS (chronyd's NTS client, ringload --key/--nts); ringd synchronises to a
# chronyd server, also with a key and over NTS; ringd answers and drops request kinds as chronyd does (ntp_requests.py); and chronyd with
# `xleave` gets interleaved replies. Needs root (port 123:
# ntpdig cannot query another port) and the packages installed by install-packages.sh.
set -euo pipefail

source "$(dirname "$0")/common.sh"

# A loopback address of our own, so port 123 cannot collide with anything on 127.0.0.1.
server_ip=127.0.123.1

# One key in both files' formats: chrony's (HEX:) for the servers, ntpsec's for ntpdig.
key_hex=1dc764e0791b11fa67efc7ecbc4b0d73f68a070c
printf '1 SHA1 HEX:%s\n' "$key_hex" > "$work/chrony.keys"
printf '1 SHA1 %s\n' "$key_hex" > "$work/ntp.keys"
# An NTS certificate for the server's address, as chronyd's client checks it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$server_ip" -addext "subjectAltName=IP:$server_ip" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$work/nts.key" -out "$work/nts.crt" 2> /dev/null
nts_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

serve() {
    local io=$1
    printf 'port 123\nbindaddress %s\nallow 127.0.0.0/8\nlocal stratum 10\nkeyfile %s/chrony.keys\nntsport %s\nntsservercert %s/nts.crt\nntsserverkey %s/nts.key\n' \
        "$server_ip" "$work" "$nts_port" "$work" "$work" > "$work/ringd.conf"
    start_ringd "$work/ringd-$io.log" ntp --ntp-conf "$work/ringd.conf" --shards 2 --io "$io"
}

# ntpdig's one exchange, as JSON, checked by python3 against ringd's stratum, leap and an
# offset under 1 ms. The offset of one exchange takes any scheduling delay of a busy machine:
# up to three exchanges are made, the first that passes counts (as NTP clients keep the
# least delayed sample); a reply ntpdig refused, or wrong time, fails all three.
ntpdig_close_to_ringd() {
    local label=$1 json attempt
    shift
    for attempt in 1 2 3; do
        json=$(ntpdig -j "$@" "$server_ip") || continue
        echo "  $label (try $attempt): $json"
        python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["stratum"] == 10 and r["leap"] == "no-leap", r
assert abs(r["offset"]) < 0.001, r
' "$json" && return 0
    done
    return 1
}

# ntpdig with the key: it refuses an unauthenticated or wrongly signed reply.
ntpdig_authenticates() {
    ntpdig_close_to_ringd "ntpdig -a 1" -a 1 -k "$work/ntp.keys"
}

# chronyd as an NTS client (-Q: it never touches the clock): NTS-KE, then authenticated NTP.
chronyd_nts_accepts() {
    printf 'server %s iburst maxsamples 4 nts ntsport %s\nntstrustedcerts %s/nts.crt\nnosystemcert\npidfile %s/chronyd-nts.pid\n' \
        "$server_ip" "$nts_port" "$work" "$work" > "$work/nts-client.conf"
    local out
    # -u root: the trusted certificate is in this script's directory, which only root may enter.
    out=$(timeout 60 chronyd -Q -u root -f "$work/nts-client.conf" -t 30 -d 2>&1)
    echo "$out" | sed 's/^/  chronyd: /' | grep -E "wrong by|No suitable|NTS" || true
    python3 -c '
import re, sys
m = re.search(r"System clock wrong by ([-0-9.]+) seconds", sys.argv[1])
assert m, "chronyd -Q (NTS) found no usable source"
assert abs(float(m.group(1))) < 0.001, m.group(0)
' "$out"
}

# ringload's MAC'd and NTS load: every reply authentic, none lost.
ringload_authenticates() {
    local args
    for args in "--key 1:SHA1:HEX:$key_hex" "--nts --nts-ca $work/nts.crt --nts-name $server_ip --nts-port $nts_port"; do
        # shellcheck disable=SC2086
        # Exit 2 is accepted only with the generator behind its schedule (a busy machine):
        # the reply counts still hold.
        local status=0
        "$root/target/release/ringload" ntp "$server_ip:123" --rate 2000 --duration 1 --json $args > "$work/ringload.json" || status=$?
        python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
status = int(sys.argv[3])
print("  ringload %s: exit %d, %d answered, %d invalid, %.3f %% lost" % (sys.argv[2].split()[0], status, r["answered"], r["invalid_total"], r["loss_percent"]))
assert status == 0 or (status == 2 and r["generator_fell_behind"]), r
assert r["answered"] > 0 and r["invalid_total"] == 0 and r["loss_percent"] == 0, r
' "$work/ringload.json" "$args" "$status" || return 1
    done
}

ntpdig_accepts() {
    ntpdig_close_to_ringd ntpdig
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

# ringd as a client: a chronyd (-x: it never touches the clock) serves local stratum 1 on a free
# loopback port; ringd follows it, observing only, and ringctl shows what chronyc would.
chronyd_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

serve_chronyd() {
    # chronyd wants its command socket's directory closed to others.
    mkdir -m 0750 "$work/chronyd-cmd"
    printf 'port %s\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 1\ncmdport 0\nbindcmdaddress %s/chronyd-cmd/chronyd.sock\npidfile %s/chronyd-server.pid\n' \
        "$chronyd_port" "$work" "$work" > "$work/chronyd-server.conf"
    # -u root: its command socket lives in this script's directory, which only root may enter.
    chronyd -x -d -u root -f "$work/chronyd-server.conf" > "$work/chronyd-server.log" 2>&1 &
    helper_pids="$helper_pids $!"
}

follow_chronyd() {
    printf 'port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nserver 127.0.0.1 port %s iburst minpoll 0 maxpoll 0\nlog measurements statistics tracking\nlogdir %s/ringd-logs\n' \
        "$chronyd_port" "$work" > "$work/ringd-client.conf"
    start_ringd "$work/ringd-client.log" ntp --ntp-conf "$work/ringd-client.conf" \
        --shards 1 --control-socket "$work/ringd.sock"
}

# Waits (30 s at most, one ringctl call per half second) for the source to be selected with
# reach 377, then checks the tracked offset.
ringd_follows_chronyd() {
    local sources=""
    for _ in $(seq 1 60); do
        sources=$("$ringctl" -s "$work/ringd.sock" --json sources || true)
        if python3 -c '
import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if s and s[0]["state"] == "*" and s[0]["reach"] == 255 else 1)
' "$sources" 2>/dev/null; then
            break
        fi
        read -r -t 0.5 < /dev/zero || true
    done
    "$ringctl" -s "$work/ringd.sock" sources | sed 's/^/  ringctl: /'
    "$ringctl" -s "$work/ringd.sock" tracking | sed 's/^/  ringctl: /'
    python3 -c '
import json, sys
sources = json.loads(sys.argv[1])
tracking = json.loads(sys.argv[2])
assert sources[0]["state"] == "*", sources
assert sources[0]["reach"] == 255, "reach 377 after eight polls: %r" % sources
assert tracking["stratum"] == 2, tracking
assert abs(tracking["system_time_offset"]) < 100e-6, tracking
' "$sources" "$("$ringctl" -s "$work/ringd.sock" --json tracking)"
}

# A second chronyd (-x: it never touches the clock) follows the same server and writes the log
# files whose format ringd's must have.
chronyd_follows_chronyd() {
    mkdir -m 0750 "$work/chronyd-client-cmd"
    printf 'server 127.0.0.1 port %s iburst minpoll 0 maxpoll 0\nport 0\ncmdport 0\nbindcmdaddress %s/chronyd-client-cmd/chronyd.sock\npidfile %s/chronyd-client.pid\nlog measurements statistics tracking\nlogdir %s/chronyd-logs\n' \
        "$chronyd_port" "$work" "$work" "$work" > "$work/chronyd-client.conf"
    chronyd -x -d -u root -f "$work/chronyd-client.conf" > "$work/chronyd-client.log" 2>&1 &
    helper_pids="$helper_pids $!"
}

# The same banners, and data lines whose fields end in the same columns as chronyd's.
logs_match_chronyds() {
    local name
    for name in measurements statistics tracking; do
        for _ in $(seq 1 60); do
            [ "$(grep -cs '^[0-9]' "$work/chronyd-logs/$name.log")" -ge 3 ] &&
                [ "$(grep -cs '^[0-9]' "$work/ringd-logs/$name.log")" -ge 3 ] && break
            read -r -t 0.5 < /dev/zero || true
        done
        python3 - "$work/chronyd-logs/$name.log" "$work/ringd-logs/$name.log" <<'PY' || return 1
import re, sys
def read(path):
    lines = open(path).read().splitlines()
    return lines[:3], [line for line in lines if line[:1].isdigit()]
(their_banner, theirs), (our_banner, ours) = read(sys.argv[1]), read(sys.argv[2])
# chronyd's first tracking line, written before it has a source, has a skew of 1e6 ppm that
# overflows its column; the latest lines are of a synchronised client on both sides.
print("  chronyd:", theirs[-1])
print("  ringd:  ", ours[-1])
assert their_banner == our_banner, (their_banner, our_banner)
ends = lambda line: [m.end() for m in re.finditer(r"\S+", line)]
assert ends(theirs[-1]) == ends(ours[-1]), (ends(theirs[-1]), ends(ours[-1]))
PY
    done
}

serve_chronyd
chronyd_follows_chronyd
follow_chronyd
check "ringd follows chronyd: ^*, reach 377, offset under 100 us" ringd_follows_chronyd

# ringctl -c prints what chronyc -c prints: the same number of fields for each report, and
# waitsync returns at once for a synchronised ringd, as chronyc's does.
csv_matches_chronyc() {
    local report ours theirs
    for report in tracking serverstats activity; do
        theirs=$(chronyc -h "$work/chronyd-cmd/chronyd.sock" -c "$report")
        ours=$("$ringctl" -s "$work/ringd.sock" -c "$report")
        echo "  chronyc -c $report: $theirs"
        echo "  ringctl -c $report: $ours"
        [ "$(echo "$theirs" | awk -F, '{print NF}')" = "$(echo "$ours" | awk -F, '{print NF}')" ] || return 1
    done
    "$ringctl" -s "$work/ringd.sock" waitsync 1 > "$work/waitsync.out" || return 1
    sed 's/^/  ringctl: /' "$work/waitsync.out"
}
check "ringctl -c has chronyc -c's columns; waitsync sees ringd synchronised" csv_matches_chronyc
check "log measurements statistics tracking: chronyd's banners and columns" logs_match_chronyds

# ntpdata of the same server seen by both clients: chronyc's lines, in its order, and as many
# -c fields.
ntpdata_matches_chronyc() {
    local theirs ours
    theirs=$(chronyc -h "$work/chronyd-client-cmd/chronyd.sock" ntpdata)
    ours=$("$ringctl" -s "$work/ringd.sock" ntpdata)
    paste -d'|' <(echo "$theirs") <(echo "$ours") | sed 's/^/  chronyc|ringctl: /'
    [ "$(echo "$theirs" | cut -d: -f1)" = "$(echo "$ours" | cut -d: -f1)" ] || return 1
    theirs=$(chronyc -h "$work/chronyd-client-cmd/chronyd.sock" -c ntpdata)
    ours=$("$ringctl" -s "$work/ringd.sock" -c ntpdata)
    echo "  chronyc -c ntpdata: $theirs"
    echo "  ringctl -c ntpdata: $ours"
    [ "$(echo "$theirs" | awk -F, '{print NF}')" = "$(echo "$ours" | awk -F, '{print NF}')" ]
}
check "ringctl ntpdata has chronyc's lines and -c fields" ntpdata_matches_chronyc
check "ringd (sync client) exits 0 on SIGTERM" stop_ringd

# Authenticated sources: a chronyd (-x) serving with the key file and NTS on free loopback ports
# (two addresses, one source each), followed by ringd and by a second chronyd with `key 1` and
# `nts`: both select, and ringctl authdata prints chronyc authdata's rows.
auth_matches_chronyd() {
    local port ke_port theirs ours
    port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ke_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=127.0.0.2" -addext "subjectAltName=IP:127.0.0.2" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$work/auth-nts.key" -out "$work/auth-nts.crt" 2> /dev/null
    mkdir -m 0750 "$work/chronyd-auth-cmd" "$work/chronyd-auth-client-cmd"
    printf 'port %s\nallow 127.0.0.0/8\nlocal stratum 5\ncmdport 0\nbindcmdaddress %s/chronyd-auth-cmd/chronyd.sock\npidfile %s/chronyd-auth.pid\nkeyfile %s/chrony.keys\nntsport %s\nntsservercert %s/auth-nts.crt\nntsserverkey %s/auth-nts.key\n' \
        "$port" "$work" "$work" "$work" "$ke_port" "$work" "$work" > "$work/chronyd-auth.conf"
    chronyd -x -d -u root -f "$work/chronyd-auth.conf" > "$work/chronyd-auth.log" 2>&1 &
    helper_pids="$helper_pids $!"
    local sources
    sources=$(printf 'server 127.0.0.1 port %s key 1 iburst minpoll -3 maxpoll -3\nserver 127.0.0.2 port %s nts ntsport %s iburst minpoll -3 maxpoll -3\nkeyfile %s/chrony.keys\nntstrustedcerts %s/auth-nts.crt\nnosystemcert\n' \
        "$port" "$port" "$ke_port" "$work" "$work")
    printf '%s\nport 0\ncmdport 0\nbindcmdaddress %s/chronyd-auth-client-cmd/chronyd.sock\npidfile %s/chronyd-auth-client.pid\n' \
        "$sources" "$work" "$work" > "$work/chronyd-auth-client.conf"
    chronyd -x -d -u root -f "$work/chronyd-auth-client.conf" > "$work/chronyd-auth-client.log" 2>&1 &
    helper_pids="$helper_pids $!"
    printf '%s\nport 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\n' "$sources" > "$work/ringd-auth.conf"
    start_ringd "$work/ringd-auth.log" ntp --ntp-conf "$work/ringd-auth.conf" \
        --shards 1 --control-socket "$work/ringd-auth.sock" || return 1
    # 20 s at most, one look per half second, for both sources to be selected or combined on
    # both sides with the NTS cookies topped up again.
    for _ in $(seq 1 40); do
        theirs=$(chronyc -n -h "$work/chronyd-auth-client-cmd/chronyd.sock" authdata)
        ours=$("$ringctl" -s "$work/ringd-auth.sock" authdata)
        [ "$theirs" = "$ours" ] &&
            [ "$(chronyc -n -h "$work/chronyd-auth-client-cmd/chronyd.sock" sources | grep -c '^\^[*+]')" = 2 ] &&
            [ "$("$ringctl" -s "$work/ringd-auth.sock" sources | grep -c '^\^[*+]')" = 2 ] && break
        read -r -t 0.5 < /dev/zero || true
    done
    paste -d'|' <(echo "$theirs") <(echo "$ours") | sed 's/^/  chronyc|ringctl: /'
    "$ringctl" -s "$work/ringd-auth.sock" sources | sed 's/^/  ringctl: /'
    local status=0
    [ "$theirs" = "$ours" ] || status=1
    [ "$("$ringctl" -s "$work/ringd-auth.sock" sources | grep -c '^\^[*+]')" = 2 ] || status=1
    stop_ringd || status=1
    return "$status"
}
check "ringd follows chronyd with key 1 and NTS; authdata as chronyc's" auth_matches_chronyd

# Request kinds (ntp_requests.py) sent to a chronyd and a ringd that both serve local stratum 10:
# each answered by both or dropped by both, the answers alike in mode, version, poll, stratum.
requests_match_chronyds() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -m 0750 "$work/chronyd-requests-cmd"
    printf 'port %s\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\ncmdport 0\nbindcmdaddress %s/chronyd-requests-cmd/chronyd.sock\npidfile %s/chronyd-requests.pid\n' \
        "$port" "$work" "$work" > "$work/chronyd-requests.conf"
    chronyd -x -d -u root -f "$work/chronyd-requests.conf" > "$work/chronyd-requests.log" 2>&1 &
    helper_pids="$helper_pids $!"
    printf 'port 0\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\n' > "$work/ringd-requests.conf"
    # One shard: replies come in the order of the requests, which is how drops are seen.
    start_ringd "$work/ringd-requests.log" ntp --ntp-conf "$work/ringd-requests.conf" \
        --shards 1 --control-socket "$work/ringd-requests.sock" || return 1
    local status=0
    python3 "$(dirname "$0")/ntp_requests.py" "127.0.0.1:$port" "$ringd_found" || status=1
    stop_ringd || status=1
    return "$status"
}
check "requests answered and dropped as chronyd answers and drops them" requests_match_chronyds

# Interleaved mode (RFC 9769): a chronyd (-x: it never touches the clock) polls ringd with
# `xleave` sixteen times a second; within 20 s chronyc ntpdata shows its replies interleaved.
chronyd_interleaves_with_ringd() {
    local io=$1
    printf 'port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n' > "$work/ringd-xleave.conf"
    start_ringd "$work/ringd-xleave-$io.log" ntp --ntp-conf "$work/ringd-xleave.conf" \
        --shards 1 --io "$io" || return 1
    local port=${ringd_found##*:} chronyd_pid data="" status=0
    mkdir -p -m 0750 "$work/chronyd-xleave-cmd"
    printf 'server 127.0.0.1 port %s xleave minpoll -4 maxpoll -4\nport 0\ncmdport 0\nbindcmdaddress %s/chronyd-xleave-cmd/chronyd.sock\npidfile %s/chronyd-xleave.pid\n' \
        "$port" "$work" "$work" > "$work/chronyd-xleave.conf"
    chronyd -x -d -u root -f "$work/chronyd-xleave.conf" > "$work/chronyd-xleave-$io.log" 2>&1 &
    chronyd_pid=$!
    helper_pids="$helper_pids $chronyd_pid"
    for _ in $(seq 1 40); do
        data=$(chronyc -n -h "$work/chronyd-xleave-cmd/chronyd.sock" ntpdata 2>/dev/null || true)
        echo "$data" | grep -q '^Interleaved *: Yes' && break
        read -r -t 0.5 < /dev/zero || true
    done
    echo "$data" | grep -E '^(Interleaved|Offset|Peer delay|Total)' | sed 's/^/  chronyc: /'
    echo "$data" | grep -q '^Interleaved *: Yes' || status=1
    kill -TERM "$chronyd_pid"
    wait "$chronyd_pid" || true
    stop_ringd || status=1
    return "$status"
}
for io in uring mmsg; do
    check "chronyd with xleave gets interleaved replies from ringd ($io)" chronyd_interleaves_with_ringd "$io"
done

for io in uring mmsg; do
    serve "$io"
    check "ntpdig accepts ringd ($io)" ntpdig_accepts
    check "chronyd -Q accepts ringd ($io)" chronyd_accepts
    check "ntpdig -a with a key file accepts ringd's MAC ($io)" ntpdig_authenticates
    check "chronyd -Q as an NTS client accepts ringd ($io)" chronyd_nts_accepts
    check "ringload --key and --nts: every reply authentic ($io)" ringload_authenticates
    check "ringd exits 0 on SIGTERM ($io)" stop_ringd
done

summary
