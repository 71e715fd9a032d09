"""moto's threaded server in this process, with the test kit's documented extensions."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from scaleahead_testkit import moto_extensions


@contextmanager
def moto_server(port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve moto on ``host:port`` until the block ends; yields the endpoint URL.

    The port is probed first: the server would otherwise fail in its own thread and the
    clients would talk to whatever else answers there (a server kept by an earlier run, say).
    """
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        # As the server binds: a port whose last connections are in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise SystemExit(
                f"port {port} is in use (another scaleahead local or sam-local --keep?); "
                "stop it or pass --port"
            ) from None
    moto_extensions.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        if server._server is not None:
            server._server.server_close()  # stop() leaves the listening socket open
