"""The app factory: settings, Vault adapter, sessions, API, UI, error handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api

from app import config as settings


class _JSON(DefaultJSONProvider):
    """Deeply nested JSON is a bad request, not a RecursionError. Answers keep their schema's
    field order (key first) instead of sorting every object's keys."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: settings, Vault adapter, sessions, API, UI, error handlers."""
    from app import api, auth, http_errors, limits, ui, vault

    app = Flask("app")
    # werkzeug answers a path with '//' by a 308 to the merged path, built from the request's
    # Host header (an open redirect behind a lax proxy): such a path is simply not found.
    app.url_map.merge_slashes = False
    app.json_provider_class = _JSON
    app.json = _JSON(app)
    app.config.update(settings.from_environ())
    if config:
        app.config.update(config)
    settings.check(app.config)
    dev = app.config["NEXO_ENV"] in settings.SAFE_ENVS
    app.config.update(
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=256 * 1024,
        SESSION_COOKIE_NAME="nexo_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=(config or {}).get("SESSION_COOKIE_SECURE", not dev),
        API_TITLE="Nexomatic Secrets",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    if not app.config.get("SECRET_KEY"):
        # dev/test only (settings.check refuses a missing key elsewhere): a random key, so
        # sessions end when the process does
        import secrets as _secrets

        app.config["SECRET_KEY"] = _secrets.token_urlsafe(48)

    vault.init_app(app)
    app.extensions["nexo_listings"] = limits.InFlight(
        app.config["MAX_LISTINGS_PER_CALLER"], app.config["MAX_LISTINGS_PER_ADDRESS"]
    )
    auth.init_app(app)
    spec = _Api(app, spec_kwargs={"components": {"securitySchemes": _SECURITY}})
    api.register(app, spec)
    spec.spec.options["security"] = [{"bearer": []}, {"session": []}]
    ui.init_app(app)
    http_errors.init_app(app)  # after Api: our handlers replace flask-smorest's

    from app import observe

    observe.init_app(app)  # request ids, JSON access log, /metrics, Vault call timing
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    for path, operation in _UNAUTHENTICATED.items():  # served outside flask-smorest, documented here
        spec.spec.path(rule=rules[path], operations={"get": operation})
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Behind reverse proxies the TCP peer is the proxy: take the client's address (and
        # scheme) from the X-Forwarded-* entries those proxies added, and only those, so the
        # sign-in throttle and the access log see each client. Unset, the headers are ignored.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app


class _Api(Api):  # type: ignore[misc]
    from app.schemas import ApiError as ERROR_SCHEMA  # the one error shape, documented


# Endpoints anyone may call: the document says they need no credentials (security: []).
_UNAUTHENTICATED: dict[str, dict[str, Any]] = {
    "/metrics": {
        "summary": "Prometheus metrics of the service: served only on the NEXO_METRICS_PORT listener.",
        "tags": ["ops"],
        "security": [],
        "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "404": {
                "description": "Asked on any other listener (or no NEXO_METRICS_PORT set): /metrics is not public",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
            },
        },
    },
    "/api/openapi.json": {
        "summary": "This OpenAPI document.",
        "tags": ["ops"],
        "security": [],
        "responses": {
            "200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}
        },
    },
}

_SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A Vault token"},
    "session": {"type": "apiKey", "in": "cookie", "name": "nexo_session"},
}
