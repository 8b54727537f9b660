"""The work the service leaves out for speed (issue 6) changes no answer: which Vault calls a
request makes, counted through the adapter's observer hook, and what the list answer holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app import listing, schemas
from tests.conftest import Tenant, Users, planted


@contextmanager
def vault_calls(app: Any) -> Iterator[list[tuple[str, str]]]:
    """Record (method, path) of every Vault request the app makes meanwhile."""
    adapter = app.extensions["nexo_vault"].adapter
    seen: list[tuple[str, str]] = []
    before = adapter.observer

    def record(method: str, url: str, status: int | None, seconds: float) -> None:
        seen.append((method, url.split("?", 1)[0]))
        if before is not None:
            before(method, url, status, seconds)

    adapter.observer = record
    try:
        yield seen
    finally:
        adapter.observer = before


def test_bearer_writer_name_is_looked_up_once_per_token(app: Any, tenant: Tenant, users: Users) -> None:
    token = users.token(tenant.writer, tenant.password)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    with vault_calls(app) as calls:
        first = client.post(url, json={"key": "A", "value": planted()}, headers=headers)
        second = client.post(url, json={"key": "B", "value": planted()}, headers=headers)
        changed = client.patch(f"{url}/A", json={"value": planted()}, headers=headers)
    assert first.status_code == second.status_code == 201 and changed.status_code == 200
    assert first.get_json()["created_by"] == second.get_json()["created_by"] == tenant.writer
    assert changed.get_json()["updated_by"] == tenant.writer
    assert [c for c in calls if c[1].endswith("/lookup-self")] == [("GET", "/v1/auth/token/lookup-self")]

    # Another token of the same user is looked up on its own.
    other = users.token(tenant.writer, tenant.password)
    with vault_calls(app) as calls:
        third = client.post(url, json={"key": "C", "value": planted()}, headers={"Authorization": f"Bearer {other}"})
    assert third.status_code == 201 and third.get_json()["created_by"] == tenant.writer
    assert sum(c[1].endswith("/lookup-self") for c in calls) == 1


def test_resolve_of_one_key_is_one_vault_read(app: Any, tenant: Tenant, bao: Any) -> None:
    from app import access

    creds = access.hub_credentials(bao.vault, bao.root_token, issued_by="test")
    hub = bao.vault.login_approle(creds.role_id, creds.secret_id)["client_token"]
    bao.vault.write_value(bao.root_token, tenant.name, "ONLY", planted(), cas=0)
    client = app.test_client()
    with vault_calls(app) as calls:
        reply = client.post(
            f"/api/v1/tenants/{tenant.name}/resolve",
            json={"parameters": [{"name": "p", "type": "SECRET", "value": "ONLY"}]},
            headers={"Authorization": f"Bearer {hub}"},
        )
    assert reply.status_code == 200
    assert calls == [("GET", f"/v1/secret/data/tenants/{tenant.name}/ONLY")]


def test_fallback_page_reads_only_the_metadata_it_shows(app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(4):
        client.post(url, json={"key": f"K{i}", "description": f"d{i}", "value": planted()})
    vault = app.extensions["nexo_vault"]
    vault._detailed_listing = False
    try:
        with vault_calls(app) as calls:
            page = client.get(url, query_string={"limit": 2}).get_json()
    finally:
        vault._detailed_listing = None
    assert [i["key"] for i in page["items"]] == ["K0", "K1"] and page["next"] == "K1"
    reads = sorted(c[1].rsplit("/", 1)[1] for c in calls if c[0] == "GET" and "/metadata/" in c[1])
    # The tenant's listing mark and the two keys shown; K2 only told that there is more.
    assert reads == sorted([listing.MARK, "K0", "K1"])


def test_list_answer_is_what_the_documented_schema_gives(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    client.post(url, json={"key": "DB", "description": "Primary database", "value": planted()})
    client.post(url, json={"key": "API", "value": planted()})
    body = client.get(url, query_string={"limit": 1}).get_json()
    assert body["next"] == "API" and len(body["items"]) == 1
    assert schemas.SecretPage().dump(body) == body
    last = client.get(url, query_string={"after": "API"}).get_json()
    assert schemas.SecretPage().dump(last) == last and last["next"] is None
    assert last["items"][0]["description"] == "Primary database"
