"""Tenant secrets through the HTTP API against a real OpenBao server."""

from __future__ import annotations

from typing import Any

from tests.conftest import BaoServer, Tenant, planted


def vault_value(bao: BaoServer, tenant: str, key: str) -> tuple[str, int]:
    """Read the stored value with a privileged token, bypassing the service."""
    reply = bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}").json()["data"]
    return reply["data"]["value"], reply["metadata"]["version"]


def test_round_trip(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    first = planted("first")

    created = client.post(url, json={"key": "DATABASE_PASSWORD", "description": "Primary DB", "value": first})
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["key"] == "DATABASE_PASSWORD" and item["description"] == "Primary DB"
    assert item["version"] == 1 and item["created_by"] == tenant.writer == item["updated_by"]
    assert "value" not in item
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (first, 1)

    listed = client.get(url).get_json()
    assert [i["key"] for i in listed["items"]] == ["DATABASE_PASSWORD"] and listed["next"] is None
    assert listed["items"][0]["description"] == "Primary DB"

    got = client.get(f"{url}/DATABASE_PASSWORD")
    assert got.status_code == 200 and got.get_json()["version"] == 1

    # A description edit changes no version and keeps the value.
    edited = client.patch(f"{url}/DATABASE_PASSWORD", json={"description": "Primary DB (rotated monthly)"})
    assert edited.status_code == 200
    assert edited.get_json()["version"] == 1
    assert edited.get_json()["description"] == "Primary DB (rotated monthly)"
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (first, 1)

    # A value edit makes a new version.
    second = planted("second")
    bumped = client.patch(f"{url}/DATABASE_PASSWORD", json={"value": second})
    assert bumped.status_code == 200 and bumped.get_json()["version"] == 2
    assert bumped.get_json()["description"] == "Primary DB (rotated monthly)"
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (second, 2)

    # An empty value keeps the current one.
    kept = client.patch(f"{url}/DATABASE_PASSWORD", json={"value": "", "description": "kept"})
    assert kept.status_code == 200 and kept.get_json()["version"] == 2
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (second, 2)

    deleted = client.delete(f"{url}/DATABASE_PASSWORD")
    assert deleted.status_code == 204
    assert client.get(f"{url}/DATABASE_PASSWORD").status_code == 404
    # A soft delete (tests/test_recovery.py): Vault keeps the metadata, the current version is deleted.
    meta = bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/DATABASE_PASSWORD").json()["data"]
    assert meta["versions"]["2"]["deletion_time"] and not meta["versions"]["1"]["deletion_time"]
    assert client.delete(f"{url}/DATABASE_PASSWORD").status_code == 404


def test_create_existing_key_is_409_and_keeps_it(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    original = planted()
    assert client.post(url, json={"key": "SMTP_API_KEY", "description": "orig", "value": original}).status_code == 201
    again = client.post(url, json={"key": "SMTP_API_KEY", "description": "new", "value": planted()})
    assert again.status_code == 409
    body = again.get_json()
    assert body["code"] == 409 and body["status"] == "Conflict" and "already exists" in body["message"]
    assert "key" in body["errors"]
    assert vault_value(bao, tenant.name, "SMTP_API_KEY") == (original, 1)
    assert client.get(f"{url}/SMTP_API_KEY").get_json()["description"] == "orig"


def test_update_with_stale_version_is_409(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    client.post(url, json={"key": "K", "value": planted()})
    client.patch(f"{url}/K", json={"value": planted()})
    stale = client.patch(f"{url}/K", json={"value": planted(), "version": 1})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    assert vault_value(bao, tenant.name, "K")[1] == 2
    fresh = client.patch(f"{url}/K", json={"value": planted(), "version": 2})
    assert fresh.status_code == 200 and fresh.get_json()["version"] == 3


def test_paging_and_filter(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(7):
        desc = "mail relay" if i % 3 == 0 else "other"
        assert client.post(url, json={"key": f"KEY_{i}", "description": desc, "value": planted()}).status_code == 201
    seen: list[str] = []
    after = None
    while True:
        query = {"limit": 3} | ({"after": after} if after else {})
        page = client.get(url, query_string=query).get_json()
        assert len(page["items"]) <= 3
        seen += [i["key"] for i in page["items"]]
        after = page["next"]
        if not after:
            break
    assert seen == [f"KEY_{i}" for i in range(7)]
    found = client.get(url, query_string={"q": "MAIL"}).get_json()
    assert [i["key"] for i in found["items"]] == ["KEY_0", "KEY_3", "KEY_6"]
    by_key = client.get(url, query_string={"q": "key_5"}).get_json()
    assert [i["key"] for i in by_key["items"]] == ["KEY_5"]
    paged = client.get(url, query_string={"q": "mail", "limit": 2}).get_json()
    assert [i["key"] for i in paged["items"]] == ["KEY_0", "KEY_3"] and paged["next"] == "KEY_3"
    rest = client.get(url, query_string={"q": "mail", "limit": 2, "after": "KEY_3"}).get_json()
    assert [i["key"] for i in rest["items"]] == ["KEY_6"] and rest["next"] is None


def test_listing_fallback_for_hashicorp_vault(app: Any, tenant: Tenant, login: Any) -> None:
    """Without OpenBao's detailed-metadata, listing reads metadata key by key; same answer."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(4):
        client.post(url, json={"key": f"F{i}", "description": f"d{i}", "value": planted()})
    detailed = client.get(url, query_string={"limit": 3}).get_json()
    vault = app.extensions["nexo_vault"]
    vault.kv.detailed = False
    try:
        fallback = client.get(url, query_string={"limit": 3}).get_json()
        second = client.get(url, query_string={"limit": 3, "after": fallback["next"]}).get_json()
    finally:
        vault.kv.detailed = None
    assert fallback == detailed
    assert [i["key"] for i in second["items"]] == ["F3"] and second["next"] is None


def test_empty_tenant_lists_nothing(tenant: Tenant, login: Any) -> None:
    client = login(tenant.reader, tenant.password)
    reply = client.get(f"/api/v1/tenants/{tenant.name}/secrets")
    assert reply.status_code == 200 and reply.get_json() == {"items": [], "next": None}


def test_unknown_key_is_404(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets/NOPE"
    for reply in (client.get(url), client.patch(url, json={"description": "x"}), client.delete(url)):
        assert reply.status_code == 404
        assert reply.get_json()["code"] == 404 and "NOPE" in reply.get_json()["message"]
