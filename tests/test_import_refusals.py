"""Import refusals and previews never carry any part of a value: a value (or a fragment that a
parser could take for a key) is planted in every refusal path and searched for in the answer;
JSON nesting and element counts are bounded (422 naming the limit, never a 500). Against a real
OpenBao server (issue 23)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import rules
from tests.conftest import BaoServer, Tenant, planted


def do_import(client: Any, tenant: str, content: str, fmt: str, **body: Any) -> Any:
    return client.post(f"/api/v1/tenants/{tenant}/secrets/import", json={"format": fmt, "content": content, **body})


def stored_keys(bao: BaoServer, tenant: str) -> list[str]:
    reply = bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant}/")
    return [] if reply.status_code == 404 else list(reply.json()["data"]["keys"])


# {v} and {w}: planted values. In dotenv, {w} sits where a parser reads a key out of a value's line.
DOTENV = {
    "unquoted PEM, a base64 line ending in '='": "CERT=-----BEGIN CERTIFICATE-----\nMIIB{v}\n{w}=\n-----END CERTIFICATE-----\n",
    "a value line read twice as a key": "A=1\n{w}=x\n{w}=y\n",
    "invalid key": "1{w}={v}\n",
    "no '='": "OK=1\n{v}\n",
    "unclosed quote": 'A=1\nOPEN="{v}\n',
    "too large": "BIG={v}" + "x" * rules.MAX_VALUE_BYTES + "\n",
    "NUL": "NUL={v}\x00\n",
    "too many keys": "".join(f"K{i}={{v}}\n" for i in range(rules.MAX_IMPORT_KEYS + 1)),
    "an export given": ",".join(("key", "description")) + "\n{w},{v}\n",
}
JSON = {
    "not JSON": '[{"key": "A", "value": "{v}"',
    "not a list": '{"A": "{v}"}',
    "not an object": '["{v}"]',
    "value not a string": '[{"key": "A", "value": ["{v}"]}]',
    "unknown field named by a value": '[{"key": "A", "value": "x", "{v}": "y"}]',
    "key is a value": '[{"key": "{v}!", "value": "x"}]',
    "empty value": '[{"key": "{w}", "value": ""}, {"key": "B", "value": "{v}", "description": "\\u0007"}]',
    "too large": '[{"key": "A", "value": "{v}' + "x" * rules.MAX_VALUE_BYTES + '"}]',
    "surrogate": '[{"key": "A", "value": "{v}\\ud800"}]',
    "deep": "[" * 100_000 + '"{v}"' + "]" * 100_000,
    "deep objects": '{"a": ' * 10_000 + '"{v}"' + "}" * 10_000,
    "too many elements": json.dumps([{"key": "A", "value": "{v}"}] + [1] * rules.MAX_IMPORT_ELEMENTS),
    "depth past the limit": json.dumps([{"key": "A", "value": [[["{v}"]]]}]),
    "an inventory given": json.dumps([{"key": "A", "description": "{v}", "version": 1}]),
}


def planted_in(template: str) -> tuple[str, list[str]]:
    # A planted value is also a valid key (PLANTED-<label>-<hex>), so it parses as one.
    values = [planted("import"), planted("fragment")]
    return template.replace("{v}", values[0]).replace("{w}", values[1]), values


@pytest.mark.parametrize(("fmt", "name"), [("dotenv", n) for n in DOTENV] + [("json", n) for n in JSON])
def test_no_refusal_carries_any_part_of_a_value(
    fmt: str, name: str, bao: BaoServer, tenant: Tenant, login: Any
) -> None:
    content, values = planted_in((DOTENV if fmt == "dotenv" else JSON)[name])
    client = login(tenant.writer, tenant.password)
    for dry_run in (True, False):
        reply = do_import(client, tenant.name, content, fmt, dry_run=dry_run, on_conflict="overwrite")
        assert reply.status_code == 422, (name, reply.get_json())
        body = reply.get_json()
        assert set(body) <= {"code", "status", "message", "errors"} and body["code"] == 422
        text = reply.get_data(as_text=True)
        for value in values:
            # Not the value, nor a piece of it long enough to mean something.
            assert value not in text and value[-32:] not in text and value[8:24] not in text, (name, text)
    assert stored_keys(bao, tenant.name) == []


def test_the_refusals_name_the_line_and_rule(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    content, _ = planted_in(DOTENV["unquoted PEM, a base64 line ending in '='"])
    found = do_import(client, tenant.name, content, "dotenv").get_json()["errors"]["content"]
    assert "line 2: no '=' (expected KEY=value)" in found
    assert "line 3: the value is empty (a secret needs a value)" in found
    content, _ = planted_in(JSON["deep"])
    assert do_import(client, tenant.name, content, "json").get_json()["errors"]["content"] == [
        f"content: nested more than {rules.MAX_IMPORT_DEPTH} levels deep (a list of objects is 2)"
    ]
    content, _ = planted_in(JSON["too many elements"])
    assert do_import(client, tenant.name, content, "json").get_json()["errors"]["content"] == [
        f"content: more than {rules.MAX_IMPORT_ELEMENTS} elements (lists' items and objects' fields)"
    ]


def test_a_preview_names_keys_and_statuses_only(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    one, two = planted("preview"), planted("preview")
    content = json.dumps([{"key": "A", "value": one, "description": "first"}, {"key": "B", "value": two}])
    reply = do_import(client, tenant.name, content, "json", dry_run=True)
    assert reply.status_code == 200 and reply.get_json()["dry_run"] is True
    assert reply.get_json()["results"] == [{"key": k, "status": "created", "reason": None} for k in "AB"]
    assert one not in reply.get_data(as_text=True) and two not in reply.get_data(as_text=True)


def test_a_deeply_nested_request_body_is_not_a_500(tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    value = planted("body")
    body = '{"format": "json", "content": "[]", "dry_run": ' + "[" * 50_000 + f'"{value}"' + "]" * 50_000 + "}"
    reply = client.post(
        f"/api/v1/tenants/{tenant.name}/secrets/import", data=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= reply.status_code < 500 and set(reply.get_json()) <= {"code", "status", "message", "errors"}
    assert value not in reply.get_data(as_text=True)
