"""A restore and a re-create of the same deleted key at once: exactly one succeeds, the other is
409, and Vault holds what the winner made; a re-created key starts with no last use (nor does
one deleted for good and made again). Threads
against a real OpenBao server (issue 23)."""

from __future__ import annotations

import threading
from typing import Any

from app import usage
from tests.conftest import BaoServer, Tenant, planted

ROUNDS = 20


def current(bao: BaoServer, tenant: str, key: str) -> tuple[str, int, dict[str, Any]]:
    """The live value, its version and the custom_metadata, read with the root token."""
    reply = bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}").json()["data"]
    return reply["data"]["value"], reply["metadata"]["version"], reply["metadata"]["custom_metadata"] or {}


def test_restore_and_create_at_once_exactly_one_wins(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    restorer = login(tenant.writer, tenant.password)
    creator = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    winners = set()
    for round_ in range(ROUNDS):
        key = f"RACE_{round_}"
        old, new = planted("old"), planted("new")
        assert restorer.post(url, json={"key": key, "value": old}).status_code == 201
        assert restorer.delete(f"{url}/{key}").status_code == 204
        barrier = threading.Barrier(2)
        answers: dict[str, Any] = {}

        def restore(key: str = key, barrier: threading.Barrier = barrier, answers: dict[str, Any] = answers) -> None:
            barrier.wait()
            answers["restore"] = restorer.post(f"{url}/{key}/restore")

        def create(
            key: str = key, new: str = new, barrier: threading.Barrier = barrier, answers: dict[str, Any] = answers
        ) -> None:
            barrier.wait()
            answers["create"] = creator.post(url, json={"key": key, "value": new})

        threads = [threading.Thread(target=restore), threading.Thread(target=create)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        codes = {name: reply.status_code for name, reply in answers.items()}
        assert sorted(codes.values()) in ([200, 409], [201, 409]), {n: r.get_json() for n, r in answers.items()}
        loser = next(reply for reply in answers.values() if reply.status_code == 409).get_json()
        assert set(loser) >= {"code", "status", "message"} and key in loser["message"]
        value, version, custom = current(bao, tenant.name, key)
        if codes["restore"] == 200:
            winners.add("restore")
            assert (value, version) == (old, 1)  # the deleted value back, nothing written on top
        else:
            winners.add("create")
            assert (value, version) == (new, 2)  # a new version on top; the old one stays deleted
        for reply in answers.values():
            text = reply.get_data(as_text=True)
            assert old not in text and new not in text
        assert "recreated_by" not in custom and "restored_by" not in custom or codes["restore"] == 200
        # The listing shows the key once, live.
        listed = restorer.get(f"{url}?q={key}").get_json()["items"]
        assert [i["key"] for i in listed if i["key"] == key] == [key]
    assert winners  # which one wins varies; each round has exactly one


def test_a_recreated_key_starts_with_no_last_use(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert writer.post(url, json={"key": "USED", "value": planted()}).status_code == 201
    # The Hub recorded a use of the first secret (as usage.Recorder does, with a Hub-capable
    # token), and one before last use moved out of the metadata (an upgraded deployment).
    usage.record(bao.vault, bao.root_token, tenant.name, "USED", "2026-01-01T11:00:00Z")
    bao.vault.kv.patch_metadata(bao.root_token, tenant.name, "USED", {"last_used_time": "2026-01-01T10:00:00Z"})
    assert writer.get(f"{url}/USED").get_json()["last_used_time"] == "2026-01-01T11:00:00Z"  # the newer
    # A soft delete keeps it (a restore brings the same secret back).
    assert writer.delete(f"{url}/USED").status_code == 204
    assert usage.last_used(bao.vault, bao.root_token, tenant.name, ["USED"]) == {"USED": "2026-01-01T11:00:00Z"}
    again = writer.post(url, json={"key": "USED", "value": planted()})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["last_used_time"] is None and again.get_json()["version"] == 2
    _, _, custom = current(bao, tenant.name, "USED")
    assert "last_used_time" not in custom and "recreated_by" not in custom
    assert usage.last_used(bao.vault, bao.root_token, tenant.name, ["USED"]) == {}  # the writer removed it
    # Its version history stays: version 1 (deleted) is listed under the new one.
    history = writer.get(f"{url}/USED/versions").get_json()["items"]
    assert [(v["version"], v["deleted"]) for v in history] == [(2, False), (1, True)]
    # A key deleted for good takes its last use with it: made again, it starts unused.
    usage.record(bao.vault, bao.root_token, tenant.name, "USED", "2026-01-01T12:00:00Z")
    assert writer.delete(f"{url}/USED?permanent=true").status_code == 204
    assert usage.last_used(bao.vault, bao.root_token, tenant.name, ["USED"]) == {}
