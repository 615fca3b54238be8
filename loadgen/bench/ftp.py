"""The FTP comparison: vsftpd 3.0.3, pyftpdlib and ringd (and an earlier ringd), side by side."""

import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import BenchError, certificate, cli, ftp_tls, log, report, sockets
from bench.checkout import (BENCHMARKS_MD, ROOT, cargo_build, git_revision, install_packages,
                            release_dir)
from bench.cpu import children, core_busy_ticks, pinned, ticks_per_second
from bench.machine import (Machine, curl_version, debian_version, first_line, load_average, output,
                           ringd_version, this_machine, utc_now)
from bench.medians import median
from bench.rounds import schedule
from bench.runs import Runs
from bench.workspace import Workspace

DESCRIPTION = """\
Side-by-side FTP benchmark on loopback, in one run: Debian's vsftpd 3.0.3, python3-pyftpdlib
and ringd, each pinned to core 0, the clients (ringload, curl, a python ftplib client) pinned
to core 1. Figures: full anonymous sessions/s with 64 clients, PSS per idle logged-in session,
RETR and STOR of a large file (throughput, server CPU/GiB), anon_max_rate accuracy, (ringd
only) fair shares under max_rate_total, and logins/s of a system account through PAM (vsftpd
and ringd, the same account and hash); over explicit FTPS (vsftpd and ringd, one certificate):
TLS sessions/s, PSS per idle TLS session and TLS RETR, with what each client negotiated. Each
figure is the median of alternating runs (A B C, then C B A, ...), a fresh server per run.
Writes the result into docs/benchmarks.md between the compare-ftp markers and the FTPS figures
between the compare-ftp-tls markers, leaving the rest of that file alone."""
EPILOG = """\
Needs root (vsftpd), taskset, curl and (FTPS) openssl; installs vsftpd and python3-pyftpdlib
with apt-get when missing (tests/interop/install-packages.sh). Every process is started by this
benchmark and stopped by PID; all traffic stays on 127.0.0.1."""

MARKERS = "compare-ftp"
FIGURE_ORDER = ("sessions", "rate", "fair", "idle", "retr", "stor", "logins",
                *ftp_tls.FIGURE_ORDER)
SERVERS = ["vsftpd", "pyftpdlib", "ringd"]
BASELINE = "ringd-before"
PORTS = {"vsftpd": 22121, "pyftpdlib": 22122, "ringd": 22123, BASELINE: 22124}
# Each server gets its own passive range (below the kernel's ephemeral ports): a data connection
# the server closes leaves its port in TIME_WAIT for 60 s, and a shared range let one server's
# thousands of those make another's PASV binds fail.
PASSIVE = {"vsftpd": (4000, 11999), "pyftpdlib": (12000, 17999), "ringd": (18000, 24999),
           BASELINE: (25000, 31999)}
DEBIAN_PYTHON = "/usr/bin/python3"  # where python3-pyftpdlib lives
SCRIPTS = Path(__file__).resolve().parent / "scripts"
SERVER_CORE = 0
CLIENT_CORE = 1
RATE_LIMIT = 1_000_000
# max_rate_total shared by FAIR_SESSIONS downloads: each should get RATE_LIMIT as well.
TOTAL_LIMIT = 10_000_000
FAIR_SESSIONS = 10
READY_S = 5
PASSIVE_CLEAR_S = 65
SETTLE_S = 5
CURL_MAX_S = 120

