#!/usr/bin/env python3
"""FTP security interop: every file access of a session carries the session's credentials.

Runs the same scenarios against vsftpd 3.0.3 or ringd (--server), each from one vsftpd.conf
text: anonymous sessions act as ftp_username, system accounts log in through PAM and act as
themselves. The FTPS scenarios (20 on) run the same sessions over TLS 1.2 and 1.3, with
python's ssl, curl and lftp as clients, from certificates made with openssl for the run.
Scenario 32 names files in EUC-KR and Latin-1 (file names are bytes). Scenario 33 listens as
Debian's stock file does (listen=NO, listen_ipv6=YES: one dual-stack socket) and has an IPv4
and an IPv6 client; 34 and 34b give clients from 127.0.0.2 a configuration of their own and
refuse 127.0.0.3 through tcp_wrappers rules in /etc/hosts.allow. Prints one line per step,
`scenario #n | command | reply`, with random names, passwords, the work directory and passive
ports normalised, then a JSON summary line; the owner and mode of every uploaded file are read
back from disk. tests/interop/ftp-vs-vsftpd.sh runs it for both servers and compares the
transcripts.

Needs root: it creates system accounts, a group and a PAM service file, and removes them (and
its work directory) at the end, also on failure or on SIGINT/SIGTERM/SIGHUP; /etc/hosts.allow
(the one vsftpd reads) is replaced while scenarios 34 and 34b run and put back as it was
(content, owner, mode, times) on each of those ways out. Exit status: 0 when every documented
reply held, 1 when some did not or a server did not start, 2 when the harness itself failed.
"""

import argparse
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPLY_TIMEOUT = 10.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
CLIENT_TIMEOUT = 30.0
PASV_PORTS = 50
BANNER = "ringd-interop"
ANON_PASSWORD = "interop@example.com"

# --------------------------------------------------------------------------------------------
# Scenario description: each step is a small record; text fields are templates whose {names}
# are filled with the real values on the wire and on disk, and with <tokens> in the transcript.


@dataclass
class Cmd:
    """One control-connection command and its reply."""

    text: str
    expect: str | None = None


@dataclass
class Retr:
    """PASV, RETR, the final reply and the bytes received (compared with `content`)."""

    path: str
    expect: str | None = None
    expect_end: str | None = None
    content: str | None = None
    expect_tls: str | None = None


@dataclass
class Stor:
    """PASV, STOR of `data`, the final reply."""

    path: str
    data: str
    expect: str | None = None
    expect_end: str | None = None
    expect_tls: str | None = None


@dataclass
class Nlst:
    """PASV, NLST, the final reply and the names received (sorted)."""

    path: str
    expect: str | None = None
    expect_end: str | None = None
    expect_tls: str | None = None


@dataclass
class Stat:
    """The file on disk: owner, group, mode, size, and whether it holds `content`."""

    path: str
    expect: str | None = None
    content: str | None = None


@dataclass
class Auth:
    """AUTH TLS, then the TLS handshake on the control connection, offering the client
    certificate `cert` ("client": signed by the CA the server trusts, "other": by another CA).
    The handshake's outcome is a step of its own ("ok", or "failed")."""

    expect: str | None = "234 Proceed with negotiation."
    cert: str | None = None
    expect_handshake: str | None = "ok"


@dataclass
class Read:
    """One reply read without sending anything: what a session the server ended, or a
    refused handshake, leaves (the connection closed, or an alert). A command sent instead
    could race the server's close, and the reset it draws would hide the end or the alert."""

    expect: str | None = None


@dataclass
class DataTls:
    """How the following TLS data connections start: "reuse" resumes the control connection's
    TLS session (as curl, lftp and FileZilla do), "chain" the session of the previous data
    connection (its newest ticket under TLS 1.3; the control connection's for the first),
    "fresh" starts one from a new context, with no session to resume (as python's ftplib
    does)."""

    mode: str


@dataclass
class Abor:
    """PASV, RETR of a large file, a little read, the data connection dropped, then ABOR and
    NOOP: every reply up to NOOP's."""

    path: str
    expect: str | None = None
    expect_replies: str | None = None


@dataclass
class Feat:
    """FEAT, with the one line ringd adds on purpose (MLST, which vsftpd lacks) left out."""

    expect: str | None = None


@dataclass
class Client:
    """An FTP client program (curl, lftp) run to its end: its exit status, and with
    `output` its standard output's lines, sorted."""

    tool: str
    args: list[str]
    expect: str | None = None
    output: bool = False


@dataclass
class Log:
    """A log file's lines, with times, durations, rates and PIDs replaced by tokens."""

    path: str
    expect: str | None = None


@dataclass
class Listing:
    """PASV, `verb args` (LIST or NLST), the final reply and the lines received, in order."""

    verb: str
    path: str
    expect: str | None = None
    expect_end: str | None = None
    expect_tls: str | None = None


@dataclass
class ServerStatus:
    """STAT without a path, its last status line (the server's name: vsftpd names its
    version, ringd names none) shown as <server>, and the client count as <n> when it is 1 or
    2: vsftpd may still count the harness's readiness probe, whose process it has not reaped
    yet."""

    expect: str | None = None


@dataclass
class Connect:
    """How a session's control connection is made, as its first step: from `source` to
    127.0.0.1 (any address of 127.0.0.0/8: tcp_wrappers rules and per-host files tell clients
    apart by it), or with `source` "::1" over IPv6 to ::1; and the greeting expected. Data
    connections come from the same address (vsftpd's pasv_promiscuous=NO checks it)."""

    source: str = "127.0.0.1"
    expect: str = f"220 {BANNER}"


@dataclass
class DataVia:
    """How the following data connections are made: "PASV" (the default), "EPSV" (the
    server's port from its 229 reply, on the control connection's address) or "EPRT" (the
    server connects to a port the client listens on, at the control connection's address)."""

    command: str


@dataclass
class Scenario:
    name: str
    conf: list[str]
    build: object  # callable(Path scenario_dir, Env) -> None
    sessions: list[list[object]]
    # TLS: the highest version the clients offer ("1.2" or "1.3"), and whether the control
    # connection starts with the handshake (implicit_ssl=YES).
    tls_version: str = "1.3"
    implicit: bool = False
    # The servers' TZ, for use_localtime (a POSIX zone string: no tzdata needed).
    tz: str | None = None
    # listen=NO and listen_ipv6=YES, as Debian's and Rocky's stock files: one socket on every
    # address, IPv6 and IPv4 (mapped) clients alike; otherwise listen=YES on 127.0.0.1.
    dual_stack: bool = False
    # /etc/hosts.allow's lines (templates) while the scenario runs: vsftpd reads no other file.
    hosts_allow: list[str] | None = None


def anonymous():
    return [
        Cmd("USER anonymous", "331 Please specify the password."),
        Cmd(f"PASS {ANON_PASSWORD}", "230 Login successful."),
    ]


def local(user):
    return [
        Cmd(f"USER {{{user}}}", "331 Please specify the password."),
        Cmd(f"PASS {{pw_{user}}}", "230 Login successful."),
    ]


TYPE_I = Cmd("TYPE I", "200 Switching to Binary mode.")
QUIT = Cmd("QUIT", "221 Goodbye.")
STOR_OK = "150 Ok to send data."
DONE = "226 Transfer complete."
CANNOT_CREATE = "553 Could not create file."
CANNOT_OPEN = "550 Failed to open file."
CWD_OK = "250 Directory successfully changed."
CWD_FAILED = "550 Failed to change directory."
LISTING = "150 Here comes the directory listing."
LISTED = "226 Directory send OK."
NOT_LISTED = "226 Transfer done (but failed to open directory)."
PERMISSION_DENIED = "550 Permission denied."
LOGIN_INCORRECT = "530 Login incorrect."


def uploaded(path, uid, gid, mode):
    """The file an upload of UPLOAD left at `path`."""
    return Stat(path, f"uid={uid} gid={gid} mode={mode} size={len(UPLOAD)} same bytes", UPLOAD)


def opening(name, size):
    return f"150 Opening BINARY mode data connection for {name} ({size} bytes)."


def pwd_is(path):
    return f'257 "{path}" is the current directory'


# --------------------------------------------------------------------------------------------
# File trees. Every mode is set with chmod after creation, so the process umask plays no part.


def make_dir(path, mode, uid=0, gid=0):
    path.mkdir()
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def make_file(path, content, mode, uid=0, gid=0):
    path.write_bytes(content.encode())
    os.chown(path, uid, gid)
    os.chmod(path, mode)


WORLD = "world-readable\n"
SECRET = "root only\n"
GROUP_FTP = "group ftp only\n"
PRIVATE = "inside a 0700 directory\n"
ROOT_FILE = "root's file in upload/\n"
SHARED = "for the shared group\n"
UPLOAD = "uploaded through FTP\n"
ROOT_FILE_INTACT = "uid=root gid=root mode=0644 size=23 same bytes"
REPLACED_FILE = "uid=ftp gid=ftp mode=0600 size=9 same bytes"


def anon_tree(t, env, *, upload=False):
    """anon/ (root 0755) with world.txt 0644, secret.txt 0600, group-ftp.txt root:ftp 0640,
    private/ 0700 holding readable.txt 0644, and with `upload` an upload/ 0777 directory."""
    anon = t / "anon"
    make_dir(anon, 0o755)
    make_file(anon / "world.txt", WORLD, 0o644)
    make_file(anon / "secret.txt", SECRET, 0o600)
    make_file(anon / "group-ftp.txt", GROUP_FTP, 0o640, 0, env.ftp_gid)
    make_dir(anon / "private", 0o700)
    make_file(anon / "private" / "readable.txt", PRIVATE, 0o644)
    if upload:
        make_dir(anon / "upload", 0o777)
        make_file(anon / "upload" / "rootfile.txt", ROOT_FILE, 0o644)
        make_dir(anon / "upload" / "rootdir", 0o755)
        make_file(anon / "upload" / "rootdir" / "kept.txt", ROOT_FILE, 0o644)


def local_tree(t, env):
    """A root-owned 0755 directory with a root file (0644) no user may change, a 0640 file of
    the shared group, a 0770 directory of the shared group, and a file in each user's home."""
    make_dir(t / "rootonly", 0o755)
    make_file(t / "rootonly" / "file.txt", ROOT_FILE, 0o644)
    make_dir(t / "shared", 0o755)
    make_file(t / "shared" / "group.txt", SHARED, 0o640, 0, env.group_gid)
    make_dir(t / "shared" / "dropbox", 0o770, 0, env.group_gid)
    for role in ("u1", "u2", "u3"):
        account = env.users[role]
        home = Path(account.home)
        for name in os.listdir(home):
            entry = home / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        make_file(home / "mine.txt", f"home of {account.name}\n", 0o600, account.uid, account.gid)


def roots_tree(t, env):
    """roots/<user>/ (root 0755) for u1 and u2, each with where.txt naming its user and an
    incoming/ directory the user owns (0755)."""
    local_tree(t, env)
    make_dir(t / "roots", 0o755)
    for role in ("u1", "u2"):
        account = env.users[role]
        mine = t / "roots" / account.name
        make_dir(mine, 0o755)
        make_file(mine / "where.txt", f"root of {account.name}\n", 0o644)
        make_dir(mine / "incoming", 0o755, account.uid, account.gid)


