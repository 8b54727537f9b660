"""What the product does with a tenant's secrets: list, create, get, update, delete; and their
lifecycle: recently deleted, restore, delete permanently, purge, history.

Values go in and never come out here; only `resolve` reads them (app/resolve.py).
A secret is deleted when its current version is (Vault's own answer: a delete made with the
Vault CLI shows the same way); its metadata and older versions stay until it is purged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app import errors, names, references, shape, usage
from app.vault import Vault
from app.vault import errors as vault_errors
from app.vault.kv import Metadata

log = logging.getLogger(__name__)

# A listing reads at most this many keys per request to fill its page (OpenBao: detailed LISTs
# of growing size); when it stops short, `next` continues it. One request's cost stays bounded
# however large the tenant and however sparse the matches.
SCAN_BUDGET = 10_000
# HashiCorp Vault has no detailed LIST: each key's metadata is one more read, so scan less.
_FALLBACK_SCAN_BUDGET = 500
# Each further LIST of a page's scan reads this many times the keys of the one before: a page
# that fills early reads little, a sparse search reaches its budget in a few calls.
_SCAN_GROWTH = 4
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
    # When the Hub last resolved it (to the hour) and when it expires; None: never / no expiry.
    last_used_time: str | None = None
    expires_at: str | None = None
    # Deleted secrets only (None on live ones): when and by whom, and when it will be purged.
    deleted_time: str | None = None
    deleted_by: str | None = None
    purge_time: str | None = None
    # How many Actions and Event Types name the key (app/references.py); None: not counted.
    references: int | None = None
    # The export's: the Actions and Event Types that name the key ({kind, id, name}); None: not read.
    referrers: list[dict[str, str]] | None = None
    # True when its data is not the one shape {"value": "<string>"} (written around the service).
    malformed: bool = False


@dataclass(frozen=True)
class Version:
    """One version of a secret as its history shows it: never its value."""

    version: int
    created_time: str
    created_by: str
    deleted: bool
    deletion_time: str
    destroyed: bool
    # The current live version only: True when its data is not the one shape.
    malformed: bool | None = None


# A restore's claim (restored_by) blocks other restores this long, unless the undelete is done;
# after it, a claim left by a restore that failed halfway no longer does.
_RESTORE_CLAIM = timedelta(seconds=30)
# custom_metadata entry of a re-create's claim, cleared when it is done.
_RECREATED_BY = "recreated_by"
# custom_metadata entry with the time of the last change made through the service: Vault's own
# metadata updated_time also moved when the Hub's use was recorded there (before last use moved
# beside the references), which is no change.
_UPDATED = "updated_time"


class _Keep:
    """The absence of a field in a PATCH (None there means: clear it)."""


KEEP: Any = _Keep()


def item_from_metadata(meta: Metadata, recovery_days: int | None = None) -> Item:
    """The product's view of a key's metadata; with recovery_days, a deleted key's purge time."""
    custom = meta.custom
    item = Item(
        key=meta.key,
        description=custom.get("description", ""),
        version=meta.current.version,
        created_time=meta.created_time,
        updated_time=_updated_time(meta),
        created_by=custom.get("created_by", ""),
        updated_by=custom.get("updated_by", ""),
        last_used_time=custom.get(usage.LAST_USED) or None,
        expires_at=custom.get(usage.EXPIRES_AT) or None,
    )
    deleted = meta.current.deleted_time
    if deleted is None:
        return item
    when = usage.parse_time(deleted)
    purge = usage.format_time(when + timedelta(days=recovery_days)) if when and recovery_days is not None else ""
    return replace(item, deleted_time=deleted, deleted_by=custom.get("deleted_by", ""), purge_time=purge)


def _updated_time(meta: Metadata) -> str:
    """When the secret last changed: the service's own record of it or the current version's
    time, whichever is later (a value written with the Vault CLI counts); Vault's metadata
    updated_time only while no use was ever recorded (that write moves it too)."""
    custom = meta.custom
    version_time = meta.current.created_time
    recorded = str(custom.get(_UPDATED) or "")
    if not recorded and not custom.get(usage.LAST_USED):
        return meta.updated_time
    times = [t for t in (recorded, version_time) if usage.parse_time(t) is not None]
    return max(times, key=lambda t: usage.parse_time(t) or datetime.min.replace(tzinfo=UTC), default=version_time)


