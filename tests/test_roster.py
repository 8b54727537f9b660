"""An honest roster: members see the names Vault ties to the members' entities (their userpass
aliases), not group metadata an admin writes; `tenant create` of a tenant whose groups an admin
made in advance starts with no members and says so. Real tokens against a real OpenBao (issue 23)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app import access
from tests.conftest import BaoServer, Users
from tests.helpers import cli


@pytest.fixture
def admin(users: Users) -> tuple[str, str, str, str]:
    """An admin account: name, password, her token and her entity id."""
    name, password = users.user(policies=("nexo-admin",))
    login = users.bao.vault.auth.login_userpass(name, password)
    return name, password, str(login["client_token"]), str(login["entity_id"])


def write_group(bao: BaoServer, token: str, group: str, body: dict[str, Any]) -> int:
    return bao.api("POST", f"/v1/identity/group/name/{group}", token, json=body).status_code


def test_the_admin_cannot_hide_her_own_access_from_the_members(
    bao: BaoServer, users: Users, login: Any, admin: tuple[str, str, str, str]
) -> None:
    name, password, token, entity = admin
    tenant = users.tenant()
    url = f"/api/v1/tenants/{tenant.name}/members"
    assert login(name, password).put(f"{url}/{name}", json={"permission": "write"}).status_code == 200
    writers = access.group_name(tenant.name, "write")
    ids = bao.api("GET", f"/v1/identity/group/name/{writers}").json()["data"]["member_entity_ids"]
    assert entity in ids
    # With her own token, straight to Vault: her entry renamed to the tenant's reader, and a made-up one.
    forged = {"nexo-members-0": f"{entity}={tenant.reader}", "nexo-members-1": f"{uuid.uuid4()}=nobody"}
    assert write_group(bao, token, writers, {"member_entity_ids": ids, "metadata": forged}) < 300
    assert bao.api("GET", f"/v1/identity/group/name/{writers}").json()["data"]["metadata"] == forged

    seen = login(tenant.reader, tenant.password).get(url).get_json()
    assert {"user": name, "permission": "write"} in seen["items"]
    assert {"user": tenant.reader, "permission": "read"} in seen["items"]
    assert "nobody" not in str(seen) and seen["unnamed"] == 0
    # What the roster says is what Vault enforces: her token may write the tenant's values.
    caps = bao.api(
        "POST", "/v1/sys/capabilities-self", token, json={"paths": [f"secret/data/tenants/{tenant.name}/K"]}
    ).json()
    assert "create" in caps["capabilities"]
    # Nor can she rename her alias: the admin policy creates aliases only, never renames one.
    aliases = bao.api("LIST", "/v1/identity/entity-alias/id").json()["data"]["key_info"]
    mine = next(i for i, a in aliases.items() if a["canonical_id"] == entity)
    renamed = bao.api("POST", f"/v1/identity/entity-alias/id/{mine}", token, json={"name": tenant.reader})
    assert renamed.status_code == 403


def test_tenant_create_drops_members_of_groups_made_in_advance(
    bao: BaoServer, users: Users, admin: tuple[str, str, str, str]
) -> None:
    name, _, token, entity = admin
    future = "f" + uuid.uuid4().hex[:10]
    for permission in access.PERMISSIONS:
        group = access.group_name(future, permission)
        body = {"member_entity_ids": [entity], "metadata": {"nexo-members-0": f"{entity}={name}"}}
        assert write_group(bao, token, group, body) < 300  # the admin policy lets her make it

    done = cli("tenant", "create", future, addr=bao.addr, token=bao.root_token)
    assert done.returncode == 0, done.stderr
    assert f"tenant {future} created" in done.stdout
    assert "the 2 member(s) they held were removed; it starts with no members" in done.stdout
    for permission in access.PERMISSIONS:
        group = bao.api("GET", f"/v1/identity/group/name/{access.group_name(future, permission)}").json()["data"]
        assert not group["member_entity_ids"] and not group["metadata"]
        assert group["policies"] == [access.policy_name(future, permission)]
    caps = bao.api(
        "POST", "/v1/sys/capabilities-self", token, json={"paths": [f"secret/data/tenants/{future}/K"]}
    ).json()
    assert caps["capabilities"] == ["deny"]
    # Run again, the tenant exists: members granted since are kept ("updated").
    access.grant(bao.vault, bao.root_token, future, name, "read")
    again = cli("tenant", "create", future, addr=bao.addr, token=bao.root_token)
    assert f"tenant {future} updated" in again.stdout and "removed" not in again.stdout
    readers = bao.api("GET", f"/v1/identity/group/name/{access.group_name(future, 'read')}").json()["data"]
    assert readers["member_entity_ids"] == [entity]


def test_the_api_says_how_many_members_it_removed(bao: BaoServer, app: Any, admin: tuple[str, str, str, str]) -> None:
    _, _, token, entity = admin
    future = "f" + uuid.uuid4().hex[:10]
    assert write_group(bao, token, access.group_name(future, "write"), {"member_entity_ids": [entity]}) < 300
    reply = app.test_client().put(f"/api/v1/tenants/{future}", headers={"Authorization": f"Bearer {bao.root_token}"})
    assert reply.status_code == 201 and reply.get_json()["removed_members"] == 1
    again = app.test_client().put(f"/api/v1/tenants/{future}", headers={"Authorization": f"Bearer {bao.root_token}"})
    assert again.status_code == 200 and again.get_json()["removed_members"] == 0
