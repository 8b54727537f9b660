"""Run tokens (issue 26): a Hub run signs a JWT naming its tenant and gets a token that reads that
tenant's values alone, for minutes. Real OpenBao, a key pair made here (no identity provider)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from nexo_secrets_client import NotAuthorized, SecretsClient

from app import access, errors, hub_auth, run_jwt, usage
from app.vault import errors as vault_errors
from tests.conftest import BaoServer, Users, planted, watch_resolve_answer
from tests.helpers import cli, samples, this_hour, value
from tests.ui_server import serve

ISSUER, AUDIENCE = "https://hub.internal", "nexo-secrets"  # the README's


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


@dataclass
class Runs:
    """The Hub's run sign-in, set up on the session's OpenBao as an operator would."""

    bao: BaoServer
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    mount: str

    def jwt(self, for_tenant: str, /, **claims: Any) -> str:
        """A run JWT for `for_tenant`, its claims then changed as given (e.g. tenant="../x")."""
        signed = run_jwt.sign(self.key, issuer=ISSUER, audience=AUDIENCE, tenant=for_tenant)
        if not claims:
            return signed
        assert isinstance(self.key, rsa.RSAPrivateKey)
        return raw_jwt(self.key, {**decode(signed), **claims})

    def login(self, jwt: str, role: str = hub_auth.RUN_ROLE) -> Any:
        """Vault's answer to a JWT login, straight from OpenBao."""
        return self.bao.api("POST", f"/v1/auth/{self.mount}/login", json={"role": role, "jwt": jwt})

    def token(self, tenant: str, /, role: str = hub_auth.RUN_ROLE, **claims: Any) -> str:
        reply = self.login(self.jwt(tenant, **claims), role)
        assert reply.status_code == 200, reply.json()
        return str(reply.json()["auth"]["client_token"])

    def reads(self, token: str, tenant: str, key: str = "K") -> int:
        """The status of a read of tenant/key's value straight from OpenBao with `token`."""
        return self.bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}", token).status_code


