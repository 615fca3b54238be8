"""The transfer comparison: ringd's FTP engines, sendfile, splice and copy, side by side."""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from bench import BenchError, cli, log, report, sockets
from bench.checkout import BENCHMARKS_MD, cargo_build, git_revision, release_dir
from bench.cpu import pinned, ticks_per_second, tree_ticks
from bench.machine import Machine, curl_version, load_average, ringd_version, this_machine, utc_now
from bench.medians import median
from bench.rounds import server_order
from bench.runs import Runs
from bench.workspace import Workspace

DESCRIPTION = """\
ringd's FTP transfer engines side by side on loopback: sendfile (zero_copy_method=sendfile),
splice (zero_copy_method=splice) and copy (use_sendfile=NO) for a binary RETR of a large file
from the page cache, splice and copy for a STOR of it (sendfile only writes to sockets: with
zero_copy_method=sendfile uploads copy). ringd is pinned to core 0, curl to core 1. Each figure
is the median of alternating rounds (sendfile splice copy sendfile splice copy ...), a fresh
ringd per run. Writes the result into docs/benchmarks.md between the compare-transfer markers,
leaving the rest of that file alone."""
EPILOG = """\
Needs taskset and curl; not root. The binary is ${CARGO_TARGET_DIR:-target}/release/ringd.
Every process is started by this benchmark and stopped by PID; all traffic stays on 127.0.0.1."""

MARKERS = "compare-transfer"
SERVER_CORE = 0
CLIENT_CORE = 1
PORT = 22131
# Below the kernel's ephemeral ports (curl's side) and apart from the FTP comparison's ranges.
PASSIVE = (3000, 3999)
METHODS = ["sendfile", "splice", "copy"]
# What each engine is called in vsftpd.conf.
SETTINGS = {
    "sendfile": ["use_sendfile=YES", "zero_copy_method=sendfile"],
    "splice": ["use_sendfile=YES", "zero_copy_method=splice"],
    "copy": ["use_sendfile=NO"],
}
READY_S = 5
CURL_MAX_S = 300

# (key, label, decimals, higher is better)
FIGURES = [
    ("retr_mbs", "RETR {size:,} MiB from page cache, MB/s (curl)", 0, True),
    ("retr_cpu", "ringd CPU seconds per GiB sent", 3, False),
    ("stor_mbs", "STOR {size:,} MiB, MB/s (curl -T)", 0, True),
    ("stor_cpu", "ringd CPU seconds per GiB received", 3, False),
]


@dataclass(frozen=True)
class Setup:
    """How the runs were made, as the report tells it."""
    command: str
    date: str
    elapsed_s: int
    rounds: int
    size_mib: int
    machine: Machine
    ringd_version: str
    curl_version: str
    ticks_per_second: int


def vsftpd_conf(root):
    """ringd's vsftpd.conf for every engine, before the engine's own settings. `root`: the
    working directory holding the served tree."""
    low, high = PASSIVE
    lines = [
        "listen=YES", "listen_address=127.0.0.1", f"listen_port={PORT}", "anonymous_enable=YES",
        "local_enable=NO", "no_anon_password=YES", f"anon_root={root}/root", "write_enable=YES",
        "anon_upload_enable=YES", "anon_umask=022", f"pasv_min_port={low}",
        f"pasv_max_port={high}", "max_clients=0", "max_per_ip=0", "xferlog_enable=NO",
    ]
    return "".join(f"{line}\n" for line in lines)


