"""The Secrets screen: a static page that uses only the JSON API."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app

from app import config

bp = Blueprint("ui", __name__)

# The page loads only its own files: no inline script, no external origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@bp.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")


# On every answer, the API's included.
SECURITY_HEADERS = (
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# Outside dev/test the service is served over TLS (the session cookie is Secure): browsers
# must not fall back to plain HTTP for a year.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _hsts(response: Response) -> Response:
    response.headers.setdefault(*HSTS)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_headers)
    if app.config["NEXO_ENV"] not in config.SAFE_ENVS:
        app.after_request(_hsts)
