"""Operators' signals: JSON logs with a request id and the caller, and Prometheus `/metrics`.

Neither ever carries a secret value or a token. A log line holds the route, path, status,
timing and the caller's name; metric labels are route templates, Vault operation names
(paths cut down to their fixed part) and outcomes. Request and response bodies are never read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import IO, Any

from flask import Flask, Response, current_app, g, has_request_context, request
from gunicorn import util as gunicorn_util
from gunicorn.glogging import Logger as GunicornBaseLogger
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from werkzeug.exceptions import NotFound

# Nothing of app.vault (hence urllib3) at the top: gunicorn's master loads this module for its
# logger class, and a gevent worker must patch ssl before anything holds a reference to it.

REQUEST_ID_HEADER = "X-Request-Id"
# An incoming request id is kept only if it is short and plain: it is written into every log line.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_UNMATCHED = "<unmatched>"
# Metric labels come from closed sets: any method token is a valid request line, and each new
# label set would be a new series (a full histogram) kept for the life of the process.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_OTHER_METHOD = "OTHER"
_CONVERTER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")  # "<tenant:tenant>" -> "<tenant>" in route labels
_LOGIN_OUTCOMES = {200: "success", 401: "failure", 429: "throttled"}

access_log = logging.getLogger("nexo.access")

# -- metrics (one set per process; gunicorn workers share them via PROMETHEUS_MULTIPROC_DIR) ----

HTTP_REQUESTS = Counter(
    "nexo_http_requests", "HTTP requests answered, by route template, method and status", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "nexo_http_request_duration_seconds", "Time to answer an HTTP request, by route template", ["route", "method"]
)
VAULT_REQUESTS = Counter(
    "nexo_vault_requests", "Requests made to Vault, by operation and HTTP status", ["operation", "status"]
)
VAULT_LATENCY = Histogram(
    "nexo_vault_request_duration_seconds", "Time Vault took to answer, by operation", ["operation"]
)
VAULT_ERRORS = Counter(
    "nexo_vault_errors", "Vault calls that failed: unreachable or a 5xx answer", ["operation", "kind"]
)
LOGINS = Counter("nexo_logins", "Sign-ins to the service, by outcome (success, failure, throttled)", ["outcome"])
# Resolve per tenant: the tenant label only (never a key or a value), and only for tenants the
# Hub reached (a valid name, past Vault's own check), so its cardinality is the tenants'.
RESOLVES = Counter("nexo_resolves", "Resolve calls answered with values (or wrapped reads), by tenant", ["tenant"])
UNRESOLVED_KEYS = Counter(
    "nexo_unresolved_keys", "SECRET parameters a resolve could not give a value (422), by tenant", ["tenant"]
)


# The Hub may name a tenant that does not exist (its token reads any tenant path, and finds
# nothing): past this many tenants in a process, the rest are counted under "_other".
MAX_TENANT_LABELS = 1000
_OTHER_TENANT = "_other"  # not a valid tenant name, so never confused with one
_tenant_labels: set[str] = set()


def _tenant_label(tenant: str) -> str:
    if tenant in _tenant_labels:
        return tenant
    if len(_tenant_labels) >= MAX_TENANT_LABELS:
        return _OTHER_TENANT
    _tenant_labels.add(tenant)
    return tenant


def count_resolve(tenant: str) -> None:
    RESOLVES.labels(_tenant_label(tenant)).inc()


def count_unresolved(tenant: str, count: int) -> None:
    if count:
        UNRESOLVED_KEYS.labels(_tenant_label(tenant)).inc(count)


def observe_vault_call(method: str, url: str, status: int | None, seconds: float) -> None:
    """Count and time one Vault call (status None: Vault could not be reached)."""
    from app.vault import operation as name  # not at the top: see the imports

    operation = name(method, url)
    VAULT_REQUESTS.labels(operation, str(status) if status is not None else "unreachable").inc()
    VAULT_LATENCY.labels(operation).observe(seconds)
    if status is None:
        VAULT_ERRORS.labels(operation, "unreachable").inc()
    elif status >= 500:
        VAULT_ERRORS.labels(operation, "server_error").inc()


def render_metrics() -> bytes:
    """The Prometheus text exposition of this process, or of all gunicorn workers together."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


