"""What one caller may hold at once: listings in flight per caller and per client address.

A listing reads a tenant's folder from Vault and, with a search, filters up to a scan budget of
keys (app/secrets.py): the most expensive request the service answers, with export and import
(dry runs too). Without a bound, one reader sending searches in a loop held every worker thread
and others waited. A caller is a Vault entity (a person or a machine identity), not a token:
signing in eight times gives nothing more (app/auth.py, User.identity). Counted per worker
process, in memory; over the bound the answer is 429 with Retry-After.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app import errors

RETRY_AFTER = 1


class InFlight:
    """Counts requests in flight per caller (their Vault entity) and per client address."""

    def __init__(self, per_caller: int, per_address: int) -> None:
        self.per_caller = per_caller
        self.per_address = per_address
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, identity: str, address: str) -> Iterator[None]:
        """Hold one place for the caller (User.identity()) and the address while the block runs, or raise 429."""
        caller = "c:" + identity
        where = "a:" + address
        with self._lock:
            if self._held.get(caller, 0) >= self.per_caller or self._held.get(where, 0) >= self.per_address:
                raise errors.TooManyRequests(
                    "Too many listings in progress for this caller; retry shortly", retry_after=RETRY_AFTER
                )
            for key in (caller, where):
                self._held[key] = self._held.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for key in (caller, where):
                    left = self._held[key] - 1
                    if left:
                        self._held[key] = left
                    else:
                        del self._held[key]