# (key, label, decimals, goal for ringd); the labels of a run's sizes are filled in by `render`.
FIGURES = [
    ("sessions", "full anonymous sessions/s, 64 clients (connect, login, PASV, RETR 4 KiB, QUIT)",
     0, "≥ 3 × pyftpdlib"),
    ("idle_pss", "PSS per idle logged-in session, kB ({idle_note})",
     1, "≤ 1/10 vsftpd, ≤ 1/2 pyftpdlib"),
    ("idle_added", "added PSS per idle session, kB ((holding − before) / sessions)", 1, ""),
    ("retr_mbs", "RETR {big_mib} MiB from page cache, MB/s (curl)", 0, "≥ 1.0 × vsftpd"),
    ("retr_cpu", "server CPU seconds per GiB sent", 3, "≤ 0.7 × vsftpd"),
    ("stor_mbs", "STOR {big_mib} MiB, MB/s (curl -T)", 0, "≥ 1.2 × vsftpd"),
    ("stor_cpu", "server CPU seconds per GiB received", 3, ""),
    ("rate_total", "anon_max_rate={rate_limit:,}: bytes / total time (connect to 226), error %",
     2, "within 1 %"),
    ("rate_data", "same, bytes / (last byte − first byte), error %", 2, "within 1 %"),
    ("rate_window", "same, worst 3 s window after the first 100 ms, error %", 2, "within 1 %"),
    ("fair_worst", "max_rate_total={total_limit:,} shared by {fair_sessions} downloads: "
                   "worst session vs its equal share, %", 2, "within 5 %"),
    ("fair_total", "same, all sessions together vs max_rate_total, error %", 2, ""),
    ("logins", "system-account logins/s through PAM, 16 clients (connect, USER, PASS, QUIT)",
     0, ""),
]
# Goals on ringd / vsftpd: at least (">=") or at most ("<=") the factor.
VSFTPD_GOALS = {"retr_mbs": (">=", 1.0), "retr_cpu": ("<=", 0.7), "stor_mbs": (">=", 1.2)}
# Goals on ringd's error in %, met within ± the bound.
ERROR_BOUNDS = {"rate_total": 1.0, "rate_data": 1.0, "rate_window": 1.0, "fair_worst": 5.0}


@dataclass(frozen=True)
class Scale:
    """The sizes and durations of a run."""
    quick: bool
    load_seconds: int
    idle_seconds: int
    idle_sessions: int
    big_mib: int
    retr_repeats: int
    rate_mib: int


@dataclass(frozen=True)
class Setup:
    """How the runs were made, as the report tells it."""
    command: str
    date: str
    elapsed_s: int
    rounds: int
    servers: list
    machine: Machine
    scale: Scale
    vsftpd_version: str
    vsftpd_deb: str
    pyftpdlib_version: str
    pyftpdlib_deb: str
    python_version: str
    ringd_version: str
    curl_version: str
    hash_method: str


def vsftpd_conf(port, mode, passive, root, rate_limit=RATE_LIMIT, total_limit=TOTAL_LIMIT,
                pam_service=""):
    """One vsftpd.conf for vsftpd and ringd (ringd reads vsftpd.conf syntax). `mode`: ro, rw,
    rate, fair, local or tls; `root`: the working directory with the served tree, an empty
    one and (tls) the certificate."""
    low, high = passive
    lines = [
        "listen=YES", "listen_ipv6=NO", "background=NO", "listen_address=127.0.0.1",
        f"listen_port={port}", "anonymous_enable=YES", "local_enable=NO", "no_anon_password=YES",
        f"anon_root={root}/root", "seccomp_sandbox=NO", f"secure_chroot_dir={root}/empty",
        "pasv_enable=YES", f"pasv_min_port={low}", f"pasv_max_port={high}", "max_clients=0",
        "max_per_ip=0", "xferlog_enable=NO",
    ]
    lines += {
        "ro": ["write_enable=NO"],
        "rw": ["write_enable=YES", "anon_upload_enable=YES", "anon_umask=022"],
        "rate": ["write_enable=NO", f"anon_max_rate={rate_limit}"],
        "fair": ["write_enable=NO", f"max_rate_total={total_limit}"],
        # System accounts through PAM; the anonymous lines above stay and change nothing.
        "local": ["local_enable=YES", "anonymous_enable=NO", f"pam_service_name={pam_service}",
                  "delay_failed_login=0"],
        # Explicit FTPS with the run's certificate, anonymous sessions forced onto TLS.
        "tls": ["write_enable=NO", *ftp_tls.conf_lines(root)],
    }[mode]
    return "".join(f"{line}\n" for line in lines)


