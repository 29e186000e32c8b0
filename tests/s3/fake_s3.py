#!/usr/bin/env python3
"""A strict, in-memory fake of the S3 API for floe's tests (stdlib only).

    fake_s3.py --port 0 --bucket NAME [--access-key K --secret-key S] [--region us-east-1]
               [--session-token T] --port-file PATH

Binds 127.0.0.1 (port 0: the kernel picks one) and writes the bound port to
--port-file once it accepts connections. Path-style addressing only (/BUCKET/KEY),
one bucket. Stricter than s3rver where floe's correctness depends on it: every
request must carry a valid SigV4 header signature, payload hashes, Content-MD5 and
x-amz-checksum-* values are checked, conditional writes are atomic, listings are in
byte order with opaque continuation tokens, multipart uploads are validated as S3
does. Anything it does not implement answers 501 NotImplemented rather than
something approximate.

Control endpoints, outside the S3 namespace (bucket names cannot start with "_"),
without a signature:
    GET  /__health   200 "ok" once serving
    GET  /__stats    JSON: requests per operation, errors per code, objects, bytes, ...
    POST /__fault    JSON rule (see FaultRule) -> {"id": N}; {"clear": true} drops all
    GET  /__fault    JSON list of the active rules
    POST /__reset    forgets every object, upload, statistic and rule

Output: nothing on stdout; stderr only for errors (a test shows it when it fails).
SIGTERM or SIGINT stops it with exit code 0.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import datetime as dt
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from typing import Callable

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_SKEW_S = 15 * 60
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_KEYS = 1000
MAX_DELETE_KEYS = 1000
MAX_KEY_BYTES = 1024
# In memory, so far below S3's 5 GiB; no test needs more.
MAX_BODY_BYTES = 1024 * 1024 * 1024
TOKEN_MAGIC = b"fake-s3:v1:"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


# ---------------------------------------------------------------------------
# Errors


class S3Error(Exception):
    """An S3 error reply: status, Code, Message and extra elements of <Error>."""

    def __init__(self, status: int, code: str, message: str,
                 extra: dict[str, object] | None = None,
                 headers: dict[str, str] | None = None, close: bool = False) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}
        self.close = close  # the request body may be unread: the connection must end


def not_implemented(what: str) -> S3Error:
    return S3Error(501, "NotImplemented",
                   f"A header or parameter you provided implies functionality that is not "
                   f"implemented: {what}")


def malformed_xml() -> S3Error:
    return S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema")


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(404, "NoSuchUpload", "The specified upload does not exist. The upload ID "
                   "may be invalid, or the upload may have been aborted or completed.",
                   {"UploadId": upload_id})


# ---------------------------------------------------------------------------
# Checksums


def _make_crc32c_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


CRC32C_TABLE = _make_crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli, reflected), table-driven, one byte at a time."""
    crc ^= 0xFFFFFFFF
    table = CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# x-amz-checksum-<name> -> (digest of the body, name S3 prints in messages)
CHECKSUMS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "crc32": (lambda d: zlib.crc32(d).to_bytes(4, "big"), "CRC32"),
    "crc32c": (lambda d: crc32c(d).to_bytes(4, "big"), "CRC32C"),
    "sha1": (lambda d: hashlib.sha1(d).digest(), "SHA1"),
    "sha256": (lambda d: hashlib.sha256(d).digest(), "SHA256"),
}
# x-amz-checksum-* request headers that are not a checksum value.
CHECKSUM_NON_VALUES = {"x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"}


def b64_strict(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_content_md5(headers, body: bytes) -> bool:
    """Checks Content-MD5 if present; returns whether it was present."""
    value = headers.get("Content-MD5")
    if value is None:
        return False
    digest = b64_strict(value)
    if digest is None or len(digest) != 16:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.",
                      {"Content-MD5": value})
    if digest != hashlib.md5(body).digest():
        raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we "
                      "received.", {"ExpectedDigest": value,
                                    "CalculatedDigest": base64.b64encode(
                                        hashlib.md5(body).digest()).decode()})
    return True


def verify_checksums(headers, body: bytes) -> dict[str, str]:
    """Checks the x-amz-checksum-<algo> header; returns {header name: value} to echo."""
    found = {}
    for name in {k.lower() for k in headers.keys()}:
        if name.startswith("x-amz-checksum-") and name not in CHECKSUM_NON_VALUES:
            found[name] = headers.get(name)
    if not found:
        return {}
    if len(found) > 1:
        raise S3Error(400, "InvalidRequest", "Expecting a single x-amz-checksum- header. "
                      "Multiple checksum Types are not allowed.")
    name, value = next(iter(found.items()))
    algo = name[len("x-amz-checksum-"):]
    if algo not in CHECKSUMS:
        raise not_implemented(f"checksum algorithm {algo}")
    fn, label = CHECKSUMS[algo]
    expected = fn(body)
    given = b64_strict(value)
    if given is None or len(given) != len(expected):
        raise S3Error(400, "InvalidRequest", f"Value for {name} header is invalid.")
    if given != expected:
        raise S3Error(400, "BadDigest", f"The {label} you specified did not match the "
                      f"calculated checksum.")
    return {name: value.strip()}


# ---------------------------------------------------------------------------
# SigV4

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def uri_encode(data: bytes, keep_slash: bool) -> str:
    out = []
    for b in data:
        if b in _UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def percent_decode(raw: str, plus_is_space: bool = False) -> bytes:
    """Strict percent-decoding of a request-target piece (latin-1 str as http.server gives)."""
    data = raw.encode("latin-1")
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x25:  # '%'
            pair = data[i + 1:i + 3]
            if len(pair) != 2 or not all(c in b"0123456789abcdefABCDEF" for c in pair):
                raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.")
            out.append(int(pair, 16))
            i += 3
        elif b == 0x2B and plus_is_space:
            out.append(0x20)
            i += 1
        else:
            out.append(b)
            i += 1
    return bytes(out)


