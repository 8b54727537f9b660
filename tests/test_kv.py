"""The KV records' one rule for "deleted", on a real OpenBao mount with `delete_version_after`
set: every version there carries a deletion time in the future from the moment it is written,
and is live until then (issue 21, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app import access, secrets
from tests.conftest import SEEN, BaoServer, Client, Tenant, Users, planted, start_bao_dev, watched_app


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """An OpenBao server of its own whose `secret` mount deletes every version after an hour."""
    server = start_bao_dev(tmp_path_factory.mktemp("bao-dva"))
    access.bootstrap(server.vault, server.root_token)
    assert server.api("POST", "/v1/secret/config", json={"delete_version_after": "1h"}).status_code in (200, 204)
    yield server
    server.process.terminate()
    server.process.wait(10)
    SEEN.append(("vault server log (delete_version_after)", server.log_path.read_text(errors="replace")))


@pytest.fixture(scope="module")
def dva_app(scheduled: BaoServer) -> Any:
    return watched_app(scheduled, "d" * 48)


@pytest.fixture
def dva_tenant(scheduled: BaoServer) -> Tenant:
    return Users(scheduled).tenant()


@pytest.fixture
def writer(dva_app: Any, dva_tenant: Tenant) -> Client:
    return Client(dva_app, dva_tenant.writer, dva_tenant.password)


def url(tenant: Tenant, tail: str = "") -> str:
    return f"/api/v1/tenants/{tenant.name}/secrets{tail}"


def keys(client: Client, tenant: Tenant, **query: Any) -> list[str]:
    reply = client.get(url(tenant), query_string=query)
    assert reply.status_code == 200, reply.get_json()
    return [i["key"] for i in reply.get_json()["items"]]


def versions_of(scheduled: BaoServer, tenant: Tenant, key: str) -> dict[str, Any]:
    reply = scheduled.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/{key}")
    assert reply.status_code == 200
    return dict(reply.json()["data"]["versions"])


def test_the_mount_schedules_a_deletion_on_every_version(
    scheduled: BaoServer, dva_tenant: Tenant, writer: Client
) -> None:
    """The premise of this file: what OpenBao writes on such a mount."""
    assert writer.post(url(dva_tenant), json={"key": "A", "value": planted("dva")}).status_code == 201
    assert all(v["deletion_time"] for v in versions_of(scheduled, dva_tenant, "A").values())


def test_listing_get_and_history_show_scheduled_versions_live(dva_tenant: Tenant, writer: Client) -> None:
    for key in ("A", "B"):
        assert writer.post(url(dva_tenant), json={"key": key, "value": planted("dva")}).status_code == 201
    assert writer.patch(url(dva_tenant, "/A"), json={"value": planted("dva")}).status_code == 200
    assert keys(writer, dva_tenant) == ["A", "B"]
    assert keys(writer, dva_tenant, q="a") == ["A"]
    assert keys(writer, dva_tenant, deleted="true") == []
    item = writer.get(url(dva_tenant, "/A")).get_json()
    assert item["version"] == 2 and "deleted_time" not in item
    history = writer.get(url(dva_tenant, "/A/versions")).get_json()
    assert [(v["version"], v["deleted"]) for v in history["items"]] == [(2, False), (1, False)]
    assert all(v["deletion_time"] for v in history["items"])  # scheduled, shown as Vault has it

    assert writer.delete(url(dva_tenant, "/B")).status_code == 204
    assert keys(writer, dva_tenant) == ["A"]
    assert keys(writer, dva_tenant, deleted="true") == ["B"]
    assert writer.get(url(dva_tenant, "/B")).status_code == 404


def test_import_sees_existing_keys(scheduled: BaoServer, dva_tenant: Tenant, writer: Client) -> None:
    """The bug: the import counted any deletion time as deleted, so on this mount every existing
    key was "created" in a dry run and on_conflict=fail wrote the others."""
    assert writer.post(url(dva_tenant), json={"key": "OLD", "value": planted("dva")}).status_code == 201
    content = f"OLD={planted('dva')}\nNEW={planted('dva')}\n"

    def run(on_conflict: str, dry_run: bool) -> Any:
        body = {"format": "dotenv", "content": content, "on_conflict": on_conflict, "dry_run": dry_run}
        return writer.post(url(dva_tenant, "/import"), json=body)

    for on_conflict, expected in (("skip", "skipped"), ("overwrite", "updated")):
        reply = run(on_conflict, dry_run=True)
        assert reply.status_code == 200, reply.get_json()
        assert {r["key"]: r["status"] for r in reply.get_json()["results"]} == {"OLD": expected, "NEW": "created"}
    for dry_run in (True, False):
        refused = run("fail", dry_run)
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json()["errors"]["existing"] == ["OLD"]
    assert scheduled.api("GET", f"/v1/secret/metadata/tenants/{dva_tenant.name}/NEW").status_code == 404
    assert len(versions_of(scheduled, dva_tenant, "OLD")) == 1  # nothing written

    done = run("skip", dry_run=False)
    assert {r["key"]: r["status"] for r in done.get_json()["results"]} == {"OLD": "skipped", "NEW": "created"}
    assert keys(writer, dva_tenant) == ["NEW", "OLD"]


def test_restore_and_purge(dva_app: Any, scheduled: BaoServer, dva_tenant: Tenant, writer: Client) -> None:
    for key in ("GONE", "LIVE"):
        assert writer.post(url(dva_tenant), json={"key": key, "value": planted("dva")}).status_code == 201
    assert writer.patch(url(dva_tenant, "/LIVE"), json={"value": planted("dva")}).status_code == 200
    # A live key with two scheduled versions is not deleted, nor re-created after a deletion.
    refused = writer.post(url(dva_tenant, "/LIVE/restore"))
    assert refused.status_code == 409 and "is not deleted" in refused.get_json()["message"]

    assert writer.delete(url(dva_tenant, "/GONE")).status_code == 204
    restored = writer.post(url(dva_tenant, "/GONE/restore"))
    assert restored.status_code == 200, restored.get_json()
    assert keys(writer, dva_tenant) == ["GONE", "LIVE"]
    assert all(v["deletion_time"] for v in versions_of(scheduled, dva_tenant, "GONE").values())  # scheduled again

    assert writer.delete(url(dva_tenant, "/GONE")).status_code == 204
    vault = dva_app.extensions["nexo_vault"]
    due = list(secrets.purge(vault, scheduled.root_token, 0, dry_run=True, tenants=[dva_tenant.name]))
    assert [key for _, key, _ in due] == ["GONE"]
    within = list(secrets.purge(vault, scheduled.root_token, 30, tenants=[dva_tenant.name]))
    assert within == []
    purged = list(secrets.purge(vault, scheduled.root_token, 0, tenants=[dva_tenant.name]))
    assert [key for _, key, _ in purged] == ["GONE"]
    assert scheduled.api("GET", f"/v1/secret/metadata/tenants/{dva_tenant.name}/GONE").status_code == 404
    assert keys(writer, dva_tenant) == ["LIVE"]
