"""The resolve layer in front of Flask (app/hub.py) answers exactly as Flask does, or lets Flask answer.

Each request is sent to the app twice: once through the layer, once to Flask alone (the layer's
`next`). Status, body, headers, access log fields and metrics must agree; requests the layer
must not take are seen reaching Flask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from app import access, observe
from app.hub import ResolveLayer
from tests.conftest import BaoServer, Tenant, planted, watch_resolve_answer

# Differ between any two answers, or only say that Flask read the (ignored) cookie.
_VARIABLE = {"X-Request-Id", "Vary", "Date"}


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.login_approle(creds.role_id, creds.secret_id)["client_token"])


@pytest.fixture
def layer(app: Any) -> Iterator[tuple[ResolveLayer, list[str]]]:
    """The app's resolve layer, with a record of the paths it handed to Flask."""
    resolve_layer = app.wsgi_app
    assert isinstance(resolve_layer, ResolveLayer)
    flask_only = resolve_layer.next
    handed: list[str] = []

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        handed.append(environ["PATH_INFO"])
        return flask_only(environ, start_response)

    resolve_layer.next = counting
    try:
        yield resolve_layer, handed
    finally:
        resolve_layer.next = flask_only


def both(app: Any, layer: ResolveLayer, path: str, **kwargs: Any) -> tuple[Any, Any]:
    """The same request through the layer, then to Flask alone (each answer read and closed at
    once, as a server does: the layer writes its access line and metrics on close)."""
    fast = app.test_client().post(path, buffered=True, **kwargs)
    wrapped, app.wsgi_app = app.wsgi_app, layer.next
    try:
        slow = app.test_client().post(path, buffered=True, **kwargs)
    finally:
        app.wsgi_app = wrapped
    return watch_resolve_answer(fast), watch_resolve_answer(slow)


def same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.get_json(), slow.get_json())
    assert fast.get_json() == slow.get_json()
    assert {k: v for k, v in fast.headers if k not in _VARIABLE} == {
        k: v for k, v in slow.headers if k not in _VARIABLE
    }
    assert fast.headers["X-Request-Id"] and slow.headers["X-Request-Id"]


def stored(app: Any, login: Any, tenant: Tenant, key: str) -> str:
    value = planted(key)
    writer = login(tenant.writer, tenant.password)
    reply = writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": key, "value": value})
    assert reply.status_code == 201
    return value


def secret(name: str, key: Any) -> dict[str, Any]:
    return {"name": name, "type": "SECRET", "value": key}


def test_answers_like_flask(app: Any, login: Any, tenant: Tenant, hub_token: str, users: Any, layer: Any) -> None:
    resolve_layer, handed = layer
    value = stored(app, login, tenant, "API_KEY")
    path = f"/api/v1/tenants/{tenant.name}/resolve"
    hub = {"Authorization": f"Bearer {hub_token}"}
    reader_token = users.token(tenant.reader, tenant.password)
    cases: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"parameters": [secret("k", "API_KEY"), {"name": "n", "type": "INTEGER", "value": 3}]}, hub),
        ({"parameters": [secret("k", "API_KEY"), secret("again", "API_KEY")]}, hub),
        ({"parameters": [secret("k", "MISSING"), secret("bad", "../x"), secret("n", None)]}, hub),  # 422
        ({"parameters": [secret("k", "API_KEY")]}, {"Authorization": f"Bearer {reader_token}"}),  # 403
        ({"parameters": []}, {"Authorization": f"Bearer {reader_token}"}),  # 403, nothing to read
        ({"parameters": [secret("k", "API_KEY")]}, {"Authorization": "Bearer s.not-a-real-token"}),  # 401/403
    ]
    for body, headers in cases:
        handed.clear()
        fast, slow = both(app, resolve_layer, path, json=body, headers={**headers, "X-Request-Id": "req-1"})
        same(fast, slow)
        assert handed == [path], "Flask alone answered only the second request"
        assert fast.headers["X-Request-Id"] == "req-1"
    ok, _ = both(app, resolve_layer, path, json=cases[0][0], headers=hub)
    assert ok.status_code == 200 and ok.get_json()["parameters"][0]["value"] == value

    wrapped, _ = both(
        app, resolve_layer, path, json={"parameters": [secret("k", "API_KEY")], "wrap_ttl": "1m"}, headers=hub
    )
    assert wrapped.status_code == 200
    assert set(wrapped.get_json()["wrap"]) == {"token", "ttl", "creation_path"}
    assert wrapped.get_json()["wrap"]["ttl"] == 60


