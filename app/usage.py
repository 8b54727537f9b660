"""Last used and expiry: what is in use before anyone changes it.

`last_used_time` is written by the service with the Hub's own token after a resolve has been
answered, to the hour: at most one record per key per hour per worker, never failing or
delaying the resolve. It lives beside the tenant's references (below), not in the secret's
metadata, which the Hub's token may read but not change; a use recorded there before this
moved is still shown until a newer one. `expires_at` lives in a key's custom_metadata, set by
writers; resolve of an expired key still answers and names it in `warnings`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.vault import Vault
from app.vault.errors import Denied, VaultError

log = logging.getLogger(__name__)

LAST_USED = "last_used_time"
EXPIRES_AT = "expires_at"
EXPIRED = "expired"
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def format_time(when: datetime) -> str:
    """RFC 3339 in UTC, to the second: how the service writes every time it stores."""
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits.
    return when.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time (Vault's nanoseconds too) or a plain date (midnight UTC); None if odd."""
    if not isinstance(text, str):
        return None
    if _DATE.match(text):
        text += "T00:00:00Z"
    elif not _DATE_TIME.match(text):
        return None
    trimmed = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text).replace("Z", "+00:00").replace("z", "+00:00")
    # RFC 3339 allows a leap second (:60), which Python's datetime cannot hold: the second before.
    trimmed = re.sub(r"(T[0-9]{2}:[0-9]{2}):60", r"\1:59", trimmed, flags=re.I)
    try:
        parsed = datetime.fromisoformat(trimmed)
    except ValueError:  # e.g. month 13
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)
    except OverflowError:  # within an offset of year 1 or 9999: the nearest time UTC can hold
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)
    return parsed


def expiry(text: str) -> str:
    """An expiry date as stored: RFC 3339 UTC; ValueError when malformed. A date in the past is
    allowed (the table marks it)."""
    parsed = parse_time(text)
    if parsed is None:
        raise ValueError(text)
    return format_time(parsed)


def expired(custom: Mapping[str, Any], now: datetime | None = None) -> str | None:
    """The key's expires_at when it has passed, else None."""
    when = parse_time(str(custom.get(EXPIRES_AT) or ""))
    if when is None or when > (now or datetime.now(UTC)):
        return None
    return str(custom[EXPIRES_AT])


def expiring_within(custom: Mapping[str, Any], days: int, now: datetime | None = None) -> bool:
    """True when the key expires within `days` from now, or has expired."""
    when = parse_time(str(custom.get(EXPIRES_AT) or ""))
    return when is not None and when <= (now or datetime.now(UTC)) + timedelta(days=days)


def warnings(
    parameters: Sequence[Mapping[str, Any]], customs: Mapping[str, Mapping[str, Any]], is_secret: Any
) -> list[dict[str, Any]]:
    """One `expired` warning per SECRET parameter whose key has expired (names, never values)."""
    if not any(EXPIRES_AT in custom for custom in customs.values()):
        return []  # the common case, on the resolve's hot path
    now = datetime.now(UTC)
    found = []
    for parameter in parameters:
        key = parameter.get("value")
        if not is_secret(parameter) or not isinstance(key, str) or key not in customs:
            continue
        when = expired(customs[key], now)
        if when:
            found.append({"name": parameter.get("name"), "key": key, "code": EXPIRED, "expires_at": when})
    return found


def hour(now: datetime | None = None) -> str:
    """The hour a use is recorded as: coarse on purpose (one write per key per hour)."""
    return format_time((now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0))


class Recorder:
    """Records when the Hub resolved each key, at most once per key per hour in this worker.

    It sits on the resolve's hot path: a lock, a set and an hour formatted once an hour."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp = -1  # hours since the epoch that _hour names
        self._hour = ""
        self._written: set[tuple[str, str]] = set()

    def due(self, tenant: str, keys: Iterable[str], now: float | None = None) -> tuple[list[str], str]:
        """The keys to write this hour, and the hour; each is claimed here so no other request writes it."""
        stamp = int(time.time() if now is None else now) // 3600
        with self._lock:
            if stamp != self._stamp:  # a new hour: forget the last one (bounds the memory too)
                self._stamp, self._hour, self._written = stamp, hour(datetime.fromtimestamp(stamp * 3600, UTC)), set()
            due = [key for key in keys if (tenant, key) not in self._written]
            self._written.update((tenant, key) for key in due)
            return due, self._hour

    def write(self, vault: Vault, token: str, tenant: str, keys: Iterable[str], when: str) -> None:
        """Record each key's use; a refusal or an outage is logged, never raised."""
        for key in keys:
            try:
                record(vault, token, tenant, key, when)
            except Exception as exc:  # runs after the answer; nothing may escape
                log.warning("could not record the use of key %s in tenant %s (%s)", key, tenant, type(exc).__name__)


