"""No role below the operator can grant a policy (issue 13, the "High" finding).

An admin signs in and tries every road to more power it has, with its own token straight
against Vault; Vault refuses each, and the root token reads back that nothing changed. What
the admin is for (members of existing tenants, user accounts) still works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from app import access
from tests.conftest import BaoServer, Tenant, Users, planted

EVERYTHING = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'


@dataclass
class Admin:
    name: str
    password: str
    token: str
    entity_id: str


@pytest.fixture(scope="module")
def admin(bao: BaoServer, users: Users) -> Admin:
    """A userpass account with nexo-admin, made by the operator after bootstrap, signed in."""
    name, password = users.user(policies=("nexo-admin",))
    auth = bao.vault.auth.login_userpass(name, password)
    return Admin(name, password, str(auth["client_token"]), str(auth["entity_id"]))


def root_read(bao: BaoServer, path: str) -> Any:
    """What Vault holds at a path, read with the operator's token (None if absent)."""
    reply = bao.api("GET", path)
    return reply.json().get("data") if reply.status_code == 200 else None


def policies_now(bao: BaoServer) -> dict[str, Any]:
    """Every ACL policy and its text."""
    names = bao.api("LIST", "/v1/sys/policies/acl").json()["data"]["keys"]
    return {name: root_read(bao, f"/v1/sys/policies/acl/{name}") for name in names}


def accessor(bao: BaoServer, mount: str) -> str:
    return str(bao.api("GET", "/v1/sys/auth").json()["data"][f"{mount}/"]["accessor"])


def refused(reply: Any) -> bool:
    # 403 from the ACL (a capability or a parameter constraint missing); never a success.
    return reply.status_code == 403


def test_admin_cannot_write_or_delete_any_policy(bao: BaoServer, admin: Admin, tenant: Tenant) -> None:
    before = policies_now(bao)
    targets = [
        "nexo-evil",
        "nexo-hub",
        "nexo-auditor",
        "nexo-admin",
        "default",
        access.policy_name(tenant.name, "read"),
    ]
    for name in targets:
        for endpoint, body in (
            (f"/v1/sys/policies/acl/{name}", {"policy": EVERYTHING}),
            (f"/v1/sys/policy/{name}", {"policy": EVERYTHING}),  # the old endpoint
            (f"/v1/sys/policy/{name}", {"rules": EVERYTHING}),
        ):
            assert refused(bao.api("PUT", endpoint, admin.token, json=body)), endpoint
            assert refused(bao.api("DELETE", endpoint, admin.token)), endpoint
    assert policies_now(bao) == before
    assert "nexo-evil" not in before


def test_admin_cannot_give_a_user_policies(bao: BaoServer, admin: Admin, users: Users) -> None:
    own = f"/v1/auth/userpass/users/{admin.name}"
    before = root_read(bao, own)
    stranger = "evil" + planted()[-8:]
    for endpoint, body in (
        (own, {"token_policies": ["nexo-hub"]}),
        (own, {"policies": ["nexo-hub"]}),  # the deprecated field name
        (own, {"password": "x" * 20, "token_policies": ["nexo-admin", "nexo-hub"]}),
        (f"{own}/policies", {"token_policies": ["nexo-hub"]}),
        (f"{own}/policies", {"policies": ["nexo-hub"]}),
        (f"/v1/auth/userpass/users/{stranger}", {"password": "x" * 20, "token_policies": ["nexo-hub"]}),
        (f"/v1/auth/userpass/users/{stranger}", {"password": "x" * 20, "policies": ["root"]}),
        (f"/v1/auth/userpass/users/{stranger}", {"password": "x" * 20, "token_no_default_policy": True}),
    ):
        assert refused(bao.api("POST", endpoint, admin.token, json=body)), (endpoint, body)
    assert root_read(bao, own) == before
    assert root_read(bao, f"/v1/auth/userpass/users/{stranger}") is None