def main(flags):
    argv_shown = cli.COMMAND + " ftp" + "".join(f" {flag}" for flag in flags)
    parser = _parser()
    options = parser.parse_args(flags)
    rounds = options.rounds or (1 if options.quick else 3)
    out = options.out or (None if options.quick else BENCHMARKS_MD)
    if options.quick:
        scale = Scale(True, 3, 2, options.idle or 200, options.big_mib or 64, 2, 4)
    else:
        scale = Scale(False, 10, 5, options.idle or 1000, options.big_mib or 256, 4, 16)
    figures = options.figures.split(",")
    unknown = [figure for figure in figures if figure not in FIGURE_ORDER]
    if unknown:
        parser.error(f"unknown figure {unknown[0]} (known: {','.join(FIGURE_ORDER)})")
    servers = list(SERVERS)
    if options.baseline:
        if not os.path.isfile(options.baseline) or not os.access(options.baseline, os.X_OK):
            parser.error(f"--baseline {options.baseline} is not an executable")
        servers.append(BASELINE)

    if shutil.which("vsftpd") is None or not _has_pyftpdlib():
        log("installing vsftpd and python3-pyftpdlib (without letting a package start a daemon)")
        install_packages("vsftpd", "python3-pyftpdlib")
    tls = [figure for figure in figures if figure in ftp_tls.FIGURE_ORDER]
    for tool in ("taskset", "curl", "vsftpd", *(["openssl"] if tls else [])):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found")
    if not _has_pyftpdlib():
        raise BenchError("python3-pyftpdlib missing")
    if os.geteuid() != 0:
        raise BenchError("vsftpd needs root")
    for server in servers:
        if sockets.tcp_listening(PORTS[server]):
            raise BenchError(f"port {PORTS[server]} is in use")
    # The hard limit (20,000 here) is plenty for the idle sessions.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    binaries = release_dir()
    if options.build:
        # ringload is another package's binary, which `--bin ringload` does not find.
        cargo_build("-p", "ringd", "-p", "ringload")
    started = time.time()
    runs = Runs()
    with Workspace("bench-ftp") as work:
        bench = _Bench(work, binaries, options.baseline, scale, runs)
        bench.make_tree()
        hash_method = bench.add_account() if "logins" in figures else "?"
        if tls:
            bench.make_certificate()
        load = load_average()
        for round_number, plan in schedule(rounds, [f for f in FIGURE_ORDER if f in figures],
                                           servers, balanced=True):
            log(f"round {round_number} of {rounds}")
            for figure, server in plan:
                getattr(bench, figure)(server, round_number)
    elapsed = int(time.time()) - int(started)

    revision = git_revision(["src", "Cargo.toml", "Cargo.lock"], count_untracked=False)
    setup = Setup(
        command=argv_shown,
        date=utc_now(),
        elapsed_s=elapsed,
        rounds=rounds,
        servers=servers,
        machine=this_machine(load),
        scale=scale,
        vsftpd_version=_vsftpd_version(),
        vsftpd_deb=debian_version("vsftpd"),
        pyftpdlib_version=output([DEBIAN_PYTHON, "-c",
                                  "import pyftpdlib; print(pyftpdlib.__ver__)"]).strip(),
        pyftpdlib_deb=debian_version("python3-pyftpdlib"),
        python_version=first_line([DEBIAN_PYTHON, "--version"]),
        ringd_version=f"{ringd_version(binaries / 'ringd')} (git {revision})",
        curl_version=curl_version(),
        hash_method=hash_method,
    )
    # A run of only the FTPS figures leaves the plain figures' section as it was, and the other
    # way round.
    if len(tls) < len(figures):
        report.publish(render(runs, setup), MARKERS, out)
    if tls:
        tls_setup = ftp_tls.TlsSetup(
            certificate=certificate.CERTIFICATE,
            openssl_version=first_line(["openssl", "version"]),
            libssl_deb=debian_version("libssl3"),
            rustls_version=certificate.rustls_version((ROOT / "Cargo.lock").read_text()),
            negotiated=bench.negotiated,
            idle_sessions=bench.tls_idle_sessions,
        )
        report.publish(ftp_tls.render(runs, setup, tls_setup), ftp_tls.MARKERS, out)
    return 0


def _parser():
    parser = cli.parser("ftp", DESCRIPTION, EPILOG)
    parser.add_argument("--quick", action="store_true",
                        help="one round, 3 s load runs, 64 MiB large file, 4 MiB rate-limited "
                             "file, 200 idle sessions; prints the table, writes a file only "
                             "with --out")
    parser.add_argument("--rounds", type=cli.positive_int, metavar="N",
                        help="alternating rounds (default 3; 1 with --quick)")
    parser.add_argument("--out", metavar="FILE",
                        help="markdown file to update (default docs/benchmarks.md, none with "
                             "--quick; - only prints)")
    parser.add_argument("--idle", type=cli.positive_int, metavar="N",
                        help="idle sessions held per server (default 1000; 200 with --quick)")
    parser.add_argument("--big-mib", type=cli.positive_int, metavar="N",
                        help="size of the RETR/STOR file in MiB (default 256; 64 with --quick)")
    parser.add_argument("--baseline", metavar="RINGD",
                        help='also measure this ringd binary (an earlier build), as "ringd-before"')
    parser.add_argument("--figures", default=",".join(FIGURE_ORDER), metavar="LIST",
                        help="only these figures, comma-separated "
                             f"({','.join(FIGURE_ORDER)})")
    return parser


