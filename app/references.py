"""References: which Actions and Event Types of a tenant name which of its keys (issue 25).

The Hub declares a referrer's SECRET parameters each time it saves one; the service keeps them in
Vault outside the tenants' secret folders (`<mount>/<references prefix>/<tenant>/`), with the
caller's own token, so `bao kv list <mount>/<prefix>/<tenant>` still shows exactly the keys.

One folder per tenant holds two kinds of entries (README "References", layout chosen by measurement):
- `@<kind>,<id>`: the referrer. Data `{"name", "parameters": [{"name", "key"}]}`; custom_metadata
  `name`, `updated_time`, and `last_resolved_time` (the hour the Hub last resolved for it).
- `<key>,<kind>,<id>`: one metadata-only entry per key a referrer names (custom_metadata: the
  referrer's `name` and the `parameters` naming the key). ',' sorts before every character a key
  may hold, so a plain LIST in key order gives, for a page of keys, their referrers in one call;
  '@' sorts before every key, so the referrers come first.
A key created after a referrer named it shows that referrer at once: the entries are by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app import errors, names, rules, shape, usage
from app.vault import Vault
from app.vault import errors as vault_errors

KINDS = rules.REFERRER_KINDS
# The first referrers a refused delete names.
FIRST = 5
_REFERRER = "@"
_SEP = ","
# A LIST after this starts at the keys' entries: '~' sorts after a kind's first letter, so it is
# past every referrer's '@<kind>,...', and '@' sorts before the letter or '_' a key starts with.
_KEYS_FROM = _REFERRER + "~"
# Vault caps a custom_metadata value at 512 bytes: the parameter names kept on a key's entry.
_ENTRY_BYTES = 500
_PAGE = 1000  # entries per LIST when walking a range
_SHOWN_KEY = 200  # a SECRET parameter's value that is no key is kept this short
# Reads in flight at once for a check or a page of referrers, shared by a worker's requests
# (a check of 20 parameters reads 20 keys' metadata; resolve's readers are 16 too).
_READERS = 16


@dataclass(frozen=True)
class Referrer:
    """An Action or an Event Type, as declared: its SECRET parameters (name -> key)."""

    kind: str
    id: str
    name: str
    parameters: list[dict[str, str]] = field(default_factory=list)
    updated_time: str | None = None
    last_resolved_time: str | None = None

    @property
    def keys(self) -> list[str]:
        """The keys it names (valid names only)."""
        return sorted({p["key"] for p in self.parameters if names.is_key(p["key"])})

    def parameter_names(self, key: str | None = None) -> list[str]:
        return [p["name"] for p in self.parameters if key is None or p["key"] == key]


def referrer_name(kind: str, id_: str) -> str:
    return f"{_REFERRER}{kind}{_SEP}{id_}"


def pair_name(key: str, kind: str, id_: str) -> str:
    return f"{key}{_SEP}{kind}{_SEP}{id_}"


def secret_parameters(parameters: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The SECRET parameters (only they count): name and key. A value that is no key by the
    naming rule is kept as given (cut short) and checks as `missing`, as resolve finds no such
    secret; it names no key's entry."""
    from app.resolve import is_secret

    kept = []
    for parameter in parameters:
        if is_secret(parameter):
            key = parameter.get("value")
            kept.append({"name": str(parameter["name"]), "key": key[:_SHOWN_KEY] if isinstance(key, str) else ""})
    return kept


def _names_entry(names_: Iterable[str]) -> str:
    """Parameter names as a JSON list that fits one custom_metadata value (the rest dropped)."""
    kept: list[str] = []
    for name in names_:
        if len(json.dumps([*kept, name]).encode()) > _ENTRY_BYTES:
            break
        kept.append(name)
    return json.dumps(kept)


def _names_of(text: Any) -> list[str]:
    try:
        loaded = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [str(n) for n in loaded] if isinstance(loaded, list) else []


def _split(entry: str) -> tuple[str, str, str] | None:
    """(key, kind, id) of a key's entry; None for a referrer's or anything else."""
    parts = entry.split(_SEP, 2)
    if len(parts) != 3 or entry.startswith(_REFERRER) or parts[1] not in KINDS:
        return None
    return parts[0], parts[1], parts[2]


def _read(vault: Vault, token: str, tenant: str, kind: str, id_: str) -> Referrer | None:
    """The referrer as stored, or None."""
    try:
        record, custom = vault.refs.read_data(token, tenant, referrer_name(kind, id_))
    except vault_errors.NotFound:
        return None
    parameters = [
        {"name": str(p.get("name")), "key": str(p.get("key"))}
        for p in record.get("parameters") or []
        if isinstance(p, dict)
    ]
    return Referrer(
        kind,
        id_,
        str(custom.get("name") or record.get("name") or ""),
        parameters,
        custom.get("updated_time"),
        custom.get("last_resolved_time"),
    )


