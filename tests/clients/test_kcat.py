"""kcat (Debian's, on librdkafka 2.0.2) against a real floe broker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def kcat(broker, *args: str) -> str:
    if KCAT is None:
        pytest.fail("kcat is not installed (Debian package: kcat)", pytrace=False)
    cmd = [KCAT, "-b", broker.bootstrap, "-m", "10", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited with {done.returncode}\nstdout:\n{done.stdout}\n"
        f"stderr:\n{done.stderr}\nbroker stderr:\n{broker.stderr_text()}")
    return done.stdout


def supports_json() -> bool:
    version = subprocess.run([KCAT, "-V"], capture_output=True, text=True).stdout
    return "JSON" in version


def test_list_metadata(broker):
    out = kcat(broker, "-L")
    # Metadata for all topics (from broker 1: 127.0.0.1:40123/1):
    #  1 brokers:
    #   broker 1 at 127.0.0.1:40123 (controller)
    #  0 topics:
    brokers = re.findall(r"^\s+broker (-?\d+) at ([^:\s]+):(\d+)( \(controller\))?$", out, re.M)
    assert len(brokers) == 1, out
    node_id, host, port, controller = brokers[0]
    assert int(node_id) >= 0
    assert (host, int(port)) == ("127.0.0.1", broker.port), out
    assert controller, f"the only broker must be the controller:\n{out}"
    assert re.search(r"^\s*1 brokers:$", out, re.M), out
    assert re.search(r"^\s*0 topics:$", out, re.M), out
    origin = re.search(r"from broker (-?\d+): ", out)
    assert origin and origin.group(1) == node_id, out


def test_list_metadata_json(broker):
    if not supports_json():
        pytest.skip("this kcat was built without JSON support")
    md = json.loads(kcat(broker, "-L", "-J"))
    assert len(md["brokers"]) == 1, md
    b = md["brokers"][0]
    assert b["name"] == f"127.0.0.1:{broker.port}", md
    assert b["id"] >= 0
    assert md["controllerid"] == b["id"], md
    assert md["originating_broker"]["id"] == b["id"], md
    assert md["topics"] == [], md


def test_list_metadata_with_configured_node_id(broker_factory):
    broker = broker_factory({"node.id": 42})
    out = kcat(broker, "-L")
    assert re.search(rf"^\s+broker 42 at 127\.0\.0\.1:{broker.port} \(controller\)$", out, re.M), out
