"""Issue 17's API: the tenants a caller may see, members seen by the tenant's own people, and
accounts made by an admin; against a real OpenBao, with every caller's own token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app import access
from tests.conftest import PLANTED, BaoServer, Tenant, Users


def _all_tenants(client: Any, limit: int = 2) -> list[dict[str, Any]]:
    """Every page of GET /api/v1/tenants."""
    items: list[dict[str, Any]] = []
    after = None
    for _ in range(1000):
        url = f"/api/v1/tenants?limit={limit}" + (f"&after={after}" if after else "")
        reply = client.get(url)
        assert reply.status_code == 200, reply.get_json()
        page = reply.get_json()
        assert set(page) == {"items", "next"} and len(page["items"]) <= limit
        items += page["items"]
        after = page["next"]
        if after is None:
            return items
    raise AssertionError("paging never ended")


@pytest.fixture(scope="module")
def admin(users: Users) -> tuple[str, str]:
    return users.user(policies=("nexo-admin",))


def test_admin_sees_every_tenant_paged_with_its_own_permission(
    bao: BaoServer, users: Users, login: Any, admin: tuple[str, str]
) -> None:
    client = login(*admin)
    mine, other = users.tenant(), users.tenant()
    access.grant(bao.vault, bao.root_token, mine.name, admin[0], "read")
    items = _all_tenants(client)
    names = [item["name"] for item in items]
    assert names == sorted(names) and len(names) == len(set(names))
    assert {"name": mine.name, "permission": "read"} in items
    assert {"name": other.name, "permission": None} in items

    # The operator creates a tenant: it appears on the admin's next request.
    fresh = "t" + uuid.uuid4().hex[:10]
    assert fresh not in names
    access.provision(bao.vault, bao.root_token, fresh)
    assert {"name": fresh, "permission": None} in _all_tenants(client, limit=1000)
    # A stray group of one name (an admin may POST one) is no tenant.
    bao.api("POST", "/v1/identity/group/name/nexo-tenant-stray-readers", json={})
    assert "stray" not in [i["name"] for i in _all_tenants(client, limit=1000)]


def test_a_user_sees_their_own_tenants_only(bao: BaoServer, users: Users, login: Any) -> None:
    home, other = users.tenant(), users.tenant()
    access.grant(bao.vault, bao.root_token, other.name, home.reader, "write")
    assert _all_tenants(login(home.reader, home.password)) == [
        {"name": n, "permission": p} for n, p in sorted({home.name: "read", other.name: "write"}.items())
    ]
    assert _all_tenants(login(home.writer, home.password)) == [{"name": home.name, "permission": "write"}]
    nobody, password = users.user()
    assert login(nobody, password).get("/api/v1/tenants").get_json() == {"items": [], "next": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "after=..", "after=A"])
def test_tenant_list_arguments_are_checked(query: str, tenant: Tenant, login: Any) -> None:
    assert login(tenant.reader, tenant.password).get(f"/api/v1/tenants?{query}").status_code == 422


def test_tenant_list_needs_a_caller(app: Any) -> None:
    assert app.test_client().get("/api/v1/tenants").status_code == 401


def test_readers_and_writers_see_who_else_has_access_read_only(
    bao: BaoServer, users: Users, login: Any, admin: tuple[str, str]
) -> None:
    tenant, elsewhere = users.tenant(), users.tenant()
    expected = sorted(
        [{"user": tenant.writer, "permission": "write"}, {"user": tenant.reader, "permission": "read"}],
        key=lambda m: m["user"],
    )
    for who in (tenant.reader, tenant.writer):
        client = login(who, tenant.password)
        reply = client.get(f"/api/v1/tenants/{tenant.name}/members")
        assert reply.status_code == 200, reply.get_json()
        assert reply.get_json() == {"items": expected, "unnamed": 0}
        # Read-only: granting, changing and revoking stay the admin's.
        url = f"/api/v1/tenants/{tenant.name}/members/{tenant.reader}"
        assert client.put(url, json={"permission": "write"}).status_code == 403
        assert client.delete(url).status_code == 403
        # Another tenant's members are not theirs to see.
        assert client.get(f"/api/v1/tenants/{elsewhere.name}/members").status_code == 403
    assert login(*admin).get(f"/api/v1/tenants/{tenant.name}/members").get_json()["items"] == expected


def test_member_tokens_read_their_own_groups_and_nothing_else(bao: BaoServer, users: Users) -> None:
    """Least privilege, straight against Vault: a member of A reads A's two groups; not B's,
    not any entity (an entity names every group it is in), not the group listing."""
    a, b = users.tenant(), users.tenant()
    for who in (a.reader, a.writer):
        token = users.token(who, a.password)
        own = [f"identity/group/name/{access.group_name(a.name, p)}" for p in access.PERMISSIONS]
        theirs = [f"identity/group/name/{access.group_name(b.name, p)}" for p in access.PERMISSIONS]
        entity = bao.api("GET", f"/v1/identity/lookup/entity?alias_name={who}", token)
        others = [
            "identity/group/name",
            "identity/group/name/nexo-tenant-x",
            "identity/group/id/x",
            "identity/entity/id/x",
            "identity/entity/name/x",
            "identity/entity-alias/id/x",
            "identity/lookup/entity",
            "sys/auth",
        ]
        reply = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": own + theirs + others})
        caps = reply.json()
        assert all(caps[p] == ["read"] for p in own), caps
        assert all(caps[p] == ["deny"] for p in theirs + others), caps
        assert entity.status_code in (403, 405)
        group = bao.api("GET", f"/v1/{own[0]}", token).json()["data"]
        assert a.reader in str(group["metadata"])
        assert bao.api("GET", f"/v1/{theirs[0]}", token).status_code == 403
        # Vault's default policy lets a token read its own entity; another member's it may not.
        me = bao.vault.auth.lookup_self(token).entity_id
        ids = [i for p in own for i in bao.api("GET", f"/v1/{p}", token).json()["data"]["member_entity_ids"]]
        assert me in ids and len(ids) == 2
        assert all(bao.api("GET", f"/v1/identity/entity/id/{i}", token).status_code == 403 for i in ids if i != me)


def test_members_granted_outside_the_service_are_named_by_vault(
    bao: BaoServer, users: Users, login: Any, admin: tuple[str, str]
) -> None:
    """Groups whose members were set by hand: the names come from Vault's own aliases, so a
    member's roster names them at once, as the admin's does."""
    tenant = users.tenant()
    outsider, password = users.user()
    entity = str(bao.vault.auth.login_userpass(outsider, password)["entity_id"])
    readers = access.group_name(tenant.name, "read")
    group = bao.api("GET", f"/v1/identity/group/name/{readers}").json()["data"]
    ids = [*group["member_entity_ids"], entity]
    assert bao.api("POST", f"/v1/identity/group/name/{readers}", json={"member_entity_ids": ids}).status_code < 300

    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/members"
    seen = reader.get(url).get_json()
    assert seen["unnamed"] == 0 and {"user": outsider, "permission": "read"} in seen["items"]
    by_admin = login(*admin).get(url).get_json()
    assert {"user": outsider, "permission": "read"} in by_admin["items"] and by_admin["unnamed"] == 0
    # An entity that is no longer a member counts for nothing.
    access.revoke(bao.vault, bao.root_token, tenant.name, outsider)
    assert outsider not in str(reader.get(url).get_json())


def test_names_pack_into_vaults_metadata_limits(bao: BaoServer, users: Users) -> None:
    """Vault keeps at most 64 metadata pairs of at most 512 bytes: many names still fit."""
    known = {str(uuid.uuid4()): "user-" + "x" * 57 + f"{n:02d}" for n in range(40)}
    metadata = access._metadata({"metadata": {"team": "ops"}}, known.keys(), known)
    assert metadata["team"] == "ops" and all(len(v) <= 512 for v in metadata.values()) and len(metadata) <= 64
    assert access._names({"metadata": metadata}) == known


def test_admin_creates_an_account_and_its_password_is_shown_once(
    bao: BaoServer, users: Users, login: Any, admin: tuple[str, str]
) -> None:
    client = login(*admin)
    name = "new-" + uuid.uuid4().hex[:8]
    reply = client.post("/api/v1/users", json={"username": name})
    assert reply.status_code == 201, reply.get_json()
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.get_json()
    assert body["user"] == name and len(body["password"]) >= 20 and body["password"] in PLANTED
    assert bao.api("GET", f"/v1/auth/userpass/users/{name}").json()["data"]["token_policies"] == []
    assert login(name, body["password"]).get("/api/v1/session").get_json()["tenants"] == {}

    again = client.post("/api/v1/users", json={"username": name})
    assert again.status_code == 409 and "password" not in again.get_json()
    assert client.post("/api/v1/users", json={"username": "Not Valid"}).status_code == 422
    assert client.post("/api/v1/users", json={"username": name, "password": "mine"}).status_code == 422

    # Disable: no more sign-in; enable: back again.
    disabled = client.post(f"/api/v1/users/{name}/disable")
    assert disabled.status_code == 200 and disabled.get_json() == {"user": name, "disabled": True}
    with pytest.raises(Exception, match="Invalid username or password"):
        users.token(name, body["password"])
    assert client.post(f"/api/v1/users/{name}/enable").get_json() == {"user": name, "disabled": False}
    users.token(name, body["password"])
    assert client.post("/api/v1/users/nobody-" + uuid.uuid4().hex[:6] + "/disable").status_code == 404
    assert client.post("/api/v1/users/..%2Fx/disable").status_code in (400, 404)


def test_granting_an_account_that_does_not_exist_is_404(users: Users, login: Any, admin: tuple[str, str]) -> None:
    tenant = users.tenant()
    ghost = "ghost-" + uuid.uuid4().hex[:8]
    reply = login(*admin).put(f"/api/v1/tenants/{tenant.name}/members/{ghost}", json={"permission": "read"})
    assert reply.status_code == 404 and ghost in reply.get_json()["message"]


def test_a_non_admin_is_refused_every_admin_call(bao: BaoServer, users: Users, login: Any, tenant: Tenant) -> None:
    """Vault refuses them with the caller's own token: 403 from the API, nothing changed."""
    stranger, _ = users.user()
    name = "nope-" + uuid.uuid4().hex[:8]
    for who in (tenant.writer, tenant.reader):
        client = login(who, tenant.password)
        assert client.post("/api/v1/users", json={"username": name}).status_code == 403
        assert client.post(f"/api/v1/users/{tenant.reader}/disable").status_code == 403
        assert client.post(f"/api/v1/users/{tenant.reader}/enable").status_code == 403
        assert (
            client.put(f"/api/v1/tenants/{tenant.name}/members/{stranger}", json={"permission": "read"}).status_code
            == 403
        )
        assert client.delete(f"/api/v1/tenants/{tenant.name}/members/{tenant.reader}").status_code == 403
        assert client.put(f"/api/v1/tenants/{tenant.name}").status_code == 403
        # Their own tenants only, even though the tenant list is open to them.
        assert [i["name"] for i in _all_tenants(client, 1000)] == [tenant.name]
    assert bao.api("GET", f"/v1/auth/userpass/users/{name}").status_code == 404
    assert {m.user for m in access.roster(bao.vault, bao.root_token, tenant.name).members} == {
        tenant.writer,
        tenant.reader,
    }


def test_an_admin_who_is_a_member_still_manages_that_tenant(bao: BaoServer, users: Users, login: Any) -> None:
    """The tenant policies' group rules must not outrank nexo-admin's on the admin's own tenant."""
    name, password = users.user(policies=("nexo-admin",))
    tenant = users.tenant()
    client = login(name, password)
    assert client.put(f"/api/v1/tenants/{tenant.name}/members/{name}", json={"permission": "read"}).status_code == 200
    token = users.token(name, password)
    paths = [f"identity/group/name/{access.group_name(tenant.name, p)}" for p in access.PERMISSIONS]
    caps = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": paths}).json()
    assert all(sorted(caps[p]) == ["read", "update"] for p in paths), caps
    assert client.put(f"/api/v1/tenants/{tenant.name}/members/{name}", json={"permission": "write"}).status_code == 200
    assert client.delete(f"/api/v1/tenants/{tenant.name}/members/{tenant.reader}").status_code == 204
    assert client.delete(f"/api/v1/tenants/{tenant.name}/members/{name}").status_code == 204
    assert client.get(f"/api/v1/tenants/{tenant.name}/members").get_json()["items"] == [
        {"user": tenant.writer, "permission": "write"}
    ]