def _now() -> str:
    return usage.format_time(datetime.now(UTC))


def _matches(item: Item, q: str | None) -> bool:
    if not q:
        return True
    needle = q.casefold()
    return needle in item.key.casefold() or needle in item.description.casefold()


def _scan(
    vault: Vault, token: str, tenant: str, after: str | None, count: int
) -> tuple[list[Metadata], str | None, bool]:
    """Up to `count` keys after `after` in key order with their metadata, the last key listed
    (the cursor past them) and whether the tenant has more beyond them."""
    detailed = vault.kv.list_detailed(token, tenant, after, count + 1)
    if detailed is not None:
        shown = detailed[:count]
        return shown, (shown[-1].key if shown else None), len(detailed) > count
    keys = vault.kv.list_keys(token, tenant, after, count + 1)
    # HashiCorp Vault: the key beyond the page only says that there is more; its metadata is not read.
    listed = keys[:count]
    readers = vault.readers("nexo-list", _FALLBACK_WORKERS)
    metas = readers.map(lambda k: _metadata_or_none(vault, token, tenant, k), listed)
    return [m for m in metas if m is not None], (listed[-1] if listed else None), len(keys) > count


def _metadata_or_none(vault: Vault, token: str, tenant: str, key: str) -> Metadata | None:
    try:
        return vault.kv.read_metadata(token, tenant, key)
    except vault_errors.NotFound:  # deleted between LIST and read
        return None


def _scan_budget(vault: Vault) -> int:
    return SCAN_BUDGET if vault.kv.detailed is not False else _FALLBACK_SCAN_BUDGET


def _fill(
    vault: Vault,
    token: str,
    tenant: str,
    after: str | None,
    limit: int,
    keep: Callable[[Metadata], Item | None],
) -> tuple[list[Item], str | None]:
    """A page: up to `limit` items that `keep` makes of the keys after `after` (None: left
    out), reading at most the scan budget of keys; and the cursor to continue (None: no more).

    The first LIST reads `limit` keys (a plain page is one call); each further one reads
    _SCAN_GROWTH times more, until the page is full, the tenant ends or the budget is spent.
    A scan stopped by the budget answers what it found and the last key it read."""
    found: list[Item] = []
    cursor, read, count = after, 0, limit
    while True:
        count = min(count, _scan_budget(vault) - read)
        scanned, last, more = _scan(vault, token, tenant, cursor, count)
        for meta in scanned:
            item = keep(meta)
            if item is None:
                continue
            if len(found) == limit:
                return found, found[-1].key  # one more item exists: it starts the next page
            found.append(item)
        read += count
        if not more or last is None:
            return found, None
        cursor = last
        if len(found) == limit or read >= _scan_budget(vault):
            return found, cursor
        count *= _SCAN_GROWTH


def list_secrets(
    vault: Vault,
    caller: Caller,
    tenant: str,
    *,
    limit: int = 50,
    after: str | None = None,
    q: str | None = None,
    deleted: bool = False,
    recovery_days: int = 30,
    expiring_within_days: int | None = None,
    unused_days: int | None = None,
) -> tuple[list[Item], str | None]:
    """A page of a tenant's live (or, with `deleted`, deleted) secrets in key order, optionally
    filtered by q; and the next cursor.

    The server fills the page: up to `limit` items, and `next` whenever more may exist. One
    request reads at most SCAN_BUDGET keys: a sparse search or deleted listing that stops
    there answers the items found (even none) and a `next` that continues the scan. Opening
    the deleted listing also purges what is past the recovery window, when the caller may (a
    writer's own token; a reader's is refused). With expiring_within_days, only secrets
    expiring within that many days or expired. With unused_days, only keys that no referrer
    names and the Hub has not resolved for that many days (never resolved counts)."""
    named = references.named(vault, caller.token, tenant, after) if unused_days is not None else None
    used = usage.walker(vault, caller.token, tenant, after) if unused_days is not None else None
    used_since = datetime.now(UTC) - timedelta(days=unused_days or 0)

    def keep(meta: Metadata) -> Item | None:
        if meta.current.deleted != deleted:
            return None
        item = item_from_metadata(meta, recovery_days)
        if used is not None:  # the Unused filter reads every scanned key's last use as it goes
            item = replace(item, last_used_time=usage.newest(item.last_used_time, used(item.key)))
        if not _matches(item, q):
            return None
        if expiring_within_days is not None and not usage.expiring_within(
            {usage.EXPIRES_AT: item.expires_at}, expiring_within_days
        ):
            return None
        if named is not None and (_used_since(item, used_since) or named(item.key)):
            return None
        if deleted and _past_window(item) and _purge_quietly(vault, caller.token, tenant, item.key):
            return None
        return _marked(vault, caller.token, tenant, meta, item)

    try:
        items, next_key = _fill(vault, caller.token, tenant, after, limit, keep)
    except vault_errors.Denied:
        raise _no_access(tenant) from None
    return (items if used is not None else _with_last_use(vault, caller.token, tenant, items)), next_key


