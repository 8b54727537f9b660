"""Domain exceptions: what went wrong in the product's words; the message is safe to show.

No HTTP here: app/http_errors.py is the one place that turns these (and app/vault's errors) into
the JSON error shape with a status.
"""

from __future__ import annotations

from typing import Any

from app.vault import errors as vault

# Seconds a caller is told to wait when Vault is unavailable or rate-limiting.
RETRY_UNAVAILABLE = 5
RETRY_RATE_LIMITED = 1


class ServiceError(Exception):
    """Base of every error the service answers with.

    `errors` details problems as field -> list of messages (resolve: `unresolved`, a list of
    parameters; a stopped import: `results`)."""

    message = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors
        self.retry_after = retry_after


class BadRequest(ServiceError):
    message = "Bad request"


class NotAuthenticated(ServiceError):
    message = "Not signed in or the session has expired"


class PermissionDenied(ServiceError):
    message = "Permission denied"


class NotFound(ServiceError):
    message = "Not found"


class Conflict(ServiceError):
    message = "Conflict"


class UnsupportedMediaType(ServiceError):
    message = "Send the request body as application/json"


class Unprocessable(ServiceError):
    message = "Invalid input"


class TooManyRequests(ServiceError):
    message = "Too many requests"


class Unavailable(ServiceError):
    message = "The secrets backend is unavailable, try again shortly"


class Unsupported(ServiceError):
    """Vault has no such endpoint (e.g. HashiCorp Vault lacks OpenBao's detailed-metadata LIST)."""

    message = "Vault does not support this operation"


class TokenInvalid(NotAuthenticated):
    """The caller's Vault token is expired, revoked or unknown."""


def from_vault(error: vault.VaultError) -> ServiceError:
    """The domain error for a Vault error no service turned into something more precise."""
    if isinstance(error, vault.RateLimited):
        return TooManyRequests("Vault is rate-limiting requests", retry_after=RETRY_RATE_LIMITED)
    if isinstance(error, vault.Unavailable):
        return Unavailable(retry_after=RETRY_UNAVAILABLE)
    if isinstance(error, vault.Conflict):
        return Conflict("The secret was changed by someone else; reload and try again")
    if isinstance(error, vault.TokenInvalid):
        return TokenInvalid()
    if isinstance(error, vault.BadCredentials):
        return NotAuthenticated("Invalid username or password")
    if isinstance(error, vault.Denied):
        return PermissionDenied()
    if isinstance(error, vault.NotFound):
        return NotFound()
    if isinstance(error, vault.Unsupported):
        return Unsupported()
    if isinstance(error, vault.Invalid):
        return BadRequest("Vault refused the request")
    if isinstance(error, vault.Malformed):
        return Unprocessable('The secret\'s data is not the one shape {"value": "<string>"}')
    return Unavailable(retry_after=RETRY_UNAVAILABLE)
