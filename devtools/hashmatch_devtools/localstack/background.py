"""A daemon thread with a stop flag: the lifecycle shared by SQS pollers and schedule timers."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Subclasses implement ``_run`` and leave it when ``_stop`` is set."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
