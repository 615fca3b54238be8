"""Sockets on this machine as /proc/net shows them: TCP listeners, bound UDP ports, TIME_WAIT,
free ports."""

import random

from bench import BenchError

LISTEN = 0x0A
TIME_WAIT = 0x06


def parse_table(text):
    """(local port, state) of every socket in a /proc/net/{tcp,udp}[6] table."""
    sockets = []
    for row in text.splitlines()[1:]:
        fields = row.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        sockets.append((local_port, int(fields[3], 16)))
    return sockets


def _sockets(protocol):
    found = []
    for table in (protocol, protocol + "6"):
        try:
            with open(f"/proc/net/{table}") as text:
                found += parse_table(text.read())
        except FileNotFoundError:
            continue
    return found


def tcp_listening(port):
    """Whether a TCP socket listens on `port`, on any address."""
    return (port, LISTEN) in _sockets("tcp")


def udp_bound(port):
    return any(local == port for local, _ in _sockets("udp"))


def time_wait_between(low, high, excluding=()):
    """How many TCP connections in TIME_WAIT hold a local port from `low` to `high`, not
    counting the ports `excluding`."""
    return count_time_wait(_sockets("tcp"), low, high, excluding)


def count_time_wait(sockets, low, high, excluding=()):
    """How many of `sockets` ((local port, state) pairs) are in TIME_WAIT on a port from `low`
    to `high` that is not one of `excluding`."""
    return sum(1 for port, state in sockets
               if state == TIME_WAIT and low <= port <= high and port not in excluding)


def free_udp_port():
    """A port in 20000-49999 that no UDP socket has, picked at random."""
    for _ in range(100):
        port = random.randrange(20000, 50000)
        if not udp_bound(port):
            return port
    raise BenchError("no free UDP port found in 100 tries")


def free_tcp_port():
    """A port in 20000-49999 that no TCP socket has, in any state, picked at random."""
    for _ in range(100):
        port = random.randrange(20000, 50000)
        if all(local != port for local, _ in _sockets("tcp")):
            return port
    raise BenchError("no free TCP port found in 100 tries")