def canonical_uri(raw_path: str) -> str:
    """The path as sent, with escapes normalised: S3 does not double-encode or collapse.

    Each byte is written once, percent-encoded unless unreserved; a literal '/' stays a
    separator and an encoded %2F stays encoded, so a well-encoded path maps to itself
    and a raw '$' becomes %24 as in AWS's documented PUT example.
    """
    data = raw_path.encode("latin-1")
    out = []
    i = 0
    while i < len(data):
        if data[i] == 0x25:
            b = int(data[i + 1:i + 3], 16)  # validated by percent_decode before
            i += 3
            out.append(chr(b) if b in _UNRESERVED else "%%%02X" % b)
        else:
            b = data[i]
            i += 1
            out.append(chr(b) if b in _UNRESERVED or b == 0x2F else "%%%02X" % b)
    return "".join(out)


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        try:
            pairs.append((percent_decode(name, True).decode("utf-8"),
                          percent_decode(value, True).decode("utf-8")))
        except UnicodeDecodeError:
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.") from None
    return pairs


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    enc = sorted((uri_encode(k.encode(), False), uri_encode(v.encode(), False))
                 for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def canonical_header_value(values: list[str]) -> str:
    return ",".join(" ".join(v.split()) for v in values)


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sigv4(secret: str, method: str, raw_path: str, query: list[tuple[str, str]],
          header_values: dict[str, list[str]], signed_headers: str, payload_hash: str,
          amz_date: str, region: str) -> tuple[str, str, str]:
    """Returns (signature, canonical request, string to sign).

    header_values maps lower-case names to every value sent under that name.
    """
    names = signed_headers.split(";")
    canon_headers = "".join(f"{n}:{canonical_header_value(header_values.get(n, []))}\n"
                            for n in sorted(names))
    creq = "\n".join([method, canonical_uri(raw_path), canonical_query(query), canon_headers,
                      signed_headers, payload_hash])
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(secret, amz_date[:8], region), sts.encode(),
                   hashlib.sha256).hexdigest()
    return sig, creq, sts


# ---------------------------------------------------------------------------
# State


@dataclass
class Config:
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    session_token: str | None = None


@dataclass
class StoredObject:
    data: bytes
    etag: str  # quoted, as S3 sends it
    last_modified: float
    content_type: str
    metadata: dict[str, str]
    checksums: dict[str, str]


@dataclass
class Upload:
    key: str
    upload_id: str
    initiated: float
    content_type: str
    metadata: dict[str, str]
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # n -> (data, etag)


class Store:
    """Objects, uploads and counters; everything under one lock (operations are short)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, StoredObject] = {}  # REQUIRES: lock
        self.uploads: dict[str, Upload] = {}  # REQUIRES: lock
        self.requests: collections.Counter[str] = collections.Counter()  # REQUIRES: lock
        self.errors: collections.Counter[str] = collections.Counter()  # REQUIRES: lock
        self.faults_injected = 0  # REQUIRES: lock

    def reset(self) -> None:
        with self.lock:
            self.objects.clear()
            self.uploads.clear()
            self.requests.clear()
            self.errors.clear()
            self.faults_injected = 0

    def stats(self) -> dict[str, object]:
        with self.lock:
            return {
                "operations": dict(self.requests),
                "errors": dict(self.errors),
                "faults_injected": self.faults_injected,
                "objects": len(self.objects),
                "bytes": sum(len(o.data) for o in self.objects.values()),
                "uploads": len(self.uploads),
                "parts": sum(len(u.parts) for u in self.uploads.values()),
            }


# ---------------------------------------------------------------------------
# Fault injection

_FAULT_FIELDS = {"status", "code", "message", "count", "rate", "seed", "methods", "operations",
                 "key_prefix", "reset", "close", "delay_ms", "after_write", "truncate",
                 "corrupt"}
_DEFAULT_CODES = {400: "BadRequest", 403: "AccessDenied", 404: "NoSuchKey", 409:
                  "OperationAborted", 412: "PreconditionFailed", 500: "InternalError",
                  503: "SlowDown"}


class FaultRule:
    """One rule of POST /__fault.

    Matching: `methods` (HTTP methods), `operations` (PutObject, ...), `key_prefix`; all
    optional. Firing: the next `count` matches (default 1), or with `rate` a seeded
    share of the matches (then `count` caps the firings; no cap by default).
    What a firing does, in order: the operation runs first if `after_write` (or
    `truncate`/`corrupt`, which need its reply); then `delay_ms` of sleep; then one of
    `status` (+ `code`, `message`: an S3 error reply, any status including 200),
    `reset` (TCP RST, no answer), `close` (FIN, no answer), `truncate` (headers and half
    the body, then FIN), `corrupt` (one body byte flipped). A rule with only
    `delay_ms` just slows the matching requests down.
    """

    def __init__(self, rule_id: int, spec: dict) -> None:
        unknown = set(spec) - _FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        self.id = rule_id
        self.spec = spec
        self.status = _opt(spec, "status", int)
        self.code = _opt(spec, "code", str)
        self.message = _opt(spec, "message", str)
        self.rate = _opt(spec, "rate", (int, float))
        self.methods = {m.upper() for m in _str_list(spec, "methods")}
        self.operations = set(_str_list(spec, "operations"))
        self.key_prefix = _opt(spec, "key_prefix", str)
        self.reset = bool(_opt(spec, "reset", bool))
        self.close = bool(_opt(spec, "close", bool))
        self.truncate = bool(_opt(spec, "truncate", bool))
        self.corrupt = bool(_opt(spec, "corrupt", bool))
        self.after_write = bool(_opt(spec, "after_write", bool)) or self.truncate or self.corrupt
        self.delay_ms = _opt(spec, "delay_ms", int) or 0
        count = _opt(spec, "count", int)
        self.remaining = count if count is not None else (None if self.rate is not None else 1)
        self.rng = random.Random(_opt(spec, "seed", int) or 0)
        self.fired = 0
        actions = [self.status is not None, self.reset, self.close, self.truncate, self.corrupt]
        if sum(actions) > 1:
            raise ValueError("status, reset, close, truncate and corrupt exclude each other")
        if sum(actions) == 0 and not self.delay_ms:
            raise ValueError("a rule needs status, reset, close, truncate, corrupt or delay_ms")
        if self.status is not None and not 200 <= self.status <= 599:
            raise ValueError("status must be 200..599")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise ValueError("rate must be in (0, 1]")
        if self.remaining is not None and self.remaining < 1:
            raise ValueError("count must be >= 1")
        if self.code is None and self.status is not None:
            self.code = _DEFAULT_CODES.get(self.status, "InternalError")

    def matches(self, method: str, operation: str, key: str) -> bool:
        return ((not self.methods or method in self.methods)
                and (not self.operations or operation in self.operations)
                and (self.key_prefix is None or key.startswith(self.key_prefix)))

    def describe(self) -> dict:
        return {"id": self.id, "rule": self.spec, "remaining": self.remaining,
                "fired": self.fired}


def _opt(spec: dict, name: str, kind):
    value = spec.get(name)
    if value is not None and (not isinstance(value, kind) or
                              (kind is int and isinstance(value, bool))):
        raise ValueError(f"{name} has the wrong type")
    return value


def _str_list(spec: dict, name: str) -> list[str]:
    value = _opt(spec, name, list) or []
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return value


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []  # REQUIRES: _lock
        self._next_id = 1  # REQUIRES: _lock

    def add(self, spec: dict) -> int:
        with self._lock:
            rule = FaultRule(self._next_id, spec)
            self._next_id += 1
            self._rules.append(rule)
            return rule.id

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict]:
        with self._lock:
            return [r.describe() for r in self._rules]

    def pick(self, method: str, operation: str, key: str) -> FaultRule | None:
        """The first matching rule that fires for this request; uses up one of its count."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, operation, key):
                    continue
                if rule.rate is not None and rule.rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                return rule
        return None


