"""Tests of fake_s3.py: its SigV4 verifier, every operation, every error, every fault.

The verifier is pinned to AWS's documented signature examples; the HTTP tests sign
with s3_client.py, a separate implementation. Run:

    /usr/bin/python3 -m pytest -q tests/s3
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fake_s3  # noqa: E402
from s3_client import (EMPTY_SHA256, UNSIGNED, S3Client, amz_date, checksum_crc32c,  # noqa: E402
                       content_md5, crc32c, delete_xml, sign)

BUCKET = "floe-test"
AK = "AKIDFLOETEST"
SK = "floe-test-secret"
TOKEN = "FwoGZXIvYXdzE+token/with=odd+chars"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MIB = 1024 * 1024

# AWS's documented SigV4 examples for S3 (sig-v4-header-based-auth).
EX_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EX_DATE = "20130524T000000Z"
EX_HOST = "examplebucket.s3.amazonaws.com"


class FakeProcess:
    def __init__(self, *extra: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fake-s3-test-"))
        port_file = self.dir / "port"
        self.stderr_path = self.dir / "stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_s3.py"), "--port", "0", "--bucket", BUCKET,
             "--access-key", AK, "--secret-key", SK, "--port-file", str(port_file), *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert self.proc.poll() is None, f"fake_s3 died: {self.stderr()}"
            assert time.monotonic() < deadline, "fake_s3 wrote no port file"
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> None:
        try:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(10)
            out = self.proc.stdout.read()
            assert code == 0, f"fake_s3 exited {code}: {self.stderr()}"
            assert out == b"", f"fake_s3 wrote to stdout: {out[:300]!r}"
            assert "Traceback" not in self.stderr(), self.stderr()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdout.close()
            self._stderr.close()
            for p in self.dir.iterdir():
                p.unlink()
            self.dir.rmdir()


@pytest.fixture(scope="module")
def server():
    s = FakeProcess()
    yield s
    s.close()


@pytest.fixture(scope="module")
def token_server():
    s = FakeProcess("--session-token", TOKEN)
    yield s
    s.close()


def control(srv: FakeProcess, method: str, path: str, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(srv.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def fault(srv: FakeProcess, **rule) -> int:
    status, reply = control(srv, "POST", "/__fault", rule)
    assert status == 200, reply
    return reply["id"]


def stats(srv: FakeProcess) -> dict:
    return control(srv, "GET", "/__stats")[1]


@pytest.fixture
def c(server):
    control(server, "POST", "/__reset")
    client = S3Client("127.0.0.1", server.port, AK, SK)
    yield client
    client.close()


def raw_http(srv: FakeProcess, data: bytes) -> bytes:
    """Sends bytes as they are and returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def error_of(r) -> tuple[int, str]:
    return r.status, r.error_code()


def signed_headers_for(method: str, target_path: str, query, body: bytes, headers: dict,
                       port: int, secret: str = SK, signed: list[str] | None = None,
                       payload_hash: str | None = None) -> dict:
    """Headers of a request signed by hand, for requests S3Client will not make."""
    h = {k.lower(): v for k, v in headers.items()}
    h["host"] = f"127.0.0.1:{port}"
    d = h.setdefault("x-amz-date", amz_date(dt.datetime.now(dt.timezone.utc)))
    ph = h.setdefault("x-amz-content-sha256",
                      payload_hash or hashlib.sha256(body).hexdigest())
    names = signed or sorted(h)
    sig, _ = sign(secret, method, target_path, query, h, names, ph, d, "us-east-1")
    h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={AK}/{d[:8]}/us-east-1/s3/"
                          f"aws4_request,SignedHeaders={';'.join(names)},Signature={sig}")
    return h


# ---------------------------------------------------------------------------
# SigV4 and CRC-32C against published vectors


def _vals(**kw: str) -> dict[str, list[str]]:
    return {k.replace("_", "-"): [v] for k, v in kw.items()}


