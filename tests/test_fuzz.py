"""Hostile input generated from the OpenAPI document (schemathesis) against a real OpenBao.

Every operation is called with generated valid and invalid input, as a writer of a real tenant
with a planted secret, as the Hub (resolve) and as an admin: no 5xx, every answer documented
and in its documented shape, and the planted value never in any answer but resolve's. Every
check schemathesis has runs, in every phase (examples, coverage, fuzzing, stateful): valid input
by the document is accepted, invalid input refused, so the document says what the server enforces.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.pytest import from_fixture

from app import names
from tests.conftest import SEEN, BaoServer, Users, planted, watched_app

SHAPE = {"code", "status", "message"}


@pytest.fixture(scope="module")
def app(bao: BaoServer) -> Any:
    """The fuzzer's own app: generated sign-ins fail by the hundred, so no failure floor to wait
    out (test_auth checks it is applied), and its address throttle is its own."""
    return watched_app(bao, "t" * 48, LOGIN_FAILURE_SECONDS=0)


@pytest.fixture(scope="module")
def world(app: Any, bao: BaoServer, users: Users) -> Iterator[dict[str, Any]]:
    """A tenant with one planted secret, and tokens for a writer, the Hub and an admin."""
    tenant = users.tenant("fuzz")
    value = planted("fuzz")
    writer = users.token(tenant.writer, tenant.password)
    created = app.test_client().post(
        "/api/v1/tenants/fuzz/secrets",
        json={"key": "FUZZ_KEY", "value": value},
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert created.status_code in (201, 409)
    hub = bao.vault.transport.request("POST", "/v1/auth/token/create", bao.root_token, {"policies": ["nexo-hub"]})
    admin, admin_pw = users.user(policies=("nexo-admin",))
    yield {
        "value": value,
        "tokens": {
            "writer": writer,
            "hub": hub["auth"]["client_token"],
            "admin": users.token(admin, admin_pw),
        },
    }


# Every check and every phase; few examples each, to keep the suite's time.
CONFIG = """
[generation]
mode = "all"
max-examples = 25
deterministic = true

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = true
max-steps = 12

[checks]
enabled = true

# Resolve is all or nothing: a SECRET parameter naming a key that does not exist (or is no key)
# is a 422 naming it in errors.unresolved, however valid the body. The document can say which
# keys are well formed, not which exist: for resolve, that 422 is what 404 is elsewhere.
[[operations]]
include-path-regex = "/resolve$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

# An import's `content` is a .env text or a JSON list in a string: its lines are checked (and
# refused by line number, 422) after the body's schema, which can only say it is a string.
[[operations]]
include-path-regex = "/secrets/import$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

# Signing out would revoke the shared tokens (test_auth covers it).
[[operations]]
include-name = "DELETE /api/v1/session"
enabled = false
"""


TOKENS: dict[str, str] = {}


class Tokens:
    """The caller each operation is meant for, as schemathesis auth: its auth checks then send
    the same request with no and with a wrong token and expect 401/403."""

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return TOKENS

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        _aim(case)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data[_who(case)]}"}


@pytest.fixture(scope="module")
def api_schema(app: Any, world: dict[str, Any]) -> Any:
    TOKENS.update(world["tokens"])
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=SchemathesisConfig.from_str(CONFIG))
    schema.auth(Tokens, refresh_interval=None)
    return schema.exclude(path="/api/v1/session", method="DELETE")  # the state machine's; see CONFIG


schema = from_fixture("api_schema")


def _who(case: Any) -> str:
    path = case.operation.path
    if path.endswith("/resolve"):
        return "hub"
    if path.endswith("/members") or "/members/" in path or path == "/api/v1/tenants/{tenant}":
        return "admin"
    return "writer"


def _aim(case: Any) -> None:
    tenant = (case.path_parameters or {}).get("tenant")
    if isinstance(tenant, str) and names.is_tenant(tenant) and len(tenant) % 2:
        case.path_parameters["tenant"] = "fuzz"  # about half the valid names aim at the real tenant


def _holds(case: Any, response: Any, world: dict[str, Any]) -> None:
    """What schemathesis does not know: no 5xx, the one error shape, no planted value."""
    text = response.text
    assert response.status_code < 500, (case.method, case.path, response.status_code, text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert SHAPE <= set(body) <= SHAPE | {"errors"}, body
        assert body["code"] == response.status_code
    if not case.operation.path.endswith("/resolve"):
        assert world["value"] not in text
        SEEN.append((f"fuzz {case.method} {case.path}", text))


def _excluded(case: Any) -> list[Any]:
    """Checks that do not apply: OPTIONS of /secrets/import and /secrets/export rightly lists the
    methods of /secrets/{key} too (a key may be named "import" or "export")."""
    if case.operation.path.endswith(("/secrets/import", "/secrets/export")):
        return [schemathesis.checks.allow_header_conformance]
    return []


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_holds_under_generated_input(case: Any, world: dict[str, Any]) -> None:
    assert case.operation.label != "DELETE /api/v1/session"
    response = case.call()
    _holds(case, response, world)
    case.validate_response(response, excluded_checks=_excluded(case))


def test_api_holds_in_stateful_sequences(app: Any, api_schema: Any, world: dict[str, Any]) -> None:
    """Chains of calls linked by the document (create, then read, update, delete what was made)."""

    class Machine(api_schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            _holds(case, response, world)
            super().validate_response(response, case, excluded_checks=_excluded(case), **kwargs)

    Machine.run(
        settings=hypothesis.settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
    )
    # Nothing generated signed the shared callers out: the runs above were made with valid tokens.
    for token in world["tokens"].values():
        assert app.test_client().get("/api/v1/session", headers={"Authorization": f"Bearer {token}"}).status_code == 200
