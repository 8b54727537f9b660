"""Tenants, permissions and membership, as Vault policies and identity groups.

A tenant T has two policies (nexo-tenant-T-read, nexo-tenant-T-write) rendered from
vault-policies/, and two identity groups (nexo-tenant-T-readers, -writers) that carry them.
A user's permission is their entity's membership of one of the groups. The admin API and the
CLI both come through here, with the caller's (or operator's) own token.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import errors, names
from app.vault import Vault
from app.vault import errors as vault_errors

PERMISSIONS = ("read", "write")
STATIC_POLICIES = ("nexo-admin", "nexo-hub", "nexo-auditor")
_TENANT_POLICY = "nexo-tenant-{tenant}-{permission}"
_TENANT_GROUP = {"read": "nexo-tenant-{tenant}-readers", "write": "nexo-tenant-{tenant}-writers"}


def policy_dir() -> Path:
    """Where the .hcl templates live (the repository's vault-policies/ unless overridden)."""
    override = os.environ.get("NEXO_POLICY_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "vault-policies"


def render(
    template: str,
    vault: Vault,
    tenant: str | None = None,
    userpass_accessor: str | None = None,
    jwt_accessor: str | None = None,
) -> str:
    """Fill a policy template; the tenant is validated first so it cannot widen a path."""
    text = (policy_dir() / f"{template}.hcl").read_text()
    if "{{jwt_accessor}}" in text:
        if not jwt_accessor:
            raise ValueError(f"{template}.hcl needs the jwt mount's accessor")
        text = text.replace("{{jwt_accessor}}", jwt_accessor)
    text = text.replace("{{mount}}", vault.kv.mount).replace("{{prefix}}", "/".join(vault.kv.prefix))
    text = text.replace("{{references}}", "/".join(vault.refs.prefix))
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


@dataclass(frozen=True)
class Provisioned:
    """What `tenant create` did: whether the tenant is new, and how many members it removed from
    groups that someone made before the tenant existed (an admin may make such groups)."""

    new: bool
    removed: int = 0


def provision(vault: Vault, token: str, tenant: str) -> Provisioned:
    """Write the tenant's policies and groups (idempotent, operator token).

    A tenant is new while its policies do not exist (only the operator writes them). Groups of
    a new tenant that exist already were made by someone else, so their members are not kept:
    the tenant starts with no members, and the answer counts those removed.
    Writing a policy is the operator's power alone (no admin may grant one), so Vault refuses
    any other token; the refusal says so instead of a bare "Permission denied".
    """
    removed = 0
    try:
        new = policy_name(tenant, "read") not in vault.identity.list_policies(token)
        for permission in PERMISSIONS:
            policy, group = policy_name(tenant, permission), group_name(tenant, permission)
            vault.identity.put_policy(token, policy, render(f"tenant-{permission}", vault, tenant))
            found = vault.identity.read_group(token, group) or {}
            ids = found.get("member_entity_ids") or []
            if new and ids:
                removed += len(ids)
                found, ids = {}, []  # made in advance: neither its members nor its metadata are kept
            # Re-running it names the members of groups made before names were kept (see _names).
            known = _resolve_names(vault, token, ids, _names(found))
            vault.identity.write_group(token, group, [policy], ids, _metadata(found, ids, known))
    except vault_errors.Denied:
        raise errors.PermissionDenied(OPERATOR_ONLY) from None
    return Provisioned(new, removed)


OPERATOR_ONLY = (
    "Creating a tenant writes Vault policies: only the operator's token may do that "
    "(nexo-secrets tenant create); an admin manages the members of existing tenants"
)


# -- members' names, kept in their group ---------------------------------------------------
#
# A tenant's readers and writers may see who else has access (and so whom to ask), but reading
# an entity would show them every group it is in, other tenants' included. So each tenant group
# carries its own members' user names in its metadata ("<entity id>=<user>,..." under keys
# nexo-members-N), written together with member_entity_ids by whoever changes the membership.
# The tenant policies read exactly their own two groups; member_entity_ids stays the truth, and a
# name counts only while its entity id is a member. Vault allows 64 metadata keys of at most 512
# bytes: at least 5 names a key; names that do not fit are left out (counted as unnamed).

_NAMES_KEY = "nexo-members-"
_NAMES_VALUE_MAX = 512
_METADATA_KEYS_MAX = 64


def _names(group: dict[str, Any]) -> dict[str, str]:
    """{entity id: user name} from a group's metadata."""
    found: dict[str, str] = {}
    for key, value in (group.get("metadata") or {}).items():
        if not str(key).startswith(_NAMES_KEY):
            continue
        for pair in str(value).split(","):
            entity_id, _, user = pair.partition("=")
            if entity_id and names.is_user(user):
                found[entity_id] = user
    return found


def _metadata(group: dict[str, Any], entity_ids: Iterable[str], known: dict[str, str]) -> dict[str, str]:
    """The group's metadata with the names of `entity_ids` packed in (other keys kept)."""
    metadata = {k: str(v) for k, v in (group.get("metadata") or {}).items() if not str(k).startswith(_NAMES_KEY)}
    pairs = sorted(f"{i}={known[i]}" for i in set(entity_ids) if i in known)
    chunk = ""
    index = 0
    for pair in pairs:
        if chunk and len(chunk) + 1 + len(pair) > _NAMES_VALUE_MAX:
            if len(metadata) >= _METADATA_KEYS_MAX:
                return metadata
            metadata[f"{_NAMES_KEY}{index}"] = chunk
            index, chunk = index + 1, ""
        chunk = f"{chunk},{pair}" if chunk else pair
    if chunk and len(metadata) < _METADATA_KEYS_MAX:
        metadata[f"{_NAMES_KEY}{index}"] = chunk
    return metadata


def _user_of(vault: Vault, token: str, entity_id: str, accessor: str) -> str | None:
    """The userpass name of an entity (its alias on the userpass mount), None if none."""
    entity = vault.identity.read_entity_by_id(token, entity_id)
    if not entity:
        return None
    aliases = [a for a in entity.get("aliases") or [] if a.get("mount_accessor") == accessor]
    return str(aliases[0]["name"]) if aliases else None


def _resolve_names(vault: Vault, token: str, entity_ids: Iterable[str], known: dict[str, str]) -> dict[str, str]:
    """`known` plus the names of the entities it lacks, read with a token that may read entities."""
    missing = [i for i in entity_ids if i not in known]
    if not missing:
        return known
    accessor = vault.sys.auth_accessor(token, vault.auth.userpass_mount)
    found = dict(known)
    for entity_id in missing:
        user = _user_of(vault, token, entity_id, accessor)
        if user:
            found[entity_id] = user
    return found


def _set_members(
    vault: Vault,
    token: str,
    tenant: str,
    permission: str,
    group: dict[str, Any],
    entity_ids: set[str],
    known: dict[str, str],
) -> None:
    """Replace a tenant group's members and their names. Only member_entity_ids and metadata are
    sent: the admin policy allows no other field, and Vault keeps the group's policies."""
    known = _resolve_names(vault, token, entity_ids, known)
    vault.identity.set_group_members(
        token, group_name(tenant, permission), entity_ids, _metadata(group, entity_ids, known)
    )


def _groups(vault: Vault, token: str, tenant: str) -> dict[str, dict[str, Any]]:
    groups = {}
    for permission in PERMISSIONS:
        group = vault.identity.read_group(token, group_name(tenant, permission))
        if group is None:
            raise errors.NotFound(f"Tenant {tenant!r} is not provisioned")
        groups[permission] = group
    return groups


def entity_of(vault: Vault, token: str, user: str, *, create: bool) -> str | None:
    """The Vault entity id of a userpass user; created with its alias if asked and absent."""
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
    return vault.auth.user_exists(token, user)


def grant(vault: Vault, token: str, tenant: str, user: str, permission: str) -> Member:
    """Give a user read or write permission on a tenant (replacing any other)."""
    if permission not in PERMISSIONS:
        raise errors.Unprocessable(errors={"permission": ["Must be one of: read, write."]})
    groups = _groups(vault, token, tenant)
    entity_id = entity_of(vault, token, user, create=True)
    assert entity_id
    known = {**_names(groups["read"]), **_names(groups["write"]), entity_id: user}
    for each in PERMISSIONS:
        members = set(groups[each].get("member_entity_ids") or [])
        wanted = members | {entity_id} if each == permission else members - {entity_id}
        if wanted != members:
            _set_members(vault, token, tenant, each, groups[each], wanted, known)
    return Member(user=user, permission=permission)


def revoke(vault: Vault, token: str, tenant: str, user: str) -> bool:
    """Take away a user's permission on a tenant; False if they had none."""
    groups = _groups(vault, token, tenant)
    entity_id = entity_of(vault, token, user, create=False)
    known = {**_names(groups["read"]), **_names(groups["write"])}
    changed = False
    for each in PERMISSIONS:
        members = set(groups[each].get("member_entity_ids") or [])
        if entity_id and entity_id in members:
            _set_members(vault, token, tenant, each, groups[each], members - {entity_id}, known)
            changed = True
    return changed


@dataclass(frozen=True)
class Roster:
    """A tenant's members by name, and how many member entities have no name kept."""

    members: list[Member]
    unnamed: int


def roster(vault: Vault, token: str, tenant: str) -> Roster:
    """Who holds read or write permission on a tenant, for an admin or for the tenant's members.

    Members are the groups' member entities (Vault's truth); each is named by what Vault itself
    ties to the entity, its userpass alias, never by the names kept in the groups' metadata,
    which an admin can write (she could hide her own access under another name). Entities with
    no userpass alias (a Hub run's) are counted as unnamed."""
    groups = _groups(vault, token, tenant)
    try:
        known = vault.identity.alias_names(token, f"auth/{vault.auth.userpass_mount}/")
    except vault_errors.Denied:  # a tenant policy written before this rule: provision it again
        known = {}
    found: dict[str, str] = {}
    unnamed: set[str] = set()
    for permission in PERMISSIONS:
        for entity_id in groups[permission].get("member_entity_ids") or []:
            user = known.get(str(entity_id))
            if user is None:
                unnamed.add(str(entity_id))
            elif found.get(user) != "write":
                found[user] = permission
    return Roster([Member(user=u, permission=p) for u, p in sorted(found.items())], len(unnamed))


@dataclass(frozen=True)
class Account:
    """A userpass account as the admin's Accounts list shows it."""

    user: str
    disabled: bool
    tenants: dict[str, str]  # {tenant: "read" | "write"}


def accounts(vault: Vault, token: str, *, limit: int, after: str | None = None) -> tuple[list[Account], str | None]:
    """The userpass accounts in name order, a page at a time, each with whether it is disabled
    and the tenants it belongs to (an admin's token: Vault refuses the listing to anyone else)."""
    users = sorted(u for u in vault.auth.list_users(token) if names.is_user(u) and (after is None or u > after))
    page = users[:limit]
    next_user = page[-1] if len(users) > limit else None
    if not page:
        return [], None
    accessor = vault.sys.auth_accessor(token, vault.auth.userpass_mount)
    held: dict[str, dict[str, str]] = {}  # entity id -> {tenant: permission}
    for name in vault.identity.list_groups(token):
        for permission in PERMISSIONS:
            suffix = group_name("", permission).removeprefix(_GROUP_PREFIX)  # "-readers", "-writers"
            tenant = name.removeprefix(_GROUP_PREFIX).removesuffix(suffix)
            if name == group_name(tenant, permission) and names.is_tenant(tenant):
                for entity_id in (vault.identity.read_group(token, name) or {}).get("member_entity_ids") or []:
                    mine = held.setdefault(str(entity_id), {})
                    if mine.get(tenant) != "write":
                        mine[tenant] = permission
    found = []
    for user in page:
        # An account that never signed in nor was granted has no entity yet: enabled, no tenant.
        entity_id = vault.identity.lookup_entity_by_alias(token, user, accessor)
        entity = vault.identity.read_entity_by_id(token, entity_id) if entity_id else None
        tenants = dict(sorted(held.get(entity_id or "", {}).items()))
        found.append(Account(user, bool(entity and entity.get("disabled")), tenants))
    return found, next_user


# -- tenants and accounts -----------------------------------------------------------------

_GROUP_PREFIX, _READERS_SUFFIX = "nexo-tenant-", "-readers"


def is_admin(policies: Iterable[str]) -> bool:
    """Whether a token's policies make it an admin (the operator's root token counts)."""
    held = set(policies)
    return "nexo-admin" in held or "root" in held


@dataclass(frozen=True)
class TenantView:
    name: str
    permission: str | None  # the caller's own: read, write, or None (an admin who is no member)


def tenants(
    vault: Vault, token: str, policies: Iterable[str], *, limit: int, after: str | None = None
) -> tuple[list[TenantView], str | None]:
    """The tenants a caller may see, in name order, a page at a time: an admin all of them (the
    tenant groups the operator made), anyone else those their token's policies give them."""
    held = list(policies)
    own = tenants_of(held)
    if is_admin(held):
        groups = set(vault.identity.list_groups(token))
        everything = {
            name[len(_GROUP_PREFIX) : -len(_READERS_SUFFIX)]
            for name in groups
            if name.startswith(_GROUP_PREFIX) and name.endswith(_READERS_SUFFIX)
        }
        # Both groups, as provisioning makes them (a stray group of one name is no tenant).
        visible = sorted(t for t in everything if names.is_tenant(t) and group_name(t, "write") in groups)
    else:
        visible = sorted(own)
    rest = [t for t in visible if after is None or t > after]
    page = rest[:limit]
    next_name = page[-1] if len(rest) > limit else None
    return [TenantView(t, own.get(t)) for t in page], next_name


def create_user(vault: Vault, token: str, user: str) -> str:
    """Create a userpass account with a generated first password, and answer that password.

    Without policies: an admin's token may create accounts but give them none. The caller
    hands the password over once; nothing here keeps or logs it."""
    if user_exists(vault, token, user):
        raise errors.Conflict(f"An account named {user!r} exists already", errors={"username": ["Already in use."]})
    password = secrets.token_urlsafe(18)
    # The mark first: an account is never there without it (the user must choose their own).
    vault.kv.mark_first_password(token, user)
    vault.auth.write_user(token, user, password)
    return password


# Sign-in quota (OpenBao rate-limit quota on the userpass login path, app/auth.py): per failure
# budget (an account's untrusted devices, or one device cookie) SIGN_IN_RATE attempts per
# SIGN_IN_INTERVAL seconds, then that budget is refused for SIGN_IN_BLOCK seconds.
SIGN_IN_QUOTA = "nexo-sign-in"
SIGN_IN_RATE = 10
SIGN_IN_INTERVAL = 900
SIGN_IN_BLOCK = 900
_SELF_BEGIN, _SELF_END = "# -- nexo-self begin (written by nexo-secrets bootstrap)", "# -- nexo-self end"


def _with_self(default: str, self_policy: str) -> str:
    """Vault's default policy with nexo-self.hcl in it (replacing an earlier copy)."""
    before, _, rest = default.partition(_SELF_BEGIN)
    _, _, after = rest.partition(_SELF_END)
    kept = (before.rstrip() + "\n" + after.strip()).strip() if rest else default.strip()
    return f"{kept}\n\n{_SELF_BEGIN}\n{self_policy.strip()}\n{_SELF_END}\n"


def bootstrap(vault: Vault, token: str, *, session_hours: float = 8, sign_in_quota: bool = False) -> list[str]:
    """Enable userpass and approle, ensure the KV v2 mount, write the static policies.

    Userpass tokens live as long as a session, and OpenBao's user lockout is off (anyone who knows
    a name could lock it). With `sign_in_quota` the quota that bounds guessing is written: it needs
    the listener to take X-Forwarded-For from the service (README, "Signing in")."""
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
    self_policy = render("nexo-self", vault, userpass_accessor=accessor)
    vault.identity.put_policy(token, "default", _with_self(vault.identity.read_policy(token, "default"), self_policy))
    done.append("added nexo-self to policy default")
    vault.auth.tune_userpass(token, session_hours)
    done.append(f"tuned auth {vault.auth.userpass_mount}/: token ttl {session_hours:g}h, user lockout off")
    if sign_in_quota:
        quota_path = f"auth/{vault.auth.userpass_mount}/login/*"
        vault.sys.write_rate_limit(token, SIGN_IN_QUOTA, quota_path, SIGN_IN_RATE, SIGN_IN_INTERVAL, SIGN_IN_BLOCK)
        done.append(f"wrote rate-limit quota {SIGN_IN_QUOTA} on {quota_path}")
    # The service sends its request id with every Vault call: the audit log keeps it in clear.
    vault.sys.audit_request_header(token, "X-Request-Id")
    done.append("audit devices log X-Request-Id")
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
