"""The service with some of its per-request rules switched off, for `python -m tests.bench.ab`
only: what each rule costs a one-key resolve. BENCH_WITHOUT names them, comma-separated:

- access: the access line (the request id stays);
- metrics: the HTTP and Vault metrics;
- headers: the security headers;
- login: Flask-Login and the CSRF check (the view takes the Bearer token from the header);
- session: the cookie session (Flask opens and saves it on every request);
- guard: the body and CSRF guard of every API request.

Never served outside that measurement: each switch takes away a rule every request must pass."""

from __future__ import annotations

import os
from typing import Any

from flask import request
from flask.sessions import SecureCookieSessionInterface

from app import auth, observe, ui
from app.wsgi import app

# Not NEXO_*: the benchmark's servers start without the caller's NEXO_ settings.
_WITHOUT = set(filter(None, os.environ.get("BENCH_WITHOUT", "").split(",")))
if not _WITHOUT:
    raise SystemExit("rules_wsgi: BENCH_WITHOUT names no rule; this would measure the service itself")


class _NoCookieNoSession(SecureCookieSessionInterface):
    def open_session(self, app: Any, request: Any) -> Any:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def _bearer_only() -> auth.User:
    token = auth.bearer_token(request.environ.get("HTTP_AUTHORIZATION", ""))
    return auth.User(token or "", None, via_session=False)


class _NoMetric:
    def labels(self, *labels: str) -> _NoMetric:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass


if "access" in _WITHOUT:
    observe.access_log.disabled = True
if "metrics" in _WITHOUT:
    for metric in ("HTTP_REQUESTS", "HTTP_LATENCY", "RESOLVES", "UNRESOLVED_KEYS", "LOGINS"):
        setattr(observe, metric, _NoMetric())
    app.extensions["nexo_vault"].transport.observer = None
if "headers" in _WITHOUT:
    app.after_request_funcs[None] = [f for f in app.after_request_funcs[None] if f not in (ui._headers, ui._hsts)]
if "login" in _WITHOUT:
    auth.require_user = _bearer_only
    auth.check_csrf = lambda: None
    app.after_request_funcs[None] = [
        f
        for f in app.after_request_funcs[None]
        if getattr(f, "__self__", None) is not app.login_manager  # type: ignore[attr-defined]
    ]
if "session" in _WITHOUT:
    app.session_interface = _NoCookieNoSession()
if "guard" in _WITHOUT:
    app.before_request_funcs.pop("api", None)