def decode(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def raw_jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    """A JWT with any claims at all (the helper refuses bad tenant names): what an attacker could
    make if they held the key, or what a buggy Hub could sign."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def runs(bao: BaoServer) -> Iterator[Runs]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mount = hub_auth.MOUNT  # as shipped (the README's example uses it)
    hub_auth.configure(bao.vault, bao.root_token, issuer=ISSUER, audience=AUDIENCE, pubkeys=[pem(key)], mount=mount)
    yield Runs(bao, key, mount)
    # Later tests' `tenant create` would keep this mount's role up to date for nothing.
    assert bao.api("DELETE", f"/v1/sys/auth/{mount}").status_code == 204


def store(bao: BaoServer, tenant: str, key: str = "K") -> str:
    value = planted("run")
    bao.vault.kv.write_value(bao.root_token, tenant, key, value, cas=0)
    return value


def resolve(app: Any, token: str, tenant: str, key: str = "K", **extra: Any) -> Any:
    body = {"parameters": [{"name": "p", "type": "SECRET", "value": key}], **extra}
    reply = app.test_client().post(
        f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    reply.close()  # as a server does once the answer is sent: the use is recorded then
    return watch_resolve_answer(reply)


def test_a_run_token_reads_its_tenant_only_through_the_service_and_direct(
    app: Any, bao: BaoServer, users: Users, runs: Runs
) -> None:
    acme, beta = users.tenant(), users.tenant()
    acme_value, _ = store(bao, acme.name), store(bao, beta.name)
    token = runs.token(acme.name)
    # What the audit log names (the README's auditors' section): the tenant, in the token's own metadata.
    looked = bao.api("GET", "/v1/auth/token/lookup-self", token).json()["data"]
    assert looked["display_name"] == f"{runs.mount}-{acme.name}"
    assert looked["meta"] == {"role": hub_auth.RUN_ROLE, "tenant": acme.name}

    assert runs.reads(token, acme.name) == 200
    assert runs.reads(token, beta.name) == 403  # Vault itself refuses: the policy names one folder
    assert bao.api("LIST", "/v1/secret/metadata/tenants/", token).status_code == 403

    before = samples(app)
    plain = resolve(app, token, acme.name)
    assert plain.status_code == 200 and plain.get_json()["parameters"][0]["value"] == acme_value
    refused = resolve(app, token, beta.name)
    assert refused.status_code == 403
    assert set(refused.get_json()) <= {"code", "status", "message", "errors"} and refused.get_json()["code"] == 403
    after = samples(app)
    # Metrics stay per tenant: the resolve counts for acme; the refused one for nobody.
    assert (
        value(after, "nexo_resolves_total", tenant=acme.name) - value(before, "nexo_resolves_total", tenant=acme.name)
        == 1
    )
    assert value(after, "nexo_resolves_total", tenant=beta.name) == 0
    # Last use is recorded with the run token, in its own tenant, beside its references; the
    # secrets' own metadata it can no longer change, in any tenant.
    used = bao.api("LIST", f"/v1/secret/metadata/references/{acme.name}/~used/").json()["data"]["keys"]
    assert len(used) == 1 and used[0].startswith("K,") and this_hour(used[0].removeprefix("K,"))
    assert bao.api("LIST", f"/v1/secret/metadata/references/{beta.name}/~used/").status_code == 404
    assert "last_used_time" not in (
        bao.api("GET", f"/v1/secret/metadata/tenants/{acme.name}/K").json()["data"]["custom_metadata"] or {}
    )
    usage.record(bao.vault, token, acme.name, "K", "2026-01-01T00:00:00Z")  # an older hour: removed again
    assert bao.api("LIST", f"/v1/secret/metadata/references/{acme.name}/~used/").json()["data"]["keys"] == used
    with pytest.raises(vault_errors.Denied):
        usage.record(bao.vault, token, beta.name, "K", "2026-01-01T00:00:00Z")
    for tenant in (acme.name, beta.name):
        with pytest.raises(vault_errors.Denied):
            bao.vault.kv.patch_metadata(token, tenant, "K", {"description": "forged"})


def test_the_client_logs_in_with_a_run_jwt_and_resolves_plain_and_wrapped(
    app: Any, bao: BaoServer, users: Users, runs: Runs
) -> None:
    acme, beta = users.tenant(), users.tenant()
    value_ = store(bao, acme.name)
    store(bao, beta.name)
    params = [{"name": "db", "type": "SECRET", "value": "K"}]
    with serve(app) as url, SecretsClient(url, vault_addr=bao.addr) as hub:
        hub.login_jwt(runs.jwt(acme.name), mount=runs.mount)
        assert hub.resolve(acme.name, params)[0]["value"] == value_
        delivery = hub.resolve(acme.name, params, wrap_ttl=60)
        assert delivery.parameters[0]["wrap"]["creation_path"] == f"secret/data/tenants/{acme.name}/K"
        with pytest.raises(NotAuthorized) as denied:
            hub.resolve(beta.name, params)
        assert denied.value.status == 403
    # The worker may end its token with the run: what it delivered stays good for the sink.
    token = hub._token
    assert token and bao.api("POST", "/v1/auth/token/revoke-self", token).status_code == 204
    sink = SecretsClient(vault_addr=bao.addr)
    assert sink.unwrap(delivery.as_dict(), tenant=acme.name, expect={"db": "K"})[0]["value"] == value_

    refused = SecretsClient(vault_addr=bao.addr)
    with pytest.raises(NotAuthorized) as bad:
        refused.login_jwt(runs.jwt(acme.name, aud="someone-else"), mount=runs.mount)
    assert bad.value.status == 400 and "refused" in str(bad.value) and "eyJ" not in str(bad.value)


def test_one_alias_per_tenant_the_shared_alias_pitfall_cannot_happen_with_the_shipped_role(
    bao: BaoServer, users: Users, runs: Runs
) -> None:
    """The pitfall of the issue, shown on a role made the other way (user_claim = sub, policy on
    the alias metadata), then the same logins through the shipped role."""
    acme, beta = users.tenant(), users.tenant()
    store(bao, acme.name)
    store(bao, beta.name)
    accessor = bao.vault.sys.auth_accessor(bao.root_token, runs.mount)
    shared = f'path "secret/data/tenants/{{{{identity.entity.aliases.{accessor}.metadata.tenant}}}}/*" {{ capabilities = ["read"] }}'
    assert bao.api("PUT", "/v1/sys/policies/acl/pitfall-shared-alias", json={"policy": shared}).ok
    pitfall = {
        **hub_auth.role_settings(AUDIENCE, [acme.name, beta.name], 300, runs.mount),
        "user_claim": "sub",
        "token_policies": ["pitfall-shared-alias"],
    }
    bao.vault.auth.write_jwt_role(bao.root_token, runs.mount, "pitfall", pitfall)
    try:
        for_acme = runs.token(acme.name, role="pitfall")
        assert runs.reads(for_acme, acme.name) == 200 and runs.reads(for_acme, beta.name) == 403
        runs.token(beta.name, role="pitfall")  # the same sub: the same alias, its metadata now beta
        assert runs.reads(for_acme, beta.name) == 200  # the pitfall: acme's run token reads beta
        assert runs.reads(for_acme, acme.name) == 403
    finally:
        assert bao.api("DELETE", f"/v1/auth/{runs.mount}/role/pitfall").status_code == 204

    # The shipped role: the same sub, the same sequence; each token keeps its own tenant.
    role = bao.vault.auth.read_jwt_role(bao.root_token, runs.mount, hub_auth.RUN_ROLE)
    assert role and role["user_claim"] == "tenant"
    acme_token = runs.token(acme.name)
    beta_token = runs.token(beta.name)
    runs.token(beta.name)
    assert runs.reads(acme_token, acme.name) == 200 and runs.reads(acme_token, beta.name) == 403
    assert runs.reads(beta_token, beta.name) == 200 and runs.reads(beta_token, acme.name) == 403
    entities = {
        bao.api("GET", "/v1/auth/token/lookup-self", t).json()["data"]["entity_id"] for t in (acme_token, beta_token)
    }
    assert len(entities) == 2  # one entity (one alias) per tenant, not one per Hub


def test_bad_claims_are_refused_before_any_token_is_made(bao: BaoServer, users: Users, runs: Runs) -> None:
    acme = users.tenant()
    store(bao, acme.name)
    unprovisioned = "t" + uuid.uuid4().hex[:10]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    refused = {
        "a path out of its folder": runs.jwt(acme.name, tenant=f"../{acme.name}"),
        "a name that breaks the rule": runs.jwt(acme.name, tenant=acme.name.upper()),
        "no provisioned tenant": runs.jwt(acme.name, tenant=unprovisioned),
        "two tenants": runs.jwt(acme.name, tenant=[acme.name, unprovisioned]),
        "no tenant claim": raw_jwt(runs.key, {k: v for k, v in decode(runs.jwt(acme.name)).items() if k != "tenant"}),  # type: ignore[arg-type]
        "another audience": runs.jwt(acme.name, aud="another-service"),
        "another issuer": runs.jwt(acme.name, iss="https://evil.test"),
        "expired": runs.jwt(acme.name, iat=now - 600, nbf=now - 600, exp=now - 300),
        "another key": run_jwt.sign(other_key, issuer=ISSUER, audience=AUDIENCE, tenant=acme.name),
    }
    for why, jwt in refused.items():
        reply = runs.login(jwt)
        assert reply.status_code == 400 and "auth" not in reply.json(), why
    # No entity, no alias was made for a refused claim.
    accessor = bao.vault.sys.auth_accessor(bao.root_token, runs.mount)
    for name in (f"../{acme.name}", unprovisioned, acme.name.upper()):
        found = bao.api(
            "POST", "/v1/identity/lookup/entity", json={"alias_name": name, "alias_mount_accessor": accessor}
        )
        assert found.status_code == 204, name
    # The helper refuses to sign such a claim at all.
    for bad in (f"../{acme.name}", "Acme", "", "-x"):
        with pytest.raises(ValueError):
            run_jwt.sign(runs.key, issuer=ISSUER, audience=AUDIENCE, tenant=bad)

    # A tenant provisioned later gets run tokens at once: `tenant create` adds it to the role.
    assert runs.login(runs.jwt(acme.name, tenant=unprovisioned)).status_code == 400
    access.provision(bao.vault, bao.root_token, unprovisioned)
    hub_auth.allow_tenant(bao.vault, bao.root_token, unprovisioned)
    assert runs.login(runs.jwt(unprovisioned)).status_code == 200


def test_a_run_token_lives_for_its_ttl_and_no_longer(app: Any, bao: BaoServer, users: Users, runs: Runs) -> None:
    """The shipped role's settings with a TTL of 3 seconds (the command allows 1 to 15 minutes)."""
    acme = users.tenant()
    store(bao, acme.name)
    bao.vault.auth.write_jwt_role(
        bao.root_token, runs.mount, "short", hub_auth.role_settings(AUDIENCE, [acme.name], 3, runs.mount)
    )
    try:
        token = runs.token(acme.name, role="short")
        looked = bao.api("GET", "/v1/auth/token/lookup-self", token).json()["data"]
        assert looked["explicit_max_ttl"] == 3 and looked["policies"] == ["default", hub_auth.run_policy(runs.mount)]
        renewed = bao.api("POST", "/v1/auth/token/renew-self", token, json={"increment": "1h"}).json()
        assert renewed["auth"]["lease_duration"] <= 3  # renewing does not stretch it
        assert resolve(app, token, acme.name).status_code == 200
        deadline = time.monotonic() + 15
        while runs.reads(token, acme.name) == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert runs.reads(token, acme.name) == 403
        expired = resolve(app, token, acme.name)
        assert expired.status_code == 401 and expired.get_json()["code"] == 401
    finally:
        bao.api("DELETE", f"/v1/auth/{runs.mount}/role/short")


def test_es256_keys_and_a_jwks_url_are_trusted_too(bao: BaoServer, users: Users) -> None:
    acme = users.tenant()
    store(bao, acme.name)
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "kid": "run-1",
        "x": base64.urlsafe_b64encode(numbers.x.to_bytes(32, "big")).rstrip(b"=").decode(),
        "y": base64.urlsafe_b64encode(numbers.y.to_bytes(32, "big")).rstrip(b"=").decode(),
    }
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mount = "hub-jwks-" + uuid.uuid4().hex[:6]
    try:
        jwks_url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
        hub_auth.configure(bao.vault, bao.root_token, issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url, mount=mount)
        runs = Runs(bao, key, mount)
        jwt = run_jwt.sign(key, issuer=ISSUER, audience=AUDIENCE, tenant=acme.name, key_id="run-1")
        assert json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "==")) == {
            "alg": "ES256",
            "typ": "JWT",
            "kid": "run-1",
        }
        reply = runs.login(jwt)
        assert reply.status_code == 200, reply.json()
        assert runs.reads(reply.json()["auth"]["client_token"], acme.name) == 200
        # Both ways cannot hold at once, nor none.
        with pytest.raises(errors.Unprocessable):
            hub_auth.configure(bao.vault, bao.root_token, issuer=ISSUER, audience=AUDIENCE, mount=mount)
    finally:
        server.shutdown()
        server.server_close()
        bao.api("DELETE", f"/v1/sys/auth/{mount}")