# -- where last use is kept ---------------------------------------------------------------
# In the tenant's references, folder `~used` (app/vault USED_FOLDER), never in the secrets'
# metadata: one metadata-only entry per key named `<key>,<hour>`. The name carries the hour, so
# one plain LIST of a page's range of keys answers all their last uses (',' sorts before every
# character a key may hold: a key's entries come right after it, before any longer key).
_SEP = ","
_OF_KEY = 8  # entries of one key listed when cleaning up (normally one or two)


def used_entry(key: str, when: str) -> str:
    return f"{key}{_SEP}{when}"


def _split(entry: str) -> tuple[str, str] | None:
    """(key, hour) of a last-use entry; None for anything else."""
    key, sep, when = entry.partition(_SEP)
    return (key, when) if sep and parse_time(when) is not None else None


def record(vault: Vault, token: str, tenant: str, key: str, when: str) -> None:
    """Write the key's entry for `when`, then remove its other entries but the newest (an earlier
    hour's; a worker whose clock lags): one write, one LIST and usually one delete."""
    vault.used.write_metadata(token, tenant, used_entry(key, when), {})
    mine = [split[1] for entry in _of_key(vault, token, tenant, key) if (split := _split(entry))]
    newest = max(mine, key=_when, default=when)
    for other in mine:
        if other != newest:
            vault.used.delete_all(token, tenant, used_entry(key, other))


def forget(vault: Vault, token: str, tenant: str, key: str) -> None:
    """Remove a key's last use (its secret is gone for good, or made anew): quietly, as a use is
    no reason to fail a delete."""
    try:
        for entry in _of_key(vault, token, tenant, key):
            vault.used.delete_all(token, tenant, entry)
    except VaultError as exc:
        log.warning("could not remove the last use of key %s in tenant %s (%s)", key, tenant, type(exc).__name__)


def _of_key(vault: Vault, token: str, tenant: str, key: str) -> list[str]:
    prefix = key + _SEP
    return [e for e in vault.used.list_keys(token, tenant, after=prefix, limit=_OF_KEY) if e.startswith(prefix)]


def _when(text: str) -> datetime:
    return parse_time(text) or datetime.min.replace(tzinfo=UTC)


def newest(*times: str | None) -> str | None:
    """The latest of these times (a last use from here or from before it moved), None if none."""
    known = [t for t in times if t and parse_time(t) is not None]
    return max(known, key=_when) if known else None


def last_used(vault: Vault, token: str, tenant: str, keys: Sequence[str]) -> dict[str, str]:
    """The last use of each of `keys` (a page) that has one: one plain LIST of the folder from the
    first key to past the last one's entries. A token whose policies predate the folder gets {}."""
    found: dict[str, str] = {}
    try:
        for key, (_, when) in vault.used.entries_of(token, tenant, keys, _split):
            found[key] = newest(found.get(key), when) or when
    except Denied:
        log.warning("no last use for tenant %s: its policies predate it (run tenant create again)", tenant)
        return {}
    return found


def walker(vault: Vault, token: str, tenant: str, after: str | None) -> Callable[[str], str | None]:
    """Each key's last use, asked in key order from `after` on (a listing's scan of the Unused
    filter): the folder is walked alongside, one LIST of 1,000 entries when the scan needs more."""
    entries: Iterator[tuple[str, str]] = (
        split for entry in vault.used.walk(token, tenant, after or "") if (split := _split(entry))
    )
    current: list[tuple[str, str] | None] = [("", "")]  # the entry reached; ("", "") before the first LIST

    def ask(key: str) -> str | None:
        found = None
        while current[0] is not None and current[0][0] <= key:
            if current[0][0] == key:
                found = newest(found, current[0][1])
            current[0] = next(entries, None)
        return found

    return ask
