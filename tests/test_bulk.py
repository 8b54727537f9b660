"""Import (.env and JSON) and export through the HTTP API against a real OpenBao server."""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

import pytest

from app import bulk, rules, secrets
from app.vault import errors
from tests.conftest import BaoServer, Tenant, Users, planted


def vault_value(bao: BaoServer, tenant: str, key: str) -> str:
    """The stored value, read with the root token, bypassing the service."""
    return str(bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}").json()["data"]["data"]["value"])


def stored_keys(bao: BaoServer, tenant: str) -> list[str]:
    reply = bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant}/")
    return [] if reply.status_code == 404 else sorted(reply.json()["data"]["keys"])


def do_import(client: Any, tenant: str, content: str, **body: Any) -> Any:
    body.setdefault("format", "dotenv")
    return client.post(f"/api/v1/tenants/{tenant}/secrets/import", json={"content": content, **body})


def statuses(reply: Any) -> dict[str, str]:
    assert reply.status_code == 200, reply.get_json()
    return {r["key"]: r["status"] for r in reply.get_json()["results"]}


def assert_no_value(reply: Any, *values: str) -> None:
    text = reply.get_data(as_text=True) + str(reply.headers)
    for value in values:
        for part in value.splitlines() or [value]:
            assert part.strip() not in text or not part.strip(), "a value appeared in the answer"


