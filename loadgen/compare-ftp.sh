#!/usr/bin/env bash
# Side-by-side FTP benchmark on loopback, in one run: Debian's vsftpd 3.0.3, python3-pyftpdlib
# and ringd, each pinned to core 0, the clients (ringload, curl, a python ftplib client) pinned
# to core 1. Figures: full anonymous sessions/s with 64 clients, PSS per idle logged-in session,
# RETR and STOR of a large file (throughput, server CPU/GiB), anon_max_rate accuracy, (ringd
# only) fair shares under max_rate_total, and logins/s of a system account through PAM (vsftpd
# and ringd, the same account and hash). Each figure
# is the median of alternating runs (A B C, then C B A, ...), a fresh server per run. Writes the result
# into docs/benchmarks.md between the compare-ftp markers, leaving the rest of that file alone.
#
# Usage: loadgen/compare-ftp.sh [--quick] [--rounds N] [--out FILE] [--idle N] [--big-mib N] [--no-build]
#                               [--baseline RINGD] [--figures LIST]
#   --quick       one round, 3 s load runs, 64 MiB large file, 4 MiB rate-limited file,
#                 200 idle sessions; prints the table, writes a file only with --out
#   --rounds N    alternating rounds (default 3; 1 with --quick)
#   --out FILE    markdown file to update (default docs/benchmarks.md, none with --quick)
#   --idle N      idle sessions held per server (default 1000)
#   --big-mib N   size of the RETR/STOR file in MiB (default 256; 64 with --quick)
#   --no-build    use the release binaries already built
#   --baseline RINGD  also measure this ringd binary (an earlier build), as "ringd-before"
#   --figures LIST    only these figures, comma-separated (sessions,rate,fair,idle,retr,stor,logins)
#
# Needs root (vsftpd), taskset and curl; installs vsftpd and python3-pyftpdlib with apt-get when
# missing (tests/interop/install-packages.sh). Every process is started by
# this script and stopped by PID; all traffic stays on 127.0.0.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/release"
helper="$root/loadgen/compare_ftp_report.py"
command="loadgen/compare-ftp.sh${*:+ $*}"
py=/usr/bin/python3   # Debian's python, where python3-pyftpdlib lives

quick=0
rounds=""
out=""
idle_sessions=""
big_mib=""
build=1
baseline=""
figures="sessions,rate,fair,idle,retr,stor,logins"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --rounds) rounds=$2; shift ;;
        --out) out=$2; shift ;;
        --idle) idle_sessions=$2; shift ;;
        --big-mib) big_mib=$2; shift ;;
        --no-build) build=0 ;;
        --baseline) baseline=$2; shift ;;
        --figures) figures=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-ftp.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" -eq 1 ]; then
    rounds=${rounds:-1}
    load_seconds=3
    idle_seconds=2
    idle_sessions=${idle_sessions:-200}
    big_mib=${big_mib:-64}
    retr_repeats=2
    rate_mib=4
else
    rounds=${rounds:-3}
    load_seconds=10
    idle_seconds=5
    idle_sessions=${idle_sessions:-1000}
    big_mib=${big_mib:-256}
    retr_repeats=4
    rate_mib=16
    out=${out:-$root/docs/benchmarks.md}
fi
case "$big_mib" in ''|*[!0-9]*|0) echo "compare-ftp.sh: --big-mib takes a positive number of MiB" >&2; exit 2 ;; esac
rate_limit=1000000
# max_rate_total shared by fair_sessions downloads: each should get 1,000,000 B/s as well.
total_limit=10000000
fair_sessions=10
server_core=0
load_core=1
servers=(vsftpd pyftpdlib ringd)
declare -A port_of=([vsftpd]=22121 [pyftpdlib]=22122 [ringd]=22123 [ringd-before]=22124)
# Each server gets its own passive range (below the kernel's ephemeral ports): a data connection
# the server closes leaves its port in TIME_WAIT for 60 s, and a shared range let one server's
# thousands of those make another's PASV binds fail.
declare -A pasv_of=([vsftpd]=4000-11999 [pyftpdlib]=12000-17999 [ringd]=18000-24999 [ringd-before]=25000-31999)
if [ -n "$baseline" ]; then
    [ -x "$baseline" ] || { echo "compare-ftp.sh: --baseline $baseline is not an executable" >&2; exit 2; }
    servers+=(ringd-before)
