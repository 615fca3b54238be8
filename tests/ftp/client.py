"""FTP scenarios driven by python3's ftplib against a running ringd; used by tests/ftp_server.rs.

Usage: client.py SCENARIO HOST PORT [ARGS...]. Exits non-zero (with the assertion) on failure.
"""
import ctypes
import ftplib
import hashlib
import io
import os
import random
import select
import socket
import sys
import threading
import time


def connect(host, port, user="anonymous", password="guest@example.com", passive=True):
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    ftp.login(user, password)
    ftp.set_pasv(passive)
    return ftp


def raw(host, port):
    """A control connection without ftplib: returns (socket file, greeting)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect((host, port))
    stream = sock.makefile("rwb", buffering=0)
    return sock, stream, read_reply(stream)


def read_reply(stream):
    lines = []
    while True:
        line = stream.readline().decode("utf-8", "replace")
        assert line, "connection closed; got %r" % lines
        lines.append(line.rstrip("\r\n"))
        if len(line) >= 4 and line[3] == " " and line[:3].isdigit() and (len(lines) == 1 or lines[-1][:3] == lines[0][:3]):
            return "\n".join(lines)


def send(stream, line):
    stream.write(line.encode() + b"\r\n")
    return read_reply(stream)


def download(ftp, name):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + name, out.write)
    return out.getvalue()


def anonymous_download(host, port):
    ftp = connect(host, port)
    assert ftp.pwd() == "/", ftp.pwd()
    ftp.cwd("pub")
    assert ftp.pwd() == "/pub"
    assert download(ftp, "hello.txt") == b"hello, world\n"
    assert ftp.size("hello.txt") == 13
    assert ftp.sendcmd("MDTM hello.txt").startswith("213 ")
    names = ftp.nlst()
    assert names == ["hello.txt"], names
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 1 and lines[0].startswith("-rw-r--r--") and lines[0].endswith(" hello.txt"), lines
    assert " ftp      ftp " in lines[0], "hide_ids shows ftp ftp: %r" % lines[0]
    facts = []
    ftp.retrlines("MLSD", facts.append)
    assert any("type=file" in f and f.endswith(" hello.txt") for f in facts), facts
    # Anonymous users may not write by default.
    try:
        ftp.storbinary("STOR nope.txt", io.BytesIO(b"x"))
        raise AssertionError("anonymous upload was allowed")
    except ftplib.error_perm as e:
        assert str(e).startswith("550"), e
    ftp.quit()


def active_mode(host, port):
    ftp = connect(host, port, passive=False)
    assert download(ftp, "pub/hello.txt") == b"hello, world\n"
    ftp.quit()


def user_session(host, port, user, password):
    ftp = connect(host, port, user, password)
    data = os.urandom(300_000)
    ftp.storbinary("STOR blob.bin", io.BytesIO(data))
    assert download(ftp, "blob.bin") == data
    assert ftp.size("blob.bin") == len(data)
    # Resume: REST then RETR gives the tail.
    out = io.BytesIO()
    offset = random.randrange(1, len(data))
    ftp.retrbinary("RETR blob.bin", out.write, rest=offset)
    assert out.getvalue() == data[offset:]
    # Resume an upload: first half, then REST + STOR the rest.
    half = len(data) // 2
    ftp.storbinary("STOR resumed.bin", io.BytesIO(data[:half]))
    ftp.storbinary("STOR resumed.bin", io.BytesIO(data[half:]), rest=half)
    assert download(ftp, "resumed.bin") == data
    ftp.storbinary("APPE resumed.bin", io.BytesIO(b"tail"))
    assert download(ftp, "resumed.bin") == data + b"tail"
    assert ftp.mkd("dir") == "/dir"
    ftp.rename("blob.bin", "dir/moved.bin")
    assert ftp.nlst("dir") == ["dir/moved.bin"] or ftp.nlst("dir") == ["moved.bin"], ftp.nlst("dir")
    ftp.delete("dir/moved.bin")
    ftp.rmd("dir")
    assert "dir" not in ftp.nlst()
    assert ftp.sendcmd("SITE CHMOD 600 resumed.bin").startswith("200")
    # A bad command gets a 5xx and the session lives on.
    try:
        ftp.sendcmd("BOGUS")
        raise AssertionError("BOGUS accepted")
    except ftplib.error_perm as e:
        assert str(e) == "500 Unknown command.", e
    assert ftp.sendcmd("NOOP") == "200 NOOP ok."
    ftp.quit()


def ipv6_extended(host, port, user, password):
    ftp = connect(host, port, user, password)
    assert ftp.af == socket.AF_INET6
    ftp.storbinary("STOR v6.txt", io.BytesIO(b"over ipv6"))
    assert download(ftp, "v6.txt") == b"over ipv6"
    ftp.set_pasv(False)
    assert download(ftp, "v6.txt") == b"over ipv6", "EPRT"
    ftp.quit()


def replies(host, port, *expected_pairs):
    """Sends each command and checks the reply starts with the expected text."""
    sock, stream, greeting = raw(host, port)
    pairs = list(expected_pairs)
    first = pairs.pop(0)
    assert greeting.startswith(first), (greeting, first)
    while pairs:
        command, expected = pairs[0], pairs[1]
        pairs = pairs[2:]
        got = send(stream, command)
        assert got.startswith(expected), (command, got, expected)
    sock.close()


def greeting(host, port, expected):
    sock, stream, text = raw(host, port)
    assert text == expected.replace("\\n", "\n"), (text, expected)
    sock.close()


def escape_attempts(host, port):
    ftp = connect(host, port)
    for path in ["../../../../etc/passwd", "/../etc/passwd", "pub/../../etc/passwd", "outside/passwd", "up/etc/passwd"]:
        try:
            data = download(ftp, path)
            raise AssertionError("read %s outside the root: %r" % (path, data[:40]))
        except ftplib.error_perm as e:
            assert str(e).startswith("550"), e
    ftp.cwd("../../..")
    assert ftp.pwd() == "/"
    try:
        ftp.cwd("outside")
        listing = ftp.nlst()
        assert "passwd" not in listing, "listed the host's /etc through a symlink"
    except ftplib.error_perm:
        pass
    ftp.quit()


def foreign_port(host, port):
    sock, stream, _ = raw(host, port)
    send(stream, "USER anonymous")
    assert send(stream, "PASS x").startswith("230")
    got = send(stream, "PORT 10,9,8,7,100,1")
    assert got == "500 Illegal PORT command.", got
    got = send(stream, "EPRT |1|10.9.8.7|25601|")
    assert got.startswith("500"), got
    assert send(stream, "NOOP") == "200 NOOP ok."
    sock.close()


def hold_connections(host, port, count, expected_refusal):
    """Opens count connections; all but the last must be greeted with 220, the last refused."""
    socks = []
    count = int(count)
    for i in range(count):
        sock, stream, text = raw(host, port)
        socks.append(sock)
        if i < count - 1:
            assert text.startswith("220"), (i, text)
        else:
            assert text == expected_refusal, (i, text)
    for s in socks:
        s.close()


def long_line(host, port):
    sock, stream, _ = raw(host, port)
    got = send(stream, "NOOP " + "x" * 10000)
    assert got.startswith("500"), got
    send(stream, "USER anonymous")
    assert send(stream, "PASS x").startswith("230"), "the session lives on after a long line"
    sock.close()


def upload(host, port, user, password, name, expected):
    """STOR a small file; `expected` is the final reply's code."""
    ftp = connect(host, port, user, password)
    try:
        reply = ftp.storbinary("STOR " + name, io.BytesIO(b"payload"))
    except ftplib.error_perm as e:
        reply = str(e)
    assert reply.startswith(expected), (reply, expected)
    ftp.quit()


