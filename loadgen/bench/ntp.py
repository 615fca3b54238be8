"""The NTP comparison: chronyd, the udp-reflector (the syscall floor) and ringd, side by side,
plain and (chronyd and ringd) over NTS."""

import json
import shutil
import subprocess
import time
from dataclasses import dataclass

from bench import BenchError, cli, log, nts, report, sockets
from bench.certificate import CERTIFICATE, make_certificate, rustls_version
from bench.checkout import (BENCHMARKS_MD, ROOT, cargo_build, git_revision, install_packages,
                            release_dir)
from bench.cpu import pinned, process_ticks, ticks_per_second
from bench.machine import Machine, debian_version, first_line, load_average, this_machine, utc_now
from bench.medians import median, ramp_median
from bench.rounds import schedule
from bench.runs import Runs
from bench.workspace import Workspace

DESCRIPTION = """\
Side-by-side NTP benchmark on loopback, in one run: chronyd, the udp-reflector (the syscall
floor) and ringd, each pinned to core 0, loaded by ringload pinned to core 1. Measures CPU time
per answered request at 80,000/s, loss at 200,000/s, p99 |offset| at 150,000/s and the ramp's
maximum rate; each figure is the median of alternating runs (A B C A B C ...). Then, against a
second chronyd and ringd serving NTS with one certificate: CPU time per answered NTS request at
80,000/s, NTS loss at 100,000/s, and NTS-KE handshakes/s with 16 clients and the server's CPU
per handshake. Writes both results into docs/benchmarks.md between markers (compare-ntp,
compare-nts), leaving the rest of that file alone."""
EPILOG = """\
Safety: chronyd always runs as `chronyd -x` (it never touches the system clock); every process
is started by this benchmark and stopped by PID; all load goes to 127.0.0.1."""

MARKERS = "compare-ntp"
SERVERS = ("chronyd", "reflector", "ringd")
FIGURE_ORDER = ("cpu", "loss", "offset", "ramp")
SERVER_CORE = 0
LOAD_CORE = 1
CPU_RATE = 80_000
LOSS_RATE = 200_000
OFFSET_RATE = 150_000
READY_S = 10
PROBES = 50

# key, label, value format, goal for ringd
FIGURES = [
    ("cpu", f"CPU time per answered request at {CPU_RATE:,}/s (µs)", "{:.2f}",
     "≤ 0.8 × chronyd and ≤ reflector"),
    ("loss", f"loss at {LOSS_RATE:,}/s (%)", "{:.3f}", "≤ 0.1 %"),
    ("offset", f"p99 \\|offset\\| at {OFFSET_RATE:,}/s (µs)", "{:.2f}", "≤ 5 µs"),
    ("ramp", "highest rate with loss ≤ 0.1 % (ramp, requests/s)", "{:,.0f}", ""),
]
RATIOS = [("ringd", "chronyd"), ("ringd", "reflector"), ("reflector", "chronyd")]
BEHIND = "behind"
RAMP_STOPPED_BY_GENERATOR = "generator-fell-behind"


@dataclass(frozen=True)
class Setup:
    """How the runs were made, as the report tells it."""
    command: str
    date: str
    elapsed_s: int
    rounds: int
    servers: list
    machine: Machine
    chrony_version: str
    ringd_version: str
    run_seconds: float
    step_seconds: float


def server_directives(port):
    """The same server directives for chronyd and ringd. `noclientlog`: chronyd's fastest
    setting, and with it neither server keeps per-client state or rate-limits, so both do the
    same work per request."""
    return f"port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\nnoclientlog\n"


def chronyd_housekeeping(directory, instance="chronyd"):
    """What chronyd's file adds: no command port, a pidfile of its own."""
    return ["cmdport 0", f"pidfile {directory}/{instance}.pid"]


def chronyd_argv(conf, serves_nts):
    """chronyd's command: always -x (it never touches the clock). Serving NTS it runs as root
    (-u root): its NTS-KE helper reads the key after dropping to the packaged user, who cannot
    enter this run's directory."""
    return ["chronyd", "-x", "-d", *(["-u", "root"] if serves_nts else []), "-f", conf]


