#!/usr/bin/python3
"""floe's benchmark: `make bench` (or /usr/bin/python3 bench/run.py).

For each partition count (1, 100, 10,000 by default), 1 KiB records, acks=all:
  1. flat out: a fresh broker on the embedded default (file objects + SQLite in a
     temporary data dir), bench/load.cc producing as fast as it can;
  2. at a fixed moderate rate (20 MiB/s): a fresh broker, produce latency
     (send -> delivery report) and end-to-end latency (send -> a consumer in the same
     process, assigned to every partition, receives it).
For each broker: object-store PUTs (from its shutdown line `object store:
N PUT`) per GiB ingested and peak RSS (VmHWM). Also measured on the same file system:
sequential writes with an fsync every 8 MiB (what a WAL object upload does), from one
stream and from eight at once (the broker uploads several objects in parallel); the
better of the two is the machine's limit that throughput is compared with.

Prints a table and writes bench/results.json. Numbers only; nothing here fails on a
slow result (the exit code is non-zero only when a run breaks).

Environment (all optional):
  BENCH_PARTITIONS     "1 100 10000"  partition counts
  BENCH_BYTES          2147483648     bytes per flat-out run ...
  BENCH_MAX_SECONDS    60             ... or this many seconds of sending, whichever first
  BENCH_RATE_MIBS      20             rate of the latency runs
  BENCH_LATENCY_SECONDS 20            length of the latency runs (after BENCH_WARMUP_S)
  BENCH_WARMUP_S       3              first seconds of a latency run left out of percentiles
  BENCH_RECORD_SIZE    1024
  BENCH_LINGER_MS      5              producer linger.ms of the flat-out runs
  BENCH_LATENCY_LINGER_MS 0           producer linger.ms of the latency runs: the broker batches
                                      for wal.linger.ms, so the client's own linger only adds
                                      to latency (librdkafka's default 5 adds ~5 ms; bench/README)
  BENCH_DISK_BYTES     1073741824     bytes written by the disk test
  BENCH_DRAIN_S        60             how long a run waits for the broker to catch up at its end
  BENCH_PRODUCERS      1              producer instances in floe_load (partitions spread over them)
  BENCH_BACKPRESSURE_THRESHOLD P/100  producer queue.buffering.backpressure.threshold: partitions/100,
                                      at least 1 (librdkafka's default), unless set (bench/README)
  BENCH_DIR            system temp    parent of the brokers' data dirs and the disk test
  BENCH_BROKER_ARGS    ""             extra `floe serve` flags, e.g. "--wal.linger.ms=100"
  BENCH_OUT            bench/results.json
  FLOE_BIN             build/floe
"""

from __future__ import annotations

import ctypes
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOE_BIN = Path(os.environ.get("FLOE_BIN", REPO / "build" / "floe"))
LOAD_SRC = REPO / "bench" / "load.cc"
LOAD_BIN = Path(os.environ.get("BENCH_LOAD_BIN", REPO / "build" / "bench" / "floe_load"))
MIB = 1 << 20
GIB = 1 << 30


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


PARTITIONS = [int(p) for p in os.environ.get("BENCH_PARTITIONS", "1 100 10000").split()]
FLAT_BYTES = env_int("BENCH_BYTES", 2 * GIB)
MAX_SECONDS = env_float("BENCH_MAX_SECONDS", 60)
RATE_MIBS = env_float("BENCH_RATE_MIBS", 20)
LATENCY_SECONDS = env_float("BENCH_LATENCY_SECONDS", 20)
WARMUP_S = env_float("BENCH_WARMUP_S", 3)
RECORD_SIZE = env_int("BENCH_RECORD_SIZE", 1024)
LINGER_MS = env_int("BENCH_LINGER_MS", 5)
LATENCY_LINGER_MS = env_int("BENCH_LATENCY_LINGER_MS", 0)
DISK_BYTES = env_int("BENCH_DISK_BYTES", GIB)
DRAIN_S = env_int("BENCH_DRAIN_S", 60)
PRODUCERS = env_int("BENCH_PRODUCERS", 1)
BACKPRESSURE_THRESHOLD = env_int("BENCH_BACKPRESSURE_THRESHOLD", 0)  # 0: by partition count


