"""Renders compare-ntp.sh's measurements (a TSV file) as the markdown section of docs/benchmarks.md.

Input lines: server, figure (cpu, loss, offset, ramp), round, value, and a note: for fixed-rate
runs whether the generator fell behind ("True"/"False"), for ramps the stop reason. The setup
(machine, versions, rates, durations, configuration) comes from BENCH_* environment variables.
"""

import datetime
import os
import statistics
import sys

SERVERS = ["chronyd", "reflector", "ringd"]
env = os.environ


def rate(name):
    return f"{int(env[name]):,}"


FIGURES = [
    # key, label, unit format, goal for ringd
    ("cpu", f"CPU time per answered request at {rate('BENCH_CPU_RATE')}/s (µs)", "{:.2f}",
     "≤ 0.8 × chronyd and ≤ reflector"),
    ("loss", f"loss at {rate('BENCH_LOSS_RATE')}/s (%)", "{:.3f}", "≤ 0.1 %"),
    ("offset", f"p99 \\|offset\\| at {rate('BENCH_OFFSET_RATE')}/s (µs)", "{:.2f}", "≤ 5 µs"),
    ("ramp", "highest rate with loss ≤ 0.1 % (ramp, requests/s)", "{:,.0f}", ""),
]


def read_runs(path):
    runs = {}
    with open(path) as f:
        for line in f:
            server, figure, round_, value, note = line.rstrip("\n").split("\t")
            runs.setdefault((server, figure), []).append((int(round_), value, note))
    return runs


def median(figure, runs):
    """The median of a figure's rounds. A ramp that served no step counts as 0, and a ramp's
    median is the lower middle value, so that it is always a rate some step ran at."""
    if figure == "ramp":
        values = [float(v) if v != "" else 0.0 for _, v, _ in runs]
        return statistics.median_low(values) if values else None
    values = [float(v) for _, v, _ in runs if v != ""]
    return statistics.median(values) if values else None


def generator_limited(figure, runs):
    if figure == "ramp":
        return any(note == "generator-fell-behind" for _, _, note in runs)
    return any(note == "True" for _, _, note in runs)


def cell(figure, server, runs, fmt):
    if figure == "offset" and server == "reflector":
        return "n/a"
    these = runs.get((server, figure), [])
    value = median(figure, these)
    if value is None:
        return "—"
    if figure == "ramp" and value == 0:
        return "none served"
    text = fmt.format(value)
    if generator_limited(figure, these):
        text = ("≥ " + text) if figure == "ramp" else (text + " *")
    return text


def ratio(figure, runs, numerator, denominator):
    if figure == "offset" and "reflector" in (numerator, denominator):
        return "n/a"
    top = median(figure, runs.get((numerator, figure), []))
    bottom = median(figure, runs.get((denominator, figure), []))
    if top is None or bottom is None or bottom == 0:
        return "—"
    return f"{top / bottom:.2f}"


