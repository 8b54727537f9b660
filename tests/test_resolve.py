"""Resolve through the HTTP API with the Hub's AppRole token, against a real OpenBao server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from nexo_secrets_client import SecretsClient, UnwrapError

from app import access, errors, resolve
from app.vault import errors as vault_errors
from tests.conftest import BaoServer, Tenant, Users, planted, watch_resolve_answer

SECRET_ROOT = "/v1/secret/data/tenants"


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    """A token of the Hub, from an AppRole login with freshly issued credentials."""
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def call(app: Any, token: str, tenant: str, body: dict[str, Any]) -> Any:
    return watch_resolve_answer(
        app.test_client().post(
            f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    )


def secret(name: str, key: Any) -> dict[str, Any]:
    return {"name": name, "type": "SECRET", "value": key}


def store(client: Any, tenant: str, key: str, value: str, description: str = "") -> None:
    reply = client.post(
        f"/api/v1/tenants/{tenant}/secrets", json={"key": key, "value": value, "description": description}
    )
    assert reply.status_code == 201, reply.get_json()


def test_resolve_follows_the_secret(app: Any, tenant: Tenant, login: Any, hub_token: str) -> None:
    writer = login(tenant.writer, tenant.password)
    first = planted("first")
    store(writer, tenant.name, "DATABASE_PASSWORD", first, "Primary DB")
    others = [
        {"name": "host", "type": "STRING", "value": "db.internal"},
        {"name": "port", "type": "INTEGER", "value": 5432},
        {"name": "options", "type": "JSON", "value": {"ssl": True, "hosts": ["a", "b"]}},
        {"name": "unset", "type": "STRING", "value": None},
    ]
    body = {"parameters": [secret("db_password", "DATABASE_PASSWORD"), *others]}

    reply = call(app, hub_token, tenant.name, body)
    assert reply.status_code == 200, reply.get_json()
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.get_json() == {"parameters": [secret("db_password", first), *others]}

    second = planted("second")
    assert (
        writer.patch(f"/api/v1/tenants/{tenant.name}/secrets/DATABASE_PASSWORD", json={"value": second}).status_code
        == 200
    )
    assert call(app, hub_token, tenant.name, body).get_json()["parameters"][0]["value"] == second

    described = writer.patch(
        f"/api/v1/tenants/{tenant.name}/secrets/DATABASE_PASSWORD", json={"description": "Rotated"}
    )
    assert described.status_code == 200 and described.get_json()["version"] == 2
    assert call(app, hub_token, tenant.name, body).get_json()["parameters"][0]["value"] == second

    assert writer.delete(f"/api/v1/tenants/{tenant.name}/secrets/DATABASE_PASSWORD").status_code == 204
    gone = call(app, hub_token, tenant.name, body)
    assert gone.status_code == 422
    assert gone.headers["Cache-Control"] == "no-store"
    assert gone.get_json()["errors"] == {
        "unresolved": [{"name": "db_password", "key": "DATABASE_PASSWORD", "reason": "no such secret"}]
    }
    assert first not in gone.get_data(as_text=True) and second not in gone.get_data(as_text=True)

    never = call(app, hub_token, tenant.name, {"parameters": [secret("api", "NEVER_CREATED")]})
    assert never.status_code == 422
    assert never.get_json()["errors"]["unresolved"] == [
        {"name": "api", "key": "NEVER_CREATED", "reason": "no such secret"}
    ]


def test_all_or_nothing(app: Any, tenant: Tenant, login: Any, hub_token: str) -> None:
    writer = login(tenant.writer, tenant.password)
    values = {"ONE": planted("one"), "TWO": planted("two")}
    for key, value in values.items():
        store(writer, tenant.name, key, value)
    body = {
        "parameters": [
            secret("one", "ONE"),
            secret("missing", "MISSING"),
            {"name": "plain", "type": "STRING", "value": "x"},
            secret("two", "TWO"),
            secret("climb", "../other/KEY"),
            secret("number", 42),
            secret("empty", ""),
        ]
    }
    reply = call(app, hub_token, tenant.name, body)
    assert reply.status_code == 422
    text = reply.get_data(as_text=True)
    assert not any(value in text for value in values.values())
    unresolved = reply.get_json()["errors"]["unresolved"]
    assert [(u["name"], u["key"]) for u in unresolved] == [
        ("missing", "MISSING"),
        ("climb", "../other/KEY"),
        ("number", None),
        ("empty", ""),
    ]
    assert unresolved[0]["reason"] == "no such secret" and unresolved[1]["reason"].startswith("invalid key")

    # Only the parameters' own answer carries values; with every key present it resolves.
    ok = call(app, hub_token, tenant.name, {"parameters": [secret("one", "ONE"), secret("two", "TWO")]})
    assert [p["value"] for p in ok.get_json()["parameters"]] == [values["ONE"], values["TWO"]]


def test_each_distinct_key_is_read_once_concurrently(
    app: Any, tenant: Tenant, login: Any, hub_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    values = {f"KEY_{i}": planted(f"k{i}") for i in range(4)}
    for key, value in values.items():
        store(writer, tenant.name, key, value)
    vault = app.extensions["nexo_vault"]
    reads: list[tuple[str, str]] = []
    real_read = vault.kv.read_current

    def counting(token: str, tenant_name: str, key: str) -> tuple[str, dict[str, Any]]:
        reads.append((key, threading.current_thread().name))
        return real_read(token, tenant_name, key)

    monkeypatch.setattr(vault.kv, "read_current", counting)
    parameters = [secret(f"p{i}", f"KEY_{i % 4}") for i in range(12)] + [secret("lower", "KEY_0") | {"type": "secret"}]
    reply = call(app, hub_token, tenant.name, {"parameters": parameters})
    assert reply.status_code == 200, reply.get_json()
    got = reply.get_json()["parameters"]
    assert [p["value"] for p in got] == [values[f"KEY_{i % 4}"] for i in range(12)] + [values["KEY_0"]]
    assert got[-1]["type"] == "secret"  # the type comes back as sent
    assert sorted(key for key, _ in reads) == sorted(values)
    assert all(thread.startswith("nexo-resolve") for _, thread in reads)  # the shared reader pool


def test_limits(app: Any, tenant: Tenant, login: Any, hub_token: str) -> None:
    writer = login(tenant.writer, tenant.password)
    store(writer, tenant.name, "K", planted("limits"))
    hundred = [secret(f"p{i}", "K") for i in range(100)]
    assert call(app, hub_token, tenant.name, {"parameters": hundred}).status_code == 200
    too_many = call(app, hub_token, tenant.name, {"parameters": [*hundred, secret("p100", "K")]})
    assert too_many.status_code == 422 and "parameters" in too_many.get_json()["errors"]
    assert call(app, hub_token, tenant.name, {"parameters": []}).get_json() == {"parameters": []}

    for ttl in (9, 901, "16m", "9s", "soon", True, -5, 12.5, "1d"):
        reply = call(app, hub_token, tenant.name, {"parameters": hundred[:1], "wrap_ttl": ttl})
        assert reply.status_code == 422 and "wrap_ttl" in reply.get_json()["errors"], ttl
    for ttl, seconds in ((10, 10), ("15m", 900), ("90s", 90), ("1m", 60)):
        reply = call(app, hub_token, tenant.name, {"parameters": hundred[:1], "wrap_ttl": ttl})
        assert reply.status_code == 200 and reply.get_json()["parameters"][0]["wrap"]["ttl"] == seconds, ttl

    for body in (
        {},
        {"parameters": [{"name": "x", "type": "SECRET"}]},
        {"parameters": [{"name": "", "type": "SECRET", "value": "K"}]},
        {"parameters": [{"name": "x", "value": "K"}]},
        {"parameters": [{"name": "x", "type": 5, "value": "K"}]},
        {"parameters": [secret("x", "K") | {"extra": 1}]},
        {"parameters": "K"},
        {"parameters": [], "other": 1},
    ):
        assert call(app, hub_token, tenant.name, body).status_code == 422, body
    assert call(app, hub_token, "Bad_Tenant", {"parameters": []}).status_code == 400

    # The service's own bounds hold for direct callers too, not only behind the schema.
    with pytest.raises(errors.Unprocessable):
        resolve.resolve(app.extensions["nexo_vault"], hub_token, tenant.name, hundred * 2)
    with pytest.raises(errors.Unprocessable):
        resolve.resolve(app.extensions["nexo_vault"], hub_token, tenant.name, hundred[:1], wrap_ttl=3600)


def test_user_tokens_are_refused_by_vault(
    app: Any, bao: BaoServer, users: Users, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer_client = login(tenant.writer, tenant.password)
    store(writer_client, tenant.name, "K", planted("users"))
    body: dict[str, Any] = {"parameters": [secret("k", "K")]}
    for user in (tenant.reader, tenant.writer):
        token = users.token(user, tenant.password)
        request: dict[str, Any]
        for request in (
            body,
            body | {"wrap_ttl": 60},
            {"parameters": []},  # nothing to read: Vault is asked about the capability instead
            {"parameters": [{"name": "n", "type": "STRING", "value": "x"}]},
            {"parameters": [secret("bad", "../K")]},
        ):
            reply = call(app, token, tenant.name, request)
            assert reply.status_code == 403, (user, request, reply.get_json())
        # Vault itself refuses: the user's own token, straight to Vault, bypassing the service.
        assert bao.api("GET", f"{SECRET_ROOT}/{tenant.name}/K", token).status_code == 403
        caps = bao.api(
            "POST", "/v1/sys/capabilities-self", token, json={"path": f"secret/data/tenants/{tenant.name}/K"}
        )
        assert "read" not in caps.json()["capabilities"]
    # The browser session of a writer is refused as well.
    assert writer_client.post(f"/api/v1/tenants/{tenant.name}/resolve", json=body).status_code == 403
    assert bao.api("GET", f"{SECRET_ROOT}/{tenant.name}/K", hub_token).status_code == 200


def test_hub_token_reads_tenant_values_and_nothing_else(bao: BaoServer, tenant: Tenant, hub_token: str) -> None:
    info = bao.api("GET", "/v1/auth/token/lookup-self", hub_token).json()["data"]
    assert sorted(info["policies"]) == ["default", "nexo-hub"] and info["meta"]["role_name"] == "nexo-hub"

    other_mount = "other-" + uuid.uuid4().hex[:8]
    assert bao.api("POST", f"/v1/sys/mounts/{other_mount}", json={"type": "kv", "options": {"version": "2"}}).ok
    try:
        assert bao.api(
            "POST", f"/v1/{other_mount}/data/tenants/{tenant.name}/K", json={"data": {"value": planted()}}
        ).ok
        assert bao.api("POST", "/v1/secret/data/elsewhere/K", json={"data": {"value": planted()}}).ok
        assert bao.api("POST", f"{SECRET_ROOT}/{tenant.name}/K", json={"data": {"value": planted()}}).ok
        assert bao.api("GET", f"{SECRET_ROOT}/{tenant.name}/K", hub_token).status_code == 200
        # subkeys (the wrapped resolve's check that a key holds a value) answers no value.
        subkeys = bao.api("GET", f"/v1/secret/subkeys/tenants/{tenant.name}/K", hub_token)
        assert subkeys.status_code == 200 and subkeys.json()["data"]["subkeys"] == {"value": None}
        refused = [
            ("GET", f"/v1/{other_mount}/data/tenants/{tenant.name}/K"),
            ("LIST", f"/v1/{other_mount}/metadata/"),
            ("GET", "/v1/secret/data/elsewhere/K"),
            ("GET", "/v1/secret/subkeys/elsewhere/K"),
            ("GET", f"/v1/{other_mount}/subkeys/tenants/{tenant.name}/K"),
            ("LIST", "/v1/secret/metadata/"),
            ("LIST", "/v1/secret/metadata/tenants/"),
            ("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/"),
            ("LIST", f"/v1/secret/detailed-metadata/tenants/{tenant.name}/"),
            ("POST", f"{SECRET_ROOT}/{tenant.name}/K"),
            ("DELETE", f"{SECRET_ROOT}/{tenant.name}/K"),
            ("POST", f"/v1/secret/destroy/tenants/{tenant.name}/K"),
            ("DELETE", f"/v1/secret/metadata/tenants/{tenant.name}/K"),
            ("GET", "/v1/sys/mounts"),
            ("GET", "/v1/sys/policies/acl/nexo-hub"),
            ("LIST", "/v1/auth/approle/role"),
            ("POST", "/v1/auth/approle/role/nexo-hub/secret-id"),
        ]
        for method, api_path in refused:
            json_body = {"data": {"value": "x"}} if method == "POST" else None
            assert bao.api(method, api_path, hub_token, json=json_body).status_code == 403, (method, api_path)
        assert bao.api("GET", f"{SECRET_ROOT}/{tenant.name}/K", hub_token).status_code == 200  # not deleted
    finally:
        bao.api("DELETE", f"/v1/sys/mounts/{other_mount}")


def wrapped_call(app: Any, token: str, tenant: str, parameters: list[dict[str, Any]], ttl: int = 60) -> Any:
    return call(app, token, tenant, {"parameters": parameters, "wrap_ttl": ttl})


def lookup(bao: BaoServer, wrapping_token: str) -> requests.Response:
    """sys/wrapping/lookup: what Vault says of a wrapping token, without using it up."""
    return bao.api("POST", "/v1/sys/wrapping/lookup", json={"token": wrapping_token})


def delivered(key: str, token: str, name: str = "p") -> list[dict[str, Any]]:
    """A one-parameter delivery as a sink receives it, around any token."""
    return [{"name": name, "type": "SECRET", "value": None, "key": key, "wrap": {"token": token}}]


def test_wrapped_resolve_delivers_vaults_own_reads(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    values = {"DELIVERED": planted("wrapped"), "OTHER": planted("other")}
    for key, value in values.items():
        store(writer, tenant.name, key, value)
    parameters = [
        secret("token", "DELIVERED"),
        {"name": "retries", "type": "INTEGER", "value": 3},
        secret("again", "DELIVERED") | {"type": "secret"},
        secret("other", "OTHER"),
    ]
    plain = call(app, hub_token, tenant.name, {"parameters": parameters}).get_json()["parameters"]

    vault = app.extensions["nexo_vault"]

    def no_plain_read(*args: Any) -> tuple[str, dict[str, Any]]:
        raise AssertionError("a wrapped resolve read a value itself")

    monkeypatch.setattr(vault.kv, "read_current", no_plain_read)
    reply = wrapped_call(app, hub_token, tenant.name, parameters)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    assert not any(value in reply.get_data(as_text=True) for value in values.values())
    got = reply.get_json()["parameters"]
    assert got[1] == parameters[1]
    for sent, answered in zip(parameters, got, strict=True):
        if sent["type"].upper() != "SECRET":
            continue
        key = sent["value"]
        assert answered["name"] == sent["name"] and answered["type"] == sent["type"]
        assert answered["value"] is None and answered["key"] == key
        path = f"secret/data/tenants/{tenant.name}/{key}"
        assert answered["wrap"]["creation_path"] == path and answered["wrap"]["ttl"] == 60
        # Vault's own word, not the service's: the token was made by a read of that very key.
        assert lookup(bao, answered["wrap"]["token"]).json()["data"]["creation_path"] == path
    assert got[0]["wrap"]["token"] == got[2]["wrap"]["token"] != got[3]["wrap"]["token"]  # one read per key

    sink = SecretsClient(vault_addr=bao.addr)
    expect = {"token": "DELIVERED", "again": "DELIVERED", "other": "OTHER"}  # the sink's own configuration
    assert sink.unwrap(reply.get_json(), tenant=tenant.name, expect=expect) == plain
    assert sink.log_filter.mask(values["OTHER"]) == "***"
    with pytest.raises(UnwrapError, match="invalid, expired or already used"):
        sink.unwrap(got, tenant=tenant.name, expect=expect)
    assert bao.api("POST", "/v1/sys/wrapping/unwrap", got[0]["wrap"]["token"]).status_code == 400


def test_sink_refuses_what_is_not_a_read_of_the_expected_key(
    app: Any, bao: BaoServer, users: Users, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    value = planted("genuine")
    store(writer, tenant.name, "K_A", value)
    store(writer, tenant.name, "K_B", planted("b"))
    writer_token = users.token(tenant.writer, tenant.password)
    sink = SecretsClient(vault_addr=bao.addr)

    # A writer wraps a delivery of their own: any token may call sys/wrapping/wrap.
    forged_value = "chosen-by-the-writer"
    made = requests.post(
        f"{bao.addr}/v1/sys/wrapping/wrap",
        headers={"X-Vault-Token": writer_token, "X-Vault-Wrap-TTL": "60s"},
        json={"parameters": [secret("p", forged_value)], "data": {"value": forged_value}, "metadata": {}},
        timeout=10,
    )
    forged = made.json()["wrap_info"]["token"]
    for attempt in (delivered("K_A", forged), forged):
        with pytest.raises(UnwrapError, match="created at 'sys/wrapping/wrap'"):
            if isinstance(attempt, list):
                sink.unwrap(attempt, tenant=tenant.name, expect={"p": "K_A"})
            else:
                sink.unwrap(attempt, tenant=tenant.name, key="K_A")
    assert lookup(bao, forged).status_code == 200  # refused without being used up

    # A writer's wrapped write has the key's very creation path; what it holds is no read.
    write = requests.post(
        f"{bao.addr}/v1/secret/data/tenants/{tenant.name}/K_A",
        headers={"X-Vault-Token": writer_token, "X-Vault-Wrap-TTL": "60s"},
        json={"data": {"value": value}},
        timeout=10,
    ).json()["wrap_info"]
    assert write["creation_path"] == f"secret/data/tenants/{tenant.name}/K_A"
    with pytest.raises(UnwrapError, match="holds no read of its value"):
        sink.unwrap(write["token"], tenant=tenant.name, key="K_A")

    # A genuine read of K_A is refused where the sink expects K_B, or another tenant's K_A.
    genuine = wrapped_call(app, hub_token, tenant.name, [secret("a", "K_A")]).get_json()["parameters"][0]["wrap"]
    with pytest.raises(UnwrapError, match="not 'secret/data/tenants/.*/K_B'"):
        sink.unwrap(delivered("K_B", genuine["token"]), tenant=tenant.name, expect={"p": "K_B"})
    with pytest.raises(UnwrapError, match="not 'secret/data/tenants/other-tenant/K_A'"):
        sink.unwrap(genuine["token"], tenant="other-tenant", key="K_A")
    with pytest.raises(UnwrapError, match="not 'elsewhere/data/tenants/"):
        SecretsClient(vault_addr=bao.addr, kv_mount="elsewhere").unwrap(genuine["token"], tenant=tenant.name, key="K_A")
    with pytest.raises(UnwrapError, match="not a valid tenant and key"):
        sink.unwrap(genuine["token"], tenant=tenant.name, key="../K_A")
    assert sink.unwrap(genuine["token"], tenant=tenant.name, key="K_A") == value  # still unused until now

    # Creation paths are relative to a namespace: whoever runs one could make the same path.
    namespace = "ns" + uuid.uuid4().hex[:8]
    assert bao.api("POST", f"/v1/sys/namespaces/{namespace}").ok
    in_ns = {"X-Vault-Token": bao.root_token, "X-Vault-Namespace": namespace}
    assert requests.post(
        f"{bao.addr}/v1/sys/mounts/secret", headers=in_ns, json={"type": "kv", "options": {"version": "2"}}, timeout=10
    ).ok
    assert requests.post(
        f"{bao.addr}/v1/secret/data/tenants/{tenant.name}/K_A",
        headers=in_ns,
        json={"data": {"value": forged_value}},
        timeout=30,
    ).ok
    elsewhere = requests.get(
        f"{bao.addr}/v1/secret/data/tenants/{tenant.name}/K_A", headers=in_ns | {"X-Vault-Wrap-TTL": "60s"}, timeout=10
    ).json()["wrap_info"]
    assert lookup(bao, elsewhere["token"]).json()["data"]["creation_path"] == genuine["creation_path"]
    with pytest.raises(UnwrapError, match="namespace"):
        sink.unwrap(delivered("K_A", elsewhere["token"]), tenant=tenant.name, expect={"p": "K_A"})
    assert lookup(bao, elsewhere["token"]).status_code == 200

    # Expired.
    short = bao.vault.kv.wrap_read(hub_token, tenant.name, "K_A", 1)
    time.sleep(2.5)
    with pytest.raises(UnwrapError, match="invalid, expired or already used"):
        sink.unwrap(short["token"], tenant=tenant.name, key="K_A")


def test_wrapped_resolve_is_all_or_nothing(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    values = {"ONE": planted("w-one"), "TWO": planted("w-two"), "SOFT": planted("w-soft")}
    for key, value in values.items():
        store(writer, tenant.name, key, value)
    # A soft delete of the current version (the operator's, or metadata's delete_version_after).
    assert bao.api("DELETE", f"{SECRET_ROOT}/{tenant.name}/SOFT").status_code == 204
    vault = app.extensions["nexo_vault"]
    made: list[dict[str, Any]] = []
    real_wrap_read = vault.kv.wrap_read

    def spy(*args: Any) -> dict[str, Any]:
        info = real_wrap_read(*args)
        made.append(info)
        return dict(info)

    monkeypatch.setattr(vault.kv, "wrap_read", spy)
    parameters = [secret("one", "ONE"), secret("missing", "MISSING"), secret("two", "TWO"), secret("soft", "SOFT")]
    reply = wrapped_call(app, hub_token, tenant.name, [*parameters, secret("bad", "../x")])
    assert reply.status_code == 422
    assert [(u["name"], u["key"]) for u in reply.get_json()["errors"]["unresolved"]] == [
        ("missing", "MISSING"),
        ("soft", "SOFT"),
        ("bad", "../x"),
    ]
    assert made == []  # checked first: no token was made at all

    # Vault wraps a read of a deleted version like any answer: that token unwraps to no value.
    soft = bao.vault.kv.wrap_read(hub_token, tenant.name, "SOFT", 60)
    with pytest.raises(UnwrapError, match="was deleted when it was read"):
        SecretsClient(vault_addr=bao.addr).unwrap(soft["token"], tenant=tenant.name, key="SOFT")

    # A key gone between the check and its wrapped read: the tokens made are revoked.
    monkeypatch.setattr(vault.kv, "current_custom", lambda *args: {})
    reply = wrapped_call(app, hub_token, tenant.name, parameters[:3])
    assert reply.status_code == 422 and "wrap" not in reply.get_data(as_text=True)
    assert [u["key"] for u in reply.get_json()["errors"]["unresolved"]] == ["MISSING"]
    assert sorted(info["creation_path"].rsplit("/", 1)[1] for info in made) == ["ONE", "TWO"]
    for info in made:
        refused = lookup(bao, info["token"])
        assert refused.status_code == 400 and "not valid" in refused.text, info["creation_path"]


def test_wrapped_resolve_failing_midway_revokes_what_it_made(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    for key in ("ONE", "TWO", "THREE"):
        store(writer, tenant.name, key, planted(f"mid-{key}"))
    vault = app.extensions["nexo_vault"]
    made: list[dict[str, Any]] = []
    real_wrap_read = vault.kv.wrap_read

    def flaky(token: str, tenant_name: str, key: str, ttl: int) -> dict[str, Any]:
        if key == "TWO":
            raise vault_errors.Unavailable()
        info = dict(real_wrap_read(token, tenant_name, key, ttl))
        made.append(info)
        return info

    monkeypatch.setattr(vault.kv, "wrap_read", flaky)
    reply = wrapped_call(
        app, hub_token, tenant.name, [secret("one", "ONE"), secret("two", "TWO"), secret("three", "THREE")]
    )
    assert reply.status_code == 503 and "wrap" not in reply.get_data(as_text=True)
    assert made  # at least one token was made before or beside the failure...
    for info in made:
        assert lookup(bao, info["token"]).status_code == 400  # ...and none is left usable


def test_readme_sink_commands(app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str) -> None:
    """The README's `bao` commands for a sink, run as written on a genuine delivery."""
    value = planted("readme")
    store(login(tenant.writer, tenant.password), tenant.name, "DATABASE_PASSWORD", value)
    wrap = wrapped_call(app, hub_token, tenant.name, [secret("db", "DATABASE_PASSWORD")]).get_json()
    token = wrap["parameters"][0]["wrap"]["token"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("**How a sink checks a token.**", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    lookup_cmd, unwrap_cmd = [line for line in lines if line and not line.startswith("WRAP=")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")} | {"VAULT_ADDR": bao.addr, "WRAP": token}

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)

    looked = run(lookup_cmd)
    assert looked.returncode == 0 and looked.stdout.strip() == f"secret/data/tenants/{tenant.name}/DATABASE_PASSWORD"
    unwrapped = run(unwrap_cmd)
    assert unwrapped.returncode == 0 and json.loads(unwrapped.stdout) == {"value": value}
    assert run(unwrap_cmd).returncode != 0  # single use
