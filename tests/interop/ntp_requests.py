"""NTP request kinds sent to chronyd and to ringd: each must be answered by both or dropped by both,
and answers must agree in mode, version, poll, stratum and length.

Usage: ntp_requests.py CHRONYD_HOST:PORT RINGD_HOST:PORT. Both servers must serve `local stratum`
with the same stratum, without `ratelimit`, and answer requests in the order they came (one
ringd shard). A request is known to be dropped when the reply to a valid request sent after it
arrives first, so no test waits for a reply that does not come.
"""

import socket
import struct
import sys

MARKER_POLL = 6
TIMEOUT_SECONDS = 5


def header(version, mode, transmit, poll=6):
    return struct.pack("!BBbb11I", (version << 3) | mode, 0, poll, 0, *([0] * 9), transmit >> 32,
                       transmit & 0xFFFFFFFF)


def field(field_type, length):
    return struct.pack("!HH", field_type, length) + b"\xa5" * (length - 4)


def with_length(field_type, length, stated):
    return struct.pack("!HH", field_type, stated) + b"\xa5" * (length - 4)


def mac(key_id, digest_len, fill=b"\x5a"):
    return struct.pack("!I", key_id) + fill * digest_len


def request_kinds():
    """(name, datagram builder taking the transmit timestamp) for every kind compared."""
    v4 = lambda t: header(4, 3, t)
    return [
        ("v4 client", v4),
        ("v3 client", lambda t: header(3, 3, t)),
        ("v2 client", lambda t: header(2, 3, t)),
        ("v1 client", lambda t: header(1, 3, t)),
        ("v1 mode 0", lambda t: header(1, 0, t)),
        ("v2 mode 0", lambda t: header(2, 0, t)),
        ("v4 mode 1 (symmetric active)", lambda t: header(4, 1, t)),
        ("v4 mode 2", lambda t: header(4, 2, t)),
        ("v4 mode 4", lambda t: header(4, 4, t)),
        ("v4 mode 5", lambda t: header(4, 5, t)),
        ("v2 mode 6", lambda t: header(2, 6, t)),
        ("v2 mode 7", lambda t: header(2, 7, t)),
        ("version 0", lambda t: header(0, 3, t)),
        ("version 5", lambda t: header(5, 3, t)),
        ("poll -128", lambda t: header(4, 3, t, poll=-128)),
        ("poll 17", lambda t: header(4, 3, t, poll=17)),
        ("47 bytes", lambda t: header(4, 3, t)[:47]),
        ("49 bytes", lambda t: v4(t) + b"\0"),
        ("50 bytes", lambda t: v4(t) + b"\0\0"),
        ("51 bytes", lambda t: v4(t) + b"\0\0\0"),
        ("v4 crypto-NAK", lambda t: v4(t) + b"\0" * 4),
        ("v4 8 bytes after the header", lambda t: v4(t) + b"\x11" * 8),
        ("v4 unknown 28-byte field", lambda t: v4(t) + field(0x2000, 28)),
        ("v4 two fields", lambda t: v4(t) + field(0x2000, 16) + field(0x2001, 28)),
        ("v4 lone 16-byte field", lambda t: v4(t) + field(0x2000, 16)),
        ("v4 12-byte field", lambda t: v4(t) + field(0x2000, 12) + b"\0" * 16),
        ("v4 field stating 0 bytes", lambda t: v4(t) + with_length(0x2000, 32, 0)),
        ("v4 field stating 30 bytes", lambda t: v4(t) + with_length(0x2000, 32, 30)),
        ("v4 field stating more than sent", lambda t: v4(t) + with_length(0x2000, 32, 36)),
        ("v4 field then 4 bytes", lambda t: v4(t) + field(0x2000, 28) + b"\1" * 4),
        ("v4 MAC, unknown key, 16-byte digest", lambda t: v4(t) + mac(7, 16)),
        ("v4 MAC, unknown key, 20-byte digest", lambda t: v4(t) + mac(7, 20)),
        ("v4 field and MAC", lambda t: v4(t) + field(0x2000, 28) + mac(9, 20)),
        ("v4 NTS unique identifier", lambda t: v4(t) + field(0x0104, 36)),
        ("v3 with 16 bytes after the header", lambda t: header(3, 3, t) + field(0x2000, 16)),
        ("v3 MAC, unknown key", lambda t: header(3, 3, t) + mac(5, 20)),
        ("v3 MS-SNTP request", lambda t: header(3, 3, t) + mac(5, 16, b"\0")),
        ("v2 crypto-NAK", lambda t: header(2, 3, t) + b"\0" * 4),
        ("1140 bytes (the longest)", lambda t: v4(t) + field(0x2000, 1092)),
        ("1144 bytes (too long)", lambda t: v4(t) + field(0x2000, 1096)),
        ("1500 bytes", lambda t: v4(t) + field(0x2000, 1452)),
    ]


def outcome(sock, server, datagram, transmit, marker):
    """What `server` does with `datagram`: None when dropped, else the reply's fields."""
    sock.sendto(datagram, server)
    sock.sendto(header(4, 3, marker, poll=MARKER_POLL), server)
    answered = None
    for _ in range(4):
        reply, _ = sock.recvfrom(2048)
        leap_version_mode, stratum, poll = struct.unpack("!BBb", reply[:3])
        origin = struct.unpack("!Q", reply[24:32])[0]
        if origin == marker:
            return answered
        assert origin == transmit, "a reply to neither request: %r" % reply
        answered = {
            "mode": leap_version_mode & 7,
            "version": (leap_version_mode >> 3) & 7,
            "poll": poll,
            "stratum": stratum,
            "length": len(reply),
        }
    raise AssertionError("no reply to the marker request")


def wait_until_answering(sock, server):
    """Sends a request every 0.1 s (50 at most) until `server` answers one."""
    sock.settimeout(0.1)
    try:
        for attempt in range(50):
            sock.sendto(header(4, 3, 0xE0000000000000F0 | attempt), server)
            try:
                sock.recvfrom(2048)
                break
            except socket.timeout:
                continue
        else:
            raise AssertionError("%s:%d never answered" % server)
        # Late replies to earlier attempts, so the comparison starts with an empty queue.
        while True:
            try:
                sock.recvfrom(2048)
            except socket.timeout:
                return
    finally:
        sock.settimeout(TIMEOUT_SECONDS)


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    servers = {"chronyd": address(sys.argv[1]), "ringd": address(sys.argv[2])}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(TIMEOUT_SECONDS)
    for server in servers.values():
        wait_until_answering(sock, server)
    failures = 0
    for number, (name, build) in enumerate(request_kinds()):
        transmit = 0xE000000000000000 | (number << 8) | 0x10
        marker = transmit | 0x20
        seen = {who: outcome(sock, server, build(transmit), transmit, marker)
                for who, server in servers.items()}
        agree = seen["chronyd"] == seen["ringd"]
        failures += not agree
        print("  %-4s %-38s chronyd %s, ringd %s" % ("ok" if agree else "DIFF", name,
                                                     seen["chronyd"] or "dropped",
                                                     seen["ringd"] or "dropped"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
