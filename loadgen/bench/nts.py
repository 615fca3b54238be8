"""The NTS figures of the NTP comparison (issue 16): NTS requests at fixed rates and NTS-KE
handshakes, chronyd 4.3 and ringd side by side with one certificate and the same NTS directives,
with the TLS version, cipher suite, key exchange and AEAD the handshakes agreed. Rendered into
docs/benchmarks.md between the compare-nts markers."""

import json
import subprocess
from dataclasses import dataclass

from bench import report
from bench.certificate import CERT, KEY, OPENSSL_REQ
from bench.cpu import pinned, ticks_per_second, tree_ticks
from bench.medians import median

MARKERS = "compare-nts"
SERVERS = ("chronyd", "ringd")
# In the order a round runs them.
FIGURE_ORDER = ("nts_cpu", "nts_loss", "nts_ke")
# The NTS instances' names beside the plain ones (`chronyd` and `chronyd-nts`, ...).
SUFFIX = "-nts"
LOSS_RATE = 100_000
KE_CLIENTS = 16
BEHIND = "behind"
KE_TIMEOUT_S = 600

# key, label, decimals, goal for ringd; `render` fills in the CPU figure's rate.
FIGURES = [
    ("nts_cpu", "NTS: CPU time per answered request at {cpu_rate:,}/s (µs)", 2,
     "≤ 0.6 × chronyd and ≤ 1.5 × ringd plain"),
    ("nts_loss", f"NTS: loss at {LOSS_RATE:,}/s (%)", 3, "≤ 0.1 %"),
    ("nts_ke", f"NTS-KE handshakes/s, {KE_CLIENTS} clients", 0, "≥ 2 × chronyd"),
    ("nts_ke_cpu", "server CPU time per NTS-KE handshake (µs)", 0, ""),
]


@dataclass(frozen=True)
class Agreed:
    """What ringload's handshakes with one server agreed on."""
    version: str
    suite: str
    key_exchange: str
    aead: str
    cookie_bytes: int


@dataclass(frozen=True)
class NtsSetup:
    """What the NTS section says beyond the NTP comparison's `Setup`."""
    certificate: str
    rustls_version: str
    gnutls_deb: str
    cpu_rate: int
    # {server: {Agreed, ...}}
    agreed: dict


def nts_directives(ke_port, work_dir):
    """The NTS lines both servers' files get: the KE port, the run's certificate and key.
    Everything else at chronyd's defaults (ntsprocesses, maxntsconnections, ntsrotate; no
    ntsdumpdir, so neither writes its keys)."""
    return [f"ntsport {ke_port}", f"ntsservercert {work_dir}/{CERT}",
            f"ntsserverkey {work_dir}/{KEY}"]


def agreed_of(result):
    """What a `ringload nts-ke --json` report says was agreed, or None when nothing completed."""
    if "tls_version" not in result or result.get("aead") is None:
        return None
    return Agreed(result["tls_version"], result["tls_cipher_suite"], result["tls_key_exchange"],
                  result["aead"], result["cookie_bytes"])


def ke_note(result):
    """A KE run's failures, by class, for the runs table ("" when none failed)."""
    if not result.get("handshakes_failed"):
        return ""
    classes = ", ".join(f"{error}: {count}" for error, count in sorted(result["errors"].items()))
    return f"{result['handshakes_failed']} failed ({classes})"


class NtsFigures:
    """The NTS figures, a part of ntp._Bench: uses its `_server`, `_ke_port`, `_work`,
    `_binaries`, `_run_seconds`, `_runs`, `_cpu_rate`, `_load_core` and `_fixed_rate`."""

    agreed = None

    def _nts_flags(self, name):
        return ["--nts", "--nts-ca", self._work.dir / CERT, "--nts-port", self._ke_port[name]]

    def measure_nts(self, server, figure, round_number):
        name = server + SUFFIX
        self._server[name].require_running()
        if figure == "nts_ke":
            self._handshakes(server, name, round_number)
            return
        rate = self._cpu_rate if figure == "nts_cpu" else LOSS_RATE
        result, ticks = self._fixed_rate(name, rate, self._nts_flags(name), tree_ticks)
        note = BEHIND if result["generator_fell_behind"] else ""
        invalid = result.get("invalid_total", 0)
        if invalid:
            note = "; ".join(filter(None, [note, f"{invalid} invalid"]))
        if figure == "nts_cpu":
            answered = result["answered"]
            value = ticks / ticks_per_second() * 1e6 / answered if answered else None
        else:
            value = result["loss_percent"]
        self._runs.record(figure, server, round_number, value, note)

    def _handshakes(self, server, name, round_number):
        """ringload nts-ke with KE_CLIENTS clients for the run's duration; the server's CPU is
        its process tree's (chronyd's KE helper is a process of its own)."""
        pid = self._server[name].pid
        argv = pinned(self._load_core, [
            self._binaries / "ringload", "nts-ke", f"127.0.0.1:{self._ke_port[name]}",
            "--nts-ca", self._work.dir / CERT, "--clients", KE_CLIENTS,
            "--duration", self._run_seconds, "--json"])
        before = tree_ticks(pid)
        # Exit 2 with a report: no exchange completed, which the figure shows as none.
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=KE_TIMEOUT_S)
        ticks = tree_ticks(pid) - before
        result = json.loads(done.stdout)
        completed = result["handshakes_completed"]
        note = ke_note(result)
        self._runs.record("nts_ke", server, round_number,
                          result["handshakes_per_s"] if completed else None, note)
        self._runs.record("nts_ke_cpu", server, round_number,
                          ticks / ticks_per_second() * 1e6 / completed if completed else None,
                          note)
        agreed = agreed_of(result)
        if agreed is not None:
            self.agreed.setdefault(server, set()).add(agreed)


