#!/usr/bin/env python3
"""FTP security interop: every file access of a session carries the session's credentials.

Runs the same scenarios against vsftpd 3.0.3 or ringd (--server), each from one vsftpd.conf
text: anonymous sessions act as ftp_username, system accounts log in through PAM and act as
themselves. Prints one line per step, `scenario #n | command | reply`, with random names,
passwords, the work directory and passive ports normalised, then a JSON summary line; the
owner and mode of every uploaded file are read back from disk. tests/interop/ftp-vs-vsftpd.sh
runs it for both servers and compares the transcripts.

Needs root: it creates system accounts, a group and a PAM service file, and removes them (and
its work directory) at the end, also on failure or on SIGINT/SIGTERM/SIGHUP. Exit status: 0
when every documented reply held, 1 when some did not or a server did not start, 2 when the
harness itself failed.
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


@dataclass
class Stor:
    """PASV, STOR of `data`, the final reply."""

    path: str
    data: str
    expect: str | None = None
    expect_end: str | None = None


@dataclass
class Nlst:
    """PASV, NLST, the final reply and the names received (sorted)."""

    path: str
    expect: str | None = None
    expect_end: str | None = None


@dataclass
class Stat:
    """The file on disk: owner, group, mode, size, and whether it holds `content`."""

    path: str
    expect: str | None = None
    content: str | None = None


@dataclass
class Scenario:
    name: str
    conf: list[str]
    build: object  # callable(Path scenario_dir, Env) -> None
    sessions: list[list[object]]


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


def remove_everything(env):
    problems = []
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

    RINGD_READY = re.compile(r"ready: .* ftp=127\.0\.0\.1:(\d+)")

    def __init__(self, kind, program, conf_path):
        self.kind = kind
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
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.buffer = b""
        self.closed = False

    def _line(self):
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                self.close()
                raise Closed(f"<no reply within {REPLY_TIMEOUT:.0f} s>")
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
        match = PASV_REPLY.match(text)
        if not match:
            return text
        port = int(match.group(5)) * 256 + int(match.group(6))
        low, high = self.env.pasv_range
        where = "<port>" if low <= port <= high else f"<port {port} outside {low}-{high}>"
        host = ",".join(match.group(i) for i in range(1, 5))
        return f"227 Entering Passive Mode ({host},{where})." + text[match.end() :]

    # One scenario --------------------------------------------------------------------------

    def run(self, scenario):
        t = self.env.tmp / scenario.name
        make_dir(t, 0o755)
        scenario.build(t, self.env)
        real, shown = self.env.real(t), self.env.shown(t)
        conf = base_conf(self.env) + [line.format(**real) for line in scenario.conf]
        server = Server(self.server_kind, self.program, t / "vsftpd.conf")
        run = ScenarioRun(self, scenario.name, real, shown)
        try:
            port = None
            try:
                server.start("\n".join(conf) + "\n")
                port = server.port
            except StartError as err:
                message = self.env.normalise(str(err))
                print(f"{scenario.name}: {message}", file=sys.stderr, flush=True)
                self.start_failures.append({"scenario": scenario.name, "error": message})
            for session in scenario.sessions:
                run.session(port, session)
        finally:
            server.stop()


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

    def emit(self, command, reply, expect=None):
        self.number += 1
        label = f"{self.scenario} #{self.number:02d}"
        expect = expect.format(**self.shown) if expect is not None else None
        self.runner.emit(label, command, reply, expect)

    def session(self, port, steps):
        self.dead = None if port else "<server not running>"
        self.control = None
        if port:
            try:
                self.control = Control(port)
                greeting = show(self.control.reply())
            except (OSError, Closed) as err:
                greeting = str(err) if isinstance(err, Closed) else f"<cannot connect: {err}>"
                self.dead = greeting
        else:
            greeting = self.dead
        self.emit("<connect>", greeting, f"220 {BANNER}")
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
        self.emit(item.text.format(**self.shown), self.command(item.text), item.expect)

    def pasv(self):
        """PASV, then connect to the port it names: the data socket, or None."""
        reply = self.command("PASV")
        self.emit("PASV", self.runner.normalise_pasv(reply), PASV_SHOWN)
        match = PASV_REPLY.match(reply)
        if not match:
            return None
        host = ".".join(match.group(i) for i in range(1, 5))
        port = int(match.group(5)) * 256 + int(match.group(6))
        try:
            return socket.create_connection((host, port), timeout=REPLY_TIMEOUT)
        except OSError:
            return None

    def transfer(self, verb, item, send=None):
        """PASV + VERB path: the first reply, the final one ("-" if the first was no 1xx), and
        the bytes read from the data connection (None if there was no transfer)."""
        data = self.pasv()
        shown = f"{verb} {item.path.format(**self.shown)}"
        received = None
        try:
            first = self.command(f"{verb} {item.path}")
            self.emit(shown, first, item.expect)
            if first.startswith("1"):
                received = b"" if data is not None else b"<no data connection>"
                try:
                    if data is not None and send is not None:
                        data.sendall(send)
                        data.shutdown(socket.SHUT_WR)
                    while data is not None and (chunk := data.recv(65536)):
                        received += chunk
                except OSError as err:
                    received += f"<data connection: {err}>".encode()
                if data is not None:
                    data.close()
                    data = None
                end = self.final()
            else:
                end = "-"
            self.emit(f"{shown} (end)", end, item.expect_end)
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

    def stat(self, item):
        path = Path(item.path.format(**self.real))
        expect = item.expect.format(**self.shown) if item.expect else None
        found = describe_file(path, item.content, self.real)
        self.emit(f"stat {item.path.format(**self.shown)}", found, expect)


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


def base_conf(env):
    """The lines every scenario starts from: options vsftpd needs to run here, understood
    (or accepted without effect) by ringd too. listen_port=PORT is filled in per server."""
    low, high = env.pasv_range
    return [
        "listen=YES",
        "listen_address=127.0.0.1",
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
