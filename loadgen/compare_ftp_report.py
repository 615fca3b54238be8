#!/usr/bin/env python3
"""Helper of loadgen/compare-ftp.sh and loadgen/compare-transfer.sh.

  cpu PID                     server CPU ticks (utime+stime, children reaped included) of PID's tree
  rate HOST PORT FILE         download FILE anonymously, print the achieved rates as JSON
  report RESULTS META OUT     medians of RESULTS (JSON lines) as markdown; written between the
                              compare-ftp markers of OUT (OUT '-' prints it)
  transfer-report RESULTS META OUT
                              the same for compare-transfer.sh, between the compare-transfer markers
"""
import bisect
import ftplib
import json
import os
import socket
import statistics
import sys
import threading
import time

BEGIN = "<!-- compare-ftp:begin -->"
END = "<!-- compare-ftp:end -->"
TRANSFER_BEGIN = "<!-- compare-transfer:begin -->"
TRANSFER_END = "<!-- compare-transfer:end -->"


def stat_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3): utime is field 14, stime 15, cutime 16, cstime 17
    return sum(int(x) for x in fields[11:15]), int(fields[1])


def cpu(pid):
    """Ticks of PID (own + reaped children) plus live descendants' own ticks."""
    total, _ = stat_ticks(pid)
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            ticks, _ = stat_ticks(child)
            total += ticks
        except OSError:
            pass
        todo.extend(parents.get(child, []))
    return total


def rate(host, port, path):
    start = time.monotonic()
    ftp = ftplib.FTP()
    ftp.connect(host, int(port), timeout=30)
    ftp.login("anonymous", "bench@")
    ftp.voidcmd("TYPE I")
    marks = []  # (time, cumulative bytes) after each recv
    total = 0
    conn = ftp.transfercmd(f"RETR {path}")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        total += len(chunk)
        marks.append((time.monotonic(), total))
    conn.close()
    ftp.voidresp()
    end = time.monotonic()
    ftp.quit()
    first = marks[0][0]

    def bytes_at(t):
        # cumulative bytes received by time t (step function)
        lo, hi = 0, len(marks)
        while lo < hi:
            mid = (lo + hi) // 2
            if marks[mid][0] <= t:
                lo = mid + 1
            else:
                hi = mid
        return marks[lo - 1][1] if lo else 0

    windows = []
    t = first + 0.1
    while t + 3.0 <= marks[-1][0]:
        windows.append((bytes_at(t + 3.0) - bytes_at(t)) / 3.0)
        t += 0.25
    return {
        "bytes": total,
        "time_total_s": end - start,
        "rate_total": total / (end - start),
        "rate_data": total / (marks[-1][0] - first) if marks[-1][0] > first else None,
        "windows_3s": len(windows),
        "window_min": min(windows) if windows else None,
        "window_max": max(windows) if windows else None,
        "window_first": windows[0] if windows else None,
    }