def declare(
    vault: Vault, token: str, tenant: str, kind: str, id_: str, name: str, parameters: Sequence[Mapping[str, Any]]
) -> tuple[Referrer, list[dict[str, Any]]]:
    """Replace what a referrer declares; answers it and the check of its SECRET parameters.

    Order: the new keys' entries first, then the record, then the entries of keys no longer
    named; a failure part way leaves extra entries (shown until the next declare), never a key
    whose referrer is missing from it."""
    kept = secret_parameters(parameters)
    old = _read(vault, token, tenant, kind, id_)
    now = usage.format_time(datetime.now(UTC))
    referrer = Referrer(kind, id_, name, kept, now, old.last_resolved_time if old else None)
    for key in referrer.keys:
        custom = {"name": name, "parameters": _names_entry(referrer.parameter_names(key))}
        vault.refs.write_metadata(token, tenant, pair_name(key, kind, id_), custom)
    custom = {"name": name, "updated_time": now}
    if referrer.last_resolved_time:
        custom["last_resolved_time"] = referrer.last_resolved_time
    record = {"name": name, "parameters": kept}
    vault.refs.write_record(token, tenant, referrer_name(kind, id_), record, custom)
    for key in set(old.keys if old else ()) - set(referrer.keys):
        _forget_entry(vault, token, tenant, pair_name(key, kind, id_))
    return referrer, check(vault, token, tenant, kept)


def forget(vault: Vault, token: str, tenant: str, kind: str, id_: str) -> None:
    """Remove a referrer and every key's entry of it; NotFound when none was declared."""
    old = _read(vault, token, tenant, kind, id_)
    if old is None:
        raise errors.NotFound(f"No {kind} '{id_}' is declared for tenant '{tenant}'")
    for key in old.keys:
        _forget_entry(vault, token, tenant, pair_name(key, kind, id_))
    vault.refs.delete_all(token, tenant, referrer_name(kind, id_))


def _forget_entry(vault: Vault, token: str, tenant: str, entry: str) -> None:
    try:
        vault.refs.delete_all(token, tenant, entry)
    except vault_errors.NotFound:
        pass


def listing(
    vault: Vault, token: str, tenant: str, key: str | None, after: str | None, limit: int
) -> tuple[list[Referrer], str | None]:
    """A page of referrers (of `key`, or all), in (kind, id) order; `next` is 'kind,id'."""
    # Either run of the folder: the referrers' entries ('@kind,id') or one key's ('key,kind,id').
    prefix = _REFERRER if key is None else key + _SEP
    start = prefix + after if after else prefix
    found: list[tuple[str, str]] = []
    for entry in _walk(vault, token, tenant, start):
        if not entry.startswith(prefix) or (key is not None and _split(entry) is None):
            break
        kind, _, id_ = entry[len(prefix) :].partition(_SEP)
        found.append((kind, id_))
        if len(found) > limit:
            break
    more = len(found) > limit
    found = found[:limit]
    read = vault.readers("references", _READERS)
    futures = [read.submit(_read, vault, token, tenant, kind, id_) for kind, id_ in found]
    items = [r for r in (f.result() for f in futures) if r is not None]
    last = found[-1] if found else None
    return items, (f"{last[0]}{_SEP}{last[1]}" if more and last else None)


def _walk(vault: Vault, token: str, tenant: str, start: str) -> Iterable[str]:
    """The folder's entry names after `start`, in order, one LIST of _PAGE at a time."""
    return vault.refs.walk(token, tenant, start, _PAGE)


def counts(vault: Vault, token: str, tenant: str, keys: Sequence[str]) -> dict[str, int]:
    """How many referrers name each of `keys` (a page): one plain LIST for a page.

    A key's entries sort right after the key itself and before any longer key (',' sorts before
    every character a key may hold), so the entries of the page's keys are those after its first
    key up to its last one's."""
    found = dict.fromkeys(keys, 0)
    for key, _ in vault.refs.entries_of(token, tenant, keys, _split):
        found[key] += 1
    return found


def of_key(vault: Vault, token: str, tenant: str, key: str) -> tuple[int, list[dict[str, Any]]]:
    """The number of referrers of `key` and the first few (kind, id, name, parameter names),
    from one LIST with the entries' metadata (HashiCorp Vault: a plain LIST, then a read each)."""
    prefix = key + _SEP
    listed = vault.refs.list_detailed(token, tenant, prefix, _PAGE)
    if listed is None:
        names_ = [e for e in _walk(vault, token, tenant, prefix) if e.startswith(prefix)]
        customs: list[tuple[str, Mapping[str, str]]] = [
            (e, vault.refs.read_metadata(token, tenant, e).custom) for e in names_[:FIRST]
        ] + [(e, {}) for e in names_[FIRST:]]
    else:
        customs = [(meta.key, meta.custom) for meta in listed]
    mine = [(split, custom) for entry, custom in customs if entry.startswith(prefix) and (split := _split(entry))]
    first = [
        {
            "kind": split[1],
            "id": split[2],
            "name": str(custom.get("name", "")),
            "parameters": _names_of(custom.get("parameters")),
        }
        for split, custom in mine[:FIRST]
    ]
    return len(mine), first


