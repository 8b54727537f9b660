"""The operator commands' messages: in the CLI's terms (VAULT_ADDR, VAULT_TOKEN), never the web UI's."""

from __future__ import annotations

import uuid

from app import names
from tests.conftest import BaoServer, Users, free_port
from tests.helpers import cli


def test_unreachable_vault_names_the_address_and_vault_addr() -> None:
    addr = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = cli("tenant", "create", "acme", addr=addr, token="any")
    assert done.returncode == 1
    assert f"could not reach Vault at {addr} (from VAULT_ADDR)" in done.stderr, done.stderr
    assert "unavailable, try again shortly" not in done.stderr  # the web UI's wording
    assert len(done.stderr.splitlines()) == 1  # that line only, no log lines before it


def test_bad_tenant_name_states_the_rule(bao: BaoServer) -> None:
    done = cli("tenant", "create", "Bad_Name", addr=bao.addr, token=bao.root_token)
    assert done.returncode == 2 and names.TENANT_RULE in done.stderr, done.stderr
    assert bao.api("GET", "/v1/identity/group/name/nexo-tenant-Bad_Name-readers").status_code == 404


def test_a_refused_token_is_called_vault_token(bao: BaoServer, users: Users) -> None:
    revoked = bao.api("POST", "/v1/auth/token/create", bao.root_token, json={"policies": ["nexo-admin"]})
    token = revoked.json()["auth"]["client_token"]
    assert bao.api("POST", "/v1/auth/token/revoke-self", token).status_code == 204
    for wrong in ("not-a-token", token):
        done = cli("tenant", "create", "acme", addr=bao.addr, token=wrong)
        assert done.returncode == 1
        assert "VAULT_TOKEN was refused" in done.stderr, done.stderr
        assert "Not signed in" not in done.stderr and "session" not in done.stderr
    # A valid token without the rights is told apart from a refused one, and told who may.
    plain = users.token(*users.user())
    denied = cli("tenant", "create", "acme", addr=bao.addr, token=plain)
    assert denied.returncode == 1 and "only the operator's token may" in denied.stderr, denied.stderr
    other = cli("revoke", "nobody", "acme", addr=bao.addr, token=plain)
    assert other.returncode == 1 and "Vault denied this to the token in VAULT_TOKEN" in other.stderr, other.stderr


def test_grant_to_a_user_who_does_not_exist_is_refused(bao: BaoServer, users: Users) -> None:
    tenant = users.tenant()
    ghost = "ghost-" + uuid.uuid4().hex[:8]
    done = cli("grant", ghost, tenant.name, "read", addr=bao.addr, token=bao.root_token)
    assert done.returncode == 1 and f"there is no user {ghost}" in done.stderr, done.stdout + done.stderr
    assert "may now" not in done.stdout
    assert bao.api("GET", f"/v1/identity/entity/name/{ghost}", bao.root_token).status_code == 404  # no orphan
    granted = cli("grant", tenant.reader, tenant.name, "write", addr=bao.addr, token=bao.root_token)
    assert granted.returncode == 0 and granted.stdout.strip() == f"{tenant.reader} may now write {tenant.name}"


def test_user_add_warns_about_a_policy_that_does_not_exist(bao: BaoServer) -> None:
    name = "u" + uuid.uuid4().hex[:8]
    done = cli(
        "user", "add", name, "--password", "pw-" + uuid.uuid4().hex,
        "--policy", "nexo-auditor", "--policy", "nexo-admn",
        addr=bao.addr, token=bao.root_token,
    )  # fmt: skip
    assert done.returncode == 0 and f"user {name} saved" in done.stdout
    assert "warning: there is no policy nexo-admn" in done.stderr, done.stderr
    assert "nexo-auditor" not in done.stderr  # it exists: no warning


def test_an_admin_may_not_add_a_user_with_a_policy(bao: BaoServer, users: Users) -> None:
    """No role below the operator grants a policy: an admin's `user add --policy` is refused, and
    without a policy the account is saved."""
    admin = users.token(*users.user(policies=("nexo-admin",)))
    name = "u" + uuid.uuid4().hex[:8]
    password = "pw-" + uuid.uuid4().hex
    refused = cli("user", "add", name, "--password", password, "--policy", "default", addr=bao.addr, token=admin)
    assert refused.returncode == 1 and "Vault denied this" in refused.stderr, refused.stderr
    assert bao.api("GET", f"/v1/auth/userpass/users/{name}", bao.root_token).status_code == 404
    done = cli("user", "add", name, "--password", password, addr=bao.addr, token=admin)
    assert done.returncode == 0 and f"user {name} saved" in done.stdout and not done.stderr, done.stderr