fi

if ! command -v vsftpd >/dev/null || ! "$py" -c 'import pyftpdlib' 2>/dev/null; then
    echo "compare-ftp.sh: installing vsftpd and python3-pyftpdlib (without letting a package start a daemon)" >&2
    bash "$root/tests/interop/install-packages.sh" vsftpd python3-pyftpdlib
fi
for tool in taskset curl vsftpd ss; do
    command -v "$tool" >/dev/null || { echo "compare-ftp.sh: $tool not found" >&2; exit 1; }
done
"$py" -c 'import pyftpdlib' 2>/dev/null || { echo "compare-ftp.sh: python3-pyftpdlib missing" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "compare-ftp.sh: vsftpd needs root" >&2; exit 1; }
for server in "${servers[@]}"; do
    if [ -n "$(ss -Hltn "sport = :${port_of[$server]}")" ]; then
        echo "compare-ftp.sh: port ${port_of[$server]} is in use" >&2; exit 1
    fi
done
ulimit -n "$(ulimit -Hn)"   # the hard limit (20,000 here) is plenty for the idle sessions

if [ "$build" -eq 1 ]; then
    (cd "$root" && cargo build --release -q --bin ringd --bin ringload)
fi

started=$(date +%s)
source "$root/loadgen/bench-common.sh"
begin_work compare-ftp
chmod 755 "$work"

# The served tree: root owned by root, not writable (vsftpd refuses a writable chroot), with an
# upload directory anyone may write.
mkdir -p "$work/root/up" "$work/empty"
chmod 755 "$work/root" "$work/empty"
chmod 777 "$work/root/up"
head -c 4096 /dev/urandom > "$work/root/f4k"
head -c $((big_mib << 20)) /dev/urandom > "$work/root/big"
head -c $((rate_mib << 20)) /dev/urandom > "$work/root/rated"
cp "$work/root/big" "$work/upload-src"
cat "$work/root/big" "$work/upload-src" > /dev/null   # into the page cache

# One vsftpd.conf for vsftpd and ringd (ringd reads vsftpd.conf syntax).
write_conf() { # NAME PORT MODE(ro|rw|rate|fair) PASV_RANGE
    local file="$work/$1.conf"
    cat > "$file" <<EOF
listen=YES
listen_ipv6=NO
background=NO
listen_address=127.0.0.1
listen_port=$2
anonymous_enable=YES
local_enable=NO
no_anon_password=YES
anon_root=$work/root
seccomp_sandbox=NO
secure_chroot_dir=$work/empty
pasv_enable=YES
pasv_min_port=${4%-*}
pasv_max_port=${4#*-}
max_clients=0
max_per_ip=0
xferlog_enable=NO
EOF
    case "$3" in
        ro) echo "write_enable=NO" >> "$file" ;;
        rw) printf 'write_enable=YES\nanon_upload_enable=YES\nanon_umask=022\n' >> "$file" ;;
        rate) printf 'write_enable=NO\nanon_max_rate=%s\n' "$rate_limit" >> "$file" ;;
        fair) printf 'write_enable=NO\nmax_rate_total=%s\n' "$total_limit" >> "$file" ;;
        # System accounts through PAM; the anonymous lines above stay and change nothing.
        local) printf 'local_enable=YES\nanonymous_enable=NO\npam_service_name=%s\ndelay_failed_login=0\n' \
            "$pam_service" >> "$file" ;;
    esac
    echo "$file"
}

# pyftpdlib: what `python3 -m pyftpdlib -i 127.0.0.1 -p PORT -d DIR [-w]` runs (anonymous,
# read-only unless -w, INFO logging), except max_cons: its default of 512 would refuse the idle
# sessions past 512, so it is 0 (no limit) here.
cat > "$work/pyftpd.py" <<'EOF'
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
from pyftpdlib.log import config_logging
port, directory, write = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "rw"
low, high = (int(x) for x in sys.argv[4].split("-"))
config_logging()
authorizer = DummyAuthorizer()
authorizer.add_anonymous(directory, perm="elradfmwMT" if write else "elr")
FTPHandler.authorizer = authorizer
FTPHandler.passive_ports = range(low, high + 1)
server = FTPServer(("127.0.0.1", port), FTPHandler)
server.max_cons = 0
server.serve_forever()
EOF

