"""Tests of the NTP comparison's report."""

import dataclasses
import unittest

from bench import ntp
from bench.runs import Run, Runs
from bench.tests.golden import fixture


class NtpReportTest(unittest.TestCase):
    def test_a_quick_run_renders_as_the_bash_script_rendered_it(self):
        setup, runs, expected = fixture("ntp-quick")
        self.assertEqual(ntp.render(runs, ntp.Setup(**setup)), expected)

    def test_a_subset_of_servers_has_only_their_columns_and_ratios(self):
        setup, _, _ = fixture("ntp-quick")
        setup = ntp.Setup(**dict(setup, servers=["chronyd", "ringd"], rounds=2))
        runs = Runs([
            Run("cpu", "chronyd", 1, 6.0), Run("cpu", "chronyd", 2, 7.0, "behind"),
            Run("cpu", "ringd", 1, 4.0), Run("cpu", "ringd", 2, 5.0),
            Run("ramp", "chronyd", 1, 113_906.0, "loss-above-limit"),
            Run("ramp", "chronyd", 2, 170_859.0, "loss-above-limit"),
            Run("ramp", "ringd", 1, 256_289.0, "generator-fell-behind"),
            Run("ramp", "ringd", 2, None, "loss-above-limit"),
        ])
        lines = ntp.render(runs, setup).splitlines()
        self.assertIn("| figure | chronyd | ringd | ringd / chronyd | goal for ringd |", lines)
        self.assertIn("| CPU time per answered request at 80,000/s (µs) | 6.50 * | 4.50 | 0.69 "
                      "| ≤ 0.8 × chronyd and ≤ reflector |", lines)
        self.assertIn("| highest rate with loss ≤ 0.1 % (ramp, requests/s) | 113,906 | none served "
                      "| 0.00 |  |", lines)
        self.assertIn("| loss at 200,000/s (%) | — | — | — | ≤ 0.1 % |", lines)
        self.assertIn("| chronyd | cpu | 6.00 | 7.00 (behind) |", lines)
        self.assertIn("| ringd | ramp | 256,289 (generator-fell-behind) | none served (loss-above-limit) |",
                      lines)

    def test_the_full_run_says_its_durations(self):
        setup, runs, _ = fixture("ntp-quick")
        setup = dataclasses.replace(ntp.Setup(**setup), run_seconds=10, step_seconds=2, rounds=3)
        section = ntp.render(runs, setup)
        self.assertIn("--rate RATE --duration 10 --json", section)
        self.assertIn("--ramp --step-duration 2 --json", section)
        self.assertIn(": 3 rounds, each running", section)


if __name__ == "__main__":
    unittest.main()
