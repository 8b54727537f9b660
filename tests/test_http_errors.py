"""The one mapping of errors to HTTP: every Vault error has an answer, and only the mapping knows statuses."""

from __future__ import annotations

from typing import Any

from app import errors, http_errors
from app.vault import errors as vault_errors


def _kinds(base: type[Any]) -> list[type[Any]]:
    found = []
    for kind in base.__subclasses__():
        found += [kind, *_kinds(kind)]
    return found


def test_every_vault_error_is_answered_with_its_own_status() -> None:
    answered = {
        kind.__name__: http_errors.status_of(errors.from_vault(kind())) for kind in _kinds(vault_errors.VaultError)
    }
    assert answered == {
        "NotFound": 404,
        "Denied": 403,
        "TokenInvalid": 401,
        "BadCredentials": 401,
        "Conflict": 409,
        "Invalid": 400,
        "Malformed": 422,
        "Unsupported": 501,
        "Unavailable": 503,
        "RateLimited": 429,
    }


def test_statuses_live_in_the_mapping_only() -> None:
    for kind in _kinds(vault_errors.VaultError) + _kinds(errors.ServiceError):
        assert not hasattr(kind, "status"), kind
    assert {http_errors.status_of(kind()) for kind in _kinds(errors.ServiceError)} <= {
        status for _, status in http_errors.STATUS
    }


def test_webargs_messages_become_field_to_messages() -> None:
    nested = {"json": {"parameters": {"0": {"name": ["Shorter than minimum length 1."]}}, "wrap_ttl": ["Bad."]}}
    assert http_errors.field_errors(nested) == {
        "parameters.0.name": ["Shorter than minimum length 1."],
        "wrap_ttl": ["Bad."],
    }