# Waits (at most 65 s) until no connection in TIME_WAIT holds a port of SERVER's passive range:
# ringd cannot bind a passive port that is in TIME_WAIT (425 Could not listen...), so a run that
# follows thousands of its own sessions would fail for a reason the figure does not measure.
wait_pasv_clear() {
    local range=${pasv_of[$1]} n i
    for i in $(seq 1 130); do
        n=$(ss -Htan state time-wait "( sport >= :${range%-*} and sport <= :${range#*-} )" | wc -l)
        [ "$n" -eq 0 ] && { [ "$i" -gt 1 ] && echo "  (waited $(( (i - 1) / 2 )) s for $1's passive ports to leave TIME_WAIT)" >&2; return 0; }
        sleep 0.5
    done
}

start_server() { # SERVER MODE
    local server=$1 mode=$2 port=${port_of[$1]} conf log="$work/$1.log"
    case "$server" in ringd*) wait_pasv_clear "$server" ;; esac
    case "$server" in
        vsftpd)
            conf=$(write_conf vsftpd "$port" "$mode" "${pasv_of[vsftpd]}")
            taskset -c "$server_core" vsftpd "$conf" >> "$log" 2>&1 &
            ;;
        ringd | ringd-before)
            local binary="$bin/ringd"
            [ "$server" = ringd-before ] && binary=$baseline
            conf=$(write_conf "$server" "$port" "$mode" "${pasv_of[$server]}")
            taskset -c "$server_core" "$binary" --ftp-conf "$conf" --shards 1 >> "$log" 2>&1 &
            ;;
        pyftpdlib)
            [ "$mode" = rate ] && { echo "pyftpdlib has no rate limit" >&2; return 1; }
            [ "$mode" = local ] && { echo "pyftpdlib has no system accounts" >&2; return 1; }
            taskset -c "$server_core" "$py" "$work/pyftpd.py" "$port" "$work/root" "$mode" "${pasv_of[pyftpdlib]}" >> "$log" 2>&1 &
            ;;
    esac
    server_pid=$!
    for _ in $(seq 1 100); do
        [ -n "$(ss -Hltn "sport = :$port")" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "compare-ftp.sh: $server did not start; its log:" >&2
    tail -20 "$log" >&2
    return 1
}

stop_server() {
    stop_process "$server_pid"
    server_pid=""
}

results="$work/results.jsonl"
: > "$results"

