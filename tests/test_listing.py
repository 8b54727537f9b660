"""Kept listing pages (app/listing.py) are answered only while they are current, and only to callers
Vault still lets list the tenant. Two apps on one OpenBao stand for two workers or replicas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app import access, listing
from tests.conftest import BaoServer, Client, Tenant, planted, watched_app


@pytest.fixture(scope="module")
def other_worker(bao: BaoServer) -> Any:
    """A second app on the same Vault, with its own kept pages."""
    return watched_app(bao, "w" * 48)


@pytest.fixture
def lists(app: Any) -> Iterator[list[str]]:
    """The tenants Vault was asked to LIST (kept pages ask nobody)."""
    vault = app.extensions["nexo_vault"]
    real = vault.list_detailed
    asked: list[str] = []

    def counting(token: str, tenant: str, *args: Any) -> Any:
        asked.append(tenant)
        return real(token, tenant, *args)

    vault.list_detailed = counting
    try:
        yield asked
    finally:
        vault.list_detailed = real


def keys(client: Any, tenant: str, **query: Any) -> list[str]:
    reply = client.get(f"/api/v1/tenants/{tenant}/secrets", query_string=query)
    assert reply.status_code == 200, reply.get_json()
    return [item["key"] for item in reply.get_json()["items"]]


def test_changes_through_any_worker_show_at_once(
    app: Any, other_worker: Any, tenant: Tenant, login: Any, lists: list[str]
) -> None:
    writer = Client(other_worker, tenant.writer, tenant.password)
    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert writer.post(url, json={"key": "A_KEY", "value": planted(), "description": "one"}).status_code == 201

    assert keys(reader, tenant.name) == ["A_KEY"]
    assert keys(reader, tenant.name) == ["A_KEY"]
    assert lists == [tenant.name], "the second listing was answered from the kept page"

    assert writer.post(url, json={"key": "B_KEY", "value": planted()}).status_code == 201
    assert keys(reader, tenant.name) == ["A_KEY", "B_KEY"]
    assert writer.patch(f"{url}/A_KEY", json={"description": "two"}).status_code == 200
    assert reader.get(url).get_json()["items"][0]["description"] == "two"
    assert writer.patch(f"{url}/A_KEY", json={"value": planted()}).status_code == 200
    assert reader.get(url).get_json()["items"][0]["version"] == 2
    assert writer.delete(f"{url}/B_KEY").status_code == 204
    assert keys(reader, tenant.name) == ["A_KEY"]
    assert len(lists) == 5, "each change made the next listing ask Vault"


def test_kept_page_needs_the_callers_permission(
    app: Any, bao: BaoServer, tenant: Tenant, users: Any, login: Any
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert writer.post(url, json={"key": "K", "value": planted()}).status_code == 201
    reader = login(tenant.reader, tenant.password)
    assert keys(reader, tenant.name) == ["K"]

    stranger = users.tenant()
    outsider = login(stranger.writer, stranger.password)
    assert outsider.get(url).status_code == 403

    access.revoke(bao.vault, bao.root_token, tenant.name, tenant.reader)
    refused = reader.get(url)
    assert refused.status_code == 403 and "no access" in refused.get_json()["message"]


def test_mark_is_never_shown_and_paging_counts_without_it(
    app: Any, tenant: Tenant, login: Any, lists: list[str]
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(3):
        assert writer.post(url, json={"key": f"K{i}", "value": planted()}).status_code == 201
    first = writer.get(url, query_string={"limit": 2}).get_json()
    assert [i["key"] for i in first["items"]] == ["K0", "K1"] and first["next"] == "K1"
    rest = writer.get(url, query_string={"limit": 2, "after": "K1"}).get_json()
    assert [i["key"] for i in rest["items"]] == ["K2"] and rest["next"] is None
    assert keys(writer, tenant.name, limit=3) == ["K0", "K1", "K2"]
    assert keys(writer, tenant.name, q="k") == ["K0", "K1", "K2"]
    assert writer.get(f"{url}/{listing.MARK}").status_code == 400

    vault = app.extensions["nexo_vault"]
    pages = app.extensions.pop("nexo_pages")
    vault._detailed_listing = False  # the HashiCorp Vault fallback
    try:
        fallback = writer.get(url, query_string={"limit": 2}).get_json()
    finally:
        vault._detailed_listing = None
        app.extensions["nexo_pages"] = pages
    assert fallback == first


def test_changes_around_the_service_show_within_max_age(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert writer.post(url, json={"key": "VIA_SERVICE", "value": planted()}).status_code == 201
    assert keys(writer, tenant.name) == ["VIA_SERVICE"]

    # An operator writes straight into Vault: no new mark, so the kept page still answers...
    made = bao.api("POST", f"/v1/secret/data/tenants/{tenant.name}/VIA_CLI", json={"data": {"value": planted()}})
    assert made.status_code == 200
    assert keys(writer, tenant.name) == ["VIA_SERVICE"]
    # ...until it is max_age old.
    later = listing.time.monotonic() + app.extensions["nexo_pages"].max_age + 1
    monkeypatch.setattr(listing.time, "monotonic", lambda: later)
    assert keys(writer, tenant.name) == ["VIA_CLI", "VIA_SERVICE"]


def test_pages_are_bounded() -> None:
    pages = listing.Pages(max_age=60, size=2)
    for n in range(3):
        pages.put(("t", None, n), "m", n)
    assert pages.get(("t", None, 0), "m") is None
    assert pages.get(("t", None, 2), "m") == 2
    assert pages.get(("t", None, 2), "other mark") is None


def test_every_policy_that_reads_the_mark_may_list_the_tenant(bao: BaoServer, tenant: Tenant) -> None:
    """A kept page stands for a LIST: whoever Vault lets read the mark must be let list too."""
    mark_path = f"secret/metadata/tenants/{tenant.name}/{listing.MARK}"
    list_path = f"secret/metadata/tenants/{tenant.name}/"
    policies = [access.policy_name(tenant.name, p) for p in access.PERMISSIONS] + list(access.STATIC_POLICIES)
    readers = 0
    for policy in policies:
        made = bao.api("POST", "/v1/auth/token/create", json={"policies": [policy], "ttl": "5m"})
        token = made.json()["auth"]["client_token"]
        reply = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [mark_path, list_path]})
        assert reply.status_code == 200, reply.text
        capabilities = reply.json()
        if "read" in capabilities[mark_path] or "root" in capabilities[mark_path]:
            readers += 1
            assert "list" in capabilities[list_path], policy
    assert readers >= 3  # the tenant's readers and writers, and auditors