def test_verifier_computes_aws_get_object_example():
    sig, creq, sts = fake_s3.sigv4(
        EX_SECRET, "GET", "/test.txt", [],
        _vals(host=EX_HOST, range="bytes=0-9", x_amz_content_sha256=EMPTY_SHA256,
              x_amz_date=EX_DATE),
        "host;range;x-amz-content-sha256;x-amz-date", EMPTY_SHA256, EX_DATE, "us-east-1")
    assert sig == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert sts.endswith("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    assert creq.splitlines()[:3] == ["GET", "/test.txt", ""]


def test_verifier_computes_aws_put_object_example():
    # The request line carries a raw '$'; the canonical URI has it as %24.
    payload = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    sig, creq, _ = fake_s3.sigv4(
        EX_SECRET, "PUT", "/test$file.text", [],
        _vals(date="Fri, 24 May 2013 00:00:00 GMT", host=EX_HOST,
              x_amz_content_sha256=payload, x_amz_date=EX_DATE,
              x_amz_storage_class="REDUCED_REDUNDANCY"),
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", payload, EX_DATE,
        "us-east-1")
    assert creq.splitlines()[1] == "/test%24file.text"
    assert sig == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


@pytest.mark.parametrize("query,expected", [
    ("lifecycle", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ("max-keys=2&prefix=J", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
])
def test_verifier_computes_aws_bucket_examples(query, expected):
    sig, _, _ = fake_s3.sigv4(
        EX_SECRET, "GET", "/", fake_s3.parse_query(query),
        _vals(host=EX_HOST, x_amz_content_sha256=EMPTY_SHA256, x_amz_date=EX_DATE),
        "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA256, EX_DATE, "us-east-1")
    assert sig == expected


def test_test_client_signs_the_aws_example_too():
    sig, _ = sign(EX_SECRET, "GET", "/test.txt", [],
                  {"host": EX_HOST, "range": "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256,
                   "x-amz-date": EX_DATE},
                  ["host", "range", "x-amz-content-sha256", "x-amz-date"], EMPTY_SHA256,
                  EX_DATE, "us-east-1")
    assert sig == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_canonical_uri_and_query():
    assert fake_s3.canonical_uri("/b/a%20b/c%2Fd") == "/b/a%20b/c%2Fd"
    assert fake_s3.canonical_uri("/b/a%2fb~x") == "/b/a%2Fb~x"
    assert fake_s3.canonical_uri("/b/%41") == "/b/A"  # an unreserved byte is not encoded
    assert fake_s3.canonical_uri("/b//x/./y") == "/b//x/./y"  # never normalised
    q = fake_s3.parse_query("prefix=a+b%2Fc&list-type=2&a-b=1&a=2&uploads")
    assert fake_s3.canonical_query(q) == "a=2&a-b=1&list-type=2&prefix=a%20b%2Fc&uploads="


def test_crc32c_vectors():
    # RFC 3720, B.4, and the usual check value.
    assert fake_s3.crc32c(b"123456789") == 0xE3069283
    assert fake_s3.crc32c(bytes(32)) == 0x8A9136AA
    assert fake_s3.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert fake_s3.crc32c(bytes(range(32))) == 0x46DD794E
    assert fake_s3.crc32c(b"") == 0
    data = os.urandom(4097)
    assert fake_s3.crc32c(data) == crc32c(data)
    assert fake_s3.crc32c(data[1000:], fake_s3.crc32c(data[:1000])) == crc32c(data)


# ---------------------------------------------------------------------------
# Authentication over HTTP


def test_signed_round_trip_with_awkward_key(c):
    key = "dir/a b+c$ä~(1)=&?#x"
    r = c.put(BUCKET, key, b"payload", headers={"Content-Type": "text/plain",
                                                 "x-amz-meta-note": "  two   spaces  "})
    assert r.status == 200, r
    g = c.get(BUCKET, key)
    assert (g.status, g.body) == (200, b"payload")
    assert g.header("Content-Type") == "text/plain"
    assert g.header("x-amz-meta-note") == "two   spaces"  # trimmed by HTTP, inner kept


def test_unsigned_payload_is_accepted(c):
    r = c.put(BUCKET, "k", b"body", payload_hash=UNSIGNED)
    assert r.status == 200, r
    assert c.get(BUCKET, "k", payload_hash=UNSIGNED).body == b"body"


def test_wrong_signature(c):
    r = c.put(BUCKET, "k", b"x", signature="0" * 64)
    assert error_of(r) == (403, "SignatureDoesNotMatch")
    root = r.xml()
    assert root.findtext("CanonicalRequest").startswith("PUT\n/floe-test/k\n")
    assert root.findtext("StringToSign").startswith("AWS4-HMAC-SHA256\n")
    assert c.head(BUCKET, "k").status == 404


def test_wrong_secret(server, c):
    other = S3Client("127.0.0.1", server.port, AK, "not-the-secret")
    assert error_of(other.put(BUCKET, "k", b"x")) == (403, "SignatureDoesNotMatch")
    other.close()


def test_signature_covers_query_and_path(c):
    # Sign one listing, send another: the query is part of the signature.
    h = signed_headers_for("GET", "/floe-test", [("list-type", "2"), ("prefix", "a")], b"", {},
                           c.port)
    r = c.send("GET", "/floe-test?list-type=2&prefix=b", h, b"")
    assert error_of(r) == (403, "SignatureDoesNotMatch")
    h = signed_headers_for("GET", "/floe-test/a", [], b"", {}, c.port)
    assert error_of(c.send("GET", "/floe-test/b", h, b"")) == (403, "SignatureDoesNotMatch")


def test_unknown_access_key(c):
    assert error_of(c.put(BUCKET, "k", b"x", access_key="AKIDOTHER")) == (403,
                                                                          "InvalidAccessKeyId")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_request_time_too_skewed(c, minutes):
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    assert error_of(c.get(BUCKET, "k", date=t)) == (403, "RequestTimeTooSkewed")


def test_request_time_within_skew_is_fine(c):
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    assert c.put(BUCKET, "k", b"x", date=t).status == 200


def test_anonymous_request(c):
    r = c.request("GET", f"/{BUCKET}/k", sign_request=False)
    assert error_of(r) == (403, "AccessDenied")


def test_payload_hash_mismatch(c):
    r = c.put(BUCKET, "k", b"x", payload_hash=hashlib.sha256(b"y").hexdigest())
    assert error_of(r) == (400, "XAmzContentSHA256Mismatch")
    assert r.xml().findtext("S3ComputedContentSHA256") == hashlib.sha256(b"x").hexdigest()
    assert c.head(BUCKET, "k").status == 404


def test_payload_hash_header_missing_or_invalid(c):
    h = signed_headers_for("GET", "/floe-test/k", [], b"", {}, c.port,
                           payload_hash=EMPTY_SHA256)
    del h["x-amz-content-sha256"]  # signed as if present; the server must complain first
    assert error_of(c.send("GET", "/floe-test/k", h, b"")) == (400, "InvalidRequest")
    assert error_of(c.get(BUCKET, "k", payload_hash="abc")) == (400, "InvalidArgument")
    assert error_of(c.put(BUCKET, "k", b"x",
                          payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")) == (
        501, "NotImplemented")


def test_unsigned_amz_header(c):
    r = c.put(BUCKET, "k", b"x", unsigned_headers={"x-amz-meta-sneaky": "1"})
    assert error_of(r) == (403, "AccessDenied")
    assert r.xml().findtext("HeadersNotSigned") == "x-amz-meta-sneaky"


def test_host_must_be_signed(c):
    r = c.get(BUCKET, "k", signed_headers=["x-amz-content-sha256", "x-amz-date"])
    assert error_of(r) == (400, "AuthorizationHeaderMalformed")


def test_wrong_region(c):
    r = c.get(BUCKET, "k", region="eu-west-1")
    assert error_of(r) == (400, "AuthorizationHeaderMalformed")
    assert r.xml().findtext("Region") == "us-east-1"


@pytest.mark.parametrize("auth,code", [
    ("AWS4-HMAC-SHA256 Credential=AKIDFLOETEST/20200101/us-east-1/s3/aws4_request",
     "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 Credential=AKIDFLOETEST/x, SignedHeaders=host, Signature=00",
     "AuthorizationHeaderMalformed"),
    ("AWS4-HMAC-SHA256 garbage", "AuthorizationHeaderMalformed"),
    ("AWS AKIDFLOETEST:c2lnbmF0dXJl", "InvalidArgument"),
])
def test_malformed_authorization(c, auth, code):
    h = {"host": f"127.0.0.1:{c.port}", "authorization": auth,
         "x-amz-date": amz_date(dt.datetime.now(dt.timezone.utc)),
         "x-amz-content-sha256": EMPTY_SHA256}
    assert error_of(c.send("GET", "/floe-test/k", h, b"")) == (400, code)


def test_credential_date_must_match_x_amz_date(c):
    h = signed_headers_for("GET", "/floe-test/k", [], b"", {}, c.port)
    h["authorization"] = re.sub(r"/\d{8}/", "/20000101/", h["authorization"])
    assert error_of(c.send("GET", "/floe-test/k", h, b"")) == (400,
                                                               "AuthorizationHeaderMalformed")


def test_presigned_urls_are_not_implemented(c):
    r = c.request("GET", f"/{BUCKET}/k", sign_request=False,
                  query=[("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Signature", "00")])
    assert error_of(r) == (501, "NotImplemented")


def test_session_token(token_server):
    control(token_server, "POST", "/__reset")
    good = S3Client("127.0.0.1", token_server.port, AK, SK, session_token=TOKEN)
    assert good.put(BUCKET, "k", b"x").status == 200
    missing = S3Client("127.0.0.1", token_server.port, AK, SK)
    assert error_of(missing.get(BUCKET, "k")) == (403, "InvalidToken")
    wrong = S3Client("127.0.0.1", token_server.port, AK, SK, session_token="other")
    assert error_of(wrong.get(BUCKET, "k")) == (403, "InvalidToken")
    r = good.get(BUCKET, "k", signed_headers=["host", "x-amz-content-sha256", "x-amz-date"])
    assert error_of(r) == (403, "AccessDenied")
    assert r.xml().findtext("HeadersNotSigned") == "x-amz-security-token"
    for client in (good, missing, wrong):
        client.close()


def test_token_sent_to_server_without_token_is_rejected(c):
    other = S3Client("127.0.0.1", c.port, AK, SK, session_token=TOKEN)
    assert error_of(other.get(BUCKET, "k")) == (403, "InvalidToken")
    other.close()


# ---------------------------------------------------------------------------
# PutObject


def test_put_returns_quoted_md5_etag(c):
    r = c.put(BUCKET, "k", b"hello")
    assert r.status == 200 and r.body == b""
    assert r.header("ETag") == f'"{hashlib.md5(b"hello").hexdigest()}"'


def test_put_overwrites(c):
    c.put(BUCKET, "k", b"one")
    c.put(BUCKET, "k", b"two")
    assert c.get(BUCKET, "k").body == b"two"


def test_put_content_md5(c):
    assert c.put(BUCKET, "ok", b"data", headers={"Content-MD5": content_md5(b"data")}).status \
        == 200
    r = c.put(BUCKET, "bad", b"data", headers={"Content-MD5": content_md5(b"other")})
    assert error_of(r) == (400, "BadDigest")
    r = c.put(BUCKET, "bad", b"data", headers={"Content-MD5": "not base64!"})
    assert error_of(r) == (400, "InvalidDigest")
    assert c.head(BUCKET, "bad").status == 404


def test_put_crc32c(c):
    r = c.put(BUCKET, "ok", b"data", headers={"x-amz-checksum-crc32c": checksum_crc32c(b"data")})
    assert r.status == 200
    assert r.header("x-amz-checksum-crc32c") == checksum_crc32c(b"data")
    r = c.put(BUCKET, "bad", b"data",
              headers={"x-amz-checksum-crc32c": checksum_crc32c(b"datb")})
    assert error_of(r) == (400, "BadDigest")
    r = c.put(BUCKET, "bad", b"data", headers={"x-amz-checksum-crc32c": "AAAAAAAA"})
    assert error_of(r) == (400, "InvalidRequest")
    assert c.head(BUCKET, "bad").status == 404
    g = c.get(BUCKET, "ok", headers={"x-amz-checksum-mode": "ENABLED"})
    assert g.header("x-amz-checksum-crc32c") == checksum_crc32c(b"data")


@pytest.mark.parametrize("name,digest", [
    ("crc32", lambda d: zlib.crc32(d).to_bytes(4, "big")),
    ("sha1", lambda d: hashlib.sha1(d).digest()),
    ("sha256", lambda d: hashlib.sha256(d).digest()),
])
def test_put_other_checksums(c, name, digest):
    header = f"x-amz-checksum-{name}"
    good = base64.b64encode(digest(b"data")).decode()
    bad = base64.b64encode(digest(b"datb")).decode()
    assert c.put(BUCKET, "ok", b"data", headers={header: good}).status == 200
    assert error_of(c.put(BUCKET, "bad", b"data", headers={header: bad})) == (400, "BadDigest")


def test_put_two_checksums_or_unknown_algorithm(c):
    r = c.put(BUCKET, "k", b"d", headers={"x-amz-checksum-crc32c": checksum_crc32c(b"d"),
                                          "x-amz-checksum-sha1": base64.b64encode(
                                              hashlib.sha1(b"d").digest()).decode()})
    assert error_of(r) == (400, "InvalidRequest")
    r = c.put(BUCKET, "k", b"d", headers={"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="})
    assert error_of(r) == (501, "NotImplemented")


def test_put_if_none_match(c):
    assert c.put(BUCKET, "k", b"first", headers={"If-None-Match": "*"}).status == 200
    r = c.put(BUCKET, "k", b"second", headers={"If-None-Match": "*"})
    assert error_of(r) == (412, "PreconditionFailed")
    assert c.get(BUCKET, "k").body == b"first"
    r = c.put(BUCKET, "k", b"x", headers={"If-None-Match": '"abc"'})
    assert error_of(r) == (501, "NotImplemented")


def test_put_if_match(c):
    etag = c.put(BUCKET, "k", b"first").header("ETag")
    assert c.put(BUCKET, "k", b"second", headers={"If-Match": etag}).status == 200
    assert error_of(c.put(BUCKET, "k", b"third", headers={"If-Match": etag})) == (
        412, "PreconditionFailed")
    assert error_of(c.put(BUCKET, "new", b"x", headers={"If-Match": etag})) == (404,
                                                                                 "NoSuchKey")
    assert c.get(BUCKET, "k").body == b"second"


def test_conditional_puts_race_one_winner(server, c):
    import threading
    results = []

    def put(i):
        cl = S3Client("127.0.0.1", server.port, AK, SK)
        results.append(cl.put(BUCKET, "race", str(i).encode(),
                              headers={"If-None-Match": "*"}).status)
        cl.close()

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [412] * 15


def test_put_without_content_length(server, c):
    h = signed_headers_for("PUT", "/floe-test/k", [], b"", {}, server.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    reply = raw_http(server, f"PUT /floe-test/k HTTP/1.1\r\n{head}\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 411 ")
    assert b"<Code>MissingContentLength</Code>" in reply


def test_key_too_long(c):
    assert error_of(c.put(BUCKET, "k" * 1025, b"x")) == (400, "KeyTooLongError")
    assert c.put(BUCKET, "k" * 1024, b"x").status == 200


# ---------------------------------------------------------------------------
# GetObject, HeadObject, DeleteObject


def test_get_whole(c):
    c.put(BUCKET, "k", b"0123456789")
    r = c.get(BUCKET, "k")
    assert (r.status, r.body) == (200, b"0123456789")
    assert r.header("ETag") == f'"{hashlib.md5(b"0123456789").hexdigest()}"'
    assert r.header("Content-Length") == "10"
    assert r.header("Accept-Ranges") == "bytes"
    assert r.header("Last-Modified").endswith(" GMT")


@pytest.mark.parametrize("rng,body,content_range", [
    ("bytes=0-9", b"0123456789", "bytes 0-9/10"),
    ("bytes=2-5", b"2345", "bytes 2-5/10"),
    ("bytes=7-", b"789", "bytes 7-9/10"),
    ("bytes=7-100", b"789", "bytes 7-9/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),
    ("bytes=-50", b"0123456789", "bytes 0-9/10"),
    ("bytes=9-9", b"9", "bytes 9-9/10"),
])
def test_get_range(c, rng, body, content_range):
    c.put(BUCKET, "k", b"0123456789")
    r = c.get(BUCKET, "k", headers={"Range": rng})
    assert (r.status, r.body, r.header("Content-Range")) == (206, body, content_range)


@pytest.mark.parametrize("rng", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_get_unsatisfiable_range(c, rng):
    c.put(BUCKET, "k", b"0123456789")
    r = c.get(BUCKET, "k", headers={"Range": rng})
    assert error_of(r) == (416, "InvalidRange")
    assert r.header("Content-Range") == "bytes */10"
    assert r.xml().findtext("ActualObjectSize") == "10"


def test_get_range_of_empty_object(c):
    c.put(BUCKET, "e", b"")
    assert error_of(c.get(BUCKET, "e", headers={"Range": "bytes=0-"})) == (416, "InvalidRange")
    assert c.get(BUCKET, "e").body == b""


@pytest.mark.parametrize("rng", ["bytes=5-2", "items=0-1", "bytes=0-1,3-4", "bytes=-"])
def test_get_ignores_range_it_cannot_parse(c, rng):
    c.put(BUCKET, "k", b"0123456789")
    r = c.get(BUCKET, "k", headers={"Range": rng})
    assert (r.status, r.body) == (200, b"0123456789")


def test_get_missing(c):
    r = c.get(BUCKET, "nope")
    assert error_of(r) == (404, "NoSuchKey")
    assert r.xml().findtext("Key") == "nope"


def test_get_conditional(c):
    etag = c.put(BUCKET, "k", b"x").header("ETag")
    r = c.get(BUCKET, "k", headers={"If-None-Match": etag})
    assert (r.status, r.body) == (304, b"")
    assert error_of(c.get(BUCKET, "k", headers={"If-Match": '"other"'})) == (
        412, "PreconditionFailed")
    assert c.get(BUCKET, "k", headers={"If-Match": etag}).status == 200


def test_head(c):
    c.put(BUCKET, "k", b"0123456789")
    r = c.head(BUCKET, "k")
    assert (r.status, r.body, r.header("Content-Length")) == (200, b"", "10")
    r = c.head(BUCKET, "k", headers={"Range": "bytes=0-3"})
    assert (r.status, r.header("Content-Length")) == (206, "4")
    r = c.head(BUCKET, "nope")
    assert (r.status, r.body) == (404, b"")
    assert c.get(BUCKET, "k").body == b"0123456789"  # the connection is still in step


def test_delete(c):
    c.put(BUCKET, "k", b"x")
    assert c.delete(BUCKET, "k").status == 204
    assert c.head(BUCKET, "k").status == 404
    assert c.delete(BUCKET, "k").status == 204


def test_no_such_bucket(c):
    assert error_of(c.get("other", "k")) == (404, "NoSuchBucket")
    assert error_of(c.put("other", "k", b"x")) == (404, "NoSuchBucket")
    assert error_of(c.list_v2("other")) == (404, "NoSuchBucket")
    assert c.request("HEAD", "/other").status == 404


def test_head_bucket(c):
    assert c.request("HEAD", f"/{BUCKET}").status == 200


@pytest.mark.parametrize("method,path,query,headers", [
    ("GET", "/", [], {}),  # ListBuckets
    ("GET", f"/{BUCKET}", [], {}),  # ListObjects v1
    ("GET", f"/{BUCKET}", [("list-type", "1")], {}),
    ("GET", f"/{BUCKET}/k", [("acl", "")], {}),
    ("GET", f"/{BUCKET}/k", [("versionId", "1")], {}),
    ("PUT", f"/{BUCKET}/k", [], {"x-amz-copy-source": f"/{BUCKET}/j"}),
    ("PUT", f"/{BUCKET}", [], {}),  # CreateBucket
    ("POST", f"/{BUCKET}/k", [], {}),
    ("GET", f"/{BUCKET}/k", [("uploadId", "u")], {}),  # ListParts
])
def test_unknown_operations(c, method, path, query, headers):
    r = c.request(method, path, query=query, headers=headers)
    assert error_of(r) == (501, "NotImplemented")


# ---------------------------------------------------------------------------
# DeleteObjects


def test_delete_objects(c):
    for k in ("a", "b&<c>"):
        c.put(BUCKET, k, b"x")
    r = c.delete_objects(BUCKET, ["a", "b&<c>", "missing"])
    assert r.status == 200
    root = r.xml()
    assert root.tag == NS + "DeleteResult"
    assert [d.findtext(NS + "Key") for d in root.findall(NS + "Deleted")] == [
        "a", "b&<c>", "missing"]
    assert c.list_all_keys(BUCKET) == []


def test_delete_objects_quiet(c):
    c.put(BUCKET, "a", b"x")
    r = c.delete_objects(BUCKET, ["a"], quiet=True)
    assert r.status == 200 and r.xml().findall(NS + "Deleted") == []
    assert c.head(BUCKET, "a").status == 404


def test_delete_objects_needs_content_md5_or_checksum(c):
    c.put(BUCKET, "a", b"x")
    assert error_of(c.delete_objects(BUCKET, ["a"], md5=False)) == (400, "InvalidRequest")
    assert c.head(BUCKET, "a").status == 200
    body = delete_xml(["a"])
    r = c.request("POST", f"/{BUCKET}", query=[("delete", "")], body=body,
                  headers={"x-amz-checksum-crc32c": checksum_crc32c(body)})
    assert r.status == 200
    assert c.head(BUCKET, "a").status == 404


def test_delete_objects_bad_md5(c):
    c.put(BUCKET, "a", b"x")
    r = c.request("POST", f"/{BUCKET}", query=[("delete", "")], body=delete_xml(["a"]),
                  headers={"Content-MD5": content_md5(b"other")})
    assert error_of(r) == (400, "BadDigest")
    assert c.head(BUCKET, "a").status == 200


def test_delete_objects_limits(c):
    assert error_of(c.delete_objects(BUCKET, [f"k{i}" for i in range(1001)])) == (
        400, "MalformedXML")
    assert c.delete_objects(BUCKET, [f"k{i}" for i in range(1000)]).status == 200


@pytest.mark.parametrize("body", [
    b"<Delete>", b"<Delete></Delete>", b"<Delete><Object/></Delete>",
    b"<Other><Object><Key>a</Key></Object></Other>",
    b"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
    b'<!DOCTYPE x [<!ENTITY a "b">]><Delete><Object><Key>&a;</Key></Object></Delete>',
])
def test_delete_objects_malformed(c, body):
    r = c.request("POST", f"/{BUCKET}", query=[("delete", "")], body=body,
                  headers={"Content-MD5": content_md5(body)})
    assert error_of(r) == (400, "MalformedXML")


# ---------------------------------------------------------------------------
# ListObjectsV2


def keys_of(r) -> list[str]:
    return [e.findtext(NS + "Key") for e in r.xml().findall(NS + "Contents")]


def test_list_shape(c):
    c.put(BUCKET, "p/a", b"abc")
    r = c.list_v2(BUCKET, prefix="p/")
    assert r.status == 200 and r.header("Content-Type") == "application/xml"
    root = r.xml()
    assert root.tag == NS + "ListBucketResult"
    assert [root.findtext(NS + n) for n in ("Name", "Prefix", "KeyCount", "MaxKeys",
                                            "IsTruncated")] == [BUCKET, "p/", "1", "1000",
                                                                "false"]
    assert root.find(NS + "NextContinuationToken") is None
    (entry,) = root.findall(NS + "Contents")
    assert entry.findtext(NS + "Key") == "p/a"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                        entry.findtext(NS + "LastModified"))
    assert entry.findtext(NS + "ETag") == f'"{hashlib.md5(b"abc").hexdigest()}"'
    assert entry.findtext(NS + "Size") == "3"
    assert entry.findtext(NS + "StorageClass") == "STANDARD"
    assert b"<ETag>&quot;" in r.body  # escaped as S3 does: a parser must decode entities


def test_list_byte_order(c):
    names = ["+", "0", "0/x", "Z", "a", "\u00e4", "\u00e4b", "\U0001F600"]
    for n in reversed(names):
        c.put(BUCKET, "o/" + n, b"x")
    assert keys_of(c.list_v2(BUCKET, prefix="o/")) == ["o/" + n for n in names]


def test_list_pages(c):
    keys = [f"k/{i:03d}" for i in range(23)]
    for k in keys:
        c.put(BUCKET, k, b"x")
    c.put(BUCKET, "other", b"x")
    seen, token, pages = [], None, 0
    while True:
        params = {"prefix": "k/", "max_keys": "7"}
        if token:
            params["continuation_token"] = token
        root = c.list_v2(BUCKET, **params).xml()
        pages += 1
        seen += [e.findtext(NS + "Key") for e in root.findall(NS + "Contents")]
        if root.findtext(NS + "IsTruncated") == "false":
            assert root.find(NS + "NextContinuationToken") is None
            break
        assert root.findtext(NS + "KeyCount") == "7"
        if token:
            assert root.findtext(NS + "ContinuationToken") == token
        token = root.findtext(NS + "NextContinuationToken")
    assert (seen, pages) == (keys, 4)


def test_list_start_after(c):
    for k in "abcd":
        c.put(BUCKET, k, b"x")
    r = c.list_v2(BUCKET, start_after="b")
    assert keys_of(r) == ["c", "d"]
    assert r.xml().findtext(NS + "StartAfter") == "b"


def test_list_delimiter_and_url_encoding(c):
    for k in ("d/a b/1", "d/a b/2", "d/c", "d/e+f/g"):
        c.put(BUCKET, k, b"x")
    root = c.list_v2(BUCKET, prefix="d/", delimiter="/").xml()
    assert [e.findtext(NS + "Key") for e in root.findall(NS + "Contents")] == ["d/c"]
    assert [e.findtext(NS + "Prefix") for e in root.findall(NS + "CommonPrefixes")] == [
        "d/a b/", "d/e+f/"]
    assert root.findtext(NS + "KeyCount") == "3"
    root = c.list_v2(BUCKET, prefix="d/a b/", encoding_type="url").xml()
    assert [e.findtext(NS + "Key") for e in root.findall(NS + "Contents")] == [
        "d/a+b/1", "d/a+b/2"]
    assert root.findtext(NS + "EncodingType") == "url"


def test_list_max_keys_default_and_cap(c):
    for i in range(1003):
        assert c.put(BUCKET, f"m/{i:04d}", b"").status == 200
    for params in ({}, {"max_keys": "5000"}):
        root = c.list_v2(BUCKET, **params).xml()
        assert root.findtext(NS + "KeyCount") == "1000"
        assert root.findtext(NS + "IsTruncated") == "true"
    assert len(c.list_all_keys(BUCKET)) == 1003
    assert keys_of(c.list_v2(BUCKET, max_keys="0")) == []


@pytest.mark.parametrize("params", [{"max_keys": "-1"}, {"max_keys": "x"},
                                    {"continuation_token": "bm90LW91cnM="},
                                    {"continuation_token": "%%%"},
                                    {"encoding_type": "base64"}])
def test_list_bad_arguments(c, params):
    assert error_of(c.list_v2(BUCKET, **params)) == (400, "InvalidArgument")


# ---------------------------------------------------------------------------
# Multipart uploads


def start_upload(c, key: str) -> str:
    r = c.create_multipart(BUCKET, key)
    assert r.status == 200, r
    root = r.xml()
    assert root.tag == NS + "InitiateMultipartUploadResult"
    assert (root.findtext(NS + "Bucket"), root.findtext(NS + "Key")) == (BUCKET, key)
    return root.findtext(NS + "UploadId")


def upload_ids(c) -> list[str]:
    r = c.list_multipart(BUCKET)
    assert r.status == 200, r
    assert r.xml().tag == NS + "ListMultipartUploadsResult"
    return [u.findtext(NS + "UploadId") for u in r.xml().findall(NS + "Upload")]


def test_multipart_round_trip(c):
    key = "big/obj ä"
    uid = start_upload(c, key)
    assert upload_ids(c) == [uid]
    p1, p2, p3 = b"a" * (5 * MIB), b"b" * (5 * MIB), b"tail"
    etags = []
    for n, data in ((1, p1), (2, p2), (3, p3)):
        r = c.upload_part(BUCKET, key, uid, n, data)
        assert r.status == 200 and r.header("ETag") == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append(r.header("ETag"))
    # A part sent again replaces the first one.
    r = c.upload_part(BUCKET, key, uid, 3, b"TAIL")
    etags[2] = r.header("ETag")
    assert c.head(BUCKET, key).status == 404  # nothing visible before completion
    r = c.complete_multipart(BUCKET, key, uid, list(zip((1, 2, 3), etags)))
    assert r.status == 200, r
    root = r.xml()
    assert root.tag == NS + "CompleteMultipartUploadResult"
    want = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in etags)).hexdigest()
    assert root.findtext(NS + "ETag") == f'"{want}-3"'
    assert (root.findtext(NS + "Bucket"), root.findtext(NS + "Key")) == (BUCKET, key)
    assert root.findtext(NS + "Location") == \
        f"http://127.0.0.1:{c.port}/{BUCKET}/big/obj%20%C3%A4"
    g = c.get(BUCKET, key)
    assert g.body == p1 + p2 + b"TAIL" and g.header("ETag") == f'"{want}-3"'
    assert upload_ids(c) == []
    assert error_of(c.complete_multipart(BUCKET, key, uid, [(1, etags[0])])) == (
        404, "NoSuchUpload")


def test_multipart_single_small_part_is_fine(c):
    uid = start_upload(c, "one")
    e = c.upload_part(BUCKET, "one", uid, 1, b"small").header("ETag")
    assert c.complete_multipart(BUCKET, "one", uid, [(1, e)]).status == 200
    assert c.get(BUCKET, "one").body == b"small"


def test_multipart_part_checks(c):
    uid = start_upload(c, "k")
    assert error_of(c.upload_part(BUCKET, "k", "nope", 1, b"x")) == (404, "NoSuchUpload")
    assert error_of(c.upload_part(BUCKET, "other-key", uid, 1, b"x")) == (404, "NoSuchUpload")
    for n in (0, 10001):
        assert error_of(c.upload_part(BUCKET, "k", uid, n, b"x")) == (400, "InvalidArgument")
    r = c.upload_part(BUCKET, "k", uid, 1, b"x", headers={"Content-MD5": content_md5(b"y")})
    assert error_of(r) == (400, "BadDigest")
    r = c.upload_part(BUCKET, "k", uid, 1, b"x",
                      headers={"x-amz-checksum-crc32c": checksum_crc32c(b"y")})
    assert error_of(r) == (400, "BadDigest")


def test_multipart_complete_checks(c):
    uid = start_upload(c, "k")
    big = b"z" * (5 * MIB)
    e1 = c.upload_part(BUCKET, "k", uid, 1, b"small").header("ETag")
    e2 = c.upload_part(BUCKET, "k", uid, 2, b"last").header("ETag")
    r = c.complete_multipart(BUCKET, "k", uid, [(1, e1), (2, e2)])
    assert error_of(r) == (400, "EntityTooSmall")
    assert r.xml().findtext("PartNumber") == "1"
    e1 = c.upload_part(BUCKET, "k", uid, 1, big).header("ETag")
    assert error_of(c.complete_multipart(BUCKET, "k", uid, [(2, e2), (1, e1)])) == (
        400, "InvalidPartOrder")
    assert error_of(c.complete_multipart(BUCKET, "k", uid, [(1, e1), (1, e1)])) == (
        400, "InvalidPartOrder")
    assert error_of(c.complete_multipart(BUCKET, "k", uid, [(1, '"0000"'), (2, e2)])) == (
        400, "InvalidPart")
    assert error_of(c.complete_multipart(BUCKET, "k", uid, [(1, e1), (3, e2)])) == (
        400, "InvalidPart")
    for body in (b"<CompleteMultipartUpload/>", b"garbage",
                 b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part>"
                 b"</CompleteMultipartUpload>"):
        r = c.request("POST", f"/{BUCKET}/k", query=[("uploadId", uid)], body=body)
        assert error_of(r) == (400, "MalformedXML")
    # Quotes around ETags are optional, as in S3.
    r = c.complete_multipart(BUCKET, "k", uid, [(1, e1.strip('"')), (2, e2)])
    assert r.status == 200, r
    assert c.get(BUCKET, "k").body == big + b"last"


def test_multipart_complete_if_none_match(c):
    c.put(BUCKET, "k", b"existing")
    uid = start_upload(c, "k")
    e = c.upload_part(BUCKET, "k", uid, 1, b"new").header("ETag")
    r = c.complete_multipart(BUCKET, "k", uid, [(1, e)], headers={"If-None-Match": "*"})
    assert error_of(r) == (412, "PreconditionFailed")
    assert c.get(BUCKET, "k").body == b"existing"
    assert upload_ids(c) == [uid]  # still there to be aborted
    c.delete(BUCKET, "k")
    r = c.complete_multipart(BUCKET, "k", uid, [(1, e)], headers={"If-None-Match": "*"})
    assert r.status == 200
    assert c.get(BUCKET, "k").body == b"new"


def test_multipart_abort(server, c):
    uid = start_upload(c, "k")
    other = start_upload(c, "j")
    c.upload_part(BUCKET, "k", uid, 1, b"x")
    assert c.abort_multipart(BUCKET, "k", uid).status == 204
    assert upload_ids(c) == [other]
    assert error_of(c.abort_multipart(BUCKET, "k", uid)) == (404, "NoSuchUpload")
    assert error_of(c.upload_part(BUCKET, "k", uid, 2, b"x")) == (404, "NoSuchUpload")
    assert c.abort_multipart(BUCKET, "j", other).status == 204
    assert upload_ids(c) == []
    s = stats(server)
    assert (s["uploads"], s["parts"], s["objects"]) == (0, 0, 0)


# ---------------------------------------------------------------------------
# Robustness of the server itself


def test_malformed_request_line(server):
    reply = raw_http(server, b"GARBAGE\r\n\r\n")
    assert reply == b"" or b"<Error>" in reply  # HTTP/0.9-style junk gets at most a body
    reply = raw_http(server, b"GET /floe-test/k extra HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"<Code>BadRequest</Code>" in reply


def test_unsupported_method(server):
    reply = raw_http(server, b"PATCH /floe-test/k HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 501") and b"<Code>NotImplemented</Code>" in reply


@pytest.mark.parametrize("target", [b"/floe-test/%zz", b"/floe-test/%C3%28",
                                    b"/floe-test?prefix=%ff%fe"])
def test_bad_uri(server, target):
    reply = raw_http(server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b"<Code>InvalidURI</Code>" in reply


@pytest.mark.parametrize("headers,status", [
    (b"Content-Length: abc\r\n", b"400"),
    (b"Content-Length: 1\r\nContent-Length: 2\r\n", b"400"),
    (b"Transfer-Encoding: chunked\r\n", b"411"),
])
def test_bad_framing(server, headers, status):
    reply = raw_http(server, b"PUT /floe-test/k HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert reply.startswith(b"HTTP/1.1 " + status) and b"<Error>" in reply
    assert b"Connection: close" in reply


def test_client_gone_mid_body(server, c):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"PUT /floe-test/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    assert c.request("HEAD", f"/{BUCKET}").status == 200  # still serving


def test_keep_alive(server, c):
    c.put(BUCKET, "k", b"x")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/__health")
        r = conn.getresponse()
        assert r.status == 200 and not r.will_close
        r.read()
    sock = conn.sock
    conn.request("GET", "/floe-test/k")  # unsigned: an S3 error keeps the connection too
    r = conn.getresponse()
    assert r.status == 403 and not r.will_close
    r.read()
    conn.request("GET", "/__stats")
    conn.getresponse().read()
    assert conn.sock is sock
    conn.close()


# ---------------------------------------------------------------------------
# Control endpoints and statistics


def test_health_and_stats(server, c):
    assert control(server, "GET", "/__health") == (200, {"status": "ok"})
    c.put(BUCKET, "a", b"12345")
    c.put(BUCKET, "b", b"678")
    c.get(BUCKET, "a")
    c.get(BUCKET, "missing")
    c.head(BUCKET, "a")
    c.delete(BUCKET, "b")
    c.list_v2(BUCKET)
    c.put(BUCKET, "x", b"x", signature="0" * 64)
    s = stats(server)
    assert s["operations"] == {"PutObject": 3, "GetObject": 2, "HeadObject": 1,
                               "DeleteObject": 1, "ListObjectsV2": 1}
    assert s["errors"] == {"NoSuchKey": 1, "SignatureDoesNotMatch": 1}
    assert (s["objects"], s["bytes"], s["faults_injected"]) == (1, 5, 0)
    assert control(server, "POST", "/__reset") == (200, {"reset": True})
    s = stats(server)
    assert (s["operations"], s["objects"], s["bytes"]) == ({}, 0, 0)


@pytest.mark.parametrize("rule", [
    {"status": 500, "bogus": 1}, {"status": 500, "reset": True}, {}, {"count": 2},
    {"status": 500, "rate": 1.5}, {"status": 500, "count": 0}, {"status": "500"},
    {"status": 500, "methods": "PUT"}, {"status": 500, "methods": [1]},
    {"clear": True, "status": 500}, [1, 2],
])
def test_bad_fault_rules(server, c, rule):
    status, reply = control(server, "POST", "/__fault", rule)
    assert status == 400 and reply["error"]
    assert control(server, "GET", "/__fault")[1]["rules"] == []


def test_unknown_control_path(server):
    assert control(server, "GET", "/__nope")[0] == 404


# ---------------------------------------------------------------------------
# Fault injection


def test_fault_status_count_and_methods(server, c):
    fault(server, status=503, code="SlowDown", count=2, methods=["PUT"])
    assert c.get(BUCKET, "k").status == 404  # not matched: GET
    for _ in range(2):
        r = c.put(BUCKET, "k", b"x")
        assert error_of(r) == (503, "SlowDown")
        assert "fault injected" in r.xml().findtext("Message")
    assert c.head(BUCKET, "k").status == 404  # the failed PUTs stored nothing
    assert c.put(BUCKET, "k", b"x").status == 200
    assert control(server, "GET", "/__fault")[1]["rules"] == []  # used up
    assert stats(server)["faults_injected"] == 2


def test_fault_default_code(server, c):
    fault(server, status=500)
    assert error_of(c.get(BUCKET, "k")) == (500, "InternalError")


def test_fault_rate_is_seeded(server, c):
    def pattern() -> list[int]:
        control(server, "POST", "/__fault", {"clear": True})
        fault(server, rate=0.5, seed=7, status=500, code="InternalError", methods=["PUT"])
        return [c.put(BUCKET, f"k{i}", b"x").status for i in range(40)]

    first = pattern()
    assert set(first) == {200, 500}
    assert pattern() == first
    control(server, "POST", "/__fault", {"clear": True})
    assert c.put(BUCKET, "after", b"x").status == 200


def test_fault_rate_with_count(server, c):
    fault(server, rate=1.0, count=3, status=500)
    assert [c.head(BUCKET, "k").status for _ in range(5)] == [500, 500, 500, 404, 404]


def test_fault_operations_and_key_prefix(server, c):
    c.put(BUCKET, "wal/1", b"x")
    c.put(BUCKET, "meta/1", b"x")
    fault(server, status=500, operations=["GetObject"], key_prefix="wal/", count=10)
    assert c.head(BUCKET, "wal/1").status == 200  # HeadObject: not matched
    assert c.get(BUCKET, "meta/1").status == 200  # other prefix
    assert c.get(BUCKET, "wal/1").status == 500


def test_fault_rules_apply_in_order_and_list(server, c):
    first = fault(server, status=500, count=1)
    second = fault(server, status=503, count=1)
    rules = control(server, "GET", "/__fault")[1]["rules"]
    assert [r["id"] for r in rules] == [first, second]
    assert [c.head(BUCKET, "k").status for _ in range(3)] == [500, 503, 404]


def test_fault_clear(server, c):
    fault(server, status=500, count=100)
    assert control(server, "POST", "/__fault", {"clear": True}) == (200, {"cleared": True})
    assert c.head(BUCKET, "k").status == 404


def test_fault_reset(server, c):
    fault(server, reset=True, count=1, methods=["PUT"])
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        c.put(BUCKET, "k", b"x")
    assert c.head(BUCKET, "k").status == 404  # dropped before the write
    assert c.put(BUCKET, "k", b"x").status == 200  # on a new connection


def test_fault_reset_sends_rst(server):
    fault(server, reset=True, count=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /floe-test/k HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(1024)


def test_fault_close(server, c):
    fault(server, close=True, count=1)
    with pytest.raises(http.client.RemoteDisconnected):
        c.put(BUCKET, "k", b"x")
    assert c.head(BUCKET, "k").status == 404


def test_fault_delay(server, c):
    # The reply comes later than this client waits; the write still happens.
    fault(server, delay_ms=1000, count=1, methods=["PUT"])
    slow = S3Client("127.0.0.1", server.port, AK, SK, timeout=0.2)
    with pytest.raises(TimeoutError):
        slow.put(BUCKET, "k", b"x")
    slow.close()
    deadline = time.monotonic() + 10
    while c.head(BUCKET, "k").status != 200:
        assert time.monotonic() < deadline, "the delayed PUT never landed"
        time.sleep(0.05)


def test_fault_delay_only_then_normal_answer(server, c):
    fault(server, delay_ms=50, count=1)
    assert c.put(BUCKET, "k", b"x").status == 200
    assert stats(server)["faults_injected"] == 1


def test_fault_after_write_status(server, c):
    fault(server, after_write=True, status=500, count=1, methods=["PUT"])
    assert error_of(c.put(BUCKET, "k", b"stored")) == (500, "InternalError")
    assert c.get(BUCKET, "k").body == b"stored"  # the response was lost, not the write


def test_fault_after_write_reset(server, c):
    fault(server, after_write=True, reset=True, count=1, operations=["PutObject"])
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        c.put(BUCKET, "k", b"stored")
    assert c.get(BUCKET, "k").body == b"stored"


def test_fault_after_write_on_conditional_put(server, c):
    # A retry of a conditional PUT whose answer was lost sees 412 for its own write.
    fault(server, after_write=True, status=503, count=1, methods=["PUT"])
    assert c.put(BUCKET, "k", b"v", headers={"If-None-Match": "*"}).status == 503
    assert error_of(c.put(BUCKET, "k", b"v", headers={"If-None-Match": "*"})) == (
        412, "PreconditionFailed")


def test_fault_truncate(server, c):
    c.put(BUCKET, "k", b"0123456789" * 100)
    fault(server, truncate=True, count=1, operations=["GetObject"])
    with pytest.raises(http.client.IncompleteRead):
        c.get(BUCKET, "k")
    assert c.get(BUCKET, "k").body == b"0123456789" * 100


def test_fault_corrupt(server, c):
    data = os.urandom(1000)
    c.put(BUCKET, "k", data)
    fault(server, corrupt=True, count=1, operations=["GetObject"])
    r = c.get(BUCKET, "k")
    assert r.status == 200 and len(r.body) == len(data)
    assert sum(a != b for a, b in zip(r.body, data)) == 1
    assert c.get(BUCKET, "k").body == data


def test_fault_200_with_error_body(server, c):
    # S3 may answer CompleteMultipartUpload with 200 and an <Error> document.
    uid = start_upload(c, "k")
    e = c.upload_part(BUCKET, "k", uid, 1, b"x").header("ETag")
    fault(server, status=200, code="InternalError", count=1,
          operations=["CompleteMultipartUpload"])
    r = c.complete_multipart(BUCKET, "k", uid, [(1, e)])
    assert error_of(r) == (200, "InternalError")
    assert c.complete_multipart(BUCKET, "k", uid, [(1, e)]).status == 200
