#!/usr/bin/env bash
# ringload ftp-limits against vsftpd 3.0.3, pure-ftpd and ringd, each with max_clients=3 and
# max_per_ip=2 on a 127.0.0.1 ephemeral port, RUNS (10) times in a row, bursts included: passes
# only if every run of every server passes, so a check that blames a correct server for places
# it has not yet released shows up here; and told other limits than the server's, it must fail
# each server. Needs root (vsftpd and pure-ftpd start as root); stops
# every server it started by PID. Debian's vsftpd and pure-ftpd packages conflict (both provide
# ftp-server), so vsftpd is installed and pure-ftpd, unless already installed, is unpacked into
# the work directory from its package.
set -euo pipefail

source "$(dirname "$0")/common.sh"
runs=${RUNS:-10}
ringload="$root/target/release/ringload"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
    exit 0
fi
bash "$root/tests/interop/install-packages.sh" vsftpd
if command -v pure-ftpd > /dev/null; then
    pure_ftpd=$(command -v pure-ftpd)
else
    (cd "$work" && apt-get download -q pure-ftpd > /dev/null 2>&1)
    dpkg-deb -x "$work"/pure-ftpd_*.deb "$work/pure-ftpd"
    pure_ftpd="$work/pure-ftpd/usr/sbin/pure-ftpd"
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Neither vsftpd nor pure-ftpd says when it listens: connect until PORT answers 220 (10 s at
# most), or until process PID has exited.
wait_for_greeting() {
    python3 - "$1" "$2" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"the server (PID {pid}) exited before listening")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
            probe.sendall(b"QUIT\r\n")
            if probe.recv(512).startswith(b"220"):
                sys.exit(0)
    except (ConnectionRefusedError, ConnectionResetError):
        pass
    time.sleep(0.05)
sys.exit(f"nothing answered 220 on port {port} within 10 s")
PY
}

# Stops PID and whatever session processes it still has, by their PIDs.
stop_server() {
    local pid=$1 children
    children=$(ps -o pid= --ppid "$pid" || true)
    kill -TERM "$pid" $children 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    helper_pids=${helper_pids/$pid/}
}

# Runs ftp-limits RUNS times against ADDRESS with bursts of BURST connections, NAME in the
# output; false if any run failed, whose full report is then printed.
limits_runs() {
    local name=$1 address=$2 burst=$3 failures=0 run verdict again waited
    for run in $(seq 1 "$runs"); do
        if "$ringload" ftp-limits "$address" --max-clients 3 --max-per-ip 2 --burst "$burst" \
            > "$work/$name.$run.out" 2>&1; then
            verdict=pass
        else
            verdict=FAIL
            failures=$((failures + 1))
        fi
        # How often the server still counted closed connections: phases run again, and
        # first connections refused while it released places.
        again=$(grep -c 'time(s) more, the server' "$work/$name.$run.out" || true)
        waited=$(grep -o 'refused [0-9]* time(s) while' "$work/$name.$run.out" | awk '{n += $2} END {print n + 0}')
        echo "  $name run $run: $verdict (phases run again: $again, first connections refused while places were released: $waited)"
        [ "$verdict" = pass ] || sed 's/^/    /' "$work/$name.$run.out"
    done
    [ "$failures" -eq 0 ]
}

# The control: told other limits than the server's (one client more, one fewer, one more per
# address), ftp-limits must fail NAME at ADDRESS every time, printing FAIL with --quiet.
wrong_claims_fail() {
    local name=$1 address=$2 claims verdict failures=0
    for claims in "4 2" "2 2" "3 3"; do
        set -- $claims
        verdict=$("$ringload" ftp-limits "$address" --max-clients "$1" --max-per-ip "$2" --quiet 2> /dev/null) &&
            failures=$((failures + 1))
        echo "  $name told max_clients=$1 max_per_ip=$2: $verdict"
        [ "$verdict" = "FAIL: the server does not enforce the limits as configured" ] || failures=$((failures + 1))
    done
    [ "$failures" -eq 0 ]
}

vsftpd_limits() {
    local port pid status=0
    port=$(free_port)
    mkdir -p "$work/empty"
    cat > "$work/vsftpd.conf" <<CONF
listen=YES
listen_address=127.0.0.1
listen_port=$port
background=NO
seccomp_sandbox=NO
secure_chroot_dir=$work/empty
anonymous_enable=YES
local_enable=NO
max_clients=3
max_per_ip=2
CONF
    /usr/sbin/vsftpd "$work/vsftpd.conf" > "$work/vsftpd.log" 2>&1 &
    pid=$!
    helper_pids="$helper_pids $pid"
    wait_for_greeting "$port" "$pid" || { cat "$work/vsftpd.log"; stop_server "$pid"; return 1; }
    limits_runs vsftpd "127.0.0.1:$port" 16 || status=1
    wrong_claims_fail vsftpd "127.0.0.1:$port" || status=1
    stop_server "$pid"
    return "$status"
}

pure_ftpd_limits() {
    local port pid status=0
    port=$(free_port)
    # -c: most clients, -C: most per address, -e: anonymous only, -H: no DNS look-ups.
    "$pure_ftpd" -S "127.0.0.1,$port" -c 3 -C 2 -e -H > "$work/pure-ftpd.log" 2>&1 &
    pid=$!
    helper_pids="$helper_pids $pid"
    wait_for_greeting "$port" "$pid" || { cat "$work/pure-ftpd.log"; stop_server "$pid"; return 1; }
    # Its listen backlog is 3 + max_clients/8 (ftpd.c), 3 here: a larger burst overflows the
    # accept queue, and the connects it drops wait for SYN-ACK retransmissions (1 s, 3 s...)
    # past --timeout. That is its queue, not its limits: the burst stays within the backlog.
    limits_runs pure-ftpd "127.0.0.1:$port" 4 || status=1
    wrong_claims_fail pure-ftpd "127.0.0.1:$port" || status=1
    stop_server "$pid"
    return "$status"
}

ringd_limits() {
    local status=0
    mkdir -p "$work/root"
    printf 'listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nlocal_enable=NO\nanon_root=%s\nmax_clients=3\nmax_per_ip=2\nftp_username=nobody\n' \
        "$work/root" > "$work/ringd.conf"
    start_ringd "$work/ringd.log" ftp --ftp-conf "$work/ringd.conf" --shards 2 || return 1
    limits_runs ringd "$ringd_found" 16 || status=1
    wrong_claims_fail ringd "$ringd_found" || status=1
    stop_ringd || status=1
    return "$status"
}

check "ftp-limits passes vsftpd 3.0.3 (max_clients=3, max_per_ip=2) $runs runs out of $runs, fails it under other claims" vsftpd_limits
check "ftp-limits passes pure-ftpd (-c 3 -C 2) $runs runs out of $runs, fails it under other claims" pure_ftpd_limits
check "ftp-limits passes ringd (max_clients=3, max_per_ip=2, 2 shards) $runs runs out of $runs, fails it under other claims" ringd_limits

summary
