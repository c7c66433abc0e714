"""The local stack's logger (``local_stack``; its parts log to children of it, e.g.
``local_stack.api``) and printing its lines for `hashmatch serve`."""

from __future__ import annotations

import logging

LOGGER_NAME = "local_stack"
logger = logging.getLogger(LOGGER_NAME)


def enable_request_log(level: int = logging.INFO) -> None:
    """Print the local stack's own lines (one per API request, schedule runs) to stderr.

    For `hashmatch serve`; the handlers' Powertools loggers are separate and print anyway.
    """
    if not any(isinstance(h, _RequestLogHandler) for h in logger.handlers):
        handler = _RequestLogHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s local-stack %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(level)


class _RequestLogHandler(logging.StreamHandler):
    """Marks the handler enable_request_log added, so calling it twice adds one."""
