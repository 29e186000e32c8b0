#!/usr/bin/python3
"""Consumer-group numbers for `make bench` (or /usr/bin/python3 bench/groups.py).

One broker on the embedded default, confluent-kafka (librdkafka) clients:
  1. OffsetCommit latency: one consumer commits an offset synchronously, N times in a
     row (each commit is an fsynced SQLite transaction);
  2. rebalance time: three consumers subscribe to a 12-partition topic at once, until
     every partition is assigned; then one closes (LeaveGroup) until the other two hold
     all 12 again. With group.initial.rebalance.delay.ms=0 (the default 3000 adds 3 s to
     the first rebalance of an empty group, on purpose).

Prints a table and writes bench/results-groups.json. Numbers only; nothing fails on a
slow result.

Environment (optional): BENCH_COMMITS (1000), BENCH_DIR, FLOE_BIN,
BENCH_GROUPS_OUT (bench/results-groups.json).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the broker runner of bench/run.py)

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

COMMITS = int(os.environ.get("BENCH_COMMITS", "1000"))
OUT = Path(os.environ.get("BENCH_GROUPS_OUT", run.REPO / "bench" / "results-groups.json"))
PARTITIONS = 12


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def consumer(bootstrap: str, group: str, **extra) -> Consumer:
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000}
    conf.update(extra)
    return Consumer(conf)


def commit_latency(broker: run.Broker) -> dict:
    c = consumer(broker.bootstrap, "bench-commits")
    try:
        c.assign([TopicPartition("bench-groups", p, 0) for p in range(PARTITIONS)])
        c.commit(offsets=[TopicPartition("bench-groups", 0, 0)], asynchronous=False)  # warm up
        lat = []
        for i in range(COMMITS):
            t0 = time.perf_counter()
            c.commit(offsets=[TopicPartition("bench-groups", i % PARTITIONS, i)], asynchronous=False)
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        c.close()
    return {"commits": COMMITS, "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat)}


def wait_assigned(consumers: list[Consumer], owned: dict, want: int, deadline_s: float) -> bool:
    """Until every consumer owns some partitions, none twice, all `want` of them."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for c in consumers:
            c.poll(0.05)
        sets = [owned.get(id(c), set()) for c in consumers]
        if all(sets) and sum(len(s) for s in sets) == want and len(set().union(*sets)) == want:
            return True
    return False


def rebalance_times(broker: run.Broker) -> dict:
    owned: dict[int, set] = {}
    consumers = []

    def track(c):
        def on_assign(cons, parts):
            owned[id(c)] = {p.partition for p in parts}

        def on_revoke(cons, parts):
            owned[id(c)] = set()
        return on_assign, on_revoke

    t0 = time.perf_counter()
    for _ in range(3):
        c = consumer(broker.bootstrap, "bench-rebalance")
        on_assign, on_revoke = track(c)
        c.subscribe(["bench-groups"], on_assign=on_assign, on_revoke=on_revoke)
        consumers.append(c)
    ok = wait_assigned(consumers, owned, PARTITIONS, 60)
    join_s = time.perf_counter() - t0
    leaving = consumers.pop()
    t1 = time.perf_counter()
    leaving.close()
    owned.pop(id(leaving), None)
    ok2 = wait_assigned(consumers, owned, PARTITIONS, 60)
    leave_s = time.perf_counter() - t1
    for c in consumers:
        c.close()
    return {"three_join_s": join_s if ok else None, "after_leave_s": leave_s if ok2 else None}


def main() -> int:
    run.BROKER_ARGS = run.BROKER_ARGS + ["--group.initial.rebalance.delay.ms=0"]
    broker = run.Broker(run.BENCH_DIR)
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("bench-groups", PARTITIONS, 1)])["bench-groups"].result()
        result = {"commit": commit_latency(broker), "rebalance": rebalance_times(broker)}
        result["broker"] = broker.stop()
    finally:
        broker.close()
    c, r = result["commit"], result["rebalance"]
    print(f"OffsetCommit (sync, one partition), {c['commits']} in a row: "
          f"p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, max {c['max_ms']:.2f} ms")
    print(f"3 consumers join a 12-partition topic: {run.fmt(r['three_join_s'], '.2f')} s; "
          f"after one leaves, the others hold all partitions in {run.fmt(r['after_leave_s'], '.2f')} s")
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    broken = None in (r["three_join_s"], r["after_leave_s"]) or result["broker"].get("exit_code") != 0
    if broken:
        print("a run failed (see the JSON)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
