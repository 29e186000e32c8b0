"""A tiny S3 client for the tests of the test servers: path-style, SigV4 header auth.

Written apart from fake_s3.py's verifier on purpose: the tests sign with this and the
fake verifies with its own code, so a shared misreading of the spec cannot hide (the
AWS documented examples pin both to the spec). Every knob a test needs to send a
wrong request is a parameter: the date, the payload hash, extra unsigned headers,
the signed-header list, a signature to send instead of the computed one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def quote(s: str, safe: str = "") -> str:
    """RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return urllib.parse.quote(s, safe="-_.~" + safe)


def amz_date(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def sign(secret: str, method: str, canonical_uri: str, query: Sequence[tuple[str, str]],
         headers: Mapping[str, str], signed: Sequence[str], payload_hash: str,
         date: str, region: str) -> tuple[str, str]:
    """Returns (signature, canonical request); `headers` keys are lower case."""
    cq = "&".join(f"{k}={v}" for k, v in sorted((quote(k), quote(v)) for k, v in query))
    ch = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    creq = "\n".join([method, canonical_uri, cq, ch, ";".join(signed), payload_hash])
    scope = f"{date[:8]}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), creq


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    def error_code(self) -> str | None:
        if not self.body:
            return None
        root = self.xml()
        return root.findtext("Code") if root.tag == "Error" else None

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:300]!r})"


