"""The FTPS figures of the FTP comparison (issue 14): TLS RETR, TLS sessions/s and memory per
idle TLS session, vsftpd 3.0.3 and ringd with one certificate, each with the TLS version, cipher
suite and key exchange the clients actually negotiated. Rendered into docs/benchmarks.md
between the compare-ftp-tls markers."""

import os
import re
import statistics
import subprocess
from dataclasses import dataclass

from bench import log, report
from bench.certificate import CERT, KEY, OPENSSL_REQ, make_certificate
from bench.cpu import core_busy_ticks, pinned, ticks_per_second
from bench.medians import median

MARKERS = "compare-ftp-tls"
# In the order a round runs them. A ringd start waits until no port of its passive range is in
# TIME_WAIT (ftp._Bench._wait_passive_clear), up to 65 s: the idle figure makes no data
# connection, so the sessions figure after it starts at once, and TLS RETR, after the sessions
# figure, gives ringd a passive range of its own (its few data connections leave the main one
# clear for the next round too).
FIGURE_ORDER = ("tls_idle", "tls_sessions", "tls_retr")
# TLS RETR's passive ranges for ringd: below every server's main range (ftp.PASSIVE).
RETR_PASSIVE = {"ringd": (3000, 3499), "ringd-before": (3500, 3999)}
# pyftpdlib's FTPS needs pyOpenSSL and is not what issue 14 compares.
SERVERS = ["vsftpd", "ringd"]
# vsftpd holds three processes per idle TLS session (two per plain one), each taking a PID.
VSFTPD_TLS_PROCESSES = 3
PID_MARGIN = 1000
# ftp.py's cores, repeated here so that this module does not import ftp (which imports it).
SERVER_CORE = 0
CLIENT_CORE = 1
CURL_MAX_S = 120
PROBE_MAX_S = 20
# What curl prints with -w: bytes, then seconds from the start to just before the transfer
# (connect, AUTH TLS and its handshake, login, PBSZ, PROT, PASV, TYPE, SIZE) and to the end.
CURL_TIMING = "%{size_download} %{time_pretransfer} %{time_total} %{speed_download}"

# (key, label, decimals, goal for ringd); `render` fills in the sizes of a run.
FIGURES = [
    ("tls_sessions", "TLS sessions/s, 64 clients (connect, AUTH TLS, login, PBSZ 0, PROT P, PASV, "
                     "RETR 4 KiB over TLS, QUIT)", 0, "≥ 10 × vsftpd"),
    ("tls_idle_pss", "PSS per idle logged-in TLS session, kB ({idle_note})", 1, "≤ 1/10 vsftpd"),
    ("tls_idle_added", "added PSS per idle TLS session, kB ((holding − before) / sessions)",
     1, ""),
    ("tls_retr_mbs", "TLS RETR {big_mib} MiB from page cache, MB/s (curl, size / (total − "
                     "pretransfer))", 0, "≥ 1.2 × vsftpd"),
    ("tls_retr_cpu", "server CPU seconds per GiB sent over TLS", 3, "≤ 0.8 × vsftpd"),
]
# ringd / vsftpd must be at least (">=") or at most ("<=") the factor.
GOALS = {"tls_sessions": (">=", 10.0), "tls_idle_pss": ("<=", 0.1),
         "tls_retr_mbs": (">=", 1.2), "tls_retr_cpu": ("<=", 0.8)}


@dataclass(frozen=True)
class Negotiated:
    """What one client agreed with one server."""
    client: str
    version: str
    suite: str
    key_exchange: str


@dataclass(frozen=True)
class TlsSetup:
    """What the TLS section says beyond the FTP comparison's `Setup`."""
    certificate: str
    openssl_version: str
    libssl_deb: str
    rustls_version: str
    # {(figure, server): {Negotiated, ...}}
    negotiated: dict
    # Idle TLS sessions held per server (fewer than the scale's when PIDs run short).
    idle_sessions: int