# -- logs ----------------------------------------------------------------------------------------


class RequestContext(logging.Filter):
    """Adds the request id and, where already known, the caller's name to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id", "-")
            user = caller_name()
            if user:
                record.user = user
        return True


def caller_name() -> str | None:
    """The signed-in caller's name if it is known without asking Vault (it never is a token)."""
    user = g.get("_login_user")  # set by Flask-Login once the caller has been loaded
    name = getattr(user, "_name", None)  # a Bearer caller's name is looked up lazily: not forced here
    return str(name) if name else None


_EXTRA = ("method", "route", "path", "status", "duration_ms", "remote")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user and access fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        user = getattr(record, "user", None)
        if user:
            entry["user"] = user
        for key in _EXTRA:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: its text or traceback may hold request data.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines with request context (to stderr unless told otherwise)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContext())
    handler.set_name("nexo-json")
    return handler


class GunicornLogger(GunicornBaseLogger):  # type: ignore[misc]
    """gunicorn's own lines (start, workers, errors) as JSON too: `--logger-class app.observe.GunicornLogger`."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answer (bad request line, 414, 431...) in the one error shape.

    gunicorn's message repeats what the client sent (a request line may carry anything), so
    the answer says only the status: the worker's log line has the detail."""
    from app import http_errors

    try:
        shape = http_errors.body(status_int, HTTPStatus(status_int).phrase)
    except ValueError:  # not a status Python knows: same shape, gunicorn's reason
        shape = {"code": status_int, "status": reason, "message": reason}
    payload = json.dumps(shape).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + payload)


def configure_logging(level: int = logging.INFO) -> None:
    """Send every log record of the process to stderr as JSON (once per process)."""
    root = logging.getLogger()
    if any(h.get_name() == "nexo-json" for h in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler())
    root.setLevel(level)


# -- the Flask side ------------------------------------------------------------------------------


def request_id(given: str) -> str:
    """The caller's X-Request-Id if it is short and plain, else a new one."""
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being answered (None outside one), for Vault's audit log."""
    return str(g.get("request_id")) if has_request_context() and g.get("request_id") else None


def route_label(rule: str) -> str:
    """A URL rule as a metric label: "/tenants/<tenant:tenant>" -> "/tenants/<tenant>"."""
    return _CONVERTER.sub(r"<\1>", rule)


def record(method: str, route: str, path: str, status: int, seconds: float, remote: str | None) -> None:
    """Count, time and log one answered request (the path, never the query string)."""
    label = method if method in METHODS else _OTHER_METHOD
    HTTP_REQUESTS.labels(route, label, str(status)).inc()
    HTTP_LATENCY.labels(route, label).observe(seconds)
    if route == "/api/v1/session" and method == "POST":
        LOGINS.labels(_LOGIN_OUTCOMES.get(status, "error")).inc()
    access_log.info(
        "request",
        extra={
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "remote": remote,
        },
    )


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER, ""))


def _finish(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    route = route_label(request.url_rule.rule) if request.url_rule is not None else _UNMATCHED
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
    record(request.method, route, request.path, response.status_code, seconds, request.remote_addr)
    return response


def _metrics() -> Response:
    # Not public: only on the listener of NEXO_METRICS_PORT (app/serving.py binds it beside the
    # service's own); the port a connection came in on is the server's socket, which no header
    # can change. With no such port set there is no /metrics.
    port = current_app.config.get("METRICS_PORT")
    sock = request.environ.get("gunicorn.socket")
    try:
        arrived = sock.getsockname()[1] if sock is not None else None
    except (OSError, IndexError, TypeError):
        arrived = None
    if not port or arrived != port:
        raise NotFound()
    return Response(render_metrics(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    """Request ids, the access log line, HTTP and Vault metrics, and the /metrics endpoint."""
    if app.config.get("NEXO_ENV") != "test" and app.config.get("NEXO_LOG_JSON", True):
        configure_logging()
    app.before_request(_start)
    app.after_request(_finish)
    app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])
    client = app.extensions.get("nexo_vault")
    if client is not None:
        client.transport.observer = observe_vault_call
        client.transport.request_id = current_request_id