def test_admin_cannot_take_over_another_account(bao: BaoServer, admin: Admin, users: Users) -> None:
    """A password reset (or delete and re-create) of another admin, an auditor or an operator
    account would hand the admin that account's power."""
    other, other_pw = users.user(policies=("nexo-admin", "nexo-auditor"))
    path = f"/v1/auth/userpass/users/{other}"
    before = root_read(bao, path)
    assert refused(bao.api("POST", path, admin.token, json={"password": "taken-over-" + planted()}))
    assert refused(bao.api("POST", f"{path}/password", admin.token, json={"password": "taken-over-x"}))
    assert refused(bao.api("DELETE", path, admin.token))
    assert root_read(bao, path) == before
    bao.vault.auth.login_userpass(other, other_pw)  # still signs in with the old password


def test_admin_cannot_attach_policies_to_groups(bao: BaoServer, admin: Admin, tenant: Tenant) -> None:
    readers = access.group_name(tenant.name, "read")
    group = root_read(bao, f"/v1/identity/group/name/{readers}")
    hub_group = bao.api("POST", "/v1/identity/group", json={"name": "ops-" + planted()[-8:], "policies": ["nexo-hub"]})
    ops_id = hub_group.json()["data"]["id"]
    for method, endpoint, body in (
        ("POST", f"/v1/identity/group/name/{readers}", {"policies": ["nexo-hub"]}),
        ("POST", f"/v1/identity/group/name/{readers}", {"member_entity_ids": [admin.entity_id], "policies": ["root"]}),
        ("POST", f"/v1/identity/group/name/{readers}", {"member_group_ids": [ops_id]}),
        ("POST", f"/v1/identity/group/name/{readers}", {"type": "external"}),
        # Metadata (the members' names, issue 17) is allowed, but never beside another field.
        ("POST", f"/v1/identity/group/name/{readers}", {"metadata": {"a": "b"}, "policies": ["nexo-hub"]}),
        ("POST", f"/v1/identity/group/id/{group['id']}", {"policies": ["nexo-hub"]}),
        ("POST", f"/v1/identity/group/id/{ops_id}", {"member_entity_ids": [admin.entity_id]}),
        ("POST", "/v1/identity/group", {"name": "nexo-tenant-evil-readers", "policies": ["nexo-hub"]}),
        (
            "POST",
            "/v1/identity/group/name/nexo-evil",
            {"policies": ["nexo-hub"], "member_entity_ids": [admin.entity_id]},
        ),
        ("POST", "/v1/identity/group/name/nexo-tenant-x-readers", {"policies": ["nexo-hub"]}),
        ("DELETE", f"/v1/identity/group/name/{readers}", None),
        (
            "POST",
            "/v1/identity/group-alias",
            {"name": "x", "mount_accessor": accessor(bao, "userpass"), "canonical_id": ops_id},
        ),
    ):
        assert refused(bao.api(method, endpoint, admin.token, json=body)), (endpoint, body)
    # The same field in another shape: a form body, another case, the query string.
    url = f"/v1/identity/group/name/{readers}"
    assert refused(bao.api("POST", url, admin.token, data={"policies": "nexo-hub"}))
    assert refused(bao.api("POST", url, admin.token, json={"Policies": ["nexo-hub"]}))
    bao.api("POST", url + "?policies=nexo-hub", admin.token, json={"member_entity_ids": group["member_entity_ids"]})
    after = root_read(bao, f"/v1/identity/group/name/{readers}")
    assert after["policies"] == group["policies"] == [access.policy_name(tenant.name, "read")]
    assert after["member_entity_ids"] == group["member_entity_ids"]
    assert after["member_group_ids"] in (None, [])
    assert root_read(bao, "/v1/identity/group/name/nexo-evil") is None
    assert root_read(bao, f"/v1/identity/group/id/{ops_id}")["member_entity_ids"] in (None, [])


def test_group_metadata_steers_no_policy(bao: BaoServer) -> None:
    """An admin may write tenant groups' metadata (their members' names): safe only while no
    policy is templated on group metadata, so none is."""
    for name, text in policies_now(bao).items():
        assert "identity.groups" not in (text or {}).get("policy", ""), name


