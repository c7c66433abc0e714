"""moto in server mode on a local port: every store of the local stack lives in it."""

from __future__ import annotations

import functools
import logging
import urllib.request
from typing import Any


class MotoServer:
    """One moto server. Its backends are process-wide: it starts empty and is emptied at stop."""

    def __init__(self, *, host: str, port: int, region: str) -> None:
        self._host = host
        self._port = port
        self._region = region
        self._server: Any = None
        self.endpoint = ""

    def start(self) -> str:
        """Start the server on an empty set of stores; returns its endpoint URL."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # Start from empty, whatever ran in this process before.
        self.reset()
        return self.endpoint

    def stop(self) -> None:
        if self._server is None:
            return
        # Leave no stores behind for later moto users in this process (e.g. mock_aws tests).
        self.reset()
        self._server.stop()

    def reset(self) -> None:
        # Our own moto server's reset endpoint: an http URL we built, never user input.
        reset_url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(reset_url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def client(self, service: str) -> Any:
        return _boto3_session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self._region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )


@functools.cache
def _boto3_session() -> Any:
    """One session for the stack's own clients: sessions cache the service models they load."""
    import boto3

    return boto3.session.Session()