def test_the_command_is_idempotent_and_refuses_bad_options_changing_nothing(
    bao: BaoServer, users: Users, tmp_path: Path
) -> None:
    acme = users.tenant()
    store(bao, acme.name)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public, private = tmp_path / "hub.pub.pem", tmp_path / "hub.key.pem"
    public.write_text(pem(key))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    mount = "hub-cli-" + uuid.uuid4().hex[:6]
    args = ("hub-auth", "jwt", "--issuer", ISSUER, "--audience", AUDIENCE, "--mount", mount)
    try:
        first = cli(*args, "--pubkey", str(public), "--ttl", "10m", addr=bao.addr, token=bao.root_token)
        assert first.returncode == 0, first.stderr
        assert f"enabled auth jwt at {mount}/" in first.stdout and "token ttl 600s" in first.stdout
        again = cli(*args, "--pubkey", str(public), "--ttl", "10m", addr=bao.addr, token=bao.root_token)
        assert again.returncode == 0 and "enabled auth" not in again.stdout, again.stderr
        role = bao.vault.auth.read_jwt_role(bao.root_token, mount, hub_auth.RUN_ROLE)
        assert role and role["token_ttl"] == 600 and role["token_explicit_max_ttl"] == 600
        assert acme.name in role["bound_claims"]["tenant"] and role["bound_audiences"] == [AUDIENCE]
        runs = Runs(bao, key, mount)
        assert runs.reads(runs.token(acme.name), acme.name) == 200

        bad = {
            "--ttl": cli(*args, "--pubkey", str(public), "--ttl", "16m", addr=bao.addr, token=bao.root_token),
            "private key": cli(*args, "--pubkey", str(private), addr=bao.addr, token=bao.root_token),
            "both": cli(
                *args, "--pubkey", str(public), "--jwks-url", "https://x.test/jwks", addr=bao.addr, token=bao.root_token
            ),
            "neither": cli(*args, addr=bao.addr, token=bao.root_token),
        }
        for why, done in bad.items():
            assert done.returncode == 2, (why, done.stderr)
        assert "from 1m to 15m" in bad["--ttl"].stderr and "give its public half" in bad["private key"].stderr
        assert "PRIVATE KEY" not in bad["private key"].stderr + bad["private key"].stdout
        assert bao.vault.auth.read_jwt_role(bao.root_token, mount, hub_auth.RUN_ROLE) == role  # unchanged
        # Only the operator may: an admin's token is refused by Vault.
        admin = users.token(*users.user(policies=("nexo-admin",)))
        denied = cli(*args, "--pubkey", str(public), addr=bao.addr, token=admin)
        assert denied.returncode == 1 and "Vault denied this" in denied.stderr, denied.stderr
        for path in (
            f"auth/{mount}/role/{hub_auth.RUN_ROLE}",
            f"auth/{mount}/config",
            f"sys/policies/acl/{hub_auth.run_policy(mount)}",
        ):
            assert bao.vault.sys.capabilities(admin, path) == ["deny"], path  # no admin may widen a run token
    finally:
        bao.api("DELETE", f"/v1/sys/auth/{mount}")