def _has_pyftpdlib():
    found = subprocess.run([DEBIAN_PYTHON, "-c", "import pyftpdlib"], capture_output=True)
    return found.returncode == 0


def _vsftpd_version():
    # vsftpd prints its version on its standard input.
    return first_line(["sh", "-c", "vsftpd -v 0>&1"])


def _write_random(path, mib):
    with open(path, "wb") as file:
        for _ in range(mib):
            file.write(os.urandom(1 << 20))


def _read_through(*paths):
    """Reads files to the end, so that they are in the page cache."""
    for path in paths:
        with open(path, "rb") as file:
            while file.read(1 << 20):
                pass


def _round(value):
    """`value` rounded half away from zero, as the notes have always rounded (jq's round)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _number(value):
    """A number in a note as jq printed it: whole values without a decimal point."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def _error_pct(rate):
    """The error of a rate against the per-session limit, in %."""
    return None if rate is None else rate / RATE_LIMIT * 100 - 100


class _Bench(ftp_tls.TlsFigures):
    """The served tree, the account for the logins, the certificate, a server per run, and the
    figures (the FTPS ones in ftp_tls)."""

    def __init__(self, work, binaries, baseline, scale, runs):
        self._work = work
        self._binaries = binaries
        self._baseline = baseline
        self._scale = scale
        self._runs = runs
        self._server = None
        self._user = f"rfb{random.randrange(10000, 100000)}"
        self._password = f"bench-{random.randrange(32768)}-{random.randrange(32768)}"
        self._pam_service = f"ringd-bench-{os.getpid()}"

    def make_tree(self):
        """The served tree: its root owned by root and not writable (vsftpd refuses a writable
        chroot), with an upload directory anyone may write."""
        work = self._work.dir
        for directory, mode in ((work, 0o755), (work / "root", 0o755), (work / "empty", 0o755),
                                (work / "root" / "up", 0o777)):
            directory.mkdir(exist_ok=True)
            directory.chmod(mode)
        (work / "root" / "f4k").write_bytes(os.urandom(4096))
        _write_random(work / "root" / "big", self._scale.big_mib)
        _write_random(work / "root" / "rated", self._scale.rate_mib)
        shutil.copyfile(work / "root" / "big", work / "upload-src")
        _read_through(work / "root" / "big", work / "upload-src")

    def add_account(self):
        """The account and PAM service of the logins figure, removed at exit. Returns the
        method of the password hash the system chose."""
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", self._user], check=True)
        self._work.at_exit(subprocess.run, ["userdel", "--remove", self._user],
                           capture_output=True)
        subprocess.run(["chpasswd"], input=f"{self._user}:{self._password}\n", text=True,
                       check=True)
        pam = Path("/etc/pam.d") / self._pam_service
        pam.write_text("auth required pam_unix.so\naccount required pam_unix.so\n")
        self._work.at_exit(pam.unlink, True)
        shadow = output(["getent", "shadow", self._user])
        return shadow.split(":")[1].split("$")[1]

    def _wait_passive_clear(self, name, passive):
        """Waits (at most PASSIVE_CLEAR_S) until no connection in TIME_WAIT holds a port of the
        server's passive range: ringd cannot bind a passive port that is in TIME_WAIT (425 Could
        not listen...), so a run that follows thousands of its own sessions would fail for a
        reason the figure does not measure. The servers' control ports are not counted: they
        (22121-22124) lie in ringd's range, every control connection a server closes first
        (QUIT, the server stopped) leaves its port in TIME_WAIT, and that keeps no passive port
        from binding."""
        low, high = passive
        began = time.monotonic()
        while sockets.time_wait_between(low, high, excluding=tuple(PORTS.values())):
            if time.monotonic() - began > PASSIVE_CLEAR_S:
                return
            time.sleep(0.5)
        waited = time.monotonic() - began
        if waited >= 0.5:
            log(f"  (waited {int(waited)} s for {name}'s passive ports to leave TIME_WAIT)")

    def _start(self, name, mode, passive=None):
        """Starts server `name` with a configuration of `mode`, and the passive range
        `passive` instead of its own when given; returns its port."""
        passive = passive or PASSIVE[name]
        if name.startswith("ringd"):
            self._wait_passive_clear(name, passive)
        port = PORTS[name]
        if name == "pyftpdlib":
            low, high = passive
            argv = [DEBIAN_PYTHON, SCRIPTS / "pyftpd.py", port, self._work.dir / "root", mode,
                    f"{low}-{high}"]
        else:
            conf = self._work.dir / f"{name}.conf"
            conf.write_text(vsftpd_conf(port, mode, passive, self._work.dir,
                                        pam_service=self._pam_service))
            if name == "vsftpd":
                argv = ["vsftpd", conf]
            else:
                binary = self._baseline if name == BASELINE else self._binaries / "ringd"
                argv = [binary, "--ftp-conf", conf, "--shards", "1"]
        self._server = self._work.start(name, pinned(SERVER_CORE, argv))
        self._server.wait_until(lambda: sockets.tcp_listening(port), READY_S,
                                f"nothing listens on port {port}")
        return port

    def _stop(self):
        self._work.stop(self._server)
        self._server = None

    def _settle(self):
        """Waits (at most SETTLE_S) until the server has no child processes left (vsftpd's
        sessions)."""
        deadline = time.monotonic() + SETTLE_S
        while children(self._server.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _client(self, argv, timeout_s):
        return subprocess.run(pinned(CLIENT_CORE, argv), stdout=subprocess.PIPE, text=True,
                              timeout=timeout_s)

    def _ringload(self, port, flags, duration):
        argv = [self._binaries / "ringload", "ftp", f"127.0.0.1:{port}", *flags,
                "--duration", duration, "--json"]
        done = self._client(argv, timeout_s=duration * 3 + 120)
        done.check_returncode()
        return json.loads(done.stdout)

    def _ftp_client(self, *arguments):
        """An ftplib client's JSON, or None when it failed."""
        done = self._client([DEBIAN_PYTHON, SCRIPTS / "ftp_clients.py", *arguments], timeout_s=300)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def sessions(self, name, round_number):
        port = self._start(name, "ro")
        result = self._ringload(port, ["--scenario", "retr", "--file", "f4k", "--sessions", "64"],
                                self._scale.load_seconds)
        errors = ", ".join(f"{error}: {count}" for error, count in result["errors"].items())
        note = (f"{result['sessions_completed']} done, {result['sessions_failed']} failed, "
                f"errors {errors}")
        self._runs.record("sessions", name, round_number, result["sessions_per_s"], note)
        self._stop()

    def idle(self, name, round_number):
        port = self._start(name, "ro")
        result = self._ringload(port, ["--scenario", "idle", "--sessions",
                                       self._scale.idle_sessions, "--server-pid", self._server.pid],
                                self._scale.idle_seconds)
        memory = result["memory"]
        note = (f"{result['held_at_end']} of {self._scale.idle_sessions} held, "
                f"{memory['holding']['processes']} processes")
        # ringload counts KiB; the report kB.
        self._runs.record("idle_pss", name, round_number, memory["pss_kib_per_session"] * 1.024,
                          note)
        self._runs.record("idle_added", name, round_number,
                          memory["added_pss_kib_per_session"] * 1.024, note)
        self._stop()

    def retr(self, name, round_number):
        """curl fetches the file `retr_repeats` times; throughput is the median curl speed, CPU
        is over all of them."""
        port = self._start(name, "ro")
        self._settle()
        before = core_busy_ticks(SERVER_CORE)
        speeds = []
        for _ in range(self._scale.retr_repeats):
            done = self._client(["curl", "-sS", "--max-time", CURL_MAX_S, "-o", "/dev/null",
                                 "-w", "%{speed_download}", f"ftp://127.0.0.1:{port}/big"],
                                timeout_s=CURL_MAX_S + 10)
            speeds.append(done.stdout if done.returncode == 0 else "0")
        self._settle()
        ticks = core_busy_ticks(SERVER_CORE) - before
        tck = ticks_per_second()
        self._runs.record("retr_mbs", name, round_number,
                          statistics.median(float(speed) for speed in speeds) / 1e6,
                          "curl B/s: " + " ".join(speeds))
        gib = self._scale.retr_repeats * self._scale.big_mib / 1024
        self._runs.record("retr_cpu", name, round_number, ticks / tck / gib,
                          f"{ticks} ticks of 1/{tck} s")
        self._stop()

    def stor(self, name, round_number):
        port = self._start(name, "rw")
        uploads = self._work.dir / "root" / "up"
        self._empty(uploads)
        self._settle()
        before = core_busy_ticks(SERVER_CORE)
        stored = uploads / f"stor-{round_number}.bin"
        done = self._client(["curl", "-sS", "--max-time", CURL_MAX_S, "-o", "/dev/null",
                             "-w", "%{speed_upload}", "-T", self._work.dir / "upload-src",
                             f"ftp://127.0.0.1:{port}/up/{stored.name}"],
                            timeout_s=CURL_MAX_S + 10)
        speed = done.stdout if done.returncode == 0 else "0"
        self._settle()
        ticks = core_busy_ticks(SERVER_CORE) - before
        tck = ticks_per_second()
        size = stored.stat().st_size if stored.exists() else 0
        self._runs.record("stor_mbs", name, round_number, float(speed) / 1e6, f"stored {size} B")
        self._runs.record("stor_cpu", name, round_number,
                          ticks / tck / (self._scale.big_mib / 1024), f"{ticks} ticks of 1/{tck} s")
        self._empty(uploads)
        self._stop()

    @staticmethod
    def _empty(directory):
        for path in directory.iterdir():
            path.unlink()

    def rate(self, name, round_number):
        if name == "pyftpdlib":
            return  # its command line has no rate limit
        port = self._start(name, "rate")
        result = self._ftp_client("rate", "127.0.0.1", port, "rated")
        if result is None:
            self._runs.record("rate_total", name, round_number, None, "client failed")
            self._stop()
            return
        self._runs.record("rate_total", name, round_number, _error_pct(result["rate_total"]),
                          f"{result['bytes']} B in {_round(result['time_total_s'] * 1000)} ms")
        self._runs.record("rate_data", name, round_number, _error_pct(result["rate_data"]))
        if result["windows_3s"]:
            low, high = _error_pct(result["window_min"]), _error_pct(result["window_max"])
            worst = max(low, high, key=abs)
            note = (f"{result['windows_3s']} windows: {_number(_round(low * 100) / 100)} % to "
                    f"{_number(_round(high * 100) / 100)} %")
        else:
            worst, note = None, "no 3 s window"
        self._runs.record("rate_window", name, round_number, worst, note)
        self._stop()

    def fair(self, name, round_number):
        """ringd only: vsftpd and pyftpdlib have no limit shared by all sessions."""
        if not name.startswith("ringd"):
            return
        port = self._start(name, "fair")
        result = self._ftp_client("fairness", "127.0.0.1", port, "rated", FAIR_SESSIONS,
                                  TOTAL_LIMIT)
        if result is None:
            self._runs.record("fair_worst", name, round_number, None, "client failed")
            self._stop()
            return
        rates = " ".join(str(_round(rate / 1000)) for rate in result["rates"])
        note = (f"{_number(_round(result['window_s'] * 10) / 10)} s with all running; "
                f"rates {rates} kB/s")
        self._runs.record("fair_worst", name, round_number, result["worst_vs_share_pct"], note)
        self._runs.record("fair_total", name, round_number, result["total_vs_limit_pct"])
        self._stop()

    def logins(self, name, round_number):
        """System-account logins/s: vsftpd and ringd log the same account in through the same
        PAM service (pam_unix: the same password hash, the system's default method),
        USER/PASS/QUIT in a loop from 16 clients. The build before system accounts
        (ringd-before) cannot."""
        if name not in ("vsftpd", "ringd"):
            return
        port = self._start(name, "local")
        result = self._ringload(port, ["--scenario", "login", "--user", self._user,
                                       "--pass", self._password, "--sessions", "16"],
                                self._scale.load_seconds)
        self._runs.record("logins", name, round_number, result["sessions_per_s"],
                          f"{result['sessions_completed']} done, "
                          f"{result['sessions_failed']} failed")
        self._stop()


def _ratio(top, bottom):
    return top / bottom if top is not None and bottom not in (None, 0) else None


def _met(key, ringd, per_vsftpd, per_pyftpdlib):
    """Whether ringd's median meets its goal: "yes", "no", or "" when it has none or the
    figures to judge are missing."""
    if key in ERROR_BOUNDS:
        return "" if ringd is None else ("yes" if abs(ringd) <= ERROR_BOUNDS[key] else "no")
    if key == "sessions" and per_pyftpdlib is not None:
        return "yes" if per_pyftpdlib >= 3 else "no"
    if key == "idle_pss" and per_vsftpd is not None and per_pyftpdlib is not None:
        return "yes" if per_vsftpd <= 0.1 and per_pyftpdlib <= 0.5 else "no"
    return report.ratio_goal_met(VSFTPD_GOALS, key, per_vsftpd)


def render(runs, setup):
    """The report's section: figures, before and after (with a baseline), every run, how they
    were measured."""
    scale = setup.scale
    idle_note = f"{scale.idle_sessions} sessions" + (", --quick" if scale.quick else "")
    sizes = dict(idle_note=idle_note, big_mib=scale.big_mib, rate_limit=RATE_LIMIT,
                 total_limit=TOTAL_LIMIT, fair_sessions=FAIR_SESSIONS)
    figures = [(key, label.format(**sizes), digits, goal) for key, label, digits, goal in FIGURES]

    def med(key, server):
        return median(runs.values(key, server))

    rows = []
    for key, label, digits, goal in figures:
        value = {server: med(key, server) for server in SERVERS}
        if all(value[server] is None for server in SERVERS):
            continue  # a figure left out of this run (--figures)
        cells = [report.fixed(value[server], digits) if value[server] is not None else "—"
                 for server in SERVERS]
        per_vsftpd = _ratio(value["ringd"], value["vsftpd"])
        per_pyftpdlib = _ratio(value["ringd"], value["pyftpdlib"])
        if key.startswith(("rate_", "fair_")):
            ratios = ["—", "—"]
        else:
            ratios = [report.fixed(per_vsftpd, 2), report.fixed(per_pyftpdlib, 2)]
        rows.append([label, *cells, *ratios, goal,
                     _met(key, value["ringd"], per_vsftpd, per_pyftpdlib)])
    figures_table = report.table(["figure", "vsftpd", "pyftpdlib", "ringd", "ringd / vsftpd",
                                  "ringd / pyftpdlib", "goal for ringd", "met"], rows)

    baseline = ""
    if BASELINE in setup.servers:
        before_after = []
        for key, label, digits, _ in figures:
            before, after = med(key, BASELINE), med(key, "ringd")
            if before is not None or after is not None:
                before_after.append([label, report.fixed(before, digits),
                                     report.fixed(after, digits),
                                     report.fixed(_ratio(after, before), 3)])
        table = report.table(["figure", "ringd before", "ringd", "after / before"], before_after)
        baseline = "\n\n" + report.render("ftp-baseline.md", table=table).rstrip("\n")

    scale_note = ""
    if scale.big_mib < 1024 or scale.idle_sessions < 10000:
        scale_note = report.render("ftp-scale-note.md", big_mib=scale.big_mib,
                                   idle_sessions=scale.idle_sessions)
    low, high = "LOW", "HIGH"
    return report.render(
        "ftp.md",
        **report.run_fields(setup),
        rounds=setup.rounds,
        servers=", ".join(setup.servers),
        vsftpd_version=setup.vsftpd_version,
        vsftpd_deb=setup.vsftpd_deb,
        pyftpdlib_version=setup.pyftpdlib_version,
        pyftpdlib_deb=setup.pyftpdlib_deb,
        python_version=setup.python_version,
        ringd_version=setup.ringd_version,
        curl_version=setup.curl_version,
        figures_table=figures_table,
        baseline=baseline,
        runs_table=report.run_table(runs, setup.servers,
                                    [(key, digits) for key, _, digits, _ in figures], setup.rounds),
        conf=vsftpd_conf("PORT", "ro", (low, high), "TMPDIR").rstrip(),
        rate_limit=RATE_LIMIT,
        total_limit=TOTAL_LIMIT,
        fair_sessions=FAIR_SESSIONS,
        fair_share=TOTAL_LIMIT // FAIR_SESSIONS,
        **{f"{server}_passive": "-".join(map(str, PASSIVE[server])) for server in SERVERS},
        load_seconds=scale.load_seconds,
        idle_seconds=scale.idle_seconds,
        idle_sessions=scale.idle_sessions,
        retr_repeats=scale.retr_repeats,
        big_mib=scale.big_mib,
        rate_mib=scale.rate_mib,
        hash_method=setup.hash_method,
        scale_note=scale_note,
    )