def _with_last_use(vault: Vault, token: str, tenant: str, items: list[Item]) -> list[Item]:
    """Items with the Hub's last use of each (app/usage.py: one LIST for a page)."""
    found = usage.last_used(vault, token, tenant, [item.key for item in items])
    if not found:
        return items
    return [replace(item, last_used_time=usage.newest(item.last_used_time, found.get(item.key))) for item in items]


def _used_since(item: Item, since: datetime) -> bool:
    used = usage.parse_time(item.last_used_time or "")
    return used is not None and used >= since


def _marked(vault: Vault, token: str, tenant: str, meta: Metadata, item: Item, *, check: bool = False) -> Item:
    """The item with `malformed` set when its data is not the one shape (app/shape.py); with
    `check`, whoever wrote the current version (one item, its history)."""
    return replace(item, malformed=True) if shape.malformed(vault, token, tenant, meta, every=check) else item


def _past_window(item: Item) -> bool:
    purge = usage.parse_time(item.purge_time or "")
    return purge is not None and purge <= datetime.now(UTC)


def _purge_quietly(vault: Vault, token: str, tenant: str, key: str) -> bool:
    """Purge a deleted key past its window with the caller's token; False if they may not."""
    try:
        _gone(vault, token, tenant, key)
    except (vault_errors.Denied, vault_errors.NotFound):
        return False
    return True


def _gone(vault: Vault, token: str, tenant: str, key: str) -> None:
    """Delete a key for good: its metadata and every version, then its last use (a key made
    again under that name starts unused)."""
    vault.kv.delete_all(token, tenant, key)
    usage.forget(vault, token, tenant, key)


def get(vault: Vault, caller: Caller, tenant: str, key: str) -> Item:
    """One live secret without its value (a deleted one is 404: see `restore`)."""
    meta = _live_metadata(vault, caller, tenant, key)
    item = _marked(vault, caller.token, tenant, meta, item_from_metadata(meta), check=True)
    return _with_last_use(vault, caller.token, tenant, [item])[0]


def _live_metadata(vault: Vault, caller: Caller, tenant: str, key: str) -> Metadata:
    """A key's metadata; NotFound when it does not exist or is deleted."""
    meta = _metadata(vault, caller, tenant, key)
    if meta.current.deleted:
        raise _not_found(tenant, key)
    return meta


def _metadata(vault: Vault, caller: Caller, tenant: str, key: str) -> Metadata:
    try:
        return vault.kv.read_metadata(caller.token, tenant, key)
    except vault_errors.NotFound:
        raise _not_found(tenant, key) from None
    except vault_errors.Denied:
        raise _no_access(tenant) from None


def _record_version(vault: Vault, caller: Caller, tenant: str, key: str, meta: Metadata, written: int) -> None:
    """Who wrote the new version (and older entries pruned), known once Vault has numbered it. The
    value is written by then: a failure here loses only the history's author, so it is logged."""
    try:
        vault.kv.patch_metadata(caller.token, tenant, key, _version_entries(vault, meta, written, caller.name))
    except vault_errors.VaultError as error:
        log.warning("author of version %s not recorded (tenant %s): %s", written, tenant, type(error).__name__)


