"""S3 adapter of the SnapshotStore port: one object, replaced by compare-and-swap.

Writes are conditional (If-Match on the etag read, If-None-Match for the first one), so of two
overlapping build_index runs only one can replace the snapshot. The bucket is versioned (old
snapshots stay readable for recovery until lifecycle expires them) and encrypted by default with
the stack's key: no encryption headers are sent, so the bucket default (our key) applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from botocore.exceptions import ClientError

from hashmatch.adapters.aws import error_code, translated_errors
from hashmatch.errors import Conflict
from hashmatch.indicators.ports import SnapshotStream, StoredSnapshot

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
# 412: the etag moved; 409: a concurrent conditional write to the same key is in flight.
_LOST_RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class S3SnapshotStore:
    def __init__(self, s3: S3Client, bucket: str, key: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key

    def read(self) -> StoredSnapshot | None:
        answer = self._get()
        if answer is None:
            return None
        with translated_errors("reading the index snapshot"):
            return StoredSnapshot(answer["Body"].read(), answer["ETag"])

    def stream(self) -> SnapshotStream | None:
        answer = self._get()
        if answer is None:
            return None
        body = answer["Body"]

        def read(wanted: int) -> bytes:
            with translated_errors("reading the index snapshot"):
                data: bytes = body.read(wanted)
                return data

        return SnapshotStream(read, int(answer["ContentLength"]), answer["ETag"])

    def current_etag(self) -> str | None:
        try:
            answer = self._s3.head_object(Bucket=self._bucket, Key=self._key)
        except ClientError as error:
            if error_code(error) in _ABSENT:
                return None
            _raise_translated(error, "checking the index snapshot")
        return answer["ETag"]

    def _get(self) -> GetObjectOutputTypeDef | None:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=self._key)
        except ClientError as error:
            if error_code(error) in _ABSENT:
                return None
            _raise_translated(error, "reading the index snapshot")

    def write(self, data: bytes, *, replaces: str | None) -> str:
        try:
            if replaces is None:
                answer = self._s3.put_object(
                    Bucket=self._bucket, Key=self._key, Body=data, IfNoneMatch="*"
                )
            else:
                answer = self._s3.put_object(
                    Bucket=self._bucket, Key=self._key, Body=data, IfMatch=replaces
                )
        except ClientError as error:
            if error_code(error) in _LOST_RACE:
                raise Conflict("another build replaced the index snapshot first") from error
            _raise_translated(error, "writing the index snapshot")
        return answer["ETag"]


def _raise_translated(error: ClientError, what: str) -> NoReturn:
    with translated_errors(what):
        raise error
    raise AssertionError("translated_errors always raises")  # pragma: no cover