def fairness(host, port, path, sessions, limit):
    """`sessions` concurrent downloads of `path` started together; each one's rate while all
    of them run, against an equal share of the server's `max_rate_total` (`limit` B/s)."""
    sessions, limit = int(sessions), float(limit)
    start = threading.Barrier(sessions)
    marks = [[] for _ in range(sessions)]  # per session: (time, cumulative bytes)

    def download(index):
        ftp = ftplib.FTP()
        ftp.connect(host, int(port), timeout=60)
        ftp.login("anonymous", "bench@")
        ftp.voidcmd("TYPE I")
        start.wait()
        conn = ftp.transfercmd(f"RETR {path}")
        total = 0
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            total += len(chunk)
            marks[index].append((time.monotonic(), total))
        conn.close()
        ftp.voidresp()
        ftp.quit()

    threads = [threading.Thread(target=download, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def bytes_at(session, t):
        i = bisect.bisect_right([m[0] for m in session], t)
        return session[i - 1][1] if i else 0

    # All sessions run between the last first byte (plus the 100 ms the rate figure also
    # skips) and the first last byte.
    begin = max(m[0][0] for m in marks) + 0.1
    end = min(m[-1][0] for m in marks)
    share = limit / sessions
    rates = [(bytes_at(m, end) - bytes_at(m, begin)) / (end - begin) for m in marks] if end > begin else []
    return {
        "sessions": sessions,
        "window_s": end - begin,
        "rates": rates,
        "fair_share": share,
        "worst_vs_share_pct": max((abs(r / share - 1) * 100 for r in rates), default=None),
        "total_vs_limit_pct": (sum(rates) / limit - 1) * 100 if rates else None,
    }


def fmt(value, digits):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def load_runs(results_path):
    """The runs of a results file (JSON lines), by (figure, server)."""
    by = {}
    for line in open(results_path):
        if line.strip():
            r = json.loads(line)
            by.setdefault((r["figure"], r["server"]), []).append(r)
    return by


def median_of(by, figure, server):
    values = [r["value"] for r in by.get((figure, server), []) if r.get("value") is not None]
    return statistics.median(values) if values else None


def machine_line(meta):
    return f"- Machine: {meta['cpu']}, {meta['cores']} cores, Linux {meta['kernel']}; load average at the start {meta['load']}."


def run_table(by, servers, figures, nrounds):
    """Markdown lines: every run of every figure, one row per figure and server."""
    lines = ["| figure | server | " + " | ".join(f"round {i + 1}" for i in range(nrounds)) + " | notes |",
             "|---|---|" + "---|" * nrounds + "---|"]
    for key, digits in figures:
        for s in servers:
            runs = by.get((key, s))
            if not runs:
                continue
            per_round = {r["round"]: r for r in runs}
            cells = [fmt(per_round[i]["value"], digits) if i in per_round else "—" for i in range(1, nrounds + 1)]
            notes = sorted({r["note"] for r in runs if r.get("note")})
            lines.append(f"| {key} | {s} | " + " | ".join(cells) + f" | {'; '.join(notes)} |")
    return lines


def finish_report(lines, by, servers, figures, meta, markers, out):
    """Ends a report's `lines` with every run and how it was measured, and writes it between
    its `markers` in `out`."""
    begin, end = markers
    lines += ["", "Every run:", ""]
    lines += run_table(by, servers, [(key, digits) for key, _, digits, _ in figures], meta["rounds"])
    lines += ["", meta["how"].rstrip(), end]
    write_between(out, begin, end, "\n".join(lines) + "\n")


def write_between(out, begin, end, block):
    """Puts `block` (which starts with `begin` and ends with `end`) in place of what lies between
    those markers in the file `out`, or at its end; '-' prints it only."""
    if out == "-":
        sys.stdout.write(block)
        return
    text = open(out).read() if os.path.exists(out) else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        if tail.startswith("\n"):
            tail = tail[1:]
        text = head + block + tail
    else:
        if text and not text.endswith("\n"):
            text += "\n"
        text += "\n" + block
    tmp = out + ".compare.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    sys.stdout.write(block)


def report(results_path, meta_path, out):
    by = load_runs(results_path)
    meta = json.load(open(meta_path))
    servers = meta["servers"]

    def med(figure, server):
        return median_of(by, figure, server)

    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    limit = meta["rate_limit"]
    figures = [
        # (key, label, digits, goal, higher_is_better)
        ("sessions", "full anonymous sessions/s, 64 clients (connect, login, PASV, RETR 4 KiB, QUIT)", 0, "≥ 3 × pyftpdlib"),
        ("idle_pss", f"PSS per idle logged-in session, kB ({meta['idle_note']})", 1, "≤ 1/10 vsftpd, ≤ 1/2 pyftpdlib"),
        ("idle_added", "added PSS per idle session, kB ((holding − before) / sessions)", 1, ""),
        ("retr_mbs", f"RETR {meta['big_mib']} MiB from page cache, MB/s (curl)", 0, "≥ 1.0 × vsftpd"),
        ("retr_cpu", "server CPU seconds per GiB sent", 3, "≤ 0.7 × vsftpd"),
        ("stor_mbs", f"STOR {meta['big_mib']} MiB, MB/s (curl -T)", 0, "≥ 1.2 × vsftpd"),
        ("stor_cpu", "server CPU seconds per GiB received", 3, ""),
        ("rate_total", f"anon_max_rate={limit:,}: bytes / total time (connect to 226), error %", 2, "within 1 %"),
        ("rate_data", "same, bytes / (last byte − first byte), error %", 2, "within 1 %"),
        ("rate_window", "same, worst 3 s window after the first 100 ms, error %", 2, "within 1 %"),
        ("fair_worst", f"max_rate_total={meta['total_limit']:,} shared by {meta['fair_sessions']} downloads: worst session vs its equal share, %", 2, "within 5 %"),
        ("fair_total", "same, all sessions together vs max_rate_total, error %", 2, ""),
        ("logins", "system-account logins/s through PAM, 16 clients (connect, USER, PASS, QUIT)", 0, ""),
    ]
    lines = []
    lines.append(BEGIN)
    lines.append("## FTP side by side: vsftpd, pyftpdlib, ringd")
    lines.append("")
    lines.append(
        f"Measured by `{meta['command']}` on {meta['date']} in {meta['elapsed_s']} s: "
        f"{meta['rounds']} round(s), each running every figure against {', '.join(servers)} in turn (in reverse order in even rounds), a fresh server per run. "
        "Each figure is the median of its rounds."
    )
    lines.append("")
    lines.append(machine_line(meta))
    lines.append(f"- Versions: {meta['vsftpd_version']} (Debian {meta['vsftpd_deb']}); pyftpdlib {meta['pyftpdlib_version']} (Debian {meta['pyftpdlib_deb']}, {meta['python_version']}); ringd {meta['ringd_version']}; curl {meta['curl_version']}.")
    lines.append("")
    lines.append("| figure | vsftpd | pyftpdlib | ringd | ringd / vsftpd | ringd / pyftpdlib | goal for ringd | met |")
    lines.append("|---|---|---|---|---|---|---|---|")
    verdicts = {}
    for key, label, digits, goal in figures:
        v = {s: med(key, s) for s in ("vsftpd", "pyftpdlib", "ringd")}
        if key.startswith(("rate_", "fair_")):
            cells = [fmt(v[s], digits) if v[s] is not None else "—" for s in ("vsftpd", "pyftpdlib", "ringd")]
            met = ""
            bound = {"rate_total": 1.0, "rate_data": 1.0, "rate_window": 1.0, "fair_worst": 5.0}.get(key)
            if v["ringd"] is not None and bound is not None:
                met = "yes" if abs(v["ringd"]) <= bound else "no"
            lines.append(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | — | — | {goal} | {met} |")
            continue
        rv, rp = ratio(v["ringd"], v["vsftpd"]), ratio(v["ringd"], v["pyftpdlib"])
        met = ""
        if key == "sessions" and rp is not None:
            met = "yes" if rp >= 3 else "no"
        elif key == "idle_pss" and rv is not None and rp is not None:
            met = "yes" if rv <= 0.1 and rp <= 0.5 else "no"
        elif key == "retr_mbs" and rv is not None:
            met = "yes" if rv >= 1.0 else "no"
        elif key == "retr_cpu" and rv is not None:
            met = "yes" if rv <= 0.7 else "no"
        elif key == "stor_mbs" and rv is not None:
            met = "yes" if rv >= 1.2 else "no"
        verdicts[key] = met
        cells = [fmt(v[s], digits) if v[s] is not None else "—" for s in ("vsftpd", "pyftpdlib", "ringd")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {fmt(rv, 2)} | {fmt(rp, 2)} | {goal} | {met} |")
    if "ringd-before" in servers:
        lines += ["", "Before and after, the same figures for the earlier build given with `--baseline`:", ""]
        lines.append("| figure | ringd before | ringd | after / before |")
        lines.append("|---|---|---|---|")
        for key, label, digits, _ in figures:
            before, after = med(key, "ringd-before"), med(key, "ringd")
            if before is None and after is None:
                continue
            lines.append(f"| {label} | {fmt(before, digits)} | {fmt(after, digits)} | {fmt(ratio(after, before), 3)} |")
    finish_report(lines, by, servers, figures, meta, (BEGIN, END), out)


def transfer_report(results_path, meta_path, out):
    """compare-transfer.sh: ringd's transfer engines side by side."""
    by = load_runs(results_path)
    meta = json.load(open(meta_path))
    methods = meta["methods"]
    size = meta["size_mib"]
    figures = [
        # (key, label, digits, higher is better)
        ("retr_mbs", f"RETR {size:,} MiB from page cache, MB/s (curl)", 0, True),
        ("retr_cpu", "ringd CPU seconds per GiB sent", 3, False),
        ("stor_mbs", f"STOR {size:,} MiB, MB/s (curl -T)", 0, True),
        ("stor_cpu", "ringd CPU seconds per GiB received", 3, False),
    ]
    lines = [TRANSFER_BEGIN, "## FTP transfer engines: sendfile, splice, copy", ""]
    lines.append(
        f"Measured by `{meta['command']}` on {meta['date']} "
        f"in {meta['elapsed_s']} s: {meta['rounds']} round(s), each running ringd once per engine ({', '.join(methods)}) "
        "in turn, a fresh ringd per run. Each figure is the median of its rounds."
    )
    lines.append("")
    lines.append(machine_line(meta))
    lines.append(f"- Versions: ringd {meta['ringd_version']}; curl {meta['curl_version']}.")
    lines.append("")
    lines.append("| figure | " + " | ".join(methods) + " | best |")
    lines.append("|---|" + "---|" * len(methods) + "---|")
    for key, label, digits, higher in figures:
        values = {m: median_of(by, key, m) for m in methods}
        measured = {m: v for m, v in values.items() if v is not None}
        best = ""
        if measured:
            best = (max if higher else min)(measured, key=measured.get)
        cells = [fmt(values[m], digits) if values[m] is not None else "—" for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {best} |")
    finish_report(lines, by, methods, figures, meta, (TRANSFER_BEGIN, TRANSFER_END), out)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "cpu":
        print(cpu(int(sys.argv[2])))
    elif cmd == "rate":
        print(json.dumps(rate(*sys.argv[2:5])))
    elif cmd == "fairness":
        print(json.dumps(fairness(*sys.argv[2:7])))
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "transfer-report":
        transfer_report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown command {cmd}")
