"""Tests of the FTP comparison's report."""

import unittest

from bench import ftp, report
from bench.runs import Run, Runs
from bench.tests.golden import fixture


def setup_of(**changes):
    setup, _, _ = fixture("ftp-quick")
    fields = dict(setup, **changes)
    fields["scale"] = ftp.Scale(**fields["scale"]) if isinstance(fields["scale"], dict) else fields["scale"]
    return ftp.Setup(**fields)


class FtpReportTest(unittest.TestCase):
    def test_a_quick_run_renders_as_the_bash_script_rendered_it(self):
        _, runs, expected = fixture("ftp-quick")
        self.assertEqual(ftp.render(runs, setup_of()), expected)

    def test_a_baseline_adds_a_before_and_after_table(self):
        runs = Runs([Run("sessions", "ringd", 1, 4264.0), Run("sessions", "ringd-before", 1, 4120.0),
                     Run("logins", "ringd", 1, 20.0)])
        section = ftp.render(runs, setup_of(servers=["vsftpd", "pyftpdlib", "ringd", "ringd-before"]))
        self.assertIn("\n\nBefore and after, the same figures for the earlier build given with "
                      "`--baseline`:\n\n| figure | ringd before | ringd | after / before |\n", section)
        self.assertIn("| full anonymous sessions/s, 64 clients (connect, login, PASV, RETR 4 KiB, QUIT) "
                      "| 4,120 | 4,264 | 1.035 |", section)
        self.assertIn("| system-account logins/s through PAM, 16 clients (connect, USER, PASS, QUIT) "
                      "| n/a | 20 | n/a |\n\nEvery run:", section)
        self.assertIn("against vsftpd, pyftpdlib, ringd, ringd-before in turn", section)

    def test_goals_met_and_missed(self):
        runs = Runs([Run("sessions", "pyftpdlib", 1, 1000.0), Run("sessions", "ringd", 1, 2999.0),
                     Run("rate_window", "ringd", 1, -1.0), Run("fair_worst", "ringd", 1, 5.01)])
        lines = ftp.render(runs, setup_of()).splitlines()
        self.assertIn("| full anonymous sessions/s, 64 clients (connect, login, PASV, RETR 4 KiB, QUIT) "
                      "| — | 1,000 | 2,999 | n/a | 3.00 | ≥ 3 × pyftpdlib | no |", lines)
        self.assertIn("| same, worst 3 s window after the first 100 ms, error % | — | — | -1.00 | — | — "
                      "| within 1 % | yes |", lines)
        self.assertIn("| max_rate_total=10,000,000 shared by 10 downloads: worst session vs its equal "
                      "share, % | — | — | 5.01 | — | — | within 5 % | no |", lines)

    def test_a_run_at_the_issues_scale_has_no_scale_note(self):
        scale = ftp.Scale(False, 10, 5, 10000, 1024, 4, 16)
        section = ftp.render(Runs([Run("idle_pss", "ringd", 1, 40.0)]), setup_of(scale=scale))
        self.assertNotIn("The issues ask for", section)
        self.assertTrue(section.rstrip().endswith("--sessions 16 --duration 10 --json\n```"))
        self.assertIn("PSS per idle logged-in session, kB (10000 sessions)", section)


class TemplateTest(unittest.TestCase):
    def test_a_placeholder_left_unfilled_fails(self):
        with self.assertRaises(KeyError):
            report.render("ftp-scale-note.md", big_mib=64)


class VsftpdConfTest(unittest.TestCase):
    def test_each_mode_adds_its_lines(self):
        self.assertTrue(ftp.vsftpd_conf(21, "rate", (1, 2), "/w").endswith(
            "xferlog_enable=NO\nwrite_enable=NO\nanon_max_rate=1000000\n"))
        local = ftp.vsftpd_conf(21, "local", (1, 2), "/w", pam_service="svc")
        self.assertIn("\npam_service_name=svc\ndelay_failed_login=0\n", local)
        self.assertIn("\nanon_root=/w/root\n", local)
        tls = ftp.vsftpd_conf(21, "tls", (1, 2), "/w")
        self.assertIn("\nssl_enable=YES\nrsa_cert_file=/w/cert.pem\nrsa_private_key_file=/w/key.pem\n",
                      tls)


if __name__ == "__main__":
    unittest.main()