def main():
    runs = read_runs(sys.argv[1])
    servers = [s for s in SERVERS if s in env["BENCH_SERVERS"].split(",")]
    quick = env["BENCH_QUICK"] == "1"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rounds = int(env["BENCH_ROUNDS"])
    out = []
    emit = out.append

    emit("## NTP side by side: chronyd, the syscall floor, ringd")
    emit("")
    emit(f"Measured by `loadgen/compare-ntp.sh{' --quick' if quick else ''}` on {now} in "
         f"{env['BENCH_ELAPSED']} s: {rounds} round{'s' if rounds != 1 else ''}, each running every "
         f"figure against {', '.join(servers)} in turn. Each figure is the median of its rounds.")
    emit("")
    emit(f"- Machine: {env['BENCH_MACHINE_CPU']}, {env['BENCH_MACHINE_CORES']} cores, "
         f"Linux {env['BENCH_KERNEL']}; load average at the start {env['BENCH_LOAD']}.")
    emit(f"- Versions: {env['BENCH_CHRONY']}; {env['BENCH_RINGD']}.")
    emit("")

    ratios = [(a, b) for a, b in [("ringd", "chronyd"), ("ringd", "reflector"), ("reflector", "chronyd")]
              if a in servers and b in servers]
    header = ["figure"] + servers + [f"{a} / {b}" for a, b in ratios]
    if "ringd" in servers:
        header.append("goal for ringd")
    emit("| " + " | ".join(header) + " |")
    emit("|" + "---|" * len(header))
    for key, label, fmt, goal in FIGURES:
        row = [label] + [cell(key, s, runs, fmt) for s in servers]
        row += [ratio(key, runs, a, b) for a, b in ratios]
        if "ringd" in servers:
            row.append(goal)
        emit("| " + " | ".join(row) + " |")
    emit("")
    emit("A fixed-rate run in which the generator fell behind its schedule (over 1 % of requests "
         "sent more than 1 ms late, or under 99 % of the rate offered: the server did not get the "
         "load asked for) is run again, up to twice. `*`: a figure with a run that stayed behind. "
         "`≥`: the ramp stopped because the generator, not the server, reached its limit. The "
         "reflector's timestamps are copies of T1, so its offset means nothing.")
    emit("")

    emit("Every run (value, and whether the generator fell behind or why the ramp stopped):")
    emit("")
    emit("| server | figure | " + " | ".join(f"round {r}" for r in range(1, rounds + 1)) + " |")
    emit("|" + "---|" * (2 + rounds))
    for key, _, fmt, _ in FIGURES:
        for server in servers:
            these = sorted(runs.get((server, key), []))
            if not these:
                continue
            cells = []
            for _, value, note in these:
                if value != "":
                    shown = fmt.format(float(value))
                else:
                    shown = "none served" if key == "ramp" else "—"
                if key == "ramp":
                    cells.append(f"{shown} ({note})")
                else:
                    cells.append(shown + (" (behind)" if note == "True" else ""))
            emit(f"| {server} | {key} | " + " | ".join(cells) + " |")
    emit("")

    run_s, step_s = env["BENCH_RUN_SECONDS"], env["BENCH_STEP_SECONDS"]
    emit("### How it was measured")
    emit("")
    emit("Every server serves 127.0.0.1 on its own port, pinned to core 0; ringload runs on core 1. "
         "chronyd and ringd get the same server directives (`TMPDIR/ringd.conf`):")
    emit("")
    emit("```")
    emit(env["BENCH_CONF"].rstrip())
    emit("```")
    emit("")
    emit("and chronyd's file adds its housekeeping: "
         + ", ".join(f"`{line}`" for line in env["BENCH_CHRONYD_EXTRA"].splitlines()) + ". "
         "`noclientlog` is chronyd's fastest setting, and with it neither server keeps per-client "
         "state or rate-limits, so both do the same work per request.")
    emit("")
    emit("```sh")
    emit("taskset -c 0 chronyd -x -d -f TMPDIR/chronyd.conf     # -x: never touches the clock")
    emit("taskset -c 0 target/release/udp-reflector --bind 127.0.0.1:PORT")
    emit("taskset -c 0 target/release/ringd --ntp-conf TMPDIR/ringd.conf --shards 1")
    emit(f"taskset -c 1 target/release/ringload ntp 127.0.0.1:PORT --rate RATE --duration {run_s} --json")
    emit(f"taskset -c 1 target/release/ringload ntp 127.0.0.1:PORT --ramp --step-duration {step_s} --json")
    emit("```")
    emit("")
    emit("- ringload's defaults apply: 16 clients on 127.0.0.2-17, send batches of at most 32 "
         "requests with 20 µs coalescing, kernel RX timestamps, 200 ms grace for late replies.")
    emit("- CPU time: the server's utime + stime from `/proc/PID/stat` (all its threads) before "
         "and after the run, divided by the valid replies. The kernel samples it at each timer "
         "tick, charging whatever runs then, softirq work included: on loopback the server pays "
         "for delivering its replies into the client sockets, and the client for delivering its "
         "requests into the server's socket.")
    emit("- Offset: ((T2 - T1) + (T3 - T4)) / 2 over requests whose T1 was read right before "
         "they left (the first of each send batch); client and server share the clock, so the "
         "truth is 0.")
    emit("- The reflector (`loadgen/src/bin/udp-reflector.rs`) does recvmmsg, builds each reply "
         "by copying bytes (mode 4, stratum 10, origin = receive = transmit = the request's "
         "transmit timestamp; no clock read, no kernel timestamps), and sendmmsg: the floor of "
         "what any NTP server on this kernel costs. It asks for the same 8 MiB receive buffer as "
         "ringd (capped by net.core.rmem_max); chronyd keeps the kernel's default.")
    emit("- Ramp: from 10,000/s, ×1.5 per step, until a step loses over 1 %; the figure is the "
         "highest step rate that lost at most 0.1 %.")
    print("\n".join(out))


main()
