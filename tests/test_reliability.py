"""Faults caused for real: Vault stopped, sealed, slow, failing or rate-limiting; concurrent writers."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app import access, create_app
from tests.conftest import SEEN, BaoServer, Tenant, Users, planted
from tests.vault_nodes import Node, enable_kv, initialize, unseal, wait_active


def assert_unavailable(reply: Any) -> None:
    body = reply.get_json()
    assert reply.status_code == 503, body
    assert body["code"] == 503 and set(body) <= {"code", "status", "message", "errors"}
    assert int(reply.headers["Retry-After"]) > 0


@pytest.fixture
def server_node(tmp_path: Path) -> Iterator[tuple[Node, str, str]]:
    """A persistent single-node OpenBao (raft storage, file audit) from the deploy config."""
    node = Node(tmp_path / "node")
    node.start()
    key, root = initialize(node)
    unseal(node, key)
    wait_active([node], root)
    enable_kv(node, root)
    yield node, key, root
    node.stop()
    SEEN.append(("openbao server log", node.log()))


@pytest.mark.system
def test_vault_stopped_sealed_and_back(server_node: tuple[Node, str, str]) -> None:
    node, key, root = server_node
    vault_app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [node.addr], "SECRET_KEY": "s" * 48, "VAULT_TIMEOUT": 2})
    from app.vault import Vault

    admin = Vault([node.addr])
    access.bootstrap(admin, root)
    access.provision(admin, root, "acme")
    admin.auth.write_user(root, "alice", "alice-password")
    access.grant(admin, root, "acme", "alice", "write")
    client = vault_app.test_client()
    assert client.post("/api/v1/session", json={"username": "alice", "password": "alice-password"}).status_code == 200
    csrf = client.get("/api/v1/session").get_json()["csrf_token"]
    url = "/api/v1/tenants/acme/secrets"
    assert (
        client.post(url, json={"key": "BEFORE", "value": planted()}, headers={"X-CSRF-Token": csrf}).status_code == 201
    )

    # Stopped: every call is a clean 503 with Retry-After, and readiness says so.
    node.stop()
    started = time.monotonic()
    assert_unavailable(client.get(url))
    print(f"\n503 while Vault is stopped answered in {time.monotonic() - started:.3f}s")
    write = client.post(url, json={"key": "DURING", "value": planted()}, headers={"X-CSRF-Token": csrf})
    assert_unavailable(write)
    assert vault_app.test_client().get("/readyz").status_code == 503

    # Restarted: sealed until unsealed; still 503, not ready.
    node.start()
    assert node.health()["sealed"] is True
    assert_unavailable(client.get(url))
    ready = vault_app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["vault"]["sealed"] is True

    # Unsealed: the service recovers by itself; the session survives; nothing half-written.
    unseal(node, key)
    wait_active([node], root)
    assert vault_app.test_client().get("/readyz").status_code == 200
    keys = [i["key"] for i in client.get(url).get_json()["items"]]
    assert keys == ["BEFORE"]
    assert (
        client.post(url, json={"key": "AFTER", "value": planted()}, headers={"X-CSRF-Token": csrf}).status_code == 201
    )


class FakeVault(http.server.ThreadingHTTPServer):
    """A misbehaving Vault: answers from a script of (status, body) or hangs ('hang')."""

    daemon_threads = True

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _FakeHandler)

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    server: FakeVault

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        step = self.server.script.pop(0) if len(self.server.script) > 1 else self.server.script[0]
        if step == "hang":
            self.server.release.wait(30)
            return
        status, body = step
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[Any]:
    servers: list[FakeVault] = []

    def make(script: list[Any]) -> FakeVault:
        server = FakeVault(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def _bearer_app(addr: str, timeout: float = 5) -> Any:
    return create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [addr], "SECRET_KEY": "f" * 48, "VAULT_TIMEOUT": timeout})


METADATA = {
    "data": {"current_version": 1, "custom_metadata": {"description": "d"}, "created_time": "t", "updated_time": "t"}
}
HEADERS = {"Authorization": "Bearer some-token"}


def test_slow_vault_times_out_with_503(fake: Any) -> None:
    vault = fake(["hang"])
    app = _bearer_app(vault.addr, timeout=0.5)
    started = time.monotonic()
    reply = app.test_client().get("/api/v1/tenants/acme/secrets/K", headers=HEADERS)
    elapsed = time.monotonic() - started
    assert_unavailable(reply)
    print(f"\nslow Vault: 503 after {elapsed:.2f}s with a 0.5s timeout ({len(vault.seen)} attempts)")
    assert 1 <= len(vault.seen) <= 3


def test_reads_are_retried_through_a_5xx_burst(fake: Any) -> None:
    vault = fake([(503, {"errors": ["Vault is sealed"]}), (500, {"errors": ["internal"]}), (200, METADATA)])
    reply = _bearer_app(vault.addr).test_client().get("/api/v1/tenants/acme/secrets/K", headers=HEADERS)
    assert reply.status_code == 200 and reply.get_json()["description"] == "d"
    # + the shape check, the last use, the references
    assert [m for m, _ in vault.seen] == ["GET", "GET", "GET", "GET", "LIST", "LIST"]


def test_writes_are_not_retried(fake: Any) -> None:
    # The caller's name (for created_by) is asked first; then the write fails, and is not resent.
    who = {"data": {"meta": {"username": "alice"}, "policies": [], "entity_id": "e", "ttl": 60, "accessor": "a"}}
    vault = fake([(200, who), (500, {"errors": ["internal"]})])
    body = {"key": "K", "value": planted()}
    reply = _bearer_app(vault.addr).test_client().post("/api/v1/tenants/acme/secrets", json=body, headers=HEADERS)
    assert_unavailable(reply)
    assert [m for m, _ in vault.seen] == ["GET", "POST"]


def test_persistent_5xx_is_503_after_bounded_retries(fake: Any) -> None:
    vault = fake([(502, {"errors": ["bad gateway"]})])
    assert_unavailable(_bearer_app(vault.addr).test_client().get("/api/v1/tenants/acme/secrets", headers=HEADERS))
    assert len(vault.seen) == 3


def test_rate_limited_vault_is_429(fake: Any) -> None:
    vault = fake([(429, {"errors": ["rate limit quota exceeded"]})])
    reply = _bearer_app(vault.addr).test_client().get("/api/v1/tenants/acme/secrets", headers=HEADERS)
    assert reply.status_code == 429 and reply.get_json()["code"] == 429
    assert int(reply.headers["Retry-After"]) >= 1
    assert "quota" not in reply.get_data(as_text=True)  # Vault's text stays in the log


def test_second_address_is_used_when_first_is_down(bao: BaoServer, tenant: Tenant, users: Users) -> None:
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [dead, bao.addr], "SECRET_KEY": "a" * 48})
    token = users.token(tenant.reader, tenant.password)
    reply = app.test_client().get(
        f"/api/v1/tenants/{tenant.name}/secrets", headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200


# -- concurrent writers -----------------------------------------------------------------------


def _writers(app: Any, tenant: Tenant, users: Users, count: int) -> list[Any]:
    tokens = [users.token(tenant.writer, tenant.password) for _ in range(count)]
    return [(app.test_client(), {"Authorization": f"Bearer {t}"}) for t in tokens]


def test_same_version_updates_one_wins(bao: BaoServer, app: Any, tenant: Tenant, users: Users) -> None:
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    clients = _writers(app, tenant, users, 8)
    client, headers = clients[0]
    assert client.post(url, json={"key": "RACE", "value": planted()}, headers=headers).status_code == 201
    values = [planted(f"w{i}") for i in range(len(clients))]
    barrier = threading.Barrier(len(clients))

    def update(i: int) -> int:
        c, h = clients[i]
        barrier.wait()
        return int(c.patch(f"{url}/RACE", json={"value": values[i], "version": 1}, headers=h).status_code)

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = list(pool.map(update, range(len(clients))))
    assert sorted(codes) == [200] + [409] * (len(clients) - 1)
    winner = values[codes.index(200)]
    stored = bao.api("GET", f"/v1/secret/data/tenants/{tenant.name}/RACE").json()["data"]
    assert stored["data"]["value"] == winner and stored["metadata"]["version"] == 2


def test_concurrent_creates_one_201(bao: BaoServer, app: Any, tenant: Tenant, users: Users) -> None:
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    clients = _writers(app, tenant, users, 8)
    values = [planted(f"c{i}") for i in range(len(clients))]
    barrier = threading.Barrier(len(clients))

    def create(i: int) -> int:
        c, h = clients[i]
        barrier.wait()
        return int(
            c.post(url, json={"key": "ONCE", "value": values[i], "description": f"by {i}"}, headers=h).status_code
        )

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = list(pool.map(create, range(len(clients))))
    assert sorted(codes) == [201] + [409] * (len(clients) - 1)
    winner = codes.index(201)
    stored = bao.api("GET", f"/v1/secret/data/tenants/{tenant.name}/ONCE").json()["data"]
    assert stored["data"]["value"] == values[winner] and stored["metadata"]["version"] == 1
    meta = bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/ONCE").json()["data"]
    assert meta["custom_metadata"]["description"] == f"by {winner}"


def test_concurrent_description_edits_lose_nothing(bao: BaoServer, app: Any, tenant: Tenant, users: Users) -> None:
    """Each edit either lands whole (description with its updated_by) or is a 409; none merge."""
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    other, other_pw = users.user()
    access.grant(bao.vault, bao.root_token, tenant.name, other, "write")
    client, headers = _writers(app, tenant, users, 1)[0]
    assert client.post(url, json={"key": "DESC", "value": planted()}, headers=headers).status_code == 201
    people = [(tenant.writer, tenant.password), (other, other_pw)] * 4
    tokens = [users.token(u, p) for u, p in people]
    barrier = threading.Barrier(len(people))

    def edit(i: int) -> tuple[int, str]:
        barrier.wait()
        reply = app.test_client().patch(
            f"{url}/DESC",
            json={"description": f"edit {i} by {people[i][0]}"},
            headers={"Authorization": f"Bearer {tokens[i]}"},
        )
        return int(reply.status_code), f"edit {i} by {people[i][0]}"

    with ThreadPoolExecutor(len(people)) as pool:
        results = list(pool.map(edit, range(len(people))))
    codes = [c for c, _ in results]
    assert set(codes) <= {200, 409} and codes.count(200) >= 1
    final = client.get(f"{url}/DESC", headers=headers).get_json()
    landed = [d for c, d in results if c == 200]
    assert final["description"] in landed
    assert final["description"].endswith("by " + final["updated_by"])
    assert final["version"] == 1