def backpressure_threshold(partitions: int) -> int:
    """librdkafka's default of 1 where it does no harm; more where its broker thread,
    which makes one produce request per pass over all partitions while one waits to
    be sent, would otherwise be the limit (bench/README)."""
    return BACKPRESSURE_THRESHOLD or max(1, partitions // 100)
BENCH_DIR = os.environ.get("BENCH_DIR") or None
BROKER_ARGS = shlex.split(os.environ.get("BENCH_BROKER_ARGS", ""))
OUT = Path(os.environ.get("BENCH_OUT", REPO / "bench" / "results.json"))

LISTENING_RE = re.compile(r"listening on PLAINTEXT://([^ ,]+):(\d+)")
# The broker's per-second line of request latencies (--request.stats.interval.ms).
PRODUCE_STATS_RE = re.compile(r"requests answered in the last \d+ ms \(read to written\): .*?"
                              r"\bProduce (\d+) p50 ([\d.]+) p99 ([\d.]+) ")
STOPPED_RE = re.compile(r"(\d+) objects committed \((\d+) bytes, (\d+) written as they filled, (\d+) uploads hedged, "
                        r"(\d+) committed beside "
                        r"their upload, (\d+) early commits given up\); object store: (\d+) PUT \(\d+ bytes\), "
                        r"(\d+) GET \(\d+ bytes\), (\d+) HEAD, (\d+) DELETE, (\d+) LIST, (\d+) retried; "
                        r"estimated cost \$([\d.]+) for requests")
# The S3 run: the default file:// store with S3 Standard's latency added to every
# request (bench/README.md; memory:// would hold every byte ingested in RAM), priced
# at S3 Standard's list prices in us-east-1 (PUT $0.005 and GET $0.0004 per 1,000).
S3_PARTITIONS = env_int("BENCH_S3_PARTITIONS", 100)
S3_PROFILE = os.environ.get("BENCH_S3_PROFILE", "s3-standard")
S3_PROFILE_PUT_P99_MS = {"s3-standard": 400, "s3-express": 40}
PUT_PRICE = 0.005 / 1000
GET_PRICE = 0.0004 / 1000
WAL_LINGER_RE = re.compile(r"--wal\.linger\.ms=(\d+)")

_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: no broker outlives the bench


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- the load tool -------------------------------------------------------------------

def build_load_tool() -> None:
    if LOAD_BIN.exists() and LOAD_BIN.stat().st_mtime >= LOAD_SRC.stat().st_mtime:
        return
    LOAD_BIN.parent.mkdir(parents=True, exist_ok=True)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], check=True,
                           capture_output=True, text=True).stdout.split()
    cmd = ["g++", "-O2", "-std=c++20", "-Wall", "-Wextra", str(LOAD_SRC), "-o", str(LOAD_BIN),
           *flags, "-pthread"]
    log("building: " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def run_load(bootstrap: str, topic: str, partitions: int, linger_ms: int, extra: list[str],
             timeout: float) -> dict:
    cmd = [str(LOAD_BIN), "--bootstrap", bootstrap, "--topic", topic,
           "--partitions", str(partitions), "--record-size", str(RECORD_SIZE),
           "--linger-ms", str(linger_ms), "--producers", str(PRODUCERS),
           "--backpressure-threshold", str(backpressure_threshold(partitions)), *extra]
    log("  $ " + " ".join(cmd))
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)
    if not done.stdout.strip():
        raise RuntimeError(f"floe_load exited {done.returncode} without a result")
    result = json.loads(done.stdout)
    result["exit_code"] = done.returncode
    return result


# ---- a broker ------------------------------------------------------------------------

