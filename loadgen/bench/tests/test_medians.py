"""Tests of the medians that make figures out of rounds."""

import unittest

from bench.medians import median, ramp_median


class MedianTest(unittest.TestCase):
    def test_odd_count_takes_the_middle(self):
        self.assertEqual(median([3.0, 1.0, 2.0]), 2.0)

    def test_even_count_takes_the_mean_of_the_middle_two(self):
        self.assertEqual(median([4.0, 1.0, 3.0, 2.0]), 2.5)

    def test_runs_that_measured_nothing_are_left_out(self):
        self.assertEqual(median([None, 5.0, None, 7.0]), 6.0)

    def test_nothing_measured_gives_none(self):
        self.assertIsNone(median([None, None]))
        self.assertIsNone(median([]))


class RampMedianTest(unittest.TestCase):
    def test_even_count_takes_the_lower_middle_rate(self):
        self.assertEqual(ramp_median([170_859, 113_906, 256_289, 75_938]), 113_906)

    def test_a_ramp_that_served_nothing_counts_as_zero(self):
        self.assertEqual(ramp_median([None, None, 22_500.0]), 0.0)
        self.assertEqual(ramp_median([None, 22_500.0, 33_750.0]), 22_500.0)

    def test_no_ramp_gives_none(self):
        self.assertIsNone(ramp_median([]))


if __name__ == "__main__":
    unittest.main()