def test_admin_cannot_give_an_entity_policies(bao: BaoServer, admin: Admin, users: Users) -> None:
    victim, victim_pw = users.user(policies=("nexo-auditor",))
    victim_entity = str(bao.vault.auth.login_userpass(victim, victim_pw)["entity_id"])
    own = root_read(bao, f"/v1/identity/entity/id/{admin.entity_id}")
    up, approle = accessor(bao, "userpass"), accessor(bao, "approle")
    hub_role_id = root_read(bao, "/v1/auth/approle/role/nexo-hub/role-id")["role_id"]
    for endpoint, body in (
        (f"/v1/identity/entity/id/{admin.entity_id}", {"policies": ["nexo-hub"]}),
        (f"/v1/identity/entity/id/{admin.entity_id}", {"disabled": False, "policies": ["nexo-hub"]}),
        (f"/v1/identity/entity/id/{admin.entity_id}", {"metadata": {"role": "operator"}}),
        # Another's entity: the admin may set `disabled` there, and nothing else.
        (f"/v1/identity/entity/id/{victim_entity}", {"policies": ["nexo-hub"]}),
        (f"/v1/identity/entity/id/{victim_entity}", {"disabled": False, "policies": ["nexo-hub"]}),
        (f"/v1/identity/entity/id/{victim_entity}", {"name": own["name"]}),
        (f"/v1/identity/entity/name/{own['name']}", {"policies": ["nexo-hub"]}),
        ("/v1/identity/entity", {"name": "evil", "policies": ["nexo-hub"]}),
        ("/v1/identity/entity", {"id": admin.entity_id, "policies": ["nexo-hub"]}),
        ("/v1/identity/entity/merge", {"to_entity_id": admin.entity_id, "from_entity_ids": [victim_entity]}),
        ("/v1/identity/entity/merge", {"to_entity_id": victim_entity, "from_entity_ids": [admin.entity_id]}),
        # An alias that ties a name the admin controls to someone else's entity.
        (
            "/v1/identity/entity-alias",
            {"name": "mine-" + planted()[-6:], "mount_accessor": up, "canonical_id": victim_entity},
        ),
        (
            "/v1/identity/entity-alias",
            {"name": "mine-" + planted()[-6:], "mount_accessor": up, "entity_id": victim_entity},
        ),
        ("/v1/identity/entity-alias", {"id": own["aliases"][0]["id"], "canonical_id": victim_entity}),
        (f"/v1/identity/entity-alias/id/{own['aliases'][0]['id']}", {"canonical_id": victim_entity}),
        # ...or names the Hub's AppRole login with an entity of the admin's choosing.
        ("/v1/identity/entity-alias", {"name": hub_role_id, "mount_accessor": approle}),
    ):
        assert refused(bao.api("POST", endpoint, admin.token, json=body)), (endpoint, body)
    after = root_read(bao, f"/v1/identity/entity/id/{admin.entity_id}")
    assert after["policies"] in (None, []) and after["metadata"] == own["metadata"]
    assert [a["id"] for a in after["aliases"]] == [a["id"] for a in own["aliases"]]
    victim_after = root_read(bao, f"/v1/identity/entity/id/{victim_entity}")
    assert victim_after["policies"] in (None, []) and victim_after["name"] != own["name"]
    assert root_read(bao, "/v1/identity/entity/name/evil") is None


