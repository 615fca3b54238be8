"""Tests of reading /proc/net socket tables."""

import unittest

from bench.sockets import LISTEN, TIME_WAIT, count_time_wait, parse_table

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:5669 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:4650 0200007F:9C41 06 00000000:00000000 03:00001768 00000000     0        0 0 3 0
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
"""


class ParseTableTest(unittest.TestCase):
    def test_ports_and_states_of_ipv4_rows(self):
        self.assertEqual(parse_table(TCP), [(22121, LISTEN), (18000, TIME_WAIT)])

    def test_ipv6_rows(self):
        self.assertEqual(parse_table(TCP6), [(80, LISTEN)])

    def test_header_only(self):
        self.assertEqual(parse_table(TCP.splitlines()[0] + "\n"), [])


class TimeWaitTest(unittest.TestCase):
    def test_only_time_wait_in_range_and_not_excluded(self):
        sockets = [(18000, TIME_WAIT), (22123, TIME_WAIT), (22123, TIME_WAIT), (22123, LISTEN),
                   (25000, TIME_WAIT)]
        self.assertEqual(count_time_wait(sockets, 18000, 24999), 3)
        self.assertEqual(count_time_wait(sockets, 18000, 24999, excluding=(22123,)), 1)
        self.assertEqual(count_time_wait(sockets, 19000, 24999, excluding=(22123,)), 0)


if __name__ == "__main__":
    unittest.main()
