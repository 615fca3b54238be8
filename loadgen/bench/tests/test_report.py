"""Tests of report writing: number formats, tables, and a section's place between markers."""

import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from bench import report
from bench.runs import Run, Runs

DOC = """\
# Benchmarks

<!-- compare-ntp:begin -->
old ntp
<!-- compare-ntp:end -->

### Reading the NTP figures

<!-- compare-ftp:begin -->
old ftp
<!-- compare-ftp:end -->


Two blank lines above stay.
"""


class FormatTest(unittest.TestCase):
    def test_fixed_has_thousands_separators_and_the_decimals_asked(self):
        self.assertEqual(report.fixed(3940.4, 0), "3,940")
        self.assertEqual(report.fixed(0.31, 3), "0.310")
        self.assertEqual(report.fixed(-0.024, 2), "-0.02")

    def test_fixed_of_nothing_is_not_applicable(self):
        self.assertEqual(report.fixed(None, 2), "n/a")

    def test_table(self):
        self.assertEqual(report.table(["figure", "a", "goal"], [["x", "1", ""]]),
                         "| figure | a | goal |\n|---|---|---|\n| x | 1 |  |")


class RunTableTest(unittest.TestCase):
    def test_a_row_per_figure_and_server_with_sorted_distinct_notes(self):
        runs = Runs([
            Run("retr_cpu", "ringd", 1, 0.312, "108 ticks of 1/100 s"),
            Run("retr_cpu", "vsftpd", 1, 0.3231, "116 ticks of 1/100 s"),
            Run("retr_cpu", "ringd", 2, 0.175, "70 ticks of 1/100 s"),
            Run("stor_mbs", "ringd", 1, 1245.6, "stored 1 B"),
            Run("stor_mbs", "ringd", 2, 720.0, "stored 1 B"),
        ])
        figures = [("retr_cpu", 3), ("stor_mbs", 0)]
        self.assertEqual(
            report.run_table(runs, ["vsftpd", "pyftpdlib", "ringd"], figures, 2),
            "| figure | server | round 1 | round 2 | notes |\n"
            "|---|---|---|---|---|\n"
            "| retr_cpu | vsftpd | 0.323 | — | 116 ticks of 1/100 s |\n"
            "| retr_cpu | ringd | 0.312 | 0.175 | 108 ticks of 1/100 s; 70 ticks of 1/100 s |\n"
            "| stor_mbs | ringd | 1,246 | 720 | stored 1 B |")

    def test_a_run_without_a_value_or_a_note(self):
        runs = Runs([Run("rate_data", "ringd", 1, None)])
        self.assertEqual(report.run_table(runs, ["ringd"], [("rate_data", 2)], 1).splitlines()[-1],
                         "| rate_data | ringd | n/a |  |")


class PlaceTest(unittest.TestCase):
    def test_only_what_the_markers_enclose_changes(self):
        placed = report.place(DOC, "compare-ftp", "## new ftp\n\nrows\n\n")
        self.assertEqual(placed, DOC.replace("old ftp", "## new ftp\n\nrows"))

    def test_the_first_section_leaves_the_second_alone(self):
        placed = report.place(DOC, "compare-ntp", "new ntp")
        self.assertEqual(placed, DOC.replace("old ntp", "new ntp"))

    def test_placing_twice_gives_the_same_text(self):
        once = report.place(DOC, "compare-ntp", "new ntp")
        self.assertEqual(report.place(once, "compare-ntp", "new ntp"), once)

    def test_without_markers_the_section_goes_at_the_end(self):
        placed = report.place("# Benchmarks\n\ntext\n\n\n", "compare-transfer", "engines")
        self.assertEqual(placed, "# Benchmarks\n\ntext\n\n<!-- compare-transfer:begin -->\n"
                                 "engines\n<!-- compare-transfer:end -->\n")

    def test_an_end_marker_before_the_begin_marker_is_no_pair(self):
        text = "<!-- compare-ntp:end -->\n<!-- compare-ntp:begin -->\n"
        placed = report.place(text, "compare-ntp", "x")
        self.assertTrue(placed.startswith(text.rstrip("\n") + "\n\n"))

    def test_an_empty_file_becomes_a_page(self):
        self.assertEqual(report.place("", "compare-ftp", "ftp\n"), "# Benchmarks\n\n"
                         "<!-- compare-ftp:begin -->\nftp\n<!-- compare-ftp:end -->\n")


class PublishTest(unittest.TestCase):
    def publish(self, out):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            report.publish("new ntp\n", "compare-ntp", out)
        return printed.getvalue()

    def test_writes_the_file_and_prints_the_section(self):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "benchmarks.md"
            out.write_text(DOC)
            printed = self.publish(out)
            self.assertEqual(out.read_text(), DOC.replace("old ntp", "new ntp"))
            self.assertEqual([path.name for path in Path(directory).iterdir()], ["benchmarks.md"])
        self.assertEqual(printed, "<!-- compare-ntp:begin -->\nnew ntp\n<!-- compare-ntp:end -->\n")

    def test_dash_and_none_only_print(self):
        for out in ("-", None):
            self.assertIn("new ntp", self.publish(out))


if __name__ == "__main__":
    unittest.main()