# ---------------------------------------------------------------------------
# XML and formatting


def xesc(s: str) -> str:
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: "&#x%X;" % ord(m.group()), s)


def elem(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{xesc(str(value))}</{name}>"


def xml_doc(root: str, inner: str, ns: bool = True) -> bytes:
    attr = f' xmlns="{XMLNS}"' if ns else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{attr}>{inner}</{root}>').encode()


def iso8601(t: float) -> str:
    ms = int(t * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}Z"


def http_date(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def parse_xml(body: bytes, root_name: str) -> ET.Element:
    """Parses a request document; tags come back without the S3 namespace."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise malformed_xml()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml() from None
    for el in root.iter():
        if el.tag.startswith("{"):
            ns, _, local = el.tag[1:].partition("}")
            if ns != XMLNS:
                raise malformed_xml()
            el.tag = local
    if root.tag != root_name:
        raise malformed_xml()
    return root


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive), or None to ignore the header as HTTP says for bad syntax."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        if last and int(last) < start:
            return None
        if start >= size:
            raise S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                          {"RangeRequested": value, "ActualObjectSize": size},
                          {"Content-Range": f"bytes */{size}"})
        end = min(int(last), size - 1) if last else size - 1
        return start, end
    n = int(last)
    if n == 0 or size == 0:
        raise S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                      {"RangeRequested": value, "ActualObjectSize": size},
                      {"Content-Range": f"bytes */{size}"})
    return max(0, size - n), size - 1


def quote_etag(md5_hex: str) -> str:
    return f'"{md5_hex}"'


def etag_matches(header: str, etag: str) -> bool:
    wanted = {v.strip() for v in header.split(",")}
    return "*" in wanted or etag in wanted or etag.strip('"') in wanted


# ---------------------------------------------------------------------------
# Requests


# Which query parameters each operation understands; any other one is NotImplemented.
OPERATION_PARAMS = {
    "HeadBucket": set(),
    "ListObjectsV2": {"list-type", "prefix", "max-keys", "continuation-token", "start-after",
                      "delimiter", "encoding-type", "fetch-owner"},
    "ListMultipartUploads": {"uploads", "prefix"},
    "DeleteObjects": {"delete"},
    "PutObject": set(),
    "GetObject": set(),
    "HeadObject": set(),
    "DeleteObject": set(),
    "CreateMultipartUpload": {"uploads"},
    "UploadPart": {"partNumber", "uploadId"},
    "CompleteMultipartUpload": {"uploadId"},
    "AbortMultipartUpload": {"uploadId"},
}
COMMON_PARAMS = {"x-id"}  # the AWS SDKs add x-id=Operation


def classify(method: str, bucket: str, key: str, names: set[str], headers) -> str:
    if not bucket:
        return "ListBuckets"
    if not key:
        if method == "HEAD":
            return "HeadBucket"
        if method == "GET" and "list-type" in names:
            return "ListObjectsV2"
        if method == "GET" and "uploads" in names:
            return "ListMultipartUploads"
        if method == "GET" and not names & {"acl", "cors", "location", "lifecycle", "policy",
                                             "tagging", "versioning", "versions", "website"}:
            return "ListObjects"
        if method == "POST" and "delete" in names:
            return "DeleteObjects"
        return "Unknown"
    copy = "x-amz-copy-source" in headers
    if method == "PUT":
        if "uploadId" in names or "partNumber" in names:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "GET":
        return "ListParts" if "uploadId" in names else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in names else "DeleteObject"
    if method == "POST":
        if "uploads" in names:
            return "CreateMultipartUpload"
        if "uploadId" in names:
            return "CompleteMultipartUpload"
    return "Unknown"


@dataclass
class Request:
    method: str
    raw_path: str
    query: list[tuple[str, str]]
    bucket: str
    key: str
    operation: str
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return default


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: int | None = None  # HEAD: the length GET would send
    error_code: str | None = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"
    sys_version = ""
    timeout = 300  # an idle keep-alive connection is dropped after this
    server: "FakeS3Server"

    # -- http.server hooks ----------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; with Nagle on, the second one would wait
        # for the client's delayed ACK (~40 ms) on every reply with a body.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        pass  # one line per request would drown the errors

    def log_error(self, format: str, *args) -> None:  # noqa: A002
        sys.stderr.write(f"fake_s3: {self.address_string()}: {format % args}\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """http.server's own rejections (bad request line, unknown method, ...) as S3 XML."""
        s3code = {400: "BadRequest", 408: "RequestTimeout", 414: "RequestURITooLong",
                  431: "RequestHeaderSectionTooLarge", 501: "NotImplemented",
                  505: "HttpVersionNotSupported"}.get(code, "InternalError")
        self.close_connection = True
        err = S3Error(code, s3code, message or self.responses.get(code, ("",))[0])
        try:
            self._send(self._error_reply(err), head=False)
        except OSError:
            pass

    # -- dispatch -------------------------------------------------------------

    def _dispatch(self) -> None:
        self._response_started = False
        try:
            raw_path, _, raw_query = self.path.partition("?")
            if raw_path.startswith("/__"):
                self._control(raw_path)
                return
            self._s3(raw_path, raw_query)
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except Exception:  # the server must answer and live on whatever a request does
            sys.stderr.write(f"fake_s3: internal error on {self.command} {self.path}\n"
                             f"{traceback.format_exc()}")
            self.close_connection = True
            if not self._response_started:
                err = S3Error(500, "InternalError", "We encountered an internal error. "
                              "Please try again.")
                try:
                    self._send(self._error_reply(err), head=self.command == "HEAD")
                except OSError:
                    pass

    def _s3(self, raw_path: str, raw_query: str) -> None:
        head = self.command == "HEAD"
        store = self.server.store
        try:
            body = self._read_body()
            req = self._parse(raw_path, raw_query, body)
        except S3Error as e:
            self.close_connection = self.close_connection or e.close
            with store.lock:
                store.requests["Invalid"] += 1
            self._send(self._error_reply(e), head)
            return
        with store.lock:
            store.requests[req.operation] += 1
        rule = self.server.faults.pick(self.command, req.operation, req.key)
        if rule is not None:
            with store.lock:
                store.faults_injected += 1
            if not rule.after_write:
                self._sleep(rule)
                if self._fault_answers(rule, None, head):
                    return
        try:
            reply = self._execute(req)
        except S3Error as e:
            reply = self._error_reply(e)
        if rule is not None and rule.after_write:
            self._sleep(rule)
            if self._fault_answers(rule, reply, head):
                return
        self._send(reply, head)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") is not None:
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length "
                          "HTTP header (chunked transfer encoding is not supported).",
                          close=True)
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(lengths) > 1 or not lengths[0].strip().isdigit():
            raise S3Error(400, "InvalidArgument", "Invalid Content-Length.", close=True)
        n = int(lengths[0])
        if n > MAX_BODY_BYTES:
            raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum "
                          "allowed size", {"ProposedSize": n, "MaxSizeAllowed": MAX_BODY_BYTES},
                          close=True)
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionAbortedError("client closed the connection inside the body")
        return data

    def _parse(self, raw_path: str, raw_query: str, body: bytes) -> Request:
        if not raw_path.startswith("/"):
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.", close=True)
        query = parse_query(raw_query)
        try:
            path = percent_decode(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise S3Error(400, "InvalidURI", "Couldn't parse the specified URI.") from None
        bucket, _, key = path[1:].partition("/")
        names = {k for k, _ in query}
        op = classify(self.command, bucket, key, names, self.headers)
        return Request(self.command, raw_path, query, bucket, key, op, body)

    def _execute(self, req: Request) -> Reply:
        self._authenticate(req)
        if req.operation not in OPERATION_PARAMS:
            raise not_implemented(f"operation {req.operation} ({req.method} "
                                  f"{'bucket' if not req.key else 'object'} with "
                                  f"{sorted({k for k, _ in req.query}) or 'no parameters'})")
        if req.bucket != self.server.config.bucket:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist",
                          {"BucketName": req.bucket})
        allowed = OPERATION_PARAMS[req.operation] | COMMON_PARAMS
        for name, _ in req.query:
            if name not in allowed:
                raise not_implemented(f"parameter {name!r} on {req.operation}")
        if len(req.key.encode()) > MAX_KEY_BYTES:
            raise S3Error(400, "KeyTooLongError", "Your key is too long",
                          {"MaxSizeAllowed": MAX_KEY_BYTES, "Size": len(req.key.encode())})
        return getattr(self, "_op_" + req.operation)(req)

    # -- authentication -------------------------------------------------------

    def _authenticate(self, req: Request) -> None:
        cfg = self.server.config
        if any(k in ("X-Amz-Algorithm", "X-Amz-Signature", "X-Amz-Credential")
               for k, _ in req.query):
            raise not_implemented("query-string (presigned) authentication")
        auth = self.headers.get("Authorization")
        if auth is None:
            raise S3Error(403, "AccessDenied", "Access Denied")
        algorithm, _, rest = auth.strip().partition(" ")
        if algorithm != "AWS4-HMAC-SHA256":
            raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type",
                          {"ArgumentName": "Authorization", "ArgumentValue": auth})
        parts = {}
        for comp in rest.split(","):
            name, sep, value = comp.strip().partition("=")
            if not sep or name in parts:
                raise S3Error(400, "AuthorizationHeaderMalformed",
                              "The authorization header is malformed; the authorization "
                              "component is malformed.")
            parts[name] = value
        if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; the authorization header requires three components: "
                          "Credential, SignedHeaders, and Signature.")
        cred = parts["Credential"].split("/")
        if len(cred) != 5:
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; the Credential is mal-formed; expecting "
                          "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        access_key, cred_date, region, service, terminal = cred
        if access_key != cfg.access_key:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                          "not exist in our records.", {"AWSAccessKeyId": access_key})
        amz_date = self.headers.get("X-Amz-Date")
        try:
            t = dt.datetime.strptime(amz_date or "", _AMZ_DATE).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or "
                          "x-amz-date header") from None
        if cred_date != amz_date[:8]:
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; Invalid credential date. Date is not the same as "
                          "X-Amz-Date.")
        if region != cfg.region:
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is "
                          f"malformed; the region '{region}' is wrong; expecting "
                          f"'{cfg.region}'", {"Region": cfg.region})
        if service != "s3" or terminal != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; incorrect service or terminator in the Credential.")
        now = time.time()
        if abs(now - t.timestamp()) > MAX_SKEW_S:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request "
                          "time and the current time is too large.",
                          {"RequestTime": amz_date,
                           "ServerTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                           "MaxAllowedSkewMilliseconds": MAX_SKEW_S * 1000})
        signed = parts["SignedHeaders"]
        signed_set = set(signed.split(";"))
        if "host" not in signed_set:
            raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                          "malformed; 'Host' must be a 'SignedHeader' in the AWS "
                          "Authorization.")
        present = {k.lower() for k in self.headers.keys()}
        unsigned = sorted(h for h in present if h.startswith("x-amz-") and h not in signed_set)
        if unsigned:
            raise S3Error(403, "AccessDenied", "There were headers present in the request "
                          "which were not signed", {"HeadersNotSigned": ", ".join(unsigned)})
        token = self.headers.get("X-Amz-Security-Token")
        if token != cfg.session_token:
            raise S3Error(403, "InvalidToken", "The provided token is malformed or otherwise "
                          "invalid.")
        payload_hash = self.headers.get("X-Amz-Content-SHA256")
        if payload_hash is None:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        if payload_hash.startswith("STREAMING-"):
            raise not_implemented(f"x-amz-content-sha256: {payload_hash}")
        if payload_hash != UNSIGNED_PAYLOAD and not _HEX64.fullmatch(payload_hash):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be "
                          "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid "
                          "sha256 value.", {"ArgumentName": "x-amz-content-sha256",
                                            "ArgumentValue": payload_hash})
        values: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            values.setdefault(name.lower(), []).append(value)
        sig, creq, sts = sigv4(cfg.secret_key, req.method, req.raw_path, req.query, values,
                               signed, payload_hash, amz_date, region)
        if not hmac.compare_digest(sig.encode(), parts["Signature"].encode("latin-1", "replace")):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                          "does not match the signature you provided. Check your key and "
                          "signing method.",
                          {"AWSAccessKeyId": access_key, "StringToSign": sts,
                           "SignatureProvided": parts["Signature"], "CanonicalRequest": creq})
        if payload_hash != UNSIGNED_PAYLOAD:
            actual = hashlib.sha256(req.body).hexdigest()
            if payload_hash.lower() != actual:
                raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided "
                              "'x-amz-content-sha256' header does not match what was "
                              "computed.", {"ClientComputedContentSHA256": payload_hash,
                                            "S3ComputedContentSHA256": actual})

    # -- bucket operations ----------------------------------------------------

    def _op_HeadBucket(self, req: Request) -> Reply:
        return Reply(200, {"x-amz-bucket-region": self.server.config.region})

    def _op_ListObjectsV2(self, req: Request) -> Reply:
        if req.param("list-type") != "2":
            raise not_implemented(f"list-type={req.param('list-type')}")
        prefix = req.param("prefix", "")
        delimiter = req.param("delimiter", "")
        encoding = req.param("encoding-type")
        if encoding is not None and encoding != "url":
            raise S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in "
                          "Request", {"ArgumentName": "encoding-type",
                                      "ArgumentValue": encoding})
        raw_max = req.param("max-keys")
        if raw_max is None:
            max_keys = MAX_KEYS
        elif raw_max.isdigit() and int(raw_max) <= 2**31 - 1:
            max_keys = min(int(raw_max), MAX_KEYS)
        else:
            raise S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within "
                          "integer range", {"ArgumentName": "max-keys",
                                            "ArgumentValue": raw_max})
        token = req.param("continuation-token")
        start_after = req.param("start-after")
        if token is not None:
            decoded = b64_strict(token)
            if decoded is None or not decoded.startswith(TOKEN_MAGIC):
                raise S3Error(400, "InvalidArgument", "The continuation token provided is "
                              "incorrect", {"ArgumentName": "continuation-token"})
            try:
                start = decoded[len(TOKEN_MAGIC):].decode("utf-8")
            except UnicodeDecodeError:
                raise S3Error(400, "InvalidArgument", "The continuation token provided is "
                              "incorrect", {"ArgumentName": "continuation-token"}) from None
        else:
            start = start_after or ""
        start_b = start.encode()
        with self.server.store.lock:
            snapshot = sorted(((k.encode(), o) for k, o in self.server.store.objects.items()
                               if k.startswith(prefix)), key=lambda e: e[0])
        entries: list[tuple[str, StoredObject | None]] = []  # (key or common prefix, object)
        truncated = False
        seen_prefixes: set[str] = set()
        for kb, obj in snapshot:
            if kb <= start_b:
                continue
            key = kb.decode()
            name, entry_obj = key, obj
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx >= 0:
                    name, entry_obj = key[:idx + len(delimiter)], None
                    if name in seen_prefixes or name.encode() <= start_b:
                        continue
                    seen_prefixes.add(name)
            if len(entries) == max_keys:
                truncated = max_keys > 0
                break
            entries.append((name, entry_obj))

        def enc(s: str) -> str:
            return urllib.parse.quote_plus(s, safe="/") if encoding else s

        out = [elem("Name", req.bucket), elem("Prefix", enc(prefix))]
        if token is not None:
            out.append(elem("ContinuationToken", token))
        if truncated:
            nxt = base64.b64encode(TOKEN_MAGIC + entries[-1][0].encode()).decode()
            out.append(elem("NextContinuationToken", nxt))
        if start_after is not None and token is None:
            out.append(elem("StartAfter", enc(start_after)))
        out.append(elem("KeyCount", len(entries)))
        out.append(elem("MaxKeys", max_keys))
        if delimiter:
            out.append(elem("Delimiter", enc(delimiter)))
        if encoding:
            out.append(elem("EncodingType", encoding))
        out.append(elem("IsTruncated", truncated))
        for name, obj in entries:
            if obj is not None:
                out.append("<Contents>" + elem("Key", enc(name))
                           + elem("LastModified", iso8601(obj.last_modified))
                           + elem("ETag", obj.etag) + elem("Size", len(obj.data))
                           + elem("StorageClass", "STANDARD") + "</Contents>")
        for name, obj in entries:
            if obj is None:
                out.append("<CommonPrefixes>" + elem("Prefix", enc(name)) + "</CommonPrefixes>")
        return self._xml_reply(xml_doc("ListBucketResult", "".join(out)))

    def _op_ListMultipartUploads(self, req: Request) -> Reply:
        prefix = req.param("prefix", "")
        with self.server.store.lock:
            uploads = sorted((u for u in self.server.store.uploads.values()
                              if u.key.startswith(prefix)),
                             key=lambda u: (u.key.encode(), u.initiated))
        out = [elem("Bucket", req.bucket), elem("KeyMarker", ""), elem("UploadIdMarker", ""),
               elem("NextKeyMarker", ""), elem("NextUploadIdMarker", ""),
               elem("Prefix", prefix), elem("MaxUploads", 1000), elem("IsTruncated", False)]
        for u in uploads:
            out.append("<Upload>" + elem("Key", u.key) + elem("UploadId", u.upload_id)
                       + elem("Initiated", iso8601(u.initiated))
                       + elem("StorageClass", "STANDARD") + "</Upload>")
        return self._xml_reply(xml_doc("ListMultipartUploadsResult", "".join(out)))

    def _op_DeleteObjects(self, req: Request) -> Reply:
        has_md5 = verify_content_md5(self.headers, req.body)
        has_checksum = bool(verify_checksums(self.headers, req.body))
        if not has_md5 and not has_checksum:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "Content-MD5")
        root = parse_xml(req.body, "Delete")
        quiet = False
        keys: list[str] = []
        for child in root:
            if child.tag == "Quiet":
                text = (child.text or "").strip()
                if text not in ("true", "false"):
                    raise malformed_xml()
                quiet = text == "true"
            elif child.tag == "Object":
                key_el = child.find("Key")
                if key_el is None or child.find("VersionId") is not None:
                    raise malformed_xml() if key_el is None else not_implemented("VersionId")
                keys.append(key_el.text or "")
            else:
                raise malformed_xml()
        if not keys or len(keys) > MAX_DELETE_KEYS:
            raise malformed_xml()
        with self.server.store.lock:
            for key in keys:
                self.server.store.objects.pop(key, None)
        inner = "" if quiet else "".join(f"<Deleted>{elem('Key', k)}</Deleted>" for k in keys)
        return self._xml_reply(xml_doc("DeleteResult", inner))

    # -- object operations ----------------------------------------------------

    def _object_meta(self) -> tuple[str, dict[str, str]]:
        ctype = self.headers.get("Content-Type") or "binary/octet-stream"
        meta = {k.lower(): v.strip() for k, v in self.headers.items()
                if k.lower().startswith("x-amz-meta-")}
        return ctype, meta

    def _require_length(self) -> None:
        if self.headers.get("Content-Length") is None:
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length "
                          "HTTP header.")

    def _if_none_match_star(self) -> bool:
        value = self.headers.get("If-None-Match")
        if value is None:
            return False
        if value.strip() != "*":
            raise not_implemented("If-None-Match other than * on a write")
        return True

    def _op_PutObject(self, req: Request) -> Reply:
        self._require_length()
        verify_content_md5(self.headers, req.body)
        checksums = verify_checksums(self.headers, req.body)
        if_none_match = self._if_none_match_star()
        if_match = self.headers.get("If-Match")
        ctype, meta = self._object_meta()
        etag = quote_etag(hashlib.md5(req.body).hexdigest())
        store = self.server.store
        with store.lock:
            existing = store.objects.get(req.key)
            if if_none_match and existing is not None:
                raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions "
                              "you specified did not hold", {"Condition": "If-None-Match"})
            if if_match is not None:
                if existing is None:
                    raise S3Error(404, "NoSuchKey", "The specified key does not exist.",
                                  {"Key": req.key})
                if not etag_matches(if_match, existing.etag):
                    raise S3Error(412, "PreconditionFailed", "At least one of the "
                                  "pre-conditions you specified did not hold",
                                  {"Condition": "If-Match"})
            store.objects[req.key] = StoredObject(req.body, etag, time.time(), ctype, meta,
                                                  checksums)
        return Reply(200, {"ETag": etag, **checksums})

    def _object_reply(self, req: Request, head: bool) -> Reply:
        with self.server.store.lock:
            obj = self.server.store.objects.get(req.key)
        if obj is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.",
                          {"Key": req.key})
        if_match = self.headers.get("If-Match")
        if if_match is not None and not etag_matches(if_match, obj.etag):
            raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", {"Condition": "If-Match"})
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None and etag_matches(if_none_match, obj.etag):
            return Reply(304, {"ETag": obj.etag,
                               "Last-Modified": http_date(obj.last_modified)})
        headers = {"Content-Type": obj.content_type, "ETag": obj.etag,
                   "Last-Modified": http_date(obj.last_modified), "Accept-Ranges": "bytes",
                   **obj.metadata}
        size = len(obj.data)
        rng = self.headers.get("Range")
        span = parse_range(rng, size) if rng is not None else None
        if span is None:
            if (self.headers.get("x-amz-checksum-mode") or "").upper() == "ENABLED":
                headers.update(obj.checksums)
            body, status = obj.data, 200
        else:
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            body, status = obj.data[start:end + 1], 206
        if head:
            return Reply(status, headers, b"", content_length=len(body))
        return Reply(status, headers, body)

    def _op_GetObject(self, req: Request) -> Reply:
        return self._object_reply(req, head=False)

    def _op_HeadObject(self, req: Request) -> Reply:
        return self._object_reply(req, head=True)

    def _op_DeleteObject(self, req: Request) -> Reply:
        with self.server.store.lock:
            self.server.store.objects.pop(req.key, None)
        return Reply(204)

    def _op_CreateMultipartUpload(self, req: Request) -> Reply:
        ctype, meta = self._object_meta()
        upload = Upload(req.key, secrets.token_urlsafe(48), time.time(), ctype, meta)
        with self.server.store.lock:
            self.server.store.uploads[upload.upload_id] = upload
        inner = (elem("Bucket", req.bucket) + elem("Key", req.key)
                 + elem("UploadId", upload.upload_id))
        return self._xml_reply(xml_doc("InitiateMultipartUploadResult", inner))

    def _upload(self, req: Request) -> Upload:
        # REQUIRES: store.lock
        upload_id = req.param("uploadId", "")
        upload = self.server.store.uploads.get(upload_id)
        if upload is None or upload.key != req.key:
            raise no_such_upload(upload_id)
        return upload

    def _op_UploadPart(self, req: Request) -> Reply:
        raw = req.param("partNumber")
        if raw is None or not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 "
                          "and 10000, inclusive", {"ArgumentName": "partNumber",
                                                   "ArgumentValue": raw or ""})
        if req.param("uploadId") is None:
            raise S3Error(400, "InvalidRequest", "uploadId is required with partNumber")
        self._require_length()
        verify_content_md5(self.headers, req.body)
        checksums = verify_checksums(self.headers, req.body)
        etag = quote_etag(hashlib.md5(req.body).hexdigest())
        with self.server.store.lock:
            self._upload(req).parts[int(raw)] = (req.body, etag)
        return Reply(200, {"ETag": etag, **checksums})

    def _op_CompleteMultipartUpload(self, req: Request) -> Reply:
        upload_id = req.param("uploadId", "")
        with self.server.store.lock:
            self._upload(req)  # NoSuchUpload comes before any complaint about the body
        root = parse_xml(req.body, "CompleteMultipartUpload")
        listed: list[tuple[int, str]] = []
        for child in root:
            if child.tag != "Part":
                raise malformed_xml()
            number, etag = child.findtext("PartNumber"), child.findtext("ETag")
            if number is None or etag is None or not number.strip().isdigit():
                raise malformed_xml()
            listed.append((int(number), etag.strip()))
        if not listed:
            raise malformed_xml()
        for (a, _), (b, _) in zip(listed, listed[1:]):
            if b <= a:
                raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending "
                              "order. Parts must be ordered by part number.",
                              {"UploadId": upload_id})
        if_none_match = self._if_none_match_star()
        store = self.server.store
        with store.lock:
            upload = self._upload(req)
            datas = []
            for i, (number, etag) in enumerate(listed):
                part = upload.parts.get(number)
                if part is None or part[1].strip('"') != etag.strip('"'):
                    raise S3Error(400, "InvalidPart", "One or more of the specified parts could "
                                  "not be found. The part may not have been uploaded, or the "
                                  "specified entity tag may not have matched the part's entity "
                                  "tag.", {"UploadId": upload_id, "PartNumber": number,
                                           "ETag": etag})
                if i < len(listed) - 1 and len(part[0]) < MIN_PART_SIZE:
                    raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than "
                                  "the minimum allowed object size.",
                                  {"ProposedSize": len(part[0]), "MinSizeAllowed": MIN_PART_SIZE,
                                   "PartNumber": number, "ETag": etag})
                datas.append(part)
            if if_none_match and req.key in store.objects:
                raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions "
                              "you specified did not hold", {"Condition": "If-None-Match"})
            digest = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for _, e in datas))
            final_etag = f'"{digest.hexdigest()}-{len(datas)}"'
            store.objects[req.key] = StoredObject(b"".join(d for d, _ in datas), final_etag,
                                                  time.time(), upload.content_type,
                                                  upload.metadata, {})
            del store.uploads[upload_id]
        host = self.headers.get("Host", "")
        location = f"http://{host}/{uri_encode(req.bucket.encode(), True)}/" \
                   f"{uri_encode(req.key.encode(), True)}"
        inner = (elem("Location", location) + elem("Bucket", req.bucket) + elem("Key", req.key)
                 + elem("ETag", final_etag))
        return self._xml_reply(xml_doc("CompleteMultipartUploadResult", inner))

    def _op_AbortMultipartUpload(self, req: Request) -> Reply:
        with self.server.store.lock:
            upload = self._upload(req)
            del self.server.store.uploads[upload.upload_id]
        return Reply(204)

    # -- replies ----------------------------------------------------------------

    def _xml_reply(self, body: bytes, status: int = 200) -> Reply:
        return Reply(status, {"Content-Type": "application/xml"}, body)

    def _error_reply(self, e: S3Error) -> Reply:
        extra = "".join(elem(k, v) for k, v in e.extra.items())
        inner = (elem("Code", e.code) + elem("Message", e.message) + extra
                 + elem("RequestId", secrets.token_hex(8).upper())
                 + elem("HostId", base64.b64encode(secrets.token_bytes(24)).decode()))
        if e.close:
            self.close_connection = True
        return Reply(e.status, {"Content-Type": "application/xml", **e.headers},
                     xml_doc("Error", inner, ns=False), error_code=e.code)

    def _send(self, reply: Reply, head: bool, truncate: bool = False) -> None:
        if reply.error_code is not None:
            with self.server.store.lock:
                self.server.store.errors[reply.error_code] += 1
        self._response_started = True
        self.send_response(reply.status)
        self.send_header("x-amz-request-id", secrets.token_hex(8).upper())
        for name, value in reply.headers.items():
            self.send_header(name, value)
        body = b"" if head else reply.body
        length = reply.content_length if reply.content_length is not None else len(reply.body)
        if reply.status != 304 and not (reply.status == 204 and not body):
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if truncate:
            body = body[:len(body) // 2]
            self.close_connection = True
        if body:
            self.wfile.write(body)

    # -- faults -----------------------------------------------------------------

    def _sleep(self, rule: FaultRule) -> None:
        if rule.delay_ms:
            time.sleep(rule.delay_ms / 1000)

    def _fault_answers(self, rule: FaultRule, reply: Reply | None, head: bool) -> bool:
        """Applies the rule's action; True when the request has been dealt with."""
        if rule.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            # The descriptor really closes when http.server drops its file objects, before
            # it would send a FIN, so the client sees only the RST.
            self.connection.close()
            self.close_connection = True
            return True
        if rule.close:
            self.close_connection = True
            return True
        if rule.status is not None:
            err = S3Error(rule.status, rule.code or "InternalError",
                          rule.message or f"fault injected by fake_s3 rule {rule.id}")
            self._send(self._error_reply(err), head)
            return True
        if reply is not None and rule.truncate:
            self._send(reply, head, truncate=True)
            return True
        if reply is not None and rule.corrupt and reply.body:
            body = bytearray(reply.body)
            body[len(body) // 2] ^= 0x01
            reply.body = bytes(body)
        return False

    # -- control endpoints ------------------------------------------------------

    def _control(self, path: str) -> None:
        try:
            body = self._read_body()
        except S3Error as e:
            self.close_connection = True
            self._json(400, {"error": e.message})
            return
        route = (self.command, path)
        if route == ("GET", "/__health"):
            self._json(200, {"status": "ok"})
        elif route == ("GET", "/__stats"):
            self._json(200, self.server.store.stats())
        elif route == ("GET", "/__fault"):
            self._json(200, {"rules": self.server.faults.describe()})
        elif route == ("POST", "/__reset"):
            self.server.store.reset()
            self.server.faults.clear()
            self._json(200, {"reset": True})
        elif route == ("POST", "/__fault"):
            try:
                spec = json.loads(body or b"null")
                if not isinstance(spec, dict):
                    raise ValueError("the body must be a JSON object")
                if spec.get("clear") is True:
                    if len(spec) != 1:
                        raise ValueError("clear takes no other field")
                    self.server.faults.clear()
                    self._json(200, {"cleared": True})
                    return
                rule_id = self.server.faults.add(spec)
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                self._json(400, {"error": str(e)})
                return
            self._json(200, {"id": rule_id})
        else:
            self._json(404, {"error": f"no control endpoint {self.command} {path}"})

    def _json(self, status: int, obj: object) -> None:
        data = json.dumps(obj, sort_keys=True).encode()
        self._response_started = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class FakeS3Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], config: Config) -> None:
        self.config = config
        self.store = Store()
        self.faults = Faults()
        super().__init__(address, Handler)

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return  # a client that went away is not the server's error
        sys.stderr.write(f"fake_s3: error serving {client_address}\n{traceback.format_exc()}")


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)  # a reader never sees a half-written file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Strict in-memory fake S3 server for tests.")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--access-key", default="AKIDFLOETEST")
    ap.add_argument("--secret-key", default="floe-test-secret")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--session-token", default=None,
                    help="require this X-Amz-Security-Token (signed) on every request")
    ap.add_argument("--port-file", help="written with the bound port once listening")
    args = ap.parse_args(argv)

    config = Config(args.bucket, args.access_key, args.secret_key, args.region,
                    args.session_token)
    server = FakeS3Server(("127.0.0.1", args.port), config)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if args.port_file:
            write_port_file(args.port_file, server.server_address[1])
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