def _not_found(tenant: str, key: str) -> errors.NotFound:
    return errors.NotFound(f"No secret with key {key!r} in tenant {tenant!r}")


def create(
    vault: Vault,
    caller: Caller,
    tenant: str,
    key: str,
    value: str,
    description: str = "",
    *,
    expires_at: str | None = None,
) -> Item:
    """Create a secret; never overwrites an existing key (Vault check-and-set 0).

    All or nothing as the caller sees it: if the metadata write fails after the value was
    written, the new key is deleted again before the error is answered."""
    who = caller.name  # before any write: a Bearer caller's name is one more Vault call
    custom = {"created_by": who, "updated_by": who}
    if description:  # Vault refuses empty custom_metadata values: no description = no entry
        custom["description"] = description
    try:
        version = vault.kv.write_value(caller.token, tenant, key, value, cas=0)
    except vault_errors.Conflict:
        if not _recreate(vault, caller, tenant, key, value, description, expires_at):
            raise _exists(key) from None
        return _changed(vault, caller, tenant, key)
    except vault_errors.Denied:
        raise _no_write(tenant) from None
    custom[shape.version_by(version)] = who
    custom[_UPDATED] = _now()
    if expires_at:
        custom[usage.EXPIRES_AT] = expires_at
    try:
        vault.kv.write_metadata(caller.token, tenant, key, custom)
    except vault_errors.VaultError:
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
    expires_at: str | None = KEEP,
) -> Item:
    """Change the description, the expiry and/or the value; an empty or absent value keeps the
    current one; expires_at=None clears the expiry, KEEP leaves it.

    The metadata is written first, checked against the metadata just read (OpenBao's metadata
    check-and-set, so a concurrent edit is a 409, never silently merged), then the value: a
    refused value write puts the metadata back, so a failed update changes nothing."""
    meta = _live_metadata(vault, caller, tenant, key)
    current = item_from_metadata(meta)
    if version is not None and version != current.version:
        raise errors.Conflict(
            f"The secret is at version {current.version}, not {version}; reload and try again",
            errors={"version": [f"Current version is {current.version}."]},
        )
    if not value and description is None and expires_at is KEEP:
        return current
    custom: dict[str, str | None] = {"updated_by": caller.name, _UPDATED: _now()}
    if description is not None:
        # merge-patch: null removes the entry (Vault refuses an empty value)
        custom["description"] = description or None
    if expires_at is not KEEP:
        custom[usage.EXPIRES_AT] = expires_at or None
    try:
        vault.kv.patch_metadata(caller.token, tenant, key, custom, metadata_cas=meta.metadata_version)
        if value:
            try:
                # cas pins the write to the version just read: a concurrent change makes this 409.
                written = vault.kv.write_value(caller.token, tenant, key, value, cas=current.version)
            except vault_errors.VaultError:
                before = {k: (meta.custom.get(k) or None) for k in custom}
                _undo(lambda: vault.kv.patch_metadata(caller.token, tenant, key, before), "update")
                raise
            _record_version(vault, caller, tenant, key, meta, written)
    except vault_errors.Denied:
        raise _no_write(tenant) from None
    return _changed(vault, caller, tenant, key)


def _undo(action: Callable[[], None], what: str) -> None:
    """Take back the first half of a failed two-write change; the caller gets the first error."""
    try:
        action()
    except vault_errors.VaultError as exc:
        log.warning("could not undo a failed %s: %s", what, type(exc).__name__)


def _changed(vault: Vault, caller: Caller, tenant: str, key: str) -> Item:
    """The changed secret as Vault now holds it."""
    return get(vault, caller, tenant, key)


def _exists(key: str) -> errors.Conflict:
    return errors.Conflict(f"A secret with key {key!r} already exists", errors={"key": ["This key is already in use."]})


