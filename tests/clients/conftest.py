"""Fixtures that run a real floe broker for the client compatibility suites.

Each broker is a `floe serve` child process on 127.0.0.1 with a port picked by the
kernel, a fresh temporary data dir and its output captured. Teardown always stops
it with SIGTERM (SIGKILL after STOP_TIMEOUT_S), requires exit code 0 (graceful
shutdown is part of the contract) and removes the temporary folder.

Run with Debian's interpreter, which has pytest, confluent-kafka and kafka-python:
    FLOE_BIN=build/floe /usr/bin/python3 -m pytest -q tests/clients

With FLOE_TEST_OBJECT_STORE=s3rver or =fake (under tests/s3/s3_servers.py, which
starts those servers and sets FLOE_TEST_*), every broker keeps its objects in that S3
server, under a prefix of its own, instead of DATA_DIR/objects; the tests run
unchanged. Tests reach the objects through BrokerProcess.object_keys() and
delete_object(), whatever the store.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Mapping

import pytest

REPO = Path(__file__).resolve().parents[2]
OBJECT_STORE = os.environ.get("FLOE_TEST_OBJECT_STORE", "file")
if OBJECT_STORE not in ("file", "s3rver", "fake"):
    raise RuntimeError(f"FLOE_TEST_OBJECT_STORE={OBJECT_STORE}: expected file, s3rver or fake")
FLOE_BIN = Path(os.environ.get("FLOE_BIN", REPO / "build" / "floe"))
HOST = "127.0.0.1"
LISTENING_RE = re.compile(r"listening on PLAINTEXT://([^ ,]+):(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
# A hung test fails with a message instead of running into ctest's TIMEOUT,
# which would kill pytest without running any teardown.
TEST_TIMEOUT_S = int(os.environ.get("FLOE_TEST_TIMEOUT", "180"))

_PR_SET_PDEATHSIG = 1
# Looked up once here: the child runs _die_with_parent between fork and exec,
# where nothing that might take a lock should happen.
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _die_with_parent() -> None:
    # If pytest itself is killed, the kernel kills the broker too, so no broker
    # outlives the test run.
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class BrokerProcess:
    """One floe broker; can be stopped, killed and started again on the same data dir."""

    def __init__(self, config: Mapping[str, object] | None = None) -> None:
        self.config = dict(config or {})
        self._root = Path(tempfile.mkdtemp(prefix="floe-clients-"))
        self.data_dir = self._root / "data"
        self.data_dir.mkdir()
        self.host = HOST
        self.port: int | None = None  # fixed after the first start, reused on restarts
        self.proc: subprocess.Popen | None = None
        self.exit_codes: list[int] = []  # one per process that has ended, in order
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._listening_port: int | None = None
        self._readers: list[threading.Thread] = []
        # Extra settings for the s3:// URL of FLOE_TEST_OBJECT_STORE ("max.attempts": 1).
        self.s3_settings: dict[str, object] = {}

    # -- what tests use -------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def stderr_text(self) -> str:
        """Everything the broker wrote to stderr, over all of its starts."""
        with self._lock:
            return "".join(self._stderr)

    def stdout_text(self) -> str:
        with self._lock:
            return "".join(self._stdout)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        port = 0 if self.port is None else self.port
        cmd = [str(FLOE_BIN), "serve", "--data-dir", str(self.data_dir),
               f"--listeners=PLAINTEXT://{self.host}:{port}"]
        if OBJECT_STORE != "file" and "object.store" not in self.config:
            url, bucket, _, _ = _s3_server()
            query = "".join(f"&{k}={_config_value(v)}" for k, v in self.s3_settings.items())
            cmd.append(f"--object.store=s3://{bucket}/{self._root.name}?endpoint={url}{query}")
        cmd += [f"--{key}={_config_value(value)}" for key, value in self.config.items()]
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        if OBJECT_STORE != "file":
            _, _, access_key, secret_key = _s3_server()
            env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key,
                       AWS_EC2_METADATA_DISABLED="true")
            env.pop("AWS_SESSION_TOKEN", None)
            env.pop("AWS_PROFILE", None)
        return env

    def object_keys(self) -> list[str]:
        """Keys of the objects the broker has stored, sorted, in whatever store it uses."""
        if OBJECT_STORE == "file":
            root = self.data_dir / "objects"
            return sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())
        client, bucket = _s3_client()
        try:
            prefix = self._root.name + "/"
            return sorted(k[len(prefix):] for k in client.list_all_keys(bucket, prefix))
        finally:
            client.close()

    def delete_object(self, key: str) -> None:
        if OBJECT_STORE == "file":
            (self.data_dir / "objects" / key).unlink()
            return
        client, bucket = _s3_client()
        try:
            r = client.delete(bucket, f"{self._root.name}/{key}")
            assert r.status == 204, f"DELETE {key}: {r.status}"
        finally:
            client.close()

    def start(self) -> "BrokerProcess":
        """Starts the broker and waits until it accepts connections."""
        assert not self.is_running(), "broker is already running"
        if not FLOE_BIN.is_file():
            pytest.fail(f"floe binary not found at {FLOE_BIN} (build it, or set FLOE_BIN)",
                        pytrace=False)
        self._listening.clear()
        with self._lock:
            self._stderr.append(f"---- start: {' '.join(self.command())}\n")
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=_die_with_parent, env=self.environment())
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout, False),
                             daemon=True),
        ]
        for t in self._readers:
            t.start()

        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                self._reap()
                pytest.fail(f"floe exited with code {self.exit_codes[-1]} before listening.\n"
                            f"stderr:\n{self.stderr_text()}", pytrace=False)
            if time.monotonic() > deadline:
                self.proc.kill()
                self._reap()
                pytest.fail(f"floe did not log 'listening on PLAINTEXT://...' within "
                            f"{START_TIMEOUT_S:.0f} s.\nstderr:\n{self.stderr_text()}",
                            pytrace=False)
        if self.port is None:
            self.port = self._listening_port
        elif self._listening_port != self.port:
            self.stop(expect_exit_code=None)
            pytest.fail(f"floe restarted on port {self._listening_port}, expected the port "
                        f"passed in --listeners, {self.port}.\nstderr:\n{self.stderr_text()}",
                        pytrace=False)
        return self

    def stop(self, expect_exit_code: int | None = 0) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit code.

        With expect_exit_code set, fails the test unless the broker exits with it.
        """
        if self.proc is None:
            return self.exit_codes[-1] if self.exit_codes else 0
        timed_out = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                timed_out = True
                self.proc.kill()
        code = self._reap()
        if timed_out:
            pytest.fail(f"floe did not exit within {STOP_TIMEOUT_S:.0f} s of SIGTERM; "
                        f"killed.\nstderr:\n{self.stderr_text()}", pytrace=False)
        if expect_exit_code is not None and code != expect_exit_code:
            pytest.fail(f"floe exited with {_describe_exit(code)} on SIGTERM, expected "
                        f"{expect_exit_code}.\nstderr:\n{self.stderr_text()}", pytrace=False)
        return code

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Sends `sig` (a crash by default), waits for the process to end, returns its code."""
        assert self.is_running(), "broker is not running"
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self._reap()

    def restart(self) -> "BrokerProcess":
        """Graceful stop (exit code 0 required), then start on the same data dir and port."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Teardown: stop (requiring exit code 0) and always remove the temporary folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            assert not self._root.exists(), f"could not remove {self._root}"

    # -- internals ------------------------------------------------------------

    def _pump(self, stream, sink: list[str], watch_listening: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace")
            with self._lock:
                sink.append(line)
            if watch_listening and not self._listening.is_set():
                m = LISTENING_RE.search(line)
                if m:
                    self._listening_port = int(m.group(2))
                    self._listening.set()
        stream.close()

    def _reap(self) -> int:
        code = self.proc.wait()
        for t in self._readers:
            t.join(5)
        self.exit_codes.append(code)
        with self._lock:
            self._stderr.append(f"---- exited: {_describe_exit(code)}\n")
        self.proc = None
        return code


def _s3_server() -> tuple[str, str, str, str]:
    """(endpoint URL, bucket, access key, secret key) of the S3 server in use."""
    name = "S3RVER" if OBJECT_STORE == "s3rver" else "FAKE_S3"
    try:
        return (os.environ[f"FLOE_TEST_{name}_URL"], os.environ["FLOE_TEST_S3_BUCKET"],
                os.environ[f"FLOE_TEST_{name}_ACCESS_KEY"], os.environ[f"FLOE_TEST_{name}_SECRET_KEY"])
    except KeyError as e:
        raise RuntimeError(f"FLOE_TEST_OBJECT_STORE={OBJECT_STORE} needs {e.args[0]}: run the "
                           "tests under tests/s3/s3_servers.py") from None


def _s3_client():
    import sys
    sys.path.insert(0, str(REPO / "tests" / "s3"))
    from s3_client import S3Client  # noqa: E402 (tests/s3 is not a package)
    url, bucket, access_key, secret_key = _s3_server()
    return S3Client.from_url(url, access_key, secret_key), bucket


def _config_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


BrokerFactory = Callable[..., BrokerProcess]


@pytest.fixture
def broker_factory() -> BrokerFactory:
    """Starts brokers with extra config: `broker_factory({"broker.rack": "a"})`.

    Pass start=False to get a broker that is not started yet.
    """
    brokers: list[BrokerProcess] = []

    def make(config: Mapping[str, object] | None = None, start: bool = True) -> BrokerProcess:
        b = BrokerProcess(config)
        brokers.append(b)
        if start:
            b.start()
        return b

    yield make
    failures = []
    for b in brokers:
        try:
            b.close()
        except BaseException as e:  # stop every broker before reporting any failure
            failures.append(e)
    if failures:
        raise failures[0]


@pytest.fixture
def broker(broker_factory: BrokerFactory) -> BrokerProcess:
    """A started broker with the default configuration."""
    return broker_factory()


@pytest.fixture(autouse=True)
def _test_deadline():
    def on_alarm(signum, frame):
        raise TimeoutError(f"test still running after {TEST_TIMEOUT_S} s (FLOE_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def pytest_report_header(config) -> str:
    return f"floe binary: {FLOE_BIN}; object store: {OBJECT_STORE}"
