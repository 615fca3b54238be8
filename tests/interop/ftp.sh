#!/usr/bin/env bash
# FTP interop: ringload ftp-limits, and lftp (passive and active, mirror both ways), against
# ringd on ephemeral ports.
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

passed=0
failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "ok: $name"; passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

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
CONF

"$ringd" --ftp-conf "$work/vsftpd.conf" --shards 2 2> "$work/ringd.log" &
ringd_pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*FTP serving .* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/ringd.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$ringd_pid" 2>/dev/null || break
    read -r -t 0.1 < /dev/zero || true
done
[ -n "$port" ] || { echo "ringd did not start:"; cat "$work/ringd.log"; exit 1; }

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
    local conf="$work/limits.conf" log="$work/limits.log" pid port=""
    printf 'listen=YES\nlisten_address=127.0.0.1\nlisten_port=0\nanonymous_enable=YES\nlocal_enable=NO\nanon_root=%s\nmax_clients=3\nmax_per_ip=2\n' "$work/root" > "$conf"
    "$ringd" --ftp-conf "$conf" --shards 2 2> "$log" &
    pid=$!
    for _ in $(seq 1 100); do
        port=$(sed -n 's/.*FTP serving .* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -1)
        [ -n "$port" ] && break
        read -r -t 0.1 < /dev/zero || true
    done
    local status=0
    "$root/target/release/ringload" ftp-limits "127.0.0.1:$port" --max-clients 3 --max-per-ip 2 || status=$?
    kill -TERM "$pid"; wait "$pid" || status=$?
    [ "$status" -eq 0 ]
}

check "ringload ftp-limits: max_clients=3 and max_per_ip=2 hold across 2 shards" limits
check "lftp mirrors a tree down (passive)" mirror_down
check "lftp gets a file in active mode" active_get
check "lftp mirrors a tree up (mkdir + put)" mirror_up
check "lftp lists a directory" listing

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
