"""The Hub's resolve calls, answered by a plain WSGI layer in front of Flask.

Resolve is the hot path: the Hub calls it for every task it runs. Through Flask, flask-smorest,
webargs and Flask-Login, a one-key resolve spent as long in the framework as in Vault (profile in
the README, Performance). This layer answers a well-formed resolve with a Bearer token using the
same schema, the same `resolve.resolve`, the same error shape, headers, access log line and
metrics. Everything else goes on to Flask untouched and is answered there as before: other
paths and methods, a cookie session, a missing or malformed token, a body that is not JSON
valid for the schema, an invalid tenant name. So every refusal of a request's form still has
one author (Flask); this layer only adds a shorter road for the requests Flask would accept.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from marshmallow import ValidationError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import ClosingIterator

from app import auth, errors, names, observe, resolve, schemas, ui

ENDPOINT = "api.Resolve"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ResolveLayer:
    """WSGI middleware: `POST /api/v1/tenants/<tenant>/resolve` with a Bearer token, without Flask."""

    def __init__(self, app: Flask) -> None:
        self.flask = app
        self.next: WSGIApp = app.wsgi_app
        self.vault = app.extensions["nexo_vault"]
        self.schema = schemas.ResolveRequest()
        self.max_length = int(app.config["MAX_CONTENT_LENGTH"])
        rule = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == ENDPOINT)
        self.route = observe.route_label(rule)  # the same metric label Flask's answer gets
        # The Flask route's own path, its tenant segment matched by the route's converter.
        segment = f"({app.url_map.converters['tenant'].regex})"
        self.path = re.compile("^" + re.escape(rule).replace(re.escape("<tenant:tenant>"), segment) + "$")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.next(environ, start_response)
        match = self.path.match(environ.get("PATH_INFO", ""))
        token = auth.bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if match is None or token is None or not names.is_tenant(match.group(1)):
            return self.next(environ, start_response)
        started = time.perf_counter()
        raw = self._body(environ)
        body = None if raw is None else self._load(raw)
        if body is None:
            if raw is not None:  # already read: Flask reads it again from here
                environ["wsgi.input"] = io.BytesIO(raw)
            return self.next(environ, start_response)

        request_id = observe.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        context = observe.current_request_id.set(request_id)
        try:
            status, answer, extra = self._resolve(token, match.group(1), body)
            out = (self.flask.json.dumps(answer, separators=(",", ":")) + "\n").encode()
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(out))),
                ("Cache-Control", "no-store"),
                *extra,
                (observe.REQUEST_ID_HEADER, request_id),
                *ui.SECURITY_HEADERS,
            ]
            start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
            seconds = time.perf_counter() - started
        finally:
            observe.current_request_id.reset(context)

        def record() -> None:
            context = observe.current_request_id.set(request_id)
            try:
                observe.record("POST", self.route, environ["PATH_INFO"], status, seconds, environ.get("REMOTE_ADDR"))
            finally:
                observe.current_request_id.reset(context)

        # The access line and metrics are written when the server closes the answer, once it is
        # sent: the Hub does not wait for them (they were a third of this layer's time).
        return ClosingIterator([out], record)

    def _body(self, environ: dict[str, Any]) -> bytes | None:
        """The request body if it is a JSON body of a declared, allowed length; else None."""
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if mimetype != "application/json" or environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= self.max_length:
            return None
        raw: bytes = environ["wsgi.input"].read(length)
        return raw

    def _load(self, raw: bytes) -> dict[str, Any] | None:
        """The body as the schema loads it, or None if Flask should answer (and refuse) it."""
        try:
            parsed = self.flask.json.loads(raw)
            loaded: dict[str, Any] = self.schema.load(parsed)
        except (ValueError, ValidationError):  # bad JSON (incl. too deep), or not the schema's
            return None
        return loaded

    def _resolve(self, token: str, tenant: str, body: dict[str, Any]) -> tuple[int, Any, list[tuple[str, str]]]:
        """Status, body and extra headers of the answer: resolve's result or the one error shape."""
        try:
            return 200, resolve.resolve(self.vault, token, tenant, body["parameters"], body.get("wrap_ttl")), []
        except errors.ServiceError as error:
            extra = [] if error.retry_after is None else [("Retry-After", str(error.retry_after))]
            return error.status, errors.body(error.status, error.message, error.errors), extra
        except Exception as error:  # noqa: BLE001 - answered as Flask would: logged by type, a 500
            errors.log_unexpected(error)
            return 500, errors.body(500, "Internal error"), []


def init_app(app: Flask) -> None:
    """Put the resolve layer in front of the app (after the API is registered)."""
    app.wsgi_app = ResolveLayer(app)  # type: ignore[method-assign]