def ascii_mode(host, port, user, password):
    """TYPE A converts line ends both ways when ascii_*_enable says so; TYPE I never does.
    Sessions start in TYPE A, as RFC 959 and vsftpd say."""
    fresh = connect(host, port, user, password)
    status = fresh.sendcmd("STAT")
    assert "TYPE: ASCII" in status, status
    with fresh.transfercmd("STOR fresh.txt") as conn:
        conn.sendall(b"x\r\ny\r\n")
    fresh.voidresp()
    assert download(fresh, "fresh.txt") == b"x\ny\n"
    fresh.quit()
    ftp = connect(host, port, user, password)
    ftp.storbinary("STOR unix.txt", io.BytesIO(b"one\ntwo\n"))
    # ftplib's retrbinary/storbinary send TYPE I, so TYPE A transfers are driven by hand.
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("RETR unix.txt") as conn:
        raw = b"".join(iter(lambda: conn.recv(4096), b""))
    ftp.voidresp()
    assert raw == b"one\r\ntwo\r\n", raw
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("STOR dos.txt") as conn:
        conn.sendall(b"a\r\nb\r\n")
    ftp.voidresp()
    assert download(ftp, "dos.txt") == b"a\nb\n"
    assert ftp.size("dos.txt") == 4
    ftp.quit()


