"""Resolve: the Hub's SECRET parameters get their values at run time, all or nothing.

Only the Hub's token can read values (vault-policies/nexo-hub.hcl): called with a reader's or
a writer's token, the reads fail with 403 from Vault itself. With a wrap TTL the resolved
parameters are not answered but wrapped by Vault into a single-use token, which the Hub hands
to a sink module to unwrap directly from Vault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any

from app import errors, names
from app.vault import Vault

SECRET = "SECRET"
MAX_PARAMETERS = 100
WRAP_TTL_MIN = 10
WRAP_TTL_MAX = 15 * 60
# Key reads in flight at once, shared by every request of a worker; below the Vault pool size.
_READERS = 16
# Long invalid "keys" are cut short in error details.
_SHOWN_KEY = 200
_NOT_HUB = "This token may not read secret values; only the Hub's token may"


@dataclass(frozen=True)
class Unresolved:
    """A SECRET parameter that could not be given a value: its name and key, never a value."""

    name: str
    key: str | None
    reason: str


def is_secret(parameter: Mapping[str, Any]) -> bool:
    """True for a parameter of type SECRET (any case: a lowercase type must not slip a key through)."""
    kind = parameter.get("type")
    return isinstance(kind, str) and kind.upper() == SECRET


def resolve(
    vault: Vault,
    token: str,
    tenant: str,
    parameters: Sequence[Mapping[str, Any]],
    wrap_ttl: int | None = None,
) -> dict[str, Any]:
    """Give every SECRET parameter its value, or raise 422 naming each one that has none.

    Returns {"parameters": [...]} or, with wrap_ttl, {"wrap": {"token", "ttl", "creation_path"}}.
    """
    names.tenant(tenant)
    if len(parameters) > MAX_PARAMETERS:
        raise errors.Unprocessable(errors={"parameters": [f"At most {MAX_PARAMETERS} parameters per call."]})
    if wrap_ttl is not None and not WRAP_TTL_MIN <= wrap_ttl <= WRAP_TTL_MAX:
        raise errors.Unprocessable(errors={"wrap_ttl": [f"Must be {WRAP_TTL_MIN} to {WRAP_TTL_MAX} seconds."]})

    # Each distinct valid key is read once, however many parameters name it.
    keys = list(dict.fromkeys(p["value"] for p in parameters if is_secret(p) and _valid_key(p.get("value"))))
    if not keys and not _can_read_values(vault, token, tenant):
        # Nothing to read, so Vault has not refused anything yet: ask it, so that a user's
        # token is refused whatever the parameters.
        raise errors.PermissionDenied(_NOT_HUB)
    values = _read_all(vault, token, tenant, keys)

    unresolved = [_why(p, values) for p in parameters if is_secret(p) and _value(p, values) is None]
    if unresolved:
        count = len(unresolved)
        raise errors.Unprocessable(
            f"{count} SECRET parameter{'s' if count > 1 else ''} could not be resolved in tenant {tenant!r}",
            errors={"unresolved": [asdict(u) for u in unresolved]},
        )
    resolved = [{**p, "value": values[p["value"]]} if is_secret(p) else dict(p) for p in parameters]
    if wrap_ttl is None:
        return {"parameters": resolved}
    return {"wrap": wrap(vault, token, resolved, wrap_ttl)}


def wrap(vault: Vault, token: str, parameters: list[dict[str, Any]], ttl_seconds: int) -> dict[str, Any]:
    """Wrap resolved parameters into a single-use Vault token (no TTL bounds: resolve checks them)."""
    info = vault.auth.wrap(token, {"parameters": parameters}, ttl_seconds)
    return {"token": info["token"], "ttl": int(info["ttl"]), "creation_path": info["creation_path"]}


def _can_read_values(vault: Vault, token: str, tenant: str) -> bool:
    capabilities = vault.sys.capabilities(token, vault.kv.data_path(tenant, "_"))
    return "read" in capabilities or "root" in capabilities


def _valid_key(key: Any) -> bool:
    return isinstance(key, str) and names.is_key(key)


def _value(parameter: Mapping[str, Any], values: Mapping[str, str | None]) -> str | None:
    key = parameter.get("value")
    return values.get(key) if isinstance(key, str) else None


def _why(parameter: Mapping[str, Any], values: Mapping[str, str | None]) -> Unresolved:
    key = parameter.get("value")
    if not _valid_key(key):
        shown = key[:_SHOWN_KEY] if isinstance(key, str) else None
        return Unresolved(str(parameter.get("name")), shown, "invalid key: " + names.KEY_RULE)
    return Unresolved(str(parameter.get("name")), key, "no such secret")


def _read_all(vault: Vault, token: str, tenant: str, keys: list[str]) -> dict[str, str | None]:
    """Read the keys concurrently; a missing key maps to None, any other failure is raised."""
    if not keys:
        return {}
    readers = vault.readers("nexo-resolve", _READERS)
    futures: list[Future[str | None]] = [readers.submit(_read, vault, token, tenant, k) for k in keys]
    try:
        return {key: future.result() for key, future in zip(keys, futures, strict=True)}
    finally:
        for future in futures:
            future.cancel()  # after a failure the remaining reads are not needed


def _read(vault: Vault, token: str, tenant: str, key: str) -> str | None:
    try:
        return vault.kv.read_value(token, tenant, key)
    except errors.NotFound:  # never created, or deleted
        return None
    except errors.PermissionDenied:
        raise errors.PermissionDenied(_NOT_HUB) from None