def test_what_a_leaked_run_token_and_a_leaked_approle_token_expose(bao: BaoServer, users: Users, runs: Runs) -> None:
    """The closing note's figures (run with -s to see them): tenants readable, and lifetime."""
    acme = users.tenant()
    store(bao, acme.name)
    tenants = hub_auth.provisioned_tenants(bao.vault, bao.root_token)
    creds = access.hub_credentials(bao.vault, bao.root_token)
    approle = str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])
    run = runs.token(acme.name)

    def exposure(token: str) -> tuple[int, int, int]:
        readable = sum("read" in bao.vault.sys.capabilities(token, bao.vault.kv.data_path(t, "K")) for t in tenants)
        looked = bao.api("GET", "/v1/auth/token/lookup-self", token).json()["data"]
        renewed = bao.api("POST", "/v1/auth/token/renew-self", token, json={"increment": "999h"}).json()["auth"]
        # Lifetime: what is left now, and what renewing stretches it to (at most the max TTL).
        return readable, int(looked["ttl"]), max(int(looked["explicit_max_ttl"]), int(renewed["lease_duration"]))

    run_tenants, run_ttl, run_most = exposure(run)
    app_tenants, app_ttl, app_most = exposure(approle)
    print(f"\nleaked run token:     reads {run_tenants} of {len(tenants)} tenants, ttl {run_ttl}s, at most {run_most}s")
    print(
        f"leaked AppRole token: reads {app_tenants} of {len(tenants)} tenants, ttl {app_ttl}s, at most {app_most}s (then a new login with the secret_id, valid 30 days)"
    )
    assert run_tenants == 1 and app_tenants == len(tenants) > 1
    assert run_most <= hub_auth.TTL_DEFAULT < app_ttl


