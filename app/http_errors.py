"""The one place errors become HTTP answers: the one JSON error shape and each error's status.

Every failure is answered as {code, status, message, errors?}: the service's domain errors
(app/errors.py), Vault errors no service turned into one (app/vault/errors.py), Flask's and
webargs' own, and anything unexpected (500, its text never shown).

`errors`, when present, maps each field to the list of its messages: a body or query field by
its name (a nested one dotted: `parameters.0.name`), a name in the path by its parameter
(`tenant`, `key`, `user`). Three members hold lists of another kind, each documented where it is
answered: resolve's `unresolved` (the parameters without a value), an import's `existing` (the
keys that exist, 409) and `results` (what an import that stopped half way wrote).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app import errors
from app.vault import errors as vault

log = logging.getLogger(__name__)

# Most specific first: TokenInvalid is a NotAuthenticated.
STATUS: tuple[tuple[type[errors.ServiceError], int], ...] = (
    (errors.BadRequest, 400),
    (errors.NotAuthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.UnsupportedMediaType, 415),
    (errors.Unprocessable, 422),
    (errors.TooManyRequests, 429),
    (errors.Unsupported, 501),
    (errors.Unavailable, 503),
)


def status_of(error: errors.ServiceError) -> int:
    """The HTTP status a domain error is answered with."""
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def body(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape: {code, status, message, errors?}."""
    shape: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        shape["errors"] = errors
    return shape


def error_response(
    status: int,
    message: str,
    errors: dict[str, Any] | None = None,
    retry_after: int | None = None,
) -> Response:
    """Answer with the one error shape (see `body`)."""
    response = jsonify(body(status, message, errors))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _from_service(error: errors.ServiceError) -> Response:
    return error_response(status_of(error), error.message, error.errors, error.retry_after)


def _from_vault(error: vault.VaultError) -> Response:
    return _from_service(errors.from_vault(error))


# webargs files its messages under where it read them ({"json": {"key": [...]}}): one shape drops that.
_LOCATIONS = ("json", "query", "form", "path", "headers", "cookies")


def field_errors(found: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """webargs' (or marshmallow's) nested messages as field -> list of messages."""
    flat: dict[str, list[str]] = {}
    for name, detail in found.items():
        if not prefix and name in _LOCATIONS and isinstance(detail, Mapping):
            flat.update(field_errors(detail))
        elif isinstance(detail, Mapping):
            flat.update(field_errors(detail, f"{prefix}{name}."))
        else:
            messages = detail if isinstance(detail, list) else [detail]
            flat.setdefault(f"{prefix}{name}", []).extend(str(m) for m in messages)
    return flat


def _from_http(error: HTTPException) -> Response:
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    found = data.get("errors") or data.get("messages")
    if isinstance(found, Mapping):
        found = field_errors(found)
    message = data.get("message")
    if not message:
        message = {
            422: "Invalid input",
            415: "Send the request body as application/json",
            413: "The request body is too large",
        }.get(code, HTTPStatus(code).phrase)
    response = error_response(code, message, found)
    valid_methods = getattr(error, "valid_methods", None)
    if code == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def log_unexpected(error: Exception) -> None:
    """Log an unexpected error's type and where it happened, never its text: it may carry request data."""
    frames = traceback.extract_tb(error.__traceback__)[-6:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    log.error("unhandled error: %s at %s", type(error).__name__, where)


def _from_unexpected(error: Exception) -> Response:
    log_unexpected(error)
    return error_response(500, "Internal error")


def init_app(app: Flask) -> None:
    """Answer every failure, Flask's own included, in the one JSON shape."""
    app.register_error_handler(errors.ServiceError, _from_service)
    app.register_error_handler(vault.VaultError, _from_vault)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
