"""One caller cannot hold every worker thread with listings: over its share, a 429 with Retry-After."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pytest

from app import errors, limits, secrets
from tests.conftest import BaoServer, Tenant, Users, planted


def test_a_caller_over_its_listings_in_flight_gets_429(app: Any, bao: BaoServer, tenant: Tenant, users: Users) -> None:
    """A caller is the Vault entity: the reader's second sign-in (a new token) gets no more."""
    first = users.token(tenant.reader, tenant.password)
    token = users.token(tenant.reader, tenant.password)
    other = users.token(tenant.writer, tenant.password)
    entity = bao.vault.auth.lookup_self(first).entity_id
    assert entity
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    client = app.test_client()
    held = app.extensions["nexo_listings"]
    # The reader already has as many listings in flight as it may (held here as a request would).
    with ExitStack() as stack:
        for i in range(held.per_caller):
            stack.enter_context(held.hold("e:" + entity, f"10.0.0.{i + 1}"))
        busy = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert busy.status_code == 429 and busy.headers["Retry-After"] == str(limits.RETRY_AFTER)
        assert busy.get_json()["code"] == 429 and "listings in progress" in busy.get_json()["message"]
        # Someone else is answered as usual.
        assert client.get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 200
    # Once those end, the reader is answered again: the places are given back.
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert held._held == {}


def test_one_address_is_bounded_across_its_tokens(app: Any, tenant: Tenant, users: Users) -> None:
    held = app.extensions["nexo_listings"]
    tokens = [f"t:{i}-{planted('t')}" for i in range(held.per_address)]
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    fresh = users.token(tenant.reader, tenant.password)
    with _holding(held, tokens, "127.0.0.1"):
        reply = app.test_client().get(url, headers={"Authorization": f"Bearer {fresh}"})
        assert reply.status_code == 429, reply.get_json()
    assert app.test_client().get(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_sessions_of_one_user_share_one_place_and_so_do_export_and_import(
    app: Any, tenant: Tenant, login: Any, bao: BaoServer
) -> None:
    """Eight sign-ins of one writer are one caller for listings, export and import dry runs alike."""
    sessions = [login(tenant.writer, tenant.password) for _ in range(8)]
    entity = bao.vault.auth.lookup_self(_session_token(app, sessions[0])).entity_id
    held = app.extensions["nexo_listings"]
    base = f"/api/v1/tenants/{tenant.name}/secrets"
    dry_run = {"format": "dotenv", "content": f"A={planted()}\n", "dry_run": True}
    with held.hold("e:" + entity, "192.0.2.1"):
        for client in sessions:
            assert client.get(base).status_code == 429
            assert client.get(base + "/export").status_code == 429
            assert client.post(base + "/import", json=dry_run).status_code == 429
    assert sessions[-1].post(base + "/import", json=dry_run).status_code == 200
    assert held._held == {}


def _session_token(app: Any, client: Any) -> str:
    from app import auth

    cookie = client.http.get_cookie("nexo_session").value
    with app.test_request_context():
        sealed = app.session_interface.get_signing_serializer(app).loads(cookie)["_user_id"]
        opened = auth.unseal(sealed)
    assert opened is not None
    return opened[0]


def test_a_failed_listing_gives_its_place_back(app: Any, tenant: Tenant) -> None:
    held = app.extensions["nexo_listings"]
    for _ in range(held.per_caller + 1):
        # An unknown token: Vault refuses it; the place is still given back each time.
        reply = app.test_client().get(
            f"/api/v1/tenants/{tenant.name}/secrets", headers={"Authorization": "Bearer s.not-a-token"}
        )
        assert reply.status_code in (401, 403)
    assert held._held == {}


def test_hold_counts_and_releases() -> None:
    held = limits.InFlight(per_caller=1, per_address=5)
    with held.hold("a", "x"):
        with pytest.raises(errors.TooManyRequests):
            with held.hold("a", "y"):
                pass
        with held.hold("b", "x"):
            assert held._held["a:x"] == 2
    assert held._held == {}


def test_a_search_reads_at_most_the_scan_budget(app: Any, tenant: Tenant, login: Any, monkeypatch: Any) -> None:
    """A search answers after one scan of SCAN_BUDGET keys, with `next` to continue it."""
    monkeypatch.setattr(secrets, "SCAN_BUDGET", 3)
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(7):
        client.post(url, json={"key": f"K{i}", "description": "mail" if i in (1, 5) else "", "value": planted()})
    first = client.get(url, query_string={"q": "mail"}).get_json()
    assert [i["key"] for i in first["items"]] == ["K1"] and first["next"] == "K2"  # scanned K0..K2
    second = client.get(url, query_string={"q": "mail", "after": first["next"]}).get_json()
    assert [i["key"] for i in second["items"]] == ["K5"] and second["next"] == "K5"  # scanned K3..K5
    third = client.get(url, query_string={"q": "mail", "after": second["next"]}).get_json()
    assert third == {"items": [], "next": None}  # K6: the end


class _holding:
    def __init__(self, held: limits.InFlight, tokens: list[str], address: str) -> None:
        self.contexts = [held.hold(t, address) for t in tokens]

    def __enter__(self) -> None:
        for context in self.contexts:
            context.__enter__()

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self.contexts):
            context.__exit__(None, None, None)
