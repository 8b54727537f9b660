"""Run tokens: the Hub's runs sign in with a short JWT and get a token for one tenant, for minutes.

OpenBao's jwt auth method checks the Hub's signature, issuer and audience; the role
nexo-hub-run makes one entity alias per tenant (user_claim = the JWT's `tenant` claim) and
accepts only the provisioned tenants (bound_claims, kept up to date by `tenant create`), so a
claim that names no tenant, or breaks the naming rule, gets no token at all. The policy
nexo-hub-run reads values in the folder named by that alias alone (vault-policies/).
The AppRole nexo-hub (app/access.py) stays, for `nexo-secrets dev` and small installs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from app import access, errors, names
from app.vault import Vault

RUN_ROLE = "nexo-hub-run"
RUN_POLICY = "nexo-hub-run"
MOUNT = "hub-jwt"  # a mount of its own: the Hub's issuer is not the people's identity provider
_MOUNT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
TENANT_CLAIM = "tenant"
TTL_DEFAULT = 5 * 60
TTL_MIN = 60
TTL_MAX = 15 * 60


def run_policy(mount: str) -> str:
    """The run policy of a jwt mount: it names that mount's accessor, so each mount has its own."""
    return RUN_POLICY if mount == MOUNT else f"{RUN_POLICY}-{mount}"


def role_settings(audience: str, tenants: Iterable[str], ttl: int, mount: str = MOUNT) -> dict[str, Any]:
    """The nexo-hub-run role: who may sign in (audience, tenants) and what the token is."""
    return {
        "role_type": "jwt",
        "bound_audiences": [audience],
        # One alias per tenant, named after it: the policy reads the alias name. A shared alias
        # (user_claim = sub) would let a login for one tenant move another's tokens onto it.
        "user_claim": TENANT_CLAIM,
        "claim_mappings": {TENANT_CLAIM: TENANT_CLAIM},  # shown in the token's metadata and audit log
        # Exact names (not globs): anything else, "../beta" included, is refused before a token exists.
        # An empty list refuses every claim.
        "bound_claims_type": "string",
        "bound_claims": {TENANT_CLAIM: sorted(set(tenants))},
        "token_policies": [run_policy(mount)],
        "token_type": "service",  # revocable: a worker may end its token with its run
        "token_ttl": ttl,
        "token_explicit_max_ttl": ttl,  # renewing cannot stretch a run token's life
    }


def provisioned_tenants(vault: Vault, token: str) -> list[str]:
    """Every tenant the operator made (both its groups exist), in name order."""
    groups = set(vault.identity.list_groups(token))
    prefix, suffix = "nexo-tenant-", "-readers"
    found = {g[len(prefix) : -len(suffix)] for g in groups if g.startswith(prefix) and g.endswith(suffix)}
    return sorted(t for t in found if names.is_tenant(t) and access.group_name(t, "write") in groups)


def configure(
    vault: Vault,
    token: str,
    *,
    issuer: str,
    audience: str,
    pubkeys: Sequence[str] = (),
    jwks_url: str | None = None,
    ttl: int = TTL_DEFAULT,
    mount: str = MOUNT,
) -> list[str]:
    """Set up run tokens (operator token, idempotent): the jwt mount trusting the Hub's keys or
    JWKS URL and issuer, the policy nexo-hub-run, and the role for every provisioned tenant."""
    if bool(pubkeys) == bool(jwks_url):
        raise errors.Unprocessable("Give the Hub's public keys or its JWKS URL (one of them)")
    if not TTL_MIN <= ttl <= TTL_MAX:
        raise errors.Unprocessable(f"The run token TTL must be {TTL_MIN} to {TTL_MAX} seconds")
    if not issuer or not audience:
        raise errors.Unprocessable("Give the issuer and the audience the Hub's JWTs carry")
    if not _MOUNT_RE.match(mount):
        raise errors.Unprocessable("The mount path: 1-63 lowercase letters, digits or '-'")
    done = []
    found = vault.sys.auth_methods(token).get(f"{mount}/")
    if found is None:
        vault.sys.enable_auth(token, mount, "jwt")
        done.append(f"enabled auth jwt at {mount}/")
    elif found.get("type") != "jwt":
        raise errors.Conflict(f"Auth mount {mount}/ exists but is not a jwt mount")
    keys: dict[str, Any] = {"jwt_validation_pubkeys": list(pubkeys)} if pubkeys else {"jwks_url": jwks_url}
    # Both ways are written, one emptied: Vault refuses a config that holds two sources of keys.
    other: dict[str, Any] = {"jwks_url": ""} if pubkeys else {"jwt_validation_pubkeys": []}
    vault.auth.write_jwt_config(token, mount, {**other, **keys, "bound_issuer": issuer})
    done.append(f"wrote jwt config at {mount}/ (issuer {issuer})")
    accessor = vault.sys.auth_accessor(token, mount)
    policy = run_policy(mount)
    vault.identity.put_policy(token, policy, access.render(RUN_POLICY, vault, jwt_accessor=accessor))
    done.append(f"wrote policy {policy}")
    tenants = provisioned_tenants(vault, token)
    vault.auth.write_jwt_role(token, mount, RUN_ROLE, role_settings(audience, tenants, ttl, mount))
    done.append(f"wrote jwt role {RUN_ROLE} at {mount}/ ({len(tenants)} tenants, token ttl {ttl}s)")
    return done


def allow_tenant(vault: Vault, token: str, tenant: str) -> bool:
    """Add a newly provisioned tenant to the run role on every jwt mount that has it; True if added.

    A read and a write: two `tenant create` at the same instant may leave one out, which the
    next `hub-auth jwt` (it lists every tenant) puts right."""
    names.tenant(tenant)
    added = False
    for path, method in vault.sys.auth_methods(token).items():
        if method.get("type") != "jwt":
            continue
        mount = path.rstrip("/")
        role = vault.auth.read_jwt_role(token, mount, RUN_ROLE)
        if role is None:
            continue
        tenants = list((role.get("bound_claims") or {}).get(TENANT_CLAIM) or [])
        if tenant not in tenants:
            bound = {**(role.get("bound_claims") or {}), TENANT_CLAIM: sorted({*tenants, tenant})}
            # Vault updates the fields sent and keeps the others; it checks role_type on every write.
            vault.auth.write_jwt_role(token, mount, RUN_ROLE, {"role_type": "jwt", "bound_claims": bound})
            added = True
    return added
