"""The Hub/sink client over real HTTP: AppRole login and renewal, resolve, unwrap, log masking."""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from app import access, cli
from app.client import (
    MASK,
    Delivery,
    MaskingFilter,
    NotAuthorized,
    SecretsClient,
    Unresolved,
    UnwrapError,
)
from tests.conftest import BaoServer, Tenant, Users, planted
from tests.ui_server import serve

CLIENT_PY = Path(__file__).resolve().parent.parent / "app" / "client.py"


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
    # As the Hub hands it over: JSON, the tenant the sink expects given apart.
    assert sink.unwrap(json.loads(json.dumps(delivery.as_dict())), tenant=tenant.name) == resolved
    assert sink.log_filter.mask(value) == MASK  # the sink masks what it unwrapped
    with pytest.raises(UnwrapError):
        sink.unwrap(delivery, tenant=tenant.name)
    with pytest.raises(UnwrapError, match="for tenant"):
        sink.unwrap(client.resolve(tenant.name, parameters, wrap_ttl=30), tenant="another")

    # One token alone, with the key it must be a read of.
    one = client.resolve(tenant.name, parameters[:1], wrap_ttl=30).parameters[0]["wrap"]["token"]
    with pytest.raises(UnwrapError, match="give the key"):
        sink.unwrap(one, tenant=tenant.name)
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


def test_client_needs_neither_flask_nor_hvac() -> None:
    """The client module loads with Flask, flask-smorest, marshmallow, hvac and app.vault blocked."""
    script = f"""
import importlib.abc, importlib.util, sys
BLOCKED = ("flask", "flask_smorest", "flask_login", "werkzeug", "marshmallow", "hvac", "app")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
        return None

sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("nexo_client", {str(CLIENT_PY)!r})
module = importlib.util.module_from_spec(spec)
sys.modules["nexo_client"] = module
spec.loader.exec_module(module)
client = module.SecretsClient("http://127.0.0.1:9", vault_addr="http://127.0.0.1:9", token="t")
masker = module.MaskingFilter(); masker.add("abcdef")
assert masker.mask("x abcdef y") == "x *** y"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
