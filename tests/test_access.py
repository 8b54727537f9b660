"""Permissions are Vault policies: the API and Vault itself agree on what each user may do."""

from __future__ import annotations

from typing import Any

import pytest

from app import access
from tests.conftest import BaoServer, Tenant, Users, planted


def make_secret(login: Any, tenant: Tenant, key: str = "API_KEY") -> str:
    value = planted()
    writer = login(tenant.writer, tenant.password)
    assert writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": key, "value": value}).status_code == 201
    return value


def test_reader_lists_but_cannot_write(bao: BaoServer, tenant: Tenant, login: Any, users: Users) -> None:
    make_secret(login, tenant)
    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert [i["key"] for i in reader.get(url).get_json()["items"]] == ["API_KEY"]
    assert reader.get(f"{url}/API_KEY").status_code == 200
    for reply in (
        reader.post(url, json={"key": "NEW", "value": planted()}),
        reader.patch(f"{url}/API_KEY", json={"description": "mine now"}),
        reader.patch(f"{url}/API_KEY", json={"value": planted()}),
        reader.delete(f"{url}/API_KEY"),
    ):
        assert reply.status_code == 403, reply.get_json()
        assert reply.get_json()["code"] == 403
    assert reader.get(f"{url}/API_KEY").get_json()["version"] == 1

    # Vault says the same to the reader's own token, without the service in between.
    token = users.token(tenant.reader, tenant.password)
    base = f"/v1/secret/data/tenants/{tenant.name}/API_KEY"
    assert bao.api("GET", base, token).status_code == 403
    assert bao.api("POST", base, token, json={"data": {"value": "x"}}).status_code == 403
    assert bao.api("DELETE", f"/v1/secret/metadata/tenants/{tenant.name}/API_KEY", token).status_code == 403
    assert bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/", token).status_code == 200


def test_writer_writes_but_reads_no_value(bao: BaoServer, tenant: Tenant, login: Any, users: Users) -> None:
    value = make_secret(login, tenant)
    token = users.token(tenant.writer, tenant.password)
    data = f"/v1/secret/data/tenants/{tenant.name}/API_KEY"
    reply = bao.api("GET", data, token)
    assert reply.status_code == 403 and value not in reply.text
    assert bao.api("GET", f"/v1/secret/data/tenants/{tenant.name}/API_KEY?version=1", token).status_code == 403
    # The writer may write new versions and metadata directly, as the service does for them.
    assert bao.api("POST", data, token, json={"options": {"cas": 1}, "data": {"value": planted()}}).status_code == 200
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/API_KEY", token).status_code == 200
    # ...but nothing outside the tenant, and nothing of the system.
    assert bao.api("LIST", "/v1/secret/metadata/tenants/", token).status_code == 403
    assert bao.api("GET", "/v1/sys/policies/acl/nexo-admin", token).status_code == 403


def test_tenant_isolation(bao: BaoServer, users: Users, login: Any) -> None:
    acme = users.tenant("acme" + planted("x")[-6:])
    beta = users.tenant()
    evil = users.tenant(acme.name + "-evil")
    make_secret(login, beta, "BETA_KEY")
    make_secret(login, evil, "EVIL_KEY")
    client = login(acme.writer, acme.password)
    for other in (beta.name, evil.name):
        url = f"/api/v1/tenants/{other}/secrets"
        denied = client.get(url)
        assert denied.status_code == 403 and "no access" in denied.get_json()["message"]
        assert client.post(url, json={"key": "X", "value": planted()}).status_code == 403
        assert client.get(f"{url}/BETA_KEY").status_code in (403, 404)
        assert client.delete(f"{url}/EVIL_KEY").status_code in (403, 404)
    # Vault agrees with the acme writer's own token: 'acme/*' does not match 'acme-evil/'.
    token = users.token(acme.writer, acme.password)
    assert bao.api("LIST", f"/v1/secret/metadata/tenants/{evil.name}/", token).status_code == 403
    assert (
        bao.api("POST", f"/v1/secret/data/tenants/{evil.name}/X", token, json={"data": {"value": "x"}}).status_code
        == 403
    )
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{evil.name}/EVIL_KEY").json()["data"]["current_version"] == 1


