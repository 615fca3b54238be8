#!/usr/bin/env bash
# ringd's FTP transfer engines side by side on loopback: sendfile (zero_copy_method=sendfile),
# splice (zero_copy_method=splice) and copy (use_sendfile=NO) for a binary RETR of a large file
# from the page cache, splice and copy for a STOR of it (sendfile only writes to sockets: with
# zero_copy_method=sendfile uploads copy). ringd is pinned to core 0, curl to core 1. Each figure
# is the median of alternating rounds (sendfile splice copy sendfile splice copy ...), a fresh
# ringd per run. Writes the result into docs/benchmarks.md between the compare-transfer markers,
# leaving the rest of that file alone.
#
# Usage: loadgen/compare-transfer.sh [--size-mib N] [--rounds N] [--out FILE] [--no-build]
#   --size-mib N  size of the file downloaded and uploaded (default 1024)
#   --rounds N    alternating rounds (default 3)
#   --out FILE    markdown file to update (default docs/benchmarks.md; - only prints the table)
#   --no-build    use the release binary already built
#
# Needs taskset, curl, jq, ss and python3; not root. The binary is
# ${CARGO_TARGET_DIR:-target}/release/ringd. Every process is started by this script and stopped
# by PID; all traffic stays on 127.0.0.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release"
helper="$root/loadgen/compare_ftp_report.py"
command="loadgen/compare-transfer.sh${*:+ $*}"

size_mib=1024
rounds=3
out=$root/docs/benchmarks.md
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mib) size_mib=$2; shift ;;
        --rounds) rounds=$2; shift ;;
        --out) out=$2; shift ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-transfer.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
case "$size_mib" in ''|*[!0-9]*|0) echo "compare-transfer.sh: --size-mib takes a positive number of MiB" >&2; exit 2 ;; esac
case "$rounds" in ''|*[!0-9]*|0) echo "compare-transfer.sh: --rounds takes a positive number" >&2; exit 2 ;; esac

server_core=0
client_core=1
port=22131
# Below the kernel's ephemeral ports (curl's side) and apart from compare-ftp.sh's ranges.
pasv_low=3000
pasv_high=3999
methods=(sendfile splice copy)
# What each engine is called in vsftpd.conf.
declare -A setting_of=(
    [sendfile]=$'use_sendfile=YES\nzero_copy_method=sendfile'
    [splice]=$'use_sendfile=YES\nzero_copy_method=splice'
    [copy]='use_sendfile=NO'
)

for tool in taskset curl jq ss python3; do
    command -v "$tool" >/dev/null || { echo "compare-transfer.sh: $tool not found" >&2; exit 1; }
done
if [ -n "$(ss -Hltn "sport = :$port")" ]; then
    echo "compare-transfer.sh: port $port is in use" >&2; exit 1
fi

if [ "$build" -eq 1 ]; then
    (cd "$root" && cargo build --release -q --bin ringd)
fi

started=$(date +%s)
source "$root/loadgen/bench-common.sh"
begin_work compare-transfer

mkdir -p "$work/root/up"
# Sessions act as the ftp user: the tree readable by all, the upload directory writable.
chmod 755 "$work" "$work/root"
chmod 777 "$work/root/up"
head -c $((size_mib << 20)) /dev/urandom > "$work/root/big"
cp "$work/root/big" "$work/upload-src"
# Written back now, so that no writeback of these files runs during a measurement; read back
# so that both are in the page cache.
sync "$work/root/big" "$work/upload-src"
cat "$work/root/big" "$work/upload-src" > /dev/null

write_conf() { # METHOD FILE
    cat > "$2" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=$port
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=$work/root
write_enable=YES
anon_upload_enable=YES
anon_umask=022
pasv_min_port=$pasv_low
pasv_max_port=$pasv_high
max_clients=0
max_per_ip=0
xferlog_enable=NO
${setting_of[$1]}
EOF
}

start_ringd() { # METHOD
    local conf="$work/$1.conf" log="$work/ringd.log"
    write_conf "$1" "$conf"
    taskset -c "$server_core" "$bin/ringd" --ftp-conf "$conf" --shards 1 \
        --control-socket "$work/ringd.sock" >> "$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        [ -n "$(ss -Hltn "sport = :$port")" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "compare-transfer.sh: ringd did not start; its log:" >&2
    tail -20 "$log" >&2
    return 1
}

stop_ringd() {
    stop_process "$server_pid"
    server_pid=""
}

results="$work/results.jsonl"
: > "$results"

tck=$(getconf CLK_TCK)
# utime + stime of ringd, all its threads: the shard, and the io_uring worker threads that run
# the splices.
ticks() { python3 "$helper" cpu "$server_pid"; }
gib=$(jq -n "$size_mib / 1024")
client() { taskset -c "$client_core" "$@"; }

