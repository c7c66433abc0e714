"""The local stack's stores survive a restart: moto's state saved to a file and loaded back.

moto keeps everything in memory and has no persistence of its own. Two ways were possible:

- dump and reload through the AWS APIs (scan every table and put the items back, copy the
  objects, receive and re-send the messages), or
- save moto's in-memory backends themselves (pickle) and install them again on the next start.

We save the backends. Through the APIs the KMS key would come back as a *new* key (new id, new
material), so every ciphertext made before the restart, the audit checkpoint's seal first,
would no longer decrypt; S3 object versions and their Object Lock dates, SQS receive counts and
in-flight messages, and DynamoDB table settings would each need their own code, per service,
and would still come back changed. The backends are the state, complete, with one generic
mechanism. What that costs: the file is tied to the moto version that wrote it (a different
version is refused with a clear message: start with ``--fresh``), it is a pickle (only ever
load your own: it is code), and a few objects need help to pickle (threading locks and
conditions, ``cryptography`` private keys of asymmetric KMS keys), given below.

The state is saved when the stack stops (everything quiet: API, pollers and timers stopped
first) and every ``AUTOSAVE_SECONDS`` while it runs (between invocations, so a crash loses at
most that much), always by writing a new file and renaming it over the old one.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch_devtools.localstack.background import BackgroundLoop
from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.logs import logger

STATE_FILE = "moto-state.pickle"
AUTOSAVE_SECONDS = 30.0
# The moto services the local stack's stores live in (what provision_stores creates, and the
# CloudFormation stack that records them).
SERVICES = ("cloudformation", "dynamodb", "kms", "s3", "sns", "sqs", "ssm")
_FORMAT = 1
# A save racing a request thread of moto can meet a dict changing size: try again shortly.
_SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class SavedState:
    format: int
    moto_version: str
    backends: dict[str, dict[str, dict[str, Any]]]  # service -> account -> region -> backend


class MotoState:
    """Saves and restores moto's backends of :data:`SERVICES` at ``directory/moto-state.pickle``.

    ``quiet``: a context manager factory under which no handler runs, so that a save taken while
    the stack runs falls between invocations (None: no such guard).
    """

    def __init__(self, directory: Path, *, quiet: Callable[[], Any] | None = None) -> None:
        self.path = directory / STATE_FILE
        self._quiet = quiet
        self._lock = threading.Lock()
        self._autosave: _Autosave | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

    def restore(self) -> SavedState | None:
        """Install the saved backends into moto (None: nothing saved). Call on an empty moto."""
        if not self.exists():
            return None
        try:
            saved = pickle.loads(self.path.read_bytes())  # noqa: S301 - our own state file
        except Exception as error:  # any unpickling failure: the file is not usable
            raise LocalStackError(
                f"the saved local state {self.path} cannot be read ({type(error).__name__}: "
                f"{error}); start with --fresh to discard it"
            ) from error
        if not isinstance(saved, SavedState) or saved.format != _FORMAT:
            raise LocalStackError(f"{self.path} is not a local stack state of this version")
        if saved.moto_version != _moto_version():
            raise LocalStackError(
                f"{self.path} was saved by moto {saved.moto_version}, this is moto "
                f"{_moto_version()}: start with --fresh to discard it"
            )
        from moto.backends import get_backend

        for service, accounts in saved.backends.items():
            backends = get_backend(service)  # type: ignore[call-overload]
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backends[account][region] = backend
        logger.info("local state restored from %s", self.path)
        return saved

    def save(self) -> None:
        """Write the current backends to the file (atomically: a new file renamed over it)."""
        with self._lock:
            for attempt in range(_SAVE_ATTEMPTS):
                try:
                    data = self._pickled()
                    break
                except RuntimeError:  # a backend changed while it was being pickled
                    if attempt + 1 == _SAVE_ATTEMPTS:
                        raise
                    time.sleep(0.05)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            # Only its owner may read it: it holds every store's data (and is code to load).
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            partial.replace(self.path)

    def start_autosave(self, interval: float = AUTOSAVE_SECONDS) -> None:
        self._autosave = _Autosave(self, interval)
        self._autosave.start()

    def stop_autosave(self) -> None:
        if self._autosave is not None:
            self._autosave.stop()
            self._autosave = None

    def _pickled(self) -> bytes:
        from moto.backends import get_backend

        backends = {
            service: {
                account: dict(regions)
                for account, regions in get_backend(service).items()  # type: ignore[call-overload]
            }
            for service in SERVICES
        }
        state = SavedState(_FORMAT, _moto_version(), backends)
        buffer = io.BytesIO()
        if self._quiet is None:
            _StatePickler(buffer).dump(state)
        else:
            with self._quiet():
                _StatePickler(buffer).dump(state)
        return buffer.getvalue()


class _Autosave(BackgroundLoop):
    def __init__(self, state: MotoState, interval: float) -> None:
        super().__init__("local-state-autosave")
        self._state = state
        self._interval = interval

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._state.save()
            except (OSError, RuntimeError, pickle.PicklingError):  # the save at stop still runs
                logger.exception("saving the local state failed; retrying in %ss", self._interval)


class _StatePickler(pickle.Pickler):
    """Pickles moto's backends: locks and conditions are made anew, private keys as DER, and
    dictionaries whose item access is not the stored mapping (S3's versioned key store answers
    the latest version of a key, while it holds them all) as the mapping they hold."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, dict) and _reads_differently(type(obj)):
            attributes = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
            return _raw_dict, (type(obj), list(dict.items(obj)), attributes)
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, (type(obj) is _RLOCK_TYPE,)
        private_key = _private_key_der(obj)
        if private_key is not None:
            return _load_private_key, (private_key,)
        return NotImplemented


def _reads_differently(cls: type) -> bool:
    """A dictionary class written in Python whose ``d[key]`` is not the stored value (the
    standard library's OrderedDict and defaultdict keep dict's, and pickle themselves)."""
    return isinstance(getattr(cls, "__getitem__", None), types.FunctionType)


def _raw_dict(
    cls: type[dict[Any, Any]], items: list[tuple[Any, Any]], attributes: dict[str, Any]
) -> Any:
    rebuilt = cls.__new__(cls)
    dict.update(rebuilt, items)
    rebuilt.__dict__.update(attributes)
    return rebuilt


_LOCK_TYPE = type(threading.Lock())
_RLOCK_TYPE = type(threading.RLock())
_LOCK_TYPES = (_LOCK_TYPE, _RLOCK_TYPE)


def _new_lock(reentrant: bool) -> Any:
    return threading.RLock() if reentrant else threading.Lock()


def _private_key_der(obj: Any) -> bytes | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if not isinstance(
        obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        return None
    return obj.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, password=None)


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")