def disk_full(host, port, user, password, name, size, original=None):
    """An upload larger than the disk gets 452 and the session lives on; with `original`,
    the file it was to replace still holds exactly that."""
    ftp = connect(host, port, user, password)
    try:
        try:
            ftp.storbinary("STOR " + name, io.BytesIO(os.urandom(int(size))))
        except (BrokenPipeError, ConnectionResetError):
            # The server stops reading when the disk is full; its verdict follows.
            ftp.voidresp()
        raise AssertionError("an upload larger than the disk succeeded")
    except ftplib.error_temp as e:
        assert str(e) == "452 Insufficient storage space.", e
    assert ftp.sendcmd("NOOP") == "200 NOOP ok."
    if original is not None:
        assert download(ftp, name) == original.encode(), "the old file is intact"
    else:
        directory, _, base = name.rpartition("/")
        listed = [entry.rsplit("/", 1)[-1] for entry in ftp.nlst(directory or ".")]
        assert base not in listed, "the failed upload was deleted"
    ftp.storbinary("STOR " + name, io.BytesIO(b"small and whole"))
    assert download(ftp, name) == b"small and whole"
    ftp.quit()


def round_trips(host, port, user, password, *sizes):
    """Uploads and downloads files of each size, binary, passive and active, and compares
    SHA-256 sums both ways."""
    ftp = connect(host, port, user, password)
    for size in map(int, sizes):
        data = os.urandom(size)
        name = "rt-%d.bin" % size
        for passive in (True, False):
            ftp.set_pasv(passive)
            ftp.storbinary("STOR " + name, io.BytesIO(data), blocksize=65536)
            assert ftp.size(name) == size, (name, ftp.size(name))
            got = download(ftp, name)
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), (size, passive, len(got))
    ftp.quit()


def exact_transfers(host, port, user, password, name, local, *offsets):
    """RETR of `name` in binary mode, whole and after REST at each offset, passive and active,
    gives exactly the bytes of the file `local` (the server's copy); then STOR sends them back
    as `name`.up for the test to compare."""
    with open(local, "rb") as f:
        data = f.read()
    ftp = connect(host, port, user, password)
    for passive in (True, False):
        ftp.set_pasv(passive)
        got = download(ftp, name)
        assert got == data, (passive, len(got))
        for offset in map(int, offsets):
            out = io.BytesIO()
            ftp.retrbinary("RETR " + name, out.write, rest=offset)
            got = out.getvalue()
            assert got == data[offset:], (passive, offset, len(got))
    ftp.storbinary("STOR " + name + ".up", io.BytesIO(data), blocksize=1 << 20)
    ftp.quit()