tck=$(getconf CLK_TCK)
# Busy time of the server's core (user + nice + system + irq + softirq + steal in /proc/stat, in
# ticks): only the server is pinned there, and it also catches what a per-process count misses
# (vsftpd's session processes exit unreaped by the listener; softirq work on that core).
cpu_ticks() { awk -v c="cpu$server_core" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# Waits until the server has no child processes left (vsftpd's sessions).
settle() {
    for _ in $(seq 1 50); do
        [ -z "$(pgrep -P "$server_pid")" ] && return 0
        sleep 0.1
    done
}

load() { taskset -c "$load_core" "$@"; }

fig_sessions() { # SERVER ROUND
    start_server "$1" ro
    local json
    json=$(load "$bin/ringload" ftp "127.0.0.1:${port_of[$1]}" --scenario retr --file f4k \
        --sessions 64 --duration "$load_seconds" --json)
    echo "$json" > "$work/sessions-$1-$2.json"
    record sessions "$1" "$2" "$(jq .sessions_per_s <<< "$json")" \
        "$(jq -r '"\(.sessions_completed) done, \(.sessions_failed) failed, errors \(.errors | to_entries | map("\(.key): \(.value)") | join(", "))"' <<< "$json")"
    stop_server
}

fig_idle() {
    start_server "$1" ro
    local json
    json=$(load "$bin/ringload" ftp "127.0.0.1:${port_of[$1]}" --scenario idle \
        --sessions "$idle_sessions" --server-pid "$server_pid" --duration "$idle_seconds" --json)
    echo "$json" > "$work/idle-$1-$2.json"
    local held note
    held=$(jq .held_at_end <<< "$json")
    note="$held of $idle_sessions held, $(jq .memory.holding.processes <<< "$json") processes"
    record idle_pss "$1" "$2" "$(jq '.memory.pss_kib_per_session * 1.024' <<< "$json")" "$note"
    record idle_added "$1" "$2" "$(jq '.memory.added_pss_kib_per_session * 1.024' <<< "$json")" "$note"
    stop_server
}

# curl runs REPEATS times; throughput is the median curl speed, CPU is over all of them.
fig_retr() {
    start_server "$1" ro
    local before after speeds=() i s
    settle
    before=$(cpu_ticks)
    for i in $(seq 1 "$retr_repeats"); do
        s=$(load curl -sS --max-time 120 -o /dev/null -w '%{speed_download}' "ftp://127.0.0.1:${port_of[$1]}/big") || s=0
        speeds+=("$s")
    done
    settle
    after=$(cpu_ticks)
    local median
    median=$(printf '%s\n' "${speeds[@]}" | sort -g | jq -s 'if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end')
    record retr_mbs "$1" "$2" "$(jq -n "$median / 1e6")" "curl B/s: ${speeds[*]}"
    record retr_cpu "$1" "$2" "$(jq -n "($after - $before) / $tck / ($retr_repeats * $big_mib / 1024)")" \
        "$((after - before)) ticks of 1/$tck s"
    stop_server
}

fig_stor() {
    start_server "$1" rw
    local before after s
    rm -f "$work/root/up/"*
    settle
    before=$(cpu_ticks)
    s=$(load curl -sS --max-time 120 -o /dev/null -w '%{speed_upload}' -T "$work/upload-src" "ftp://127.0.0.1:${port_of[$1]}/up/stor-$2.bin") || s=0
    settle
    after=$(cpu_ticks)
    local size
    size=$(stat -c %s "$work/root/up/stor-$2.bin" 2>/dev/null || echo 0)
    record stor_mbs "$1" "$2" "$(jq -n "$s / 1e6")" "stored $size B"
    record stor_cpu "$1" "$2" "$(jq -n "($after - $before) / $tck / ($big_mib / 1024)")" \
        "$((after - before)) ticks of 1/$tck s"
    rm -f "$work/root/up/"*
    stop_server
}

fig_rate() {
    [ "$1" = pyftpdlib ] && return 0
    start_server "$1" rate
    local json
    if ! json=$(load "$py" "$helper" rate 127.0.0.1 "${port_of[$1]}" rated); then
        record rate_total "$1" "$2" null "client failed"
        stop_server
        return 0
    fi
    echo "$json" > "$work/rate-$1-$2.json"
    record rate_total "$1" "$2" "$(jq ".rate_total / $rate_limit * 100 - 100" <<< "$json")" \
        "$(jq -r '"\(.bytes) B in \(.time_total_s * 1000 | round) ms"' <<< "$json")"
    record rate_data "$1" "$2" "$(jq ".rate_data / $rate_limit * 100 - 100" <<< "$json")"
    record rate_window "$1" "$2" \
        "$(jq "[(.window_min / $rate_limit * 100 - 100), (.window_max / $rate_limit * 100 - 100)] | max_by(fabs)" <<< "$json")" \
        "$(jq -r "\"\(.windows_3s) windows: \(.window_min / $rate_limit * 100 - 100 | . * 100 | round / 100) % to \(.window_max / $rate_limit * 100 - 100 | . * 100 | round / 100) %\"" <<< "$json")"
    stop_server
}