def check(vault: Vault, token: str, tenant: str, parameters: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The state of each SECRET parameter's key: ok, missing, deleted, expired, expiring or
    malformed (never a value), from the keys' metadata, one read per distinct key."""
    keys = sorted({p["key"] for p in parameters if names.is_key(p["key"])})
    if not keys:
        # Nothing to read, so Vault has refused nothing yet: ask it whether this token may see
        # the tenant's keys at all, so a stranger's token is refused whatever the parameters.
        where = "/".join((vault.kv.mount, "metadata", *vault.kv.prefix, tenant, "_"))
        if not {"read", "root"} & set(vault.sys.capabilities(token, where)):
            raise errors.PermissionDenied(f"You do not have access to tenant '{tenant}'")
    read = vault.readers("references", _READERS)
    futures = {key: read.submit(_state, vault, token, tenant, key) for key in keys}
    states = {key: future.result() for key, future in futures.items()}
    states.update({p["key"]: "missing" for p in parameters if p["key"] not in states})
    return [{"name": p["name"], "key": p["key"], "status": states[p["key"]]} for p in parameters]


def _state(vault: Vault, token: str, tenant: str, key: str) -> str:
    try:
        meta = vault.kv.read_metadata(token, tenant, key)
    except vault_errors.NotFound:
        return "missing"
    if meta.current.version == 0:
        return "missing"  # metadata without any version
    if meta.current.deleted:
        return "deleted"
    if shape.malformed(vault, token, tenant, meta):
        return "malformed"  # resolve refuses it (app/resolve.py): the run would fail
    custom = meta.custom
    if usage.expired(custom):
        return "expired"
    if usage.expiring_within(custom, rules.EXPIRING_SOON_DAYS):
        return "expiring"
    return "ok"


def resolved(vault: Vault, token: str, tenant: str, kind: str, id_: str, keys: Iterable[str]) -> list[dict[str, Any]]:
    """For a resolve naming its referrer: `undeclared` warnings for keys it did not declare, or
    one `unknown_referrer` warning. Never refuses."""
    referrer = _read(vault, token, tenant, kind, id_)
    if referrer is None:
        return [{"code": "unknown_referrer", "kind": kind, "id": id_}]
    declared = set(referrer.keys)
    return [{"code": "undeclared", "key": key, "kind": kind, "id": id_} for key in sorted(set(keys) - declared)]


def record_resolved(vault: Vault, token: str, tenant: str, kind: str, id_: str, hour: str) -> None:
    """The referrer's last_resolved_time (after the answer; a missing referrer is left alone)."""
    try:
        vault.refs.patch_metadata(token, tenant, referrer_name(kind, id_), {"last_resolved_time": hour})
    except vault_errors.NotFound:
        pass


def named(vault: Vault, token: str, tenant: str, after: str | None) -> Callable[[str], bool]:
    """Whether a referrer names a key, asked in key order from `after` on (a listing's scan): the
    keys' entries are walked alongside, one plain LIST of _PAGE entries when the scan needs more."""
    entries: Iterator[str] = (
        split[0] for entry in _walk(vault, token, tenant, after or _KEYS_FROM) if (split := _split(entry))
    )
    current: list[str | None] = [""]  # the key of the entry reached; "" before the first LIST

    def ask(key: str) -> bool:
        while current[0] is not None and current[0] < key:
            current[0] = next(entries, None)
        return current[0] == key

    return ask


def by_key(vault: Vault, token: str, tenant: str) -> dict[str, list[dict[str, str]]]:
    """Every key's referrers (kind, id, name), for the export: the keys' entries with their
    metadata in LISTs of _PAGE (HashiCorp Vault: a plain LIST, then a metadata read each)."""
    found: dict[str, list[dict[str, str]]] = {}
    after = _KEYS_FROM
    while True:
        listed = vault.refs.list_detailed(token, tenant, after, _PAGE)
        if listed is None:
            entries = list(_walk(vault, token, tenant, _KEYS_FROM))
            read = vault.readers("references", _READERS)
            customs = read.map(lambda e: vault.refs.read_metadata(token, tenant, e).custom, entries)
            pairs: list[tuple[str, Mapping[str, str]]] = list(zip(entries, customs, strict=True))
        else:
            pairs = [(meta.key, meta.custom) for meta in listed]
        for entry, custom in pairs:
            split = _split(entry)
            if split:
                found.setdefault(split[0], []).append(
                    {"kind": split[1], "id": split[2], "name": str(custom.get("name", ""))}
                )
        if listed is None or len(listed) < _PAGE:
            return found
        after = listed[-1].key