def throttled_download(host, port, name, local, rate):
    """An anonymous RETR under anon_max_rate gives exactly the file `local`, and no sooner than
    the limit allows: the bucket starts empty when the data connection opens, so N bytes
    cannot all arrive within N / rate seconds of the RETR."""
    with open(local, "rb") as f:
        data = f.read()
    ftp = connect(host, port)
    ftp.voidcmd("TYPE I")
    start = time.monotonic()
    got = download(ftp, name)
    elapsed = time.monotonic() - start
    ftp.quit()
    assert got == data, len(got)
    floor = len(data) / int(rate)
    assert elapsed >= floor, "%d bytes in %.3f s, faster than %s B/s" % (len(data), elapsed, rate)
    print("%d bytes in %.3f s (%.0f B/s, limit %s B/s)" % (len(data), elapsed, len(data) / elapsed, rate))


def abort_mid_transfer(host, port, user, password):
    """ABOR during a download answers 426 then 226; the session goes on with a new transfer."""
    ftp = connect(host, port, user, password)
    data = os.urandom(8_000_000)
    ftp.storbinary("STOR big.bin", io.BytesIO(data), blocksize=1 << 20)
    conn = ftp.transfercmd("RETR big.bin")
    assert len(conn.recv(65536)) > 0
    reply = ftp.abort()
    assert reply.startswith("426"), reply
    conn.close()
    assert ftp.getresp() == "226 ABOR successful."
    assert ftp.sendcmd("NOOP") == "200 NOOP ok."
    assert download(ftp, "big.bin") == data, "a new transfer on the same session"
    ftp.quit()


def watch_opens(path):
    """An inotify descriptor that becomes readable when `path` is next opened (IN_OPEN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    assert libc.inotify_add_watch(fd, os.fsencode(path), 0x20) >= 0, os.strerror(ctypes.get_errno())
    return fd


def download_waits_for_upload(host, port, user, password, name, path):
    """While one session uploads `name` (the server's file at `path`), another's RETR of it
    waits for the upload's lock, then gets the whole new file, never part of it."""
    data = os.urandom(2_000_000)
    half = len(data) // 2
    uploader = connect(host, port, user, password)
    uploader.voidcmd("TYPE I")
    upload = uploader.transfercmd("STOR " + name)
    upload.sendall(data[:half])
    # Once the server opens the file for the RETR, the download is waiting for the lock (or,
    # were there none, reading the half-written file): only then does the upload go on.
    opened = watch_opens(path)
    got = {}

    def download():
        try:
            ftp = connect(host, port, user, password)
            ftp.voidcmd("TYPE I")
            conn, got["size"] = ftp.ntransfercmd("RETR " + name)
            got["data"] = b"".join(iter(lambda: conn.recv(65536), b""))
            conn.close()
            got["reply"] = ftp.voidresp()
            ftp.quit()
        except Exception as e:
            got["error"] = e

    downloader = threading.Thread(target=download)
    downloader.start()
    ready, _, _ = select.select([opened], [], [], 10)
    os.close(opened)
    assert ready, "the RETR never opened the file"
    upload.sendall(data[half:])
    upload.close()
    assert uploader.voidresp().startswith("226")
    uploader.quit()
    downloader.join(10)
    assert not downloader.is_alive(), "the download did not finish"
    if "error" in got:
        raise got["error"]
    assert got["reply"].startswith("226"), got["reply"]
    assert got["size"] == len(data), "150 names the size once locked: %r" % got["size"]
    assert got["data"] == data, "downloaded %d bytes, not the whole upload" % len(got["data"])


def checksum(host, port, name):
    ftp = connect(host, port)
    print(hashlib.sha256(download(ftp, name)).hexdigest())
    ftp.quit()


if __name__ == "__main__":
    scenario, host, port, *rest = sys.argv[1:]
    globals()[scenario](host, int(port), *rest)
    print("ok")