def test_admin_cannot_create_tokens_roles_or_auth_methods(bao: BaoServer, admin: Admin) -> None:
    auth_before = bao.api("GET", "/v1/sys/auth").json()["data"]
    mounts_before = bao.api("GET", "/v1/sys/mounts").json()["data"]
    hub_role = root_read(bao, "/v1/auth/approle/role/nexo-hub")
    for method, endpoint, body in (
        ("POST", "/v1/auth/token/create", {"policies": ["nexo-hub"]}),
        ("POST", "/v1/auth/token/create", {"policies": ["nexo-admin"], "period": "768h"}),
        ("POST", "/v1/auth/token/create-orphan", {"policies": ["nexo-hub"]}),
        ("POST", "/v1/auth/token/roles/evil", {"allowed_policies": ["nexo-hub"]}),
        ("POST", "/v1/auth/token/create/evil", {"policies": ["nexo-hub"]}),
        ("POST", "/v1/auth/approle/role/evil", {"token_policies": ["nexo-hub"]}),
        ("POST", "/v1/auth/approle/role/nexo-hub", {"token_policies": ["nexo-hub", "nexo-admin"]}),
        ("POST", "/v1/auth/approle/role/nexo-hub/secret-id", {}),  # the Hub's own login
        ("GET", "/v1/auth/approle/role/nexo-hub/role-id", None),
        ("POST", "/v1/sys/auth/evil", {"type": "userpass"}),
        ("POST", "/v1/sys/auth/userpass/tune", {"listing_visibility": "unauth"}),
        ("DELETE", "/v1/sys/auth/approle", None),
        ("POST", "/v1/sys/mounts/evil", {"type": "kv"}),
        ("POST", "/v1/sys/mounts/secret/tune", {"max_versions": 1}),
        ("POST", "/v1/sys/remount", {"from": "secret", "to": "stolen"}),
        ("POST", "/v1/sys/plugins/catalog/auth/evil", {"sha256": "0" * 64, "command": "evil"}),
        ("POST", "/v1/sys/audit/evil", {"type": "file", "options": {"file_path": "/tmp/x"}}),
        ("POST", "/v1/identity/oidc/role/evil", {"key": "default"}),
        ("POST", "/v1/identity/oidc/key/evil", {}),
        ("POST", "/v1/auth/userpass/users/x/policies", {"token_policies": ["nexo-hub"]}),
    ):
        assert refused(bao.api(method, endpoint, admin.token, json=body)), endpoint
    assert bao.api("GET", "/v1/sys/auth").json()["data"].keys() == auth_before.keys()
    assert bao.api("GET", "/v1/sys/mounts").json()["data"].keys() == mounts_before.keys()
    assert root_read(bao, "/v1/auth/approle/role/nexo-hub") == hub_role
    assert root_read(bao, "/v1/auth/approle/role/evil") is None
    assert root_read(bao, "/v1/auth/token/roles/evil") is None


def test_admin_reads_no_value_even_as_a_member(bao: BaoServer, admin: Admin, tenant: Tenant, app: Any) -> None:
    """sys/capabilities-self: no read of any tenant's values, before and after the admin puts
    itself in the tenant's writers group (which it may: that is its job)."""
    paths = [f"secret/data/tenants/{tenant.name}/API_KEY", "secret/data/tenants/other/K", "sys/policies/acl/nexo-hub"]

    def capabilities() -> dict[str, list[str]]:
        reply = bao.api("POST", "/v1/sys/capabilities-self", admin.token, json={"paths": paths})
        assert reply.status_code == 200
        return {p: reply.json()[p] for p in paths}

    assert capabilities() == {p: ["deny"] for p in paths}
    access.grant(bao.vault, admin.token, tenant.name, admin.name, "write")
    found = capabilities()
    assert "read" not in found[paths[0]] and "create" in found[paths[0]]
    assert found[paths[1]] == found[paths[2]] == ["deny"]
    assert bao.api("GET", f"/v1/{paths[0]}", admin.token).status_code == 403
    access.revoke(bao.vault, admin.token, tenant.name, admin.name)


def test_admin_cannot_create_a_tenant(bao: BaoServer, admin: Admin, login: Any) -> None:
    """Provisioning writes policies: Vault refuses the admin, the API says who may."""
    name = "adm" + planted()[-8:]
    client = login(admin.name, admin.password)
    reply = client.put(f"/api/v1/tenants/{name}")
    assert reply.status_code == 403
    body = reply.get_json()
    assert body["code"] == 403 and body["status"] == "Forbidden" and "operator" in body["message"]
    assert root_read(bao, f"/v1/sys/policies/acl/{access.policy_name(name, 'read')}") is None
    cli = _cli(bao, admin.token, "tenant", "create", name)
    assert cli.returncode != 0 and "operator" in cli.stderr
    assert root_read(bao, f"/v1/identity/group/name/{access.group_name(name, 'read')}") is None


# -- what the admin is for still works ------------------------------------------------------


