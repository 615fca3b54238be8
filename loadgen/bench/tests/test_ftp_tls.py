"""Tests of the FTPS figures' pure parts: parsing what curl and openssl print, the goals, the
section."""

import unittest

from bench import certificate, ftp, ftp_tls
from bench.runs import Run, Runs
from bench.tests.test_ftp import setup_of

CURL_VERBOSE = """\
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384
* Server certificate:
> PBSZ 0
< 200 PBSZ set to 0.
* SSL re-using session ID
* SSL connection using TLSv1.3 / TLS_CHACHA20_POLY1305_SHA256
"""

S_CLIENT = """\
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Signature type: ECDSA
Verification: OK
Server Temp Key: {}
220 (vsFTPd 3.0.3)
"""


def tls_setup(negotiated=None):
    return ftp_tls.TlsSetup(certificate="ECDSA P-256", openssl_version="OpenSSL 3.0.19",
                            libssl_deb="3.0.19-1~deb12u2", rustls_version="0.23.48",
                            negotiated=negotiated or {}, idle_sessions=200)


class ParsingTest(unittest.TestCase):
    def test_curl_timing_and_the_speed_after_pretransfer(self):
        timing = ftp_tls.parse_curl_timing("67108864 0.2 0.3 223696213")
        self.assertEqual(timing, (67108864.0, 0.2, 0.3, 223696213.0))
        self.assertAlmostEqual(ftp_tls.transfer_mbs(*timing[:3]), 671.088640, places=6)
        self.assertIsNone(ftp_tls.transfer_mbs(0, 0.2, 0.3))
        self.assertIsNone(ftp_tls.transfer_mbs(1000, 0.3, 0.3))
        self.assertIsNone(ftp_tls.parse_curl_timing(""))
        self.assertIsNone(ftp_tls.parse_curl_timing("1 2 x 4"))

    def test_curl_says_what_each_connection_negotiated(self):
        self.assertEqual(ftp_tls.curl_negotiated(CURL_VERBOSE),
                         [("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
                          ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")])
        self.assertEqual(ftp_tls.curl_negotiated("curl: (7) Failed to connect"), [])

    def test_openssl_key_exchange_by_its_iana_name(self):
        self.assertEqual(ftp_tls.openssl_key_exchange(S_CLIENT.format("X25519, 253 bits")),
                         "X25519")
        self.assertEqual(
            ftp_tls.openssl_key_exchange(S_CLIENT.format("ECDH, prime256v1, 256 bits")),
            "secp256r1")
        self.assertEqual(ftp_tls.openssl_key_exchange(S_CLIENT.format("ECDH, secp384r1, 384 bits")),
                         "secp384r1")
        self.assertEqual(ftp_tls.openssl_key_exchange("CONNECTED(00000003)\n"), "?")

    def test_rustls_version_from_cargo_lock(self):
        lock = ('[[package]]\nname = "rustls-pki-types"\nversion = "1.12.0"\n\n'
                '[[package]]\nname = "rustls"\nversion = "0.23.48"\nsource = "registry"\n')
        self.assertEqual(certificate.rustls_version(lock), "0.23.48")
        self.assertEqual(certificate.rustls_version(""), "?")


class IdleSessionsTest(unittest.TestCase):
    def test_vsftpds_processes_must_fit_under_pid_max(self):
        self.assertEqual(ftp_tls.idle_sessions_possible(1000, 32768, 200), 1000)
        # 10,000 sessions are 30,001 processes: room for (32768 − 200 − 1000) // 3 = 10,522.
        self.assertEqual(ftp_tls.idle_sessions_possible(10000, 32768, 200), 10000)
        self.assertEqual(ftp_tls.idle_sessions_possible(12000, 32768, 200), 10522)
        self.assertEqual(ftp_tls.idle_sessions_possible(10000, 32768, 2000), 9922)
        self.assertEqual(ftp_tls.idle_sessions_possible(10000, 4194304, 2000), 10000)
        self.assertEqual(ftp_tls.idle_sessions_possible(10, 1000, 900), 1)


class GoalTest(unittest.TestCase):
    def test_each_goal_at_its_bound(self):
        self.assertEqual(ftp_tls.goal_met("tls_sessions", 10.0), "yes")
        self.assertEqual(ftp_tls.goal_met("tls_sessions", 9.99), "no")
        self.assertEqual(ftp_tls.goal_met("tls_idle_pss", 0.1), "yes")
        self.assertEqual(ftp_tls.goal_met("tls_idle_pss", 0.11), "no")
        self.assertEqual(ftp_tls.goal_met("tls_retr_mbs", 1.2), "yes")
        self.assertEqual(ftp_tls.goal_met("tls_retr_mbs", 1.19), "no")
        self.assertEqual(ftp_tls.goal_met("tls_retr_cpu", 0.8), "yes")
        self.assertEqual(ftp_tls.goal_met("tls_retr_cpu", 0.81), "no")
        self.assertEqual(ftp_tls.goal_met("tls_idle_added", 0.01), "")
        self.assertEqual(ftp_tls.goal_met("tls_sessions", None), "")


class SectionTest(unittest.TestCase):
    def setUp(self):
        self.setup = setup_of(servers=["vsftpd", "pyftpdlib", "ringd"])

    def test_figures_ratios_and_goals(self):
        runs = Runs([Run("tls_sessions", "vsftpd", 1, 100.0),
                     Run("tls_sessions", "ringd", 1, 1500.0),
                     Run("tls_retr_cpu", "vsftpd", 1, 1.0), Run("tls_retr_cpu", "ringd", 1, 0.9)])
        lines = ftp_tls.render(runs, self.setup, tls_setup()).splitlines()
        self.assertIn("| figure | vsftpd | ringd | ringd / vsftpd | goal for ringd | met |", lines)
        self.assertIn("| TLS sessions/s, 64 clients (connect, AUTH TLS, login, PBSZ 0, PROT P, "
                      "PASV, RETR 4 KiB over TLS, QUIT) | 100 | 1,500 | 15.00 | ≥ 10 × vsftpd "
                      "| yes |", lines)
        self.assertIn("| server CPU seconds per GiB sent over TLS | 1.000 | 0.900 | 0.90 "
                      "| ≤ 0.8 × vsftpd | no |", lines)
        self.assertIn("| TLS RETR 64 MiB from page cache, MB/s (curl, size / (total − "
                      "pretransfer)) | — | — | n/a | ≥ 1.2 × vsftpd |  |", lines)
        self.assertIn("| PSS per idle logged-in TLS session, kB (200 sessions, --quick) | — | — "
                      "| n/a | ≤ 1/10 vsftpd |  |", lines)
        self.assertFalse(any("pyftpdlib" in line for line in lines if line.startswith("| ")))

    def test_what_each_client_negotiated_with_each_server(self):
        negotiated = {
            ("tls_retr", "vsftpd"): {
                ftp_tls.Negotiated("curl (OpenSSL), control", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                                   "secp256r1"),
                ftp_tls.Negotiated("curl (OpenSSL), data", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                                   "resumed")},
            ("tls_sessions", "ringd"): {
                ftp_tls.Negotiated("ringload (rustls)", "TLSv1_3", "TLS13_AES_256_GCM_SHA384",
                                   "X25519")},
        }
        section = ftp_tls.render(Runs(), self.setup, tls_setup(negotiated))
        self.assertIn(
            "| figure | server | client | TLS version | cipher suite | key exchange |\n"
            "|---|---|---|---|---|---|\n"
            "| tls_sessions | ringd | ringload (rustls) | TLSv1_3 | TLS13_AES_256_GCM_SHA384 "
            "| X25519 |\n"
            "| tls_retr | vsftpd | curl (OpenSSL), control | TLSv1.3 | TLS_AES_256_GCM_SHA384 "
            "| secp256r1 |\n"
            "| tls_retr | vsftpd | curl (OpenSSL), data | TLSv1.3 | TLS_AES_256_GCM_SHA384 "
            "| resumed |\n", section)

    def test_the_section_tells_the_configuration_and_the_certificate(self):
        section = ftp_tls.render(Runs(), self.setup, tls_setup())
        self.assertIn("```\nssl_enable=YES\nrsa_cert_file=TMPDIR/cert.pem\n"
                      "rsa_private_key_file=TMPDIR/key.pem\nallow_anon_ssl=YES\n"
                      "force_anon_logins_ssl=YES\nforce_anon_data_ssl=YES\n```", section)
        self.assertIn("- Certificate, the same file for both servers: ECDSA P-256.", section)
        self.assertIn("rustls 0.23.48", section)
        self.assertIn("The issues ask for 1 GiB files", section)
        self.assertIn("ec_paramgen_curve:prime256v1", section)
        self.assertNotIn("$", section.replace("$ ", ""))


class ConfTest(unittest.TestCase):
    def test_both_servers_get_the_same_tls_lines(self):
        conf = ftp.vsftpd_conf(21, "tls", (1, 2), "/w")
        self.assertTrue(conf.endswith(
            "write_enable=NO\nssl_enable=YES\nrsa_cert_file=/w/cert.pem\n"
            "rsa_private_key_file=/w/key.pem\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\n"
            "force_anon_data_ssl=YES\n"))

    def test_the_tls_figures_run_last_and_are_in_the_default_set(self):
        self.assertEqual(ftp.FIGURE_ORDER[-3:], ("tls_idle", "tls_sessions", "tls_retr"))
        self.assertIn("tls_retr", ftp._parser().parse_args([]).figures.split(","))

    def test_tls_retr_passive_ranges_stay_clear_of_every_main_range(self):
        for low, high in ftp_tls.RETR_PASSIVE.values():
            for main_low, main_high in ftp.PASSIVE.values():
                self.assertTrue(high < main_low or low > main_high)


if __name__ == "__main__":
    unittest.main()
