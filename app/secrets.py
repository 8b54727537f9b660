"""What the product does with a tenant's secrets: list, create, get, update, delete.

Values go in and never come out here; only `resolve` reads them (app/resolve.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import errors, names
from app.vault import Vault

log = logging.getLogger(__name__)

# A search reads at most this many keys per request (OpenBao: one detailed LIST); when it stops
# short, `next` continues it. One request's cost stays bounded however large the tenant.
SCAN_BUDGET = 10_000
# HashiCorp Vault has no detailed LIST: each key's metadata is one more read, so scan less.
_FALLBACK_SCAN_BUDGET = 500
# Metadata reads in flight at once on the HashiCorp Vault listing fallback.
_FALLBACK_WORKERS = 8


@dataclass(frozen=True)
class Caller:
    """Who is asking: their own Vault token and, lazily, their name for created_by."""

    token: str
    name_of: Callable[[], str]

    @property
    def name(self) -> str:
        return self.name_of()


@dataclass(frozen=True)
class Item:
    """A secret as the product shows it: everything but the value."""

    key: str
    description: str
    version: int
    created_time: str
    updated_time: str
    created_by: str
    updated_by: str


def item_from_metadata(key: str, meta: dict[str, Any]) -> Item:
    custom = meta.get("custom_metadata") or {}
    return Item(
        key=key,
        description=custom.get("description", ""),
        version=int(meta.get("current_version") or 0),
        created_time=str(meta.get("created_time") or ""),
        updated_time=str(meta.get("updated_time") or ""),
        created_by=custom.get("created_by", ""),
        updated_by=custom.get("updated_by", ""),
    )


def _matches(item: Item, q: str | None) -> bool:
    if not q:
        return True
    needle = q.casefold()
    return needle in item.key.casefold() or needle in item.description.casefold()


def _scan(vault: Vault, token: str, tenant: str, after: str | None, count: int) -> tuple[list[Item], bool]:
    """Up to `count` items after `after` in key order, and whether the tenant has more beyond them."""
    detailed = vault.kv.list_detailed(token, tenant, after, count + 1)
    if detailed is not None:
        items = [item_from_metadata(k, m) for k, m in detailed.items()]
        return items[:count], len(items) > count
    keys = vault.kv.list_keys(token, tenant, after, count + 1)
    # HashiCorp Vault: the key beyond the page only says that there is more; its metadata is not read.
    shown = keys[:count]
    readers = vault.readers("nexo-list", _FALLBACK_WORKERS)
    metas = list(readers.map(lambda k: _metadata_or_none(vault, token, tenant, k), shown))
    items = [item_from_metadata(k, m) for k, m in zip(shown, metas, strict=True) if m is not None]
    return items, len(keys) > count


def _metadata_or_none(vault: Vault, token: str, tenant: str, key: str) -> dict[str, Any] | None:
    try:
        return vault.kv.read_metadata(token, tenant, key)
    except errors.NotFound:  # deleted between LIST and read
        return None


def list_secrets(
    vault: Vault, caller: Caller, tenant: str, *, limit: int = 50, after: str | None = None, q: str | None = None
) -> tuple[list[Item], str | None]:
    """A page of a tenant's secrets in key order, optionally filtered by q; and the next cursor.

    A search scans at most SCAN_BUDGET keys: when it stops there, the page may hold fewer than
    `limit` items (even none) and `next` continues the scan."""
    names.tenant(tenant)
    try:
        if not q:
            items, more = _scan(vault, caller.token, tenant, after, limit)
            return items, (items[-1].key if more and items else None)
        budget = SCAN_BUDGET if vault.kv.detailed is not False else _FALLBACK_SCAN_BUDGET
        scanned, more = _scan(vault, caller.token, tenant, after, budget)
    except errors.PermissionDenied:
        raise _no_access(tenant) from None
    found = [item for item in scanned if _matches(item, q)]
    if len(found) > limit:
        return found[:limit], found[limit - 1].key
    return found, (scanned[-1].key if more and scanned else None)


def get(vault: Vault, caller: Caller, tenant: str, key: str) -> Item:
    """One secret without its value."""
    return item_from_metadata(key, _metadata(vault, caller, tenant, key))


def _metadata(vault: Vault, caller: Caller, tenant: str, key: str) -> dict[str, Any]:
    names.tenant(tenant)
    names.key(key)
    try:
        return vault.kv.read_metadata(caller.token, tenant, key)
    except errors.NotFound:
        raise errors.NotFound(f"No secret with key {key!r} in tenant {tenant!r}") from None
    except errors.PermissionDenied:
        raise _no_access(tenant) from None


def create(vault: Vault, caller: Caller, tenant: str, key: str, value: str, description: str = "") -> Item:
    """Create a secret; never overwrites an existing key (Vault check-and-set 0).

    All or nothing as the caller sees it: if the metadata write fails after the value was
    written, the new key is deleted again before the error is answered."""
    names.tenant(tenant)
    names.key(key)
    who = caller.name  # before any write: a Bearer caller's name is one more Vault call
    custom = {"created_by": who, "updated_by": who}
    if description:  # Vault refuses empty custom_metadata values: no description = no entry
        custom["description"] = description
    try:
        vault.kv.write_value(caller.token, tenant, key, value, cas=0)
    except errors.Conflict:
        raise errors.Conflict(
            f"A secret with key {key!r} already exists", errors={"key": ["This key is already in use."]}
        ) from None
    except errors.PermissionDenied:
        raise _no_write(tenant) from None
    try:
        vault.kv.write_metadata(caller.token, tenant, key, custom)
    except errors.ServiceError:
        _undo(lambda: vault.kv.delete_all(caller.token, tenant, key), "create")
        raise
    return _changed(vault, caller, tenant, key)


def update(
    vault: Vault,
    caller: Caller,
    tenant: str,
    key: str,
    *,
    description: str | None = None,
    value: str | None = None,
    version: int | None = None,
) -> Item:
    """Change the description and/or the value; an empty or absent value keeps the current one.

    The metadata is written first, checked against the metadata just read (OpenBao's metadata
    check-and-set, so a concurrent edit is a 409, never silently merged), then the value: a
    refused value write puts the metadata back, so a failed update changes nothing."""
    meta = _metadata(vault, caller, tenant, key)
    current = item_from_metadata(key, meta)
    if version is not None and version != current.version:
        raise errors.Conflict(
            f"The secret is at version {current.version}, not {version}; reload and try again",
            errors={"version": [f"Current version is {current.version}."]},
        )
    if not value and description is None:
        return current
    custom: dict[str, str | None] = {"updated_by": caller.name}
    if description is not None:
        # merge-patch: null removes the entry (Vault refuses an empty value)
        custom["description"] = description or None
    try:
        vault.kv.patch_metadata(caller.token, tenant, key, custom, metadata_cas=meta.get("current_metadata_version"))
        if value:
            try:
                # cas pins the write to the version just read: a concurrent change makes this 409.
                vault.kv.write_value(caller.token, tenant, key, value, cas=current.version)
            except errors.ServiceError:
                before = {k: ((meta.get("custom_metadata") or {}).get(k) or None) for k in custom}
                _undo(lambda: vault.kv.patch_metadata(caller.token, tenant, key, before), "update")
                raise
    except errors.PermissionDenied:
        raise _no_write(tenant) from None
    return _changed(vault, caller, tenant, key)


def _undo(action: Callable[[], None], what: str) -> None:
    """Take back the first half of a failed two-write change; the caller gets the first error."""
    try:
        action()
    except errors.ServiceError as exc:
        log.warning("could not undo a failed %s: %s", what, type(exc).__name__)


def _changed(vault: Vault, caller: Caller, tenant: str, key: str) -> Item:
    """The changed secret as Vault now holds it."""
    return get(vault, caller, tenant, key)


def delete(vault: Vault, caller: Caller, tenant: str, key: str) -> None:
    """Delete a secret: its metadata and every version."""
    get(vault, caller, tenant, key)
    try:
        vault.kv.delete_all(caller.token, tenant, key)
    except errors.PermissionDenied:
        raise _no_write(tenant) from None


def _no_access(tenant: str) -> errors.PermissionDenied:
    return errors.PermissionDenied(f"You have no access to tenant {tenant!r}")


def _no_write(tenant: str) -> errors.PermissionDenied:
    return errors.PermissionDenied(f"You do not have write permission on tenant {tenant!r}")