def test_dotenv_corpus_round_trip(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    """The awkward cases of real .env files arrive in Vault exactly as a shell would read them."""
    p = {name: planted(name) for name in ("plain", "eq", "uni", "multi", "single", "esc", "crlf", "exp", "hash")}
    corpus = (
        "\ufeff# a comment, then a blank line\n"
        "\n"
        f"PLAIN={p['plain']}\n"
        f"WITH_EQUALS={p['eq']}==a=b\n"
        f'UNICODE="{p["uni"]}-ünïcödé-✓-日本"\n'
        f'MULTI_LINE="{p["multi"]}\nsecond line\nthird line"\n'
        f"SINGLE='{p['single']} $NOT_EXPANDED ${{HOME}}'\n"
        f'ESCAPES="{p["esc"]}\\ttab\\nnewline \\"quoted\\""\n'
        f"export EXPORTED={p['exp']}\n"
        f"INLINE_COMMENT={p['hash']} # not part of the value\n"
        f"   INDENTED = {p['crlf']}\r\n"
        "dotted.key-name_1=x\r\n"
    )
    client = login(tenant.writer, tenant.password)
    reply = do_import(client, tenant.name, corpus)
    assert statuses(reply) == dict.fromkeys(
        ["PLAIN", "WITH_EQUALS", "UNICODE", "MULTI_LINE", "SINGLE", "ESCAPES", "EXPORTED", "INLINE_COMMENT",
         "INDENTED", "dotted.key-name_1"],
        "created",
    )  # fmt: skip
    assert_no_value(reply, *p.values())
    expected = {
        "PLAIN": p["plain"],
        "WITH_EQUALS": p["eq"] + "==a=b",
        "UNICODE": p["uni"] + "-ünïcödé-✓-日本",
        "MULTI_LINE": p["multi"] + "\nsecond line\nthird line",
        "SINGLE": p["single"] + " $NOT_EXPANDED ${HOME}",  # never expanded from the service's environment
        "ESCAPES": p["esc"] + '\ttab\nnewline "quoted"',
        "EXPORTED": p["exp"],
        "INLINE_COMMENT": p["hash"],
        "INDENTED": p["crlf"],
        "dotted.key-name_1": "x",
    }
    for key, value in expected.items():
        assert vault_value(bao, tenant.name, key) == value, key
    item = client.get(f"/api/v1/tenants/{tenant.name}/secrets/PLAIN").get_json()
    assert item["created_by"] == tenant.writer and item["version"] == 1 and item["description"] == ""


@pytest.mark.parametrize(
    ("content", "problems"),
    [
        ("GOOD=1\n1BAD={v}\n", ["line 2: invalid key"]),
        ("A=1\nB=2\n\nA={v}\n", ["line 4: same key as line 1 (each key once)"]),
        ("# c\nEMPTY=\n", ["line 2: the value is empty"]),
        ('EMPTY_QUOTED=""\r\nOK=1\r\n', ["line 1: the value is empty"]),
        ("OK=1\n{v}\n", ["line 2: no '='"]),
        ("ＫＥＹ={v}\n", ["line 1: invalid key"]),
        ('A=1\nOPEN="{v}\n', ["line 2: cannot be read as KEY=value"]),
        ("\n\n  \nBAD KEY={v}\n", ["line 4: no '='", "line 4: cannot be read"]),
        ("A=1\r\nB=2\r\nC-=ok\r\n-D={v}\r\n", ["line 4: invalid key"]),
        ("# only a comment\n", ["content: no KEY=value to import"]),
        ("BIG=" + "x" * (64 * 1024 + 1) + "\n", ["line 1: value: Must be at most 65536 bytes."]),
    ],
)
def test_dotenv_refusals_name_the_line_and_rule_never_the_value(
    content: str, problems: list[str], bao: BaoServer, tenant: Tenant, login: Any
) -> None:
    value = planted("refused")
    client = login(tenant.writer, tenant.password)
    reply = do_import(client, tenant.name, content.replace("{v}", value), on_conflict="overwrite")
    assert reply.status_code == 422, reply.get_json()
    found = reply.get_json()["errors"]["content"]
    assert any(any(p in f for p in problems) for f in found), found
    assert "nothing was written" in reply.get_json()["message"]
    assert value not in reply.get_data(as_text=True)
    assert stored_keys(bao, tenant.name) == []  # validated whole before the first write


def test_every_problem_is_listed_at_once(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    reply = do_import(client, tenant.name, "A=1\n2B=x\nA=2\nC=\nD=4\n")
    found = reply.get_json()["errors"]["content"]
    assert found == [
        "line 2: invalid key: " + rules.KEY_RULE,
        "line 3: same key as line 1 (each key once)",
        "line 4: the value is empty (a secret needs a value)",
    ]


def test_on_conflict_skip_overwrite_fail_and_dry_run(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    old = planted("old")
    client.post(url, json={"key": "EXISTING", "value": old, "description": "kept"})
    new, fresh = planted("new"), planted("fresh")
    content = f"EXISTING={new}\nFRESH={fresh}\n"

    refused = do_import(client, tenant.name, content, on_conflict="fail")
    assert refused.status_code == 409 and refused.get_json()["errors"]["existing"] == ["EXISTING"]
    assert "nothing was written" in refused.get_json()["message"]
    assert stored_keys(bao, tenant.name) == ["EXISTING"]
    assert do_import(client, tenant.name, content, on_conflict="fail", dry_run=True).status_code == 409

    for mode, expected in (("skip", "skipped"), ("overwrite", "updated")):
        preview = do_import(client, tenant.name, content, on_conflict=mode, dry_run=True)
        assert statuses(preview) == {"EXISTING": expected, "FRESH": "created"} and preview.get_json()["dry_run"]
    assert stored_keys(bao, tenant.name) == ["EXISTING"]  # a dry run writes nothing

    assert statuses(do_import(client, tenant.name, content, on_conflict="skip")) == {
        "EXISTING": "skipped",
        "FRESH": "created",
    }
    assert vault_value(bao, tenant.name, "EXISTING") == old
    assert vault_value(bao, tenant.name, "FRESH") == fresh

    again = planted("again")
    reply = do_import(client, tenant.name, f"EXISTING={again}\nFRESH={fresh}\n", on_conflict="overwrite")
    assert statuses(reply) == {"EXISTING": "updated", "FRESH": "updated"}
    item = client.get(f"{url}/EXISTING").get_json()
    assert item["version"] == 2 and item["description"] == "kept"  # a .env has no descriptions: kept
    assert vault_value(bao, tenant.name, "EXISTING") == again
    assert_no_value(reply, old, new, fresh, again)


def test_json_import_with_descriptions(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    one, two = planted("json1"), planted("json2")
    content = json.dumps([{"key": "API_KEY", "value": one, "description": "Payments"}, {"key": "TOKEN", "value": two}])
    reply = do_import(client, tenant.name, content, format="json")
    assert statuses(reply) == {"API_KEY": "created", "TOKEN": "created"}
    assert client.get(f"/api/v1/tenants/{tenant.name}/secrets/API_KEY").get_json()["description"] == "Payments"
    assert vault_value(bao, tenant.name, "TOKEN") == two
    # On overwrite a given description replaces the old one.
    three = planted("json3")
    content = json.dumps([{"key": "API_KEY", "value": three, "description": "Payments (live)"}])
    assert statuses(do_import(client, tenant.name, content, format="json", on_conflict="overwrite")) == {
        "API_KEY": "updated"
    }
    assert client.get(f"/api/v1/tenants/{tenant.name}/secrets/API_KEY").get_json()["description"] == "Payments (live)"


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ('[{"key": "A", "value": "{v}"}, {"key": "A", "value": "x"}]', "item 2: same key as item 1"),
        ('[{"key": "../x", "value": "{v}"}]', "item 1: key: Invalid key"),
        ('[{"key": "A", "value": ""}]', "item 1: value: Must not be empty."),
        ('[{"key": "A", "value": 5}]', "item 1: value: Must be a string."),
        ('[{"key": "A", "value": "x", "{v}": "y"}]', "item 1: unknown field"),
        ('[{"key": "A", "value": "x", "description": "a\\nb"}]', "item 1: description: Only printable characters"),
        ('["{v}"]', "item 1: must be an object"),
        ('{"A": "{v}"}', "content: must be a JSON list"),
        ('[{"key": "A", "value": "{v}"', "line 1 column"),
        ("[]", "content: no KEY=value to import"),
    ],
)
def test_json_refusals(items: str, problem: str, bao: BaoServer, tenant: Tenant, login: Any) -> None:
    value = planted("jsonbad")
    client = login(tenant.writer, tenant.password)
    reply = do_import(client, tenant.name, items.replace("{v}", value), format="json")
    assert reply.status_code == 422, reply.get_json()
    found = reply.get_json()["errors"]["content"]
    assert any(problem in f for f in found), found
    assert value not in reply.get_data(as_text=True)
    assert stored_keys(bao, tenant.name) == []


@pytest.mark.parametrize(
    "body",
    [
        {"format": "yaml", "content": "A=1"},
        {"format": "dotenv", "content": ""},
        {"format": "dotenv", "content": "A=1", "on_conflict": "merge"},
        {"format": "dotenv", "content": "A=1", "dry_run": "yes"},
        {"format": "dotenv", "content": 5},
        {"content": "A=1"},
    ],
)
def test_import_body_validation(body: dict[str, Any], tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    reply = client.post(f"/api/v1/tenants/{tenant.name}/secrets/import", json=body)
    assert reply.status_code == 422, reply.get_json()
    found = reply.get_json()["errors"]  # field -> its messages, as for every endpoint
    assert found and set(found) <= {"format", "content", "on_conflict", "dry_run"}, found
    assert all(isinstance(m, str) for messages in found.values() for m in messages), found


def test_limits(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    too_many = "".join(f"K{i}=v\n" for i in range(rules.MAX_IMPORT_KEYS + 1))
    reply = do_import(client, tenant.name, too_many)
    assert reply.status_code == 422
    assert (
        f"content: at most {rules.MAX_IMPORT_KEYS} keys per import (this has 501)"
        in reply.get_json()["errors"]["content"]
    )
    huge = do_import(client, tenant.name, "A=" + "x" * (300 * 1024))
    assert huge.status_code == 413
    assert stored_keys(bao, tenant.name) == []


def test_a_reader_may_not_import(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.reader, tenant.password)
    for dry_run in (True, False):
        reply = do_import(client, tenant.name, f"A={planted()}", dry_run=dry_run)
        assert reply.status_code == 403 and "write permission" in reply.get_json()["message"]
    assert stored_keys(bao, tenant.name) == []


def test_vault_failing_half_way_says_what_was_written(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    client = login(tenant.writer, tenant.password)
    values = {f"K{i}": planted(f"half{i}") for i in range(5)}
    content = "".join(f"{k}={v}\n" for k, v in values.items())
    kv = app.extensions["nexo_vault"].kv
    real_write = kv.write_value
    calls = []

    def failing(token: str, tenant_name: str, key: str, value: str, cas: int) -> int:
        calls.append(key)
        if key == "K2":
            raise errors.Unavailable()
        return int(real_write(token, tenant_name, key, value, cas))

    monkeypatch.setattr(kv, "write_value", failing)
    with caplog.at_level(logging.INFO, logger="app.bulk"):
        reply = do_import(client, tenant.name, content)
    assert reply.status_code == 503
    body = reply.get_json()
    assert "stopped at key 'K2'" in body["message"] and "2 keys were written" in body["message"]
    assert [(r["key"], r["status"]) for r in body["errors"]["results"]] == [
        ("K0", "created"), ("K1", "created"), ("K2", "failed"), ("K3", "failed"), ("K4", "failed")
    ]  # fmt: skip
    assert body["errors"]["results"][3]["reason"] == "not attempted"
    assert calls == ["K0", "K1", "K2"]  # stopped there
    assert any("stopped at key K2" in r.getMessage() and "K0, K1" in r.getMessage() for r in caplog.records)
    assert_no_value(reply, *values.values())

    monkeypatch.setattr(kv, "write_value", real_write)
    retry = do_import(client, tenant.name, content, on_conflict="skip")
    assert statuses(retry) == {"K0": "skipped", "K1": "skipped", "K2": "created", "K3": "created", "K4": "created"}
    assert all(vault_value(bao, tenant.name, k) == v for k, v in values.items())


def test_export_json_and_csv(bao: BaoServer, tenant: Tenant, users: Users, login: Any) -> None:
    writer = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    values = [planted("exp1"), planted("exp2"), planted("exp3")]
    writer.post(url, json={"key": "DB", "value": values[0], "description": '=HYPERLINK("http://evil")'})
    writer.post(url, json={"key": "API", "value": values[1], "description": 'Payments, "live" – ✓'})
    writer.post(url, json={"key": "PLAIN", "value": values[2]})
    reader = login(tenant.reader, tenant.password)

    as_json = reader.get(f"{url}/export?format=json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    items = as_json.get_json()
    assert [i["key"] for i in items] == ["API", "DB", "PLAIN"]
    assert set(items[0]) == set(bulk.EXPORT_FIELDS) and items[1]["created_by"] == tenant.writer
    assert "attachment" in as_json.headers["Content-Disposition"]
    assert reader.get(f"{url}/export").get_json() == items  # json is the default

    as_csv = reader.get(f"{url}/export?format=csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == f'attachment; filename="{tenant.name}-secrets.csv"'
    assert as_csv.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0] == list(bulk.EXPORT_FIELDS)
    assert [r[0] for r in rows[1:]] == ["API", "DB", "PLAIN"]
    assert rows[1][1] == 'Payments, "live" – ✓'
    assert rows[2][1] == '\'=HYPERLINK("http://evil")'  # inert in a spreadsheet
    assert rows[2][2] == "1" and rows[2][5] == tenant.writer
    for reply in (as_json, as_csv):
        assert_no_value(reply, *values)

    assert reader.get(f"{url}/export?format=xml").status_code == 422
    other = users.tenant()
    outsider = login(other.writer, other.password)
    assert outsider.get(f"{url}/export?format=csv").status_code == 403


def test_csv_cells_that_start_a_formula_are_quoted() -> None:
    item = secrets.Item("K", "+1", 1, "t", "t", "-x", "@y")
    row = list(csv.reader(io.StringIO(bulk.as_csv([item]))))[1]
    assert row == [
        "K",
        "'+1",
        "1",
        "t",
        "t",
        "'-x",
        "'@y",
        "",
        "",
        "",
        "False",
    ]  # never used, no expiry, no referrers, well-formed


def test_export_pages_through_a_large_tenant(
    app: Any, tenant: Tenant, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = login(tenant.writer, tenant.password)
    content = "".join(f"K{i:03d}={planted('page')}\n" for i in range(25))
    assert statuses(do_import(writer, tenant.name, content))["K024"] == "created"
    monkeypatch.setattr(bulk, "EXPORT_PAGE", 10)
    items = writer.get(f"/api/v1/tenants/{tenant.name}/secrets/export").get_json()
    assert [i["key"] for i in items] == [f"K{i:03d}" for i in range(25)]
    monkeypatch.setattr(rules, "MAX_EXPORT_ITEMS", 20)
    refused = writer.get(f"/api/v1/tenants/{tenant.name}/secrets/export?format=csv")
    assert refused.status_code == 422 and "more than 20 secrets" in refused.get_json()["message"]


def test_keys_named_import_and_export_are_still_secrets(tenant: Tenant, login: Any) -> None:
    """The import and export paths are also /secrets/{key}: only GET of the item `export` is taken."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    for key in ("import", "export"):
        assert client.post(url, json={"key": key, "value": planted(key)}).status_code == 201
        assert client.patch(f"{url}/{key}", json={"description": "odd name"}).get_json()["description"] == "odd name"
    assert client.get(f"{url}/import").get_json()["key"] == "import"
    assert [i["key"] for i in client.get(f"{url}/export").get_json()] == ["export", "import"]  # the export
    for key in ("import", "export"):
        assert client.delete(f"{url}/{key}").status_code == 204


def test_a_key_whose_current_version_is_deleted_counts_as_new(bao: BaoServer, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    client.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "GONE", "value": planted("gone")})
    assert bao.api("DELETE", f"/v1/secret/data/tenants/{tenant.name}/GONE").status_code == 204  # a KV soft delete
    preview = do_import(client, tenant.name, f"GONE={planted('back')}\n", on_conflict="fail", dry_run=True)
    assert statuses(preview) == {"GONE": "created"}


def test_openapi_documents_import_and_export(app: Any) -> None:
    paths = app.test_client().get("/api/openapi.json").get_json()["paths"]
    imported = paths["/api/v1/tenants/{tenant}/secrets/import"]["post"]
    assert {"200", "409", "422", "403"} <= set(imported["responses"])
    body = imported["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/ImportRequest")
    exported = paths["/api/v1/tenants/{tenant}/secrets/export"]["get"]["responses"]["200"]["content"]
    assert set(exported) == {"application/json", "text/csv"}
