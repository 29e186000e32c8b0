"""Tests of s3_servers.py (start, environment, cleanup) and of what s3rver gets wrong.

Needs tests/s3/node_modules (`npm ci` in tests/s3); without it the tests fail and
say so. Run: /usr/bin/python3 -m pytest -q tests/s3
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import s3_probe  # noqa: E402
import s3_servers  # noqa: E402
from s3_client import S3Client  # noqa: E402

# What s3rver 3.7.1 gets wrong, as s3_probe.py's check names; README.md explains each.
# A change here (an s3rver upgrade, a Node.js change) must be reflected there.
KNOWN_S3RVER_GAPS = {
    "rejects_wrong_signature",
    "rejects_anonymous",
    "checks_payload_sha256",
    "checks_content_md5",
    "checks_crc32c",
    "put_if_none_match",
    "get_suffix_range",
    "get_range_of_empty_object_is_416",
    "list_xml_namespace",
    "list_byte_order",
    "list_pages_keep_every_key",
    "delete_objects_requires_content_md5",
    "delete_objects_checks_content_md5",
    "delete_objects_quiet",
    "delete_objects_limit_1000",
    "multipart_etag_has_part_count",
    "multipart_result_xml_namespace",
    "multipart_rejects_wrong_etag",
    "multipart_rejects_part_order",
    "multipart_rejects_small_part",
    "multipart_unknown_upload_is_404",
    "multipart_complete_unknown_upload_is_404",
    "multipart_abort",
    "list_multipart_uploads",
    "multipart_complete_if_none_match",
}


@pytest.fixture(scope="module")
def servers():
    try:
        with s3_servers.with_servers() as s:
            yield s
    except s3_servers.ServerStartError as e:
        pytest.fail(str(e), pytrace=False)


def test_servers_answer_with_the_advertised_settings(servers):
    env = servers.env
    assert env["FLOE_TEST_S3_BUCKET"] == "floe-test"
    assert env["FLOE_TEST_S3RVER_URL"].startswith("http://127.0.0.1:")
    assert env["FLOE_TEST_FAKE_S3_URL"].startswith("http://127.0.0.1:")
    assert env["FLOE_TEST_FAKE_S3_ACCESS_KEY"] == "AKIDFLOETEST"
    assert env["FLOE_TEST_FAKE_S3_SECRET_KEY"] == "floe-test-secret"
    for prefix in ("FLOE_TEST_S3RVER", "FLOE_TEST_FAKE_S3"):
        c = S3Client.from_url(env[f"{prefix}_URL"], env[f"{prefix}_ACCESS_KEY"],
                              env[f"{prefix}_SECRET_KEY"])
        assert c.put("floe-test", "hello", b"world").status == 200
        assert c.get("floe-test", "hello").body == b"world"
        assert c.delete("floe-test", "hello").status == 204
        c.close()


def test_probe_passes_everything_on_the_fake(servers):
    c = S3Client.from_url(servers.fake_url, servers.fake_access_key, servers.fake_secret_key)
    failed = {k: v for k, v in s3_probe.run(c, servers.bucket).items() if v is not None}
    assert failed == {}


def test_s3rver_gaps_are_the_documented_ones(servers):
    c = S3Client.from_url(servers.s3rver_url, s3_servers.S3RVER_ACCESS_KEY,
                          s3_servers.S3RVER_SECRET_KEY, timeout=2)
    results = s3_probe.run(c, servers.bucket)
    failed = {k for k, v in results.items() if v is not None}
    assert failed == KNOWN_S3RVER_GAPS, {k: results[k] for k in failed ^ KNOWN_S3RVER_GAPS}
    readme = (HERE / "README.md").read_text()
    assert [g for g in sorted(KNOWN_S3RVER_GAPS) if f"`{g}`" not in readme] == []


def test_servers_stop_and_clean_up():
    with s3_servers.with_servers() as s:
        procs = [p.proc for p in s.processes.values()]
        tmp = s.tmpdir
        assert all(p.poll() is None for p in procs) and tmp.is_dir()
    assert all(p.poll() is not None for p in procs)
    assert not tmp.exists()


def test_fake_only_with_session_token():
    with s3_servers.with_servers(s3rver=False, fake_session_token="tok") as s:
        assert "FLOE_TEST_S3RVER_URL" not in s.env
        assert s.env["FLOE_TEST_FAKE_S3_SESSION_TOKEN"] == "tok"
        c = S3Client.from_url(s.fake_url, s.fake_access_key, s.fake_secret_key,
                              session_token="tok")
        assert c.put(s.bucket, "k", b"v").status == 200
        c.close()


def test_missing_s3rver_says_to_run_npm_ci(monkeypatch):
    monkeypatch.setattr(s3_servers, "S3RVER_JS", HERE / "no-such-dir" / "s3rver.js")
    with pytest.raises(s3_servers.ServerStartError, match="npm ci"):
        with s3_servers.with_servers():
            pass


def test_cli_runs_the_command_and_returns_its_code():
    script = ("import os, sys, urllib.request\n"
              "for v in ('S3RVER_URL', 'FAKE_S3_URL'):\n"
              "    u = os.environ['FLOE_TEST_' + v]\n"
              "    urllib.request.urlopen(u + ('/__health' if 'FAKE' in v else\n"
              "                               '/floe-test?list-type=2'), timeout=5).read()\n"
              "print(os.environ['FLOE_TEST_S3_BUCKET'])\n"
              "sys.exit(7)\n")
    r = subprocess.run([sys.executable, str(HERE / "s3_servers.py"), "--", sys.executable,
                        "-c", script], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (7, "floe-test\n"), r.stderr


def test_cli_without_command_is_a_usage_error():
    r = subprocess.run([sys.executable, str(HERE / "s3_servers.py")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "usage" in r.stderr


def test_servers_are_gone_after_the_cli_exits():
    script = "import os; print(os.environ['FLOE_TEST_FAKE_S3_URL'])"
    r = subprocess.run([sys.executable, str(HERE / "s3_servers.py"), "--", sys.executable,
                        "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(r.stdout.strip() + "/__health", timeout=2)
