"""Last used and expiry: what is in use before anyone changes it.

Both live in a key's custom_metadata. `last_used_time` is written by the service with the Hub's
own token after a resolve has been answered, to the hour: at most one write per key per hour
per worker, never failing or delaying the resolve. `expires_at` is set by writers; resolve of
an expired key still answers and names it in `warnings`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.vault import Vault

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

    Keys whose metadata already says this hour (another worker wrote it) are not written again.
    It sits on the resolve's hot path: a lock, a set and an hour formatted once an hour."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp = -1  # hours since the epoch that _hour names
        self._hour = ""
        self._written: set[tuple[str, str]] = set()

    def due(
        self, tenant: str, customs: Mapping[str, Mapping[str, Any]], now: float | None = None
    ) -> tuple[list[str], str]:
        """The keys to write this hour, and the hour; each is claimed here so no other request writes it."""
        stamp = int(time.time() if now is None else now) // 3600
        with self._lock:
            if stamp != self._stamp:  # a new hour: forget the last one (bounds the memory too)
                self._stamp, self._hour, self._written = stamp, hour(datetime.fromtimestamp(stamp * 3600, UTC)), set()
            current = self._hour
            due = []
            for key, custom in customs.items():
                if (tenant, key) in self._written:
                    continue
                self._written.add((tenant, key))
                if custom.get(LAST_USED) != current:
                    due.append(key)
            return due, current

    def write(self, vault: Vault, token: str, tenant: str, keys: Iterable[str], when: str) -> None:
        """Patch last_used_time into each key's metadata; a refusal or an outage is logged, never raised."""
        for key in keys:
            try:
                vault.kv.patch_metadata(token, tenant, key, {LAST_USED: when})
            except Exception as exc:  # runs after the answer; nothing may escape
                log.warning("could not record the use of key %s in tenant %s (%s)", key, tenant, type(exc).__name__)