def main(flags):
    parser = _parser()
    options = parser.parse_args(flags)
    run_seconds, step_seconds = (2, 0.5) if options.quick else (10, 2)
    rounds = options.rounds or (1 if options.quick else 3)
    out = options.out or (None if options.quick else BENCHMARKS_MD)
    servers = list(dict.fromkeys(options.servers.split(",")))
    unknown = [server for server in servers if server not in SERVERS]
    if unknown:
        parser.error(f"unknown server {unknown[0]} (known: {','.join(SERVERS)})")

    binaries = release_dir()
    if options.build:
        log("building release binaries")
        cargo_build("-p", "ringd", "-p", "ringload")
    for binary in ["ringload", "udp-reflector"] + (["ringd"] if "ringd" in servers else []):
        if not (binaries / binary).is_file():
            raise BenchError(f"missing {binaries / binary} (build with cargo build --release)")
    if shutil.which("chronyd") is None:
        log("installing chrony (without letting its package start a daemon)")
        install_packages("chrony")
    foreign = subprocess.run(["pgrep", "-a", "-x", "chronyd"], capture_output=True, text=True)
    if foreign.stdout:
        log("note: a chronyd not started by this benchmark is running (left alone): "
            + foreign.stdout.strip())

    nts_servers = [server for server in nts.SERVERS if server in servers]
    started = time.time()
    load = load_average()
    runs = Runs()
    with Workspace("bench-ntp") as work:
        bench = _Bench(work, binaries, run_seconds, step_seconds, runs)
        for server in servers:
            bench.start(server)
        if nts_servers:
            make_certificate(work.dir)
            for server in nts_servers:
                bench.start(server, serves_nts=True)
        for round_number, plan in schedule(rounds, FIGURE_ORDER + nts.FIGURE_ORDER, servers):
            log(f"round {round_number} of {rounds}")
            for figure, server in plan:
                if figure in nts.FIGURE_ORDER:
                    if server in nts_servers:
                        bench.measure_nts(server, figure, round_number)
                # The reflector copies T1 into T2 and T3: its offset would mean nothing.
                elif (figure, server) != ("offset", "reflector"):
                    bench.measure(server, figure, round_number)
    elapsed = int(time.time()) - int(started)

    revision = git_revision(["src", "loadgen", "Cargo.toml"], count_untracked=True)
    if not options.build:
        revision += ", binaries built before the run"
    ringd = binaries / "ringd"
    setup = Setup(
        command=cli.COMMAND + " ntp" + (" --quick" if options.quick else ""),
        date=utc_now(),
        elapsed_s=elapsed,
        rounds=rounds,
        servers=[server for server in SERVERS if server in servers],
        machine=this_machine(load),
        chrony_version=first_line(["chronyd", "-v"]),
        ringd_version=f"{first_line([ringd, '--version'])} (git {revision})" if ringd.is_file()
        else "ringd not built",
        run_seconds=run_seconds,
        step_seconds=step_seconds,
    )
    report.publish(render(runs, setup), MARKERS, out)
    if nts_servers:
        nts_setup = nts.NtsSetup(
            certificate=CERTIFICATE,
            rustls_version=rustls_version((ROOT / "Cargo.lock").read_text()),
            gnutls_deb=debian_version("libgnutls30"),
            cpu_rate=CPU_RATE,
            agreed=bench.agreed,
        )
        report.publish(nts.render(runs, setup, nts_setup, nts_servers), nts.MARKERS, out)
    return 0


def _parser():
    parser = cli.parser("ntp", DESCRIPTION, EPILOG)
    parser.add_argument("--quick", action="store_true",
                        help="CI variant: 2 s runs, 0.5 s ramp steps, one round; prints the "
                             "table and writes a file only when --out is given")
    parser.add_argument("--rounds", type=cli.positive_int, metavar="N",
                        help="alternating rounds (default 3; 1 with --quick)")
    parser.add_argument("--out", metavar="FILE",
                        help="markdown file to update (default docs/benchmarks.md, none with "
                             "--quick; - only prints)")
    parser.add_argument("--servers", default=",".join(SERVERS), metavar="LIST",
                        help="comma-separated subset of chronyd,reflector,ringd (default all "
                             "three)")
    return parser


