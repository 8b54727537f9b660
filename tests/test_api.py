"""The API's contract: one error shape, validation, OpenAPI, health, configuration, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from app import config, create_app, names
from tests.conftest import SEEN, BaoServer, Tenant, Users, free_port, planted, production_app
from tests.procs import descendants, start_serve, stop

SHAPE = {"code", "status", "message"}


def assert_error(reply: Any, code: int) -> dict[str, Any]:
    body = reply.get_json()
    assert reply.status_code == code, body
    assert SHAPE <= set(body) <= SHAPE | {"errors"}, body
    assert body["code"] == code and "Traceback" not in reply.get_data(as_text=True)
    return dict(body)


def test_flask_errors_use_the_shape(app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.put(f"/api/v1/tenants/{tenant.name}/secrets"), 405)
    assert_error(client.post(f"/api/v1/tenants/{tenant.name}/secrets", data="{", content_type="application/json"), 400)
    assert_error(client.post(f"/api/v1/tenants/{tenant.name}/secrets", data="k=v"), 415)
    huge = "x" * (300 * 1024)
    assert_error(client.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "K", "value": huge}), 413)
    nested = "[" * 100_000 + "]" * 100_000
    assert_error(
        client.post(f"/api/v1/tenants/{tenant.name}/secrets", data=nested, content_type="application/json"), 400
    )


def test_unexpected_error_is_a_clean_500(bao: BaoServer, tenant: Tenant) -> None:
    broken = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": "b" * 48})

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom at http://vault.internal:8200/v1/secret " + planted())

    broken.extensions["nexo_vault"].transport.request = explode
    client = broken.test_client()
    reply = client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password})
    body = assert_error(reply, 500)
    assert "boom" not in body["message"] and "vault.internal" not in reply.get_data(as_text=True)
    SEEN.append(("500 response", reply.get_data(as_text=True)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "K", "value": 12}, "value"),
        ({"key": "K", "value": True}, "value"),
        ({"key": "K", "value": ["a"]}, "value"),
        ({"key": "K", "value": {"a": "b"}}, "value"),
        ({"key": "K", "value": ""}, "value"),
        ({"key": "K"}, "value"),
        ({"value": "v"}, "key"),
        ({"key": "K", "value": "x" * (64 * 1024 + 1)}, "value"),
        ({"key": "K", "value": "v", "description": "x" * 513}, "description"),
        ({"key": "K", "value": "v", "description": "é" * 300}, "description"),
        ({"key": "K", "value": "v", "description": "line\nbreak"}, "description"),
        ({"key": "K", "value": "v", "description": 5}, "description"),
        ({"key": "K", "value": "v", "owner": "me"}, "owner"),
        ({"key": "ＫＥＹ", "value": "v"}, "key"),
        ({"key": "KEY\u200b", "value": "v"}, "key"),
    ],
)
def test_create_validation(body: dict[str, Any], field: str, bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    reply = client.post(f"/api/v1/tenants/{tenant.name}/secrets", json=body)
    errors = assert_error(reply, 422)["errors"]
    assert field in errors
    assert bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/").status_code == 404  # nothing written


def test_update_validation(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    client.post(url, json={"key": "K", "value": planted(), "description": "d"})
    for body, field in (
        ({"value": 5}, "value"),
        ({"version": "1"}, "version"),
        ({"version": 0}, "version"),
        ({"key": "X"}, "key"),
    ):
        assert field in assert_error(client.patch(f"{url}/K", json=body), 422)["errors"]
    assert client.get(f"{url}/K").get_json()["description"] == "d"
    cleared = client.patch(f"{url}/K", json={"description": ""})
    assert cleared.status_code == 200 and cleared.get_json()["description"] == ""


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=100000",
        "limit=abc",
        "after=../x",
        "q=" + "a" * 300,
        "q=" + "a" * 100_000,
        "after=" + "A" * 5000,
        "limit=" + "9" * 400,
    ],
)
def test_list_query_validation(query: str, tenant: Tenant, login: Any) -> None:
    client = login(tenant.reader, tenant.password)
    assert_error(client.get(f"/api/v1/tenants/{tenant.name}/secrets?{query}"), 422)


def test_openapi_documents_every_endpoint(app: Any) -> None:
    doc = app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/session": {"get", "post", "delete"},
        "/api/v1/tenants/{tenant}/secrets": {"get", "post"},
        "/api/v1/tenants/{tenant}/secrets/{key}": {"get", "patch", "delete"},
        "/api/v1/tenants/{tenant}": {"put"},
        "/api/v1/tenants/{tenant}/members": {"get"},
        "/api/v1/tenants/{tenant}/members/{user}": {"put", "delete"},
        "/api/v1/tenants": {"get"},
        "/api/v1/users": {"post"},
        "/api/v1/users/{user}/disable": {"post"},
        "/api/v1/users/{user}/enable": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    create = doc["components"]["schemas"]["SecretCreate"]
    assert create["required"] == ["key", "value"] and create["additionalProperties"] is False
    assert "value" not in doc["components"]["schemas"]["SecretItem"]["properties"]


def test_openapi_document_passes_an_outside_validator(app: Any) -> None:
    """Code generators accept only a valid document: openapi-spec-validator checks it whole."""
    from openapi_spec_validator import OpenAPIV30SpecValidator

    doc = app.test_client().get("/api/openapi.json").get_json()
    problems = [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in OpenAPIV30SpecValidator(doc).iter_errors()]
    assert problems == []


def test_openapi_says_what_the_server_enforces(app: Any) -> None:
    """The rules a fuzzer found missing: patterns, bounds, which operations need no credentials."""
    import re

    from app import rules

    doc = app.test_client().get("/api/openapi.json").get_json()
    paths = doc["paths"]
    no_credentials = ("/healthz", "/readyz", "/metrics", "/api/openapi.json")
    for path, method in [(p, "get") for p in no_credentials] + [("/api/v1/session", "post")]:
        assert paths[path][method]["security"] == [], (path, method)
    description = doc["components"]["schemas"]["SecretCreate"]["properties"]["description"]
    query = {p["name"]: p["schema"] for p in paths["/api/v1/tenants/{tenant}/secrets"]["get"]["parameters"]}
    for pattern in (description["pattern"], query["q"]["pattern"]):
        rule = re.compile(pattern.removesuffix("$") + r"\Z")
        assert rule.match("Primary DB: café, 中文, \U0001f511")
        for char in ("\t", "\x7f", "\x85", "\u200b", "\u2028", "\u202e", "\u00ad", "\ufeff", "\U000e0041"):
            assert not rule.match(f"a{char}"), hex(ord(char))
    assert description["pattern"] == f"^{rules.PRINTABLE_CLASS}*$"
    for name in ("SecretCreate", "SecretUpdate"):
        value = re.compile(doc["components"]["schemas"][name]["properties"]["value"]["pattern"])
        assert value.match("any\nline \u200b") and not value.match("a\x00b"), name
    ttl = doc["components"]["schemas"]["ResolveRequest"]["properties"]["wrap_ttl"]["oneOf"]
    assert ttl[0] == {"type": "integer", "minimum": 10, "maximum": 900}
    duration = re.compile(ttl[1]["pattern"].removesuffix("$") + r"\Z")
    assert [s for s in ("10", "10s", "900", "900s", "1m", "15m") if not duration.match(s)] == []
    assert [s for s in ("9", "901", "0m", "16m", "1h", "010", "999999h") if duration.match(s)] == []


def test_health(app: Any) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["vault"]["sealed"] is False


def test_readyz_when_vault_is_down() -> None:
    app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [f"http://127.0.0.1:{free_port()}"], "SECRET_KEY": "r" * 48})
    reply = app.test_client().get("/readyz")
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "5"
    assert reply.get_json()["vault"] == {"reachable": False}
    login = app.test_client().post("/api/v1/session", json={"username": "a", "password": "b"})
    assert_error(login, 503)
    assert login.headers["Retry-After"]


def test_config_refuses_unsafe_production() -> None:
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.check(config.from_environ({"NEXO_ENV": "production", "VAULT_ADDR": "http://v:8200"}))
    with pytest.raises(config.ConfigError, match="VAULT_TOKEN"):
        config.check(config.from_environ({"NEXO_ENV": "production", "SECRET_KEY": "s" * 40, "VAULT_TOKEN": "x"}))
    config.check(config.from_environ({"NEXO_ENV": "production", "SECRET_KEY": "s" * 40}))
    config.check(config.from_environ({"NEXO_ENV": "test"}))
    assert config.from_environ({"VAULT_ADDR": "http://a:1, http://b:2/"})["VAULT_ADDRS"] == ["http://a:1", "http://b:2"]


def _cli(
    bao: BaoServer, *args: str, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_ADDR": bao.addr, "VAULT_TOKEN": token or bao.root_token}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=60, input=stdin
    )
    SEEN.append(("cli " + " ".join(args[:2]), done.stdout + done.stderr))
    return done


def test_cli_bootstrap_tenant_grant_revoke(bao: BaoServer, users: Users, app: Any) -> None:
    boot = _cli(bao, "bootstrap")
    assert boot.returncode == 0 and "bootstrap done" in boot.stdout
    name = "cli" + planted()[-6:]
    assert _cli(bao, "tenant", "create", name).stdout.strip() == f"tenant {name} created"
    assert _cli(bao, "tenant", "create", name).stdout.strip() == f"tenant {name} updated"
    user = "cli-user-" + planted()[-6:]
    password = "pw-" + planted()[-12:]
    added = _cli(bao, "user", "add", user, "--password", password)
    assert added.returncode == 0, added.stderr
    assert _cli(bao, "grant", user, name, "write").returncode == 0
    client = app.test_client()
    info = client.post("/api/v1/session", json={"username": user, "password": password}).get_json()
    assert info["tenants"] == {name: "write"}
    assert "revoked" in _cli(bao, "revoke", user, name).stdout
    assert client.get("/api/v1/session").get_json()["tenants"] == {}
    bad = _cli(bao, "tenant", "create", "../x")
    assert bad.returncode != 0 and names.TENANT_RULE in bad.stderr
    denied = _cli(bao, "tenant", "create", name, token="not-a-token")
    assert denied.returncode != 0 and "VAULT_TOKEN was refused" in denied.stderr


@pytest.mark.system
def test_service_runs_with_no_vault_token(bao: BaoServer, tenant: Tenant, tmp_path: Path) -> None:
    """`nexo-secrets serve` under gunicorn: no Vault token in any of its processes' environment."""
    env = {
        **os.environ,
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.root_token,  # an operator's shell: serve must drop it
        "SECRET_KEY": "s" * 48,
        "NEXO_ENV": "production",
    }
    log = tmp_path / "serve.log"
    proc, base = start_serve(env, log, workers=1)
    try:
        reply = requests.post(
            base + "/api/v1/session", json={"username": tenant.writer, "password": tenant.password}, timeout=5
        )
        assert reply.status_code == 200
        pids = [proc.pid] + descendants(proc.pid)
        assert len(pids) >= 2  # gunicorn arbiter and a worker
        for pid in pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert not [e for e in environ if e.startswith(b"VAULT_TOKEN=")], pid
            assert bao.root_token.encode() not in b"\0".join(environ)
    finally:
        stop(proc)
        SEEN.append(("gunicorn log", log.read_text()))