def test_admin_grants_and_revokes_through_the_api(bao: BaoServer, admin: Admin, users: Users, login: Any) -> None:
    name = "op" + planted()[-8:]
    access.provision(bao.vault, bao.root_token, name)  # the operator creates the tenant
    target, target_pw = users.user()
    client = login(admin.name, admin.password)
    granted = client.put(f"/api/v1/tenants/{name}/members/{target}", json={"permission": "write"})
    assert granted.status_code == 200, granted.get_json()
    # The group kept its policy, so the member's own token can write (but not read) values.
    writers = root_read(bao, f"/v1/identity/group/name/{access.group_name(name, 'write')}")
    assert writers["policies"] == [access.policy_name(name, "write")]
    token = users.token(target, target_pw)
    data = f"secret/data/tenants/{name}/API_KEY"
    caps = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [data]}).json()[data]
    assert "create" in caps and "update" in caps and "read" not in caps
    moved = client.put(f"/api/v1/tenants/{name}/members/{target}", json={"permission": "read"})
    assert moved.status_code == 200
    caps = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [data]}).json()[data]
    assert caps == ["deny"]
    meta = f"secret/metadata/tenants/{name}/"
    assert "list" in bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [meta]}).json()[meta]
    assert client.delete(f"/api/v1/tenants/{name}/members/{target}").status_code == 204
    assert login(target, target_pw).get("/api/v1/session").get_json()["tenants"] == {}
    for permission in access.PERMISSIONS:
        group = root_read(bao, f"/v1/identity/group/name/{access.group_name(name, permission)}")
        assert group["policies"] == [access.policy_name(name, permission)]


def _cli(bao: BaoServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_ADDR": bao.addr, "VAULT_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=60)


def test_admin_creates_and_disables_accounts(bao: BaoServer, admin: Admin, users: Users) -> None:
    name, password = "acct" + planted()[-8:], "pw-" + planted()[-16:]
    added = _cli(bao, admin.token, "user", "add", name, "--password", password)
    assert added.returncode == 0, added.stderr
    assert root_read(bao, f"/v1/auth/userpass/users/{name}")["token_policies"] == []
    users.token(name, password)
    # ...but not with a policy, nor over an existing account.
    power = _cli(bao, admin.token, "user", "add", "x" + name, "--password", password, "--policy", "nexo-hub")
    assert power.returncode != 0 and "Vault denied this" in power.stderr, power.stderr
    assert root_read(bao, f"/v1/auth/userpass/users/x{name}") is None
    assert _cli(bao, admin.token, "user", "add", name, "--password", "other-" + password).returncode != 0

    disabled = _cli(bao, admin.token, "user", "disable", name)
    assert disabled.returncode == 0, disabled.stderr
    with pytest.raises(Exception, match="Invalid username or password"):
        users.token(name, password)
    assert _cli(bao, admin.token, "user", "enable", name).returncode == 0
    users.token(name, password)

    # An account never signed in to can be disabled before its first sign-in.
    fresh, fresh_pw = users.user()
    assert _cli(bao, admin.token, "user", "disable", fresh).returncode == 0
    with pytest.raises(Exception, match="Invalid username or password"):
        users.token(fresh, fresh_pw)


def test_admin_policy_names_the_userpass_accessor(bao: BaoServer) -> None:
    """The alias rule is pinned to this Vault's userpass mount; bootstrap fills it in."""
    text = root_read(bao, "/v1/sys/policies/acl/nexo-admin")["policy"]
    assert accessor(bao, "userpass") in text and "{{" not in text
    with pytest.raises(ValueError, match="accessor"):
        access.render("nexo-admin", bao.vault)
    assert 'path "sys/polic' not in text and 'path "auth/token' not in text


def test_deleting_an_account_deletes_its_entity(bao: BaoServer, admin: Admin, users: Users, tenant: Tenant) -> None:
    """Else an admin re-creating the name would sign in to the old entity and its groups."""
    name, password = users.user()
    access.grant(bao.vault, bao.root_token, tenant.name, name, "write")
    old_entity = str(bao.vault.auth.login_userpass(name, password)["entity_id"])
    assert refused(bao.api("DELETE", f"/v1/identity/entity/id/{old_entity}", admin.token))
    assert _cli(bao, admin.token, "user", "delete", name).returncode != 0
    deleted = _cli(bao, bao.root_token, "user", "delete", name)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout, deleted.stderr
    assert root_read(bao, f"/v1/identity/entity/id/{old_entity}") is None
    assert root_read(bao, f"/v1/auth/userpass/users/{name}") is None
    assert _cli(bao, bao.root_token, "user", "delete", name).stdout.strip() == f"no user {name}"
    # The admin may create the name again: a new, empty entity, in no tenant.
    assert _cli(bao, admin.token, "user", "add", name, "--password", password).returncode == 0
    auth = bao.vault.auth.login_userpass(name, password)
    assert auth["entity_id"] != old_entity
    assert access.tenants_of(bao.vault.auth.lookup_self(str(auth["client_token"])).policies) == {}