def _recreate(
    vault: Vault, caller: Caller, tenant: str, key: str, value: str, description: str, expires_at: str | None
) -> bool:
    """Create a key that exists only as a deleted secret: a new version on top, so its history
    stays. False when the key is live (a true 'already exists')."""
    meta = _metadata(vault, caller, tenant, key)
    if not meta.current.deleted:
        return False
    who = caller.name
    # A restore of the same key races this: the data write's cas cannot tell (an undelete leaves
    # the current version number as it is), so both first claim the key in its metadata with a
    # check-and-set against what they read (as restores do among themselves): exactly one wins.
    _claim(vault, caller, tenant, key, meta, {_RECREATED_BY: who})
    try:
        # Pinned to the deleted version just read: a concurrent re-create or restore makes this 409.
        written = vault.kv.write_value(caller.token, tenant, key, value, cas=meta.current.version)
    except vault_errors.VaultError as error:
        _undo(lambda: vault.kv.patch_metadata(caller.token, tenant, key, {_RECREATED_BY: None}), "re-create")
        if isinstance(error, vault_errors.Conflict):
            raise _exists(key) from None
        if isinstance(error, vault_errors.Denied):
            raise _no_write(tenant) from None
        raise
    custom: dict[str, str | None] = {
        "created_by": who,
        "updated_by": who,
        "description": description or None,
        usage.EXPIRES_AT: expires_at or None,
        # A new secret: nothing of the deleted one's use (its versions stay in the history); a
        # use recorded before last use moved out of the metadata is cleared here, a newer one below.
        usage.LAST_USED: None,
        _UPDATED: _now(),
        "deleted_by": None,
        "restored_by": None,
        _RECREATED_BY: None,
        **_version_entries(vault, meta, written, who),
    }
    vault.kv.patch_metadata(caller.token, tenant, key, custom, max_versions=True)
    usage.forget(vault, caller.token, tenant, key)
    return True


def _claim(vault: Vault, caller: Caller, tenant: str, key: str, meta: Metadata, entries: dict[str, str | None]) -> None:
    """Claim a deleted key for a restore or a re-create: 409 when another claim is in progress
    or the metadata changed since it was read (OpenBao's metadata check-and-set)."""
    changed = usage.parse_time(meta.updated_time)
    fresh = changed is not None and datetime.now(UTC) - changed < _RESTORE_CLAIM
    for entry, doing in ((_RECREATED_BY, "re-creating"), ("restored_by", "restoring")):
        claimed = meta.custom.get(entry)
        if claimed and fresh:
            raise errors.Conflict(f"{claimed} is {doing} the secret {key!r} right now; reload in a moment")
    try:
        vault.kv.patch_metadata(caller.token, tenant, key, entries, metadata_cas=meta.metadata_version)
    except vault_errors.Conflict:
        raise errors.Conflict(
            f"The secret {key!r} was changed by someone else meanwhile (restored, re-created or deleted "
            "again); nothing was changed. Reload and check."
        ) from None
    except vault_errors.Denied:
        raise _no_write(tenant) from None


def _version_entries(vault: Vault, meta: Metadata, written: int, who: str) -> dict[str, str | None]:
    """custom_metadata changes for a new version: who wrote it, and the entries of versions that
    Vault no longer keeps removed (custom_metadata holds at most 64 entries)."""
    keep = max(meta.max_versions, vault.kv.max_versions)
    entries: dict[str, str | None] = {shape.version_by(written): who}
    for name in meta.custom:
        match = shape.VERSION_BY.match(name)
        if match and int(match.group(1)) <= written - keep:
            entries[name] = None
    return entries


def delete(vault: Vault, caller: Caller, tenant: str, key: str, *, recovery_days: int = 30) -> None:
    """Delete a secret: its current version, restorable for `recovery_days` (0: every version
    and the metadata at once). Its metadata records who deleted it."""
    meta = _live_metadata(vault, caller, tenant, key)
    if recovery_days == 0:
        return delete_permanently(vault, caller, tenant, key)
    version = meta.current.version
    try:
        if version == 0:  # metadata without any version (made with the Vault CLI): nothing to restore
            _gone(vault, caller.token, tenant, key)
            return None
        # Pinned to the version just read: a version written meanwhile stays live.
        vault.kv.delete_versions(caller.token, tenant, key, [version])
        cleared = {"deleted_by": caller.name, "restored_by": None, _RECREATED_BY: None}
        vault.kv.patch_metadata(caller.token, tenant, key, cleared)
    except vault_errors.Denied:
        raise _no_write(tenant) from None
    return None


