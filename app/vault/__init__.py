"""The only package that talks to Vault (or OpenBao).

`transport` is the one road (pool, failover, retries, redirects; every answer a payload or one
Vault error of `errors`, which carry no HTTP status); `kv`, `identity`, `auth` and `sys` are thin
classes per Vault API on top of it. Every call carries the caller's own token.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.vault.auth import Auth, TokenInfo
from app.vault.identity import Identity
from app.vault.kv import KV
from app.vault.sys import Sys
from app.vault.transport import Transport, operation, path

__all__ = ["Vault", "TokenInfo", "Transport", "from_settings", "init_app", "operation", "path"]


# The folder of last-use entries inside a tenant's references: '~' sorts after every character
# a key may start with, so the folder comes last when the references are listed.
USED_FOLDER = "~used"


class Vault:
    """Vault's APIs as the product uses them, on one transport."""

    def __init__(
        self,
        addresses: list[str],
        *,
        mount: str = "secret",
        prefix: str = "tenants",
        userpass_mount: str = "userpass",
        approle_mount: str = "approle",
        timeout: float = 5.0,
        cacert: str | None = None,
        max_versions: int = 10,
        references_prefix: str = "references",
    ) -> None:
        self.transport = Transport(addresses, timeout=timeout, cacert=cacert)
        self.kv = KV(self.transport, mount, prefix, max_versions)
        # References (which Actions and Event Types name which keys): beside the tenants' folders,
        # never in them; one version each is enough (app/references.py).
        self.refs = KV(self.transport, mount, references_prefix, 1)
        # Last use (app/usage.py): when the Hub last resolved each key, in a folder of the
        # tenant's references, so the Hub's token never writes the secrets' own metadata.
        self.used = KV(self.transport, mount, references_prefix, 1, folder=USED_FOLDER)
        self.identity = Identity(self.transport)
        self.auth = Auth(self.transport, userpass_mount, approle_mount)
        self.sys = Sys(self.transport)
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()

    def readers(self, name: str, workers: int) -> ThreadPoolExecutor:
        """A thread pool for concurrent reads, one per purpose and process, made on first use
        (after a pre-forking server has forked); its reads share the transport's connections."""
        pool = self._pools.get(name)
        if pool is None:
            with self._pools_lock:
                pool = self._pools.get(name)
                if pool is None:
                    pool = self._pools[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        return pool

    def close(self) -> None:
        self.transport.close()


def from_settings(settings: Mapping[str, Any]) -> Vault:
    """A Vault for the service's settings (app.config.from_environ)."""
    return Vault(
        settings["VAULT_ADDRS"],
        mount=settings["KV_MOUNT"],
        prefix=settings["KV_PREFIX"],
        userpass_mount=settings["USERPASS_MOUNT"],
        approle_mount=settings["APPROLE_MOUNT"],
        timeout=settings["VAULT_TIMEOUT"],
        cacert=settings.get("VAULT_CACERT"),
        max_versions=settings.get("MAX_VERSIONS", 10),
        references_prefix=settings.get("REFERENCES_PREFIX", "references"),
    )


def init_app(app: Any) -> None:
    """Attach one Vault (one connection pool) to the app."""
    app.extensions["nexo_vault"] = from_settings(app.config)