def _ratio(top, bottom):
    return top / bottom if top is not None and bottom not in (None, 0) else None


def _goal_met(key, values, plain_ratio):
    """"yes" or "no" for ringd's figure against its goal; "" when it has none or a median is
    missing."""
    ringd, chronyd = values.get("ringd"), values.get("chronyd")
    per_chronyd = _ratio(ringd, chronyd)
    if key == "nts_cpu":
        if per_chronyd is None or plain_ratio is None:
            return ""
        return "yes" if per_chronyd <= 0.6 and plain_ratio <= 1.5 else "no"
    if key == "nts_loss":
        return "" if ringd is None else ("yes" if ringd <= 0.1 else "no")
    if key == "nts_ke":
        return "" if per_chronyd is None else ("yes" if per_chronyd >= 2 else "no")
    return ""


def _cell(runs, key, server, digits):
    value = median(runs.values(key, server))
    if value is None:
        return "—"
    behind = any(run.note.startswith(BEHIND) for run in runs.of(key, server))
    return report.fixed(value, digits) + (" *" if behind else "")


def figures_table(runs, servers, cpu_rate):
    """The figures, their ratios (ringd / chronyd, and ringd's NTS CPU over its plain CPU
    figure, `cpu`, of the same run) and ringd's goals."""
    both = "chronyd" in servers and "ringd" in servers
    header = ["figure", *servers]
    if both:
        header.append("ringd / chronyd")
    if "ringd" in servers:
        header += ["ringd NTS / ringd plain", "goal for ringd", "met"]
    rows = []
    for key, label, digits, goal in FIGURES:
        values = {server: median(runs.values(key, server)) for server in servers}
        row = [label.format(cpu_rate=cpu_rate), *(_cell(runs, key, s, digits) for s in servers)]
        if both:
            row.append(report.fixed(_ratio(values["ringd"], values["chronyd"]), 2))
        if "ringd" in servers:
            plain_ratio = (_ratio(values["ringd"], median(runs.values("cpu", "ringd")))
                           if key == "nts_cpu" else None)
            row += [report.fixed(plain_ratio, 2) if key == "nts_cpu" else "", goal,
                    _goal_met(key, values, plain_ratio) if both else ""]
        rows.append(row)
    return report.table(header, rows)


def agreed_table(agreed, servers):
    """What each server's handshakes agreed on (several rows when rounds differed)."""
    rows = [[server, got.version, got.suite, got.key_exchange, got.aead, str(got.cookie_bytes)]
            for server in servers
            for got in sorted(agreed.get(server, ()), key=lambda got: (got.version, got.suite))]
    return report.table(["server", "TLS version", "cipher suite", "key exchange", "AEAD",
                         "cookie bytes"], rows)


def render(runs, setup, nts_setup, servers):
    """The NTS section: figures, what was agreed, every run, how it was measured. `setup` is
    the NTP comparison's Setup, `servers` those of SERVERS it ran."""
    digits = [(key, decimals) for key, _, decimals, _ in FIGURES]
    return report.render(
        "nts.md",
        **report.run_fields(setup),
        rounds_said=f"{setup.rounds} round{'s' if setup.rounds != 1 else ''}",
        servers=", ".join(servers),
        chrony_version=setup.chrony_version,
        gnutls_deb=nts_setup.gnutls_deb,
        ringd_version=setup.ringd_version,
        rustls_version=nts_setup.rustls_version,
        certificate=nts_setup.certificate,
        figures_table=figures_table(runs, servers, nts_setup.cpu_rate),
        agreed_table=agreed_table(nts_setup.agreed, servers),
        runs_table=report.run_table(runs, servers, digits, setup.rounds),
        nts_conf="\n".join(nts_directives("KEPORT", "TMPDIR")),
        openssl_req=" ".join(OPENSSL_REQ),
        cpu_rate=f"{nts_setup.cpu_rate:,}",
        loss_rate=f"{LOSS_RATE:,}",
        ke_clients=KE_CLIENTS,
        run_seconds=setup.run_seconds,
    )
