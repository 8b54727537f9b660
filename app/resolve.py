"""Resolve: the Hub's SECRET parameters get their values at run time, all or nothing.

Only the Hub's token can read values (vault-policies/nexo-hub.hcl): called with a reader's or
a writer's token, the reads fail with 403 from Vault itself.

With a wrap TTL no value is answered, nor seen by the service: Vault wraps its own read of each
key into a single-use token whose creation_path is that key's data path. Only a reader of the
value can make such a token, so a sink that checks the path knows it holds a read of the secret
it expects (DESIGN principle 5), not something any token could wrap with sys/wrapping/wrap.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from app import errors, names, rules, usage
from app.vault import Vault
from app.vault import errors as vault_errors

log = logging.getLogger(__name__)
T = TypeVar("T")

SECRET = "SECRET"
# Key reads in flight at once, shared by every request of a worker; below the Vault pool size.
_READERS = 16
# Long invalid "keys" are cut short in error details.
_SHOWN_KEY = 200
_NOT_HUB = "This token may not read secret values; only the Hub's token may"
# A key whose data is not the one shape {"value": "<string>"} (written around the service).
MALFORMED = "malformed"


class _Malformed:
    """What a read or check of such a key found, in place of a result."""


_MALFORMED = _Malformed()


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
    used: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """Give every SECRET parameter its value, or raise 422 naming each one that has none.

    Returns {"parameters": [...]}, and "warnings" naming each parameter whose key has expired
    (it still resolves). With wrap_ttl, each SECRET parameter comes back with "value": None,
    its "key" and "wrap": {"token", "ttl", "creation_path"} (see wrapped()). On success,
    used({key: custom_metadata}) learns which keys were resolved (for last_used_time)."""
    if len(parameters) > rules.MAX_PARAMETERS:
        raise errors.Unprocessable(errors={"parameters": [f"At most {rules.MAX_PARAMETERS} parameters per call."]})
    if wrap_ttl is not None and not rules.WRAP_TTL_MIN <= wrap_ttl <= rules.WRAP_TTL_MAX:
        raise errors.Unprocessable(
            errors={"wrap_ttl": [f"Must be {rules.WRAP_TTL_MIN} to {rules.WRAP_TTL_MAX} seconds."]}
        )

    # Each distinct valid key is read once, however many parameters name it.
    keys = list(dict.fromkeys(p["value"] for p in parameters if is_secret(p) and _valid_key(p.get("value"))))
    if not keys and not _can_read_values(vault, token, tenant):
        # Nothing to read, so Vault has not refused anything yet: ask it, so that a user's
        # token is refused whatever the parameters.
        raise errors.PermissionDenied(_NOT_HUB)
    if wrap_ttl is not None:
        answer, customs = wrapped(vault, token, tenant, parameters, keys, wrap_ttl)
    else:
        values = _each(vault, keys, lambda key: _read(vault, token, tenant, key))
        _all_or_nothing(tenant, parameters, values)
        read = {key: found for key, found in values.items() if isinstance(found, tuple)}
        customs = {key: custom for key, (_, custom) in read.items()}
        answer = {"parameters": [{**p, "value": read[p["value"]][0]} if is_secret(p) else dict(p) for p in parameters]}
    # Expired keys still resolve (breaking automations at midnight is worse); the answer says so.
    found = usage.warnings(parameters, customs, is_secret)
    if found:
        answer["warnings"] = found
    if used is not None:
        used(customs)
    return answer


def wrapped(
    vault: Vault, token: str, tenant: str, parameters: Sequence[Mapping[str, Any]], keys: list[str], ttl: int
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The wrapped delivery: one wrapped KV read per distinct key, all or nothing; and each
    key's custom_metadata (from the check, which answers it: the service never sees the read).

    Every key is first checked to hold a value (KV subkeys: no value is read), because Vault
    wraps the answer to a read of a deleted version like any other, and a missing key must
    leave no token made. A key gone between the check and its wrapped read (404) has every
    token already made revoked before the 422; one deleted in that instant yields a token that
    unwraps to no value, which the client refuses."""
    present = _each(vault, keys, lambda key: _present(vault, token, tenant, key))
    _all_or_nothing(tenant, parameters, present)
    made: dict[str, dict[str, Any]] = {}
    try:
        infos = _each(vault, keys, lambda key: _wrap_read(vault, token, tenant, key, ttl, made))
        _all_or_nothing(tenant, parameters, infos)
    except BaseException:
        _revoke(vault, list(made.values()))
        raise
    answer = {
        "parameters": [
            {**p, "value": None, "key": p["value"], "wrap": _wrap_info(infos[p["value"]])} if is_secret(p) else dict(p)
            for p in parameters
        ]
    }
    return answer, {key: custom for key, custom in present.items() if isinstance(custom, dict)}


