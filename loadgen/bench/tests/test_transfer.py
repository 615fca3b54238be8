"""Tests of the transfer comparison's report."""

import unittest

from bench import transfer
from bench.runs import Run, Runs
from bench.tests.golden import fixture


class TransferReportTest(unittest.TestCase):
    def test_a_small_run_renders_as_the_bash_script_rendered_it(self):
        setup, runs, expected = fixture("transfer-small")
        self.assertEqual(transfer.render(runs, transfer.Setup(**setup)), expected)

    def test_best_is_the_fastest_and_the_cheapest_engine_measured(self):
        setup, _, _ = fixture("transfer-small")
        runs = Runs([Run("retr_mbs", "sendfile", 1, 7972.0), Run("retr_mbs", "copy", 1, 4913.0),
                     Run("stor_cpu", "splice", 1, 1.63), Run("stor_cpu", "copy", 1, 0.39)])
        lines = transfer.render(runs, transfer.Setup(**dict(setup, size_mib=1024))).splitlines()
        self.assertIn("| RETR 1,024 MiB from page cache, MB/s (curl) | 7,972 | — | 4,913 | sendfile |", lines)
        self.assertIn("| ringd CPU seconds per GiB received | — | 1.630 | 0.390 | copy |", lines)
        self.assertIn("| STOR 1,024 MiB, MB/s (curl -T) | — | — | — |  |", lines)


if __name__ == "__main__":
    unittest.main()
