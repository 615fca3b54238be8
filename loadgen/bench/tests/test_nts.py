"""Tests of the NTS figures' pure parts: the servers' NTS lines, reading ringload nts-ke's
report, the goals and the section."""

import unittest

from bench import ntp, nts
from bench.runs import Run, Runs
from bench.tests.golden import fixture

KE_REPORT = {
    "server": "127.0.0.1:4460", "clients": 16, "elapsed_s": 2.0,
    "handshakes_completed": 3000, "handshakes_failed": 3, "handshakes_per_s": 1500.0,
    "latency_us": {}, "errors_total": 3,
    "errors": {"connect: connection refused": 1, "TLS: received fatal alert: HandshakeFailure": 2},
    "tls_version": "TLSv1_3", "tls_cipher_suite": "TLS13_AES_256_GCM_SHA384",
    "tls_key_exchange": "X25519", "aead": "AEAD_AES_SIV_CMAC_256", "cookie_bytes": 100,
}


def setup():
    fields, _, _ = fixture("ntp-quick")
    return ntp.Setup(**fields)


def nts_setup(agreed=None):
    return nts.NtsSetup(certificate="ECDSA P-256", rustls_version="0.23.48",
                        gnutls_deb="3.7.9-2+deb12u4", cpu_rate=80_000, agreed=agreed or {})


def runs_of_a_round():
    return Runs([
        Run("cpu", "ringd", 1, 0.50), Run("cpu", "chronyd", 1, 1.60),
        Run("nts_cpu", "chronyd", 1, 2.00), Run("nts_cpu", "ringd", 1, 0.60),
        Run("nts_loss", "chronyd", 1, 40.0, "behind"), Run("nts_loss", "ringd", 1, 0.0),
        Run("nts_ke", "chronyd", 1, 1000.0), Run("nts_ke", "ringd", 1, 1500.0),
        Run("nts_ke_cpu", "chronyd", 1, 450.0), Run("nts_ke_cpu", "ringd", 1, 300.0),
    ])


class ServersTest(unittest.TestCase):
    def test_both_servers_get_the_same_nts_lines(self):
        self.assertEqual(nts.nts_directives(4460, "/tmp/w"),
                         ["ntsport 4460", "ntsservercert /tmp/w/cert.pem",
                          "ntsserverkey /tmp/w/key.pem"])

    def test_chronyd_never_runs_without_x_and_runs_as_root_only_for_nts(self):
        self.assertEqual(ntp.chronyd_argv("c.conf", False), ["chronyd", "-x", "-d", "-f", "c.conf"])
        self.assertEqual(ntp.chronyd_argv("c.conf", True),
                         ["chronyd", "-x", "-d", "-u", "root", "-f", "c.conf"])

    def test_each_chronyd_instance_has_its_own_pidfile(self):
        self.assertIn("pidfile /w/chronyd.pid", ntp.chronyd_housekeeping("/w"))
        self.assertIn("pidfile /w/chronyd-nts.pid", ntp.chronyd_housekeeping("/w", "chronyd-nts"))


class KeReportTest(unittest.TestCase):
    def test_what_was_agreed_comes_from_the_report(self):
        self.assertEqual(nts.agreed_of(KE_REPORT),
                         nts.Agreed("TLSv1_3", "TLS13_AES_256_GCM_SHA384", "X25519",
                                    "AEAD_AES_SIV_CMAC_256", 100))
        nothing = {key: value for key, value in KE_REPORT.items()
                   if not key.startswith("tls_") and key not in ("aead", "cookie_bytes")}
        self.assertIsNone(nts.agreed_of(dict(nothing, aead=None, cookie_bytes=None)))

    def test_failures_are_noted_by_class(self):
        self.assertEqual(nts.ke_note(KE_REPORT),
                         "3 failed (TLS: received fatal alert: HandshakeFailure: 2, "
                         "connect: connection refused: 1)")
        self.assertEqual(nts.ke_note(dict(KE_REPORT, handshakes_failed=0)), "")


class SectionTest(unittest.TestCase):
    def test_figures_ratios_and_goals(self):
        lines = nts.figures_table(runs_of_a_round(), ["chronyd", "ringd"], 80_000).splitlines()
        self.assertEqual(lines[0], "| figure | chronyd | ringd | ringd / chronyd | "
                                   "ringd NTS / ringd plain | goal for ringd | met |")
        self.assertIn("| NTS: CPU time per answered request at 80,000/s (µs) | 2.00 | 0.60 | 0.30 "
                      "| 1.20 | ≤ 0.6 × chronyd and ≤ 1.5 × ringd plain | yes |", lines)
        self.assertIn("| NTS: loss at 100,000/s (%) | 40.000 * | 0.000 | 0.00 |  | ≤ 0.1 % "
                      "| yes |", lines)
        self.assertIn("| NTS-KE handshakes/s, 16 clients | 1,000 | 1,500 | 1.50 |  "
                      "| ≥ 2 × chronyd | no |", lines)
        self.assertIn("| server CPU time per NTS-KE handshake (µs) | 450 | 300 | 0.67 |  |  "
                      "|  |", lines)

    def test_nts_cpu_over_twice_the_plain_figure_misses_its_goal(self):
        runs = Runs([Run("cpu", "ringd", 1, 0.20), Run("nts_cpu", "chronyd", 1, 2.00),
                     Run("nts_cpu", "ringd", 1, 0.60)])
        lines = nts.figures_table(runs, ["chronyd", "ringd"], 80_000).splitlines()
        self.assertIn("| NTS: CPU time per answered request at 80,000/s (µs) | 2.00 | 0.60 | 0.30 "
                      "| 3.00 | ≤ 0.6 × chronyd and ≤ 1.5 × ringd plain | no |", lines)

    def test_one_server_has_no_ratio_to_the_other(self):
        lines = nts.figures_table(runs_of_a_round(), ["ringd"], 80_000).splitlines()
        self.assertEqual(lines[0], "| figure | ringd | ringd NTS / ringd plain | goal for ringd "
                                   "| met |")
        self.assertIn("| NTS-KE handshakes/s, 16 clients | 1,500 |  | ≥ 2 × chronyd |  |", lines)

    def test_the_section_says_what_was_agreed_and_how_it_was_measured(self):
        agreed = {"chronyd": {nts.agreed_of(KE_REPORT)},
                  "ringd": {nts.agreed_of(dict(KE_REPORT, cookie_bytes=104))}}
        section = nts.render(runs_of_a_round(), setup(), nts_setup(agreed), ["chronyd", "ringd"])
        self.assertIn("| chronyd | TLSv1_3 | TLS13_AES_256_GCM_SHA384 | X25519 | "
                      "AEAD_AES_SIV_CMAC_256 | 100 |", section)
        self.assertIn("| ringd | TLSv1_3 | TLS13_AES_256_GCM_SHA384 | X25519 | "
                      "AEAD_AES_SIV_CMAC_256 | 104 |", section)
        self.assertIn("| nts_loss | chronyd | 40.000 | behind |", section)
        self.assertIn("ntsport KEPORT\nntsservercert TMPDIR/cert.pem\nntsserverkey TMPDIR/key.pem",
                      section)
        self.assertIn("chronyd -x -d -u root -f TMPDIR/chronyd-nts.conf", section)
        self.assertIn("--clients 16 --duration 2 --json", section)
        self.assertIn("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1", section)
        self.assertIn("libgnutls30 3.7.9-2+deb12u4", section)
        self.assertNotIn("$", section)


if __name__ == "__main__":
    unittest.main()
