"""Last used, expiry and the resolve counters, against a real OpenBao server with real tokens."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from nexo_secrets_client import SecretsClient
from prometheus_client.parser import text_string_to_metric_families

from app import access, observe, usage
from tests.conftest import SEEN, BaoServer, Tenant, Users, free_port, planted, watch_resolve_answer
from tests.helpers import days, samples, this_hour, value
from tests.procs import metrics_url, start_serve, stop
from tests.ui_server import serve


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def resolve(app: Any, token: str, tenant: str, keys: list[str], **extra: Any) -> Any:
    body = {"parameters": [{"name": f"p_{k}", "type": "SECRET", "value": k} for k in keys], **extra}
    reply = app.test_client().post(
        f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    reply.close()  # as a server does once the answer is sent: the use is recorded then
    return watch_resolve_answer(reply)


def create(client: Any, tenant: str, key: str, **fields: Any) -> Any:
    return client.post(f"/api/v1/tenants/{tenant}/secrets", json={"key": key, "value": planted(key), **fields})


def metadata(bao: BaoServer, tenant: str, key: str) -> dict[str, Any]:
    return dict(bao.api("GET", f"/v1/secret/metadata/tenants/{tenant}/{key}").json()["data"])


def used_entries(bao: BaoServer, tenant: str) -> list[str]:
    """The tenant's last-use entries, `<key>,<hour>`, as `bao kv list` shows them."""
    reply = bao.api("LIST", f"/v1/secret/metadata/references/{tenant}/~used/")
    return list(reply.json()["data"]["keys"]) if reply.status_code == 200 else []