def test_the_readme_run_token_example_runs(
    app: Any, bao: BaoServer, users: Users, runs: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = (Path(__file__).resolve().parent.parent / "README.md").read_text().split("\n## Hub run tokens\n", 1)[1]
    example = section.split("\n## ", 1)[0].split("```python\n", 1)[1].split("```", 1)[0]
    tenant = users.tenant()
    value_ = store(bao, tenant.name, "DATABASE_PASSWORD")
    key_file = tmp_path / "hub-run.key.pem"
    assert isinstance(runs.key, rsa.RSAPrivateKey)
    key_file.write_bytes(
        runs.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setenv("HUB_RUN_KEY", str(key_file))
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    with serve(app) as url:
        code = example.replace("http://127.0.0.1:8080", url).replace('"demo"', repr(tenant.name))
        scope: dict[str, Any] = {}
        exec(compile(code, "README.md (run tokens)", "exec"), scope)  # noqa: S102 - the README's own example
    assert scope["resolved"][0]["value"] == value_
    assert run_jwt.LIFETIME == 60 and decode(scope["jwt"])["exp"] - decode(scope["jwt"])["iat"] == 60  # "lives 60 s"


def test_a_run_token_resolves_for_its_referrer_in_its_tenant_only(
    app: Any, bao: BaoServer, users: Users, runs: Runs
) -> None:
    """References (issue 25) with a run token: the referrer's last_resolved_time is recorded and an
    undeclared key warned of, in the token's tenant; it can neither declare nor touch another's."""
    acme, beta = users.tenant(), users.tenant()
    store(bao, acme.name)
    store(bao, acme.name, "EXTRA")
    creds = access.hub_credentials(bao.vault, bao.root_token)
    hub = str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])
    declared = {"name": "Send invoice", "parameters": [{"name": "p", "type": "SECRET", "value": "K"}]}
    for tenant in (acme.name, beta.name):
        url = f"/api/v1/tenants/{tenant}/references/action/send-invoice"
        assert app.test_client().put(url, json=declared, headers={"Authorization": f"Bearer {hub}"}).status_code == 200
    token = runs.token(acme.name)
    body = {
        "parameters": [
            {"name": "p", "type": "SECRET", "value": "K"},
            {"name": "x", "type": "SECRET", "value": "EXTRA"},
        ],
        "referrer": {"kind": "action", "id": "send-invoice"},
    }
    reply = app.test_client().post(
        f"/api/v1/tenants/{acme.name}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    reply.close()  # the referrer's resolve is recorded once the answer is sent
    watch_resolve_answer(reply)
    assert reply.status_code == 200
    assert reply.get_json()["warnings"] == [
        {"code": "undeclared", "key": "EXTRA", "kind": "action", "id": "send-invoice"}
    ]
    record = f"/v1/secret/metadata/references/{acme.name}/@action,send-invoice"
    assert this_hour(bao.api("GET", record).json()["data"]["custom_metadata"]["last_resolved_time"])
    other = f"/v1/secret/metadata/references/{beta.name}/@action,send-invoice"
    assert "last_resolved_time" not in bao.api("GET", other).json()["data"]["custom_metadata"]
    # Vault itself: the run token may patch its own tenant's referrer only, and declares nothing.
    caps = bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [record[4:], other[4:]]}).json()
    assert caps[record[4:]] == ["patch"] and caps[other[4:]] == ["deny"]
    refused = app.test_client().put(
        f"/api/v1/tenants/{acme.name}/references/action/new",
        json=declared,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403