def conf_lines(work_dir):
    """The lines both servers' vsftpd.conf get for TLS: explicit FTPS, anonymous sessions
    forced onto TLS for the login and the data, one certificate and key. Everything else at
    its default, the same for both: require_ssl_reuse=YES, ssl_request_cert=YES (both ask for
    a client certificate; the clients send none) and no ssl_ciphers (Debian's default
    ECDHE-RSA-AES256-GCM-SHA384 limits only TLS 1.2, which nobody here negotiates; ringd does
    not act on it)."""
    return ["ssl_enable=YES", f"rsa_cert_file={work_dir}/{CERT}",
            f"rsa_private_key_file={work_dir}/{KEY}", "allow_anon_ssl=YES",
            "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES"]


def parse_curl_timing(text):
    """(bytes, pretransfer s, total s, curl's B/s) from curl's -w CURL_TIMING, or None."""
    fields = text.split()
    if len(fields) != 4:
        return None
    try:
        size, pretransfer, total, speed = map(float, fields)
    except ValueError:
        return None
    return size, pretransfer, total, speed


def transfer_mbs(size, pretransfer, total):
    """MB/s (10^6 B/s) of the transfer alone: `size` over the time after pretransfer (which
    holds both handshakes of the control connection, so that they do not weigh on short runs;
    the data connection's handshake stays in)."""
    if size <= 0 or total <= pretransfer:
        return None
    return size / (total - pretransfer) / 1e6


def curl_negotiated(stderr):
    """[(version, suite), ...] of curl -v's "SSL connection using TLSv1.3 / SUITE" lines: the
    control connection, then the data connections."""
    return re.findall(r"SSL connection using (\S+) / (\S+)", stderr)


def openssl_key_exchange(output):
    """The group of openssl s_client's "Server Temp Key" line, by its IANA name (as rustls
    names it): "X25519, 253 bits" is X25519, "ECDH, prime256v1, 256 bits" secp256r1."""
    found = re.search(r"Server Temp Key: ([^\n]+)", output)
    if not found:
        return "?"
    parts = [part.strip() for part in found.group(1).split(",")]
    name = parts[1] if parts[0] in ("ECDH", "DH") and len(parts) > 2 else parts[0]
    return {"prime256v1": "secp256r1"}.get(name, name)


def idle_sessions_possible(requested, pid_max, pids_in_use):
    """How many idle TLS sessions vsftpd can hold: `requested`, or fewer when its processes
    would not fit under kernel.pid_max with PID_MARGIN to spare (10,000 sessions are 30,001
    processes, and pid_max is 32,768 by default)."""
    room = (pid_max - pids_in_use - PID_MARGIN) // VSFTPD_TLS_PROCESSES
    return max(1, min(requested, room))