class _Bench(nts.NtsFigures):
    """The servers of one run, and the measurements made against them (the NTS ones in nts)."""

    def __init__(self, work, binaries, run_seconds, step_seconds, runs):
        self._work = work
        self._binaries = binaries
        self._run_seconds = run_seconds
        self._step_seconds = step_seconds
        self._runs = runs
        self._server = {}
        self._port = {}
        self._ke_port = {}
        self._cpu_rate = CPU_RATE
        self._load_core = LOAD_CORE
        self.agreed = {}

    def start(self, server, serves_nts=False):
        """Starts `server`; with `serves_nts`, its NTS instance (named SERVER-nts) with the
        plain directives and nts.nts_directives."""
        name = server + nts.SUFFIX if serves_nts else server
        port = sockets.free_udp_port()
        nts_lines = []
        if serves_nts:
            self._ke_port[name] = sockets.free_tcp_port()
            nts_lines = nts.nts_directives(self._ke_port[name], self._work.dir)
        conf = self._work.dir / f"{name}.conf"
        if server == "chronyd":
            lines = nts_lines + chronyd_housekeeping(self._work.dir, name)
            conf.write_text(server_directives(port) + "".join(f"{line}\n" for line in lines))
            argv = chronyd_argv(conf, serves_nts)
            server_process = self._work.start(name, pinned(SERVER_CORE, argv))
            # chronyd prints no line when it serves; its sockets being bound are the sign.
            ke_port = self._ke_port.get(name)
            server_process.wait_until(
                lambda: sockets.udp_bound(port)
                and (ke_port is None or sockets.tcp_listening(ke_port)),
                READY_S, f"no socket on port {port}")
        elif server == "reflector":
            argv = [self._binaries / "udp-reflector", "--bind", f"127.0.0.1:{port}"]
            server_process = self._work.start(name, pinned(SERVER_CORE, argv),
                                              ready_line="listening on")
            server_process.wait_for_line(READY_S)
        else:
            conf.write_text(server_directives(port) + "".join(f"{line}\n" for line in nts_lines))
            argv = [self._binaries / "ringd", "--ntp-conf", conf, "--shards", "1"]
            server_process = self._work.start(name, pinned(SERVER_CORE, argv),
                                              ready_line="ready: every service listens")
            server_process.wait_for_line(READY_S)
        self._server[name] = server_process
        self._port[name] = port
        self._wait_until_answering(name)
        ke = f", NTS-KE on port {self._ke_port[name]}" if serves_nts else ""
        log(f"started {name} (pid {server_process.pid}) on 127.0.0.1:{port}{ke}, "
            f"core {SERVER_CORE}")

    def _wait_until_answering(self, name):
        """A server is ready for the figures once ringload gets answers from it."""
        for _ in range(PROBES):
            probe = subprocess.run(
                [self._binaries / "ringload", "ntp", f"127.0.0.1:{self._port[name]}",
                 "--rate", "100", "--duration", "0.05", "--json"],
                capture_output=True, text=True, timeout=30)
            # Exit 2 with answers: the probe's generator fell behind, the server answered.
            if probe.returncode in (0, 2) and probe.stdout \
                    and json.loads(probe.stdout)["answered"] > 0:
                return
            time.sleep(0.1)
        raise BenchError(f"{name} does not answer NTP on port {self._port[name]}")

    def _ringload(self, name, flags, quiet=False):
        argv = pinned(LOAD_CORE, [self._binaries / "ringload", "ntp",
                                  f"127.0.0.1:{self._port[name]}", *flags, "--json"])
        # ringload stops by itself; the timeout only guards against a hang.
        done = subprocess.run(argv, stdout=subprocess.PIPE, timeout=600,
                              stderr=subprocess.DEVNULL if quiet else None, text=True)
        # Exit 2 for a generator that fell behind still reports figures: the callers run
        # such a run again or mark it. Exit 2 for nothing answered is a failed benchmark.
        result = json.loads(done.stdout) if done.stdout else None
        behind = result is not None and (result.get("generator_fell_behind")
                                          or result.get("stop_reason") == "generator-fell-behind")
        if done.returncode != 0 and not (done.returncode == 2 and behind):
            raise subprocess.CalledProcessError(done.returncode, argv)
        return result

    def _fixed_rate(self, name, rate, flags=(), ticks_of=process_ticks):
        """A fixed-rate run with ringload's `flags`, repeated (at most twice) when the
        generator fell behind its schedule: the server then did not get the load asked for.
        Returns the kept run's report and the server's CPU ticks during it (`ticks_of` its
        PID)."""
        pid = self._server[name].pid
        for attempt in range(1, 4):
            before = ticks_of(pid)
            result = self._ringload(name, ["--rate", rate, "--duration", self._run_seconds,
                                           *flags])
            ticks = ticks_of(pid) - before
            if not result["generator_fell_behind"]:
                break
            if attempt < 3:
                log(f"  ({name} at {rate}/s: the generator fell behind, running again)")
        return result, ticks

    def measure(self, name, figure, round_number):
        self._server[name].require_running()
        if figure == "ramp":
            result = self._ringload(name, ["--ramp", "--step-duration", self._step_seconds],
                                    quiet=True)
            self._runs.record("ramp", name, round_number, result["max_rate"], result["stop_reason"])
            return
        rate = {"cpu": CPU_RATE, "loss": LOSS_RATE, "offset": OFFSET_RATE}[figure]
        result, ticks = self._fixed_rate(name, rate)
        note = BEHIND if result["generator_fell_behind"] else ""
        if figure == "cpu":
            answered = result["answered"]
            value = ticks / ticks_per_second() * 1e6 / answered if answered else None
        else:
            value = result["loss_percent" if figure == "loss" else "offset_abs_p99_us"]
        self._runs.record(figure, name, round_number, value, note)


