"""A tenant's secrets in KV version 2: `<mount>/{data,metadata}/<prefix>/<tenant>/<key>`.

Metadata comes back as typed records (`Metadata`, `Version`, `Current`); Vault's JSON is read
here only. One rule says when a version is deleted (`_deleted_time`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.vault import errors
from app.vault.transport import Transport, path

T = TypeVar("T", bound=tuple[str, ...])

ACCOUNTS = "nexo-accounts"


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a key as its metadata lists it (never its value)."""

    number: int
    created_time: str
    deletion_time: str  # as Vault has it: "" for none; a future time is only scheduled
    destroyed: bool
    deleted_time: str | None  # when it was deleted or destroyed; None while live

    @property
    def deleted(self) -> bool:
        return self.deleted_time is not None


@dataclass(frozen=True, slots=True)
class Current:
    """The current version's state: what listing, import, restore and purge decide on."""

    version: int  # 0: metadata without any version (made with the Vault CLI)
    created_time: str
    deleted_time: str | None  # when it was deleted or destroyed; None while live
    destroyed: bool

    @property
    def deleted(self) -> bool:
        return self.deleted_time is not None

    @property
    def holds_value(self) -> bool:
        """A live version exists: a create with check-and-set 0 would be refused."""
        return self.version > 0 and self.deleted_time is None


@dataclass(frozen=True, slots=True)
class Metadata:
    """A key's metadata as Vault answered it: times, versions and custom_metadata."""

    key: str
    created_time: str
    updated_time: str  # Vault's own: also moves when only custom_metadata changed
    max_versions: int  # 0: the mount's setting
    metadata_version: int | None  # for a metadata check-and-set (OpenBao; None: HashiCorp Vault)
    custom: Mapping[str, str]
    versions: Mapping[int, Version]  # those Vault keeps, by number
    current: Current


def _deleted_time(version: Mapping[str, Any], now: datetime) -> str | None:
    """When a version was deleted or destroyed; None while it is live: the one rule.

    A deletion_time in the future is not a deletion yet: a mount or key with
    delete_version_after gives every version one from its creation."""
    when = str(version.get("deletion_time") or "")
    destroyed = bool(version.get("destroyed"))
    if not when and not destroyed:
        return None  # live: the common case, no time to parse
    try:
        parsed: datetime | None = datetime.fromisoformat(when)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.astimezone(UTC) <= now:
        return when
    if destroyed:
        return when or str(version.get("created_time") or "")
    return None


def _version(number: int, version: Mapping[str, Any], now: datetime) -> Version:
    return Version(
        number=number,
        created_time=str(version.get("created_time") or ""),
        deletion_time=str(version.get("deletion_time") or ""),
        destroyed=bool(version.get("destroyed")),
        deleted_time=_deleted_time(version, now),
    )


def _metadata(key: str, data: Mapping[str, Any], now: datetime) -> Metadata:
    """The record of a metadata answer (or one entry of a detailed LIST)."""
    raw_versions = data.get("versions") or {}
    versions = {int(n): _version(int(n), v or {}, now) for n, v in raw_versions.items()}
    number = int(data.get("current_version") or 0)
    found = versions.get(number)
    current = (
        Current(number, found.created_time, found.deleted_time, found.destroyed)
        if found
        else Current(number, "", None, False)
    )
    custom = data.get("custom_metadata")
    cas_version = data.get("current_metadata_version")
    return Metadata(
        key=key,
        created_time=str(data.get("created_time") or ""),
        updated_time=str(data.get("updated_time") or ""),
        max_versions=int(data.get("max_versions") or 0),
        metadata_version=None if cas_version is None else int(cas_version),
        custom=custom if isinstance(custom, dict) else {},  # Vault holds strings only
        versions=versions,
        current=current,
    )