HOSTILE = ["..", "a/b", "%2F", "%2e%2e", "*", "+", "a b", "a\nb", "a\x00b", "x" * 200, "ACME", "-acme", "acme-", ""]
HOSTILE_KEYS = ["..", "a/b", "%2F", "%2e%2e", "*", "+", "a b", "a\nb", "a\x00b", "K" * 200, "1KEY", ".env", "-k"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_tenant_names_never_reach_vault(name: str, app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    calls = _record_vault_calls(app)
    try:
        for method, suffix in (
            ("get", "/secrets"),
            ("post", "/secrets"),
            ("get", "/secrets/K"),
            ("delete", "/secrets/K"),
        ):
            reply = getattr(client, method)(
                "/api/v1/tenants/" + _quote(name) + suffix,
                json={"key": "K", "value": "v"} if method == "post" else None,
            )
            assert 400 <= reply.status_code < 500, (name, reply.status_code)
            assert reply.get_json()["code"] == reply.status_code
    finally:
        del app.extensions["nexo_vault"].transport.request
    outside = [p for p in calls if f"/tenants/{tenant.name}/" not in p and "lookup-self" not in p]
    assert outside == [], outside


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_never_reach_vault(key: str, app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    calls = _record_vault_calls(app)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    try:
        created = client.post(url, json={"key": key, "value": planted()})
        assert created.status_code == 422 and "key" in created.get_json()["errors"]
        for method in ("get", "delete", "patch"):
            reply = getattr(client, method)(
                f"{url}/{_quote(key)}", json={"description": "x"} if method == "patch" else None
            )
            assert 400 <= reply.status_code < 500, (key, method, reply.status_code)
    finally:
        del app.extensions["nexo_vault"].transport.request
    assert calls == [], calls


def _quote(name: str) -> str:
    from urllib.parse import quote

    # Send what a hostile client would: raw where the URL allows it, escaped where it must be.
    return name if name in ("..", "a/b", "%2F", "%2e%2e") else quote(name, safe="")


def _record_vault_calls(app: Any) -> list[str]:
    """Spy on the adapter: every path the service asks Vault for (the real call still happens)."""
    adapter = app.extensions["nexo_vault"].transport
    real = type(adapter).request.__get__(adapter)
    calls: list[str] = []

    def spy(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(url)
        return real(method, url, *args, **kwargs)

    adapter.request = spy
    return calls


def test_grant_and_revoke_take_effect_on_next_request(bao: BaoServer, users: Users, app: Any) -> None:
    tenant = users.tenant()
    name, password = users.user()
    client = app.test_client()
    session = client.post("/api/v1/session", json={"username": name, "password": password}).get_json()
    assert session["tenants"] == {}
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert client.get(url).status_code == 403

    access.grant(bao.vault, bao.root_token, tenant.name, name, "read")
    assert client.get(url).status_code == 200
    assert client.get("/api/v1/session").get_json()["tenants"] == {tenant.name: "read"}
    assert client.post(url, json={"key": "K", "value": planted()}, headers=csrf).status_code == 403

    access.grant(bao.vault, bao.root_token, tenant.name, name, "write")
    assert client.post(url, json={"key": "K", "value": planted()}, headers=csrf).status_code == 201
    assert client.get("/api/v1/session").get_json()["tenants"] == {tenant.name: "write"}
    members = access.roster(bao.vault, bao.root_token, tenant.name).members
    assert access.Member(name, "write") in members

    assert access.revoke(bao.vault, bao.root_token, tenant.name, name)
    assert client.get(url).status_code == 403
    assert client.get("/api/v1/session").get_json()["tenants"] == {}
    assert access.Member(name, "write") not in access.roster(bao.vault, bao.root_token, tenant.name).members


def test_grant_before_first_login_and_after(bao: BaoServer, users: Users, app: Any) -> None:
    """A grant works whether or not the user has signed in before (entity and alias reused)."""
    tenant = users.tenant()
    early, password = users.user()
    access.grant(bao.vault, bao.root_token, tenant.name, early, "read")
    late, _ = users.user(password=password)
    bao.vault.auth.login_userpass(late, password)  # Vault creates late's entity on its own
    access.grant(bao.vault, bao.root_token, tenant.name, late, "write")
    for user, permission in ((early, "read"), (late, "write")):
        client = app.test_client()
        info = client.post("/api/v1/session", json={"username": user, "password": password}).get_json()
        assert info["tenants"] == {tenant.name: permission}


def test_admin_api_uses_callers_token(bao: BaoServer, users: Users, app: Any, login: Any) -> None:
    admin, password = users.user(policies=("nexo-admin",))
    target, target_pw = users.user()
    client = login(admin, password)
    name = "adm" + planted()[-8:]
    # Creating a tenant writes policies: the operator's token may, the admin's may not.
    denied = client.put(f"/api/v1/tenants/{name}")
    assert denied.status_code == 403 and "operator" in denied.get_json()["message"]
    operator = {"Authorization": f"Bearer {bao.root_token}"}
    created = app.test_client().put(f"/api/v1/tenants/{name}", headers=operator)
    assert created.status_code == 201, created.get_json()
    assert app.test_client().put(f"/api/v1/tenants/{name}", headers=operator).status_code == 200
    granted = client.put(f"/api/v1/tenants/{name}/members/{target}", json={"permission": "write"})
    assert granted.status_code == 200 and granted.get_json() == {"user": target, "permission": "write"}
    assert client.get(f"/api/v1/tenants/{name}/members").get_json()["items"] == [
        {"user": target, "permission": "write"}
    ]
    assert login(target, target_pw).get("/api/v1/session").get_json()["tenants"] == {name: "write"}
    assert client.put(f"/api/v1/tenants/{name}/members/{target}", json={"permission": "owner"}).status_code == 422
    assert client.delete(f"/api/v1/tenants/{name}/members/{target}").status_code == 204
    assert client.delete(f"/api/v1/tenants/{name}/members/{target}").status_code == 404
    assert client.get("/api/v1/tenants/never-made/members").status_code == 404

    # The admin manages access but reads no value.
    token = users.token(admin, password)
    assert bao.api("LIST", "/v1/secret/metadata/tenants/", token).status_code == 403

    # A tenant writer is no admin: Vault refuses with their token.
    tenant = users.tenant()
    writer = login(tenant.writer, tenant.password)
    assert writer.put(f"/api/v1/tenants/{tenant.name}").status_code == 403
    assert (
        writer.put(f"/api/v1/tenants/{tenant.name}/members/{target}", json={"permission": "write"}).status_code == 403
    )
    # ...but sees, read-only, who else has access to its own tenant (tests/test_tenants_api.py).
    assert writer.get(f"/api/v1/tenants/{tenant.name}/members").status_code == 200
    assert writer.get(f"/api/v1/tenants/{name}/members").status_code == 403


def test_policy_templates_refuse_bad_tenant(bao: BaoServer) -> None:
    with pytest.raises(Exception, match="Invalid tenant"):
        access.render("tenant-read", bao.vault, 'x" { capabilities = ["sudo"] } path "*')
    rendered = access.render("tenant-write", bao.vault, "acme")
    assert 'path "secret/data/tenants/acme/*"' in rendered
    assert '"read"' not in rendered.split('path "secret/data/tenants/acme/*"')[1].split("}")[0]
