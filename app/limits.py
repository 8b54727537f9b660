"""What one caller may hold at once: listings in flight per caller and per client address.

A listing reads a tenant's folder from Vault and, with a search, filters up to a scan budget of
keys (app/secrets.py): the most expensive request the service answers. Without a bound, one
reader sending searches in a loop held every worker thread and others waited. Counted per
worker process, in memory; over the bound the answer is 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app import errors

RETRY_AFTER = 1


class InFlight:
    """Counts requests in flight per caller (by a hash of their token) and per client address."""

    def __init__(self, per_caller: int, per_address: int) -> None:
        self.per_caller = per_caller
        self.per_address = per_address
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, token: str, address: str) -> Iterator[None]:
        """Hold one place for the caller and the address while the block runs, or raise 429."""
        caller = "c:" + hashlib.sha256(token.encode()).hexdigest()[:32]
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