class Broker:
    def __init__(self, parent: str | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="floe-bench-", dir=parent))
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.stderr: list[str] = []
        self._listening = threading.Event()
        self.port: int | None = None
        cmd = [str(FLOE_BIN), "serve", "--data-dir", str(self.data_dir),
               "--listeners=PLAINTEXT://127.0.0.1:0", "--request.stats.interval.ms=1000", *BROKER_ARGS]
        log("  $ " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        if not self._listening.wait(30):
            self.close()
            raise RuntimeError("broker did not start:\n" + "".join(self.stderr[-50:]))

    def _pump(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode(errors="replace")
            self.stderr.append(line)
            if not self._listening.is_set():
                m = LISTENING_RE.search(line)
                if m:
                    self.port = int(m.group(2))
                    self._listening.set()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def peak_rss_bytes(self) -> int | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(m.group(1)) * 1024 if m else None

    def object_files(self) -> int:
        return sum(len(files) for _, _, files in os.walk(self.data_dir / "objects"))

    def stop(self) -> dict:
        """SIGTERM; returns peak RSS, PUTs and committed bytes from the shutdown line."""
        stats = {"peak_rss_bytes": self.peak_rss_bytes(), "object_files": self.object_files()}
        self.proc.send_signal(signal.SIGTERM)
        try:
            stats["exit_code"] = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stats["exit_code"] = self.proc.wait()
        self._reader.join(10)
        m = None
        for line in self.stderr:
            m = STOPPED_RE.search(line) or m
        if m:
            stats.update(objects_committed=int(m.group(1)), bytes_committed=int(m.group(2)),
                         written_while_filling=int(m.group(3)), hedged_uploads=int(m.group(4)),
                         early_commits=int(m.group(5)), early_commits_given_up=int(m.group(6)),
                         puts=int(m.group(7)), gets=int(m.group(8)), request_cost_usd=float(m.group(13)))
        else:
            stats["puts"] = None
        errors = [line.rstrip() for line in self.stderr if re.search(r"\s(ERROR|WARN)\s", line)
                  and "get injected latency" not in line]
        stats["error_lines"] = errors[:20]
        # Seconds with at least 100 produce requests: not the start, the primers'
        # tail or the drain.
        p99s = [float(m.group(3)) for m in map(PRODUCE_STATS_RE.search, self.stderr)
                if m and int(m.group(1)) >= 100]
        stats["produce_p99_ms"] = ({"intervals": len(p99s), "median": sorted(p99s)[len(p99s) // 2],
                                    "max": max(p99s)} if p99s else None)
        return stats

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def with_broker(fn):
    # The previous run's dirty pages would otherwise be written back during
    # this one and slow its fsyncs: each run starts with them on disk.
    os.sync()
    broker = Broker(BENCH_DIR)
    try:
        result = fn(broker)
        result["broker"] = broker.stop()
        return result
    finally:
        broker.close()


# ---- the disk ------------------------------------------------------------------------

def disk_limit(parent: str | None, total: int, streams: int, chunk: int = 8 * MIB) -> dict:
    """Sequential writes with an fsync after every 8 MiB, as a WAL object upload does,
    from `streams` threads at once (the broker uploads several objects in parallel;
    os.write and os.fsync release the GIL)."""
    root = Path(tempfile.mkdtemp(prefix="floe-bench-disk-", dir=parent))
    buf = os.urandom(chunk)
    per_stream = max(chunk, total // streams // chunk * chunk)
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            fd = os.open(root / f"fsync-test-{index}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            try:
                written = 0
                while written < per_stream:
                    view = memoryview(buf)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                    written += chunk
            finally:
                os.close(fd)
        except BaseException as e:  # reported below, after every thread has ended
            errors.append(e)

    try:
        threads = [threading.Thread(target=write, args=(i,)) for i in range(streams)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - start
        if errors:
            raise errors[0]
        written = per_stream * streams
        return {"streams": streams, "bytes": written, "seconds": seconds,
                "mib_per_s": written / MIB / seconds, "chunk_bytes": chunk, "dir": str(root)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- the runs ------------------------------------------------------------------------

def flat_out(partitions: int) -> dict:
    def run(broker: Broker) -> dict:
        return run_load(broker.bootstrap, "flat", partitions, LINGER_MS,
                        ["--bytes", str(FLAT_BYTES), "--rate-mibs", "0", "--warmup-s", "0",
                         "--max-seconds", str(MAX_SECONDS), "--drain-s", str(DRAIN_S)],
                        timeout=MAX_SECONDS + 600)
    return with_broker(run)


def at_rate(partitions: int) -> dict:
    def run(broker: Broker) -> dict:
        return run_load(broker.bootstrap, "lat", partitions, LATENCY_LINGER_MS,
                        ["--rate-mibs", str(RATE_MIBS), "--seconds",
                         str(LATENCY_SECONDS + WARMUP_S), "--warmup-s", str(WARMUP_S), "--e2e",
                         "--drain-s", str(DRAIN_S), "--consumer-wait-s", str(DRAIN_S)],
                        timeout=LATENCY_SECONDS + WARMUP_S + 600)
    return with_broker(run)


def puts_per_gib(run: dict) -> float | None:
    b = run["broker"]
    if b.get("puts") is None:
        return None
    ingested = run["delivered"] * RECORD_SIZE
    return b["puts"] / (ingested / GIB) if ingested else None


def window_median(w: dict | None) -> float | None:
    """The median over statistics intervals of librdkafka's per-interval p99."""
    return w["median"] if w else None


def fmt(v, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def main() -> int:
    global BROKER_ARGS  # the S3 run adds its flags for its own brokers
    if not FLOE_BIN.is_file():
        log(f"no broker at {FLOE_BIN}: run `make build` first (or set FLOE_BIN)")
        return 2
    build_load_tool()
    started = time.monotonic()
    linger = int(WAL_LINGER_RE.search(" ".join(BROKER_ARGS)).group(1)) \
        if WAL_LINGER_RE.search(" ".join(BROKER_ARGS)) else 250

    disks = []
    for streams in (1, 8):
        log(f"disk: sequential writes with fsync every 8 MiB, {streams} stream(s), "
            f"{DISK_BYTES / MIB:.0f} MiB")
        disks.append(disk_limit(BENCH_DIR, DISK_BYTES, streams))
        log(f"  {disks[-1]['mib_per_s']:.1f} MiB/s")
    # The issue's limit is one sequential stream; eight streams is what the broker's
    # parallel uploads could get, so both fractions are reported.
    disk, disk8 = disks

    runs = []
    broken = False
    for p in PARTITIONS:
        log(f"{p} partitions: flat out")
        flat = flat_out(p)
        log(f"  {flat['mib_per_s']:.1f} MiB/s")
        log(f"{p} partitions: {RATE_MIBS:g} MiB/s")
        rate = at_rate(p)
        log(f"  produce p99 {rate['produce_latency']['p99_ms']:.1f} ms, "
            f"e2e p99 {rate['e2e_latency']['p99_ms']:.1f} ms")
        for r in (flat, rate):
            if r["exit_code"] != 0 or r["broker"]["exit_code"] != 0:
                broken = True
        runs.append({
            "partitions": p,
            "flat_out": flat,
            "at_rate": rate,
            "produce_mib_per_s": flat["mib_per_s"],
            "produce_records_per_s": flat["records_per_s"],
            "fraction_of_disk": flat["mib_per_s"] / disk["mib_per_s"],
            "fraction_of_disk_8_streams": flat["mib_per_s"] / disk8["mib_per_s"],
            "produce_latency_ms": rate["produce_latency"],
            "e2e_latency_ms": rate["e2e_latency"],
            # where the at-rate records' time went, from librdkafka's statistics
            "client_queue_p99_ms": rate.get("client_queue_p99_ms"),
            "broker_rtt_p99_ms": rate.get("broker_rtt_p99_ms"),
            # and the broker's own share: request read to response written
            "broker_side_produce_p99_ms": rate["broker"].get("produce_p99_ms"),
            "puts_per_gib_flat_out": puts_per_gib(flat),
            "puts_per_gib_at_rate": puts_per_gib(rate),
            "peak_rss_mib": max((r["broker"]["peak_rss_bytes"] or 0) for r in (flat, rate)) / MIB,
        })

    s3 = None
    if S3_PARTITIONS > 0:
        plain_args = BROKER_ARGS
        BROKER_ARGS = plain_args + [f"--object.store.latency.profile={S3_PROFILE}"]
        try:
            log(f"{S3_PROFILE} latency, {S3_PARTITIONS} partitions: flat out")
            flat = flat_out(S3_PARTITIONS)
            log(f"{S3_PROFILE} latency, {S3_PARTITIONS} partitions: {RATE_MIBS:g} MiB/s")
            rate = at_rate(S3_PARTITIONS)
        except Exception as e:  # keep the runs above: report the failure in the JSON
            log(f"  the {S3_PROFILE} run failed: {e}")
            broken = True
            flat = rate = None
            s3 = {"profile": S3_PROFILE, "partitions": S3_PARTITIONS, "error": str(e)}
        finally:
            BROKER_ARGS = plain_args

        def per_gib(run: dict, count: str) -> float | None:
            n = run["broker"].get(count)
            return None if n is None or not run.get("mib") else n / (run["mib"] / 1024)

        def cost_per_gib(run: dict) -> float | None:
            puts, gets = per_gib(run, "puts"), per_gib(run, "gets")
            return None if puts is None or gets is None else puts * PUT_PRICE + gets * GET_PRICE

        if flat is not None:
            for r in (flat, rate):
                if r["exit_code"] != 0 or r["broker"]["exit_code"] != 0:
                    broken = True
            s3 = {"profile": S3_PROFILE, "partitions": S3_PARTITIONS, "flat_out": flat, "at_rate": rate,
                  "produce_mib_per_s": flat["mib_per_s"],
                  "produce_latency_ms": rate["produce_latency"], "e2e_latency_ms": rate["e2e_latency"],
                  "puts_per_gib_at_rate": per_gib(rate, "puts"),
                  "gets_per_gib_at_rate": per_gib(rate, "gets"),
                  "cost_usd_per_gib_flat_out": cost_per_gib(flat),
                  "cost_usd_per_gib_at_rate": cost_per_gib(rate),
                  "peak_rss_mib": max((r["broker"]["peak_rss_bytes"] or 0) for r in (flat, rate)) / MIB}

    # The issue's targets, evaluated (reported, not enforced).
    targets = []
    for r in runs:
        p = r["partitions"]
        targets += [
            (f"{p} partitions: produce >= 200 MiB/s", r["produce_mib_per_s"] >= 200),
            (f"{p} partitions: produce >= half the disk limit (one stream)",
             r["fraction_of_disk"] >= 0.5),
            (f"{p} partitions: produce p99 <= wal.linger.ms + 25 ms ({linger + 25} ms)",
             r["produce_latency_ms"]["p99_ms"] <= linger + 25),
            (f"{p} partitions: e2e p99 <= produce p99 + 20 ms",
             r["e2e_latency_ms"]["p99_ms"] <= r["produce_latency_ms"]["p99_ms"] + 20),
            (f"{p} partitions: PUTs per GiB (flat out) <= 140",
             r["puts_per_gib_flat_out"] is not None and r["puts_per_gib_flat_out"] <= 140),
        ]
    by_p = {r["partitions"]: r for r in runs}
    if s3 and "error" not in s3:
        bound = linger + S3_PROFILE_PUT_P99_MS.get(S3_PROFILE, 0) + 30
        targets.append((f"{S3_PROFILE}: produce p99 <= wal.linger.ms + PUT p99 + 30 ms ({bound} ms)",
                        s3["produce_latency_ms"]["p99_ms"] <= bound))
        if S3_PARTITIONS in by_p:
            targets.append((f"{S3_PROFILE}: flat out not limited by PUT latency (>= 80% of file://)",
                            s3["produce_mib_per_s"] >= 0.8 * by_p[S3_PARTITIONS]["produce_mib_per_s"]))
    if 1 in by_p and 10000 in by_p and by_p[1]["puts_per_gib_flat_out"] and \
            by_p[10000]["puts_per_gib_flat_out"]:
        a, b = by_p[1]["puts_per_gib_flat_out"], by_p[10000]["puts_per_gib_flat_out"]
        targets.append(("PUTs per GiB within 10% between 1 and 10,000 partitions",
                        abs(b - a) / a <= 0.10))

    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB},
        "settings": {"record_size": RECORD_SIZE, "acks": "all", "flat_out_bytes": FLAT_BYTES,
                     "flat_out_max_seconds": MAX_SECONDS, "rate_mibs": RATE_MIBS,
                     "latency_seconds": LATENCY_SECONDS, "warmup_s": WARMUP_S,
                     "producer_linger_ms": LINGER_MS, "producer_linger_ms_latency_runs": LATENCY_LINGER_MS,
                     "producers": PRODUCERS,
                     "producer_backpressure_threshold": {
                         str(p): backpressure_threshold(p) for p in PARTITIONS + [S3_PARTITIONS] if p > 0},
                     "broker_args": BROKER_ARGS,
                     "wal_linger_ms": linger},
        "disk_fsync_write": disks,
        "disk_limit_mib_per_s": disk["mib_per_s"],
        "disk_limit_8_streams_mib_per_s": disk8["mib_per_s"],
        "runs": runs,
        "s3": s3,
        "targets": [{"target": t, "met": ok} for t, ok in targets],
        "bench_seconds": time.monotonic() - started,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")

    print()
    print(f"floe benchmark: {RECORD_SIZE} B records, acks=all, broker defaults"
          f"{' + ' + ' '.join(BROKER_ARGS) if BROKER_ARGS else ''} (wal.linger.ms={linger}); "
          f"producer linger.ms {LINGER_MS} flat out, {LATENCY_LINGER_MS} at {RATE_MIBS:g} MiB/s; "
          f"{os.cpu_count()} CPUs, client and broker on one machine")
    print("disk limit (sequential writes, fsync every 8 MiB): " +
          ", ".join(f"{d['mib_per_s']:.1f} MiB/s with {d['streams']} stream(s)" for d in disks) +
          "; 'of disk' below is against one stream, 'of disk×8' against eight")
    print()
    header = ["partitions", "MiB/s", "records/s", "of disk", "of disk×8", "p50 ms", "p99 ms", "p99.9 ms",
              "e2e p50", "e2e p99", "queue p99", "rtt p99", "broker p99", "PUT/GiB", f"PUT/GiB@{RATE_MIBS:g}", "peak RSS MiB"]
    rows = [[f"{r['partitions']:,}", fmt(r["produce_mib_per_s"]),
             fmt(r["produce_records_per_s"], ",.0f"), fmt(100 * r["fraction_of_disk"], ".0f") + "%",
             fmt(100 * r["fraction_of_disk_8_streams"], ".0f") + "%",
             fmt(r["produce_latency_ms"]["p50_ms"]), fmt(r["produce_latency_ms"]["p99_ms"]),
             fmt(r["produce_latency_ms"]["p999_ms"]), fmt(r["e2e_latency_ms"]["p50_ms"]),
             fmt(r["e2e_latency_ms"]["p99_ms"]), fmt(window_median(r["client_queue_p99_ms"])),
             fmt(window_median(r["broker_rtt_p99_ms"])), fmt(window_median(r["broker_side_produce_p99_ms"])),
             fmt(r["puts_per_gib_flat_out"]),
             fmt(r["puts_per_gib_at_rate"]), fmt(r["peak_rss_mib"], ".0f")] for r in runs]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")
    print()
    if s3 and "error" in s3:
        print(f"{s3['profile']} run failed: {s3['error']}")
    elif s3:
        print(f"{s3['profile']} latency, {s3['partitions']} partitions: "
              f"flat out {fmt(s3['produce_mib_per_s'])} MiB/s; at {RATE_MIBS:g} MiB/s produce p50/p99 "
              f"{fmt(s3['produce_latency_ms']['p50_ms'])}/{fmt(s3['produce_latency_ms']['p99_ms'])} ms, "
              f"e2e p50/p99 {fmt(s3['e2e_latency_ms']['p50_ms'])}/{fmt(s3['e2e_latency_ms']['p99_ms'])} ms, "
              f"{fmt(s3['puts_per_gib_at_rate'], '.0f')} PUT and {fmt(s3['gets_per_gib_at_rate'], '.0f')} GET "
              f"per GiB, ${fmt(s3['cost_usd_per_gib_at_rate'], '.5f')} per GiB in requests "
              f"(${fmt(s3['cost_usd_per_gib_flat_out'], '.5f')} flat out), "
              f"peak RSS {fmt(s3['peak_rss_mib'], '.0f')} MiB")
        print()
    print(f"MiB/s, records/s, PUT/GiB: flat out; latencies: at {RATE_MIBS:g} MiB/s "
          f"(produce: send -> delivery report; e2e: send -> consumer receives; "
          f"queue p99 / rtt p99: the client's queue before a batch is made / request to response, "
          f"librdkafka's per-second p99, median over the run; broker p99: the broker's own time "
          f"per produce request, last byte read to response written, its per-second p99, median "
          f"over the run); "
          f"peak RSS: the larger of the two brokers.")
    for t, ok in targets:
        print(f"  [{'met' if ok else 'MISSED'}] {t}")
    print(f"written to {OUT} ({time.monotonic() - started:.0f} s)")
    if broken:
        print("some run failed (see exit codes and errors in the JSON)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