def test_strict_transport_security_in_production_only(bao: BaoServer, app: Any) -> None:
    prod = production_app(bao)
    for reply in (prod.test_client().get("/healthz"), prod.test_client().get("/api/v1/nothing")):
        assert reply.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers  # test: plain HTTP


def test_double_slashes_are_not_found_not_redirected(app: Any) -> None:
    """werkzeug would answer a 308 to the merged path on the request's Host: an open redirect."""
    for path in ("/api//v1/session", "/api/v1//session", "/healthz//", "/readyz//x"):
        reply = app.test_client().get(path, headers={"Host": "evil.example"})
        assert "Location" not in reply.headers, path
        assert_error(reply, 404)


def _raw(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the server; its status, headers and body."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.system
def test_gunicorns_own_errors_use_the_shape(bao: BaoServer, tmp_path: Path) -> None:
    """Requests gunicorn refuses before the app sees them are answered in the one error shape too."""
    env = {**os.environ, "VAULT_ADDR": bao.addr, "SECRET_KEY": "g" * 48, "NEXO_ENV": "production"}
    env.pop("VAULT_TOKEN", None)
    log = tmp_path / "serve.log"
    proc, base = start_serve(env, log, workers=1)
    try:
        long_line = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        garbage = b"\x01\x02 nonsense\r\n\r\n"
        too_many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200 + b"\r\n"
        for request, code in ((long_line, 414), (garbage, 400), (too_many, 431)):
            status, headers, body = _raw(base, request)
            assert status == code and headers["Content-Type"] == "application/json", (code, headers, body[:200])
            shape = json.loads(body)
            assert shape["code"] == code and set(shape) == SHAPE, shape
            assert b"aaaa" not in body and b"nonsense" not in body  # nothing of the request echoed
        status, headers, body = _raw(base, b"GET //evil.example/healthz HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        assert status == 404 and "Location" not in headers
    finally:
        stop(proc)
        SEEN.append(("gunicorn log (raw requests)", log.read_text()))


@pytest.mark.parametrize(
    ("method", "path", "field", "message", "rule"),
    [
        ("get", "/api/v1/tenants/Bad_Tenant/secrets", "tenant", "Invalid tenant name", names.TENANT_RULE),
        ("patch", "/api/v1/tenants/{t}/secrets/1KEY", "key", "Invalid key", names.KEY_RULE),
        ("put", "/api/v1/tenants/{t}/members/-bob", "user", "Invalid user name", names.USER_RULE),
    ],
)
def test_a_bad_name_in_the_path_is_refused_where_it_comes_in(
    method: str, path: str, field: str, message: str, rule: str, app: Any, tenant: Tenant, login: Any
) -> None:
    """The route converters check each name once: the same 400 for every route, before any Vault call."""
    client = login(tenant.writer, tenant.password)
    adapter = app.extensions["nexo_vault"].transport
    seen: list[str] = []
    before = adapter.observer
    adapter.observer = lambda method, url, status, seconds: seen.append(url)
    try:
        reply = getattr(client, method)(path.format(t=tenant.name), json={"value": planted("refused-name")})
    finally:
        adapter.observer = before
    assert reply.status_code == 400
    assert reply.get_json() == {"code": 400, "status": "Bad Request", "message": message, "errors": {field: [rule]}}
    assert seen == []


def test_every_errors_detail_maps_fields_to_messages(tenant: Tenant, login: Any) -> None:
    """One shape for `errors` whichever layer refused: webargs, a route converter, a service."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert client.post(url, json={"key": "TAKEN", "value": planted("shape")}).status_code == 201
    answers = {
        "body": (client.post(url, json={"key": "1BAD", "value": planted("shape")}), "key"),
        "query": (client.get(f"{url}?limit=0"), "limit"),
        "nested": (
            client.post(
                f"/api/v1/tenants/{tenant.name}/resolve",
                json={"parameters": [{"name": "", "type": "SECRET", "value": "TAKEN"}]},
            ),
            "parameters.0.name",
        ),
        "path": (client.get("/api/v1/tenants/Not_A_Tenant/secrets"), "tenant"),
        "exists": (client.post(url, json={"key": "TAKEN", "value": planted("shape")}), "key"),
        "version": (client.patch(f"{url}/TAKEN", json={"version": 7, "description": "d"}), "version"),
    }
    for what, (reply, field) in answers.items():
        found = reply.get_json()["errors"]
        assert field in found, (what, found)
        assert all(isinstance(m, str) for messages in found.values() for m in messages), (what, found)