def pids_in_use():
    """Processes and threads now: each takes a PID."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def goal_met(key, per_vsftpd):
    """"yes", "no", or "" when the figure has no goal or a median is missing."""
    return report.ratio_goal_met(GOALS, key, per_vsftpd)


class TlsFigures:
    """The FTPS figures, a part of ftp._Bench: uses its `_start` (with mode "tls"), `_stop`,
    `_settle`, `_client`, `_ringload`, `_runs`, `_scale` and `_work`."""

    negotiated = None

    tls_idle_sessions = None

    def make_certificate(self):
        make_certificate(self._work.dir)
        self.negotiated = {}
        with open("/proc/sys/kernel/pid_max") as pid_max:
            self.tls_idle_sessions = idle_sessions_possible(
                self._scale.idle_sessions, int(pid_max.read()), pids_in_use())
        if self.tls_idle_sessions < self._scale.idle_sessions:
            log(f"idle TLS sessions: {self.tls_idle_sessions}, not {self._scale.idle_sessions}: "
                f"vsftpd's {VSFTPD_TLS_PROCESSES} processes per session must fit under "
                "kernel.pid_max")

    def _tls_flags(self):
        return ["--tls", "--tls-ca", self._work.dir / CERT]

    def _note_negotiated(self, figure, name, negotiated):
        self.negotiated.setdefault((figure, name), set()).add(negotiated)

    def _ringload_negotiated(self, figure, name, result):
        self._note_negotiated(figure, name, Negotiated(
            "ringload (rustls)", str(result.get("tls_version", "?")),
            str(result.get("tls_cipher_suite", "?")), str(result.get("tls_key_exchange", "?"))))

    def tls_sessions(self, name, round_number):
        if name == "pyftpdlib":
            return
        port = self._start(name, "tls")
        result = self._ringload(port, ["--scenario", "retr", "--file", "f4k", "--sessions", "64",
                                       *self._tls_flags()], self._scale.load_seconds)
        errors = ", ".join(f"{error}: {count}" for error, count in result["errors"].items())
        note = (f"{result['sessions_completed']} done, {result['sessions_failed']} failed, "
                f"errors {errors}; data connections not resumed: "
                f"{result.get('tls_data_not_resumed', '?')}")
        self._runs.record("tls_sessions", name, round_number, result["sessions_per_s"], note)
        self._ringload_negotiated("tls_sessions", name, result)
        self._stop()

    def tls_idle(self, name, round_number):
        if name == "pyftpdlib":
            return
        port = self._start(name, "tls")
        result = self._ringload(port, ["--scenario", "idle", "--sessions",
                                       self.tls_idle_sessions, "--server-pid", self._server.pid,
                                       *self._tls_flags()], self._scale.idle_seconds)
        memory = result["memory"]
        note = (f"{result['held_at_end']} of {self.tls_idle_sessions} held, "
                f"{memory['holding']['processes']} processes")
        # ringload counts KiB; the report kB.
        self._runs.record("tls_idle_pss", name, round_number,
                          memory["pss_kib_per_session"] * 1.024, note)
        self._runs.record("tls_idle_added", name, round_number,
                          memory["added_pss_kib_per_session"] * 1.024, note)
        self._ringload_negotiated("tls_idle", name, result)
        self._stop()

    def tls_retr(self, name, round_number):
        """curl fetches the big file over explicit FTPS `retr_repeats` times: MB/s is the median
        of size / (total − pretransfer), CPU is over all of them. Before, outside the measured
        window, one curl -v of the small file and one openssl s_client say what was
        negotiated."""
        if name == "pyftpdlib":
            return
        port = self._start(name, "tls", passive=RETR_PASSIVE.get(name))
        self._probe(name, port)
        self._settle()
        cert = self._work.dir / CERT
        before = core_busy_ticks(SERVER_CORE)
        speeds, timings = [], []
        for _ in range(self._scale.retr_repeats):
            done = self._client(["curl", "-sS", "--max-time", CURL_MAX_S, "--ssl-reqd",
                                 "--cacert", cert, "-o", "/dev/null", "-w", CURL_TIMING,
                                 f"ftp://127.0.0.1:{port}/big"], timeout_s=CURL_MAX_S + 10)
            timing = parse_curl_timing(done.stdout) if done.returncode == 0 else None
            expected = self._scale.big_mib << 20
            if timing is None or timing[0] != expected:
                speeds.append(0.0)
                timings.append("failed")
                continue
            size, pretransfer, total, speed = timing
            speeds.append(transfer_mbs(size, pretransfer, total) or 0.0)
            timings.append(f"{int(speed)} (pretransfer {pretransfer:.3f} s of {total:.3f} s)")
        self._settle()
        ticks = core_busy_ticks(SERVER_CORE) - before
        tck = ticks_per_second()
        self._runs.record("tls_retr_mbs", name, round_number, statistics.median(speeds),
                          "curl B/s: " + "; ".join(timings))
        gib = self._scale.retr_repeats * self._scale.big_mib / 1024
        self._runs.record("tls_retr_cpu", name, round_number, ticks / tck / gib,
                          f"{ticks} ticks of 1/{tck} s")
        self._stop()

    def _probe(self, name, port):
        """What curl (OpenSSL) negotiates on the control and the data connection, and the key
        exchange openssl s_client gets."""
        cert = self._work.dir / CERT
        curl = subprocess.run(pinned(CLIENT_CORE, [
            "curl", "-v", "-sS", "--max-time", PROBE_MAX_S, "--ssl-reqd", "--cacert", cert,
            "-o", "/dev/null", f"ftp://127.0.0.1:{port}/f4k"]),
            capture_output=True, text=True, timeout=PROBE_MAX_S + 10)
        s_client = subprocess.run(pinned(CLIENT_CORE, [
            "openssl", "s_client", "-brief", "-starttls", "ftp", "-connect", f"127.0.0.1:{port}",
            "-CAfile", cert]), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PROBE_MAX_S)
        key_exchange = openssl_key_exchange(s_client.stdout + s_client.stderr)
        connections = curl_negotiated(curl.stderr)
        if curl.returncode != 0 or not connections:
            log(f"  {name}: curl -v of f4k failed: {curl.stderr.strip().splitlines()[-1:]}")
            connections = [("?", "?")]
        for index, (version, suite) in enumerate(connections[:2]):
            which = "control" if index == 0 else "data"
            # s_client gets what a fresh OpenSSL handshake gets, as curl's control connection;
            # the data connection resumes it.
            self._note_negotiated("tls_retr", name, Negotiated(
                f"curl (OpenSSL), {which}", version, suite,
                key_exchange if index == 0 else "resumed"))


def _ratio(top, bottom):
    return top / bottom if top is not None and bottom not in (None, 0) else None


def negotiated_table(negotiated, servers):
    """The negotiated versions, suites and key exchanges, one row per figure, server and what
    its client got (several rows when rounds differed)."""
    rows = []
    for figure in FIGURE_ORDER:
        for server in servers:
            for got in sorted(negotiated.get((figure, server), ()),
                              key=lambda got: (got.client, got.version, got.suite)):
                rows.append([figure, server, got.client, got.version, got.suite,
                             got.key_exchange])
    return report.table(["figure", "server", "client", "TLS version", "cipher suite",
                         "key exchange"], rows)


def render(runs, setup, tls):
    """The TLS section: figures, every run, what was negotiated, how it was measured. `setup`
    is the FTP comparison's Setup, `tls` a TlsSetup."""
    scale = setup.scale
    idle_note = f"{tls.idle_sessions} sessions" + (", --quick" if scale.quick else "")
    figures = [(key, label.format(idle_note=idle_note, big_mib=scale.big_mib), digits, goal)
               for key, label, digits, goal in FIGURES]
    servers = [server for server in setup.servers if server != "pyftpdlib"]

    rows = []
    for key, label, digits, goal in figures:
        value = {server: median(runs.values(key, server)) for server in servers}
        per_vsftpd = _ratio(value["ringd"], value["vsftpd"])
        cells = [report.fixed(value[server], digits) if value[server] is not None else "—"
                 for server in servers]
        rows.append([label, *cells, report.fixed(per_vsftpd, 2), goal,
                     goal_met(key, per_vsftpd)])
    figures_table = report.table(["figure", *servers, "ringd / vsftpd", "goal for ringd", "met"],
                                 rows)
    scale_note = ""
    if scale.big_mib < 1024 or tls.idle_sessions < 10000:
        scale_note = report.render("ftp-scale-note.md", big_mib=scale.big_mib,
                                   idle_sessions=tls.idle_sessions)
    return report.render(
        "ftp-tls.md",
        **report.run_fields(setup),
        rounds=setup.rounds,
        servers=", ".join(servers),
        vsftpd_version=setup.vsftpd_version,
        vsftpd_deb=setup.vsftpd_deb,
        libssl_deb=tls.libssl_deb,
        openssl_version=tls.openssl_version,
        ringd_version=setup.ringd_version,
        rustls_version=tls.rustls_version,
        curl_version=setup.curl_version,
        certificate=tls.certificate,
        figures_table=figures_table,
        negotiated_table=negotiated_table(tls.negotiated, servers),
        runs_table=report.run_table(runs, servers,
                                    [(key, digits) for key, _, digits, _ in figures], setup.rounds),
        tls_conf="\n".join(conf_lines("TMPDIR")),
        openssl_req=" ".join(OPENSSL_REQ),
        load_seconds=scale.load_seconds,
        idle_seconds=scale.idle_seconds,
        idle_sessions=tls.idle_sessions,
        retr_repeats=scale.retr_repeats,
        big_mib=scale.big_mib,
        scale_note=scale_note,
    )
