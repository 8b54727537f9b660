"""References (issue 25): which Actions and Event Types name which keys, against a real OpenBao
with real tokens: the Hub declares and forgets, members read, nobody else does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app import access, usage
from tests.conftest import BaoServer, Tenant, Users, bao_binary, planted, watch_resolve_answer
from tests.helpers import days


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret(name: str, key: str) -> dict[str, str]:
    return {"name": name, "type": "SECRET", "value": key}


def declare(app: Any, token: str, tenant: str, kind: str, id_: str, name: str, *params: dict[str, Any]) -> Any:
    return app.test_client().put(
        f"/api/v1/tenants/{tenant}/references/{kind}/{id_}",
        json={"name": name, "parameters": list(params)},
        headers=bearer(token),
    )


def listing(client: Any, tenant: str, **query: Any) -> list[dict[str, Any]]:
    reply = client.get(f"/api/v1/tenants/{tenant}/secrets", query_string=query)
    assert reply.status_code == 200, reply.get_json()
    return list(reply.get_json()["items"])


def counts(client: Any, tenant: str) -> dict[str, int]:
    return {i["key"]: i["references"] for i in listing(client, tenant)}


def stored(bao: BaoServer, tenant: str) -> list[str]:
    reply = bao.api("LIST", f"/v1/secret/metadata/references/{tenant}/")
    return list(reply.json()["data"]["keys"]) if reply.status_code == 200 else []


def test_the_hub_declares_and_members_see_who_uses_each_key(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key, extra in (("DB", {}), ("OLD", {}), ("SOON", {"expires_at": days(3)}), ("GONE", {"expires_at": days(-1)})):
        assert writer.post(url, json={"key": key, "value": planted(key), **extra}).status_code == 201
    writer.delete(f"{url}/OLD")
    # Written around the service in another shape: resolve refuses it, so a check says so.
    bao.api("POST", f"/v1/secret/data/tenants/{tenant.name}/ODD", json={"data": {"password": planted()}})

    reply = declare(
        app,
        hub_token,
        tenant.name,
        "action",
        "send-invoice",
        "Send invoice",
        secret("db_password", "DB"),
        {"name": "host", "type": "STRING", "value": "db.internal"},
        secret("old", "OLD"),
        secret("soon", "SOON"),
        secret("gone", "GONE"),
        secret("later", "LATER"),
        secret("odd", "ODD"),
    )
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert (body["kind"], body["id"], body["name"]) == ("action", "send-invoice", "Send invoice")
    assert body["keys"] == ["DB", "GONE", "LATER", "ODD", "OLD", "SOON"]  # STRING parameters are not kept
    assert {c["name"]: c["status"] for c in body["check"]} == {
        "db_password": "ok",
        "old": "deleted",
        "soon": "expiring",
        "gone": "expired",
        "later": "missing",
        "odd": "malformed",
    }
    assert (
        declare(
            app, hub_token, tenant.name, "event-type", "order.created", "order.created", secret("p", "DB")
        ).status_code
        == 200
    )

    # Readers see the counts in the table and the referrers of a key, with parameter names.
    assert counts(reader, tenant.name) == {"DB": 2, "GONE": 1, "ODD": 1, "SOON": 1}
    of_db = reader.get(f"/api/v1/tenants/{tenant.name}/references", query_string={"key": "DB"}).get_json()
    assert [(i["kind"], i["id"], i["name"], i["parameters"]) for i in of_db["items"]] == [
        ("action", "send-invoice", "Send invoice", ["db_password"]),
        ("event-type", "order.created", "order.created", ["p"]),
    ]
    assert of_db["next"] is None and of_db["items"][0]["last_resolved_time"] is None
    every = reader.get(f"/api/v1/tenants/{tenant.name}/references", query_string={"limit": 1}).get_json()
    assert [i["id"] for i in every["items"]] == ["send-invoice"] and every["next"] == "action,send-invoice"
    rest = reader.get(f"/api/v1/tenants/{tenant.name}/references", query_string={"after": every["next"]}).get_json()
    assert [i["id"] for i in rest["items"]] == ["order.created"] and rest["next"] is None
    # A key created after a referrer named it shows that referrer at once.
    assert writer.post(url, json={"key": "LATER", "value": planted()}).status_code == 201
    assert counts(reader, tenant.name)["LATER"] == 1
    assert writer.get(f"{url}/LATER").get_json()["references"] == 1
    # Vault's tenant folder holds exactly the tenant's keys; references live beside it.
    keys = bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/").json()["data"]["keys"]
    assert sorted(keys) == ["DB", "GONE", "LATER", "ODD", "OLD", "SOON"]
    assert "@action,send-invoice" in stored(bao, tenant.name)


def test_declaring_again_replaces_and_forgetting_removes_every_entry(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("A", "B", "C"):
        writer.post(url, json={"key": key, "value": planted()})
    declare(app, hub_token, tenant.name, "action", "x1", "Nightly sync", secret("a", "A"), secret("b", "B"))
    assert counts(writer, tenant.name) == {"A": 1, "B": 1, "C": 0}
    assert declare(app, hub_token, tenant.name, "action", "x1", "Nightly sync v2", secret("c", "C")).status_code == 200
    assert counts(writer, tenant.name) == {"A": 0, "B": 0, "C": 1}
    assert sorted(stored(bao, tenant.name)) == ["@action,x1", "C,action,x1"]
    gone = app.test_client().delete(f"/api/v1/tenants/{tenant.name}/references/action/x1", headers=bearer(hub_token))
    assert gone.status_code == 204
    assert stored(bao, tenant.name) == [] and counts(writer, tenant.name) == {"A": 0, "B": 0, "C": 0}
    again = app.test_client().delete(f"/api/v1/tenants/{tenant.name}/references/action/x1", headers=bearer(hub_token))
    assert again.status_code == 404 and set(again.get_json()) >= {"code", "status", "message"}


def test_deleting_a_referenced_key_names_the_referrers_unless_forced(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "DATABASE_PASSWORD", "value": planted()})
    writer.post(url, json={"key": "FREE", "value": planted()})
    for n in range(7):
        declare(app, hub_token, tenant.name, "action", f"a{n}", f"Action {n}", secret(f"db_{n}", "DATABASE_PASSWORD"))
    refused = writer.delete(f"{url}/DATABASE_PASSWORD")
    assert refused.status_code == 409
    detail = refused.get_json()["errors"]["referenced"]
    assert detail["count"] == 7 and len(detail["referrers"]) == 5
    assert detail["referrers"][0] == {"kind": "action", "id": "a0", "name": "Action 0", "parameters": ["db_0"]}
    assert "7 automations reference DATABASE_PASSWORD" in refused.get_json()["message"]
    assert [i["key"] for i in listing(writer, tenant.name)] == ["DATABASE_PASSWORD", "FREE"]  # nothing changed
    assert writer.delete(f"{url}/FREE").status_code == 204  # no referrers: today's delete
    assert writer.delete(f"{url}/DATABASE_PASSWORD", query_string={"force": "true"}).status_code == 204
    assert listing(writer, tenant.name) == []


def test_resolve_records_the_referrer_and_warns_of_drift(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("DECLARED", "EXTRA"):
        writer.post(url, json={"key": key, "value": planted()})
    declare(app, hub_token, tenant.name, "action", "run-1", "Runner", secret("d", "DECLARED"))

    def run(referrer: dict[str, str], *keys: str) -> Any:
        body = {"parameters": [secret(k.lower(), k) for k in keys], "referrer": referrer}
        reply = app.test_client().post(f"/api/v1/tenants/{tenant.name}/resolve", json=body, headers=bearer(hub_token))
        reply.close()  # as a server does once the answer is sent: the resolve is recorded then
        return watch_resolve_answer(reply)

    answer = run({"kind": "action", "id": "run-1"}, "DECLARED", "EXTRA")
    assert answer.status_code == 200
    assert answer.get_json()["warnings"] == [{"code": "undeclared", "key": "EXTRA", "kind": "action", "id": "run-1"}]
    unknown = run({"kind": "event-type", "id": "nobody"}, "DECLARED")
    assert unknown.status_code == 200  # never a refusal
    assert unknown.get_json()["warnings"] == [{"code": "unknown_referrer", "kind": "event-type", "id": "nobody"}]
    item = writer.get(f"/api/v1/tenants/{tenant.name}/references", query_string={"key": "DECLARED"}).get_json()
    recorded = item["items"][0]["last_resolved_time"]
    now = datetime.now(UTC)
    assert recorded in {usage.hour(now), usage.hour(now - timedelta(minutes=5))}
    bad = app.test_client().post(
        f"/api/v1/tenants/{tenant.name}/resolve",
        json={"parameters": [secret("d", "DECLARED")], "referrer": {"kind": "workflow", "id": "x"}},
        headers=bearer(hub_token),
    )
    assert bad.status_code == 422 and "referrer" in str(bad.get_json()["errors"])


def test_check_answers_each_parameter_and_stores_nothing(
    app: Any, bao: BaoServer, users: Users, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "THERE", "value": planted()})
    body = {
        "parameters": [
            secret("a", "THERE"),
            secret("b", "NOT_THERE"),
            {"name": "s", "type": "STRING", "value": 1},
            secret("c", "../other"),
            {"name": "d", "type": "secret", "value": 7},
        ]
    }
    for token in (hub_token, users.token(tenant.writer, tenant.password)):
        reply = app.test_client().post(f"/api/v1/tenants/{tenant.name}/check", json=body, headers=bearer(token))
        assert reply.status_code == 200, reply.get_json()
        assert reply.get_json()["check"] == [
            {"name": "a", "key": "THERE", "status": "ok"},
            {"name": "b", "key": "NOT_THERE", "status": "missing"},
            {"name": "c", "key": "../other", "status": "missing"},  # no key by the naming rule: none such
            {"name": "d", "key": "", "status": "missing"},
        ]
    assert stored(bao, tenant.name) == []


def test_who_may_declare_and_read_checked_with_real_tokens(
    app: Any, bao: BaoServer, users: Users, tenant: Tenant, hub_token: str
) -> None:
    other = users.tenant()
    admin, admin_pw = users.user(policies=("nexo-admin",))
    tokens = {
        "writer": users.token(tenant.writer, tenant.password),
        "reader": users.token(tenant.reader, tenant.password),
        "other": users.token(other.writer, other.password),
        "admin": users.token(admin, admin_pw),
    }
    assert declare(app, hub_token, tenant.name, "action", "ok", "Allowed", secret("p", "K")).status_code == 200
    for who in ("writer", "reader", "other", "admin"):
        refused = declare(app, tokens[who], tenant.name, "action", "nope", "Refused", secret("p", "K"))
        assert refused.status_code == 403, (who, refused.get_json())
        forget = app.test_client().delete(
            f"/api/v1/tenants/{tenant.name}/references/action/ok", headers=bearer(tokens[who])
        )
        assert forget.status_code == 403, who
    for who, status in (("writer", 200), ("reader", 200), ("other", 403), ("admin", 403)):
        read = app.test_client().get(f"/api/v1/tenants/{tenant.name}/references", headers=bearer(tokens[who]))
        assert read.status_code == status, (who, read.get_json())
    assert sorted(stored(bao, tenant.name)) == ["@action,ok", "K,action,ok"]
    # Vault itself: the same answers without the service.
    entry = f"secret/metadata/references/{tenant.name}/K,action,ok"
    for who, expected in (
        ("writer", ["list", "read"]),
        ("reader", ["list", "read"]),
        ("other", ["deny"]),
        ("admin", ["deny"]),
    ):
        caps = bao.api("POST", "/v1/sys/capabilities-self", tokens[who], json={"paths": [entry]}).json()
        assert sorted(caps["capabilities"]) == expected, who
    hub = bao.api("POST", "/v1/sys/capabilities-self", hub_token, json={"paths": [entry]}).json()["capabilities"]
    assert {"create", "update", "delete"} <= set(hub)


def test_the_auditor_reads_references_with_the_bao_cli(
    app: Any, bao: BaoServer, users: Users, tenant: Tenant, hub_token: str
) -> None:
    auditor, password = users.user(policies=("nexo-auditor",))
    declare(app, hub_token, tenant.name, "action", "audited", "Audited action", secret("db", "DB"))
    env = {**os.environ, "VAULT_ADDR": bao.addr, "VAULT_TOKEN": users.token(auditor, password)}

    def bao_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([bao_binary(), *args], env=env, capture_output=True, text=True, timeout=30)

    listed = bao_cli("kv", "list", f"secret/references/{tenant.name}")
    assert listed.returncode == 0, listed.stderr
    assert "@action,audited" in listed.stdout and "DB,action,audited" in listed.stdout
    meta = bao_cli("kv", "metadata", "get", "-format=json", f"secret/references/{tenant.name}/DB,action,audited")
    assert meta.returncode == 0 and "Audited action" in meta.stdout
    write = bao_cli(
        "kv", "metadata", "put", "-custom-metadata=name=x", f"secret/references/{tenant.name}/DB,action,evil"
    )
    assert write.returncode != 0 and "permission denied" in write.stderr


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("references/workflow/x", {"name": "n", "parameters": []}, 400, "kind"),
        ("references/action/bad%20id", {"name": "n", "parameters": []}, 400, "id"),
        ("references/action/" + "x" * 129, {"name": "n", "parameters": []}, 400, "id"),
        ("references/action/ok", {"name": "é" * 101, "parameters": []}, 422, "name"),
        ("references/action/ok", {"name": "tab\there", "parameters": []}, 422, "name"),
        (
            "references/action/ok",
            {"name": "n", "parameters": [secret(f"p{n}", "K") for n in range(101)]},
            422,
            "parameters",
        ),
        ("references/action/ok", {"name": "n", "parameters": [], "extra": 1}, 422, "extra"),
        ("check", {"parameters": [secret("p", "K")] * 101}, 422, "parameters"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    app: Any, bao: BaoServer, tenant: Tenant, hub_token: str, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    method = app.test_client().post if path == "check" else app.test_client().put
    reply = method(f"/api/v1/tenants/{tenant.name}/{path}", json=body, headers=bearer(hub_token))
    assert reply.status_code == status, reply.get_json()
    answer = reply.get_json()
    assert {"code", "status", "message"} <= set(answer) and field.split(".")[0] in str(answer.get("errors")), answer
    assert stored(bao, tenant.name) == []


def test_a_delete_checks_references_with_one_vault_listing(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "K", "value": planted()})
    for n in range(3):
        declare(app, hub_token, tenant.name, "action", f"a{n}", f"A{n}", secret("p", "K"))
    calls: list[tuple[str, str]] = []
    transport = app.extensions["nexo_vault"].transport
    original = transport.request

    def counting(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((method, path))
        return original(method, path, *args, **kwargs)

    transport.request = counting
    try:
        assert writer.delete(f"{url}/K").status_code == 409
    finally:
        transport.request = original
    on_references = [c for c in calls if "/references/" in c[1]]
    assert on_references == [("LIST", on_references[0][1])] and "detailed-metadata" in on_references[0][1]


@pytest.mark.system
def test_the_references_benchmark_runs_small_and_prints_every_row(tmp_path: Any) -> None:
    from tests.conftest import SEEN

    value = planted("bench")
    env = {**os.environ, "NEXO_BENCH_VALUE_PREFIX": value}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.references",
            "--keys",
            "120",
            "--referrers",
            "20",
            "--rounds",
            "1",
            "--calls",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    SEEN.append(("references bench output", done.stdout + done.stderr))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])["references_bench"]
    assert [r["row"].split(" ")[0] for r in rows] == ["page", "check", "unused", "floor:"]
    assert all(r["ratio"] > 0 and len(r["service_cpu_ms"]) == 2 for r in rows)


def test_unused_lists_keys_no_referrer_names_and_the_hub_has_not_resolved_lately(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str, users: Users
) -> None:
    from tests.conftest import watched_app

    writer = login(tenant.writer, tenant.password)
    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    # DB is named; DB-X, DB2 and DB_Z sort right after its entries ("DB,action,...") and are not.
    last_used = {"DB": 200, "DB-X": None, "DB2": 120, "DB_Z": 30, "FRESH": 0, "NEVER": None, "Z_OLD": 91}
    for key, ago in last_used.items():
        assert writer.post(url, json={"key": key, "value": planted("unused")}).status_code == 201
        if ago is not None:
            when = usage.hour(datetime.now(UTC) - timedelta(days=ago))
            if key == "FRESH":  # recorded before last use moved out of the metadata: honoured too
                bao.vault.kv.patch_metadata(bao.root_token, tenant.name, key, {usage.LAST_USED: when})
            else:
                usage.record(bao.vault, hub_token, tenant.name, key, when)
    declare(app, hub_token, tenant.name, "action", "a1", "Send invoice", secret("db", "DB"))
    declare(app, hub_token, tenant.name, "event-type", "e1", "order.created", secret("db", "DB"))

    unused = ["DB-X", "DB2", "NEVER", "Z_OLD"]
    assert [i["key"] for i in listing(reader, tenant.name, unused="true")] == unused
    # Server-filled pages: one at a time, the same keys, each page ending in a `next`.
    seen, after = [], None
    while True:
        query = {"unused": "true", "limit": 1, **({"after": after} if after else {})}
        page = writer.get(url, query_string=query).get_json()
        seen += [i["key"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == unused
    # Combined with a search; a referrer forgotten makes its key a candidate again.
    assert [i["key"] for i in listing(writer, tenant.name, unused="true", q="db")] == ["DB-X", "DB2"]
    app.test_client().delete(f"/api/v1/tenants/{tenant.name}/references/action/a1", headers=bearer(hub_token))
    assert "DB" not in [i["key"] for i in listing(writer, tenant.name, unused="true")]
    app.test_client().delete(f"/api/v1/tenants/{tenant.name}/references/event-type/e1", headers=bearer(hub_token))
    assert [i["key"] for i in listing(writer, tenant.name, unused="true")] == ["DB", *unused]

    # NEXO_UNUSED_DAYS: 20 days make DB_Z (resolved 30 days ago) a candidate too.
    shorter = watched_app(bao, "u" * 48, UNUSED_DAYS=20)
    keys = [i["key"] for i in listing(login(tenant.writer, tenant.password, on=shorter), tenant.name, unused="true")]
    assert keys == ["DB", "DB-X", "DB2", "DB_Z", "NEVER", "Z_OLD"]
    # Bad input is a 422 in the one shape; another tenant's member is refused.
    bad = writer.get(url, query_string={"unused": "maybe"})
    assert bad.status_code == 422 and "unused" in bad.get_json()["errors"]
    other = users.tenant()
    stranger = login(other.writer, other.password)
    assert stranger.get(url, query_string={"unused": "true"}).status_code == 403


def test_unused_days_is_a_bounded_setting() -> None:
    from app import config

    assert config.from_environ({})["UNUSED_DAYS"] == 90
    assert config.from_environ({"NEXO_UNUSED_DAYS": "30"})["UNUSED_DAYS"] == 30
    for bad in ("0", "3651", "soon"):
        with pytest.raises(config.ConfigError, match="NEXO_UNUSED_DAYS"):
            config.from_environ({"NEXO_UNUSED_DAYS": bad})


def test_the_export_carries_each_keys_referrers(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    reader = login(tenant.reader, tenant.password)
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("DB", "FREE"):
        assert writer.post(url, json={"key": key, "value": planted("export")}).status_code == 201
    declare(app, hub_token, tenant.name, "action", "send-invoice", "Send invoice", secret("db_password", "DB"))
    declare(app, hub_token, tenant.name, "event-type", "order:created", "order.created", secret("p", "DB"))

    items = reader.get(f"{url}/export").get_json()
    assert {i["key"]: i["referrers"] for i in items} == {
        "DB": [
            {"kind": "action", "id": "send-invoice", "name": "Send invoice"},
            {"kind": "event-type", "id": "order:created", "name": "order.created"},
        ],
        "FREE": [],
    }
    csv_text = reader.get(f"{url}/export", query_string={"format": "csv"}).get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].endswith(",referrers,malformed")
    assert lines[1].startswith("DB,") and lines[1].endswith(
        ",action/send-invoice: Send invoice; event-type/order:created: order.created,False"
    )
    assert lines[2].startswith("FREE,") and lines[2].endswith(",,False")
    # The export, imported back, is still recognised as an inventory (it holds no values).
    again = writer.post(f"{url}/import", json={"format": "dotenv", "content": csv_text})
    assert again.status_code == 422 and "inventory export" in again.get_json()["message"] + str(again.get_json())


def test_the_openapi_document_has_the_unused_filter_and_the_exports_referrers(app: Any) -> None:
    doc = app.test_client().get("/api/openapi.json").get_json()
    listing_params = {p["name"]: p for p in doc["paths"]["/api/v1/tenants/{tenant}/secrets"]["get"]["parameters"]}
    assert listing_params["unused"]["schema"]["type"] == "boolean"
    assert "NEXO_UNUSED_DAYS" in listing_params["unused"]["description"]
    item = doc["components"]["schemas"]["SecretItem"]["properties"]
    assert item["referrers"]["type"] == "array"
    referrer = doc["components"]["schemas"]["ReferrerRef"]["properties"]
    assert set(referrer) == {"kind", "id", "name"}


@pytest.mark.parametrize(("kv", "refs"), [("tenants", "tenants"), ("tenants", "tenants/refs"), ("a/b", "a")])
def test_references_must_lie_beside_the_tenants_folders(kv: str, refs: str) -> None:
    from app import config

    with pytest.raises(config.ConfigError, match="NEXO_REFERENCES_PREFIX"):
        config.check({"NEXO_ENV": "test", "KV_PREFIX": kv, "REFERENCES_PREFIX": refs})
    config.check({"NEXO_ENV": "test", "KV_PREFIX": kv, "REFERENCES_PREFIX": "elsewhere"})
