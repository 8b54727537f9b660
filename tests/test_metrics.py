"""Operators' signals: JSON log lines with a request id, /metrics in Prometheus format; no values in either."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app import access, create_app, observe, vault
from tests.conftest import SEEN, BaoServer, Tenant, free_port, get_metrics, planted
from tests.helpers import samples, value
from tests.procs import metrics_url, start_serve, stop

RESOLVE = "/api/v1/tenants/<tenant>/resolve"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The JSON log lines the process writes while the test runs (as the service's stderr would)."""
    stream = io.StringIO()
    handler = observe.json_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    SEEN.append(("JSON log lines", stream.getvalue()))


def hub_token(bao: BaoServer) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def test_metrics_count_a_resolve_and_a_failed_login_and_hold_no_value(
    app: Any, bao: BaoServer, tenant: Tenant, login: Any, json_lines: io.StringIO
) -> None:
    secret = planted("metrics")
    before = samples(app)

    wrong = app.test_client().post("/api/v1/session", json={"username": tenant.writer, "password": secret})
    assert wrong.status_code == 401
    writer = login(tenant.writer, tenant.password)
    created = writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "METRICS_KEY", "value": secret})
    assert created.status_code == 201
    hub = hub_token(bao)
    resolved = app.test_client().post(
        f"/api/v1/tenants/{tenant.name}/resolve",
        json={"parameters": [{"name": "p", "type": "SECRET", "value": "METRICS_KEY"}]},
        headers={"Authorization": f"Bearer {hub}", "X-Request-Id": "trace-resolve-1"},
        buffered=True,  # read and closed at once, as a server does: the access line is written on close
    )
    assert resolved.status_code == 200 and resolved.get_json()["parameters"][0]["value"] == secret
    assert resolved.headers["X-Request-Id"] == "trace-resolve-1"

    after = samples(app)
    delta = {
        "resolve": value(after, "nexo_http_requests_total", route=RESOLVE, method="POST", status="200")
        - value(before, "nexo_http_requests_total", route=RESOLVE, method="POST", status="200"),
        "failed login": value(after, "nexo_logins_total", outcome="failure")
        - value(before, "nexo_logins_total", outcome="failure"),
        "login": value(after, "nexo_logins_total", outcome="success")
        - value(before, "nexo_logins_total", outcome="success"),
        "resolve latency": value(after, "nexo_http_request_duration_seconds_count", route=RESOLVE, method="POST")
        - value(before, "nexo_http_request_duration_seconds_count", route=RESOLVE, method="POST"),
    }
    assert delta == {"resolve": 1, "failed login": 1, "login": 1, "resolve latency": 1}
    # Vault calls by operation: the resolve read the value, the create wrote it; names cut off.
    assert value(after, "nexo_vault_requests_total", operation="GET secret/data", status="200") >= 1
    assert value(after, "nexo_vault_requests_total", operation="POST secret/data", status="200") >= 1
    assert value(after, "nexo_vault_request_duration_seconds_count", operation="GET secret/data") >= 1
    assert value(after, "nexo_vault_requests_total", operation="POST auth/userpass/login", status="400") >= 1
    # The tenant is a label of the resolve counters only (issue 15); never a key or a user.
    assert value(after, "nexo_resolves_total", tenant=tenant.name) == 1
    labels = " ".join(v for (_, ls) in after for k, v in ls if k != "tenant")
    assert tenant.name not in labels and "METRICS_KEY" not in labels and tenant.writer not in labels
    assert {k for (n, ls) in after for k, _ in ls if n.startswith(("nexo_resolves", "nexo_unresolved_keys"))} <= {
        "tenant"
    }

    metrics_text = get_metrics(app).get_data(as_text=True)
    logged = json_lines.getvalue()
    for leak in (secret, hub, tenant.password):
        assert leak not in metrics_text and leak not in logged

    lines = [json.loads(line) for line in logged.splitlines()]
    assert lines and all(line["request_id"] for line in lines)
    access_lines = [line for line in lines if line["logger"] == "nexo.access"]
    by_route = {(line["route"], line["status"]): line for line in access_lines}
    assert by_route[("/api/v1/session", 401)]["method"] == "POST"
    assert by_route[("/api/v1/tenants/<tenant>/secrets", 201)]["user"] == tenant.writer
    assert by_route[(RESOLVE, 200)]["request_id"] == "trace-resolve-1"
    assert all(isinstance(line["duration_ms"], float) for line in access_lines)


def test_request_ids_are_made_when_missing_or_unsafe(app: Any) -> None:
    made = app.test_client().get("/healthz")
    assert len(made.headers["X-Request-Id"]) == 32
    unsafe = app.test_client().get("/healthz", headers={"X-Request-Id": 'x" injected: 1' + "a" * 80})
    assert unsafe.headers["X-Request-Id"] != made.headers["X-Request-Id"]
    assert len(unsafe.headers["X-Request-Id"]) == 32 and "injected" not in unsafe.headers["X-Request-Id"]


