"""Tenant secrets through the HTTP API against a real OpenBao server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import secrets
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


def all_pages(client: Any, tenant: str, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following `next` to the end."""
    pages: list[dict[str, Any]] = []
    after = None
    while len(pages) < 100:
        page_query = {"limit": limit, **query, **({"after": after} if after else {})}
        reply = client.get(f"/api/v1/tenants/{tenant}/secrets", query_string=page_query)
        assert reply.status_code == 200, reply.get_json()
        pages.append(reply.get_json())
        assert len(pages[-1]["items"]) <= limit
        after = pages[-1]["next"]
        if after is None:
            return pages
    raise AssertionError("the listing never ended")


def listed(pages: list[dict[str, Any]]) -> list[str]:
    return [item["key"] for page in pages for item in page["items"]]


@pytest.mark.parametrize("detailed", [None, False], ids=["openbao", "hashicorp-fallback"])
def test_a_sparse_search_past_the_budget_answers_what_it_found_and_next(
    app: Any, tenant: Tenant, login: Any, monkeypatch: Any, detailed: bool | None
) -> None:
    """Matches spread beyond the scan budget: each request reads at most the budget, answers the
    items it found (maybe none) and a `next`; following it finds every match once, in order."""
    monkeypatch.setattr(secrets, "SCAN_BUDGET", 10)
    monkeypatch.setattr(secrets, "_FALLBACK_SCAN_BUDGET", 10)
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    matches = {2, 3, 4, 21, 22, 38}
    for n in range(40):
        body = {"key": f"K{n:02d}", "description": "needle" if n in matches else "hay", "value": planted()}
        assert client.post(url, json=body).status_code == 201
    vault = app.extensions["nexo_vault"]
    listed_keys: list[int] = []  # keys each LIST asked for, beyond the one that says "more"
    real_detailed, real_keys = vault.kv.list_detailed, vault.kv.list_keys

    def count(real: Any) -> Any:
        def call(token: str, tenant: str, after: str | None, limit: int | None) -> Any:
            answer = real(token, tenant, after, limit)
            if answer is not None:  # None: no detailed LIST (the fallback lists keys next)
                listed_keys.append((limit or 0) - 1)
            return answer

        return call

    monkeypatch.setattr(vault.kv, "list_detailed", count(real_detailed))
    monkeypatch.setattr(vault.kv, "list_keys", count(real_keys))
    vault.kv.detailed = detailed
    try:
        pages = all_pages(client, tenant.name, 2, q="needle")
        requests = len(pages)
        assert sum(listed_keys) <= 10 * requests
    finally:
        vault.kv.detailed = None
    assert listed(pages) == [f"K{n:02d}" for n in sorted(matches)]
    # Reads of 2 then 8 keys per request: a full page stops early (K04 is the next one), a
    # request that spends the budget answers what it found, even nothing, and its last key.
    assert [len(page["items"]) for page in pages] == [2, 1, 2, 0, 1]
    assert [page["next"] for page in pages] == ["K03", "K13", "K23", "K33", None]


def test_the_scan_budget_is_documented(app: Any) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    listing = spec["paths"]["/api/v1/tenants/{tenant}/secrets"]["get"]["description"]
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for text in (listing, readme):
        assert f"at most {secrets.SCAN_BUDGET:,} keys (500 on HashiCorp Vault" in text
    assert secrets._FALLBACK_SCAN_BUDGET == 500


