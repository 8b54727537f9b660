"""How the service is served: the one gunicorn configuration of `serve`, `dev`, the image and the bench.

gunicorn loads this module as its configuration (`gunicorn -c python:app.serving`); `argv()`
builds that command line, with the addresses and the number of workers, for every caller.

The serving model, chosen by measurement (docs/performance.md): gevent workers. A connection
is a greenlet, not a thread, so clients that trickle their headers, body or chunks cost a
connection each, never a worker: gunicorn's threaded worker gives each connection that has sent
its first bytes a pool thread until it has sent everything, and a few dozen slow clients held
every thread. Bounds on what one slow client may hold: the request head within `keepalive`
seconds (gunicorn's gevent worker), the whole request within NEXO_REQUEST_READ_SECONDS, and
NEXO_MAX_CONNECTIONS_PER_ADDRESS open connections per peer address in each worker.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import Counter
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.workers.ggevent import GeventWorker as _GeventWorker
from gunicorn.workers.gthread import ThreadWorker as _ThreadWorker

# Nothing of the app is imported at the top (app.config leads to app.vault, hence urllib3):
# gunicorn's master loads this module, and gevent's monkey-patching in the workers must come
# before anything holds a reference to ssl.

MODELS = {"gevent": "app.serving.GeventWorker", "gthread": "app.serving.ThreadWorker"}


def argv(binds: list[str], workers: int, *extra: str) -> list[str]:
    """The gunicorn command line of the service: this configuration, the addresses, the workers."""
    return [
        sys.executable, "-m", "gunicorn", "--config", "python:app.serving",
        *[part for bind in binds for part in ("--bind", bind)],
        "--workers", str(workers), *extra, "app.wsgi:app",
    ]  # fmt: skip


def binds(host: str, port: int, settings: dict[str, Any]) -> list[str]:
    """The service's address, and the metrics listener's when NEXO_METRICS_PORT is set."""
    found = [f"{host}:{port}"]
    if settings["METRICS_PORT"]:
        found.append(f"{host}:{settings['METRICS_PORT']}")
    return found


# -- gunicorn settings (module-level names are gunicorn's own settings) ---------------------------

# NEXO_SERVING_MODEL, checked by app.config before `serve` and `dev` start gunicorn.
worker_class = MODELS[os.environ.get("NEXO_SERVING_MODEL", "").strip() or "gevent"]
worker_connections = 1000  # gevent: open connections per worker; slow ones included
threads = 8  # gthread only
# A kept-alive connection's idle time, and with gevent the time a request's head may take.
keepalive = 5
graceful_timeout = 20
# No gunicorn access log: the app writes a JSON access line per request, with its request id
# and caller (app/observe.py); gunicorn's own lines are JSON too.
logger_class = "app.observe.GunicornLogger"
if os.path.isdir("/dev/shm"):
    # Not for speed (it moved no benchmark row): gunicorn's heartbeat fchmod can block a worker
    # for as long as a disk-backed temp folder stalls, as in some containers (gunicorn's docs).
    worker_tmp_dir = "/dev/shm"


# -- the workers ---------------------------------------------------------------------------------


class _Deadline:
    """A client socket whose reads of one request end at a deadline, as if the client hung up.

    The clock starts at the request's first read and stops when its answer is written;
    past the deadline a read answers end-of-file: gunicorn then drops a half-read head, and
    the app answers a half-read body with 400."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock, self._seconds = sock, seconds
        self._ends: float | None = None

    def recv(self, size: int, *flags: int) -> bytes:
        now = time.monotonic()
        if self._ends is None:
            self._ends = now + self._seconds
        if now >= self._ends:
            return b""
        self._sock.settimeout(self._ends - now)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            return b""
        finally:
            self._sock.settimeout(None)

    def answered(self) -> None:
        self._ends = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


# The bounded drain of a body the app refused unread (413): enough for the client, which is
# still sending, to read the answer instead of a connection reset.
_DRAIN_BYTES = 1024 * 1024
_DRAIN_SECONDS = 2.0


def _drain(sock: Any, limit: int = _DRAIN_BYTES, seconds: float = _DRAIN_SECONDS) -> None:
    """Read and drop what the client still sends, up to a bound, after shutting our side."""
    sock = getattr(sock, "_sock", sock)  # the socket itself, not its per-request deadline
    try:
        sock.shutdown(socket.SHUT_WR)
        ends = time.monotonic() + seconds
        while limit > 0 and (left := ends - time.monotonic()) > 0:
            sock.settimeout(left)
            data = sock.recv(min(65536, limit))
            if not data:
                return
            limit -= len(data)
    except OSError:
        return


def _refuse(sock: Any, status: int, message: str) -> None:
    from app import http_errors

    payload = json.dumps(http_errors.body(status, message)).encode()
    head = (
        f"HTTP/1.1 {status} {'Too Many Requests' if status == 429 else 'Error'}\r\n"
        "Connection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    try:
        sock.sendall(head.encode("latin-1") + payload)
    except OSError:
        return


class GeventWorker(_GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker with the service's bounds: a deadline per request read, open
    connections per address, a readable 413, and gunicorn's own error answers in JSON."""

    def patch(self) -> None:
        super().patch()  # gevent's monkey-patching, first thing in the worker
        from app import config, observe

        gunicorn_util.write_error = observe.write_json_error
        settings = config.from_environ()
        self.read_seconds = float(settings["REQUEST_READ_SECONDS"])
        self.per_address = int(settings["MAX_CONNECTIONS_PER_ADDRESS"])
        self.open: Counter[str] = Counter()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        peer = str(addr[0]) if isinstance(addr, tuple) else ""
        if self.per_address and self.open[peer] >= self.per_address:
            client.setblocking(1)
            _refuse(client, 429, "Too many open connections from this address")
            _drain(client, limit=65536, seconds=0.5)
            gunicorn_util.close(client)
            return
        self.open[peer] += 1
        try:
            super().handle(listener, _Deadline(client, self.read_seconds), addr)
        finally:
            self.open[peer] -= 1
            if not self.open[peer]:
                del self.open[peer]

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn's own answer (414, 431, 400) leaves the rest of the request unread: drained,
        # the client reads the answer instead of a connection reset.
        super().handle_error(req, client, addr, exc)
        _drain(client)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        try:
            super().handle_request(listener_name, req, sock, addr)
        finally:
            sock.answered()
            unread = _unread(req)
            if unread:
                _drain(sock)
        if unread:
            raise StopIteration  # gunicorn's way to close the connection


def _unread(req: Any) -> bool:
    """Whether the client announced a body the app answered without reading (a 413, a 401)."""
    reader = getattr(getattr(req, "body", None), "reader", None)
    if reader is None:
        return False
    if hasattr(reader, "length"):  # gunicorn's LengthReader counts down what is still to come
        return bool(reader.length)
    return getattr(reader, "parser", None) is not None  # a chunked body not read to its end


class ThreadWorker(_ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker (kept for comparison, NEXO_SERVING_MODEL=gthread) with its own
    error answers in JSON."""

    def init_process(self) -> None:
        from app import observe

        gunicorn_util.write_error = observe.write_json_error
        super().init_process()
