#!/usr/bin/env python3
"""Checks on two ringd nodes behind HAProxy (tests/interop/ftp-haproxy.sh starts them): real
client addresses through the PROXY protocol, max_per_ip per real client, passive and active
transfers, a file uploaded through one node read back through the other, and the logs.

Usage: ftp_fleet.py PHASE BALANCER_PORT WORK_DIR, PHASE being `both` (both nodes up) or
`one` (node B stopped)."""

import ftplib
import hashlib
import io
import os
import sys

BALANCER = "127.0.0.1"
CLIENT = "127.0.0.5"
OTHER_CLIENT = "127.0.0.6"
LATE_CLIENT = "127.0.0.7"
TOO_MANY = "421 There are too many connections from your internet address."
# Round robin sends consecutive connections to alternate nodes; a few more than two tries
# reach both whatever the balancer's starting point.
TRIES = 6


def connect(port, source):
    """A control connection through the balancer from `source`: (session, first reply); the
    session is None when the reply refused it."""
    ftp = ftplib.FTP(timeout=10, source_address=(source, 0))
    # The PASV reply names the node that owns the session, not the balancer (ftplib's default
    # is to connect to the control connection's host instead).
    ftp.trust_server_pasv_ipv4_address = True
    try:
        return ftp, ftp.connect(BALANCER, port)
    except ftplib.error_temp as refusal:
        ftp.close()
        return None, str(refusal)


def login(ftp):
    ftp.login("anonymous", "fleet@example.com")
    return ftp


def session_on(port, source, node):
    """A logged-in session through the balancer that landed on `node` ("A" or "B")."""
    for _ in range(TRIES):
        ftp, welcome = connect(port, source)
        if welcome == f"220 node {node}":
            return login(ftp)
        if ftp:
            ftp.close()
    raise AssertionError(f"no connection from {source} reached node {node} in {TRIES} tries")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def retrieve(ftp, name):
    received = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", received.write)
    return received.getvalue()


failures = []


def check(name, condition, detail=""):
    print(("ok: " if condition else "FAILED: ") + name + ("" if condition else f" ({detail})"))
    if not condition:
        failures.append(name)


def both_nodes(port, work):
    content = os.urandom(1 << 20)
    on_a = session_on(port, CLIENT, "A")
    on_a.set_pasv(True)
    on_a.storbinary("STOR upload/fleet.bin", io.BytesIO(content))
    with open(os.path.join(work, "share", "upload", "fleet.bin"), "rb") as stored:
        check("a passive upload through node A is whole on the shared tree",
              sha256(stored.read()) == sha256(content))
    on_b = session_on(port, CLIENT, "B")
    on_b.set_pasv(False)
    back = retrieve(on_b, "upload/fleet.bin")
    check("node B sends it back in active mode, same SHA-256", sha256(back) == sha256(content),
          f"{len(back)} bytes")
    status = on_b.sendcmd("STAT")
    check("STAT shows the real client, not the balancer", f"Connected to {CLIENT}" in status,
          status)

    # Each node now holds one session of CLIENT: max_per_ip=1 refuses a third, wherever it
    # lands, and not another client, though every connection comes from the balancer.
    extra, refused = connect(port, CLIENT)
    if extra:
        extra.close()
    check("max_per_ip=1 counts the real client across the balancer", refused == TOO_MANY,
          refused)
    other, welcome = connect(port, OTHER_CLIENT)
    check("another client is still admitted", welcome.startswith("220 node"), welcome)
    other.quit()
    on_a.quit()
    on_b.quit()

    for node in ("a", "b"):
        with open(os.path.join(work, f"{node}-vsftpd.log")) as log:
            text = log.read()
        check(f"node {node.upper()}'s vsftpd.log names the real client",
              f'CONNECT: Client "{CLIENT}"' in text and '"127.0.0.1"' not in text, text[-300:])
    with open(os.path.join(work, "a-xferlog")) as log:
        text = log.read()
    check("node A's xferlog names the real client for the upload",
          f" {CLIENT} " in text and "fleet.bin" in text and " 127.0.0.1 " not in text, text)


def one_node(port, work):
    expected = open(os.path.join(work, "share", "upload", "fleet.bin"), "rb").read()
    greetings = set()
    for _ in range(4):
        ftp, welcome = connect(port, LATE_CLIENT)
        greetings.add(welcome)
        if not ftp:
            continue
        login(ftp)
        got = retrieve(ftp, "upload/fleet.bin")
        ftp.quit()
        if sha256(got) != sha256(expected):
            greetings.add("a corrupt download")
    check("with node B stopped, node A serves every new session", greetings == {"220 node A"},
          greetings)


def main():
    phase, port, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    {"both": both_nodes, "one": one_node}[phase](port, work)
    sys.exit(1 if failures else 0)


main()
