"""The CheckpointSealer port on KMS: a checkpoint is sealed by encrypting it under the stack key.

KMS encryption is authenticated (AES-GCM inside KMS) and bound to an encryption context, so a
seal that decrypts to exactly the checkpoint proves that a principal allowed ``kms:Encrypt`` on
the stack key (HashmatchKey) wrote it; of the functions, only erase_expired's role has that
permission (the others may only decrypt and generate data keys). An asymmetric KMS signing key
would let anyone verify offline, but the design keeps one customer-managed key, and the local
stack's moto creates every template key as a symmetric one. See docs/audit.md.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hashmatch.adapters.aws import error_code, translated_errors
from hashmatch.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

CONTEXT = {"hashmatch": "audit-checkpoint"}
_NOT_VERIFIED = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class KMSCheckpointSealer:
    def __init__(self, kms: KMSClient, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id

    def seal(self, payload: bytes) -> str:
        with translated_errors("sealing the audit checkpoint"):
            answer = self._kms.encrypt(
                KeyId=self._key_id, Plaintext=payload, EncryptionContext=CONTEXT
            )
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def verify(self, payload: bytes, seal: str) -> bool:
        try:
            blob = base64.b64decode(seal.encode(), validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            with translated_errors("verifying the audit checkpoint"):
                answer = self._kms.decrypt(
                    CiphertextBlob=blob, KeyId=self._key_id, EncryptionContext=CONTEXT
                )
        except DependencyUnavailable as error:
            # KMS refusing the blob means "not verified"; any other failure is an outage.
            cause = error.__cause__
            if isinstance(cause, ClientError) and error_code(cause) in _NOT_VERIFIED:
                return False
            raise
        return bool(answer["Plaintext"] == payload)
