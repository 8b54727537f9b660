"""Helpers shared by several test modules (the fixtures are in conftest.py and browser.py):
test modules import them from here, never from each other."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from app import usage
from tests.conftest import SEEN, get_metrics


def samples(app: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of GET /metrics (on the metrics listener) as {(name, labels): value}."""
    reply = get_metrics(app)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    text = reply.get_data(as_text=True)
    SEEN.append(("/metrics", text))
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def cli(*args: str, addr: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["VAULT_ADDR"] = addr
    if token is not None:
        env["VAULT_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True, timeout=60)
    SEEN.append(("cli " + " ".join(args[:2]), done.stdout + done.stderr))
    return done


def this_hour(recorded: Any) -> bool:
    """A use recorded by this test: this hour, or the last one if the hour turned meanwhile."""
    now = datetime.now(UTC)
    return recorded in {usage.hour(now), usage.hour(now - timedelta(minutes=5))}


def days(n: float) -> str:
    """A time n days from now, as the service stores times."""
    return usage.format_time(datetime.now(UTC) + timedelta(days=n))


def session_token(client: Any) -> str:
    """The Vault token sealed in a signed-in test client's session cookie (decrypted with the server's key)."""
    from flask import current_app

    from app import auth

    http = getattr(client, "http", client)
    with http.application.test_request_context():
        sealed = current_app.session_interface.get_signing_serializer(current_app).loads(  # type: ignore[attr-defined]
            http.get_cookie("nexo_session").value
        )["_user_id"]
        opened = auth.unseal(sealed)
    assert opened is not None
    return str(opened[0])


def request_from(
    source: str, base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """One request to `base` (http://host:port) from the local address `source` (any of 127/8):
    its status, headers and text. For what counts per client address (nginx's limits, OpenBao's
    X-Forwarded-For trust)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read().decode(errors="replace")
    finally:
        connection.close()
