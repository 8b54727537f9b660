"""High availability: a three-node OpenBao Raft cluster on loopback; the leader is killed mid-load.

Every node runs deploy/openbao/node.hcl (the docker-compose config); on loopback the nodes join
with `sys/storage/raft/join` instead of the compose file's retry_join hostnames.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import access, create_app
from app.vault import Vault
from tests.conftest import SEEN, planted
from tests.vault_nodes import Node, enable_kv, initialize, unseal, wait_active


def _voters(node: Node, token: str) -> int:
    reply = node.sys("GET", "sys/storage/raft/configuration", token)
    if reply.status_code != 200:
        return 0
    return sum(1 for s in reply.json()["data"]["config"]["servers"] if s.get("voter"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[Node], str]]:
    nodes = [Node(tmp_path / f"node{i}") for i in (1, 2, 3)]
    for node in nodes:
        node.start()
    key, root = initialize(nodes[0])
    unseal(nodes[0], key)
    wait_active(nodes[:1], root)
    for node in nodes[1:]:
        node.sys("POST", "sys/storage/raft/join", json={"leader_api_addr": nodes[0].addr}).raise_for_status()
        unseal(node, key)
    # Autopilot promotes the new nodes to voters once they are stable (about 10 s): only then
    # can the cluster lose its leader and still have a quorum.
    deadline = time.monotonic() + 90
    while _voters(nodes[0], root) < 3:
        assert time.monotonic() < deadline, "nodes never became voters"
        time.sleep(0.5)
    enable_kv(nodes[0], root)
    yield nodes, root
    for node in nodes:
        node.stop()
        SEEN.append((f"openbao {node.workdir.name} log", node.log()))


def test_leader_killed_during_writes_and_resolves(cluster: tuple[list[Node], str]) -> None:
    nodes, root = cluster
    admin = Vault([n.addr for n in nodes])
    access.bootstrap(admin, root)
    access.provision(admin, root, "acme")
    admin.auth.write_user(root, "writer", "writer-password")
    access.grant(admin, root, "acme", "writer", "write")
    writer = admin.auth.login_userpass("writer", "writer-password")["client_token"]
    hub = admin.transport.request("POST", "/v1/auth/token/create", root, {"policies": ["nexo-hub"], "ttl": "1h"})[
        "auth"
    ]["client_token"]

    app = create_app(
        {"NEXO_ENV": "test", "VAULT_ADDRS": [n.addr for n in nodes], "SECRET_KEY": "h" * 48, "VAULT_TIMEOUT": 3}
    )
    acknowledged: dict[str, str] = {}
    outcomes: list[tuple[float, str, int]] = []  # (time, kind, status)
    stop = threading.Event()
    lock = threading.Lock()

    def write_loop(worker: int) -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {writer}"}
        n = 0
        while not stop.is_set():
            n += 1
            key, value = f"K{worker}_{n:05d}", planted("ha")
            reply = client.post("/api/v1/tenants/acme/secrets", json={"key": key, "value": value}, headers=headers)
            with lock:
                outcomes.append((time.monotonic(), "write", reply.status_code))
                if reply.status_code == 201:
                    acknowledged[key] = value
                else:
                    body = reply.get_json()
                    assert body["code"] == reply.status_code and "Retry-After" in reply.headers, body
            if reply.status_code != 201:
                time.sleep(0.05)

    def resolve_loop() -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {hub}"}
        while not stop.is_set():
            with lock:
                known = list(acknowledged.items())[:5]
            if not known:
                time.sleep(0.01)
                continue
            params = [{"name": k, "type": "SECRET", "value": k} for k, _ in known]
            reply = client.post("/api/v1/tenants/acme/resolve", json={"parameters": params}, headers=headers)
            with lock:
                outcomes.append((time.monotonic(), "resolve", reply.status_code))
            if reply.status_code == 200:
                got = {p["name"]: p["value"] for p in reply.get_json()["parameters"]}
                assert got == dict(known)
            else:
                assert reply.status_code == 503 and reply.get_json()["code"] == 503
                time.sleep(0.05)

    threads = [threading.Thread(target=write_loop, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=resolve_loop))
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        leader = wait_active(nodes, root)
        killed_at = time.monotonic()
        leader.stop(signal.SIGKILL)
        survivors = [n for n in nodes if n is not leader]
        wait_active(survivors, root, seconds=60)
        time.sleep(3)  # keep writing on the new leader
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    writes_after = [t for t, kind, status in outcomes if kind == "write" and status == 201 and t > killed_at]
    assert writes_after, "no write succeeded after the failover"
    unavailable = writes_after[0] - killed_at
    errors = [(kind, status) for _, kind, status in outcomes if status not in (200, 201)]
    assert {status for _, status in errors} <= {503}, errors
    print(
        f"\nfailover: {len(acknowledged)} writes acknowledged, {len(errors)} clean 503s during the election, "
        f"writes unavailable for {unavailable:.2f}s after the leader was killed"
    )

    # Every acknowledged write is there on the new leader, with its value.
    reader = Vault([n.addr for n in survivors])
    for key, value in acknowledged.items():
        data = reader.transport.request("GET", f"/v1/secret/data/tenants/acme/{key}", root)["data"]
        assert data["data"]["value"] == value, key