def chroot_list_tree(t, env):
    local_tree(t, env)
    make_file(t / "chroot_list", f"{env.users['u1'].name}\n", 0o644)


# --------------------------------------------------------------------------------------------
# The scenarios.

ANON = ["anonymous_enable=YES", "local_enable=NO", "anon_root={t}/anon"]
ANON_WRITE = ANON + ["write_enable=YES", "anon_upload_enable=YES", "anon_mkdir_write_enable=YES"]
LOCAL = ["anonymous_enable=NO", "local_enable=YES", "write_enable=YES"]


def scenarios():
    anon_upload_checks = [
        Stor("top.txt", UPLOAD, CANNOT_CREATE),
        Stat("{t}/anon/top.txt", "absent"),
        Cmd("MKD newdir", "550 Create directory operation failed."),
        Stat("{t}/anon/newdir", "absent"),
        Stor("upload/a.txt", UPLOAD, STOR_OK, DONE),
    ]
    return [
        Scenario(
            "01-anon-private-dir",
            ANON,
            lambda t, env: anon_tree(t, env),
            [
                anonymous()
                + [
                    TYPE_I,
                    Cmd("PWD", pwd_is("/")),
                    Cmd("CWD private", CWD_FAILED),
                    Cmd("PWD", pwd_is("/")),
                    # Absolute paths from here: a server that did enter private/ still
                    # answers for the same files.
                    Retr("/private/readable.txt", CANNOT_OPEN),
                    Nlst("/private/", LISTING, NOT_LISTED),
                    Retr("/world.txt", opening("/world.txt", len(WORLD)), DONE, WORLD),
                    # anon_world_readable_only=YES (the default): no o+r, no download.
                    Retr("/group-ftp.txt", CANNOT_OPEN),
                    Retr("/secret.txt", CANNOT_OPEN),
                    Cmd("SIZE /private/readable.txt", "550 Could not get file size."),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "02-anon-world-readable-only-off",
            ANON + ["anon_world_readable_only=NO"],
            lambda t, env: anon_tree(t, env),
            [
                anonymous()
                + [
                    TYPE_I,
                    Retr("secret.txt", CANNOT_OPEN),
                    Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD),
                    # Readable through the ftp account's group: the session's gid is ftp's.
                    Retr(
                        "group-ftp.txt",
                        opening("group-ftp.txt", len(GROUP_FTP)),
                        DONE,
                        GROUP_FTP,
                    ),
                    Retr("private/readable.txt", CANNOT_OPEN),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "03-anon-upload-umask-077",
            ANON_WRITE,
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [TYPE_I]
                + anon_upload_checks
                + [
                    uploaded("{t}/anon/upload/a.txt", "ftp", "ftp", "0600"),
                    Cmd("MKD upload/dir", '257 "/upload/dir" created'),
                    Stat("{t}/anon/upload/dir", "dir uid=ftp gid=ftp mode=0700"),
                    # anon_other_write_enable=NO: uploads never replace a file (O_EXCL).
                    Stor("upload/a.txt", UPLOAD, CANNOT_CREATE),
                    Cmd("DELE upload/a.txt", PERMISSION_DENIED),
                    Stor("upload/rootdir/x.txt", UPLOAD, CANNOT_CREATE),
                    Stat("{t}/anon/upload/rootdir/x.txt", "absent"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "03b-anon-upload-umask-022",
            ANON_WRITE + ["anon_umask=022"],
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [TYPE_I]
                + anon_upload_checks
                + [
                    uploaded("{t}/anon/upload/a.txt", "ftp", "ftp", "0644"),
                    Cmd("MKD upload/dir", '257 "/upload/dir" created'),
                    Stat("{t}/anon/upload/dir", "dir uid=ftp gid=ftp mode=0755"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "04-anon-other-write",
            ANON_WRITE + ["anon_other_write_enable=YES"],
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [
                    TYPE_I,
                    # The kernel refuses to open root's 0644 file for writing.
                    Stor("upload/rootfile.txt", UPLOAD, CANNOT_CREATE),
                    Stat("{t}/anon/upload/rootfile.txt", ROOT_FILE_INTACT, ROOT_FILE),
                    Cmd("RNFR upload/rootdir/kept.txt", "350 Ready for RNTO."),
                    Cmd("RNTO upload/stolen.txt", "550 Rename failed."),
                    Cmd("DELE upload/rootdir/kept.txt", "550 Delete operation failed."),
                    Stat("{t}/anon/upload/rootdir/kept.txt", ROOT_FILE_INTACT, ROOT_FILE),
                    Cmd("RMD upload/rootdir", "550 Remove directory operation failed."),
                    # upload/ is 0777 without the sticky bit: anyone may unlink in it.
                    Cmd("DELE upload/rootfile.txt", "250 Delete operation successful."),
                    Stat("{t}/anon/upload/rootfile.txt", "absent"),
                    Stor("upload/mine.txt", UPLOAD, STOR_OK, DONE),
                    Stor("upload/mine.txt", "replaced\n", STOR_OK, DONE),
                    Stat("{t}/anon/upload/mine.txt", REPLACED_FILE, "replaced\n"),
                    Cmd("RNFR upload/mine.txt", "350 Ready for RNTO."),
                    Cmd("RNTO upload/renamed.txt", "250 Rename successful."),
                    Stat("{t}/anon/upload/renamed.txt", REPLACED_FILE, "replaced\n"),
                    Cmd("SITE CHMOD 0644 upload/renamed.txt", "550 Permission denied."),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "05-anon-chown-uploads",
            ANON_WRITE + ["chown_uploads=YES", "chown_username={u1}"],
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [
                    TYPE_I,
                    Stor("upload/c.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("{t}/anon/upload/c.txt", "{u1}", "ftp", "0600"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "05b-anon-chown-upload-mode-0644",
            ANON_WRITE + ["chown_uploads=YES", "chown_username={u1}", "chown_upload_mode=0644"],
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [
                    TYPE_I,
                    Stor("upload/c.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("{t}/anon/upload/c.txt", "{u1}", "ftp", "0644"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "06-local-login",
            LOCAL,
            local_tree,
            [
                local("u1") + [Cmd("PWD", pwd_is("/home/{u1}")), QUIT],
                [
                    Cmd("USER {u1}", "331 Please specify the password."),
                    Cmd("PASS wrong-{pw_u1}", LOGIN_INCORRECT),
                    Cmd("PASS {pw_u1}", "503 Login with USER first."),
                    Cmd("PWD", "530 Please login with USER and PASS."),
                    QUIT,
                ],
                # The password is right; pam_shells refuses /usr/sbin/nologin.
                [
                    Cmd("USER {nl}", "331 Please specify the password."),
                    Cmd("PASS {pw_nl}", LOGIN_INCORRECT),
                    QUIT,
                ],
                # With anonymous_enable=NO, "anonymous" is just a name PAM does not know.
                [
                    Cmd("USER anonymous", "331 Please specify the password."),
                    Cmd(f"PASS {ANON_PASSWORD}", LOGIN_INCORRECT),
                    QUIT,
                ],
            ],
        ),
        Scenario(
            "07-local-no-chroot",
            LOCAL,
            local_tree,
            [
                local("u1")
                + [
                    TYPE_I,
                    Cmd("PWD", pwd_is("/home/{u1}")),
                    Cmd("CWD /etc", CWD_OK),
                    Cmd("PWD", pwd_is("/etc")),
                    Retr("/etc/shadow", CANNOT_OPEN),
                    Cmd("CWD /home/{u1}", CWD_OK),
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n"),
                    Stor("new.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("/home/{u1}/new.txt", "{u1}", "{u1}", "0600"),
                    Cmd("MKD newdir", '257 "/home/{u1}/newdir" created'),
                    Stat("/home/{u1}/newdir", "dir uid={u1} gid={u1} mode=0700"),
                    Cmd("SITE CHMOD 0640 new.txt", "200 SITE CHMOD command ok."),
                    uploaded("/home/{u1}/new.txt", "{u1}", "{u1}", "0640"),
                    # Another user's 0700 home.
                    Cmd("CWD /home/{u2}", CWD_FAILED),
                    Retr("/home/{u2}/mine.txt", CANNOT_OPEN),
                    Stor("/home/{u2}/intruder.txt", UPLOAD, CANNOT_CREATE),
                    Stat("/home/{u2}/intruder.txt", "absent"),
                    Nlst("/home/{u2}/", LISTING, NOT_LISTED),
                    Cmd("SIZE /home/{u2}/mine.txt", "550 Could not get file size."),
                    # A root-owned 0755 directory and 0644 file.
                    Stor("{t}/rootonly/new.txt", UPLOAD, CANNOT_CREATE),
                    Stat("{t}/rootonly/new.txt", "absent"),
                    Cmd("DELE {t}/rootonly/file.txt", "550 Delete operation failed."),
                    Cmd("RNFR {t}/rootonly/file.txt", "350 Ready for RNTO."),
                    Cmd("RNTO /home/{u1}/taken.txt", "550 Rename failed."),
                    Cmd("SITE CHMOD 0666 {t}/rootonly/file.txt", "550 SITE CHMOD command failed."),
                    Cmd("MKD {t}/rootonly/sub", "550 Create directory operation failed."),
                    Cmd("RMD {t}/rootonly", "550 Remove directory operation failed."),
                    Stat("{t}/rootonly/file.txt", ROOT_FILE_INTACT, ROOT_FILE),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "07b-local-umask-022",
            LOCAL + ["local_umask=022"],
            local_tree,
            [
                local("u1")
                + [
                    TYPE_I,
                    Stor("new.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("/home/{u1}/new.txt", "{u1}", "{u1}", "0644"),
                    Cmd("MKD newdir", '257 "/home/{u1}/newdir" created'),
                    Stat("/home/{u1}/newdir", "dir uid={u1} gid={u1} mode=0755"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "08-local-chroot",
            LOCAL + ["chroot_local_user=YES", "allow_writeable_chroot=YES"],
            local_tree,
            [
                local("u1")
                + [
                    TYPE_I,
                    Cmd("PWD", pwd_is("/")),
                    Cmd("CWD ..", CWD_OK),
                    Cmd("PWD", pwd_is("/")),
                    Cmd("CWD /etc", CWD_FAILED),
                    Retr("/etc/shadow", CANNOT_OPEN),
                    Retr("../../etc/passwd", CANNOT_OPEN),
                    Retr("/mine.txt", opening("/mine.txt", 17), DONE, "home of {u1}\n"),
                    Stor("jailed.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("/home/{u1}/jailed.txt", "{u1}", "{u1}", "0600"),
                    Cmd("MKD sub", '257 "/sub" created'),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "09-chroot-list",
            LOCAL
            + [
                "chroot_list_enable=YES",
                "chroot_list_file={t}/chroot_list",
                "allow_writeable_chroot=YES",
            ],
            chroot_list_tree,
            [
                local("u1") + [Cmd("PWD", pwd_is("/")), Cmd("CWD /etc", CWD_FAILED), QUIT],
                local("u2") + [Cmd("PWD", pwd_is("/home/{u2}")), Cmd("CWD /etc", CWD_OK), QUIT],
            ],
        ),
        Scenario(
            "09b-chroot-list-inverted",
            LOCAL
            + [
                "chroot_local_user=YES",
                "chroot_list_enable=YES",
                "chroot_list_file={t}/chroot_list",
                "allow_writeable_chroot=YES",
            ],
            chroot_list_tree,
            [
                local("u1") + [Cmd("PWD", pwd_is("/home/{u1}")), QUIT],
                local("u2") + [Cmd("PWD", pwd_is("/")), QUIT],
            ],
        ),
        Scenario(
            "10-supplementary-groups",
            LOCAL,
            local_tree,
            [
                local("u2")
                + [
                    TYPE_I,
                    Retr(
                        "{t}/shared/group.txt",
                        opening("{t}/shared/group.txt", len(SHARED)),
                        DONE,
                        SHARED,
                    ),
                    Stor("{t}/shared/dropbox/from-u2.txt", UPLOAD, STOR_OK, DONE),
                    # Created with the primary group, not the directory's.
                    uploaded("{t}/shared/dropbox/from-u2.txt", "{u2}", "{u2}", "0600"),
                    QUIT,
                ],
                local("u3")
                + [
                    TYPE_I,
                    Retr("{t}/shared/group.txt", CANNOT_OPEN),
                    Stor("{t}/shared/dropbox/from-u3.txt", UPLOAD, CANNOT_CREATE),
                    Stat("{t}/shared/dropbox/from-u3.txt", "absent"),
                    Cmd("CWD {t}/shared/dropbox", CWD_FAILED),
                    QUIT,
                ],
            ],
        ),
        Scenario(
            "11-rnfr-empty",
            LOCAL,
            local_tree,
            [
                local("u1")
                + [
                    Cmd("RNFR", "550 RNFR command failed."),
                    Cmd("RNTO x.txt", "503 RNFR required first."),
                    Cmd("RNFR nosuch.txt", "550 RNFR command failed."),
                    Cmd("RNFR mine.txt", "350 Ready for RNTO."),
                    Cmd("RNTO", "550 Rename failed."),
                    Stat("/home/{u1}/mine.txt", "uid={u1} gid={u1} mode=0600 size=17"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "12-local-root-user-sub-token",
            LOCAL + ["local_root={t}/roots/$USER", "user_sub_token=$USER", "chroot_local_user=YES"],
            roots_tree,
            [
                local("u1")
                + [
                    TYPE_I,
                    Cmd("PWD", pwd_is("/")),
                    Retr("where.txt", opening("where.txt", 17), DONE, "root of {u1}\n"),
                    Nlst(".", LISTING, LISTED),
                    Cmd("CWD ..", CWD_OK),
                    Cmd("PWD", pwd_is("/")),
                    Cmd("CWD /{u2}", CWD_FAILED),
                    Stor("top.txt", UPLOAD, CANNOT_CREATE),
                    Stor("incoming/up.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("{t}/roots/{u1}/incoming/up.txt", "{u1}", "{u1}", "0600"),
                    QUIT,
                ],
                local("u2")
                + [
                    TYPE_I,
                    Cmd("PWD", pwd_is("/")),
                    Retr("where.txt", opening("where.txt", 17), DONE, "root of {u2}\n"),
                    QUIT,
                ],
            ],
        ),
    ] + tls_scenarios() + session_scenarios() + byte_name_scenarios() + stock_file_scenarios()


# --------------------------------------------------------------------------------------------
# FTPS: the same sessions over TLS (RFC 4217), with python's ssl, curl and lftp as clients.

TLS = [
    "ssl_enable=YES",
    "rsa_cert_file={tmp}/tls/server.pem",
    "rsa_private_key_file={tmp}/tls/server.key",
]
PBSZ = Cmd("PBSZ 0", "200 PBSZ set to 0.")
PROT_P = Cmd("PROT P", "200 PROT now Private.")
PROT_C = Cmd("PROT C", "200 PROT now Clear.")
TYPE_A = Cmd("TYPE A", "200 Switching to ASCII mode.")
REUSE_REQUIRED = "522 SSL connection failed: session reuse required"
MUST_ENCRYPT_DATA = "522 Data connections must be encrypted."
LINES = "one\ntwo\nthree\n"
BIG = 32 * 1024 * 1024
# One data connection over TLS, resuming the control connection's session.
RESUMED = "resumed, close_notify at end"
RESUMED_UPLOAD = "resumed, upload ended, close_notify back"
CA = "{tmp}/tls/ca.pem"


def tls_tree(t, env):
    """local_tree, and in u1's home lines.txt (LF line ends) and big.bin (32 MiB, for ABOR);
    upload.txt to send with curl and lftp; dl/ for what they download."""
    local_tree(t, env)
    account = env.users["u1"]
    home = Path(account.home)
    make_file(home / "lines.txt", LINES, 0o644, account.uid, account.gid)
    with open(home / "big.bin", "wb") as big:
        big.truncate(BIG)
    os.chown(home / "big.bin", account.uid, account.gid)
    make_file(t / "upload.txt", UPLOAD, 0o644)
    make_dir(t / "dl", 0o755)


def tls_anon_tree(t, env):
    anon_tree(t, env)
    make_dir(t / "dl", 0o755)


def tls_local(user, cert=None):
    return [Auth(cert=cert)] + local(user) + [PBSZ, PROT_P]


def curl(url, *args, expect="exit 0"):
    """curl over explicit FTPS (--ssl-reqd) or implicit (ftps:// URLs), localhost on
    127.0.0.1, the run's CA trusted."""
    return Client(
        "curl",
        ["-sS", "--ssl-reqd", "--cacert", CA, "--resolve", "localhost:{port}:127.0.0.1"]
        + list(args)
        + [url],
        expect,
    )


def lftp(version, commands, expect="exit 0", output=False):
    """lftp (GnuTLS) with TLS forced on the control and data connections, the run's CA
    trusted, at most TLS `version`, logged in as u1."""
    priority = "NORMAL:-VERS-TLS1.3" if version == "1.2" else "NORMAL"
    script = (
        "set dns:order inet; set net:max-retries 1; set net:timeout 10; "
        "set ftp:ssl-force true; set ftp:ssl-protect-data true; "
        f'set ssl:ca-file {CA}; set ssl:priority "{priority}"; '
        "open -u {u1},{pw_u1} -p {port} localhost; " + commands
    )
    return Client("lftp", ["-c", script], expect, output)


def ftps_local(name, version):
    """Login, FEAT, NLST, RETR, STOR and RETR again over TLS `version`, every data
    connection resuming the control connection's session; then curl and lftp."""
    tls_max = ["--tls-max", version]
    return Scenario(
        name,
        TLS + LOCAL,
        tls_tree,
        [
            [Auth()]
            + local("u1")
            + [
                PBSZ,
                PROT_P,
                TYPE_I,
                Nlst(".", LISTING, LISTED, RESUMED),
                Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                Stor("new.txt", UPLOAD, STOR_OK, DONE, RESUMED_UPLOAD),
                uploaded("/home/{u1}/new.txt", "{u1}", "{u1}", "0600"),
                Retr("new.txt", opening("new.txt", len(UPLOAD)), DONE, UPLOAD, RESUMED),
                Nlst(".", LISTING, LISTED, RESUMED),
                QUIT,
                curl("ftp://localhost:{port}/mine.txt", *tls_max, "-u", "{u1}:{pw_u1}",
                     "-o", "{t}/dl/curl.txt"),
                Stat("{t}/dl/curl.txt", "uid=root gid=root mode=0644 size=17 same bytes",
                     "home of {u1}\n"),
                curl("ftp://localhost:{port}/curl-up.txt", *tls_max, "-u", "{u1}:{pw_u1}",
                     "-T", "{t}/upload.txt"),
                uploaded("/home/{u1}/curl-up.txt", "{u1}", "{u1}", "0600"),
                # Two listings, before and after the upload.
                lftp(version, "nlist; get mine.txt -o {t}/dl/lftp.txt; "
                     "put {t}/upload.txt -o lftp-up.txt; nlist", output=True,
                     expect="exit 0; output: big.bin, big.bin, curl-up.txt, curl-up.txt, "
                     "lftp-up.txt, lines.txt, lines.txt, mine.txt, mine.txt, new.txt, new.txt"),
                Stat("{t}/dl/lftp.txt", "uid=root gid=root mode=0644 size=17 same bytes",
                     "home of {u1}\n"),
                uploaded("/home/{u1}/lftp-up.txt", "{u1}", "{u1}", "0600"),
            ]
        ],
        tls_version=version,
    )


def reuse_required(name, version):
    """require_ssl_reuse=YES (the default): a data connection that does not resume the
    control connection's session is refused, and the session ends; one that does works."""
    return Scenario(
        name,
        TLS + LOCAL,
        tls_tree,
        [
            tls_local("u1")
            + [
                TYPE_I,
                DataTls("fresh"),
                Retr("mine.txt", opening("mine.txt", 17), REUSE_REQUIRED),
                Read("<connection closed>"),
            ],
            tls_local("u1")
            + [
                TYPE_I,
                Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                QUIT,
            ],
        ],
        tls_version=version,
    )


def reuse_chained(name, version):
    """Each data connection resumes the previous one's session, not the control
    connection's: vsftpd's session cache takes any session of the same session process."""
    retr = Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED)
    return Scenario(
        name,
        TLS + LOCAL,
        tls_tree,
        [
            tls_local("u1")
            + [TYPE_I, DataTls("chain"), retr, Nlst(".", LISTING, LISTED, RESUMED), retr, retr]
            + [QUIT]
        ],
        tls_version=version,
    )


def client_certs(name, version):
    """require_cert + validate_cert: a certificate from the CA in ca_certs_file logs in and
    transfers; none, or one from another CA, gets no session."""
    conf = TLS + LOCAL + ["require_cert=YES", "validate_cert=YES", "ca_certs_file=" + CA]

    def refused(alert):
        return f"failed: {alert}" if version == "1.2" else "ok"

    def after_refusal(alert):
        return "<connection closed>" if version == "1.2" else f"<TLS error: {alert}>"

    return Scenario(
        name,
        conf,
        tls_tree,
        [
            tls_local("u1", cert="client")
            + [
                TYPE_I,
                Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                QUIT,
                curl("ftp://localhost:{port}/mine.txt", "--tls-max", version,
                     "--cert", "{tmp}/tls/client.pem", "--key", "{tmp}/tls/client.key",
                     "-u", "{u1}:{pw_u1}", "-o", "{t}/dl/cert.txt"),
                Stat("{t}/dl/cert.txt", "uid=root gid=root mode=0644 size=17 same bytes",
                     "home of {u1}\n"),
                # Refused in the handshake (35) under TLS 1.2; under TLS 1.3 the client's
                # handshake ends before the server has seen its certificate, so the refusal
                # comes as an alert at the first read (56).
                curl("ftp://localhost:{port}/mine.txt", "--tls-max", version,
                     "-u", "{u1}:{pw_u1}", "-o", "{t}/dl/nocert.txt",
                     expect="exit 35" if version == "1.2" else "exit 56"),
                Stat("{t}/dl/nocert.txt", "absent"),
            ],
            [
                Auth(expect_handshake=refused("SSLV3_ALERT_HANDSHAKE_FAILURE")),
                Read(after_refusal("TLSV13_ALERT_CERTIFICATE_REQUIRED")),
            ],
            [
                Auth(cert="other", expect_handshake=refused("TLSV1_ALERT_UNKNOWN_CA")),
                Read(after_refusal("TLSV1_ALERT_UNKNOWN_CA")),
            ],
        ],
        tls_version=version,
    )


def tls_scenarios():
    return [
        ftps_local("20-ftps-local-tls12", "1.2"),
        ftps_local("20b-ftps-local-tls13", "1.3"),
        Scenario(
            "21-ftps-force-local-ssl",
            TLS + LOCAL,
            tls_tree,
            [
                # force_local_logins_ssl=YES (the default): the session ends.
                [
                    Cmd("USER {u1}", "530 Non-anonymous sessions must use encryption."),
                    Read("<connection closed>"),
                ],
                # force_local_data_ssl=YES (the default).
                [Auth()]
                + local("u1")
                + [
                    PBSZ,
                    PROT_C,
                    TYPE_I,
                    Retr("mine.txt", MUST_ENCRYPT_DATA),
                    Nlst(".", MUST_ENCRYPT_DATA),
                    PROT_P,
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                    QUIT,
                ],
            ],
        ),
        Scenario(
            "22-ftps-anon-ssl-off",
            TLS + ANON,
            tls_anon_tree,
            [
                [
                    Auth(),
                    Cmd("USER anonymous", "530 Anonymous sessions may not use encryption."),
                    Cmd("PWD", None),
                    QUIT,
                ],
                anonymous()
                + [
                    TYPE_I,
                    Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD),
                    QUIT,
                ],
            ],
        ),
        Scenario(
            "22b-ftps-anon-ssl-on",
            TLS + ANON + ["allow_anon_ssl=YES"],
            tls_anon_tree,
            [
                [Auth()]
                + anonymous()
                + [
                    PBSZ,
                    PROT_P,
                    TYPE_I,
                    Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD, RESUMED),
                    QUIT,
                ],
                # force_anon_logins_ssl=NO, force_anon_data_ssl=NO (the defaults).
                anonymous()
                + [
                    TYPE_I,
                    Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD),
                    QUIT,
                ],
            ],
        ),
        Scenario(
            "22c-ftps-force-anon-ssl",
            TLS
            + ANON
            + ["allow_anon_ssl=YES", "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES"],
            tls_anon_tree,
            [
                [
                    Cmd("USER anonymous", "530 Anonymous sessions must use encryption."),
                    Read("<connection closed>"),
                ],
                [Auth()]
                + anonymous()
                + [
                    PBSZ,
                    TYPE_I,
                    Retr("world.txt", MUST_ENCRYPT_DATA),
                    PROT_P,
                    Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD, RESUMED),
                    QUIT,
                ],
            ],
        ),
        reuse_required("23-ftps-reuse-required-tls12", "1.2"),
        reuse_required("23b-ftps-reuse-required-tls13", "1.3"),
        reuse_chained("23d-ftps-reuse-chained-tls12", "1.2"),
        reuse_chained("23e-ftps-reuse-chained-tls13", "1.3"),
        Scenario(
            "23c-ftps-reuse-not-required",
            TLS + LOCAL + ["require_ssl_reuse=NO"],
            tls_tree,
            [
                tls_local("u1")
                + [
                    TYPE_I,
                    DataTls("fresh"),
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n",
                         "new session, close_notify at end"),
                    DataTls("reuse"),
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "24-ftps-implicit",
            TLS + LOCAL + ["implicit_ssl=YES"],
            tls_tree,
            [
                [Cmd("AUTH TLS", "530 Please login with USER and PASS.")]
                + local("u1")
                + [
                    PBSZ,
                    PROT_P,
                    TYPE_I,
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                    Stor("new.txt", UPLOAD, STOR_OK, DONE, RESUMED_UPLOAD),
                    uploaded("/home/{u1}/new.txt", "{u1}", "{u1}", "0600"),
                    QUIT,
                    curl("ftps://localhost:{port}/mine.txt", "-u", "{u1}:{pw_u1}",
                         "-o", "{t}/dl/curl.txt"),
                    Stat("{t}/dl/curl.txt", "uid=root gid=root mode=0644 size=17 same bytes",
                         "home of {u1}\n"),
                ]
            ],
            implicit=True,
        ),
        client_certs("25-ftps-client-cert-tls12", "1.2"),
        client_certs("25b-ftps-client-cert-tls13", "1.3"),
        Scenario(
            "26-ftps-rest-ascii",
            TLS + LOCAL + ["ascii_download_enable=YES", "ascii_upload_enable=YES"],
            tls_tree,
            [
                tls_local("u1")
                + [
                    TYPE_I,
                    Cmd("REST 5", "350 Restart position accepted (5)."),
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "of {u1}\n", RESUMED),
                    TYPE_A,
                    Retr(
                        "lines.txt",
                        "150 Opening ASCII mode data connection for lines.txt "
                        f"({len(LINES)} bytes).",
                        DONE,
                        LINES.replace("\n", "\r\n"),
                        RESUMED,
                    ),
                    Stor("ascii.txt", "x\r\ny\r\n", STOR_OK, DONE, RESUMED_UPLOAD),
                    Stat("/home/{u1}/ascii.txt", "uid={u1} gid={u1} mode=0600 size=4 same bytes",
                         "x\ny\n"),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "26b-ftps-abor",
            TLS + LOCAL,
            tls_tree,
            [
                tls_local("u1")
                + [
                    TYPE_I,
                    # vsftpd reads no command during a TLS transfer: the dropped data
                    # connection ends it, then ABOR finds none.
                    Abor(
                        "big.bin",
                        opening("big.bin", BIG),
                        "426 Failure writing network stream. / 225 No transfer to ABOR. / "
                        "200 NOOP ok.",
                    ),
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                    QUIT,
                ]
            ],
        ),
        Scenario(
            "28-ftps-feat",
            TLS + LOCAL,
            tls_tree,
            [[Feat(), Auth(), Feat(), QUIT]],
        ),
        Scenario(
            "27-ftps-logs",
            TLS
            + LOCAL
            + [
                "xferlog_enable=YES",
                "dual_log_enable=YES",
                "xferlog_file={t}/xferlog",
                "vsftpd_log_file={t}/vsftpd.log",
            ],
            tls_tree,
            [
                tls_local("u1")
                + [
                    TYPE_I,
                    Retr("mine.txt", opening("mine.txt", 17), DONE, "home of {u1}\n", RESUMED),
                    Stor("new.txt", UPLOAD, STOR_OK, DONE, RESUMED_UPLOAD),
                    QUIT,
                    Log("{t}/xferlog"),
                    Log("{t}/vsftpd.log"),
                ]
            ],
        ),
    ]


# --------------------------------------------------------------------------------------------
# Session behaviour: the TYPE a session starts in, STAT, OPTS, logs of failed downloads,
# listings with their flags, use_localtime and ~.

# 14 July 2020 20:00 UTC: 15 July 01:30 in India (IST, 5 h 30 min east, no summer time).
A_TXT_MTIME = 1_594_756_800
INDIA = "IST-5:30"


def listing_tree(t, env):
    """anon/ with a.txt, ftp-owned.txt (the ftp account's, listed with numeric ids), sub/b.txt
    and sub/deep/c.txt; every time fixed and older than six months, so listings show years and
    do not depend on when the suite runs."""
    anon = t / "anon"
    make_dir(anon, 0o755)
    make_file(anon / "a.txt", WORLD, 0o644)
    make_file(anon / "ftp-owned.txt", WORLD, 0o644, pwd.getpwnam("ftp").pw_uid, env.ftp_gid)
    make_dir(anon / "sub", 0o755)
    make_file(anon / "sub" / "b.txt", WORLD, 0o644)
    make_dir(anon / "sub" / "deep", 0o755)
    make_file(anon / "sub" / "deep" / "c.txt", WORLD, 0o644)
    times = [
        ("a.txt", A_TXT_MTIME),
        ("ftp-owned.txt", 1_600_000_000),
        ("sub/b.txt", 1_614_556_800),
        ("sub/deep/c.txt", 1_546_300_800),
        ("sub/deep", 1_559_347_200),
        ("sub", 1_617_235_200),
        (".", 1_640_995_200),
    ]
    for name, when in times:
        os.utime(anon / name, (when, when))


SERVER_STATUS = (
    "211-FTP server status:\\r\\n     Connected to 127.0.0.1\\r\\n     Logged in as ftp\\r\\n"
    "     TYPE: ASCII\\r\\n     No session bandwidth limit\\r\\n"
    "     Session timeout in seconds is 300\\r\\n     Control connection is plain text\\r\\n"
    "     Data connections will be plain text\\r\\n"
    "     At session startup, client count was <n>\\r\\n     <server>\\r\\n211 End of status"
)


def session_scenarios():
    return [
        Scenario(
            "30-session-type-stat-logs",
            ANON_WRITE
            + [
                "ascii_upload_enable=YES",
                "ascii_download_enable=YES",
                "dual_log_enable=YES",
                "xferlog_file={t}/xferlog",
                "vsftpd_log_file={t}/vsftpd.log",
            ],
            lambda t, env: anon_tree(t, env, upload=True),
            [
                anonymous()
                + [
                    # Sessions start in TYPE A: the upload is converted, the download too.
                    ServerStatus(SERVER_STATUS),
                    Cmd("OPTS UTF8", "501 Option not understood."),
                    Cmd("OPTS UTF8 ON", "200 Always in UTF8 mode."),
                    Cmd("MDTM upload", "550 Could not get file modification time."),
                    Stor("upload/crlf.txt", "one\r\ntwo\r\n", STOR_OK, DONE),
                    Stat(
                        "{t}/anon/upload/crlf.txt",
                        "uid=ftp gid=ftp mode=0600 size=8 same bytes",
                        "one\ntwo\n",
                    ),
                    Retr(
                        "world.txt",
                        "150 Opening ASCII mode data connection for world.txt (15 bytes).",
                        DONE,
                        "world-readable\r\n",
                    ),
                    Retr("nosuch.txt", CANNOT_OPEN),
                    Retr("upload", CANNOT_OPEN),
                    QUIT,
                    Log("{t}/xferlog"),
                    Log("{t}/vsftpd.log"),
                ]
            ],
        ),
        Scenario(
            "31-listing-flags-localtime-tilde",
            ANON + ["ls_recurse_enable=YES", "use_localtime=YES"],
            listing_tree,
            [
                anonymous()
                + [
                    Listing("LIST", "", LISTING, LISTED),
                    Listing("NLST", "-l", LISTING, LISTED),
                    Listing("NLST", "-t", LISTING, LISTED),
                    Listing("NLST", "-R", LISTING, LISTED),
                    Listing("NLST", "-lR sub", LISTING, LISTED),
                    Listing("LIST", "-R", LISTING, LISTED),
                    Cmd("STAT -R"),
                    Cmd("STAT sub"),
                    Cmd("MDTM a.txt", "213 20200715013000"),
                    Listing("NLST", "~", LISTING, LISTED),
                    Listing("LIST", "-l ~/sub", LISTING, LISTED),
                    Cmd("CWD ~/sub", CWD_OK),
                    Cmd("PWD", pwd_is("/sub")),
                    Cmd("SIZE ~/a.txt", f"213 {len(WORLD)}"),
                    Cmd("MDTM ~/a.txt", "550 Could not get file modification time."),
                    Cmd("CWD ~", CWD_OK),
                    Cmd("PWD", pwd_is("/")),
                    QUIT,
                ]
            ],
            tz=INDIA,
        ),
    ]


# --------------------------------------------------------------------------------------------
# File names are bytes (issue 15): names that are not UTF-8 are listed, downloaded, renamed,
# uploaded and logged as the bytes on disk. Step texts are the bytes on the wire, one latin-1
# character a byte.

HANGUL = b"\xc7\xd1\xb1\xdb.txt".decode("latin-1")  # "한글.txt" in EUC-KR (and CP949)
CAFE = b"caf\xe9".decode("latin-1")  # "café" in Latin-1
NAMED = "named in EUC-KR\n"
NAMED_MTIME = 1_594_730_280  # 2020-07-14 12:38:00 UTC


def escaped(reply):
    """An expected reply as the transcript shows it (bytes above 0x7e escaped)."""
    return show(reply.encode("latin-1") + b"\r\n")


def byte_names_tree(t, env):
    """anon_tree with upload/, plus pub/ holding 한글.txt (EUC-KR) and café/ (Latin-1)."""
    anon_tree(t, env, upload=True)
    pub = t / "anon" / "pub"
    make_dir(pub, 0o755)
    make_file(disk_path(f"{pub}/{HANGUL}"), NAMED, 0o644)
    os.utime(disk_path(f"{pub}/{HANGUL}"), (NAMED_MTIME, NAMED_MTIME))
    make_dir(disk_path(f"{pub}/{CAFE}"), 0o755)


def byte_name_scenarios():
    return [
        Scenario(
            "32-byte-names",
            ANON_WRITE
            + [
                "anon_other_write_enable=YES",
                "xferlog_enable=YES",
                "dual_log_enable=YES",
                "xferlog_file={t}/xferlog",
                "vsftpd_log_file={t}/vsftpd.log",
            ],
            byte_names_tree,
            [
                anonymous()
                + [
                    TYPE_I,
                    Cmd("CWD pub", CWD_OK),
                    Nlst(".", LISTING, LISTED),
                    Cmd(f"SIZE {HANGUL}", f"213 {len(NAMED)}"),
                    Cmd(f"MDTM {HANGUL}", "213 20200714123800"),
                    Retr(HANGUL, escaped(opening(HANGUL, len(NAMED))), DONE, NAMED),
                    Cmd(f"CWD {CAFE}", CWD_OK),
                    Cmd("PWD", escaped(pwd_is(f"/pub/{CAFE}"))),
                    Cmd("CWD /upload", CWD_OK),
                    Stor(HANGUL, UPLOAD, STOR_OK, DONE),
                    uploaded(f"{{t}}/anon/upload/{HANGUL}", "ftp", "ftp", "0600"),
                    Cmd(f"RNFR {HANGUL}", "350 Ready for RNTO."),
                    Cmd(f"RNTO {CAFE}", "250 Rename successful."),
                    Stat(f"{{t}}/anon/upload/{HANGUL}", "absent"),
                    uploaded(f"{{t}}/anon/upload/{CAFE}", "ftp", "ftp", "0600"),
                    Cmd(f"DELE {CAFE}", "250 Delete operation successful."),
                    Stat(f"{{t}}/anon/upload/{CAFE}", "absent"),
                    Cmd(f"MKD {CAFE}", escaped(f'257 "/upload/{CAFE}" created')),
                    Stat(f"{{t}}/anon/upload/{CAFE}", "dir uid=ftp gid=ftp mode=0700"),
                    QUIT,
                    Log("{t}/xferlog"),
                    Log("{t}/vsftpd.log"),
                ]
            ],
        ),
    ]


# --------------------------------------------------------------------------------------------
# Stock files (issue 15): Debian's and Rocky's listen lines (listen=NO, listen_ipv6=YES: one
# dual-stack socket), and tcp_wrappers rules that give some hosts a configuration of their own
# (setenv VSFTPD_LOAD_CONF) or refuse them.

LOGS = [
    "xferlog_enable=YES",
    "dual_log_enable=YES",
    "xferlog_file={t}/xferlog",
    "vsftpd_log_file={t}/vsftpd.log",
]
PORT_OK = "200 PORT command successful. Consider using PASV."
PORT_ILLEGAL = "500 Illegal PORT command."
HOST_BANNER = "per-host configuration"
HOST_FILE = "served to 127.0.0.2\n"
HOST_RULES = [
    "vsftpd: 127.0.0.2: setenv VSFTPD_LOAD_CONF {t}/host.conf",
    "vsftpd: 127.0.0.3: DENY",
]


def dual_stack_session(source):
    """Log in from `source` and move files through every way of opening a data connection
    the session's address family allows."""
    ipv6 = source == "::1"
    name = "v6" if ipv6 else "v4"
    mapped = source if ipv6 else f"::ffff:{source}"
    world = Retr("world.txt", opening("world.txt", len(WORLD)), DONE, WORLD)
    return (
        [Connect(source)]
        + anonymous()
        + [
            # vsftpd names an IPv4 client of its IPv6 socket by the mapped address, in STAT
            # as in its logs.
            ServerStatus(SERVER_STATUS.replace("127.0.0.1", mapped)),
            TYPE_I,
        ]
        # PASV can only name an IPv4 address: to an IPv6 client vsftpd names 0.0.0.0.
        + ([Cmd("PASV", "227 Entering Passive Mode (0,0,0,0,<port>).")] if ipv6 else [world])
        + [
            DataVia("EPSV"),
            world,
            Stor(f"upload/{name}.txt", UPLOAD, STOR_OK, DONE),
            uploaded(f"{{t}}/anon/upload/{name}.txt", "ftp", "ftp", "0600"),
            Nlst("upload", LISTING, LISTED),
            DataVia("EPRT"),
            world,
            # PORT names an IPv4 address, which is not an IPv6 client's.
            Cmd("PORT 127,0,0,1,4,1", PORT_ILLEGAL if ipv6 else PORT_OK),
            QUIT,
        ]
    )


def host_conf_tree(t, env):
    """anon/ (as anon_tree) for the main configuration; host-anon/ with hello.txt and an
    upload/ 0777 directory, and host.conf naming it, for 127.0.0.2."""
    anon_tree(t, env)
    host = t / "host-anon"
    make_dir(host, 0o755)
    make_file(host / "hello.txt", HOST_FILE, 0o644)
    make_dir(host / "upload", 0o777)
    lines = [
        f"ftpd_banner={HOST_BANNER}",
        f"anon_root={host}",
        "write_enable=YES",
        "anon_upload_enable=YES",
    ]
    make_file(t / "host.conf", "".join(f"{line}\n" for line in lines), 0o644)


def stock_file_scenarios():
    return [
        Scenario(
            "33-dual-stack-listen-ipv6",
            ANON_WRITE + LOGS,
            lambda t, env: anon_tree(t, env, upload=True),
            [
                dual_stack_session("127.0.0.1"),
                dual_stack_session("::1") + [Log("{t}/xferlog"), Log("{t}/vsftpd.log")],
            ],
            dual_stack=True,
        ),
        Scenario(
            "34-tcp-wrappers-per-host-conf",
            ANON + ["tcp_wrappers=YES"],
            host_conf_tree,
            [
                [Connect("127.0.0.1")]
                + anonymous()
                + [
                    TYPE_I,
                    Nlst(".", LISTING, LISTED),
                    Retr("hello.txt", CANNOT_OPEN),
                    Stor("upload/from-main.txt", UPLOAD, PERMISSION_DENIED),
                    QUIT,
                ],
                [Connect("127.0.0.2", f"220 {HOST_BANNER}")]
                + anonymous()
                + [
                    TYPE_I,
                    Nlst(".", LISTING, LISTED),
                    Retr("hello.txt", opening("hello.txt", len(HOST_FILE)), DONE, HOST_FILE),
                    QUIT,
                ],
                [Connect("127.0.0.3", "421 Service not available."), Read("<connection closed>")],
            ],
            hosts_allow=HOST_RULES,
        ),
        # The per-host file turns uploads on where the main file has them off.
        Scenario(
            "34b-tcp-wrappers-per-host-write",
            ANON + ["tcp_wrappers=YES"],
            host_conf_tree,
            [
                [Connect("127.0.0.2", f"220 {HOST_BANNER}")]
                + anonymous()
                + [
                    TYPE_I,
                    Stor("upload/from-host.txt", UPLOAD, STOR_OK, DONE),
                    uploaded("{t}/host-anon/upload/from-host.txt", "ftp", "ftp", "0600"),
                    QUIT,
                ],
            ],
            hosts_allow=HOST_RULES,
        ),
    ]


# --------------------------------------------------------------------------------------------
# Accounts, the PAM service and the work directory.


@dataclass
class Account:
    name: str
    password: str
    uid: int = 0
    gid: int = 0
    home: str = ""


@dataclass
class Env:
    tmp: Path
    users: dict = field(default_factory=dict)
    group: str = ""
    group_gid: int = 0
    pam_service: str = ""
    ftp_gid: int = 0
    pasv_range: tuple = (0, 0)
    created_users: list = field(default_factory=list)
    created_group: str = ""
    pam_file: Path | None = None
    # /etc/hosts.allow as it was before a scenario replaced it: (bytes, mode, uid, gid,
    # (atime, mtime) in ns), or None while it is the machine's own.
    hosts_allow_saved: tuple | None = None

    def real(self, t):
        values = {"tmp": str(self.tmp), "t": str(t)}
        for role, account in self.users.items():
            values[role] = account.name
            values[f"pw_{role}"] = account.password
        return values

    def shown(self, t):
        values = {"tmp": "<tmp>", "t": "<tmp>/" + t.name}
        for role in self.users:
            values[role] = f"<{role}>"
            values[f"pw_{role}"] = f"<pw_{role}>"
        return values

    def replacements(self):
        """Real value → token, longest first, for replies and names read from disk."""
        pairs = [(str(self.tmp), "<tmp>"), (self.pam_service, "<pam>")]
        for role, account in self.users.items():
            pairs.append((account.password, f"<pw_{role}>"))
            pairs.append((account.name, f"<{role}>"))
        if self.group:
            pairs.append((self.group, "<group>"))
        return sorted((p for p in pairs if p[0]), key=lambda p: -len(p[0]))

    def normalise(self, text):
        for real, token in self.replacements():
            text = text.replace(real, token)
        return text


def run_tool(args, stdin=None, ok=(0,)):
    """Run a shadow-utils tool; retry for a few seconds while another process holds the lock on
    /etc/passwd or /etc/group (other suites on this machine create accounts too), or while a
    stopped server's session process of the account has not been reaped yet (userdel: 8)."""
    for attempt in range(20):
        result = subprocess.run(args, input=stdin, capture_output=True, text=True)
        if result.returncode in ok:
            return
        busy = "lock" in result.stderr or (args[0] == "userdel" and result.returncode == 8)
        if not busy or attempt == 19:
            command = " ".join(args)
            raise RuntimeError(f"{command} failed ({result.returncode}): {result.stderr.strip()}")
        time.sleep(0.25)


def unused_name(prefix, exists):
    while True:
        name = prefix + secrets.token_hex(3)[:5]
        try:
            exists(name)
        except KeyError:
            return name


def create_accounts(env):
    try:
        env.ftp_gid = pwd.getpwnam("ftp").pw_gid
    except KeyError:
        raise RuntimeError(
            "no `ftp` account (ftp_username): Debian's vsftpd package creates it; "
            "run bash tests/interop/install-packages.sh vsftpd"
        ) from None
    env.group = unused_name("rdg", grp.getgrnam)
    # Recorded before it exists, so an interruption right after groupadd still removes it.
    env.created_group = env.group
    run_tool(["groupadd", env.group])
    env.group_gid = grp.getgrnam(env.group).gr_gid
    # u1 and u2 share the group (as a supplementary group); u3 does not; nl cannot log in.
    for role, shell, groups in (
        ("u1", "/bin/bash", [env.group]),
        ("u2", "/bin/bash", [env.group]),
        ("u3", "/bin/bash", []),
        ("nl", "/usr/sbin/nologin", []),
    ):
        name = unused_name("rdi", pwd.getpwnam)
        args = ["useradd", "-m", "-s", shell]
        if groups:
            args += ["-G", ",".join(groups)]
        env.created_users.append(name)
        run_tool(args + [name])
        account = Account(name, "Pw-" + secrets.token_hex(8))
        run_tool(["chpasswd"], stdin=f"{name}:{account.password}\n")
        entry = pwd.getpwnam(name)
        account.uid, account.gid, account.home = entry.pw_uid, entry.pw_gid, entry.pw_dir
        os.chmod(account.home, 0o700)
        env.users[role] = account


def create_certificates(d):
    """A CA, the servers' certificate for localhost (signed by it; not a CA certificate,
    which rustls refuses as a server's), a client certificate signed by the same CA, and one
    signed by another CA: `name`.pem and `name`.key in `d`, fresh for each run."""
    d.mkdir(mode=0o755)

    def openssl(*args):
        done = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=d)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)}: {done.stderr.strip()}")

    def certificate(name, subject, ca=None, extensions=()):
        args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        args += ["-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={subject}"]
        if ca:
            args += ["-CA", f"{ca}.pem", "-CAkey", f"{ca}.key"]
        for extension in extensions:
            args += ["-addext", extension]
        openssl(*args)

    leaf = ["basicConstraints=critical,CA:FALSE"]
    for ca in ("ca", "other-ca"):
        certificate(ca, f"ringd interop {ca}", extensions=["basicConstraints=critical,CA:TRUE"])
    certificate("server", "localhost", "ca", leaf + ["subjectAltName=DNS:localhost"])
    certificate("client", "interop client", "ca", leaf + ["extendedKeyUsage=clientAuth"])
    certificate("other", "other client", "other-ca", leaf + ["extendedKeyUsage=clientAuth"])


def create_pam_service(env):
    env.pam_service = "ringd-interop-" + secrets.token_hex(4)
    path = Path("/etc/pam.d") / env.pam_service
    path.write_text(
        "# ringd's FTP security interop suite (tests/interop/ftp_security.py), for one run.\n"
        "auth required pam_unix.so\n"
        "auth required pam_shells.so\n"
        "account required pam_unix.so\n"
    )
    env.pam_file = path


HOSTS_ALLOW = Path("/etc/hosts.allow")


def replace_file(path, content, mode, uid, gid, times=None):
    """`path` replaced whole by `content` (written beside it, then renamed over it), so a
    program reading it meanwhile sees the old file or the new, never a part; with `times`
    (atime, mtime in ns) as they were."""
    partial = path.with_name(f".{path.name}.ringd-interop-{os.getpid()}")
    try:
        partial.write_bytes(content)
        os.chown(partial, uid, gid)
        os.chmod(partial, mode)
        if times is not None:
            os.utime(partial, ns=times)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def install_hosts_allow(env, lines):
    """/etc/hosts.allow replaced by `lines`, the original kept in `env` for
    restore_hosts_allow (which every way out of the suite runs)."""
    if env.hosts_allow_saved is None:
        info = os.stat(HOSTS_ALLOW)
        env.hosts_allow_saved = (
            HOSTS_ALLOW.read_bytes(),
            info.st_mode & 0o7777,
            info.st_uid,
            info.st_gid,
            (info.st_atime_ns, info.st_mtime_ns),
        )
    header = "# ringd's FTP interop suite (tests/interop/ftp_security.py), for one scenario.\n"
    _, mode, uid, gid, _ = env.hosts_allow_saved
    text = header + "".join(f"{line}\n" for line in lines)
    replace_file(HOSTS_ALLOW, text.encode(), mode, uid, gid)


def restore_hosts_allow(env):
    if env.hosts_allow_saved is not None:
        replace_file(HOSTS_ALLOW, *env.hosts_allow_saved)
        env.hosts_allow_saved = None


def remove_everything(env):
    problems = []
    try:
        restore_hosts_allow(env)
    except OSError as err:
        problems.append(f"{HOSTS_ALLOW} not restored: {err}")
    for name in env.created_users:
        try:
            home = Path(pwd.getpwnam(name).pw_dir)
        except KeyError:
            continue  # useradd did not get to create it
        try:
            # 12: the mail spool (never created) or home could not be removed; the home is
            # removed below either way.
            run_tool(["userdel", "-r", name], ok=(0, 12))
        except (OSError, RuntimeError) as err:
            problems.append(str(err))
        if home.name == name:
            shutil.rmtree(home, ignore_errors=True)
    if env.created_group:
        try:
            grp.getgrnam(env.created_group)
        except KeyError:
            env.created_group = ""
    if env.created_group:
        try:
            run_tool(["groupdel", env.created_group])
        except (OSError, RuntimeError) as err:
            problems.append(str(err))
    if env.pam_file is not None:
        env.pam_file.unlink(missing_ok=True)
    shutil.rmtree(env.tmp, ignore_errors=True)
    return problems


# --------------------------------------------------------------------------------------------
# Ports.


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_range(count):
    """`count` consecutive ports on 127.0.0.1 that nothing listens on right now."""
    for _ in range(200):
        low = 20000 + secrets.randbelow(30000)
        probes = []
        try:
            for port in range(low, low + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return low, low + count - 1
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports found on 127.0.0.1")


# --------------------------------------------------------------------------------------------
# The servers.


class StartError(Exception):
    pass


def descendants(pid):
    """PIDs of every process below `pid` (from /proc), children first found first."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class Server:
    """vsftpd or ringd on 127.0.0.1, started from a vsftpd.conf, stopped by PID."""

    RINGD_READY = re.compile(r"ready: .* ftp=(?:127\.0\.0\.1|\[::\]):(\d+)")

    def __init__(self, kind, program, conf_path, implicit=False, tz=None):
        self.kind = kind
        self.implicit = implicit
        self.tz = tz
        self.program = program
        self.conf_path = conf_path
        self.process = None
        self.port = None
        self.stderr_lines = []
        self.ready = threading.Event()
        self.reader = None

    def start(self, conf_text):
        if self.kind == "vsftpd":
            port = free_port()
            self.conf_path.write_text(conf_text.replace("listen_port=PORT", f"listen_port={port}"))
            argv = [self.program, str(self.conf_path)]
        else:
            self.conf_path.write_text(conf_text.replace("listen_port=PORT", "listen_port=0"))
            argv = [self.program, "--ftp-conf", str(self.conf_path), "--shards", "1"]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.conf_path.parent,
            start_new_session=True,
            env={**os.environ, "TZ": self.tz} if self.tz else None,
        )
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        if self.kind == "vsftpd":
            self._wait_for_listener(port)
        else:
            self._wait_for_start_line()

    def _read_stderr(self):
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stderr_lines.append(line)
            match = self.RINGD_READY.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self.ready.set()
        self.ready.set()

    def _failure(self, what):
        output = "\n".join(self.stderr_lines[-20:]) or "(nothing on stderr)"
        return StartError(f"{self.kind} {what}: {output}")

    def _wait_for_start_line(self):
        if not self.ready.wait(START_TIMEOUT):
            raise self._failure(f"printed no start-up line within {START_TIMEOUT:.0f} s")
        if self.port is None:
            self.process.wait(STOP_TIMEOUT)
            raise self._failure(f"exited ({self.process.returncode}) before serving")

    def _wait_for_listener(self, port):
        """vsftpd prints nothing when it is ready: connect until it answers 220 (each attempt
        waits on its stderr, which closes if it exits)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.ready.wait(1)
                raise self._failure(f"exited ({self.process.returncode}) before serving")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT) as probe:
                    if self.implicit:
                        # The greeting comes after a TLS handshake: accepting is enough.
                        self.port = port
                        return
                    greeting = probe.recv(512)
                    if greeting.startswith(b"220"):
                        self.port = port
                        return
                    raise self._failure(f"greeted with {greeting!r}")
            except ConnectionRefusedError:
                self.ready.wait(0.05)
        raise self._failure(f"did not listen on port {port} within {START_TIMEOUT:.0f} s")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self._terminate()
        # The reader ends at EOF, once no process holds the pipe any more.
        self.reader.join(STOP_TIMEOUT)
        self.process.stderr.close()

    def _terminate(self):
        # vsftpd's per-session processes: those of sessions that sent QUIT end by themselves
        # (and are reaped by the listener while it runs); any other is stopped after it.
        sessions = {}
        for pid in descendants(self.process.pid):
            try:
                sessions[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                pass
        wait_for_exits(sessions, 1.0)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        for pid in sessions.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_for_exits(sessions, STOP_TIMEOUT)
        for fd in sessions:
            os.close(fd)
        sessions.clear()


def wait_for_exits(pidfds, seconds):
    """Wait until every process of `pidfds` (pidfd → pid) has exited, at most `seconds`; the
    exited ones are closed and removed. A pidfd turns readable when its process exits."""
    deadline = time.monotonic() + seconds
    while pidfds and (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(list(pidfds), [], [], left)
        for fd in readable:
            os.close(fd)
            del pidfds[fd]


# --------------------------------------------------------------------------------------------
# The FTP client: raw lines, so every reply is seen byte for byte.


class Closed(Exception):
    pass


class Control:
    def __init__(self, port, source="127.0.0.1"):
        server = "::1" if source == "::1" else "127.0.0.1"
        self.sock = socket.create_connection(
            (server, port), timeout=REPLY_TIMEOUT, source_address=(source, 0)
        )
        self.buffer = b""
        self.closed = False

    def starttls(self, context):
        """The TLS handshake on this connection: "ok", or "failed: " and OpenSSL's reason
        (the connection is then closed)."""
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
            return "ok"
        except ssl.SSLError as err:
            self.close()
            return f"failed: {err.reason}"
        except OSError as err:
            self.close()
            return f"failed: {err.strerror or type(err).__name__}"

    def _line(self):
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                self.close()
                raise Closed(f"<no reply within {REPLY_TIMEOUT:.0f} s>")
            except ssl.SSLError as err:
                self.close()
                raise Closed(f"<TLS error: {err.reason}>")
            except OSError as err:
                self.close()
                raise Closed(f"<connection error: {err.strerror}>")
            if not chunk:
                partial = self.buffer
                self.close()
                raise Closed("<connection closed>" + (f" after {partial!r}" if partial else ""))
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def reply(self):
        """One whole reply (RFC 959 multi-line replies included), as received."""
        if self.closed:
            raise Closed("<connection closed>")
        first = self._line()
        lines = [first]
        if re.match(rb"\d{3}-", first):
            while not (lines[-1][:3] == first[:3] and lines[-1][3:4] == b" "):
                lines.append(self._line())
        return b"".join(lines)

    def send(self, text):
        if self.closed:
            raise Closed("<connection closed>")
        try:
            self.sock.sendall(text.encode("latin-1") + b"\r\n")
        except ssl.SSLError as err:
            self.close()
            raise Closed(f"<TLS error: {err.reason}>")
        except OSError as err:
            self.close()
            raise Closed(f"<connection error: {err.strerror}>")

    def command(self, text):
        self.send(text)
        return self.reply()

    def close(self):
        self.closed = True
        self.sock.close()


def show(raw):
    """A reply as one transcript field: the final CRLF dropped, inner CRLFs and any other
    control byte escaped, so a difference in any byte shows."""
    text = raw.decode("latin-1")
    suffix = ""
    if text.endswith("\r\n"):
        text = text[:-2]
    else:
        suffix = " <no CRLF at end>"

    def escape(part):
        return re.sub(r"[\x00-\x1f\x7f-\xff]", lambda m: f"\\x{ord(m.group()):02x}", part)

    return "\\r\\n".join(escape(part) for part in text.split("\r\n")) + suffix


PASV_SHOWN = "227 Entering Passive Mode (127,0,0,1,<port>)."
PASV_REPLY = re.compile(r"^227 Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)\.")
EPSV_SHOWN = "229 Entering Extended Passive Mode (|||<port>|)"
EPSV_REPLY = re.compile(r"^229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)")
EPRT_OK = "200 EPRT command successful. Consider using EPSV."


class Runner:
    def __init__(self, env, server_kind, program):
        self.env = env
        self.server_kind = server_kind
        self.program = program
        self.lines = 0
        self.unexpected = []
        self.start_failures = []

    def emit(self, label, command, reply, expect=None):
        self.lines += 1
        reply = self.env.normalise(reply)
        print(f"{label} | {command} | {reply}", flush=True)
        if expect is not None and reply != expect:
            self.unexpected.append(
                {"step": label, "command": command, "reply": reply, "expected": expect}
            )

    def normalise_pasv(self, text):
        """A PASV or EPSV reply with its port shown as <port> when in pasv_min_port and
        pasv_max_port's range."""
        low, high = self.env.pasv_range

        def where(port):
            return "<port>" if low <= port <= high else f"<port {port} outside {low}-{high}>"

        if match := EPSV_REPLY.match(text):
            port = int(match.group(1))
            return f"229 Entering Extended Passive Mode (|||{where(port)}|)" + text[match.end() :]
        match = PASV_REPLY.match(text)
        if not match:
            return text
        port = int(match.group(5)) * 256 + int(match.group(6))
        host = ",".join(match.group(i) for i in range(1, 5))
        return f"227 Entering Passive Mode ({host},{where(port)})." + text[match.end() :]

    # One scenario --------------------------------------------------------------------------

    def run(self, scenario):
        t = self.env.tmp / scenario.name
        make_dir(t, 0o755)
        scenario.build(t, self.env)
        real, shown = self.env.real(t), self.env.shown(t)
        conf = base_conf(self.env, scenario.dual_stack)
        conf += [line.format(**real) for line in scenario.conf]
        server = Server(
            self.server_kind, self.program, t / "vsftpd.conf", scenario.implicit, scenario.tz
        )
        run = ScenarioRun(self, scenario.name, real, shown)
        run.tls_version, run.implicit = scenario.tls_version, scenario.implicit
        try:
            port = None
            if scenario.hosts_allow is not None:
                lines = [line.format(**real) for line in scenario.hosts_allow]
                install_hosts_allow(self.env, lines)
            try:
                server.start("\n".join(conf) + "\n")
                port = server.port
                real["port"], shown["port"] = str(port), "<port>"
            except StartError as err:
                message = self.env.normalise(str(err))
                print(f"{scenario.name}: {message}", file=sys.stderr, flush=True)
                self.start_failures.append({"scenario": scenario.name, "error": message})
            for session in scenario.sessions:
                run.session(port, session)
        finally:
            server.stop()
            restore_hosts_allow(self.env)


class ScenarioRun:
    """Runs the steps of one scenario's sessions and numbers the transcript lines."""

    def __init__(self, runner, scenario, real, shown):
        self.runner = runner
        self.scenario = scenario
        self.real = real
        self.shown = shown
        self.number = 0
        self.control = None
        self.dead = None
        self.tls_version = "1.3"
        self.implicit = False
        # TLS state of the session: the control connection's context, PROT P, how data
        # connections start (DataTls).
        self.context = None
        self.prot = False
        self.data_mode = "reuse"
        self.last_session = None
        self.data_via = "PASV"

    def emit(self, command, reply, expect=None):
        self.number += 1
        label = f"{self.scenario} #{self.number:02d}"
        expect = expect.format(**self.shown) if expect is not None else None
        self.runner.emit(label, command, reply, expect)

    def session(self, port, steps):
        self.dead = None if port else "<server not running>"
        self.control = None
        self.context, self.prot, self.data_mode = None, False, "reuse"
        self.last_session = None
        self.data_via = "PASV"
        connect, label = Connect(), "<connect>"
        if steps and isinstance(steps[0], Connect):
            connect, steps = steps[0], steps[1:]
            ipv6 = connect.source == "::1"
            label = "<connect to ::1>" if ipv6 else f"<connect from {connect.source}>"
        if port:
            try:
                self.control = Control(port, connect.source)
                if self.implicit:
                    self.context = client_context(self.runner.env, self.tls_version)
                    outcome = self.control.starttls(self.context)
                    if outcome != "ok":
                        raise Closed(f"<TLS handshake {outcome}>")
                greeting = show(self.control.reply())
            except (OSError, Closed) as err:
                greeting = str(err) if isinstance(err, Closed) else f"<cannot connect: {err}>"
                self.dead = greeting
        else:
            greeting = self.dead
        self.emit(label, greeting, connect.expect)
        try:
            for item in steps:
                getattr(self, type(item).__name__.lower())(item)
        finally:
            if self.control is not None:
                self.control.close()

    def command(self, template):
        """Send a command; its reply as a transcript field (or why there is none)."""
        if self.dead:
            return self.dead
        try:
            return show(self.control.command(template.format(**self.real)))
        except Closed as err:
            self.dead = str(err)
            return self.dead

    def final(self):
        if self.dead:
            return self.dead
        try:
            return show(self.control.reply())
        except Closed as err:
            self.dead = str(err)
            return self.dead

    def cmd(self, item):
        reply = self.runner.normalise_pasv(self.command(item.text))
        self.emit(item.text.format(**self.shown), reply, item.expect)
        if item.text.startswith("PROT ") and reply.startswith("200"):
            self.prot = item.text == "PROT P"

    def auth(self, item):
        reply = self.command("AUTH TLS")
        self.emit("AUTH TLS", reply, item.expect)
        if self.dead:
            outcome = self.dead
        elif not reply.startswith("234"):
            outcome = "-"
        else:
            self.context = client_context(self.runner.env, self.tls_version, item.cert)
            outcome = self.control.starttls(self.context)
            if outcome != "ok":
                self.dead = "<connection closed>"
        cert = f", client certificate: {item.cert}" if item.cert else ""
        self.emit(f"<TLS {self.tls_version} handshake{cert}>", outcome, item.expect_handshake)

    def read(self, item):
        self.emit("<read>", self.final(), item.expect)

    def datatls(self, item):
        self.data_mode = item.mode

    def datavia(self, item):
        self.data_via = item.command

    def secure(self, data):
        """The TLS handshake on a data connection after its 1xx reply, as RFC 4217 clients do
        it: the TLS socket (None if it failed) and what happened ("resumed", "new session",
        "handshake failed: ...")."""
        if self.data_mode == "reuse" or (self.data_mode == "chain" and not self.last_session):
            context, session = self.context, self.control.sock.session
        elif self.data_mode == "chain":
            context, session = self.context, self.last_session
        else:
            context, session = client_context(self.runner.env, self.tls_version), None
        try:
            wrapped = context.wrap_socket(
                data, server_hostname="localhost", session=session, suppress_ragged_eofs=False
            )
        except ssl.SSLError as err:
            data.close()
            return None, f"handshake failed: {err.reason}"
        except OSError as err:
            data.close()
            return None, f"handshake failed: {err.strerror or type(err).__name__}"
        return wrapped, "resumed" if wrapped.session_reused else "new session"

    def feat(self, item):
        reply = self.command("FEAT")
        reply = re.sub(r"\\r\\n MLST [^\\]*", "", reply)
        self.emit("FEAT (without MLST)", reply, item.expect)

    def abor(self, item):
        data = self.pasv()
        shown = f"RETR {item.path.format(**self.shown)}"
        first = self.command(f"RETR {item.path}")
        self.emit(shown, first, item.expect)
        if first.startswith("1"):
            data = self.data_socket(data)
        if first.startswith("1") and data is not None:
            tls = None
            if self.prot:
                data, tls = self.secure(data)
            received = b""
            try:
                while data is not None and len(received) < 65536:
                    chunk = data.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except OSError:
                pass
            if tls is not None:
                self.emit(f"{shown} (data TLS)", tls)
            more = "more" if len(received) >= 65536 else f"only {len(received)} bytes"
            self.emit(f"{shown} (data)", f"64 KiB read, {more}")
        replies = []
        if not self.dead:
            try:
                # ABOR as a TLS client sends it (no urgent data: it would travel outside the
                # TLS records), then the data connection dropped with bytes unread.
                self.control.send("ABOR")
                if data is not None:
                    data.close()
                    data = None
                self.control.send("NOOP")
                while len(replies) < 5:
                    replies.append(show(self.control.reply()))
                    if replies[-1].startswith("200"):
                        break
            except Closed as err:
                self.dead = str(err)
                replies.append(self.dead)
        if data is not None:
            data.close()
        self.emit("ABOR; NOOP", " / ".join(replies) or self.dead, item.expect_replies)

    def client(self, item):
        argv = [item.tool] + [a.format(**self.real) for a in item.args]
        shown = " ".join([item.tool] + [a.format(**self.shown) for a in item.args])
        if "port" not in self.real:
            self.emit(shown, "<server not running>", item.expect)
            return
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=CLIENT_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            self.emit(shown, f"<still running after {CLIENT_TIMEOUT:.0f} s>", item.expect)
            return
        result = f"exit {done.returncode}"
        if item.output:
            lines = sorted(line for line in done.stdout.decode("latin-1").splitlines() if line)
            result += "; output: " + (", ".join(lines) if lines else "(none)")
        if done.returncode != 0 and os.environ.get("FTP_SECURITY_VERBOSE"):
            print(f"{shown}: {done.stderr.decode('latin-1')}", file=sys.stderr)
        self.emit(shown, result, item.expect)

    def log(self, item):
        path = Path(item.path.format(**self.real))
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            text = None
        shown = f"log {item.path.format(**self.shown)}"
        if text is None:
            self.emit(shown, "absent", item.expect)
            return
        # Consecutive lines alike once normalised are shown once: vsftpd logs the harness's
        # readiness probe (a connection that sends nothing) as a CONNECT too.
        lines = []
        for line in map(log_shape, text.splitlines()):
            if not lines or lines[-1] != line:
                lines.append(line)
        self.emit(shown, " \\n ".join(lines) if lines else "(empty)", item.expect)

    def pasv(self):
        """The data connection's set-up as `data_via` says: for PASV and EPSV the socket
        connected to the port the reply names, for EPRT the socket listening for the server
        (`data_socket` accepts on it after the 1xx reply); None if there is none."""
        if self.data_via == "EPRT":
            return self.eprt()
        reply = self.command(self.data_via)
        if self.data_via == "EPSV":
            self.emit("EPSV", self.runner.normalise_pasv(reply), EPSV_SHOWN)
            match = EPSV_REPLY.match(reply)
            if not match or self.dead:
                return None
            host, port = self.control.sock.getpeername()[0], int(match.group(1))
        else:
            self.emit("PASV", self.runner.normalise_pasv(reply), PASV_SHOWN)
            match = PASV_REPLY.match(reply)
            if not match:
                return None
            host = ".".join(match.group(i) for i in range(1, 5))
            port = int(match.group(5)) * 256 + int(match.group(6))
        try:
            return socket.create_connection(
                (host, port), timeout=REPLY_TIMEOUT, source_address=(self.client_address(), 0)
            )
        except OSError:
            return None

    def client_address(self):
        return self.control.sock.getsockname()[0]

    def eprt(self):
        """A socket listening on the control connection's address, announced with EPRT."""
        if self.dead:
            self.emit("EPRT", self.dead, EPRT_OK)
            return None
        address = self.client_address()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.settimeout(REPLY_TIMEOUT)
        listener.bind((address, 0))
        listener.listen(1)
        proto = 2 if family == socket.AF_INET6 else 1
        port = listener.getsockname()[1]
        reply = self.command(f"EPRT |{proto}|{address}|{port}|")
        self.emit(f"EPRT |{proto}|{address}|<port>|", reply, EPRT_OK)
        if not reply.startswith("200"):
            listener.close()
            return None
        return listener

    def data_socket(self, data):
        """After a 1xx reply: the data connection (for EPRT, the server's, accepted; None
        if it did not come)."""
        if data is None or self.data_via != "EPRT":
            return data
        try:
            accepted, _ = data.accept()
            accepted.settimeout(REPLY_TIMEOUT)
            return accepted
        except OSError:
            return None
        finally:
            data.close()

    def transfer(self, verb, item, send=None):
        """PASV + VERB path: the first reply, the final one ("-" if the first was no 1xx), and
        the bytes read from the data connection (None if there was no transfer)."""
        data = self.pasv()
        shown = f"{verb} {item.path.format(**self.shown)}".rstrip()
        received = None
        tls = None
        try:
            first = self.command(f"{verb} {item.path}".rstrip())
            self.emit(shown, first, item.expect)
            if first.startswith("1"):
                data = self.data_socket(data)
                if self.prot:
                    tls = "no data connection"
                    if data is not None:
                        data, tls = self.secure(data)
                received = b"" if data is not None else b"<no data connection>"
                try:
                    if data is not None and send is not None:
                        data.sendall(send)
                        if tls is not None:
                            # close_notify ends a TLS upload; then the server's, or none.
                            try:
                                data.unwrap()
                                tls += ", upload ended, close_notify back"
                            except (ssl.SSLError, OSError):
                                tls += ", upload ended, no close_notify back"
                        else:
                            data.shutdown(socket.SHUT_WR)
                    reads = send is None or tls is None
                    while data is not None and reads and (chunk := data.recv(65536)):
                        received += chunk
                    if data is not None and send is None and tls is not None:
                        tls += ", close_notify at end"
                        # Read to the end: under TLS 1.3 its tickets came in too.
                        self.last_session = data.session
                except ssl.SSLEOFError:
                    tls += ", no close_notify at end"
                except ssl.SSLError as err:
                    tls += f", TLS error: {err.reason}"
                except OSError as err:
                    received += f"<data connection: {err}>".encode()
                if data is not None:
                    data.close()
                    data = None
                end = self.final()
            else:
                end = "-"
            self.emit(f"{shown} (end)", end, item.expect_end)
            if tls is not None:
                self.emit(f"{shown} (data TLS)", tls, item.expect_tls)
        finally:
            if data is not None:
                data.close()
        return shown, received

    def retr(self, item):
        shown, received = self.transfer("RETR", item)
        self.emit(f"{shown} (data)", describe_data(received, item.content, self.real))

    def stor(self, item):
        self.transfer("STOR", item, send=item.data.format(**self.real).encode())

    def nlst(self, item):
        shown, received = self.transfer("NLST", item)
        if received is None:
            names = "-"
        else:
            listed = sorted(n for n in received.decode("latin-1").split("\r\n") if n)
            names = "names: " + (", ".join(listed) if listed else "(none)")
        self.emit(f"{shown} (data)", names)

    def listing(self, item):
        shown, received = self.transfer(item.verb, item)
        if received is None:
            lines = "-"
        else:
            text = received.decode("latin-1")
            lines = "lines: " + (" \\n ".join(text.split("\r\n")) if text else "(none)")
        self.emit(f"{shown} (data)", lines)

    def serverstatus(self, item):
        reply = re.sub(
            r"\\r\\n     (vsFTPd 3\.0\.3 - secure, fast, stable|ringd)\\r\\n211 End of status$",
            r"\\r\\n     <server>\\r\\n211 End of status",
            self.command("STAT"),
        )
        reply = re.sub(r"client count was [12]\\r", r"client count was <n>\\r", reply)
        self.emit("STAT", reply, item.expect)

    def stat(self, item):
        path = disk_path(item.path.format(**self.real))
        expect = item.expect.format(**self.shown) if item.expect else None
        found = describe_file(path, item.content, self.real)
        self.emit(f"stat {item.path.format(**self.shown)}", found, expect)


def disk_path(text):
    """A step's path on disk: its text read as the bytes a command carries (latin-1, one
    character a byte), so a name that is not UTF-8 names the same file on the wire and here."""
    return Path(os.fsdecode(text.encode("latin-1")))


def client_context(env, version, cert=None):
    """A TLS client context: the run's CA trusted, TLS 1.2 up to `version`, and `cert`'s
    certificate and key ("client" or "other") offered when asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if version == "1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(env.tmp / "tls" / "ca.pem")
    if cert:
        context.load_cert_chain(env.tmp / "tls" / f"{cert}.pem", env.tmp / "tls" / f"{cert}.key")
    return context


LOG_DATE = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}")


def log_shape(line):
    """A vsftpd.log or xferlog line with what differs from run to run replaced: the date, the
    transfer's seconds (xferlog), the PID and the rate (vsftpd.log)."""
    line = LOG_DATE.sub("<date>", line)
    line = re.sub(r"^<date> \d+ ", "<date> <seconds> ", line)
    line = re.sub(r"\[pid \d+\]", "[pid <pid>]", line)
    return re.sub(r"[\d.]+Kbyte/sec", "<rate>Kbyte/sec", line)


def describe_data(received, content, real):
    if received is None:
        return "-"
    if content is not None and received == content.format(**real).encode():
        return f"{len(received)} bytes, as on disk"
    return f"{len(received)} bytes, sha256 {hashlib.sha256(received).hexdigest()[:16]}"


def owner_names(info):
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return user, group


def describe_file(path, content, real):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    user, group = owner_names(info)
    mode = f"{info.st_mode & 0o7777:04o}"
    if os.path.isdir(path) and not os.path.islink(path):
        return f"dir uid={user} gid={group} mode={mode}"
    text = f"uid={user} gid={group} mode={mode} size={info.st_size}"
    if content is not None:
        same = path.read_bytes() == content.format(**real).encode()
        text += " same bytes" if same else " different bytes"
    return text


def base_conf(env, dual_stack=False):
    """The lines every scenario starts from: options vsftpd needs to run here, understood
    (or accepted without effect) by ringd too. listen_port=PORT is filled in per server.
    `dual_stack`: Debian's stock listen lines, whose socket listens on every address (a
    dual-stack socket cannot be bound to loopback alone); the suite connects only to
    loopback, and the server runs only while the scenario does."""
    low, high = env.pasv_range
    if dual_stack:
        listen = ["listen=NO", "listen_ipv6=YES"]
    else:
        listen = ["listen=YES", "listen_address=127.0.0.1"]
    return listen + [
        "listen_port=PORT",
        "background=NO",
        "seccomp_sandbox=NO",
        f"secure_chroot_dir={env.tmp}/empty",
        f"pam_service_name={env.pam_service}",
        f"pasv_min_port={low}",
        f"pasv_max_port={high}",
        f"ftpd_banner={BANNER}",
        "delay_failed_login=0",
    ]


# --------------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def on_signal(number, _frame):
    raise Interrupted(f"stopped by signal {signal.Signals(number).name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["vsftpd", "ringd"], required=True)
    parser.add_argument("--ringd", default=str(REPO / "target" / "release" / "ringd"))
    parser.add_argument("--vsftpd", default="/usr/sbin/vsftpd")
    parser.add_argument(
        "--only", action="append", default=[], help="run the scenarios whose name starts with this"
    )
    args = parser.parse_args()

    if os.geteuid() != 0:
        print("skipped: needs root")
        return 0
    program = args.vsftpd if args.server == "vsftpd" else args.ringd
    if not os.access(program, os.X_OK):
        hint = {
            "vsftpd": "bash tests/interop/install-packages.sh vsftpd",
            "ringd": "cargo build --release --bin ringd",
        }[args.server]
        print(f"{program} is not an executable file: {hint}", file=sys.stderr)
        return 2

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, on_signal)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="ringd-ftp-security-"))
    env = Env(tmp=tmp)
    status = 2
    runner = None
    try:
        # Local users change into directories below it as themselves.
        os.chmod(tmp, 0o755)
        make_dir(tmp / "empty", 0o755)
        create_certificates(tmp / "tls")
        env.pasv_range = free_port_range(PASV_PORTS)
        create_pam_service(env)
        create_accounts(env)
        runner = Runner(env, args.server, program)
        chosen = [
            s for s in scenarios() if not args.only or any(s.name.startswith(o) for o in args.only)
        ]
        for scenario in chosen:
            runner.run(scenario)
        status = 0 if not runner.unexpected and not runner.start_failures else 1
        summary = {
            "server": args.server,
            "scenarios": len(chosen),
            "steps": runner.lines,
            "unexpected": runner.unexpected,
            "start_failures": runner.start_failures,
            "seconds": round(time.monotonic() - started, 1),
        }
        print(json.dumps(summary), flush=True)
        print(
            f"{args.server}: {runner.lines} steps in {len(chosen)} scenarios, "
            f"{summary['seconds']} s; {len(runner.unexpected)} replies other than documented, "
            f"{len(runner.start_failures)} scenarios without a server",
            file=sys.stderr,
        )
        for u in runner.unexpected:
            print(
                f"unexpected: {u['step']} | {u['command']} | {u['reply']} "
                f"(documented: {u['expected']})",
                file=sys.stderr,
            )
    except Interrupted as err:
        print(f"ftp_security: {err}; cleaning up", file=sys.stderr)
    except Exception:  # the harness failed: say where, clean up, exit 2
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        problems = remove_everything(env)
        for problem in problems:
            print(f"ftp_security: cleanup: {problem}", file=sys.stderr)
        if problems:
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
