"""The Hub/sink client (nexo_secrets_client) over real HTTP: AppRole login and renewal, resolve,
unwrap against the sink's own expectation, log masking, references (declare, check, forget,
resolve naming its referrer), and the distribution installed alone."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import nexo_secrets_client
import pytest
import requests
from click.testing import CliRunner
from nexo_secrets_client import (
    MASK,
    Delivery,
    MaskingFilter,
    NotAuthorized,
    ParameterCheck,
    Referrer,
    SecretsClient,
    SecretsClientError,
    Unresolved,
    UnwrapError,
)

from app import access, cli
from tests.conftest import BaoServer, Tenant, Users, planted
from tests.helpers import this_hour
from tests.ui_server import serve
from tests.vault_nodes import REPO


@pytest.fixture(scope="module")
def service(app: Any) -> Iterator[str]:
    """The service on a free port, so the client talks real HTTP."""
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def hub(bao: BaoServer) -> access.HubCredentials:
    return access.hub_credentials(bao.vault, bao.root_token)


@pytest.fixture
def client(service: str, bao: BaoServer, hub: access.HubCredentials) -> Iterator[SecretsClient]:
    with SecretsClient(service, vault_addr=bao.addr, role_id=hub.role_id, secret_id=hub.secret_id) as made:
        yield made


def store(bao: BaoServer, tenant: str, key: str, value: str) -> None:
    """Write a value straight to Vault (the Hub's reads do not care who wrote it)."""
    bao.vault.kv.write_value(bao.root_token, tenant, key, value, cas=0)


def secret(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "type": "SECRET", "value": key}


def test_hub_credentials_cli(bao: BaoServer) -> None:
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}
    shown = CliRunner().invoke(cli.main, ["hub-credentials", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    creds = json.loads(shown.stdout)
    auth = bao.vault.auth.login_approle(creds["role_id"], creds["secret_id"])
    assert sorted(auth["token_policies"]) == ["default", "nexo-hub"]
    assert 0 < auth["lease_duration"] <= 3600 and auth["renewable"]

    plain = CliRunner().invoke(cli.main, ["hub-credentials"], env=env)
    assert plain.exit_code == 0
    lines = dict(line.split("=", 1) for line in plain.stdout.splitlines())
    assert lines["NEXO_HUB_ROLE_ID"] == creds["role_id"] and lines["NEXO_HUB_SECRET_ID"] != creds["secret_id"]
    assert "valid 30 days" in plain.stderr

    refused = CliRunner().invoke(cli.main, ["hub-credentials"], env={"VAULT_ADDR": bao.addr, "VAULT_TOKEN": "nope"})
    assert refused.exit_code != 0 and "NEXO_HUB_SECRET_ID" not in refused.stdout


def test_resolve_and_deliver_with_approle(client: SecretsClient, bao: BaoServer, tenant: Tenant) -> None:
    value = planted("client")
    store(bao, tenant.name, "API_TOKEN", value)
    parameters = [secret("api_token", "API_TOKEN"), {"name": "url", "type": "STRING", "value": "https://x.example"}]
    resolved = client.resolve(tenant.name, parameters)
    assert resolved == [secret("api_token", value), parameters[1]]
    assert client.log_filter.mask(f"token={value}") == f"token={MASK}"

    delivery = client.resolve(tenant.name, parameters, wrap_ttl="30s")
    assert isinstance(delivery, Delivery) and delivery.ttl == 30 and delivery.keys == ["API_TOKEN"]
    token = delivery.parameters[0]["wrap"]["token"]
    assert token not in repr(delivery) and value not in json.dumps(delivery.as_dict())
    sink = SecretsClient(vault_addr=bao.addr)
    expect = {"api_token": "API_TOKEN"}  # the sink's own configuration, never the delivery's labels
    # As the Hub hands it over: JSON, the tenant and the expected keys given apart.
    assert sink.unwrap(json.loads(json.dumps(delivery.as_dict())), tenant=tenant.name, expect=expect) == resolved
    assert sink.log_filter.mask(value) == MASK  # the sink masks what it unwrapped
    with pytest.raises(UnwrapError, match="already used"):
        sink.unwrap(delivery, tenant=tenant.name, expect=expect)
    again = client.resolve(tenant.name, parameters, wrap_ttl=30)
    with pytest.raises(UnwrapError, match="for tenant"):
        sink.unwrap(again, tenant="another", expect=expect)
    with pytest.raises(UnwrapError, match="give expect"):
        sink.unwrap(again, tenant=tenant.name)  # type: ignore[call-overload]
    assert sink.unwrap(again, tenant=tenant.name, expect=expect) == resolved  # the refusals used nothing

    # One token alone, with the key it must be a read of.
    one = client.resolve(tenant.name, parameters[:1], wrap_ttl=30).parameters[0]["wrap"]["token"]
    with pytest.raises(UnwrapError, match="give the key"):
        sink.unwrap(one, tenant=tenant.name)  # type: ignore[call-overload]
    assert SecretsClient(vault_addr=bao.addr).unwrap(one, tenant=tenant.name, key="API_TOKEN") == value


def test_errors_carry_names_and_keys_never_values(
    client: SecretsClient, service: str, bao: BaoServer, users: Users, tenant: Tenant
) -> None:
    value = planted("err")
    store(bao, tenant.name, "PRESENT", value)
    with pytest.raises(Unresolved) as caught:
        client.resolve(tenant.name, [secret("present", "PRESENT"), secret("gone", "GONE"), secret("bad", "a/b")])
    error = caught.value
    assert [(u.name, u.key) for u in error.unresolved] == [("gone", "GONE"), ("bad", "a/b")]
    assert error.status == 422 and "gone" in str(error) and "GONE" in str(error)
    assert value not in str(error) and value not in repr(error.unresolved)

    reader = SecretsClient(service, token=users.token(tenant.reader, tenant.password))
    with pytest.raises(NotAuthorized) as denied:
        reader.resolve(tenant.name, [secret("present", "PRESENT")])
    assert denied.value.status == 403 and value not in str(denied.value)
    with pytest.raises(NotAuthorized):
        SecretsClient(service, vault_addr=bao.addr, role_id="nope", secret_id="nope").resolve(tenant.name, [])


def test_token_is_renewed_and_replaced(client: SecretsClient, bao: BaoServer, tenant: Tenant) -> None:
    value = planted("renew")
    store(bao, tenant.name, "K", value)
    assert client.resolve(tenant.name, [secret("k", "K")])[0]["value"] == value
    first = client._token
    assert first is not None

    def lookup(token: str) -> Any:
        return bao.api("POST", "/v1/auth/token/lookup", json={"token": token})

    assert not lookup(first).json()["data"].get("last_renewal_time")
    client._renew_at = 0.0  # as if two thirds of the TTL had passed
    assert client.resolve(tenant.name, [secret("k", "K")])[0]["value"] == value
    assert client._token == first and lookup(first).json()["data"].get("last_renewal_time")

    # Revoked behind the client's back: the service answers 401 and the client logs in again.
    assert bao.api("POST", "/v1/auth/token/revoke", json={"token": first}).status_code == 204
    assert client.resolve(tenant.name, [secret("k", "K")])[0]["value"] == value
    assert client._token not in (None, first)


def test_fifty_concurrent_resolves(client: SecretsClient, bao: BaoServer) -> None:
    expected: dict[str, tuple[str, str, str]] = {}
    for i in range(50):
        tenant = f"c{i}-{uuid.uuid4().hex[:8]}"
        key = f"KEY_{i}_{uuid.uuid4().hex[:6]}"
        value = planted(f"c{i}")
        store(bao, tenant, key, value)
        expected[tenant] = (key, value, f"param_{i}")

    def run(tenant: str) -> list[dict[str, Any]]:
        key, _, name = expected[tenant]
        return client.resolve(tenant, [secret(name, key), {"name": "tenant", "type": "STRING", "value": tenant}])

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = dict(zip(expected, pool.map(run, expected), strict=True))
    for tenant, (key, value, name) in expected.items():
        assert results[tenant] == [secret(name, value), {"name": "tenant", "type": "STRING", "value": tenant}], key


def forms_of(value: str) -> dict[str, str]:
    """How a value turns up in log lines, computed here independently of the client."""
    raw = value.encode()
    return {
        "plain": value,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "json": json.dumps(value)[1:-1],
        "json-unicode": json.dumps(value, ensure_ascii=False)[1:-1],
        "repr": repr(value)[1:-1],
    }


def test_filter_masks_every_form(caplog: pytest.LogCaptureFixture) -> None:
    value = planted("mask") + ' "quoted" & /path?q=1+2 é\\tab\t'
    lines = [planted("line1"), "  " + planted("line2") + "  ", planted("line3")]
    multi = "\n".join(lines)
    masker = MaskingFilter()
    masker.add(value, multi)

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s field=%(field)s"))
    logger = logging.getLogger("tests.hub.mask")
    logger.addHandler(handler)
    masker.attach(handler, *logging.getLogger().handlers)
    try:
        for label, form in forms_of(value).items():
            logger.warning("form %s: <%s>", label, form, extra={"field": "-"})
        basic = base64.b64encode(b"hub:" + value.encode()).decode()
        logger.warning("Authorization: Basic %s", basic, extra={"field": "-"})
        for label, form in forms_of(multi).items():
            logger.warning("multi %s: %s", label, form, extra={"field": "-"})
        for line in lines:
            logger.warning("a line alone: %s", line.strip(), extra={"field": "-"})
        logger.warning("in an extra field", extra={"field": {"password": value}})
        try:
            raise ValueError(f"could not connect with {value!r}")
        except ValueError:
            logger.exception("connect failed", extra={"field": "-"})
    finally:
        masker.detach()
        logger.removeHandler(handler)

    text = out.getvalue()
    assert text.count(MASK) >= 20
    for label, form in [*forms_of(value).items(), *forms_of(multi).items()]:
        assert form not in text, label
    for line in lines:
        assert line.strip() not in text
    assert value not in caplog.text and not any(line.strip() in caplog.text for line in lines)
    # The Basic header: only the few characters that also encode "hub:" may remain.
    header = text.split("Authorization: Basic ", 1)[1].split(" field=", 1)[0]
    assert MASK in header and len(header.replace(MASK, "")) <= 12
    assert masker.filter(logging.makeLogRecord({"msg": "nothing secret here"}))


def test_hub_style_task_log_holds_no_value(client: SecretsClient, bao: BaoServer, tenant: Tenant) -> None:
    password = planted("db") + '/p@ss w+rd&"é'
    certificate = "\n".join(["-----BEGIN KEY-----", planted("pem1"), planted("pem2"), "-----END KEY-----"])
    store(bao, tenant.name, "DB_PASSWORD", password)
    store(bao, tenant.name, "TLS_KEY", certificate)
    parameters = [secret("db_password", "DB_PASSWORD"), secret("tls_key", "TLS_KEY")]

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    hub_log = logging.getLogger("tests.hub.task")
    hub_log.addHandler(handler)
    client.log_filter.attach(handler, *logging.getLogger().handlers)
    try:
        resolved = client.resolve(tenant.name, parameters)
        env = {p["name"].upper(): p["value"] for p in resolved}
        hub_log.info("task 42 starting with parameters %s", resolved)
        hub_log.info("environment: %s", json.dumps(env))
        hub_log.debug("dsn postgresql://app:%s@db:5432/app", quote(password, safe=""))
        hub_log.debug("form body password=%s", quote_plus(password))
        hub_log.debug("auth header Basic %s", base64.b64encode(f"app:{password}".encode()).decode())
        hub_log.debug("key material b64 %s", base64.b64encode(certificate.encode()).decode())
        for line in certificate.splitlines():
            hub_log.debug("pem> %s", line)
        try:
            raise ConnectionError(f"auth failed for {password}")
        except ConnectionError:
            hub_log.exception("task 42 failed")
    finally:
        client.log_filter.detach()
        hub_log.removeHandler(handler)

    text = out.getvalue()
    assert "task 42 failed" in text and MASK in text
    for value in (password, certificate):
        for label, form in forms_of(value).items():
            assert form not in text, label
    for line in certificate.splitlines()[1:3]:
        assert line not in text
    assert base64.b64encode(password.encode()).decode()[4:-4] not in text


# -- the sink checks a delivery against its own expectation --------------------------------

SINK_EXPECTS = {"db_password": "DATABASE_PASSWORD", "api_key": "API_KEY"}


@pytest.fixture
def stored(bao: BaoServer, tenant: Tenant) -> dict[str, str]:
    """The values of the keys the sink expects, written straight to Vault."""
    values = {key: planted(key.lower()) for key in SINK_EXPECTS.values()}
    for key, value in values.items():
        store(bao, tenant.name, key, value)
    return values


@pytest.fixture
def delivery(client: SecretsClient, tenant: Tenant, stored: dict[str, str]) -> dict[str, Any]:
    """A genuine wrapped resolve of two keys and a plain parameter, as JSON handed to a sink."""
    parameters = [
        secret("db_password", "DATABASE_PASSWORD"),
        {"name": "db_host", "type": "STRING", "value": "db.internal"},
        secret("api_key", "API_KEY"),
    ]
    made = client.resolve(tenant.name, parameters, wrap_ttl=60).as_dict()
    return json.loads(json.dumps(made))


def tokens_of(delivered: dict[str, Any]) -> list[str]:
    return [p["wrap"]["token"] for p in delivered["parameters"] if "wrap" in p]


def unused(bao: BaoServer, token: str) -> bool:
    """sys/wrapping/lookup answers 200 only for a token that has not been used."""
    return requests.post(f"{bao.addr}/v1/sys/wrapping/lookup", json={"token": token}, timeout=10).status_code == 200


def tampered(delivered: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    """The delivery with one parameter's fields changed (a field set to None is removed)."""
    copy = json.loads(json.dumps(delivered))
    for parameter in copy["parameters"]:
        if parameter["name"] == name:
            parameter.update(changes)
            for field in [k for k, v in changes.items() if v is None and k != "value"]:
                del parameter[field]
    return copy


def test_sink_refuses_an_expected_secret_that_arrives_plain(
    bao: BaoServer, tenant: Tenant, delivery: dict[str, Any], stored: dict[str, str]
) -> None:
    sink = SecretsClient(vault_addr=bao.addr)
    chosen = planted("attacker")  # a value someone on the way would like the sink to use
    api_wrap = delivery["parameters"][2]["wrap"]
    attempts = {
        "made a STRING": (tampered(delivery, "db_password", type="STRING", value=chosen), "arrived plain"),
        "a value beside the token": (tampered(delivery, "db_password", value=chosen), "arrived plain"),
        "no token": (tampered(delivery, "db_password", wrap=None, key=None), "without a wrapping token"),
        "left out": (
            {"tenant": tenant.name, "parameters": delivery["parameters"][1:]},
            "missing from the delivery: db_password",
        ),
        "a SECRET the sink does not expect": (
            {
                "tenant": tenant.name,
                "parameters": [
                    *delivery["parameters"],
                    {"name": "extra", "type": "SECRET", "value": None, "key": "API_KEY", "wrap": api_wrap},
                ],
            },
            "'extra' arrived as SECRET but the sink does not expect it",
        ),
    }
    for label, (attempt, reason) in attempts.items():
        with pytest.raises(UnwrapError, match=reason) as refused:
            sink.unwrap(attempt, tenant=tenant.name, expect=SINK_EXPECTS)
        assert chosen not in str(refused.value) and "nothing unwrapped" in str(refused.value), label
    # Refused before any lookup or unwrap: the genuine delivery is whole.
    assert all(unused(bao, token) for token in tokens_of(delivery))
    got = sink.unwrap(delivery, tenant=tenant.name, expect=SINK_EXPECTS)
    assert got == [
        secret("db_password", stored["DATABASE_PASSWORD"]),
        {"name": "db_host", "type": "STRING", "value": "db.internal"},
        secret("api_key", stored["API_KEY"]),
    ]


def test_sink_refuses_a_genuine_token_relabelled_as_another_key(
    bao: BaoServer, tenant: Tenant, delivery: dict[str, Any], stored: dict[str, str]
) -> None:
    sink = SecretsClient(vault_addr=bao.addr)
    db, api = (p["wrap"] for p in delivery["parameters"] if "wrap" in p)
    db_path = f"secret/data/tenants/{tenant.name}/DATABASE_PASSWORD"
    # The API key's genuine token under the database password's name, its labels rewritten to match.
    relabelled = tampered(delivery, "db_password", wrap=api | {"creation_path": db_path})
    with pytest.raises(UnwrapError, match="one wrapping token is given for keys 'DATABASE_PASSWORD' and 'API_KEY'"):
        sink.unwrap(relabelled, tenant=tenant.name, expect=SINK_EXPECTS)
    alone = {"tenant": tenant.name, "parameters": relabelled["parameters"][:2]}  # without the API key's own
    swapped = tampered(tampered(delivery, "db_password", wrap=api), "api_key", wrap=db)
    for attempt, expect in ((alone, {"db_password": "DATABASE_PASSWORD"}), (swapped, SINK_EXPECTS)):
        with pytest.raises(UnwrapError, match=f"created at '{api['creation_path']}', not '{db_path}'; not unwrapped"):
            sink.unwrap(attempt, tenant=tenant.name, expect=expect)
    # Every token was looked up, none used: the genuine delivery still unwraps, once.
    assert all(unused(bao, token) for token in tokens_of(delivery))
    got = sink.unwrap(delivery, tenant=tenant.name, expect=SINK_EXPECTS)
    assert [p["value"] for p in got] == [stored["DATABASE_PASSWORD"], "db.internal", stored["API_KEY"]]
    assert not any(unused(bao, token) for token in tokens_of(delivery))


def test_sink_refuses_a_token_that_holds_no_read_and_says_so(
    bao: BaoServer, users: Users, tenant: Tenant, delivery: dict[str, Any], stored: dict[str, str]
) -> None:
    """A writer's wrapped write to the key's own path looks like a read to sys/wrapping/lookup."""
    sink = SecretsClient(vault_addr=bao.addr)
    chosen = planted("written")
    write = requests.post(
        f"{bao.addr}/v1/secret/data/tenants/{tenant.name}/DATABASE_PASSWORD",
        headers={"X-Vault-Token": users.token(tenant.writer, tenant.password), "X-Vault-Wrap-TTL": "60s"},
        json={"data": {"value": chosen}},
        timeout=10,
    ).json()["wrap_info"]
    assert write["creation_path"] == delivery["parameters"][0]["wrap"]["creation_path"]
    forged = tampered(delivery, "db_password", wrap=write)
    with pytest.raises(UnwrapError, match="holds no read of its value .*; refused") as refused:
        sink.unwrap(forged, tenant=tenant.name, expect=SINK_EXPECTS)
    assert chosen not in str(refused.value)
    # Unwrapping stops at the refusal: the parameters after it keep their unused tokens.
    api_token = delivery["parameters"][2]["wrap"]["token"]
    assert not unused(bao, write["token"]) and unused(bao, api_token)
    assert sink.unwrap(api_token, tenant=tenant.name, key="API_KEY") == stored["API_KEY"]
    with pytest.raises(UnwrapError, match="give the key"):
        sink.unwrap(api_token, tenant=tenant.name, key="API_KEY", expect=SINK_EXPECTS)  # type: ignore[call-overload]


# -- references: the Hub declares which keys its Actions and Event Types use ----------------


def entries(bao: BaoServer, tenant: str) -> list[str]:
    """The tenant's references as Vault holds them (read with the root token, beside the service)."""
    reply = bao.api("LIST", f"/v1/secret/metadata/references/{tenant}/")
    return sorted(reply.json()["data"]["keys"]) if reply.status_code == 200 else []


def test_declare_check_and_forget_a_referrer(client: SecretsClient, bao: BaoServer, tenant: Tenant) -> None:
    store(bao, tenant.name, "DB", planted("ref"))
    host = {"name": "host", "type": "STRING", "value": "db.internal"}
    declared = client.declare(
        tenant.name,
        "action",
        "send-invoice",
        "Send invoice",
        [secret("db_password", "DB"), host, secret("later", "LATER")],
    )
    assert isinstance(declared, Referrer)
    assert (declared.tenant, declared.kind, declared.id, declared.name) == (
        tenant.name,
        "action",
        "send-invoice",
        "Send invoice",
    )
    assert declared.keys == ["DB", "LATER"]  # the STRING parameter is not kept
    assert declared.check == [ParameterCheck("db_password", "DB", "ok"), ParameterCheck("later", "LATER", "missing")]
    assert declared.problems == [ParameterCheck("later", "LATER", "missing")]
    assert declared.updated_time and declared.updated_time.endswith("Z")
    stored = ["@action,send-invoice", "DB,action,send-invoice", "LATER,action,send-invoice"]
    assert entries(bao, tenant.name) == stored

    # check: the same statuses for an Action being edited, and nothing stored.
    checked = client.check(
        tenant.name, [secret("db_password", "DB"), host, secret("x", "NOPE"), secret("c", "../other")]
    )
    assert checked == [
        ParameterCheck("db_password", "DB", "ok"),
        ParameterCheck("x", "NOPE", "missing"),
        ParameterCheck("c", "../other", "missing"),  # no key by the naming rule: the service finds none
    ]
    assert entries(bao, tenant.name) == stored

    # Declaring again replaces what was declared.
    again = client.declare(tenant.name, "action", "send-invoice", "Send invoice v2", [secret("later", "LATER")])
    assert (again.name, again.keys, again.problems) == ("Send invoice v2", ["LATER"], again.check)
    assert entries(bao, tenant.name) == ["@action,send-invoice", "LATER,action,send-invoice"]

    assert client.forget(tenant.name, "action", "send-invoice") is None  # type: ignore[func-returns-value]
    assert entries(bao, tenant.name) == []
    with pytest.raises(SecretsClientError) as gone:
        client.forget(tenant.name, "action", "send-invoice")
    assert gone.value.status == 404 and not isinstance(gone.value, NotAuthorized)
    assert str(gone.value) == (
        f"forget action 'send-invoice' in tenant '{tenant.name}': it is not declared, so there is nothing to forget"
    )


def test_ids_a_url_would_change_reach_the_service_as_given(
    client: SecretsClient, bao: BaoServer, tenant: Tenant
) -> None:
    """'.' and '..' are valid ids: sent as plain path segments, urllib3 would remove them."""
    ids = ["..", ".", "order:created", "v1.2_x-y"]
    for id_ in ids:
        declared = client.declare(tenant.name, "event-type", id_, f"Event {id_}", [secret("p", "K")])
        assert (declared.kind, declared.id) == ("event-type", id_)
    assert entries(bao, tenant.name) == sorted([f"@event-type,{i}" for i in ids] + [f"K,event-type,{i}" for i in ids])
    for id_ in ids:
        client.forget(tenant.name, "event-type", id_)
    assert entries(bao, tenant.name) == []


def recorded_resolve(bao: BaoServer, tenant: str, kind: str, id_: str) -> str | None:
    """The referrer's last_resolved_time, once the service has written it after its answer."""
    deadline = time.monotonic() + 20
    while True:
        reply = bao.api("GET", f"/v1/secret/metadata/references/{tenant}/@{kind},{id_}")
        found = (reply.json()["data"].get("custom_metadata") or {}).get("last_resolved_time")
        if found or time.monotonic() > deadline:
            return str(found) if found else None
        time.sleep(0.05)


def test_resolve_names_its_referrer_and_the_drift_is_logged(
    client: SecretsClient, bao: BaoServer, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    values = {"DECLARED": planted("declared"), "EXTRA": planted("extra")}
    for key, value in values.items():
        store(bao, tenant.name, key, value)
    client.declare(tenant.name, "action", "run-1", "Runner", [secret("d", "DECLARED")])
    meta = bao.api("GET", f"/v1/secret/metadata/references/{tenant.name}/@action,run-1").json()["data"]
    assert "last_resolved_time" not in meta["custom_metadata"]  # not resolved yet
    parameters = [secret("d", "DECLARED"), secret("e", "EXTRA")]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nexo_secrets_client"):
        resolved = client.resolve(tenant.name, parameters, referrer=("action", "run-1"))
        assert resolved == [secret("d", values["DECLARED"]), secret("e", values["EXTRA"])]
        delivery = client.resolve(tenant.name, parameters, wrap_ttl=30, referrer=("action", "run-1"))
        assert isinstance(delivery, Delivery) and delivery.keys == ["DECLARED", "EXTRA"]
        unknown = client.resolve(tenant.name, parameters[:1], referrer=("event-type", "nobody"))
        assert unknown == [secret("d", values["DECLARED"])]  # an unknown referrer is never a refusal
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("nexo_secrets_client")]
    undeclared = (
        f"resolve in tenant {tenant.name}: key EXTRA was resolved for action 'run-1', which does not declare it;"
        " declare it again"
    )
    assert said == [
        ("WARNING", undeclared),  # plain and wrapped alike
        ("WARNING", undeclared),
        ("WARNING", f"resolve in tenant {tenant.name}: event-type 'nobody' is not declared; declare it"),
    ]
    assert not any(value in caplog.text for value in values.values())
    assert this_hour(recorded_resolve(bao, tenant.name, "action", "run-1"))
    # Nobody was declared by it; the keys' last use is in the folder `~used` beside them.
    assert entries(bao, tenant.name) == ["@action,run-1", "DECLARED,action,run-1", "~used/"]

    # The referrer's rules are the service's: it answers 422 naming the field, and nothing resolves.
    with pytest.raises(SecretsClientError) as bad:
        client.resolve(tenant.name, parameters, referrer=("workflow", "run-1"))
    assert bad.value.status == 422 and "(referrer.kind)" in str(bad.value)
    assert not any(value in str(bad.value) for value in values.values())
    with pytest.raises(ValueError, match="referrer is"):
        client.resolve(tenant.name, parameters, referrer=("action",))  # type: ignore[arg-type]


def test_references_calls_log_in_again_as_resolve_does(client: SecretsClient, bao: BaoServer, tenant: Tenant) -> None:
    store(bao, tenant.name, "K", planted("relogin"))
    assert client.check(tenant.name, [secret("k", "K")]) == [ParameterCheck("k", "K", "ok")]
    for call in (
        lambda: client.declare(tenant.name, "action", "a1", "A1", [secret("k", "K")]),
        lambda: client.check(tenant.name, [secret("k", "K")]),
        lambda: client.forget(tenant.name, "action", "a1"),
    ):
        first = client._token
        assert first is not None
        assert bao.api("POST", "/v1/auth/token/revoke", json={"token": first}).status_code == 204
        call()  # the service answers 401; the client logs in again once and succeeds
        assert client._token not in (None, first)
    assert entries(bao, tenant.name) == []


def test_references_of_another_tenant_are_refused(
    client: SecretsClient, service: str, bao: BaoServer, users: Users, tenant: Tenant
) -> None:
    other = users.tenant()
    store(bao, tenant.name, "DB", planted("theirs"))
    client.declare(tenant.name, "action", "mine", "Mine", [secret("p", "DB")])
    stranger = SecretsClient(service, token=users.token(other.writer, other.password))
    writer = SecretsClient(service, token=users.token(tenant.writer, tenant.password))
    for caller in (stranger, writer):  # another tenant's member; the tenant's own writer (only the Hub declares)
        with pytest.raises(NotAuthorized) as refused:
            caller.declare(tenant.name, "action", "theirs", "Theirs", [secret("p", "DB")])
        assert refused.value.status == 403
        with pytest.raises(NotAuthorized) as refused:
            caller.forget(tenant.name, "action", "mine")
        assert refused.value.status == 403
    for parameters in ([secret("p", "DB")], []):  # refused whatever the parameters name
        with pytest.raises(NotAuthorized) as refused:
            stranger.check(tenant.name, parameters)
        assert refused.value.status == 403
    with pytest.raises(NotAuthorized):
        stranger.resolve(tenant.name, [secret("p", "DB")], referrer=("action", "mine"))
    assert writer.check(tenant.name, [secret("p", "DB")]) == [ParameterCheck("p", "DB", "ok")]  # members read
    assert stranger.check(other.name, []) == []  # the stranger's own tenant answers
    assert entries(bao, tenant.name) == ["@action,mine", "DB,action,mine"]
    assert entries(bao, other.name) == []


@pytest.mark.parametrize(
    ("args", "status", "said"),
    [
        (("action", "ok", "tab\there", []), 422, "(name)"),
        (("action", "ok", "é" * 101, []), 422, "(name)"),
        (("action", "ok", "X", [secret(f"p{n}", "K") for n in range(101)]), 422, "(parameters)"),
        (("action", "ok", "X", [{"name": "p", "type": "SECRET"}]), 422, "(parameters.0.value)"),
    ],
)
def test_bad_declarations_are_refused_by_the_service_and_change_nothing(
    client: SecretsClient, bao: BaoServer, tenant: Tenant, args: tuple[Any, ...], status: int, said: str
) -> None:
    with pytest.raises(SecretsClientError) as refused:
        client.declare(tenant.name, *args)
    assert refused.value.status == status and said in str(refused.value), str(refused.value)
    assert not isinstance(refused.value, NotAuthorized)
    assert entries(bao, tenant.name) == []


def test_bad_tenants_and_referrers_are_refused_before_any_call_and_a_long_check_by_the_service(
    client: SecretsClient, tenant: Tenant
) -> None:
    # The tenant rule is the client's own (nexo_secrets_client.names): nothing is sent, so the
    # service on the closed port 9 is never asked (that would say "could not reach").
    offline = SecretsClient("http://127.0.0.1:9", token="never-sent")
    for bad in ("..", ".", "Acme", "a/b", "-x", "", "x" * 64):
        calls = (
            lambda bad=bad: offline.declare(bad, "action", "x", "X", []),
            lambda bad=bad: offline.check(bad, []),
            lambda bad=bad: offline.forget(bad, "action", "x"),
            lambda bad=bad: offline.resolve(bad, [], referrer=("action", "x")),
        )
        for call in calls:
            with pytest.raises(SecretsClientError, match="not a valid tenant name") as refused:
                call()
            assert refused.value.status is None and "lowercase letters" in str(refused.value)
    with pytest.raises(SecretsClientError, match="could not reach"):  # the same client, a good name: it does call
        offline.check("acme", [])
    with pytest.raises(SecretsClientError) as refused:
        client.check(tenant.name, [secret(f"p{n}", "K") for n in range(101)])
    assert refused.value.status == 422 and "(parameters)" in str(refused.value)
    # The referrer rule is the client's own too: a '/' or an empty id would be another path (404).
    for kind, id_ in (
        ("workflow", "x"),
        ("action", "bad id"),
        ("action", "x" * 129),
        ("action", "a/b"),
        ("action", ""),
    ):
        for call in (
            lambda kind=kind, id_=id_: offline.declare("acme", kind, id_, "X", []),
            lambda kind=kind, id_=id_: offline.forget("acme", kind, id_),
        ):
            with pytest.raises(SecretsClientError, match="not a valid referrer") as refused:
                call()
            assert refused.value.status is None and "action or event-type" in str(refused.value)
    with pytest.raises(SecretsClientError, match="declare needs the service's base_url"):
        SecretsClient(vault_addr="http://127.0.0.1:9").declare(tenant.name, "action", "x", "X", [])


# -- the distribution on its own ------------------------------------------------------------


def test_the_client_source_imports_none_of_the_server_s_frameworks() -> None:
    """The quick form of the check below: client/ loads with Flask, click, marshmallow, hvac and
    the server's `app` package blocked (the installed one is checked in the system tier)."""
    script = f"""
import importlib.abc, sys
BLOCKED = ("flask", "flask_smorest", "flask_login", "werkzeug", "click", "marshmallow", "hvac", "app")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(REPO / "client")!r})
import nexo_secrets_client
from nexo_secrets_client import SecretsClient, UnwrapError
assert nexo_secrets_client.__file__.startswith({str(REPO / "client")!r})
try:
    SecretsClient(vault_addr="http://127.0.0.1:9").unwrap([], tenant="acme", expect={{"p": "K"}})
except UnwrapError as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: expected SECRET parameters missing from the delivery: p"), done.stdout


@pytest.mark.system
def test_the_client_installs_alone_without_the_server_s_frameworks(tmp_path: Path) -> None:
    """`pip install ./client` (from the lock) gives SecretsClient and the unwrap check, and
    urllib3 as its only dependency: Flask, click and marshmallow are not importable from it."""
    target, source = tmp_path / "site", tmp_path / "client"
    # A copy: pip builds a local project in place, and the work tree stays as it is.
    shutil.copytree(REPO / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target)]
    done = subprocess.run(
        [*install, "-c", str(REPO / "constraints.txt"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = sorted(p.name.split("-")[0] for p in target.glob("*.dist-info"))
    assert installed == ["nexo_secrets_client", "urllib3"], installed

    script = f"""
import importlib.util, sys
sys.path.insert(0, {str(target)!r})
import nexo_secrets_client
from nexo_secrets_client import MaskingFilter, SecretsClient, UnwrapError, __version__
from nexo_secrets_client.names import KEY_RULE, is_key, is_tenant
assert nexo_secrets_client.__file__.startswith({str(target)!r}), nexo_secrets_client.__file__
sink = SecretsClient(vault_addr="http://127.0.0.1:9")
try:  # the unwrap check refuses a SECRET that arrives plain before it calls anything
    sink.unwrap([{{"name": "p", "type": "STRING", "value": "x"}}], tenant="acme", expect={{"p": "K"}})
except UnwrapError as exc:
    print("refused:", exc)
masker = MaskingFilter(); masker.add("abcdef")
assert masker.mask("x abcdef y") == "x *** y" and is_key("K") and not is_tenant("A")
frameworks = ("flask", "click", "marshmallow", "flask_smorest", "werkzeug", "hvac", "app")
print("importable:", [m for m in frameworks if importlib.util.find_spec(m) is not None])
print("loaded:", sorted({{m.split(".")[0] for m in sys.modules}} & set(frameworks)))
print("version:", __version__)
"""
    # -I -S: no site-packages, no user site, no PYTHONPATH, no current directory: only the target.
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("refused: parameter 'p' is expected as SECRET (key 'K') but arrived plain"), lines
    assert lines[1:3] == ["importable: []", "loaded: []"], lines
    assert lines[3] == f"version: {nexo_secrets_client.__version__}"
    # The server's own environment has them (the check above is not vacuous).
    assert importlib.util.find_spec("flask") is not None and importlib.util.find_spec("marshmallow") is not None