def test_a_page_is_filled_past_deleted_keys(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for n in range(12):
        assert client.post(url, json={"key": f"K{n:02d}", "value": planted()}).status_code == 201
    for n in (0, 1, 2, 3, 4, 5, 8, 11):
        assert client.delete(f"{url}/K{n:02d}").status_code == 204
    pages = all_pages(client, tenant.name, 3)
    assert [[i["key"] for i in page["items"]] for page in pages] == [["K06", "K07", "K09"], ["K10"]]
    assert pages[0]["next"] == "K09"
    deleted = all_pages(client, tenant.name, 3, deleted="true")
    assert [[i["key"] for i in page["items"]] for page in deleted] == [
        ["K00", "K01", "K02"],
        ["K03", "K04", "K05"],
        ["K08", "K11"],
    ]
    # Recently deleted among many live keys: the page is full all the same.
    sparse = all_pages(client, tenant.name, 2, deleted="true", after="K05")
    assert [[i["key"] for i in page["items"]] for page in sparse] == [["K08", "K11"]]


def test_the_expiring_filter_fills_its_page(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for n in range(9):
        body: dict[str, Any] = {"key": f"K{n}", "value": planted()}
        if n in (1, 6, 8):
            body["expires_at"] = "2020-01-01"  # expired: within any window
        assert client.post(url, json=body).status_code == 201
    pages = all_pages(client, tenant.name, 2, expiring_within_days=30)
    assert [[i["key"] for i in page["items"]] for page in pages] == [["K1", "K6"], ["K8"]]


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


FORMAT_CHARACTERS = ["\u200b", "\u2028", "\u202e", "\u00ad", "\ufeff", "\U000e0041", "\u00a0", "\x85"]


def test_descriptions_vault_would_refuse_are_422_and_write_nothing(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    """Vault refuses unprintable custom_metadata after the value was written: the service checks first."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    first = planted("format")
    assert client.post(url, json={"key": "FORMAT_KEY", "value": first, "description": "plain"}).status_code == 201
    for n, char in enumerate(FORMAT_CHARACTERS):
        key = f"FORMAT_{n}"
        created = client.post(url, json={"key": key, "value": planted("format"), "description": f"a{char}b"})
        assert created.status_code == 422, (hex(ord(char)), created.get_json())
        assert "description" in created.get_json()["errors"]
        assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/{key}").status_code == 404
        patched = client.patch(f"{url}/FORMAT_KEY", json={"value": planted("format"), "description": f"a{char}"})
        assert patched.status_code == 422, hex(ord(char))
        assert vault_value(bao, tenant.name, "FORMAT_KEY") == (first, 1)
    # What Vault accepts passes: letters, marks, symbols, emoji, the ASCII space.
    ok = client.patch(f"{url}/FORMAT_KEY", json={"description": "Café e\u0301 \u2603 \U0001f511 \u4e2d"})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["description"] == "Café e\u0301 \u2603 \U0001f511 \u4e2d"


def test_lone_surrogates_are_422(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    bodies = [
        '{"key": "SURROGATE", "value": "x", "description": "a\\ud800"}',
        '{"key": "SURROGATE", "value": "a\\udfff"}',
    ]
    for body in bodies:
        reply = client.post(url, data=body, content_type="application/json")
        assert reply.status_code == 422, (body, reply.get_json())
        assert reply.get_json()["code"] == 422


def test_a_create_whose_metadata_write_fails_leaves_nothing(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, monkeypatch: Any
) -> None:
    """A fault after the value write (Vault refusing or failing the metadata write) is undone."""
    from app.vault import errors

    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    kv = app.extensions["nexo_vault"].kv

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise errors.Invalid()

    with monkeypatch.context() as patch:
        patch.setattr(kv, "write_metadata", refuse)
        failed = client.post(url, json={"key": "HALF_MADE", "value": planted("half"), "description": "d"})
    assert failed.status_code == 400 and failed.get_json()["code"] == 400
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/HALF_MADE").status_code == 404
    retried = client.post(url, json={"key": "HALF_MADE", "value": planted("half"), "description": "d"})
    assert retried.status_code == 201 and retried.get_json()["created_by"] == tenant.writer


@pytest.mark.parametrize("failing", ["patch_metadata", "write_value"])
def test_an_update_that_fails_halfway_changes_nothing(
    failing: str, app: Any, bao: BaoServer, tenant: Tenant, login: Any, monkeypatch: Any
) -> None:
    """Value and description change together or not at all, whichever of the two writes fails."""
    from app.vault import errors

    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    first = planted("whole")
    assert client.post(url, json={"key": "WHOLE", "value": first, "description": "before"}).status_code == 201
    kv = app.extensions["nexo_vault"].kv

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise errors.Conflict()

    with monkeypatch.context() as patch:
        patch.setattr(kv, failing, refuse)
        failed = client.patch(f"{url}/WHOLE", json={"value": planted("whole"), "description": "after"})
    assert failed.status_code == 409
    item = client.get(f"{url}/WHOLE").get_json()
    assert item["description"] == "before" and item["updated_by"] == tenant.writer
    assert vault_value(bao, tenant.name, "WHOLE") == (first, 1)


def test_the_printable_rule_is_pythons_isprintable_over_every_code_point() -> None:
    """The class is built from a partial scan (planes 4-13 unassigned, 15-16 private use)."""
    import sys

    from app import rules

    allowed = rules.PRINTABLE_RE
    assert all(bool(allowed.match(c)) == c.isprintable() for c in map(chr, range(sys.maxunicode + 1)))
