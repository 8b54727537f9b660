"""Data written around the service (a writer's own `bao kv put`): resolve refuses any shape but
{"value": "<string>"} with reason `malformed`, never a 500 or a repr; listing, one item, history
and export mark such a key. Against a real OpenBao server, entries written with a writer's token."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import access, rules
from tests.conftest import BaoServer, Tenant, Users, planted

GOOD = "GOOD_KEY"


def shapes() -> dict[str, dict[str, Any]]:
    """Each key and the data a writer put there directly (values planted where there is one)."""
    return {
        "NO_VALUE": {"password": planted("novalue")},
        "NULL_VALUE": {"value": None},
        "NUMBER_VALUE": {"value": 4711},
        "TRUE_VALUE": {"value": True},
        "OBJECT_VALUE": {"value": {"inner": planted("object")}},
        "LIST_VALUE": {"value": [planted("list")]},
        "EXTRA_FIELDS": {"value": planted("extra"), "note": planted("note")},
        "HUGE_VALUE": {"value": planted("huge") + "x" * rules.MAX_VALUE_BYTES},
    }


# What KV v2 subkeys can tell without a value: the structure, not a scalar's type or size.
BY_STRUCTURE = {"NO_VALUE", "OBJECT_VALUE", "EXTRA_FIELDS"}


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


@pytest.fixture(scope="module")
def written(users: Users, bao: BaoServer) -> tuple[Tenant, dict[str, dict[str, Any]], str]:
    """A tenant with one good key made through the service and each odd shape put in directly."""
    tenant = users.tenant()
    token = users.token(tenant.writer, tenant.password)
    good = planted("good")
    made = bao.api("POST", f"/v1/secret/data/tenants/{tenant.name}/{GOOD}", token, json={"data": {"value": good}})
    assert made.status_code == 200
    found = shapes()
    for key, data in found.items():
        reply = bao.api("POST", f"/v1/secret/data/tenants/{tenant.name}/{key}", token, json={"data": data})
        assert reply.status_code == 200, reply.text
    return tenant, found, good


def resolve(app: Any, token: str, tenant: str, keys: list[str], wrap: bool = False) -> Any:
    body: dict[str, Any] = {"parameters": [{"name": k.lower(), "type": "SECRET", "value": k} for k in keys]}
    if wrap:
        body["wrap_ttl"] = 60
    return app.test_client().post(
        f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def no_planted(reply: Any, data: dict[str, Any]) -> None:
    text = reply.get_data(as_text=True)
    for value in json.dumps(data).split('"'):
        if value.startswith("PLANTED-"):
            assert value[:60] not in text
    assert "{'" not in text and "None" not in text  # no Python repr


def test_resolve_answers_malformed_for_each_shape_all_or_nothing(
    app: Any, written: tuple[Tenant, dict[str, dict[str, Any]], str], hub_token: str
) -> None:
    tenant, found, good = written
    assert resolve(app, hub_token, tenant.name, [GOOD]).get_json()["parameters"][0]["value"] == good
    for key, data in found.items():
        reply = resolve(app, hub_token, tenant.name, [GOOD, key])
        assert reply.status_code == 422, (key, reply.get_json())
        body = reply.get_json()
        assert set(body) == {"code", "status", "message", "errors"}
        assert body["errors"]["unresolved"] == [{"name": key.lower(), "key": key, "reason": "malformed"}]
        assert good not in reply.get_data(as_text=True)  # all or nothing
        no_planted(reply, data)


def test_a_wrapped_resolve_refuses_what_the_structure_shows(
    app: Any, written: tuple[Tenant, dict[str, dict[str, Any]], str], hub_token: str
) -> None:
    tenant, found, _ = written
    for key in BY_STRUCTURE:
        reply = resolve(app, hub_token, tenant.name, [GOOD, key], wrap=True)
        assert reply.status_code == 422, (key, reply.get_json())
        assert reply.get_json()["errors"]["unresolved"] == [{"name": key.lower(), "key": key, "reason": "malformed"}]
        no_planted(reply, found[key])


def test_listing_item_history_and_export_mark_a_malformed_key(
    login: Any, written: tuple[Tenant, dict[str, dict[str, Any]], str]
) -> None:
    tenant, found, _ = written
    reader = login(tenant.reader, tenant.password)
    base = f"/api/v1/tenants/{tenant.name}/secrets"
    listed = reader.get(base + "?limit=100")
    assert listed.status_code == 200
    marks = {item["key"]: item["malformed"] for item in listed.get_json()["items"]}
    assert marks == {GOOD: False, **{key: key in BY_STRUCTURE for key in found}}
    exported = reader.get(base + "/export?format=json").get_json()
    assert {item["key"]: item["malformed"] for item in exported} == marks
    for key in found:
        assert reader.get(f"{base}/{key}").get_json()["malformed"] is (key in BY_STRUCTURE)
        history = reader.get(f"{base}/{key}/versions").get_json()["items"]
        assert history[0]["malformed"] is (key in BY_STRUCTURE)
    assert reader.get(f"{base}/{GOOD}").get_json()["malformed"] is False
    for reply in (listed, reader.get(base + "/export?format=csv")):
        no_planted(reply, found)