def test_leaves_other_requests_to_flask(app: Any, login: Any, tenant: Tenant, hub_token: str, layer: Any) -> None:
    resolve_layer, handed = layer
    stored(app, login, tenant, "API_KEY")
    path = f"/api/v1/tenants/{tenant.name}/resolve"
    hub = {"Authorization": f"Bearer {hub_token}"}
    good = '{"parameters": [{"name": "k", "type": "SECRET", "value": "API_KEY"}]}'
    cases: list[dict[str, Any]] = [
        {"data": good, "headers": {**hub, "Content-Type": "text/plain"}},  # 415
        {"data": "{not json", "headers": {**hub, "Content-Type": "application/json"}},  # 400
        {"data": "[" * 100_000 + "]" * 100_000, "headers": {**hub, "Content-Type": "application/json"}},  # 400/413
        {"json": {"parameters": [], "extra": 1}, "headers": hub},  # 422 unknown field
        {"json": {"parameters": [{"name": "", "type": "SECRET", "value": "K"}]}, "headers": hub},  # 422
        {"json": {"parameters": [secret("k", "API_KEY")], "wrap_ttl": 5}, "headers": hub},  # 422 TTL range
        {"json": {"parameters": [secret("k", "API_KEY")]}, "headers": {"Authorization": "Basic abc"}},  # 401
        {"json": {"parameters": [secret("k", "API_KEY")]}},  # 401, no token at all
    ]
    for kwargs in cases:
        handed.clear()
        fast, slow = both(app, resolve_layer, path, **kwargs)
        same(fast, slow)
        assert fast.status_code >= 400
        assert handed == [path, path], f"the layer answered {kwargs.get('headers')} itself"

    handed.clear()
    bad_tenant, _ = both(app, resolve_layer, "/api/v1/tenants/..%2Fx/resolve", json={"parameters": []}, headers=hub)
    assert bad_tenant.status_code in (400, 404) and len(handed) == 2

    # A browser session (cookie + CSRF header) is Flask's: the layer takes Bearer tokens only.
    writer = login(tenant.writer, tenant.password)
    handed.clear()
    reply = writer.post(path, json={"parameters": [secret("k", "API_KEY")]})
    assert reply.status_code == 403 and handed == [path]


def test_logs_and_counts_like_flask(
    app: Any, login: Any, tenant: Tenant, hub_token: str, layer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    resolve_layer, _ = layer
    stored(app, login, tenant, "API_KEY")
    path = f"/api/v1/tenants/{tenant.name}/resolve"
    route = "/api/v1/tenants/<tenant>/resolve"
    counted = observe.HTTP_REQUESTS.labels(route, "POST", "200")
    before = counted._value.get()
    with caplog.at_level(logging.INFO, logger="nexo.access"):
        both(app, resolve_layer, path, json={"parameters": [secret("k", "API_KEY")]},
             headers={"Authorization": f"Bearer {hub_token}", "X-Request-Id": "trace-me"})  # fmt: skip
    assert counted._value.get() == before + 2
    lines = [r for r in caplog.records if r.name == "nexo.access" and r.path == path]
    assert len(lines) == 2, [(r.method, r.path, r.status) for r in lines]
    fields = ("method", "route", "path", "status", "remote")
    assert [getattr(lines[0], f) for f in fields] == [getattr(lines[1], f) for f in fields]
    assert [getattr(lines[0], f) for f in fields[:4]] == ["POST", route, path, 200]
