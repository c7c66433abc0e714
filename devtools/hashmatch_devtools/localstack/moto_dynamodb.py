"""moto's DynamoDB made atomic per write request, as DynamoDB is.

moto evaluates a condition and then writes without a lock, and a TransactWriteItems that fails
restores whole tables from copies taken when it began. Under concurrent requests (the local
stack serves each HTTP request on its own thread; tests file from several threads) two
conditional writes can then both succeed, and a failed transaction can undo another request's
write. DynamoDB does neither: each write request, and each transaction, is atomic. This module
serialises moto's DynamoDB write requests with one lock so the stores behave as deployed ones
do; reads stay unserialised.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()
_applied = False


def make_writes_atomic() -> None:
    """Serialise moto's DynamoDB write requests (idempotent; process-wide)."""
    global _applied
    with _lock:
        if _applied:
            return
        from moto.dynamodb.models import DynamoDBBackend

        for name in _WRITES:
            setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
        _applied = True


def _serialised(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(*args, **kwargs)

    return call