class KV:
    """The KV v2 calls the product makes; every one takes the caller's token."""

    def __init__(self, transport: Transport, mount: str, prefix: str, max_versions: int = 10, folder: str = "") -> None:
        self.t = transport
        self.mount = mount
        self.prefix = tuple(p for p in prefix.split("/") if p)
        # A folder inside each tenant's (the references' `~used`): `tenant` names <prefix>/<tenant>/<folder>.
        self.folder = tuple(p for p in folder.split("/") if p)
        self.max_versions = max_versions  # set on every secret the service creates
        self.detailed: bool | None = None  # None: not known yet whether Vault has detailed-metadata

    def _path(self, kind: str, tenant: str, key: str | None = None) -> str:
        return path(self.mount, kind, *self.prefix, tenant, *self.folder, *([] if key is None else [key]))

    def data_path(self, tenant: str, key: str) -> str:
        """The data path of a key as policies name it (no /v1/, not quoted): for capabilities."""
        return "/".join((self.mount, "data", *self.prefix, tenant, key))

    def list_detailed(self, token: str, tenant: str, after: str | None, limit: int | None) -> list[Metadata] | None:
        """OpenBao's LIST detailed-metadata: keys with their metadata in one call, in key order.

        None when Vault has no such endpoint (HashiCorp Vault)."""
        if self.detailed is False:
            return None
        try:
            reply = self.t.request(
                "LIST", self._path("detailed-metadata", tenant) + "/", token, params=_page(after, limit)
            )
        except errors.Unsupported:
            self.detailed = False
            return None
        except errors.NotFound:
            return []  # the tenant has no keys
        self.detailed = True
        data = reply["data"]
        info = data.get("key_info") or {}
        now = datetime.now(UTC)
        return [_metadata(k, info.get(k) or {}, now) for k in data.get("keys", []) if not k.endswith("/")]

    def list_keys(self, token: str, tenant: str, after: str | None = None, limit: int | None = None) -> list[str]:
        """Plain LIST of a tenant's keys (HashiCorp Vault and OpenBao)."""
        try:
            reply = self.t.request("LIST", self._path("metadata", tenant) + "/", token, params=_page(after, limit))
        except errors.NotFound:
            return []
        keys = [k for k in reply["data"].get("keys", []) if not k.endswith("/")]
        if after and keys and keys[0] <= after:
            # HashiCorp Vault ignores after/limit: page here so callers see one behaviour.
            keys = [k for k in keys if k > after]
        return keys[:limit] if limit else keys

    def walk(self, token: str, tenant: str, start: str, page: int = 1000) -> Iterator[str]:
        """The folder's entry names after `start`, in order, one LIST of `page` at a time."""
        after = start
        while True:
            keys = self.list_keys(token, tenant, after=after, limit=page)
            yield from keys
            if len(keys) < page:
                return
            after = keys[-1]

    def entries_of(
        self, token: str, tenant: str, keys: Sequence[str], split: Callable[[str], T | None]
    ) -> Iterator[tuple[str, T]]:
        """(key, parsed) for the folder's entries `<key>,...` of `keys` (a page), from the first key
        to past the last one's: `split` parses an entry into (key, rest) or None (not one of them).
        An entry of a key sorts right after it (',' sorts before every character a key may hold)."""
        if not keys:
            return
        wanted, last = set(keys), max(keys)
        for entry in self.walk(token, tenant, min(keys)):
            parsed = split(entry)
            if parsed is None:
                continue
            if parsed[0] > last:
                return
            if parsed[0] in wanted:
                yield parsed[0], parsed

    def read_metadata(self, token: str, tenant: str, key: str) -> Metadata:
        """A key's metadata (versions, times, custom_metadata); NotFound if absent."""
        data = self.t.request("GET", self._path("metadata", tenant, key), token)["data"]
        return _metadata(key, data, datetime.now(UTC))

    def write_value(self, token: str, tenant: str, key: str, value: str, cas: int) -> int:
        """Write a new version with check-and-set (cas=0: create only); returns the version."""
        body = {"options": {"cas": cas}, "data": {"value": value}}
        return int(self.t.request("POST", self._path("data", tenant, key), token, body)["data"]["version"])

    def write_metadata(self, token: str, tenant: str, key: str, custom: Mapping[str, str]) -> None:
        """Replace a key's custom_metadata; sets max_versions (Vault's own default is 10, but
        a mount-wide setting would change it silently)."""
        body = {"custom_metadata": dict(custom), "max_versions": self.max_versions}
        self.t.request("POST", self._path("metadata", tenant, key), token, body)

    def patch_metadata(
        self,
        token: str,
        tenant: str,
        key: str,
        custom: Mapping[str, str | None],
        metadata_cas: int | None = None,
        *,
        max_versions: bool = False,
    ) -> None:
        """Merge into a key's custom_metadata (None removes an entry) without a new version.

        metadata_cas (OpenBao): Conflict if the metadata changed since it was read.
        max_versions: set it to the configured number too."""
        body: dict[str, Any] = {"custom_metadata": dict(custom)}
        if metadata_cas is not None:
            body["metadata_cas"] = metadata_cas
        if max_versions:
            body["max_versions"] = self.max_versions
        self.t.request(
            "PATCH", self._path("metadata", tenant, key), token, body, content_type="application/merge-patch+json"
        )

    def delete_all(self, token: str, tenant: str, key: str) -> None:
        """Delete a key's metadata and every version."""
        self.t.request("DELETE", self._path("metadata", tenant, key), token)

    def delete_versions(self, token: str, tenant: str, key: str, versions: list[int]) -> None:
        """Soft-delete versions (restorable with undelete). Pinned to version numbers, unlike a
        DELETE of the data path, so a version written meanwhile is not the one deleted."""
        self.t.request("POST", self._path("delete", tenant, key), token, {"versions": versions})

    def undelete_versions(self, token: str, tenant: str, key: str, versions: list[int]) -> None:
        """Bring soft-deleted versions back, values untouched (nobody reads them)."""
        self.t.request("POST", self._path("undelete", tenant, key), token, {"versions": versions})

    def list_tenants(self, token: str) -> list[str]:
        """The tenant folders under the prefix (operator: purge)."""
        try:
            reply = self.t.request("LIST", path(self.mount, "metadata", *self.prefix) + "/", token)
        except errors.NotFound:
            return []
        return [k.rstrip("/") for k in reply["data"].get("keys", []) if k.endswith("/")]

    # -- accounts: the mark of a first password an admin chose ------------------------------
    # `<mount>/data/nexo-accounts/<user>`, outside the tenants' prefix. The admin may only create
    # it (never update or delete); the user may read and delete their own (nexo-self.hcl).

    def _account(self, kind: str, user: str) -> str:
        return path(self.mount, kind, ACCOUNTS, user)

    def mark_first_password(self, token: str, user: str) -> None:
        """Mark an account's password as chosen by someone else (create-only: cas=0)."""
        body = {"data": {"first_password": "true"}, "options": {"cas": 0}}
        try:
            self.t.request("POST", self._account("data", user), token, body)
        except errors.Conflict:
            pass  # marked already

    def first_password(self, token: str, user: str) -> bool:
        """Whether the account still has the password an admin chose for it."""
        try:
            self.t.request("GET", self._account("data", user), token)
        except (errors.NotFound, errors.Denied):
            return False  # no mark (or, for a machine identity, no account of this kind)
        return True

    def clear_first_password(self, token: str, user: str) -> None:
        self.t.request("DELETE", self._account("metadata", user), token)

    def read_current(self, token: str, tenant: str, key: str) -> tuple[str, dict[str, Any]]:
        """The current value of a key and its custom_metadata, from the one data read (KV v2
        answers the metadata with the data); NotFound if deleted."""
        data = self.t.request("GET", self._path("data", tenant, key), token).get("data") or {}
        if data.get("data") is None:  # the current version was deleted
            raise errors.NotFound()
        record = data["data"]
        # The one shape; anything else was written around the service and is never delivered.
        if not (isinstance(record, dict) and record.keys() == {"value"} and isinstance(record["value"], str)):
            raise errors.Malformed()
        return record["value"], _custom(data)

    def read_data(self, token: str, tenant: str, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The current version's data as stored, and its custom_metadata (product records outside
        the tenants' folders, never a secret's value); NotFound if absent or deleted."""
        data = self.t.request("GET", self._path("data", tenant, key), token).get("data") or {}
        record = data.get("data")
        if not isinstance(record, dict):
            raise errors.NotFound()
        return record, _custom(data)

    def write_record(
        self, token: str, tenant: str, key: str, record: Mapping[str, Any], custom: Mapping[str, str]
    ) -> None:
        """Write a product record (data, then its custom_metadata): last writer wins."""
        self.t.request("POST", self._path("data", tenant, key), token, {"data": dict(record)})
        self.write_metadata(token, tenant, key, custom)

    def current_custom(self, token: str, tenant: str, key: str) -> dict[str, Any] | None:
        """A key's custom_metadata if its current version holds a value, else None; learnt
        without reading the value (KV v2 subkeys answers the metadata with the structure).
        Malformed when the structure is not the one shape (no `value`, other fields, an object);
        a number or null looks like a string there, and the sink that unwraps it refuses it."""
        try:
            reply = self.t.request("GET", self._path("subkeys", tenant, key), token, params={"depth": _SHAPE_DEPTH})
        except errors.NotFound:  # Vault answers 404 for a deleted or destroyed current version too
            return None
        data = reply.get("data") or {}
        if data.get("subkeys") != _ONE_SHAPE:
            raise errors.Malformed()
        return _custom(data)

    def holds_one_value(self, token: str, tenant: str, key: str) -> bool:
        """Whether the current version's structure is the one shape, from KV v2 subkeys (the
        structure without values: what a reader may see). NotFound if deleted or absent."""
        reply = self.t.request("GET", self._path("subkeys", tenant, key), token, params={"depth": _SHAPE_DEPTH})
        return bool((reply.get("data") or {}).get("subkeys") == _ONE_SHAPE)

    def wrap_read(self, token: str, tenant: str, key: str, ttl_seconds: int) -> dict[str, Any]:
        """Have Vault wrap its own read of a key's value: wrap_info (token, accessor, ttl,
        creation_path = the key's data path). The caller never sees the value.

        NotFound if the key was never created or its metadata is gone (Vault answers that
        plainly); a deleted current version is wrapped like a value (check current_custom first)."""
        # A GET is retried after a timeout or a 5xx: a token Vault made for a lost answer is never
        # handed out and expires with its TTL.
        reply = self.t.request("GET", self._path("data", tenant, key), token, wrap_ttl=ttl_seconds)
        info = reply.get("wrap_info") if isinstance(reply, dict) else None
        if not info or not info.get("token"):
            raise errors.Unavailable()  # Vault did not wrap: never hand on whatever this is
        return dict(info)


# Subkeys to depth 2: a string value shows as {"value": None}, an object value as a dict.
_SHAPE_DEPTH = 2
_ONE_SHAPE = {"value": None}


def _custom(data: Mapping[str, Any]) -> dict[str, Any]:
    """custom_metadata from a data or subkeys answer ({} when there is none)."""
    meta = data.get("metadata")
    custom = meta.get("custom_metadata") if isinstance(meta, dict) else None
    return custom if isinstance(custom, dict) else {}


def _page(after: str | None, limit: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if after:
        params["after"] = after
    if limit:
        params["limit"] = limit
    return params
