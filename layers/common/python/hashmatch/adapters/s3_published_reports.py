"""S3 adapter of PublishedReports: ``transparency/<year>/<name>`` in the TransparencyBucket.

The bucket has Object Lock in compliance mode (template.yaml: retention a Parameter): no one,
the account's root included, can delete or overwrite a stored version before it ends. Writes
are conditional (``If-None-Match: *``), so a file is written once and a second publication
attempt keeps the first file instead of adding a version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hashmatch.adapters.aws import error_code, translated_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "transparency"


def report_key(year: int, name: str) -> str:
    return f"{PREFIX}/{year}/{name}"


class S3PublishedReports:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def get(self, year: int, name: str) -> bytes | None:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=report_key(year, name))
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                return None
            with translated_errors("reading a published report"):
                raise
        with translated_errors("reading a published report"):
            return answer["Body"].read()

    def put_new(self, year: int, name: str, body: bytes, content_type: str) -> bool:
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=report_key(year, name),
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error_code(error) == "PreconditionFailed":
                return False
            with translated_errors("publishing a report"):
                raise
        return True
