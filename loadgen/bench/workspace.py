"""The run's working directory and the servers it starts, all undone at exit, Ctrl-C included."""

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench import BenchError, log

STOP_GRACE_S = 5


class _LineWatch(threading.Thread):
    """Copies a server's output into its log and notes when its readiness line appears."""

    def __init__(self, output, log_path, line):
        super().__init__(daemon=True)
        self._output = output
        self._log_path = log_path
        self._line = line.encode()
        self.seen = False
        self.settled = threading.Event()  # the line appeared, or the output ended without it

    def run(self):
        with self._output, open(self._log_path, "ab") as log_file:
            for chunk in self._output:
                log_file.write(chunk)
                log_file.flush()
                if not self.seen and self._line in chunk:
                    self.seen = True
                    self.settled.set()
        self.settled.set()


class Server:
    """A process this run started, with its log."""

    def __init__(self, name, popen, log_path, line_watch):
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self._line_watch = line_watch

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def wait_until(self, condition, timeout_s, what):
        """Polls `condition` until it holds; fails when the server exits or `timeout_s` pass."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if not self.running() or time.monotonic() > deadline:
                self._not_ready(what)
            time.sleep(0.05)

    def wait_for_line(self, timeout_s):
        """Waits until the readiness line given to `Workspace.start` is in the output."""
        self._line_watch.settled.wait(timeout_s)
        if not self._line_watch.seen:
            self._not_ready("no readiness line")

    def require_running(self):
        """Fails when the server has exited: figures measured against it would mean nothing."""
        if not self.running():
            raise BenchError(f"{self.name} (pid {self.pid}) exited with {self.popen.returncode}; "
                             f"its log:\n{self._log_tail()}")

    def _not_ready(self, what):
        raise BenchError(f"{self.name} did not become ready ({what}); its log:\n{self._log_tail()}")

    def _log_tail(self):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def stop(self):
        """SIGTERM, up to STOP_GRACE_S for it to exit, then SIGKILL; reaps it. A process that
        has already been reaped is not signalled, so its PID, if reused, is left alone."""
        self.popen.terminate()
        try:
            self.popen.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            try:
                self.popen.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) still runs after SIGKILL")
        if self._line_watch is not None:
            self._line_watch.join(STOP_GRACE_S)


class Workspace:
    """A fresh directory /tmp/NAME.XXXXXX (`dir`), the servers started in it, and whatever else
    `at_exit` is given. Leaving the `with` block, however it is left, stops the servers still
    running, then runs the `at_exit` callbacks in reverse order, then removes the directory."""

    def __init__(self, name):
        self._name = name
        self._servers = []
        self._undo = contextlib.ExitStack()
        self.dir = None

    def __enter__(self):
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self._name}.", dir="/tmp"))
        self._undo.callback(shutil.rmtree, self.dir, ignore_errors=True)
        return self

    def at_exit(self, callback, *args, **kwargs):
        self._undo.callback(callback, *args, **kwargs)

    def start(self, name, argv, ready_line=None):
        """Starts `argv` with its output appended to DIR/NAME.log. With `ready_line`, the output
        goes through this process, which watches for that line (see `Server.wait_for_line`)."""
        log_path = self.dir / f"{name}.log"
        with open(log_path, "ab") as log_file:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     stdout=log_file if ready_line is None else subprocess.PIPE)
        watch = None if ready_line is None else _LineWatch(popen.stdout, log_path, ready_line)
        server = Server(name, popen, log_path, watch)
        self._servers.append(server)
        if watch is not None:
            watch.start()
        return server

    def stop(self, server):
        self._servers.remove(server)
        server.stop()

    def __exit__(self, *_exception):
        # A second Ctrl-C must not cut the cleanup short: every step of it is bounded.
        previous = {sig: signal.signal(sig, signal.SIG_IGN)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self._servers:
                self.stop(self._servers[-1])
            self._undo.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return False
