"""The FTP comparison's ftplib clients; each prints what it measured as one JSON object.

  rate HOST PORT FILE                     download FILE anonymously: the achieved rates
  fairness HOST PORT FILE SESSIONS LIMIT  SESSIONS downloads of FILE at once, against equal
                                          shares of the server's max_rate_total LIMIT (B/s)

Run apart from the benchmark, pinned to the client core, by the python3 that runs pyftpdlib.
"""
import bisect
import ftplib
import json
import socket
import sys
import threading
import time


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
    times = [mark[0] for mark in marks]

    def bytes_at(t):
        # cumulative bytes received by time t (a step function)
        i = bisect.bisect_right(times, t)
        return marks[i - 1][1] if i else 0

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


if __name__ == "__main__":
    clients = {"rate": (rate, 3), "fairness": (fairness, 5)}
    if len(sys.argv) < 2 or sys.argv[1] not in clients:
        sys.exit(__doc__)
    client, arguments = clients[sys.argv[1]]
    if len(sys.argv) != 2 + arguments:
        sys.exit(__doc__)
    print(json.dumps(client(*sys.argv[2:])))
