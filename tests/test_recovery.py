"""Delete is recoverable: Recently deleted, restore, delete permanently, purge and each secret's
history, against a real OpenBao server (issue 14)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from app import access, cli, config
from tests.conftest import BaoServer, Tenant, Users, planted, watch_resolve_answer, watched_app


@pytest.fixture(scope="module")
def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def resolve(app: Any, token: str, tenant: str, key: str) -> Any:
    body = {"parameters": [{"name": "p", "type": "SECRET", "value": key}]}
    return watch_resolve_answer(
        app.test_client().post(
            f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    )


def metadata(bao: BaoServer, tenant: str, key: str) -> Any:
    return bao.api("GET", f"/v1/secret/metadata/tenants/{tenant}/{key}")


def stored(bao: BaoServer, tenant: str, key: str) -> tuple[str, int]:
    """The current value and version, read with the root token (bypassing the service)."""
    reply = bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}").json()["data"]
    return reply["data"]["value"], reply["metadata"]["version"]


def keys(client: Any, tenant: str, **query: Any) -> list[str]:
    reply = client.get(f"/api/v1/tenants/{tenant}/secrets", query_string=query)
    assert reply.status_code == 200, reply.get_json()
    return [i["key"] for i in reply.get_json()["items"]]


@pytest.fixture(scope="module")
def no_window_app(bao: BaoServer) -> Any:
    """The service configured with a recovery window of 0 days (delete is permanent at once)."""
    return watched_app(bao, "t" * 48, RECOVERY_DAYS=0)


def test_delete_restore_round_trip(app: Any, bao: BaoServer, tenant: Tenant, login: Any, hub_token: str) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    value = planted("restored")
    assert writer.post(url, json={"key": "DB_PASSWORD", "description": "Primary", "value": value}).status_code == 201
    assert writer.post(url, json={"key": "OTHER", "value": planted()}).status_code == 201

    assert writer.delete(f"{url}/DB_PASSWORD").status_code == 204
    # At once: gone from the table and from resolve; one GET is 404; Vault keeps the metadata.
    assert keys(writer, tenant.name) == ["OTHER"]
    assert writer.get(f"{url}/DB_PASSWORD").status_code == 404
    assert writer.patch(f"{url}/DB_PASSWORD", json={"description": "x"}).status_code == 404
    assert writer.delete(f"{url}/DB_PASSWORD").status_code == 404
    unresolved = resolve(app, hub_token, tenant.name, "DB_PASSWORD")
    assert unresolved.status_code == 422 and unresolved.get_json()["errors"]["unresolved"][0]["key"] == "DB_PASSWORD"
    meta = metadata(bao, tenant.name, "DB_PASSWORD").json()["data"]
    assert meta["versions"]["1"]["deletion_time"] and not meta["versions"]["1"]["destroyed"]
    assert meta["custom_metadata"]["deleted_by"] == tenant.writer
    assert meta["max_versions"] == 10

    deleted = writer.get(url, query_string={"deleted": "true"}).get_json()
    assert deleted["next"] is None and [i["key"] for i in deleted["items"]] == ["DB_PASSWORD"]
    item = deleted["items"][0]
    assert item["description"] == "Primary" and item["deleted_by"] == tenant.writer
    when = datetime.fromisoformat(item["deleted_time"][:19] + "+00:00")
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60
    purge = datetime.fromisoformat(item["purge_time"].replace("Z", "+00:00"))
    assert abs((purge - when - timedelta(days=30)).total_seconds()) < 2
    # The live listing items carry none of the deletion fields.
    assert "deleted_time" not in writer.get(url).get_json()["items"][0]

    restored = writer.post(f"{url}/DB_PASSWORD/restore")
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["key"] == "DB_PASSWORD" and restored.get_json()["version"] == 1
    assert "deleted_time" not in restored.get_json()
    assert keys(writer, tenant.name) == ["DB_PASSWORD", "OTHER"]
    assert keys(writer, tenant.name, deleted="true") == []
    answer = resolve(app, hub_token, tenant.name, "DB_PASSWORD")
    assert answer.status_code == 200 and answer.get_json()["parameters"][0]["value"] == value
    assert stored(bao, tenant.name, "DB_PASSWORD") == (value, 1)
    assert "deleted_by" not in metadata(bao, tenant.name, "DB_PASSWORD").json()["data"]["custom_metadata"]


def test_recreate_on_top_keeps_history_and_refuses_restore(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "K", "description": "old", "value": planted()})
    writer.patch(f"{url}/K", json={"value": planted()})
    assert writer.delete(f"{url}/K").status_code == 204
    fresh = planted("fresh")
    created = writer.post(url, json={"key": "K", "value": fresh})
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item["version"] == 3 and item["description"] == "" and item["created_by"] == tenant.writer
    assert stored(bao, tenant.name, "K") == (fresh, 3)
    # The key is live again: a second create is the usual 409.
    assert writer.post(url, json={"key": "K", "value": planted()}).status_code == 409

    refused = writer.post(f"{url}/K/restore")
    assert refused.status_code == 409 and "created after it was deleted" in refused.get_json()["message"]
    assert stored(bao, tenant.name, "K") == (fresh, 3)

    history = writer.get(f"{url}/K/versions").get_json()
    assert [(v["version"], v["deleted"], v["created_by"]) for v in history["items"]] == [
        (3, False, tenant.writer),
        (2, True, tenant.writer),
        (1, False, tenant.writer),
    ]
    assert history["max_versions"] == 10
    assert all(set(v) >= {"version", "created_time", "created_by", "deleted"} for v in history["items"])


def test_restore_refusals(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "LIVE", "value": planted()})
    live = writer.post(f"{url}/LIVE/restore")
    assert live.status_code == 409 and live.get_json()["code"] == 409 and "not deleted" in live.get_json()["message"]
    missing = writer.post(f"{url}/NOPE/restore")
    assert missing.status_code == 404 and "NOPE" in missing.get_json()["message"]
    assert writer.post(f"/api/v1/tenants/{tenant.name}/secrets/a..b/restore").status_code in (400, 404)
    # Destroyed data cannot come back.
    writer.post(url, json={"key": "GONE", "value": planted()})
    writer.delete(f"{url}/GONE")
    bao.api("POST", f"/v1/secret/destroy/tenants/{tenant.name}/GONE", json={"versions": [1]})
    destroyed = writer.post(f"{url}/GONE/restore")
    assert destroyed.status_code == 409 and "destroyed" in destroyed.get_json()["message"]


def test_two_restores_at_once_one_wins(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    first = login(tenant.writer, tenant.password)
    second = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    value = planted()
    for round_ in range(3):
        key = f"RACE_{round_}"
        first.post(url, json={"key": key, "value": value})
        first.delete(f"{url}/{key}")
        barrier = threading.Barrier(2)
        answers: list[Any] = []

        def restore(
            client: Any, key: str = key, barrier: threading.Barrier = barrier, answers: list[Any] = answers
        ) -> None:
            barrier.wait()
            reply = client.post(f"{url}/{key}/restore")
            answers.append((reply.status_code, reply.get_json()))

        threads = [threading.Thread(target=restore, args=(c,)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(code for code, _ in answers) == [200, 409], answers
        loser = next(body for code, body in answers if code == 409)
        assert loser["code"] == 409 and key in loser["message"]
        # Never a duplicate version: restore writes none.
        assert stored(bao, tenant.name, key) == (value, 1)
    assert keys(first, tenant.name) == ["RACE_0", "RACE_1", "RACE_2"]


def test_two_restores_in_sequence_second_is_409(tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "K", "value": planted()})
    writer.delete(f"{url}/K")
    assert writer.post(f"{url}/K/restore").status_code == 200
    again = writer.post(f"{url}/K/restore")
    assert again.status_code == 409 and "restored it already" in again.get_json()["message"]


def test_delete_permanently(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("DELETED", "LIVE"):
        writer.post(url, json={"key": key, "value": planted()})
    writer.delete(f"{url}/DELETED")
    for key in ("DELETED", "LIVE"):
        assert writer.delete(f"{url}/{key}", query_string={"permanent": "true"}).status_code == 204
        assert metadata(bao, tenant.name, key).status_code == 404
    assert keys(writer, tenant.name) == [] and keys(writer, tenant.name, deleted="true") == []
    assert writer.delete(f"{url}/LIVE", query_string={"permanent": "true"}).status_code == 404
    assert writer.delete(f"{url}/LIVE", query_string={"permanent": "maybe"}).status_code == 422


def test_recovery_days_zero_deletes_at_once(no_window_app: Any, bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password, on=no_window_app)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "K", "value": planted()})
    assert writer.delete(f"{url}/K").status_code == 204
    assert writer.get("/api/v1/session").get_json()["recovery_days"] == 0
    assert metadata(bao, tenant.name, "K").status_code == 404
    assert keys(writer, tenant.name, deleted="true") == []


def test_a_delete_made_with_the_vault_cli_shows_the_same(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    value = planted()
    writer.post(url, json={"key": "K", "value": value})
    assert bao.api("DELETE", f"/v1/secret/data/tenants/{tenant.name}/K").status_code == 204  # `bao kv delete`
    assert keys(writer, tenant.name) == []
    deleted = writer.get(url, query_string={"deleted": "true"}).get_json()["items"]
    assert [(i["key"], i["deleted_by"]) for i in deleted] == [("K", "")]
    assert writer.post(f"{url}/K/restore").status_code == 200
    assert stored(bao, tenant.name, "K") == (value, 1)


def test_reader_sees_deleted_and_history_but_changes_nothing(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    reader = login(tenant.reader, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "K", "value": planted()})
    writer.delete(f"{url}/K")
    assert keys(reader, tenant.name, deleted="true") == ["K"]
    assert reader.get(f"{url}/K/versions").status_code == 200
    for reply in (reader.post(f"{url}/K/restore"), reader.delete(f"{url}/K", query_string={"permanent": "true"})):
        assert reply.status_code == 403 and reply.get_json()["code"] == 403
    writer.post(url, json={"key": "L", "value": planted()})
    assert reader.delete(f"{url}/L").status_code == 403
    assert keys(reader, tenant.name) == ["L"]
    assert metadata(bao, tenant.name, "K").json()["data"]["versions"]["1"]["deletion_time"]


def test_policies_grant_delete_undelete_destroy_for_the_tenant_only(
    bao: BaoServer, users: Users, tenant: Tenant, login: Any
) -> None:
    neighbour = users.tenant(tenant.name + "-x")
    writer = login(tenant.writer, tenant.password)
    writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "K", "value": planted()})
    login(neighbour.writer, neighbour.password).post(
        f"/api/v1/tenants/{neighbour.name}/secrets", json={"key": "K", "value": planted()}
    )
    writer_token = users.token(tenant.writer, tenant.password)
    reader_token = users.token(tenant.reader, tenant.password)

    def capabilities(token: str, path: str) -> list[str]:
        reply = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [path]})
        return sorted(reply.json()["capabilities"])

    for op in ("delete", "undelete", "destroy"):
        assert capabilities(writer_token, f"secret/{op}/tenants/{tenant.name}/K") == ["update"]
        assert capabilities(writer_token, f"secret/{op}/tenants/{neighbour.name}/K") == ["deny"]
        assert capabilities(writer_token, f"secret/{op}/tenants/{tenant.name}") == ["deny"]
        assert capabilities(reader_token, f"secret/{op}/tenants/{tenant.name}/K") == ["deny"]
    # Vault itself, with the writer's own token: its tenant yes, the neighbour no.
    for op in ("delete", "undelete"):
        body = {"versions": [1]}
        assert bao.api("POST", f"/v1/secret/{op}/tenants/{tenant.name}/K", writer_token, json=body).status_code == 204
        denied = bao.api("POST", f"/v1/secret/{op}/tenants/{neighbour.name}/K", writer_token, json=body)
        assert denied.status_code == 403
        assert bao.api("POST", f"/v1/secret/{op}/tenants/{tenant.name}/K", reader_token, json=body).status_code == 403
    assert (
        bao.api("POST", f"/v1/secret/destroy/tenants/{neighbour.name}/K", writer_token, json={"versions": [1]})
    ).status_code == 403
    assert metadata(bao, neighbour.name, "K").json()["data"]["versions"]["1"]["deletion_time"] == ""
    # The write policy still reads no value.
    assert capabilities(writer_token, f"secret/data/tenants/{tenant.name}/K") == ["create", "update"]


def test_history_drops_older_versions(app: Any, bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    vault = app.extensions["nexo_vault"]
    vault.kv.max_versions = 2
    try:
        writer.post(url, json={"key": "K", "value": planted()})
        for _ in range(3):
            assert writer.patch(f"{url}/K", json={"value": planted()}).status_code == 200
    finally:
        vault.kv.max_versions = 10
    history = writer.get(f"{url}/K/versions").get_json()
    assert [v["version"] for v in history["items"]] == [4, 3] and history["max_versions"] == 2
    custom = metadata(bao, tenant.name, "K").json()["data"]["custom_metadata"]
    assert sorted(k for k in custom if k.startswith("version_")) == ["version_3_by", "version_4_by"]
    assert writer.get(f"{url}/NOPE/versions").status_code == 404


def test_listing_skips_deleted_keys_across_pages(tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for i in range(8):
        writer.post(url, json={"key": f"K{i}", "description": "mail" if i % 2 else "", "value": planted()})
    for i in (1, 2, 3, 6):
        writer.delete(f"{url}/K{i}")
    seen: list[str] = []
    after = None
    while True:
        page = writer.get(url, query_string={"limit": 2} | ({"after": after} if after else {})).get_json()
        assert len(page["items"]) <= 2
        seen += [i["key"] for i in page["items"]]
        after = page["next"]
        if not after:
            break
    assert seen == ["K0", "K4", "K5", "K7"]
    assert keys(writer, tenant.name, deleted="true") == ["K1", "K2", "K3", "K6"]
    assert keys(writer, tenant.name, deleted="true", q="mail") == ["K1", "K3"]
    assert keys(writer, tenant.name, q="mail") == ["K5", "K7"]
    page = writer.get(url, query_string={"deleted": "true", "limit": 3}).get_json()
    assert [i["key"] for i in page["items"]] == ["K1", "K2", "K3"] and page["next"] == "K3"


def test_opening_recently_deleted_purges_past_the_window(
    no_window_app: Any, bao: BaoServer, tenant: Tenant, login: Any
) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    writer.post(url, json={"key": "OLD", "value": planted()})
    writer.delete(f"{url}/OLD")
    # A service whose window is 0 days finds the deletion just made past it, without waiting.
    reader = login(tenant.reader, tenant.password, on=no_window_app)
    writer = login(tenant.writer, tenant.password, on=no_window_app)
    assert keys(reader, tenant.name, deleted="true") == ["OLD"]  # a reader's token may not purge
    assert metadata(bao, tenant.name, "OLD").status_code == 200
    assert keys(writer, tenant.name, deleted="true") == []
    assert metadata(bao, tenant.name, "OLD").status_code == 404


def test_purge_command(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("A", "B", "LIVE"):
        writer.post(url, json={"key": key, "value": planted()})
    writer.delete(f"{url}/A")
    writer.delete(f"{url}/B")
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token, "NEXO_RECOVERY_DAYS": "30"}
    runner = CliRunner()
    within = runner.invoke(cli.main, ["purge", "--tenant", tenant.name], env=env)
    assert within.exit_code == 0, within.output
    assert "0 purged" in within.output and metadata(bao, tenant.name, "A").status_code == 200

    env["NEXO_RECOVERY_DAYS"] = "0"
    dry = runner.invoke(cli.main, ["purge", "--dry-run", "--tenant", tenant.name], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"due {tenant.name}/A" in dry.output and f"due {tenant.name}/B" in dry.output and "LIVE" not in dry.output
    assert metadata(bao, tenant.name, "A").status_code == 200

    done = runner.invoke(cli.main, ["purge", "--tenant", tenant.name], env=env)
    assert done.exit_code == 0, done.output
    assert "2 purged" in done.output
    assert metadata(bao, tenant.name, "A").status_code == 404 and metadata(bao, tenant.name, "B").status_code == 404
    assert metadata(bao, tenant.name, "LIVE").status_code == 200

    env["VAULT_TOKEN"] = "not-a-token"
    refused = runner.invoke(cli.main, ["purge", "--tenant", tenant.name], env=env)
    assert refused.exit_code != 0
    bad = runner.invoke(cli.main, ["purge"], env={**env, "NEXO_RECOVERY_DAYS": "soon"})
    assert bad.exit_code != 0 and "NEXO_RECOVERY_DAYS" in bad.output


def test_openapi_documents_the_contract(app: Any) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/tenants/{tenant}/secrets/{key}/restore"]
    assert "get" in paths["/api/v1/tenants/{tenant}/secrets/{key}/versions"]
    listing = {p["name"] for p in paths["/api/v1/tenants/{tenant}/secrets"]["get"]["parameters"]}
    assert "deleted" in listing
    deleting = {p["name"] for p in paths["/api/v1/tenants/{tenant}/secrets/{key}"]["delete"]["parameters"]}
    assert "permanent" in deleting
    item = spec["components"]["schemas"]["SecretItem"]["properties"]
    assert {"deleted_time", "deleted_by", "purge_time"} <= set(item)


def test_deleted_listing_on_the_hashicorp_fallback(app: Any, tenant: Tenant, login: Any) -> None:
    """Without OpenBao's detailed-metadata, the same answers from metadata read key by key."""
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("A", "B", "C"):
        writer.post(url, json={"key": key, "value": planted()})
    writer.delete(f"{url}/B")
    detailed = (writer.get(url).get_json(), writer.get(url, query_string={"deleted": "true"}).get_json())
    vault = app.extensions["nexo_vault"]
    vault.kv.detailed = False
    try:
        fallback = (writer.get(url).get_json(), writer.get(url, query_string={"deleted": "true"}).get_json())
    finally:
        vault.kv.detailed = None
    assert fallback == detailed
    assert [i["key"] for i in fallback[0]["items"]] == ["A", "C"] and [i["key"] for i in fallback[1]["items"]] == ["B"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"NEXO_RECOVERY_DAYS": "soon"}, "NEXO_RECOVERY_DAYS must be a whole number"),
        ({"NEXO_RECOVERY_DAYS": "-1"}, "NEXO_RECOVERY_DAYS must be between 0 and 3650"),
        ({"NEXO_MAX_VERSIONS": "0"}, "NEXO_MAX_VERSIONS must be between 1 and 50"),
        ({"NEXO_MAX_VERSIONS": "64"}, "NEXO_MAX_VERSIONS must be between 1 and 50"),
    ],
)
def test_settings_out_of_range_refuse_to_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(config.ConfigError, match=problem):
        config.from_environ(env)


def test_settings_defaults() -> None:
    settings = config.from_environ({})
    assert settings["RECOVERY_DAYS"] == 30 and settings["MAX_VERSIONS"] == 10
    assert config.from_environ({"NEXO_RECOVERY_DAYS": "0", "NEXO_MAX_VERSIONS": "50"})["RECOVERY_DAYS"] == 0