def _cell(runs, key, server, fmt):
    if key == "offset" and server == "reflector":
        return "n/a"
    these = runs.of(key, server)
    value = _median(runs, key, server)
    if value is None:
        return "—"
    if key == "ramp" and value == 0:
        return "none served"
    text = fmt.format(value)
    if key == "ramp" and any(run.note == RAMP_STOPPED_BY_GENERATOR for run in these):
        return "≥ " + text
    if key != "ramp" and any(run.note == BEHIND for run in these):
        return text + " *"
    return text


def _median(runs, key, server):
    values = runs.values(key, server)
    if key == "ramp":
        return ramp_median(values)
    return median(values)


def _ratio(runs, key, numerator, denominator):
    if key == "offset" and "reflector" in (numerator, denominator):
        return "n/a"
    top = _median(runs, key, numerator)
    bottom = _median(runs, key, denominator)
    if top is None or bottom is None or bottom == 0:
        return "—"
    return f"{top / bottom:.2f}"


def _run_cell(run, key, fmt):
    if run.value is not None:
        shown = fmt.format(run.value)
    else:
        shown = "none served" if key == "ramp" else "—"
    if key == "ramp":
        return f"{shown} ({run.note})"
    return shown + (" (behind)" if run.note == BEHIND else "")


def render(runs, setup):
    """The report's section: figures, every run, how they were measured."""
    servers = setup.servers
    ratios = [(a, b) for a, b in RATIOS if a in servers and b in servers]
    header = ["figure", *servers, *(f"{a} / {b}" for a, b in ratios)]
    if "ringd" in servers:
        header.append("goal for ringd")
    rows = []
    for key, label, fmt, goal in FIGURES:
        row = [label, *(_cell(runs, key, server, fmt) for server in servers)]
        row += [_ratio(runs, key, a, b) for a, b in ratios]
        if "ringd" in servers:
            row.append(goal)
        rows.append(row)

    run_rows = []
    for key, _, fmt, _ in FIGURES:
        for server in servers:
            these = sorted(runs.of(key, server), key=lambda run: run.round)
            if these:
                run_rows.append([server, key, *(_run_cell(run, key, fmt) for run in these)])
    rounds = range(1, setup.rounds + 1)

    return report.render(
        "ntp.md",
        **report.run_fields(setup),
        rounds_said=f"{setup.rounds} round{'s' if setup.rounds != 1 else ''}",
        servers=", ".join(servers),
        chrony_version=setup.chrony_version,
        ringd_version=setup.ringd_version,
        figures_table=report.table(header, rows),
        runs_table=report.table(["server", "figure", *(f"round {r}" for r in rounds)], run_rows),
        server_conf=server_directives("PORT").rstrip(),
        chronyd_housekeeping=", ".join(f"`{line}`" for line in chronyd_housekeeping("TMPDIR")),
        run_seconds=setup.run_seconds,
        step_seconds=setup.step_seconds,
    )
