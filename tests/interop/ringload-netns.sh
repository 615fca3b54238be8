#!/usr/bin/env bash
# ringload from several "machines": one ringload per network namespace (each behind a veth pair
# this script makes, addresses only on those pairs), all with one --start-at, against one ringd
# in the root namespace; `ringload merge` of their documents must give the sums of the counts
# and the percentiles of all their histograms added (checked by ringload_merge_check.py, which
# decodes the HdrHistograms itself). Needs root (namespaces); skips otherwise.
# RINGD and RINGLOAD name other binaries than target/release's.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "skip: network namespaces need root"
    exit 0
fi

source "$(dirname "$0")/common.sh"
ringd=${RINGD:-$ringd}
ringload=${RINGLOAD:-$root/target/release/ringload}

# Unique per run, so that runs beside each other never share a name; veth names stay under
# the kernel's 15 characters.
tag="rl$$"
generators=3
server_ip=10.200.1.1
namespaces=""
cleanup_netns() {
    for ns in $namespaces; do ip netns delete "$ns" 2>/dev/null || true; done
    # Deleting a namespace deletes its veth end, and with it the root namespace's peer.
    for i in $(seq 1 $generators); do ip link delete "${tag}h$i" 2>/dev/null || true; done
    cleanup
}
trap cleanup_netns EXIT

for i in $(seq 1 $generators); do
    if ip -4 addr show | grep -q "inet 10\.200\.$i\.[0-3]/"; then
        echo "10.200.$i.0/30 is already in use on this machine: not touching it"
        exit 1
    fi
done

# Namespace i: veth ${tag}n$i inside (10.200.i.2/30), ${tag}h$i outside (10.200.i.1/30); the
# server listens on the first pair's outer address, which the others reach through their own
# pair (the root namespace takes packets for any of its addresses on any interface).
make_namespace() {
    local i=$1 ns="${tag}-$1"
    ip netns add "$ns" || return 1
    namespaces="$namespaces $ns"
    ip link add "${tag}h$i" type veth peer name "${tag}n$i" netns "$ns"
    ip addr add "10.200.$i.1/30" dev "${tag}h$i"
    ip link set "${tag}h$i" up
    ip -n "$ns" addr add "10.200.$i.2/30" dev "${tag}n$i"
    ip -n "$ns" link set "${tag}n$i" up
    ip -n "$ns" link set lo up
    if [ "$i" -ne 1 ]; then ip -n "$ns" route add "$server_ip/32" via "10.200.$i.1"; fi
}
for i in $(seq 1 $generators); do
    if ! make_namespace "$i"; then
        echo "skip: cannot create network namespaces here (no CAP_SYS_ADMIN in this container?)"
        exit 0
    fi
done

allows=$(for i in $(seq 1 $generators); do printf 'allow 10.200.%s.2\n' "$i"; done)
printf 'port 0\nbindaddress %s\n%s\nlocal stratum 10\n' "$server_ip" "$allows" > "$work/ringd.conf"
start_ringd "$work/ringd.log" ntp --ntp-conf "$work/ringd.conf" --shards 1 --control-socket "$work/ringd.sock"
server=$ringd_found
echo "ringd serves NTP on $server; $generators generators in namespaces$namespaces"

# Every generator waits for the same wall-clock time, 3 s ahead: room for all to start.
start_at=$(python3 -c 'import time; print("%.3f" % (time.time() + 3))')
pids=""
for i in $(seq 1 $generators); do
    ip netns exec "${tag}-$i" "$ringload" ntp "$server" --allow-non-loopback --clients 4 \
        --rate 2000 --duration 2 --start-at "$start_at" --json > "$work/part$i.json" 2> "$work/part$i.err" &
    pids="$pids $!"
    helper_pids="$helper_pids $!"
done
statuses=""
for pid in $pids; do
    status=0
    wait "$pid" || status=$?
    statuses="$statuses $status"
done
helper_pids=""
parts=$(for i in $(seq 1 $generators); do printf '%s ' "$work/part$i.json"; done)

# Exit 2 is a generator behind its schedule on a busy machine: the counts still merge.
parts_measured() {
    local i=0 status
    for status in $statuses; do
        i=$((i + 1))
        if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
            echo "  generator $i exited $status:"; cat "$work/part$i.err"; return 1
        fi
    done
    python3 -c '
import datetime, json, sys
start = float(sys.argv[1])
for path in sys.argv[2:]:
    part = json.load(open(path))
    started = datetime.datetime.fromisoformat(part["started_at"].replace("Z", "+00:00")).timestamp()
    # started_at is written to the millisecond, rounded down.
    assert started >= start - 0.001, (path, part["started_at"], start)
    assert part["answered"] > 0, (path, part["answered"])
    print("  %s: started %s, %d sent, %d answered" % (path.rsplit("/", 1)[1], part["started_at"], part["sent"], part["answered"]))
' "$start_at" $parts
}

merge_is_exact() {
    local status=0
    # shellcheck disable=SC2086
    "$ringload" merge $parts --json > "$work/merged.json" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 2 ] || return 1
    # shellcheck disable=SC2086
    python3 "$(dirname "$0")/ringload_merge_check.py" "$work/merged.json" $parts
}

merged_twice_doubles() {
    "$ringload" merge "$work/part1.json" "$work/part1.json" --json > "$work/doubled.json" || [ $? -eq 2 ]
    python3 -c '
import json, sys
doubled, part = (json.load(open(p)) for p in sys.argv[1:])
assert doubled["sent"] == 2 * part["sent"] and doubled["answered"] == 2 * part["answered"], doubled
assert doubled["latency_us"] == part["latency_us"] and doubled["response_us"] == part["response_us"], doubled
' "$work/doubled.json" "$work/part1.json"
}

check "every generator measured" parts_measured
check "ringload merge sums counts, percentiles of all samples" merge_is_exact
check "a document merged with itself doubles counts, keeps percentiles" merged_twice_doubles
check "ringd stops cleanly" stop_ringd
summary
