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
# Outside dev/test the service is served over TLS (the session cookie is Secure): browsers
# must not fall back to plain HTTP for a year.
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_NO_STORE = ("Cache-Control", "no-store")


def add_headers(response: Response, headers: tuple[tuple[str, str], ...]) -> Response:
    """Add each header the response does not set itself (a view's own Cache-Control wins);
    JSON answers are not stored unless they say otherwise."""
    present = {name.lower() for name in response.headers.keys()}
    if response.mimetype == "application/json":
        headers += (_NO_STORE,)
    for name, value in headers:
        if name.lower() not in present:
            response.headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    headers: tuple[tuple[str, str], ...] = SECURITY_HEADERS
    if app.config["NEXO_ENV"] not in config.SAFE_ENVS:
        headers += (HSTS,)
    app.after_request(lambda response: add_headers(response, headers))