def test_an_unreachable_vault_is_counted_as_an_error() -> None:
    down = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [f"http://127.0.0.1:{free_port()}"], "SECRET_KEY": "k" * 48})
    before = samples(down)
    assert down.test_client().get("/readyz").status_code == 503
    after = samples(down)
    key = {"operation": "GET sys/health", "kind": "unreachable"}
    assert value(after, "nexo_vault_errors_total", **key) - value(before, "nexo_vault_errors_total", **key) == 1
    assert value(after, "nexo_http_requests_total", route="/readyz", method="GET", status="503") >= 1


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        ("GET", "/v1/secret/data/tenants/acme/DATABASE_PASSWORD", "GET secret/data"),
        ("LIST", "/v1/secret/detailed-metadata/tenants/acme/?after=A&limit=5", "LIST secret/detailed-metadata"),
        ("POST", "/v1/auth/userpass/login/alice", "POST auth/userpass/login"),
        ("GET", "/v1/auth/token/lookup-self", "GET auth/token/lookup-self"),
        ("PUT", "/v1/sys/policies/acl/nexo-tenant-acme-read", "PUT sys/policies/acl"),
        ("POST", "/v1/identity/group/name/nexo-tenant-acme-writers", "POST identity/group/name"),
        ("GET", "/v1/sys/health?standbyok=true", "GET sys/health"),
    ],
)
def test_vault_operations_are_named_without_tenant_key_or_user(method: str, url: str, operation: str) -> None:
    assert vault.operation(method, url) == operation


def test_log_lines_name_only_the_exception_type() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test.observe")
    handler = observe.json_handler(stream)
    logger.addHandler(handler)
    logger.propagate = False  # only the JSON handler: other handlers would print the traceback
    try:
        raise ValueError(planted("exception-text"))
    except ValueError:
        logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    line = json.loads(stream.getvalue())
    SEEN.append(("JSON exception line", stream.getvalue()))
    assert line["exception"] == "ValueError" and line["message"] == "failed" and line["request_id"] == "-"


@pytest.mark.system
def test_gunicorn_workers_add_up_and_every_line_is_json(bao: BaoServer, tmp_path: Path) -> None:
    """`nexo-secrets serve` with two workers and PROMETHEUS_MULTIPROC_DIR, as docker-compose runs it."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    env.update(
        VAULT_ADDR=bao.addr,
        SECRET_KEY="m" * 48,
        NEXO_ENV="production",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        NEXO_METRICS_PORT=str(metrics_port := free_port()),
    )
    log = tmp_path / "serve.log"
    proc, base = start_serve(env, log, workers=2)
    try:
        for _ in range(20):  # a new connection each: both workers answer some
            assert requests.get(base + "/healthz", timeout=5, headers={"Connection": "close"}).status_code == 200
        totals = set()
        for _ in range(6):
            text = requests.get(metrics_url(base, metrics_port), timeout=5, headers={"Connection": "close"}).text
            found = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            totals.add(value(found, "nexo_http_requests_total", route="/healthz", method="GET", status="200"))
        assert totals == {20.0}  # whichever worker answers, it reports all of them
        # ...because the workers count in shared files (one per worker process), not in their memory.
        assert list(metrics_dir.glob("counter_*.db"))
    finally:
        stop(proc)
    lines = log.read_text().splitlines()
    SEEN.append(("serve log (multiprocess metrics)", "\n".join(lines)))
    parsed = [json.loads(line) for line in lines]  # every line, gunicorn's own included, is JSON
    assert any(p["logger"] == "gunicorn.error" for p in parsed)
    assert all("request_id" in p for p in parsed)
    assert len([p for p in parsed if p["logger"] == "nexo.access" and p["route"] == "/healthz"]) == 20


def test_junk_methods_add_no_label_sets(app: Any) -> None:
    """Any token is a valid HTTP method: labels fold to a closed set, or /metrics grows without bound."""
    client = app.test_client()
    client.open("/healthz", method="JUNKWARM")
    samples(app)  # the /metrics read itself is a label set too
    before = set(samples(app))
    for n in range(200):
        reply = client.open("/healthz", method=f"AABCD{n}")
        assert reply.status_code == 405 and reply.get_json()["code"] == 405
    after = samples(app)
    assert set(after) == before
    methods = {v for (_, labels) in after for k, v in labels if k == "method"}
    assert methods <= observe.METHODS | {"OTHER"}
    assert value(after, "nexo_http_requests_total", route="<unmatched>", method="OTHER", status="405") >= 200
