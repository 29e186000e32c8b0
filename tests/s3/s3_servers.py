#!/usr/bin/env python3
"""Starts the two S3 servers the tests use, runs something, always stops them.

As a module:

    with with_servers() as s:        # s.env holds the FLOE_TEST_* variables below
        ... talk to s.s3rver_url and s.fake_url ...

As a wrapper around a command (returns the command's exit code):

    python3 tests/s3/s3_servers.py -- CMD ARGS...

Both servers listen on 127.0.0.1 on ports the kernel picks, with bucket "floe-test":
  * s3rver 3.7.1 (tests/s3/node_modules, installed by `npm ci` in tests/s3) on a
    temporary directory; it accepts any signature from access key S3RVER;
  * fake_s3.py, strict and in memory, with access key AKIDFLOETEST and secret
    floe-test-secret.
The command gets FLOE_TEST_S3RVER_URL, FLOE_TEST_S3RVER_ACCESS_KEY,
FLOE_TEST_S3RVER_SECRET_KEY, FLOE_TEST_FAKE_S3_URL, FLOE_TEST_FAKE_S3_ACCESS_KEY,
FLOE_TEST_FAKE_S3_SECRET_KEY, FLOE_TEST_S3_BUCKET and FLOE_TEST_S3_REGION. On exit,
also on Ctrl-C or SIGTERM, both servers are stopped and the temporary folder removed;
the servers also die with this process (PR_SET_PDEATHSIG). A server's stderr is
printed only when the command fails or the server did.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
S3RVER_JS = HERE / "node_modules" / "s3rver" / "bin" / "s3rver.js"
FAKE_S3 = HERE / "fake_s3.py"
HOST = "127.0.0.1"
BUCKET = "floe-test"
REGION = "us-east-1"
FAKE_ACCESS_KEY = "AKIDFLOETEST"
FAKE_SECRET_KEY = "floe-test-secret"
# s3rver checks only that the access key is its built-in one.
S3RVER_ACCESS_KEY = "S3RVER"
S3RVER_SECRET_KEY = "S3RVER"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
SIGINT_GRACE_S = 2.0
S3RVER_LISTENING_RE = re.compile(r"S3rver listening on [^:\s]+:(\d+)")

_PR_SET_PDEATHSIG = 1
# Looked up here, not between fork and exec, where nothing that may lock should run.
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _die_with_parent() -> None:
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerStartError(RuntimeError):
    pass


class _Server:
    """A child process whose stdout and stderr are kept for diagnostics."""

    def __init__(self, name: str, cmd: list[str], cwd: Path) -> None:
        self.name = name
        self.cmd = cmd
        self._lock = threading.Lock()
        self._out: list[str] = []
        self._err: list[str] = []
        self.line_seen = threading.Condition(self._lock)
        # Own session: a Ctrl-C at the terminal reaches the command under test, not the
        # servers, which stay up until the command has finished.
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent, start_new_session=True)
        self._readers = [threading.Thread(target=self._pump, args=(s, sink), daemon=True)
                         for s, sink in ((self.proc.stdout, self._out),
                                         (self.proc.stderr, self._err))]
        for t in self._readers:
            t.start()

    def _pump(self, stream, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            with self._lock:
                sink.append(raw.decode(errors="replace"))
                self.line_seen.notify_all()
        stream.close()

    def stdout(self) -> str:
        with self._lock:
            return "".join(self._out)

    def stderr(self) -> str:
        with self._lock:
            return "".join(self._err)

    def describe(self) -> str:
        return (f"{self.name}: {' '.join(self.cmd)}\n--- stdout:\n{self.stdout()}"
                f"--- stderr:\n{self.stderr()}")

    def stop(self) -> int:
        """SIGTERM, SIGKILL after STOP_TIMEOUT_S; returns the exit code (negative: signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        for t in self._readers:
            t.join(5)
        return code


@dataclass
class Servers:
    bucket: str
    region: str
    s3rver_url: str | None = None
    fake_url: str | None = None
    fake_access_key: str = FAKE_ACCESS_KEY
    fake_secret_key: str = FAKE_SECRET_KEY
    fake_session_token: str | None = None
    tmpdir: Path | None = None
    processes: dict[str, _Server] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {"FLOE_TEST_S3_BUCKET": self.bucket, "FLOE_TEST_S3_REGION": self.region}
        if self.s3rver_url:
            env.update(FLOE_TEST_S3RVER_URL=self.s3rver_url,
                       FLOE_TEST_S3RVER_ACCESS_KEY=S3RVER_ACCESS_KEY,
                       FLOE_TEST_S3RVER_SECRET_KEY=S3RVER_SECRET_KEY)
        if self.fake_url:
            env.update(FLOE_TEST_FAKE_S3_URL=self.fake_url,
                       FLOE_TEST_FAKE_S3_ACCESS_KEY=self.fake_access_key,
                       FLOE_TEST_FAKE_S3_SECRET_KEY=self.fake_secret_key)
            if self.fake_session_token is not None:
                env["FLOE_TEST_FAKE_S3_SESSION_TOKEN"] = self.fake_session_token
        return env

    def diagnostics(self) -> str:
        return "\n".join(p.describe() for p in self.processes.values())


def _node_legacy_flag(node: str) -> list[str]:
    # s3rver 3.7.1 encrypts its continuation tokens with DES, which OpenSSL 3 (Node >= 17)
    # only offers through the legacy provider; without it every truncated listing fails
    # with 500 InternalError.
    ok = subprocess.run([node, "--openssl-legacy-provider", "-e", "0"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    return ["--openssl-legacy-provider"] if ok else []


def _start_s3rver(tmp: Path, bucket: str) -> _Server:
    if not S3RVER_JS.is_file():
        raise ServerStartError(f"s3rver is not installed ({S3RVER_JS} is missing): run "
                               f"`npm ci` in {HERE} (the Makefile's deps-test does)")
    node = shutil.which("node")
    if node is None:
        raise ServerStartError("node is not on PATH; s3rver needs Node.js (>= 18)")
    data = tmp / "s3rver"
    data.mkdir()
    cmd = [node, *_node_legacy_flag(node), str(S3RVER_JS), "-d", str(data), "-a", HOST,
           "-p", "0", "--silent", "--configure-bucket", bucket]
    return _Server("s3rver", cmd, tmp)


def _start_fake(tmp: Path, bucket: str, region: str, access_key: str, secret_key: str,
                session_token: str | None) -> tuple[_Server, Path]:
    port_file = tmp / "fake_s3.port"
    cmd = [sys.executable, str(FAKE_S3), "--port", "0", "--bucket", bucket, "--region", region,
           "--access-key", access_key, "--secret-key", secret_key, "--port-file",
           str(port_file)]
    if session_token is not None:
        cmd += ["--session-token", session_token]
    return _Server("fake_s3", cmd, tmp), port_file


def _wait_s3rver(server: _Server, deadline: float) -> int:
    with server.line_seen:
        while True:
            m = S3RVER_LISTENING_RE.search("".join(server._out))
            if m:
                return int(m.group(1))
            if server.proc.poll() is not None:
                raise ServerStartError(f"s3rver exited with {server.proc.returncode} before "
                                       f"listening\n{server.describe()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerStartError(f"s3rver did not report its port within "
                                       f"{START_TIMEOUT_S:.0f} s\n{server.describe()}")
            server.line_seen.wait(min(left, 0.1))


def _wait_port_file(server: _Server, path: Path, deadline: float) -> int:
    while True:
        if path.is_file():
            return int(path.read_text().strip())
        if server.proc.poll() is not None:
            raise ServerStartError(f"fake_s3 exited with {server.proc.returncode} before "
                                   f"listening\n{server.describe()}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"fake_s3 did not write its port within "
                                   f"{START_TIMEOUT_S:.0f} s\n{server.describe()}")
        time.sleep(0.02)


def _wait_http(server: _Server, url: str, deadline: float) -> None:
    """Until `url` answers 200: the server is up and, for s3rver, the bucket exists."""
    last = ""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
                last = f"status {r.status}"
        except urllib.error.HTTPError as e:
            last = f"status {e.code}: {e.read()[:300]!r}"
        except OSError as e:
            last = str(e)
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise ServerStartError(f"{server.name} did not answer {url} with 200 ({last})\n"
                                   f"{server.describe()}")
        time.sleep(0.05)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turns SIGTERM into SystemExit while inside, so that cleanup runs; main thread only."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def with_servers(bucket: str = BUCKET, region: str = REGION,
                 fake_access_key: str = FAKE_ACCESS_KEY,
                 fake_secret_key: str = FAKE_SECRET_KEY,
                 fake_session_token: str | None = None,
                 s3rver: bool = True, fake: bool = True) -> Iterator[Servers]:
    """Starts s3rver and/or fake_s3.py, waits until both answer, stops them on exit.

    Raises ServerStartError (with the servers' output) when one does not come up. On
    the way out a server that had already died is reported on stderr.
    """
    servers = Servers(bucket, region, fake_access_key=fake_access_key,
                      fake_secret_key=fake_secret_key, fake_session_token=fake_session_token)
    with _sigterm_raises():
        tmp = Path(tempfile.mkdtemp(prefix="floe-s3-"))
        servers.tmpdir = tmp
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            port_file = None
            if s3rver:
                servers.processes["s3rver"] = _start_s3rver(tmp, bucket)
            if fake:
                servers.processes["fake_s3"], port_file = _start_fake(
                    tmp, bucket, region, fake_access_key, fake_secret_key, fake_session_token)
            if s3rver:
                port = _wait_s3rver(servers.processes["s3rver"], deadline)
                servers.s3rver_url = f"http://{HOST}:{port}"
                # Anonymous requests pass in s3rver; a listing proves the bucket exists.
                _wait_http(servers.processes["s3rver"],
                           f"{servers.s3rver_url}/{bucket}?list-type=2&max-keys=1", deadline)
            if fake:
                port = _wait_port_file(servers.processes["fake_s3"], port_file, deadline)
                servers.fake_url = f"http://{HOST}:{port}"
                _wait_http(servers.processes["fake_s3"], f"{servers.fake_url}/__health",
                           deadline)
            yield servers
        finally:
            for name, proc in servers.processes.items():
                died = proc.proc.poll()
                code = proc.stop()
                # fake_s3 exits 0 on SIGTERM; node has no handler and dies of it.
                if died is not None or code not in (0, -signal.SIGTERM):
                    sys.stderr.write(f"s3_servers: {name} ended on its own or badly "
                                     f"(exit {code})\n{proc.describe()}\n")
            shutil.rmtree(tmp, ignore_errors=True)


def run_command(cmd: list[str], **server_args) -> int:
    """Runs `cmd` with the servers' variables; returns its exit code (128+N for signal N).

    SIGTERM is passed on to the command at once. SIGINT is passed on only if the command
    is still running a moment later: a Ctrl-C at the terminal has reached it already
    (same process group), and a second one would cut its own cleanup short.
    """
    received: list[tuple[int, float]] = []

    def on_signal(signum, frame):
        received.append((signum, time.monotonic()))

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with with_servers(**server_args) as servers:
            try:
                child = subprocess.Popen(cmd, env={**os.environ, **servers.env})
            except OSError as e:
                sys.stderr.write(f"s3_servers: cannot run {cmd[0]}: {e}\n")
                return 127
            forwarded = 0
            while True:
                try:
                    code = child.wait(0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                for signum, at in received[forwarded:]:
                    if signum == signal.SIGTERM or time.monotonic() - at > SIGINT_GRACE_S:
                        child.send_signal(signum)
                        forwarded += 1
                    else:
                        break
            if code != 0 and any(p.stderr() for p in servers.processes.values()):
                sys.stderr.write(f"s3_servers: command exited with {code}; servers' output:\n"
                                 f"{servers.diagnostics()}\n")
    except ServerStartError as e:
        sys.stderr.write(f"s3_servers: {e}\n")
        return 2
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if code < 0:
        return 128 - code
    if code == 0 and received:
        return 128 + received[0][0]
    return code


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.stderr.write("usage: s3_servers.py -- CMD [ARGS...]\n")
        return 2
    return run_command(argv[argv.index("--") + 1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