@dataclass
class S3Client:
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    session_token: str | None = None
    timeout: float = 10.0
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, access_key: str, secret_key: str, **kw) -> "S3Client":
        u = urllib.parse.urlsplit(url)
        return cls(u.hostname, u.port, access_key, secret_key, **kw)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, query: Iterable[tuple[str, str]] = (),
                headers: Mapping[str, str] | None = None, body: bytes = b"", *,
                payload_hash: str | None = None, date: dt.datetime | None = None,
                unsigned_headers: Mapping[str, str] | None = None,
                signed_headers: Sequence[str] | None = None,
                signature: str | None = None, region: str | None = None,
                access_key: str | None = None, sign_request: bool = True,
                raw_target: str | None = None) -> Response:
        """`path` is unencoded ("/bucket/key with spaces"); the client encodes it once."""
        query = list(query)
        canonical_uri = quote(path, safe="/")
        target = canonical_uri
        if query:
            target += "?" + "&".join(f"{quote(k)}={quote(v)}" if v != "" else quote(k)
                                     for k, v in query)
        if raw_target is not None:
            target = raw_target
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        hdrs["host"] = f"{self.host}:{self.port}"
        if sign_request:
            t = date or dt.datetime.now(dt.timezone.utc)
            d = amz_date(t)
            ph = payload_hash if payload_hash is not None else hashlib.sha256(body).hexdigest()
            hdrs["x-amz-date"] = d
            hdrs["x-amz-content-sha256"] = ph
            if self.session_token is not None:
                hdrs["x-amz-security-token"] = self.session_token
            signed = list(signed_headers) if signed_headers is not None else sorted(hdrs)
            reg = region or self.region
            sig, _ = sign(self.secret_key, method, canonical_uri, query, hdrs, signed, ph, d, reg)
            hdrs["authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={access_key or self.access_key}/{d[:8]}/{reg}"
                f"/s3/aws4_request, SignedHeaders={';'.join(signed)}, "
                f"Signature={signature or sig}")
        hdrs.update({k.lower(): v for k, v in (unsigned_headers or {}).items()})
        return self.send(method, target, hdrs, body)

    def send(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Sends as is, on the kept-alive connection (a new one if the last was closed)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn = self._conn
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            if body or method in ("PUT", "POST"):
                if "content-length" not in headers:
                    conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        if r.will_close:
            self.close()
        return Response(r.status, r.headers, data)

    # -- operations, for brevity in tests -------------------------------------

    def put(self, bucket: str, key: str, body: bytes, headers: Mapping[str, str] | None = None,
            **kw) -> Response:
        return self.request("PUT", f"/{bucket}/{key}", headers=headers, body=body, **kw)

    def get(self, bucket: str, key: str, headers: Mapping[str, str] | None = None,
            **kw) -> Response:
        return self.request("GET", f"/{bucket}/{key}", headers=headers, **kw)

    def head(self, bucket: str, key: str, **kw) -> Response:
        return self.request("HEAD", f"/{bucket}/{key}", **kw)

    def delete(self, bucket: str, key: str, **kw) -> Response:
        return self.request("DELETE", f"/{bucket}/{key}", **kw)

    def list_v2(self, bucket: str, **params: str) -> Response:
        q = [("list-type", "2")] + [(k.replace("_", "-"), str(v)) for k, v in params.items()]
        return self.request("GET", f"/{bucket}", query=q)

    def list_all_keys(self, bucket: str, prefix: str = "", page: int = 1000) -> list[str]:
        keys: list[str] = []
        token = None
        while True:
            params = {"prefix": prefix, "max_keys": str(page)}
            if token:
                params["continuation_token"] = token
            r = self.list_v2(bucket, **params)
            assert r.status == 200, r
            root = strip_ns(r.xml())
            keys += [c.findtext("Key") for c in root.findall("Contents")]
            if root.findtext("IsTruncated") != "true":
                return keys
            token = root.findtext("NextContinuationToken")

    def delete_objects(self, bucket: str, keys: Sequence[str], quiet: bool = False,
                       md5: bool = True, **kw) -> Response:
        body = delete_xml(keys, quiet)
        headers = {"Content-MD5": content_md5(body)} if md5 else {}
        return self.request("POST", f"/{bucket}", query=[("delete", "")], headers=headers,
                            body=body, **kw)

    def create_multipart(self, bucket: str, key: str, **kw) -> Response:
        return self.request("POST", f"/{bucket}/{key}", query=[("uploads", "")], **kw)

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes,
                    **kw) -> Response:
        return self.request("PUT", f"/{bucket}/{key}",
                            query=[("partNumber", str(number)), ("uploadId", upload_id)],
                            body=body, **kw)

    def complete_multipart(self, bucket: str, key: str, upload_id: str,
                           parts: Sequence[tuple[int, str]],
                           headers: Mapping[str, str] | None = None, **kw) -> Response:
        return self.request("POST", f"/{bucket}/{key}", query=[("uploadId", upload_id)],
                            headers=headers, body=complete_xml(parts), **kw)

    def abort_multipart(self, bucket: str, key: str, upload_id: str, **kw) -> Response:
        return self.request("DELETE", f"/{bucket}/{key}", query=[("uploadId", upload_id)], **kw)

    def list_multipart(self, bucket: str, **kw) -> Response:
        return self.request("GET", f"/{bucket}", query=[("uploads", "")], **kw)


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def delete_xml(keys: Sequence[str], quiet: bool = False) -> bytes:
    objs = "".join(f"<Object><Key>{xml_escape(k)}</Key></Object>" for k in keys)
    q = "<Quiet>true</Quiet>" if quiet else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{q}{objs}</Delete>'
            ).encode()


def complete_xml(parts: Sequence[tuple[int, str]]) -> bytes:
    ps = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{xml_escape(e)}</ETag></Part>"
                 for n, e in parts)
    return f"<CompleteMultipartUpload>{ps}</CompleteMultipartUpload>".encode()


def strip_ns(root: ET.Element) -> ET.Element:
    """Drops namespaces from every tag, for code that reads servers with a wrong xmlns."""
    for el in root.iter():
        if el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def find_all(root: ET.Element, path: str) -> list[ET.Element]:
    """findall with or without the S3 namespace on every step."""
    return root.findall("/".join(NS + p for p in path.split("/"))) or root.findall(path)


def find_text(root: ET.Element, path: str) -> str | None:
    els = find_all(root, path)
    return els[0].text if els else None


_CRC32C_TABLE: list[int] = []


def crc32c(data: bytes) -> int:
    """Bitwise-built table; a second implementation beside fake_s3's for the tests."""
    if not _CRC32C_TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC32C_TABLE.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def checksum_crc32c(data: bytes) -> str:
    return base64.b64encode(crc32c(data).to_bytes(4, "big")).decode()

