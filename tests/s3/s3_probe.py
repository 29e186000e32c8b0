#!/usr/bin/env python3
"""Checks an S3 endpoint against the S3 behaviour floe relies on; prints a table.

    python3 tests/s3/s3_servers.py -- python3 tests/s3/s3_probe.py

With no arguments it probes both servers that s3_servers.py started (from the
FLOE_TEST_* variables). Each check uses its own key prefix, so they can run in any
order on a shared bucket. The README's list of s3rver's gaps is this table's FAIL
rows, and test_s3_servers.py keeps the two in step (KNOWN_S3RVER_GAPS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import os
import sys
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from s3_client import (S3Client, checksum_crc32c, content_md5, delete_xml,  # noqa: E402
                       strip_ns)

MIB = 1024 * 1024


class CheckFailed(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def expect_error(r, status: int, code: str) -> None:
    got_code = None
    try:
        got_code = r.error_code()
    except Exception:  # a body that is no XML is a failure to report, not to raise
        pass
    expect(r.status == status and got_code == code,
           f"expected {status} {code}, got {r.status} {got_code or r.body[:120]!r}")


def upload_id(r) -> str:
    expect(r.status == 200, f"CreateMultipartUpload: {r.status} {r.body[:200]!r}")
    uid = strip_ns(r.xml()).findtext("UploadId")
    expect(bool(uid), "no UploadId")
    return uid


class Probe:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.c = client
        self.b = bucket
        self.run_id = uuid.uuid4().hex[:8]

    def key(self, name: str, suffix: str = "") -> str:
        return f"probe-{self.run_id}/{name}/{suffix}"

    # -- authentication -------------------------------------------------------

    def check_rejects_wrong_signature(self, k):
        expect_error(self.c.put(self.b, k, b"x", signature="0" * 64), 403,
                     "SignatureDoesNotMatch")

    def check_rejects_unknown_access_key(self, k):
        expect_error(self.c.put(self.b, k, b"x", access_key="AKIDUNKNOWN"), 403,
                     "InvalidAccessKeyId")

    def check_rejects_skewed_time(self, k):
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
        expect_error(self.c.put(self.b, k, b"x", date=old), 403, "RequestTimeTooSkewed")

    def check_rejects_anonymous(self, k):
        expect_error(self.c.request("PUT", f"/{self.b}/{k}", body=b"x", sign_request=False),
                     403, "AccessDenied")

    def check_checks_payload_sha256(self, k):
        r = self.c.put(self.b, k, b"x", payload_hash=hashlib.sha256(b"y").hexdigest())
        expect_error(r, 400, "XAmzContentSHA256Mismatch")

    # -- PutObject ------------------------------------------------------------

    def check_checks_content_md5(self, k):
        r = self.c.put(self.b, k, b"data", headers={"Content-MD5": content_md5(b"other")})
        expect_error(r, 400, "BadDigest")
        expect(self.c.head(self.b, k).status == 404, "the object was stored anyway")

    def check_checks_crc32c(self, k):
        good = self.c.put(self.b, k + "ok", b"data",
                          headers={"x-amz-checksum-crc32c": checksum_crc32c(b"data")})
        expect(good.status == 200, f"correct checksum refused: {good.status}")
        r = self.c.put(self.b, k, b"data",
                       headers={"x-amz-checksum-crc32c": checksum_crc32c(b"other")})
        expect_error(r, 400, "BadDigest")
        expect(self.c.head(self.b, k).status == 404, "the object was stored anyway")

    def check_put_if_none_match(self, k):
        first = self.c.put(self.b, k, b"first", headers={"If-None-Match": "*"})
        expect(first.status == 200, f"first conditional PUT: {first.status}")
        r = self.c.put(self.b, k, b"second", headers={"If-None-Match": "*"})
        expect_error(r, 412, "PreconditionFailed")
        expect(self.c.get(self.b, k).body == b"first", "the object was overwritten")

    def check_etag_is_quoted_md5(self, k):
        r = self.c.put(self.b, k, b"hello")
        expect(r.header("ETag") == f'"{hashlib.md5(b"hello").hexdigest()}"',
               f"ETag {r.header('ETag')}")

    # -- GetObject, HeadObject, DeleteObject ----------------------------------

    def check_get_range(self, k):
        self.c.put(self.b, k, b"0123456789")
        r = self.c.get(self.b, k, headers={"Range": "bytes=2-5"})
        expect(r.status == 206 and r.body == b"2345", f"{r.status} {r.body!r}")
        expect(r.header("Content-Range") == "bytes 2-5/10",
               f"Content-Range {r.header('Content-Range')}")

    def check_get_range_clamped_end(self, k):
        self.c.put(self.b, k, b"0123456789")
        r = self.c.get(self.b, k, headers={"Range": "bytes=7-100"})
        expect(r.status == 206 and r.body == b"789", f"{r.status} {r.body!r}")

    def check_get_suffix_range(self, k):
        self.c.put(self.b, k, b"0123456789")
        r = self.c.get(self.b, k, headers={"Range": "bytes=-3"})
        expect(r.status == 206 and r.body == b"789", f"{r.status} {r.body!r}")

    def check_get_range_at_end_is_416(self, k):
        self.c.put(self.b, k, b"0123456789")
        expect_error(self.c.get(self.b, k, headers={"Range": "bytes=10-"}), 416,
                     "InvalidRange")

    def check_get_range_of_empty_object_is_416(self, k):
        self.c.put(self.b, k, b"")
        expect_error(self.c.get(self.b, k, headers={"Range": "bytes=0-"}), 416,
                     "InvalidRange")

    def check_get_missing_is_404(self, k):
        expect_error(self.c.get(self.b, k), 404, "NoSuchKey")

    def check_head_missing_is_404(self, k):
        r = self.c.head(self.b, k)
        expect(r.status == 404 and r.body == b"", f"{r.status} {r.body!r}")

    def check_delete_missing_is_204(self, k):
        r = self.c.delete(self.b, k)
        expect(r.status == 204, f"{r.status}")

    def check_other_bucket_is_404(self, k):
        expect_error(self.c.get(self.b + "-nope", k), 404, "NoSuchBucket")

    # -- ListObjectsV2 --------------------------------------------------------

    def _list(self, **params):
        r = self.c.list_v2(self.b, **params)
        expect(r.status == 200, f"ListObjectsV2: {r.status} {r.body[:200]!r}")
        return r

    def check_list_xml_namespace(self, k):
        self.c.put(self.b, k, b"x")
        root = self._list(prefix=k).xml()
        expect(root.tag == "{http://s3.amazonaws.com/doc/2006-03-01/}ListBucketResult",
               f"root element {root.tag}")

    def check_list_pages_with_continuation_token(self, k):
        keys = [f"{k}{i:02d}" for i in range(7)]
        for key in keys:
            self.c.put(self.b, key, b"x")
        try:
            got = self.c.list_all_keys(self.b, prefix=k, page=2)
        except (AssertionError, http.client.HTTPException) as e:
            raise CheckFailed(f"paging failed: {e}") from None
        expect(got == keys, f"got {got}")

    def check_list_byte_order(self, k):
        names = ["+", "0", "0/x", "Z", "a", "\u00e4"]  # '+' < '0' < '0/x' < 'Z' < 'a' < 'ä'
        for n in reversed(names):
            self.c.put(self.b, k + n, b"x")
        root = strip_ns(self._list(prefix=k).xml())
        got = [c.findtext("Key")[len(k):] for c in root.findall("Contents")]
        expect(got == names, f"got {got}")

    def check_list_pages_keep_every_key(self, k):
        # s3rver walks directories, so a key that is also a "directory" gets lost on paging.
        names = ["0", "0/x", "1", "2"]
        for n in names:
            self.c.put(self.b, k + n, b"x")
        try:
            got = self.c.list_all_keys(self.b, prefix=k, page=1)
        except (AssertionError, http.client.HTTPException) as e:
            raise CheckFailed(f"paging failed: {e}") from None
        expect(sorted(got) == sorted(k + n for n in names), f"got {got}")

    def check_list_start_after(self, k):
        for n in "abcd":
            self.c.put(self.b, k + n, b"x")
        root = strip_ns(self._list(prefix=k, start_after=k + "b").xml())
        got = [c.findtext("Key")[len(k):] for c in root.findall("Contents")]
        expect(got == ["c", "d"], f"got {got}")

    def check_list_last_modified_has_milliseconds(self, k):
        self.c.put(self.b, k, b"x")
        root = strip_ns(self._list(prefix=k).xml())
        lm = root.find("Contents").findtext("LastModified")
        try:
            dt.datetime.strptime(lm, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            raise CheckFailed(f"LastModified {lm}") from None

    # -- DeleteObjects --------------------------------------------------------

    def check_delete_objects(self, k):
        self.c.put(self.b, k + "a", b"x")
        r = self.c.delete_objects(self.b, [k + "a", k + "missing"])
        expect(r.status == 200, f"{r.status} {r.body[:200]!r}")
        deleted = [d.findtext("Key") for d in strip_ns(r.xml()).findall("Deleted")]
        expect(deleted == [k + "a", k + "missing"], f"Deleted {deleted}")
        expect(self.c.head(self.b, k + "a").status == 404, "not deleted")

    def check_delete_objects_requires_content_md5(self, k):
        self.c.put(self.b, k, b"x")
        r = self.c.delete_objects(self.b, [k], md5=False)
        expect_error(r, 400, "InvalidRequest")
        expect(self.c.head(self.b, k).status == 200, "deleted anyway")

    def check_delete_objects_checks_content_md5(self, k):
        self.c.put(self.b, k, b"x")
        r = self.c.request("POST", f"/{self.b}", query=[("delete", "")],
                           headers={"Content-MD5": content_md5(b"other")}, body=delete_xml([k]))
        expect_error(r, 400, "BadDigest")

    def check_delete_objects_quiet(self, k):
        self.c.put(self.b, k, b"x")
        r = self.c.delete_objects(self.b, [k], quiet=True)
        expect(r.status == 200, f"{r.status}")
        expect(strip_ns(r.xml()).findall("Deleted") == [], "Deleted entries in quiet mode")

    def check_delete_objects_limit_1000(self, k):
        r = self.c.delete_objects(self.b, [f"{k}{i}" for i in range(1001)])
        expect_error(r, 400, "MalformedXML")

    # -- multipart ------------------------------------------------------------

    def _two_parts(self, k, small_first: bool = False):
        uid = upload_id(self.c.create_multipart(self.b, k))
        first = b"a" * (100 if small_first else 5 * MIB)
        r1 = self.c.upload_part(self.b, k, uid, 1, first)
        r2 = self.c.upload_part(self.b, k, uid, 2, b"tail")
        expect(r1.status == 200 and r2.status == 200, f"UploadPart {r1.status} {r2.status}")
        return uid, [(1, r1.header("ETag")), (2, r2.header("ETag"))], first + b"tail"

    def check_multipart_round_trip(self, k):
        uid, parts, data = self._two_parts(k)
        r = self.c.complete_multipart(self.b, k, uid, parts)
        expect(r.status == 200 and strip_ns(r.xml()).tag == "CompleteMultipartUploadResult",
               f"{r.status} {r.body[:200]!r}")
        expect(self.c.get(self.b, k).body == data, "content differs")

    def check_multipart_etag_has_part_count(self, k):
        uid, parts, _ = self._two_parts(k)
        r = self.c.complete_multipart(self.b, k, uid, parts)
        etag = strip_ns(r.xml()).findtext("ETag") if r.status == 200 else None
        md5s = b"".join(bytes.fromhex(e.strip('"')) for _, e in parts)
        want = f'"{hashlib.md5(md5s).hexdigest()}-2"'
        expect(etag == want, f"ETag {etag}, want {want}")

    def check_multipart_result_xml_namespace(self, k):
        r = self.c.create_multipart(self.b, k)
        expect(r.xml().tag ==
               "{http://s3.amazonaws.com/doc/2006-03-01/}InitiateMultipartUploadResult",
               f"root element {r.xml().tag}")

    def check_multipart_rejects_wrong_etag(self, k):
        uid, parts, _ = self._two_parts(k)
        r = self.c.complete_multipart(self.b, k, uid, [(1, '"0000"'), parts[1]])
        expect_error(r, 400, "InvalidPart")

    def check_multipart_rejects_part_order(self, k):
        uid, parts, _ = self._two_parts(k)
        expect_error(self.c.complete_multipart(self.b, k, uid, parts[::-1]), 400,
                     "InvalidPartOrder")

    def check_multipart_rejects_small_part(self, k):
        uid, parts, _ = self._two_parts(k, small_first=True)
        expect_error(self.c.complete_multipart(self.b, k, uid, parts), 400, "EntityTooSmall")

    def check_multipart_unknown_upload_is_404(self, k):
        expect_error(self.c.upload_part(self.b, k, "no-such-upload", 1, b"x"), 404,
                     "NoSuchUpload")

    def check_multipart_complete_unknown_upload_is_404(self, k):
        expect_error(self.c.complete_multipart(self.b, k, "no-such-upload", [(1, '"00"')]),
                     404, "NoSuchUpload")

    def check_multipart_abort(self, k):
        uid = upload_id(self.c.create_multipart(self.b, k))
        self.c.upload_part(self.b, k, uid, 1, b"x")
        r = self.c.abort_multipart(self.b, k, uid)
        expect(r.status == 204, f"abort: {r.status} {r.body[:150]!r}")
        expect_error(self.c.abort_multipart(self.b, k, uid), 404, "NoSuchUpload")

    def check_list_multipart_uploads(self, k):
        uid = upload_id(self.c.create_multipart(self.b, k))
        r = self.c.list_multipart(self.b)
        expect(r.status == 200, f"{r.status} {r.body[:150]!r}")
        ids = [u.findtext("UploadId") for u in strip_ns(r.xml()).findall("Upload")]
        expect(uid in ids, f"upload {uid} not listed")

    def check_multipart_complete_if_none_match(self, k):
        self.c.put(self.b, k, b"existing")
        uid = upload_id(self.c.create_multipart(self.b, k))
        r1 = self.c.upload_part(self.b, k, uid, 1, b"x")
        r = self.c.complete_multipart(self.b, k, uid, [(1, r1.header("ETag"))],
                                      headers={"If-None-Match": "*"})
        expect_error(r, 412, "PreconditionFailed")
        expect(self.c.get(self.b, k).body == b"existing", "the object was overwritten")


CHECKS: list[tuple[str, Callable]] = [
    (name[len("check_"):], fn) for name, fn in vars(Probe).items() if name.startswith("check_")]


def run(client: S3Client, bucket: str) -> dict[str, str | None]:
    """check name -> None when it passed, else what went wrong."""
    probe = Probe(client, bucket)
    results: dict[str, str | None] = {}
    for name, fn in CHECKS:
        try:
            fn(probe, probe.key(name))
            results[name] = None
        except CheckFailed as e:
            results[name] = str(e)
        except (OSError, http.client.HTTPException) as e:
            client.close()
            results[name] = f"{type(e).__name__}: {e}"
    client.close()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", action="append", default=[],
                    help="URL=ACCESS_KEY:SECRET_KEY; default: the servers of s3_servers.py")
    ap.add_argument("--bucket", default=os.environ.get("FLOE_TEST_S3_BUCKET", "floe-test"))
    args = ap.parse_args()
    targets = []
    for spec in args.url:
        url, _, cred = spec.partition("=")
        ak, _, sk = cred.partition(":")
        targets.append((url, url, ak, sk))
    if not targets:
        env = os.environ
        for name, prefix in (("s3rver", "FLOE_TEST_S3RVER"), ("fake_s3", "FLOE_TEST_FAKE_S3")):
            if f"{prefix}_URL" in env:
                targets.append((name, env[f"{prefix}_URL"], env[f"{prefix}_ACCESS_KEY"],
                                env[f"{prefix}_SECRET_KEY"]))
    if not targets:
        ap.error("no --url and no FLOE_TEST_* variables (run under s3_servers.py)")
    columns = []
    for name, url, ak, sk in targets:
        columns.append((name, run(S3Client.from_url(url, ak, sk, timeout=2), args.bucket)))
    width = max(len(n) for n, _ in CHECKS)
    print(f"{'check':{width}}  " + "  ".join(f"{n:8}" for n, _ in columns))
    for check, _ in CHECKS:
        cells = ["ok" if res[check] is None else "FAIL" for _, res in columns]
        print(f"{check:{width}}  " + "  ".join(f"{c:8}" for c in cells))
    for name, res in columns:
        for check, why in res.items():
            if why is not None:
                print(f"{name}: {check}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