def delete_permanently(vault: Vault, caller: Caller, tenant: str, key: str) -> None:
    """Delete a live or deleted secret for good: its metadata and every version."""
    _metadata(vault, caller, tenant, key)
    try:
        _gone(vault, caller.token, tenant, key)
    except vault_errors.Denied:
        raise _no_write(tenant) from None


def restore(vault: Vault, caller: Caller, tenant: str, key: str) -> Item:
    """Undelete a deleted secret's current version: the same value is live again, unread.

    409 when it is not deleted (restored or re-created meanwhile) or its data was destroyed.
    Of two concurrent restores, or a restore and a re-create, one wins: each first claims the key
    in the metadata (`restored_by` or `recreated_by`) with a check-and-set against the metadata it
    read, so a second one that read the same metadata fails its check, and one that reads the
    claim before the first is done sees it (409 either way)."""
    meta = _metadata(vault, caller, tenant, key)
    if not meta.current.deleted:
        raise errors.Conflict(_why_not_deleted(key, meta))
    if meta.current.destroyed:
        raise errors.Conflict(f"The secret {key!r} was destroyed in Vault; it cannot be restored")
    version = meta.current.version
    _claim(vault, caller, tenant, key, meta, {"deleted_by": None, "restored_by": caller.name})
    try:
        vault.kv.undelete_versions(caller.token, tenant, key, [version])
    except vault_errors.Denied:
        raise _no_write(tenant) from None
    return get(vault, caller, tenant, key)


def _why_not_deleted(key: str, meta: Metadata) -> str:
    if any(v.deleted for n, v in meta.versions.items() if n != meta.current.version):
        return (
            f"A new secret with key {key!r} was created after it was deleted; nothing was restored. "
            "Its earlier versions are in its history."
        )
    return f"The secret {key!r} is not deleted (someone may have restored it already); nothing was changed"


def versions(vault: Vault, caller: Caller, tenant: str, key: str) -> tuple[list[Version], int]:
    """A live or deleted secret's versions, newest first, and how many Vault keeps."""
    meta = _metadata(vault, caller, tenant, key)
    found = [
        Version(
            version=v.number,
            created_time=v.created_time,
            created_by=meta.custom.get(shape.version_by(v.number), ""),
            deleted=v.deleted,
            deletion_time=v.deletion_time,
            destroyed=v.destroyed,
        )
        for v in meta.versions.values()
    ]
    found.sort(key=lambda v: v.version, reverse=True)
    marked = _marked(vault, caller.token, tenant, meta, item_from_metadata(meta), check=True).malformed
    if marked is not None:
        found = [replace(v, malformed=marked) if v.version == meta.current.version else v for v in found]
    return found, meta.max_versions


def purge(
    vault: Vault, token: str, recovery_days: int, *, dry_run: bool = False, tenants: Sequence[str] = ()
) -> Iterator[tuple[str, str, str]]:
    """Operator: delete for good every deleted secret past the recovery window, in every tenant
    (or the given ones).

    Yields (tenant, key, deleted_time) for each one purged (or, with dry_run, due)."""
    for tenant in [names.tenant(t) for t in tenants] or vault.kv.list_tenants(token):
        if not names.is_tenant(tenant):
            continue  # not a folder the service made; never touched
        after: str | None = None
        while True:
            scanned, after, more = _scan(vault, token, tenant, after, SCAN_BUDGET)
            for meta in scanned:
                if not meta.current.deleted:
                    continue
                item = item_from_metadata(meta, recovery_days)
                if item.deleted_time is None or not _past_window(item):
                    continue
                if not dry_run:
                    _gone(vault, token, tenant, item.key)
                yield tenant, item.key, item.deleted_time
            if not more or after is None:
                break


def _no_access(tenant: str) -> errors.PermissionDenied:
    return errors.PermissionDenied(f"You have no access to tenant {tenant!r}")


def _no_write(tenant: str) -> errors.PermissionDenied:
    return errors.PermissionDenied(f"You do not have write permission on tenant {tenant!r}")