def _wrap_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    assert info is not None  # _all_or_nothing passed
    return {"token": info["token"], "ttl": int(info["ttl"]), "creation_path": info["creation_path"]}


def _revoke(vault: Vault, infos: list[dict[str, Any]]) -> None:
    """Revoke wrapping tokens that will not be handed out. One Vault fails to revoke expires
    with its TTL (at most WRAP_TTL_MAX), never having left the service."""
    for info in infos:
        if not vault.auth.revoke_wrapping(info["token"]):
            log.warning("a wrapping token not handed out could not be revoked; it expires in %ss", info.get("ttl"))


def _all_or_nothing(tenant: str, parameters: Sequence[Mapping[str, Any]], found: Mapping[str, Any]) -> None:
    """Raise 422 naming every SECRET parameter whose key found nothing (missing, invalid or malformed)."""
    unresolved = [
        _why(p, _found(p, found)) for p in parameters if is_secret(p) and _found(p, found) in (None, _MALFORMED)
    ]
    if unresolved:
        count = len(unresolved)
        raise errors.Unprocessable(
            f"{count} SECRET parameter{'s' if count > 1 else ''} could not be resolved in tenant {tenant!r}",
            errors={"unresolved": [asdict(u) for u in unresolved]},
        )


def _can_read_values(vault: Vault, token: str, tenant: str) -> bool:
    capabilities = vault.sys.capabilities(token, vault.kv.data_path(tenant, "_"))
    return "read" in capabilities or "root" in capabilities


def _valid_key(key: Any) -> bool:
    return isinstance(key, str) and names.is_key(key)


def _found(parameter: Mapping[str, Any], found: Mapping[str, Any]) -> Any:
    key = parameter.get("value")
    return found.get(key) if isinstance(key, str) else None


def _why(parameter: Mapping[str, Any], found: Any) -> Unresolved:
    key = parameter.get("value")
    if not _valid_key(key):
        shown = key[:_SHOWN_KEY] if isinstance(key, str) else None
        return Unresolved(str(parameter.get("name")), shown, "invalid key: " + names.KEY_RULE)
    if found is _MALFORMED:
        return Unresolved(str(parameter.get("name")), key, MALFORMED)
    return Unresolved(str(parameter.get("name")), key, "no such secret")


def _each(vault: Vault, keys: list[str], call: Callable[[str], T]) -> dict[str, T]:
    """call(key) for every key, concurrently on the shared reader pool. A failure is raised once
    the calls already running have ended, so that whatever they made is known to the caller."""
    if not keys:
        return {}
    readers = vault.readers("nexo-resolve", _READERS)
    # Each call in a copy of this context: the request id reaches Vault's audit log from the pool too.
    futures: list[Future[T]] = [readers.submit(contextvars.copy_context().run, call, k) for k in keys]
    try:
        return {key: future.result() for key, future in zip(keys, futures, strict=True)}
    finally:
        for future in futures:
            future.cancel()  # after a failure the calls not yet started are not needed
        wait(futures)


def _read(vault: Vault, token: str, tenant: str, key: str) -> tuple[str, dict[str, Any]] | _Malformed | None:
    try:
        value, custom = vault.kv.read_current(token, tenant, key)
    except vault_errors.NotFound:  # never created, or deleted
        return None
    except vault_errors.Malformed:
        return _MALFORMED
    except vault_errors.Denied:
        raise errors.PermissionDenied(_NOT_HUB) from None
    if len(value.encode("utf-8")) > rules.MAX_VALUE_BYTES:  # more than the service ever writes
        return _MALFORMED
    return value, custom


def _present(vault: Vault, token: str, tenant: str, key: str) -> dict[str, Any] | _Malformed | None:
    try:
        return vault.kv.current_custom(token, tenant, key)
    except vault_errors.Malformed:
        return _MALFORMED
    except vault_errors.Denied:
        raise errors.PermissionDenied(_NOT_HUB) from None


def _wrap_read(
    vault: Vault, token: str, tenant: str, key: str, ttl: int, made: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    try:
        info = vault.kv.wrap_read(token, tenant, key, ttl)
    except vault_errors.NotFound:  # gone since the check
        return None
    except vault_errors.Denied:
        raise errors.PermissionDenied(_NOT_HUB) from None
    made[key] = info  # before anything else can fail: a token made is a token to revoke
    return info