# ringd only: vsftpd and pyftpdlib have no limit shared by all sessions.
fig_fair() {
    [ "$1" = ringd ] || [ "$1" = ringd-before ] || return 0
    start_server "$1" fair
    local json
    if ! json=$(load "$py" "$helper" fairness 127.0.0.1 "${port_of[$1]}" rated "$fair_sessions" "$total_limit"); then
        record fair_worst "$1" "$2" null "client failed"
        stop_server
        return 0
    fi
    echo "$json" > "$work/fair-$1-$2.json"
    record fair_worst "$1" "$2" "$(jq .worst_vs_share_pct <<< "$json")" \
        "$(jq -r '"\(.window_s * 10 | round / 10) s with all running; rates \(.rates | map(. / 1000 | round) | map(tostring) | join(" ")) kB/s"' <<< "$json")"
    record fair_total "$1" "$2" "$(jq .total_vs_limit_pct <<< "$json")"
    stop_server
}

# System-account logins/s: vsftpd and ringd log the same account in through the same PAM
# service (pam_unix: the same password hash, the system's default method), USER/PASS/QUIT in
# a loop from 16 clients. The builds before system accounts (ringd-before) cannot.
fig_logins() {
    case "$1" in vsftpd | ringd) ;; *) return 0 ;; esac
    start_server "$1" local
    local json
    json=$(load "$bin/ringload" ftp "127.0.0.1:${port_of[$1]}" --scenario login \
        --user "$bench_user" --pass "$bench_password" --sessions 16 --duration "$load_seconds" --json)
    echo "$json" > "$work/logins-$1-$2.json"
    record logins "$1" "$2" "$(jq .sessions_per_s <<< "$json")" \
        "$(jq -r '"\(.sessions_completed) done, \(.sessions_failed) failed"' <<< "$json")"
    stop_server
}

# The account and PAM service of the logins figure, removed at exit with the working directory.
bench_user="rfb$((RANDOM % 90000 + 10000))"
bench_password="bench-$RANDOM-$RANDOM"
pam_service="ringd-compare-$$"
if [[ ",$figures," == *,logins,* ]]; then
    useradd --create-home --shell /bin/bash "$bench_user"
    echo "$bench_user:$bench_password" | chpasswd
    printf 'auth required pam_unix.so\naccount required pam_unix.so\n' > "/etc/pam.d/$pam_service"
    trap 'if [ -n "$server_pid" ]; then stop_process "$server_pid"; fi; rm -rf "$work"; rm -f "/etc/pam.d/$pam_service"; userdel --remove "$bench_user" 2>/dev/null' EXIT
    hash_method=$(getent shadow "$bench_user" | cut -d: -f2 | cut -d'$' -f2)
fi