def main(flags):
    argv_shown = cli.COMMAND + " transfer" + "".join(f" {flag}" for flag in flags)
    options = _parser().parse_args(flags)
    for tool in ("taskset", "curl"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found")
    if sockets.tcp_listening(PORT):
        raise BenchError(f"port {PORT} is in use")

    binaries = release_dir()
    if options.build:
        cargo_build("--bin", "ringd")
    started = time.time()
    runs = Runs()
    with Workspace("bench-transfer") as work:
        bench = _Bench(work, binaries / "ringd", options.size_mib, runs)
        bench.make_tree()
        load = load_average()
        for round_number in range(1, options.rounds + 1):
            log(f"round {round_number} of {options.rounds}")
            for method in server_order(METHODS, round_number, balanced=False):
                bench.run(method, round_number)
    elapsed = int(time.time()) - int(started)

    revision = git_revision(["src", "Cargo.toml", "Cargo.lock"], count_untracked=False)
    setup = Setup(
        command=argv_shown,
        date=utc_now(),
        elapsed_s=elapsed,
        rounds=options.rounds,
        size_mib=options.size_mib,
        machine=this_machine(load),
        ringd_version=f"{ringd_version(binaries / 'ringd')} (git {revision})",
        curl_version=curl_version(),
        ticks_per_second=ticks_per_second(),
    )
    report.publish(render(runs, setup), MARKERS, options.out)
    return 0


def _parser():
    parser = cli.parser("transfer", DESCRIPTION, EPILOG)
    parser.add_argument("--size-mib", type=cli.positive_int, default=1024, metavar="N",
                        help="size of the file downloaded and uploaded (default 1024)")
    parser.add_argument("--rounds", type=cli.positive_int, default=3, metavar="N",
                        help="alternating rounds (default 3)")
    parser.add_argument("--out", default=BENCHMARKS_MD, metavar="FILE",
                        help="markdown file to update (default docs/benchmarks.md; - only "
                             "prints the table)")
    return parser


class _Bench:
    """The served tree, a fresh ringd per run, and the figures of each run."""

    def __init__(self, work, ringd, size_mib, runs):
        self._work = work
        self._ringd = ringd
        self._size_mib = size_mib
        self._runs = runs

    def make_tree(self):
        """Sessions act as the ftp user: the tree readable by all, the upload directory
        writable. The file and its copy to upload are written back now, so that no writeback
        of them runs during a measurement, and read back into the page cache."""
        work = self._work.dir
        (work / "root" / "up").mkdir(parents=True)
        work.chmod(0o755)
        (work / "root").chmod(0o755)
        (work / "root" / "up").chmod(0o777)
        big = work / "root" / "big"
        with open(big, "wb") as file:
            for _ in range(self._size_mib):
                file.write(os.urandom(1 << 20))
        shutil.copyfile(big, work / "upload-src")
        for path in (big, work / "upload-src"):
            with open(path, "rb") as file:
                os.fsync(file.fileno())
                while file.read(1 << 20):
                    pass

    def _start(self, method):
        conf = self._work.dir / f"{method}.conf"
        settings = "".join(f"{line}\n" for line in SETTINGS[method])
        conf.write_text(vsftpd_conf(self._work.dir) + settings)
        argv = [self._ringd, "--ftp-conf", conf, "--shards", "1",
                "--control-socket", self._work.dir / "ringd.sock"]
        server = self._work.start("ringd", pinned(SERVER_CORE, argv))
        server.wait_until(lambda: sockets.tcp_listening(PORT), READY_S,
                          f"nothing listens on port {PORT}")
        return server

    def _curl(self, *flags):
        """curl's -w output, or None when it failed."""
        done = subprocess.run(pinned(CLIENT_CORE, ["curl", "-sS", "--max-time", CURL_MAX_S,
                                                   "-o", "/dev/null", *flags]),
                              stdout=subprocess.PIPE, text=True, timeout=CURL_MAX_S + 10)
        return done.stdout if done.returncode == 0 else None

    def run(self, method, round_number):
        """One engine's run against a fresh ringd: RETR, then STOR but with sendfile. The CPU
        time is ringd's, all its threads: the shard, and the io_uring workers that splice."""
        server = self._start(method)
        size = self._size_mib << 20
        gib = self._size_mib / 1024
        tck = ticks_per_second()
        before = tree_ticks(server.pid)
        got = self._curl("-w", "%{speed_download} %{size_download}", f"ftp://127.0.0.1:{PORT}/big")
        ticks = tree_ticks(server.pid) - before
        speed, received = got.split(" ") if got is not None else ("0", "0")
        if int(received) != size:
            speed = "0"  # a short download counts as a failure
        self._runs.record("retr_mbs", method, round_number, float(speed) / 1e6, f"{received} B")
        self._runs.record("retr_cpu", method, round_number, ticks / tck / gib,
                          f"{ticks} ticks of 1/{tck} s")
        if method != "sendfile":
            stored = self._work.dir / "root" / "up" / "stor.bin"
            before = tree_ticks(server.pid)
            speed = self._curl("-w", "%{speed_upload}", "-T", self._work.dir / "upload-src",
                               f"ftp://127.0.0.1:{PORT}/up/stor.bin") or "0"
            ticks = tree_ticks(server.pid) - before
            stored_size = stored.stat().st_size if stored.exists() else 0
            if stored_size != size:
                speed = "0"
            # Removed before its writeback starts, so the next run does not pay for it.
            stored.unlink(missing_ok=True)
            self._runs.record("stor_mbs", method, round_number, float(speed) / 1e6,
                              f"stored {stored_size} B")
            self._runs.record("stor_cpu", method, round_number, ticks / tck / gib,
                              f"{ticks} ticks of 1/{tck} s")
        self._work.stop(server)


def render(runs, setup):
    """The report's section: figures with the best engine for each, every run, how they were
    measured."""
    figures = [(key, label.format(size=setup.size_mib), digits, higher)
               for key, label, digits, higher in FIGURES]
    rows = []
    for key, label, digits, higher in figures:
        values = {method: median(runs.values(key, method)) for method in METHODS}
        measured = {method: value for method, value in values.items() if value is not None}
        best = (max if higher else min)(measured, key=measured.get) if measured else ""
        cells = [report.fixed(values[method], digits) if values[method] is not None else "—"
                 for method in METHODS]
        rows.append([label, *cells, best])
    return report.render(
        "transfer.md",
        **report.run_fields(setup),
        rounds=setup.rounds,
        methods=", ".join(METHODS),
        ringd_version=setup.ringd_version,
        curl_version=setup.curl_version,
        figures_table=report.table(["figure", *METHODS, "best"], rows),
        runs_table=report.run_table(runs, METHODS, [(key, digits) for key, _, digits, _ in figures],
                                    setup.rounds),
        conf=vsftpd_conf("TMPDIR").rstrip(),
        size_mib=setup.size_mib,
        ticks_per_second=setup.ticks_per_second,
    )
