"""Tests of the order in which a comparison's runs happen."""

import unittest

from bench.rounds import schedule, server_order

SERVERS = ["vsftpd", "pyftpdlib", "ringd", "ringd-before"]


class ServerOrderTest(unittest.TestCase):
    def test_alternating_order_is_the_same_every_round(self):
        for number in (1, 2, 3, 4):
            self.assertEqual(server_order(SERVERS, number, balanced=False), SERVERS)

    def test_balanced_order_reverses_even_rounds(self):
        self.assertEqual(server_order(SERVERS, 1, balanced=True), SERVERS)
        self.assertEqual(server_order(SERVERS, 2, balanced=True), SERVERS[::-1])
        self.assertEqual(server_order(SERVERS, 3, balanced=True), SERVERS)
        self.assertEqual(server_order(SERVERS, 4, balanced=True), SERVERS[::-1])

    def test_balanced_rounds_put_each_server_in_each_place_equally(self):
        places = {server: [] for server in SERVERS}
        for number in (1, 2):
            for place, server in enumerate(server_order(SERVERS, number, balanced=True)):
                places[server].append(place)
        self.assertEqual(places["ringd"], [2, 1])
        self.assertEqual(places["ringd-before"], [3, 0])

    def test_the_given_list_is_left_alone(self):
        servers = list(SERVERS)
        server_order(servers, 2, balanced=True)
        self.assertEqual(servers, SERVERS)


class ScheduleTest(unittest.TestCase):
    def test_every_figure_against_every_server_in_turn_round_by_round(self):
        self.assertEqual(schedule(2, ["cpu", "loss"], ["a", "b"]), [
            (1, [("cpu", "a"), ("cpu", "b"), ("loss", "a"), ("loss", "b")]),
            (2, [("cpu", "a"), ("cpu", "b"), ("loss", "a"), ("loss", "b")]),
        ])

    def test_balanced_schedule_reverses_servers_within_each_figure(self):
        self.assertEqual(schedule(2, ["sessions", "rate"], ["a", "b", "c"], balanced=True), [
            (1, [("sessions", "a"), ("sessions", "b"), ("sessions", "c"),
                 ("rate", "a"), ("rate", "b"), ("rate", "c")]),
            (2, [("sessions", "c"), ("sessions", "b"), ("sessions", "a"),
                 ("rate", "c"), ("rate", "b"), ("rate", "a")]),
        ])

    def test_no_rounds_no_runs(self):
        self.assertEqual(schedule(0, ["cpu"], ["a"]), [])


if __name__ == "__main__":
    unittest.main()
