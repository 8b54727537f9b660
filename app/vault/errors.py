"""What can go wrong in a Vault call, in Vault's terms: no HTTP status of the service's, no
wording for people (app/errors.py and app/http_errors.py give those).

The transport raises one of these for every failed call; Vault's own error text is logged there
and never carried here.
"""

from __future__ import annotations


class VaultError(Exception):
    """A Vault call failed."""


class NotFound(VaultError):
    """No such path (a key, group, user or entity that does not exist)."""


class Denied(VaultError):
    """The token may not do this (Vault's 403 for a token it knows)."""


class TokenInvalid(VaultError):
    """The token is expired, revoked or unknown."""


class BadCredentials(VaultError):
    """A sign-in was refused (wrong password, unknown user, locked out, bad AppRole secret)."""


class Conflict(VaultError):
    """A check-and-set did not match: the data or metadata changed since it was read."""


class Malformed(VaultError):
    """A key's data is not the one shape {"value": "<string>"} (written around the service)."""


class Invalid(VaultError):
    """Vault refused the request as malformed (its 400)."""


class Unsupported(VaultError):
    """Vault has no such endpoint (e.g. HashiCorp Vault lacks OpenBao's detailed-metadata LIST)."""


class Unavailable(VaultError):
    """No node answered, Vault is sealed or not yet active, or it failed (5xx)."""


class RateLimited(Unavailable):
    """Vault answered 429."""
