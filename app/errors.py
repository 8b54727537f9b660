"""Domain exceptions and the one JSON error shape every failure is answered with."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of every error the service answers with; the message is safe to show."""

    status = 500
    message = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors
        self.retry_after = retry_after


class BadRequest(ServiceError):
    status = 400
    message = "Bad request"


class NotAuthenticated(ServiceError):
    status = 401
    message = "Not signed in or the session has expired"


class PermissionDenied(ServiceError):
    status = 403
    message = "Permission denied"


class NotFound(ServiceError):
    status = 404
    message = "Not found"


class Conflict(ServiceError):
    status = 409
    message = "Conflict"


class UnsupportedMediaType(ServiceError):
    status = 415
    message = "Send the request body as application/json"


class Unprocessable(ServiceError):
    status = 422
    message = "Invalid input"


class TooManyRequests(ServiceError):
    status = 429
    message = "Too many requests"


class Unavailable(ServiceError):
    status = 503
    message = "The secrets backend is unavailable, try again shortly"


class Unsupported(ServiceError):
    """Vault has no such endpoint (e.g. HashiCorp Vault lacks OpenBao's detailed-metadata LIST)."""

    status = 501
    message = "Vault does not support this operation"


class TokenInvalid(NotAuthenticated):
    """The caller's Vault token is expired, revoked or unknown."""


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


def _from_service(error: ServiceError) -> Response:
    return error_response(error.status, error.message, error.errors, error.retry_after)


def _from_http(error: HTTPException) -> Response:
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message")
    if not message:
        message = {
            422: "Invalid input",
            415: "Send the request body as application/json",
            413: "The request body is too large",
        }.get(code, HTTPStatus(code).phrase)
    response = error_response(code, message, errors)
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
    app.register_error_handler(ServiceError, _from_service)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
