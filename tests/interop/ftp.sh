#!/usr/bin/env bash
# FTP interop: ringload ftp-limits, and lftp (passive and active, mirror both ways), against
# ringd on ephemeral ports.
set -euo pipefail

source "$(dirname "$0")/common.sh"

mkdir -p "$work/root/pub/tree/sub" "$work/root/upload"
chmod 777 "$work/root/upload"
head -c 1000000 /dev/urandom > "$work/root/pub/tree/big.bin"
echo "hello" > "$work/root/pub/tree/sub/small.txt"
cat > "$work/vsftpd.conf" <<CONF
listen=YES
listen_address=127.0.0.1
listen_port=0
anonymous_enable=YES
local_enable=NO
anon_root=$work/root
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_umask=022
pasv_min_port=0
ftp_username=nobody
CONF

start_ringd "$work/ringd.log" ftp --ftp-conf "$work/vsftpd.conf" --shards 2
port=${ringd_found##*:}
# The limits check runs a second ringd in ringd_pid (which the cleanup trap stops) and puts
# this one back afterwards.
lftp_server_pid=$ringd_pid

lftp_run() {
    lftp -e "set net:max-retries 1; set net:timeout 10; $1; bye" -u anonymous,lftp@example.com "ftp://127.0.0.1:$port"
}

mirror_down() {
    (cd "$work" && lftp_run "set ftp:passive-mode on; mirror pub/tree down") &&
        cmp "$work/root/pub/tree/big.bin" "$work/down/big.bin" &&
        cmp "$work/root/pub/tree/sub/small.txt" "$work/down/sub/small.txt"
}

active_get() {
    (cd "$work" && lftp_run "set ftp:passive-mode off; get pub/tree/big.bin -o active.bin") &&
        cmp "$work/root/pub/tree/big.bin" "$work/active.bin"
}

mirror_up() {
    (cd "$work" && lftp_run "mirror -R down upload/tree") &&
        cmp "$work/down/big.bin" "$work/root/upload/tree/big.bin"
}

listing() {
    lftp_run "cls -l pub/tree" | grep -q "big.bin"
}

limits() {
    local conf="$work/limits.conf" status=0
    printf 'listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nlocal_enable=NO\nanon_root=%s\nmax_clients=3\nmax_per_ip=2\nftp_username=nobody\n' "$work/root" > "$conf"
    start_ringd "$work/limits.log" ftp --ftp-conf "$conf" --shards 2 || return 1
    "$root/target/release/ringload" ftp-limits "$ringd_found" --max-clients 3 --max-per-ip 2 --burst 64 |
        grep -v '^  ok' || status=$?
    stop_ringd || status=$?
    ringd_pid=$lftp_server_pid
    [ "$status" -eq 0 ]
}

check "ringload ftp-limits: max_clients=3 and max_per_ip=2 hold across 2 shards, also under a burst of 64 connects" limits
check "lftp mirrors a tree down (passive)" mirror_down
check "lftp gets a file in active mode" active_get
check "lftp mirrors a tree up (mkdir + put)" mirror_up
check "lftp lists a directory" listing

summary
