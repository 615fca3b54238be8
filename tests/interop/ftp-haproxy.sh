#!/usr/bin/env bash
# FTP fleet interop: HAProxy (TCP mode, send-proxy-v2) on loopback in front of two ringd
# nodes serving one shared directory; the checks are tests/interop/ftp_fleet.py's. Needs root
# (the sessions act as `nobody`) and the haproxy package (.ci/run installs it).
set -euo pipefail

source "$(dirname "$0")/common.sh"

mkdir -p "$work/share/pub" "$work/share/upload"
chown nobody "$work/share/upload"
chmod 755 "$work" "$work/share"

node_conf() { # NAME ADDRESS
    cat > "$work/$1.conf" <<CONF
listen=YES
listen_address=$2
listen_port=0
anonymous_enable=YES
local_enable=NO
anon_root=$work/share
write_enable=YES
anon_upload_enable=YES
atomic_uploads=YES
anon_umask=022
pasv_min_port=0
ftp_username=nobody
ftpd_banner=node ${1^^}
max_per_ip=1
dual_log_enable=YES
xferlog_file=$work/$1-xferlog
vsftpd_log_file=$work/$1-vsftpd.log
proxy_protocol=YES
proxy_protocol_from=127.0.0.1
CONF
}

node_conf a 127.0.0.11
node_conf b 127.0.0.12
start_ringd "$work/a.log" ftp --ftp-conf "$work/a.conf" --shards 2 --control-socket "$work/a.sock"
node_a=$ringd_found
helper_pids="$ringd_pid"
start_ringd "$work/b.log" ftp --ftp-conf "$work/b.conf" --shards 2 --control-socket "$work/b.sock"
node_b=$ringd_found

balancer_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/haproxy.cfg" <<CFG
global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
frontend ftp
    bind 127.0.0.1:$balancer_port
    default_backend nodes
backend nodes
    balance roundrobin
    server a $node_a send-proxy-v2 check inter 500ms
    server b $node_b send-proxy-v2 check inter 500ms
CFG
haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
helper_pids="$helper_pids $!"
# Ready when it greets a client (from 127.0.0.9, so that no log line names 127.0.0.1).
python3 - "$balancer_port" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 10
while True:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2, ("127.0.0.9", 0)) as s:
            if s.recv(64).startswith(b"220"):
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("HAProxy did not pass a connection on within 10 s")
    time.sleep(0.05)
PY

fleet() { python3 "$root/tests/interop/ftp_fleet.py" "$1" "$balancer_port" "$work"; }

check "through HAProxy to two ringd nodes: real client addresses, limits, transfers, logs" fleet both
stop_ringd  # node B
check "node A alone keeps serving behind HAProxy" fleet one
if grep -q "closed: " "$work/a.log"; then
    echo "FAILED: HAProxy's health checks made node A log closed connections:"; grep "closed: " "$work/a.log"
    failed=$((failed + 1))
fi
summary
