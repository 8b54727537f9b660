"""Tenants, permissions and membership, as Vault policies and identity groups.

A tenant T has two policies (nexo-tenant-T-read, nexo-tenant-T-write) rendered from
vault-policies/, and two identity groups (nexo-tenant-T-readers, -writers) that carry them.
A user's permission is their entity's membership of one of the groups. The admin API and the
CLI both come through here, with the caller's (or operator's) own token.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import errors, names
from app.vault import Vault

PERMISSIONS = ("read", "write")
STATIC_POLICIES = ("nexo-admin", "nexo-hub", "nexo-auditor")
_TENANT_POLICY = "nexo-tenant-{tenant}-{permission}"
_TENANT_GROUP = {"read": "nexo-tenant-{tenant}-readers", "write": "nexo-tenant-{tenant}-writers"}


def policy_dir() -> Path:
    """Where the .hcl templates live (the repository's vault-policies/ unless overridden)."""
    override = os.environ.get("NEXO_POLICY_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "vault-policies"


def render(template: str, vault: Vault, tenant: str | None = None, userpass_accessor: str | None = None) -> str:
    """Fill a policy template; the tenant is validated first so it cannot widen a path."""
    text = (policy_dir() / f"{template}.hcl").read_text()
    text = text.replace("{{mount}}", vault.kv.mount).replace("{{prefix}}", "/".join(vault.kv.prefix))
    text = text.replace("{{userpass}}", vault.auth.userpass_mount).replace("{{approle}}", vault.auth.approle_mount)
    if "{{userpass_accessor}}" in text:
        if not userpass_accessor:
            raise ValueError(f"{template}.hcl needs the userpass mount's accessor")
        text = text.replace("{{userpass_accessor}}", userpass_accessor)
    if tenant is not None:
        text = text.replace("{{tenant}}", names.tenant(tenant))
    return text


def policy_name(tenant: str, permission: str) -> str:
    return _TENANT_POLICY.format(tenant=tenant, permission=permission)


def group_name(tenant: str, permission: str) -> str:
    return _TENANT_GROUP[permission].format(tenant=tenant)


def tenants_of(policies: Iterable[str]) -> dict[str, str]:
    """Read a token's policies as {tenant: "read" | "write"} (write wins)."""
    found: dict[str, str] = {}
    for policy in policies:
        if not policy.startswith("nexo-tenant-"):
            continue
        rest = policy[len("nexo-tenant-") :]
        for permission in ("write", "read"):
            suffix = "-" + permission
            if rest.endswith(suffix) and names.is_tenant(rest[: -len(suffix)]):
                tenant = rest[: -len(suffix)]
                if found.get(tenant) != "write":
                    found[tenant] = permission
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Member:
    user: str
    permission: str


def provision(vault: Vault, token: str, tenant: str) -> bool:
    """Write the tenant's policies and groups (idempotent, operator token); True if the tenant is new.

    Writing a policy is the operator's power alone (no admin may grant one), so Vault refuses
    any other token; the refusal says so instead of a bare "Permission denied".
    """
    names.tenant(tenant)
    try:
        new = vault.identity.read_group(token, group_name(tenant, "read")) is None
        for permission in PERMISSIONS:
            policy, group = policy_name(tenant, permission), group_name(tenant, permission)
            vault.identity.put_policy(token, policy, render(f"tenant-{permission}", vault, tenant))
            found = vault.identity.read_group(token, group)
            vault.identity.write_group(token, group, [policy], (found or {}).get("member_entity_ids") or [])
    except errors.PermissionDenied:
        raise errors.PermissionDenied(OPERATOR_ONLY) from None
    return new


OPERATOR_ONLY = (
    "Creating a tenant writes Vault policies: only the operator's token may do that "
    "(nexo-secrets tenant create); an admin manages the members of existing tenants"
)


def _set_members(vault: Vault, token: str, tenant: str, permission: str, entity_ids: Iterable[str]) -> None:
    """Replace a tenant group's members. Only member_entity_ids is sent: the admin policy allows
    no other field, and Vault keeps the group's policies when `policies` is absent."""
    vault.identity.set_group_members(token, group_name(tenant, permission), entity_ids)


def _groups(vault: Vault, token: str, tenant: str) -> dict[str, dict[str, Any]]:
    names.tenant(tenant)
    groups = {}
    for permission in PERMISSIONS:
        group = vault.identity.read_group(token, group_name(tenant, permission))
        if group is None:
            raise errors.NotFound(f"Tenant {tenant!r} is not provisioned")
        groups[permission] = group
    return groups


def entity_of(vault: Vault, token: str, user: str, *, create: bool) -> str | None:
    """The Vault entity id of a userpass user; created with its alias if asked and absent."""
    names.user(user)
    accessor = vault.sys.auth_accessor(token, vault.auth.userpass_mount)
    found = vault.identity.lookup_entity_by_alias(token, user, accessor)
    if found or not create:
        return found
    # No canonical_id: Vault makes a new entity for the alias. The admin policy forbids naming
    # one, so that nobody can tie a userpass name to another's entity.
    made = vault.identity.create_alias(token, user, accessor)
    return made or vault.identity.lookup_entity_by_alias(token, user, accessor)  # made meanwhile by a sign-in


def set_disabled(vault: Vault, token: str, user: str, disabled: bool = True) -> None:
    """Disable (or enable again) a user's account: a disabled entity can neither sign in nor use
    its tokens. The userpass account itself stays, so its name cannot be re-created by someone else."""
    entity_id = entity_of(vault, token, user, create=True)
    assert entity_id
    vault.identity.set_entity_disabled(token, entity_id, disabled)


def delete_user(vault: Vault, token: str, user: str) -> bool:
    """Delete a userpass account and its entity (operator token); False if there was none.

    Vault keeps an entity and its alias when the account goes, so whoever re-creates the name
    (an admin may create accounts) would sign in to the old entity and its groups.
    """
    entity_id = entity_of(vault, token, user, create=False)
    if entity_id:
        vault.identity.delete_entity(token, entity_id)
    return vault.auth.delete_user(token, user) or bool(entity_id)


def user_exists(vault: Vault, token: str, user: str) -> bool:
    """Whether the userpass account exists (`grant` alone would make an entity for any name)."""
    return vault.auth.user_exists(token, names.user(user))


def grant(vault: Vault, token: str, tenant: str, user: str, permission: str) -> Member:
    """Give a user read or write permission on a tenant (replacing any other)."""
    if permission not in PERMISSIONS:
        raise errors.Unprocessable(errors={"permission": ["Must be one of: read, write."]})
    groups = _groups(vault, token, tenant)
    entity_id = entity_of(vault, token, user, create=True)
    assert entity_id
    for each in PERMISSIONS:
        members = set(groups[each].get("member_entity_ids") or [])
        wanted = members | {entity_id} if each == permission else members - {entity_id}
        if wanted != members:
            _set_members(vault, token, tenant, each, wanted)
    return Member(user=user, permission=permission)


def revoke(vault: Vault, token: str, tenant: str, user: str) -> bool:
    """Take away a user's permission on a tenant; False if they had none."""
    groups = _groups(vault, token, tenant)
    entity_id = entity_of(vault, token, user, create=False)
    changed = False
    for each in PERMISSIONS:
        members = set(groups[each].get("member_entity_ids") or [])
        if entity_id and entity_id in members:
            _set_members(vault, token, tenant, each, members - {entity_id})
            changed = True
    return changed


def members(vault: Vault, token: str, tenant: str) -> list[Member]:
    """Who holds read or write permission on a tenant."""
    groups = _groups(vault, token, tenant)
    accessor = vault.sys.auth_accessor(token, vault.auth.userpass_mount)
    found: dict[str, str] = {}
    for permission in PERMISSIONS:
        for entity_id in groups[permission].get("member_entity_ids") or []:
            entity = vault.identity.read_entity_by_id(token, str(entity_id))
            if not entity:
                continue
            aliases = [a for a in entity.get("aliases") or [] if a.get("mount_accessor") == accessor]
            user = aliases[0]["name"] if aliases else entity.get("name", entity_id)
            if found.get(user) != "write":
                found[user] = permission
    return [Member(user=u, permission=p) for u, p in sorted(found.items())]


def bootstrap(vault: Vault, token: str) -> list[str]:
    """Enable userpass and approle, ensure the KV v2 mount, write the static policies."""
    done = []
    methods = vault.sys.auth_methods(token)
    for mount, kind in ((vault.auth.userpass_mount, "userpass"), (vault.auth.approle_mount, "approle")):
        if f"{mount}/" not in methods:
            vault.sys.enable_auth(token, mount, kind)
            done.append(f"enabled auth {kind} at {mount}/")
    mount = vault.kv.mount
    existing = vault.sys.mounts(token).get(f"{mount}/")
    if existing is None:
        vault.sys.enable_kv2(token, mount)
        done.append(f"enabled kv-v2 at {mount}/")
    elif existing.get("type") not in ("kv", "kv-v2") or (existing.get("options") or {}).get("version") != "2":
        raise errors.Conflict(f"Mount {mount}/ exists but is not KV version 2")
    accessor = vault.sys.auth_accessor(token, vault.auth.userpass_mount)
    for name in STATIC_POLICIES:
        if (policy_dir() / f"{name}.hcl").exists():
            vault.identity.put_policy(token, name, render(name, vault, userpass_accessor=accessor))
            done.append(f"wrote policy {name}")
    done.append(setup_hub(vault, token))
    return done


# -- the Hub's identity -------------------------------------------------------------------

HUB_ROLE = "nexo-hub"
# The Hub's tokens live an hour and are renewed by its client up to a day, then it logs in
# again; a secret_id lasts 30 days and may be used for any number of logins in that time.
HUB_ROLE_SETTINGS = {
    "token_policies": ["nexo-hub"],
    "token_type": "service",
    "token_ttl": "1h",
    "token_max_ttl": "24h",
    "secret_id_ttl": "720h",
    "secret_id_num_uses": 0,
}


@dataclass(frozen=True)
class HubCredentials:
    role_id: str
    secret_id: str
    secret_id_accessor: str
    secret_id_ttl: int


def setup_hub(vault: Vault, token: str) -> str:
    """Create or update the AppRole the Hub logs in with (policy nexo-hub only)."""
    vault.auth.write_approle(token, HUB_ROLE, HUB_ROLE_SETTINGS)
    return f"wrote approle role {HUB_ROLE} at {vault.auth.approle_mount}/"


def hub_credentials(vault: Vault, token: str, issued_by: str = "nexo-secrets") -> HubCredentials:
    """The Hub role's role_id and a fresh secret_id (operator token)."""
    role_id = vault.auth.approle_role_id(token, HUB_ROLE)
    issued = vault.auth.approle_secret_id(token, HUB_ROLE, {"issued_by": issued_by})
    return HubCredentials(
        role_id=role_id,
        secret_id=str(issued["secret_id"]),
        secret_id_accessor=str(issued.get("secret_id_accessor") or ""),
        secret_id_ttl=int(issued.get("secret_id_ttl") or 0),
    )
