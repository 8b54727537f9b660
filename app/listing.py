"""Pages of a tenant's listing, kept while the tenant's listing mark says they are current.

OpenBao lists a folder by reading every key in it from storage, `limit` or not: the first page of
a 10,000-secret tenant costs 10 to 40 direct reads (README, Performance). So each worker keeps the
pages it has answered, each with the tenant's listing mark it was read under. The mark is a
metadata-only entry in the tenant, `.nexo-listing` (never a valid key, so never shown and never
addressable through the API), whose custom_metadata gets a new random value after every change
the service makes to the tenant's secrets. A kept page is answered only if one read of the mark,
made with the caller's own token, returns the mark the page was read under:

- Vault checks the caller's permission on every listing: a revoked reader gets 403 at once
  (every policy that lets read the mark lets list the tenant: tests/test_listing.py checks it);
- a change made through the service, by any worker or replica, shows in the next listing: the
  new mark is written before the change is answered;
- a change made around the service (e.g. with the Vault CLI) shows within `max_age` seconds.

Only pages without a search and of at most MAX_LIMIT items are kept; they never hold a value.
"""

from __future__ import annotations

import logging
import secrets as _secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from app import errors
from app.vault import Vault

MARK = ".nexo-listing"
MAX_LIMIT = 100
_FIELD = "listing"

log = logging.getLogger(__name__)


def read_mark(vault: Vault, token: str, tenant: str) -> str | None:
    """The tenant's listing mark, read with the caller's token (None: no change made yet)."""
    try:
        meta = vault.read_metadata(token, tenant, MARK)
    except errors.NotFound:
        return None
    mark = (meta.get("custom_metadata") or {}).get(_FIELD)
    return str(mark) if mark else None


def renew_mark(vault: Vault, token: str, tenant: str) -> None:
    """After a change to the tenant's secrets: a new mark, so that no kept page is answered again."""
    try:
        vault.write_metadata(token, tenant, MARK, {_FIELD: _secrets.token_hex(16)})
    except errors.ServiceError as error:
        # The change itself is made; pages kept elsewhere age out instead.
        log.warning("listing mark of tenant %s not renewed: %s", tenant, type(error).__name__)


class Pages:
    """Listing pages kept per worker, least recently used first out, each with its mark."""

    def __init__(self, max_age: float, size: int = 256) -> None:
        self.max_age = max_age
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], tuple[str, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, where: tuple[Any, ...], mark: str) -> Any | None:
        with self._lock:
            kept = self._pages.get(where)
            if kept is None or kept[0] != mark or kept[1] < time.monotonic():
                return None
            self._pages.move_to_end(where)
            return kept[2]

    def put(self, where: tuple[Any, ...], mark: str, page: Any) -> None:
        with self._lock:
            self._pages[where] = (mark, time.monotonic() + self.max_age, page)
            self._pages.move_to_end(where)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
