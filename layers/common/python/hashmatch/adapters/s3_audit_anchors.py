"""S3 adapter of the AnchorStore port: one object per anchor in a bucket with Object Lock.

The bucket's default retention (compliance mode, AuditAnchorRetentionDays) applies to every
object written, so no principal, the account's root included, can overwrite or delete an anchor
before it expires. The key carries the anchor itself, ``anchors/<seq, 20 digits>-<digest>``:
verification only lists the bucket (no reads, no decryption), and since a key names one exact
(entry, digest) pair, writing is conditional on its absence (``If-None-Match: *``), so an
unchanged head is not written twice. The body repeats it as JSON for a human reader.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hashmatch.adapters.aws import error_code, translated_errors
from hashmatch.audit.model import Anchor, AnchorKind, fixed_time

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "anchors/"
_KEY = re.compile(r"^anchors/(?P<seq>\d{20})-(?P<digest>[0-9a-f]{64})$")
_EXISTS = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


def anchor_key(seq: int, digest: str) -> str:
    return f"{PREFIX}{seq:020d}-{digest}"


class S3AuditAnchorStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, seq: int, digest: str, *, kind: AnchorKind, at: datetime) -> bool:
        body = json.dumps(
            {"seq": seq, "digest": digest, "kind": kind.value, "at": fixed_time(at)},
            sort_keys=True,
        )
        with translated_errors("anchoring the audit chain"):
            try:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=anchor_key(seq, digest),
                    Body=body.encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                    # Object Lock needs an integrity checksum on every write.
                    ChecksumAlgorithm="SHA256",
                )
            except ClientError as error:
                if error_code(error) in _EXISTS:
                    return False
                raise
        return True

    def all(self) -> list[Anchor]:
        anchors: list[Anchor] = []
        request: dict[str, str] = {"Bucket": self._bucket, "Prefix": PREFIX}
        while True:
            with translated_errors("listing the audit anchors"):
                answer = self._s3.list_objects_v2(**request)  # type: ignore[arg-type]
            for item in answer.get("Contents", []):
                found = _KEY.match(item["Key"])
                if found is None:
                    continue  # not an anchor (nothing else belongs here; it proves nothing)
                anchors.append(
                    Anchor(
                        seq=int(found["seq"]),
                        digest=found["digest"],
                        name=item["Key"],
                        written_at=item["LastModified"],
                    )
                )
            token = answer.get("NextContinuationToken")
            if not answer.get("IsTruncated") or not token:
                return sorted(anchors, key=lambda anchor: anchor.seq)
            request["ContinuationToken"] = token