run() { # METHOD ROUND
    local method=$1 round=$2 before after got speed
    start_ringd "$method"
    before=$(ticks)
    got=$(client curl -sS --max-time 300 -o /dev/null -w '%{speed_download} %{size_download}' \
        "ftp://127.0.0.1:$port/big") || got="0 0"
    after=$(ticks)
    speed=${got% *}
    [ "${got#* }" -eq $((size_mib << 20)) ] || speed=0   # a short download counts as a failure
    record retr_mbs "$method" "$round" "$(jq -n "$speed / 1e6")" "${got#* } B"
    record retr_cpu "$method" "$round" "$(jq -n "($after - $before) / $tck / $gib")" \
        "$((after - before)) ticks of 1/$tck s"
    if [ "$method" != sendfile ]; then
        before=$(ticks)
        speed=$(client curl -sS --max-time 300 -o /dev/null -w '%{speed_upload}' \
            -T "$work/upload-src" "ftp://127.0.0.1:$port/up/stor.bin") || speed=0
        after=$(ticks)
        got=$(stat -c %s "$work/root/up/stor.bin" 2>/dev/null || echo 0)
        [ "$got" -eq $((size_mib << 20)) ] || speed=0
        # Removed before its writeback starts, so the next run does not pay for it.
        rm -f "$work/root/up/stor.bin"
        record stor_mbs "$method" "$round" "$(jq -n "$speed / 1e6")" "stored $got B"
        record stor_cpu "$method" "$round" "$(jq -n "($after - $before) / $tck / $gib")" \
            "$((after - before)) ticks of 1/$tck s"
    fi
    stop_ringd
}

load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    for method in "${methods[@]}"; do
        run "$method" "$round"
    done
done
elapsed=$(( $(date +%s) - started ))

git_rev=$(cd "$root" && git rev-parse --short HEAD)
[ -n "$(cd "$root" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock)" ] && git_rev="$git_rev with uncommitted changes"

how=$(cat <<EOF
### How it was measured

ringd serves 127.0.0.1 pinned to core 0 with \`taskset -c 0\`; curl runs on core 1. Each run
starts ringd with this vsftpd.conf:

\`\`\`
$(write_conf copy /dev/stdout | sed -e "s|$work|TMPDIR|g" -e '$d')
\`\`\`

followed by the engine's settings: \`use_sendfile=YES\` and \`zero_copy_method=sendfile\`
(sendfile), \`use_sendfile=YES\` and \`zero_copy_method=splice\` (splice), or
\`use_sendfile=NO\` (copy).

\`\`\`sh
$command
taskset -c 0 target/release/ringd --ftp-conf TMPDIR/METHOD.conf --shards 1 --control-socket TMPDIR/ringd.sock
taskset -c 1 curl -sS -o /dev/null -w '%{speed_download} %{size_download}' ftp://127.0.0.1:PORT/big
taskset -c 1 curl -sS -o /dev/null -w '%{speed_upload}' -T TMPDIR/upload-src ftp://127.0.0.1:PORT/up/stor.bin   # splice and copy
\`\`\`

- The file is $size_mib MiB of random bytes, written back to disk and read into the page cache
  before the first run; the upload goes to the ext4-backed temporary directory and is removed
  right after each run, before its writeback. Throughput is curl's \`speed_download\` /
  \`speed_upload\` (10^6 B/s); a run that moved fewer bytes than the file counts as 0.
- CPU: utime + stime of the ringd process (\`/proc/PID/stat\`, all its threads, in ticks of
  1/$tck s) before and after the transfer, per GiB. That includes the io_uring worker threads
  that run the splices (they inherit ringd's core). The kernel charges a tick to the task it
  interrupts, softirq work included: on loopback ringd pays for delivering what it sends into
  curl's socket, and curl for what it sends to ringd.
- sendfile moves at most 60 KiB per call, 256 KiB per turn of the shard; splice moves
  file -> pipe -> socket in steps of the pipe's size (256 KiB); copy reads and sends 256 KiB
  buffers. With \`zero_copy_method=sendfile\` uploads take the copy path (sendfile only writes
  to sockets), so STOR is measured for splice and copy.
EOF
)

meta="$work/meta.json"
jq -n \
    --argjson rounds "$rounds" --argjson elapsed "$elapsed" --argjson size_mib "$size_mib" \
    --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    --arg cores "$(nproc)" --arg kernel "$(uname -r)" --arg load "$load_avg" \
    --arg ringd_version "$("$bin/ringd" --version | sed 's/^ringd //') (git $git_rev)" \
    --arg curl_version "$(curl --version | head -1 | cut -d' ' -f2)" \
    --arg command "$command" --arg how "$how" \
    '{rounds: $rounds, elapsed_s: $elapsed, size_mib: $size_mib, date: $date, cpu: $cpu,
      cores: $cores, kernel: $kernel, load: $load, ringd_version: $ringd_version,
      curl_version: $curl_version, command: $command, how: $how, methods: ["sendfile", "splice", "copy"]}' > "$meta"

python3 "$helper" transfer-report "$results" "$meta" "$out"
[ "$out" != - ] && echo "compare-transfer.sh: wrote $out" >&2
exit 0
