"""What each request costs in Vault calls: which Vault calls a
request makes, counted through the adapter's observer hook, and what the list answer holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app import schemas
from tests.conftest import Tenant, planted


@contextmanager
def vault_calls(app: Any) -> Iterator[list[tuple[str, str]]]:
    """Record (method, path) of every Vault request the app makes meanwhile."""
    adapter = app.extensions["nexo_vault"].transport
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


def test_resolve_of_one_key_is_one_vault_read(app: Any, tenant: Tenant, bao: Any) -> None:
    from app import access

    creds = access.hub_credentials(bao.vault, bao.root_token, issued_by="test")
    hub = bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
    bao.vault.kv.write_value(bao.root_token, tenant.name, "ONLY", planted(), cas=0)
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
    vault.kv.detailed = False
    try:
        with vault_calls(app) as calls:
            page = client.get(url, query_string={"limit": 2}).get_json()
    finally:
        vault.kv.detailed = None
    assert [i["key"] for i in page["items"]] == ["K0", "K1"] and page["next"] == "K1"
    reads = sorted(c[1].rsplit("/", 1)[1] for c in calls if c[0] == "GET" and "/metadata/" in c[1])
    # The two keys shown; K2 only told that there is more.
    assert reads == ["K0", "K1"]


def test_first_page_is_one_detailed_list(app: Any, tenant: Tenant, login: Any) -> None:
    """A page is one LIST of OpenBao's detailed metadata, limit + 1 (to know there is more), one
    plain LIST of the tenant's last-use entries from the page's first key, and one of its
    references (the counts). Last use has a folder of its own so the Hub's run tokens may write
    there and not among the references (vault-policies/nexo-hub-run.hcl)."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(3):
        client.post(url, json={"key": f"K{i}", "value": planted()})
    with vault_calls(app) as calls:
        page = client.get(url, query_string={"limit": 2}).get_json()
    assert [i["key"] for i in page["items"]] == ["K0", "K1"] and page["next"] == "K1"
    assert calls == [
        ("LIST", f"/v1/secret/detailed-metadata/tenants/{tenant.name}/"),
        ("LIST", f"/v1/secret/metadata/references/{tenant.name}/~used/"),
        ("LIST", f"/v1/secret/metadata/references/{tenant.name}/"),
    ]


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