def test_last_used_is_recorded_after_the_answer_once_per_hour(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert create(writer, tenant.name, "SMTP_API_KEY", description="Mail").status_code == 201
    before = writer.get(f"{url}/SMTP_API_KEY").get_json()
    assert before["last_used_time"] is None and before["expires_at"] is None
    assert writer.get(url).get_json()["items"][0]["last_used_time"] is None
    untouched = metadata(bao, tenant.name, "SMTP_API_KEY")

    assert resolve(app, hub_token, tenant.name, ["SMTP_API_KEY"]).status_code == 200
    item = writer.get(f"{url}/SMTP_API_KEY").get_json()
    assert this_hour(item["last_used_time"])
    # Recording a use changes nothing else: the description stays, "Updated" does not move.
    assert item["description"] == "Mail" and item["updated_time"] == before["updated_time"]
    assert item["version"] == 1 and item["updated_by"] == tenant.writer
    assert this_hour(writer.get(url).get_json()["items"][0]["last_used_time"])
    # It is kept beside the references, never in the secret's own metadata.
    assert metadata(bao, tenant.name, "SMTP_API_KEY") == untouched
    entries = used_entries(bao, tenant.name)
    assert entries == [f"SMTP_API_KEY,{item['last_used_time']}"]
    entry = f"/v1/secret/metadata/references/{tenant.name}/~used/{entries[0]}"
    written = bao.api("GET", entry).json()["data"]["current_metadata_version"]

    # The same hour: no second write, whatever the number of resolves.
    for _ in range(3):
        assert resolve(app, hub_token, tenant.name, ["SMTP_API_KEY"]).status_code == 200
    assert bao.api("GET", entry).json()["data"]["current_metadata_version"] == written
    assert used_entries(bao, tenant.name) == entries

    # A description edit made after a recorded use is an ordinary edit (metadata check-and-set).
    assert writer.patch(f"{url}/SMTP_API_KEY", json={"description": "Mail (rotated)"}).status_code == 200

    # A wrapped resolve is a use too (the service learns the metadata from its subkeys check).
    assert create(writer, tenant.name, "WRAPPED_ONLY").status_code == 201
    assert resolve(app, hub_token, tenant.name, ["WRAPPED_ONLY"], wrap_ttl=30).status_code == 200
    assert this_hour(writer.get(f"{url}/WRAPPED_ONLY").get_json()["last_used_time"])


def test_recorder_writes_each_key_once_per_hour() -> None:
    recorder = usage.Recorder()
    now = datetime(2026, 12, 1, 10, 20, tzinfo=UTC).timestamp()
    hour = "2026-12-01T10:00:00Z"
    assert recorder.due("t", ["A", "B"], now) == (["A", "B"], hour)
    assert recorder.due("t", ["A", "B", "C"], now + 60) == (["C"], hour)
    assert recorder.due("u", ["A"], now) == (["A"], hour)  # another tenant's key of the same name
    assert recorder.due("t", ["A"], now + 3600) == (["A"], "2026-12-01T11:00:00Z")


def test_a_use_keeps_one_entry_per_key_the_newest(bao: BaoServer, tenant: Tenant, hub_token: str) -> None:
    """A new hour's record removes the earlier hour's entry; a worker whose clock lags writes an
    older hour after a newer one and removes its own, so one entry per key stays, the newest."""
    for when in ("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-12-01T09:00:00Z"):
        usage.record(bao.vault, hub_token, tenant.name, "K", when)
        usage.record(bao.vault, hub_token, tenant.name, "K.2", when)  # sorts right after K's entries
    assert used_entries(bao, tenant.name) == ["K,2026-12-01T11:00:00Z", "K.2,2026-12-01T11:00:00Z"]
    found = usage.last_used(bao.vault, hub_token, tenant.name, ["K", "K.2", "L"])
    assert found == {"K": "2026-12-01T11:00:00Z", "K.2": "2026-12-01T11:00:00Z"}
    ask = usage.walker(bao.vault, hub_token, tenant.name, None)
    assert [ask("J"), ask("K"), ask("K.1"), ask("K.2"), ask("Z")] == [
        None,
        "2026-12-01T11:00:00Z",
        None,
        "2026-12-01T11:00:00Z",
        None,
    ]


def test_a_refused_usage_write_still_resolves_and_is_logged_without_value(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A resolver token without the last-use folder (an older nexo-hub policy): Vault refuses the
    write, the resolve is answered all the same, the log names the key and never the value."""
    writer = login(tenant.writer, tenant.password)
    value = planted("refused")
    assert writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "K", "value": value}).status_code == 201
    policy = f'path "secret/data/tenants/{tenant.name}/*" {{ capabilities = ["read"] }}'
    assert bao.api("PUT", "/v1/sys/policies/acl/old-hub", json={"policy": policy}).ok
    token = bao.api("POST", "/v1/auth/token/create", json={"policies": ["old-hub"], "ttl": "10m"}).json()
    token = token["auth"]["client_token"]
    with caplog.at_level(logging.WARNING, logger="app.usage"):
        reply = resolve(app, token, tenant.name, ["K"])
    assert reply.status_code == 200 and reply.get_json()["parameters"][0]["value"] == value
    refused = [r.getMessage() for r in caplog.records if r.name == "app.usage"]
    assert refused == [f"could not record the use of key K in tenant {tenant.name} (Denied)"]
    assert writer.get(f"/api/v1/tenants/{tenant.name}/secrets/K").get_json()["last_used_time"] is None


def test_hub_policy_reads_metadata_and_changes_none(bao: BaoServer, tenant: Tenant, hub_token: str) -> None:
    bao.vault.kv.write_value(bao.root_token, tenant.name, "K", planted(), cas=0)
    bao.vault.kv.write_metadata(bao.root_token, tenant.name, "K", {"description": "d"})
    caps = bao.api(
        "POST",
        "/v1/sys/capabilities-self",
        hub_token,
        json={
            "paths": [
                f"secret/metadata/tenants/{tenant.name}/K",
                f"secret/metadata/tenants/{tenant.name}/",
                f"secret/data/tenants/{tenant.name}/K",
                f"secret/delete/tenants/{tenant.name}/K",
                f"secret/destroy/tenants/{tenant.name}/K",
                "secret/metadata/elsewhere/K",
                f"secret/metadata/references/{tenant.name}/~used/K,2026-12-01T10:00:00Z",
            ]
        },
    ).json()
    # read: a references check tells deleted from missing; no patch (last use is kept beside the
    # references), list, update or delete
    assert caps[f"secret/metadata/tenants/{tenant.name}/K"] == ["read"]
    assert caps[f"secret/metadata/tenants/{tenant.name}/"] == ["read"]  # LIST is a separate capability
    assert caps[f"secret/data/tenants/{tenant.name}/K"] == ["read"]  # no create/update/delete of data
    assert caps[f"secret/delete/tenants/{tenant.name}/K"] == ["deny"]
    assert caps[f"secret/destroy/tenants/{tenant.name}/K"] == ["deny"]
    assert caps["secret/metadata/elsewhere/K"] == ["deny"]
    used = caps[f"secret/metadata/references/{tenant.name}/~used/K,2026-12-01T10:00:00Z"]
    assert {"create", "update", "delete", "list"} <= set(used)

    meta_path = f"/v1/secret/metadata/tenants/{tenant.name}/K"

    def patch(body: str) -> int:
        headers = {"X-Vault-Token": hub_token, "Content-Type": "application/merge-patch+json"}
        return requests.patch(bao.addr + meta_path, data=body, headers=headers, timeout=10).status_code

    # It can change no description, expiry or author, nor anything else of the metadata.
    assert patch('{"custom_metadata": {"last_used_time": "2026-12-01T10:00:00Z"}}') == 403
    assert patch('{"custom_metadata": {"description": "forged"}}') == 403
    assert patch('{"max_versions": 1}') == 403
    assert patch('{"custom_metadata": {"x": "y"}, "delete_version_after": "1s"}') == 403
    assert patch('{"cas_required": true}') == 403
    assert bao.api("GET", meta_path, hub_token).status_code == 200
    for method in ("LIST", "DELETE"):
        assert bao.api(method, meta_path, hub_token).status_code == 403, method
    assert bao.api("POST", meta_path, hub_token, json={"custom_metadata": {"a": "b"}}).status_code == 403
    assert bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/", hub_token).status_code == 403
    data = f"/v1/secret/data/tenants/{tenant.name}/K"
    assert bao.api("POST", data, hub_token, json={"data": {"value": "x"}}).status_code == 403
    assert bao.api("DELETE", data, hub_token).status_code == 403
    assert metadata(bao, tenant.name, "K")["max_versions"] == 10
    assert metadata(bao, tenant.name, "K")["custom_metadata"] == {"description": "d"}


def test_expiry_is_set_marked_filtered_and_cleared(app: Any, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    past, soon, later = days(-1), days(3), days(60)
    assert create(writer, tenant.name, "EXPIRED", expires_at=past).get_json()["expires_at"] == past
    assert create(writer, tenant.name, "SOON", expires_at=soon).status_code == 201
    assert create(writer, tenant.name, "LATER", expires_at=later).status_code == 201
    assert create(writer, tenant.name, "NEVER").get_json()["expires_at"] is None
    # A date alone is midnight UTC; an offset is turned into UTC.
    dated = create(writer, tenant.name, "DATED", expires_at="2030-01-31")
    assert dated.status_code == 201 and dated.get_json()["expires_at"] == "2030-01-31T00:00:00Z"
    offset = writer.patch(f"{url}/DATED", json={"expires_at": "2030-01-31T10:00:00+02:00"}).get_json()
    assert offset["expires_at"] == "2030-01-31T08:00:00Z"

    listed = lambda query: [i["key"] for i in writer.get(f"{url}?{query}").get_json()["items"]]  # noqa: E731
    assert listed("expiring_within_days=14") == ["EXPIRED", "SOON"]
    assert listed("expiring_within_days=0") == ["EXPIRED"]
    assert listed("expiring_within_days=90") == ["EXPIRED", "LATER", "SOON"]
    assert listed("expiring_within_days=14&limit=1") == ["EXPIRED"]
    assert listed("") == ["DATED", "EXPIRED", "LATER", "NEVER", "SOON"]
    items = {i["key"]: i for i in writer.get(url).get_json()["items"]}
    assert items["NEVER"]["expires_at"] is None and items["SOON"]["expires_at"] == soon

    # PATCH: absent keeps it, null clears it; an expiry-only edit makes no new version.
    kept = writer.patch(f"{url}/SOON", json={"description": "x"}).get_json()
    assert kept["expires_at"] == soon
    cleared = writer.patch(f"{url}/SOON", json={"expires_at": None}).get_json()
    assert cleared["expires_at"] is None and cleared["version"] == 1 and cleared["description"] == "x"
    assert listed("expiring_within_days=14") == ["EXPIRED"]

    for bad in ("tomorrow", "2027-13-01", "2027-01-01T25:00:00Z", "", 20270101, "2027-01-01T00:00:00"):
        for reply in (
            create(writer, tenant.name, "BAD", expires_at=bad),
            writer.patch(f"{url}/LATER", json={"expires_at": bad}),
        ):
            assert reply.status_code == 422, bad
            assert list(reply.get_json()["errors"]) == ["expires_at"], bad
    for bad_query in ("expiring_within_days=-1", "expiring_within_days=x", "expiring_within_days=99999"):
        assert writer.get(f"{url}?{bad_query}").status_code == 422, bad_query
    # A reader sees the expiry too, and may not set one.
    reader = login(tenant.reader, tenant.password)
    assert [i["key"] for i in reader.get(f"{url}?expiring_within_days=14").get_json()["items"]] == ["EXPIRED"]
    assert reader.patch(f"{url}/LATER", json={"expires_at": None}).status_code == 403


def test_expired_keys_still_resolve_and_are_named_in_warnings(
    app: Any, tenant: Tenant, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    past = days(-2)
    create(writer, tenant.name, "OLD", expires_at=past)
    create(writer, tenant.name, "FRESH", expires_at=days(5))
    body = {
        "parameters": [
            {"name": "a", "type": "SECRET", "value": "OLD"},
            {"name": "b", "type": "SECRET", "value": "FRESH"},
            {"name": "c", "type": "secret", "value": "OLD"},
            {"name": "d", "type": "STRING", "value": "OLD"},
        ]
    }
    expected = [
        {"name": "a", "key": "OLD", "code": "expired", "expires_at": past},
        {"name": "c", "key": "OLD", "code": "expired", "expires_at": past},
    ]
    http = app.test_client()
    headers = {"Authorization": f"Bearer {hub_token}"}
    plain = watch_resolve_answer(http.post(f"/api/v1/tenants/{tenant.name}/resolve", json=body, headers=headers))
    assert plain.status_code == 200
    assert [p["value"] is not None for p in plain.get_json()["parameters"]] == [True, True, True, True]
    assert plain.get_json()["warnings"] == expected
    wrapped = http.post(f"/api/v1/tenants/{tenant.name}/resolve", json={**body, "wrap_ttl": 30}, headers=headers)
    assert wrapped.status_code == 200 and wrapped.get_json()["warnings"] == expected
    # Nothing expired: no warnings field (the answer is as before).
    fresh = resolve(app, hub_token, tenant.name, ["FRESH"]).get_json()
    assert "warnings" not in fresh
    assert "warnings" not in resolve(app, hub_token, tenant.name, ["FRESH"], wrap_ttl=30).get_json()


def test_hub_client_logs_the_expired_key_never_the_value(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    writer = login(tenant.writer, tenant.password)
    value = planted("expired")
    assert (
        writer.post(
            f"/api/v1/tenants/{tenant.name}/secrets",
            json={"key": "SMTP_API_KEY", "value": value, "expires_at": "2020-01-01"},
        ).status_code
        == 201
    )
    hub = access.hub_credentials(bao.vault, bao.root_token)
    with serve(app) as url, SecretsClient(url, vault_addr=bao.addr, role_id=hub.role_id, secret_id=hub.secret_id) as c:
        with caplog.at_level(logging.WARNING, logger="nexo_secrets_client.client"):
            got = c.resolve(tenant.name, [{"name": "smtp", "type": "SECRET", "value": "SMTP_API_KEY"}])
            delivery = c.resolve(tenant.name, [{"name": "smtp", "type": "SECRET", "value": "SMTP_API_KEY"}], 30)
        # Over real HTTP the use is recorded once the answer has been sent (the server closes it).
        item_url = f"/api/v1/tenants/{tenant.name}/secrets/SMTP_API_KEY"
        for _ in range(50):
            if writer.get(item_url).get_json()["last_used_time"] is not None:
                break
            time.sleep(0.05)
        assert this_hour(writer.get(item_url).get_json()["last_used_time"])
    assert got[0]["value"] == value
    lines = [r.getMessage() for r in caplog.records if r.name == "nexo_secrets_client.client"]
    assert delivery.keys == ["SMTP_API_KEY"]
    line = (
        f"resolve in tenant {tenant.name}: key SMTP_API_KEY (parameter smtp) expired at 2020-01-01T00:00:00Z; "
        "it still resolves, renew it"
    )
    assert lines == [line, line]  # plain and wrapped


def test_resolve_counters_carry_the_tenant_only(
    app: Any, tenant: Tenant, users: Users, login: Any, hub_token: str
) -> None:
    writer = login(tenant.writer, tenant.password)
    create(writer, tenant.name, "K")
    before = samples(app)
    assert resolve(app, hub_token, tenant.name, ["K"]).status_code == 200
    assert resolve(app, hub_token, tenant.name, ["K"], wrap_ttl=30).status_code == 200
    assert resolve(app, hub_token, tenant.name, ["K", "MISSING", "ALSO_MISSING"]).status_code == 422
    # A caller the Vault check refuses counts nowhere: its tenant names never become labels.
    user_token = users.token(tenant.writer, tenant.password)
    assert resolve(app, user_token, "nosuch-tenant", ["K"]).status_code == 403
    assert resolve(app, user_token, tenant.name, ["K"]).status_code == 403
    after = samples(app)
    assert (
        value(after, "nexo_resolves_total", tenant=tenant.name)
        - value(before, "nexo_resolves_total", tenant=tenant.name)
        == 2
    )
    assert (
        value(after, "nexo_unresolved_keys_total", tenant=tenant.name)
        - value(before, "nexo_unresolved_keys_total", tenant=tenant.name)
        == 2
    )
    for name, labels in after:
        if name.startswith(("nexo_resolves", "nexo_unresolved_keys")):
            assert {k for k, _ in labels} == {"tenant"}
            assert dict(labels)["tenant"] != "nosuch-tenant"


def test_tenant_labels_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "_tenant_labels", set())
    monkeypatch.setattr(observe, "MAX_TENANT_LABELS", 2)
    assert [observe._tenant_label(t) for t in ("a", "b", "c", "a", "d")] == ["a", "b", "_other", "a", "_other"]


def test_a_broken_recorder_never_fails_the_resolve(
    app: Any, tenant: Tenant, login: Any, hub_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    create(writer, tenant.name, "K")

    def broken(*args: Any) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(usage.Recorder, "due", broken)
    assert resolve(app, hub_token, tenant.name, ["K"]).status_code == 200
    monkeypatch.undo()

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("vault went away")

    monkeypatch.setattr(app.extensions["nexo_vault"].used, "write_metadata", unreachable)
    assert resolve(app, hub_token, tenant.name, ["K"]).status_code == 200
    assert writer.get(f"/api/v1/tenants/{tenant.name}/secrets/K").get_json()["last_used_time"] is None


@pytest.mark.system
def test_under_gunicorn_each_worker_writes_a_key_at_most_once_an_hour(
    bao: BaoServer, tenant: Tenant, hub_token: str, tmp_path: Path
) -> None:
    """`nexo-secrets serve` with two workers: 20 resolves, each on a new connection (both workers
    answer), make at most one usage write per worker; the counter adds up across workers."""
    bao.vault.kv.write_value(bao.root_token, tenant.name, "K", planted(), cas=0)
    bao.vault.kv.write_metadata(bao.root_token, tenant.name, "K", {"description": "d"})
    before = metadata(bao, tenant.name, "K")["current_metadata_version"]
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    env.update(
        VAULT_ADDR=bao.addr, SECRET_KEY="u" * 48, NEXO_ENV="production", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    env["NEXO_METRICS_PORT"] = str(metrics_port := free_port())
    proc, base = start_serve(env, tmp_path / "serve.log", workers=2)
    try:
        body = {"parameters": [{"name": "p", "type": "SECRET", "value": "K"}]}
        headers = {"Authorization": f"Bearer {hub_token}", "Connection": "close"}
        for _ in range(20):
            reply = requests.post(f"{base}/api/v1/tenants/{tenant.name}/resolve", json=body, headers=headers, timeout=5)
            assert reply.status_code == 200
        text = requests.get(metrics_url(base, metrics_port), timeout=5, headers={"Connection": "close"}).text
        SEEN.append(("/metrics under gunicorn", text))
    finally:
        stop(proc)
    meta = metadata(bao, tenant.name, "K")
    assert meta["custom_metadata"] == {"description": "d"} and meta["current_metadata_version"] == before
    [entry] = used_entries(bao, tenant.name)
    assert entry.startswith("K,") and this_hour(entry.removeprefix("K,"))
    written = bao.api("GET", f"/v1/secret/metadata/references/{tenant.name}/~used/{entry}").json()["data"]
    assert 1 <= written["current_metadata_version"] <= 2  # one write per worker at most
    found = {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }
    assert found[("nexo_resolves_total", frozenset({("tenant", tenant.name)}))] == 20


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("0893-05-26T18:12:47.383-07:43", "0893-05-27T01:55:47Z"),  # four-digit years before 1000
        ("2026-12-31T23:59:60Z", "2026-12-31T23:59:59Z"),  # RFC 3339's leap second
        ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"),  # before year 1 in UTC: the nearest
        ("2027-01-31", "2027-01-31T00:00:00Z"),
    ],
)
def test_every_rfc3339_expiry_is_stored_and_reads_back(given: str, stored: str) -> None:
    """What the API document calls a date-time is taken (the fuzzer sends such), stored in a
    form that parses back to itself."""
    assert usage.expiry(given) == stored and usage.expiry(stored) == stored
