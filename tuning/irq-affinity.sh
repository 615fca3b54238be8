#!/usr/bin/env bash
# Shows, and with --apply sets, the CPU of each receive queue interrupt of a NIC, one queue per
# core in order, so that a queue's packets are handled on the core whose shard reads them.
# Usage: irq-affinity.sh IFACE [--apply]
set -euo pipefail

iface=${1:?usage: irq-affinity.sh IFACE [--apply]}
apply=${2:-}
mapfile -t cpus < <(taskset -cp $$ | sed 's/.*: //' | tr ',' '\n' | while IFS=- read -r a b; do seq "$a" "${b:-$a}"; done)
mapfile -t irqs < <(grep -E "${iface}[-:]" /proc/interrupts | awk -F: '{gsub(/ /, "", $1); print $1}')
if [ ${#irqs[@]} -eq 0 ]; then
    echo "no interrupts named after $iface in /proc/interrupts" >&2
    exit 1
fi
for i in "${!irqs[@]}"; do
    irq=${irqs[$i]}
    cpu=${cpus[$((i % ${#cpus[@]}))]}
    echo "irq $irq -> cpu $cpu (now: $(cat /proc/irq/"$irq"/smp_affinity_list))"
    if [ "$apply" = "--apply" ]; then
        echo "$cpu" > /proc/irq/"$irq"/smp_affinity_list
    fi
done