load_avg=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    for figure in sessions rate fair idle retr stor logins; do
        [[ ",$figures," == *,"$figure",* ]] || continue
        # Even rounds run the servers in reverse order: a server's place in the round moves its
        # figures by up to 10 % (measured with one binary in two places), so each place is
        # taken in turn, and ringd and ringd-before are compared on equal terms.
        order=("${servers[@]}")
        if (( round % 2 == 0 )); then
            order=()
            for (( i = ${#servers[@]} - 1; i >= 0; i-- )); do order+=("${servers[$i]}"); done
        fi
        for server in "${order[@]}"; do
            "fig_$figure" "$server" "$round"
        done
    done
done
elapsed=$(( $(date +%s) - started ))

git_rev=$(cd "$root" && git rev-parse --short HEAD)
[ -n "$(cd "$root" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock)" ] && git_rev="$git_rev with uncommitted changes"
if [ "$quick" -eq 1 ]; then idle_note="$idle_sessions sessions, --quick"; else idle_note="$idle_sessions sessions"; fi

scale_note=""
if [ "$big_mib" -lt 1024 ] || [ "$idle_sessions" -lt 10000 ]; then
    scale_note="- The issues ask for 1 GiB files and 10,000 idle sessions; this run uses ${big_mib} MiB
  files and $idle_sessions sessions to stay within its time budget."
fi

how=$(cat <<EOF
### How it was measured

Every server listens on 127.0.0.1 (its own port), pinned to core 0 with \`taskset -c 0\`; every
client is pinned to core 1. vsftpd and ringd read the same vsftpd.conf:

\`\`\`
$(write_conf example PORT ro LOW-HIGH | xargs cat | sed "s|$work|TMPDIR|g")
\`\`\`

with \`write_enable=YES\`, \`anon_upload_enable=YES\`, \`anon_umask=022\` for STOR (into
\`TMPDIR/root/up\`, mode 777; the root itself stays root-owned and read-only because vsftpd
refuses a writable chroot) and \`anon_max_rate=$rate_limit\` for the rate figure.
pyftpdlib runs what \`python3 -m pyftpdlib -i 127.0.0.1 -p PORT -d TMPDIR/root [-w]\` runs
(anonymous, read-only unless \`-w\`, INFO logging to a file), from a five-line launcher that also
sets \`max_cons = 0\` (its default 512 would refuse idle sessions) and a passive range.
Passive ranges: vsftpd ${pasv_of[vsftpd]}, pyftpdlib ${pasv_of[pyftpdlib]}, ringd ${pasv_of[ringd]} (separate,
because a closed data connection's port stays in TIME_WAIT for 60 s and in a shared range one
server's thousands of them made the next server's PASV binds fail).
Each run starts a fresh server and stops it afterwards.

\`\`\`sh
taskset -c 0 vsftpd TMPDIR/vsftpd.conf
taskset -c 0 python3 TMPDIR/pyftpd.py PORT TMPDIR/root ro|rw LOW-HIGH
taskset -c 0 target/release/ringd --ftp-conf TMPDIR/ringd.conf --shards 1
taskset -c 1 target/release/ringload ftp 127.0.0.1:PORT --scenario retr --file f4k --sessions 64 --duration $load_seconds --json
taskset -c 1 target/release/ringload ftp 127.0.0.1:PORT --scenario idle --sessions $idle_sessions --server-pid PID --duration $idle_seconds --json
taskset -c 1 curl -sS -o /dev/null -w '%{speed_download}' ftp://127.0.0.1:PORT/big        # $retr_repeats times per run
taskset -c 1 curl -sS -o /dev/null -w '%{speed_upload}' -T TMPDIR/upload-src ftp://127.0.0.1:PORT/up/stor-N.bin
taskset -c 1 python3 loadgen/compare_ftp_report.py rate 127.0.0.1 PORT rated
\`\`\`

- Before ringd starts, the script waits (at most 65 s) until no TIME_WAIT connection holds a
  port of its passive range: ringd cannot bind a passive port still in TIME_WAIT (vsftpd and
  pyftpdlib can), so a run right after its own thousands of sessions would otherwise fail. The
  sessions figure itself is run without that help, so it shows the effect. Within a figure the
  server runs in the order vsftpd, pyftpdlib, ringd, and the figures in the order sessions,
  rate, idle, RETR, STOR. A failed curl is recorded as 0 MB/s.
- Sessions/s: ringload's \`retr\` scenario, 64 client loops on 127.0.0.2-65, each loop doing
  whole sessions one after the other: connect, greeting, USER/PASS, TYPE I, PASV, RETR of a
  4 KiB file, QUIT; one RETR per login, so sessions/s equals transfers/s.
- Idle memory: ringload opens $idle_sessions logged-in sessions (one source address each),
  holds them $idle_seconds s, and reads the PSS of the server and all its descendants
  (\`/proc/PID/smaps_rollup\`); the figure is that PSS divided by the sessions (ringload's
  KiB × 1.024 = kB), so it includes each server's fixed cost; the "added" row subtracts the PSS
  before any session. vsftpd holds two processes per session.
- RETR: a ${big_mib} MiB file of random bytes, in the page cache, fetched $retr_repeats times by curl per
  run; throughput is the median of curl's \`speed_download\` (10^6 B/s); CPU is the server's
  core's busy time (user + nice + system + irq + softirq + steal of \`cpu0\` in \`/proc/stat\`)
  before and after, per GiB sent: only the server is pinned to core 0, and a per-process count
  would miss vsftpd's session processes, which exit without being reaped by the listener. The
  kernel charges loopback softirq work to the core it runs on, so part of the client's receive
  path can land on core 0 and part of the server's send path on core 1, alike for every server.
- STOR: curl uploads a ${big_mib} MiB file (page cache) into the ext4-backed temporary directory
  once per run; \`speed_upload\` and CPU as for RETR (${big_mib} MiB is only a few dozen ticks, so
  STOR CPU is coarse).
- Rate limit: a python ftplib client downloads a ${rate_mib} MiB file; the error is the achieved
  rate vs $rate_limit B/s, as bytes over the whole time (connect to 226, what curl's
  \`time_total\` measures), as bytes between the first and the last byte received, and as the
  worst of all 3 s windows (0.25 s apart) starting 100 ms after the first byte. pyftpdlib's
  command line has no rate limit, so it is left out.
- Fair shares (ringd only; neither vsftpd nor pyftpdlib has a limit shared by all sessions):
  ringd with \`max_rate_total=$total_limit\` and no per-session limit; $fair_sessions python ftplib
  clients log in, then download the ${rate_mib} MiB file at the same moment (threads released
  together). Each session's rate is taken over the time all of them run (from 100 ms after the
  last first byte to the first last byte) and compared with an equal share
  ($((total_limit / fair_sessions)) B/s); the figure is the worst session's error.

\`\`\`sh
taskset -c 1 python3 loadgen/compare_ftp_report.py fairness 127.0.0.1 PORT rated $fair_sessions $total_limit
\`\`\`

- Logins/s (vsftpd and ringd): a system account made for the run (\`useradd\`, \`chpasswd\`:
  the system's default hash, \`\$${hash_method:-?}\$\` here), a PAM service with \`pam_unix\` for auth
  and account, \`local_enable=YES anonymous_enable=NO delay_failed_login=0\`; ringload's
  \`login\` scenario (connect, USER, PASS, QUIT) from 16 client loops for $load_seconds s. Both
  servers verify the same hash through the same PAM stack, so the figure is what each adds to it.
- ringd-before (with \`--baseline\`): an earlier ringd build run with the same configuration, for
  before-and-after figures of one change.

\`\`\`sh
taskset -c 1 target/release/ringload ftp 127.0.0.1:PORT --scenario login --user USER --pass PASSWORD --sessions 16 --duration $load_seconds --json
\`\`\`
$scale_note
EOF
)

meta="$work/meta.json"
jq -n \
    --argjson rounds "$rounds" --argjson elapsed "$elapsed" \
    --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    --arg cores "$(nproc)" --arg kernel "$(uname -r)" --arg load "$load_avg" \
    --arg vsftpd_version "$(vsftpd -v 0>&1 | head -1)" \
    --arg vsftpd_deb "$(dpkg-query -W -f='${Version}' vsftpd)" \
    --arg pyftpdlib_version "$("$py" -c 'import pyftpdlib; print(pyftpdlib.__ver__)')" \
    --arg pyftpdlib_deb "$(dpkg-query -W -f='${Version}' python3-pyftpdlib)" \
    --arg python_version "$("$py" --version)" \
    --arg ringd_version "$("$bin/ringd" --version | sed 's/^ringd //') (git $git_rev)" \
    --arg curl_version "$(curl --version | head -1 | cut -d' ' -f2)" \
    --argjson big_mib "$big_mib" --argjson rate_limit "$rate_limit" \
    --argjson total_limit "$total_limit" --argjson fair_sessions "$fair_sessions" \
    --arg idle_note "$idle_note" --arg command "$command" --arg how "$how" \
    --argjson servers "$(printf '%s\n' "${servers[@]}" | jq -R . | jq -s .)" \
    '{rounds: $rounds, elapsed_s: $elapsed, date: $date, cpu: $cpu,
      cores: $cores, kernel: $kernel, load: $load, vsftpd_version: $vsftpd_version,
      vsftpd_deb: $vsftpd_deb, pyftpdlib_version: $pyftpdlib_version,
      pyftpdlib_deb: $pyftpdlib_deb, python_version: $python_version,
      ringd_version: $ringd_version, curl_version: $curl_version, big_mib: $big_mib,
      rate_limit: $rate_limit, total_limit: $total_limit, fair_sessions: $fair_sessions,
      idle_note: $idle_note, command: $command, how: $how,
      servers: $servers}' > "$meta"

"$py" "$helper" report "$results" "$meta" "${out:--}"
[ -n "$out" ] && echo "compare-ftp.sh: wrote $out" >&2
exit 0
