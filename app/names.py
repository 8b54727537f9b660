"""The naming rules for tenants, keys and users, checked before any Vault path is built.

Tenant, key and referrer rules are the client's (nexo_secrets_client.names, one copy for the server, the
Hub and the sinks); this module adds the user rule and the checks that answer 400.
"""

from __future__ import annotations

import re

from nexo_secrets_client.names import (
    KEY_PATTERN,
    KEY_RE,
    KEY_RULE,
    REFERRER_ID_PATTERN,
    REFERRER_ID_RE,
    REFERRER_ID_RULE,
    REFERRER_KIND_RE,
    REFERRER_KIND_RULE,
    REFERRER_KINDS,
    TENANT_PATTERN,
    TENANT_RE,
    TENANT_RULE,
    is_key,
    is_tenant,
)

from app import errors

__all__ = [
    "KEY_PATTERN",
    "KEY_RE",
    "KEY_RULE",
    "REFERRER_ID_PATTERN",
    "REFERRER_ID_RE",
    "REFERRER_ID_RULE",
    "REFERRER_KINDS",
    "REFERRER_KIND_RE",
    "REFERRER_KIND_RULE",
    "TENANT_PATTERN",
    "TENANT_RE",
    "TENANT_RULE",
    "USER_PATTERN",
    "USER_RE",
    "USER_RULE",
    "documented",
    "is_key",
    "is_tenant",
    "is_user",
    "key",
    "tenant",
    "user",
]

# Vault's userpass names a user by `\w(([\w-.@]+)?\w)?`: a name ending in '.', '-' or '@'
# matches no route there (405), so it is no user name here either.
USER_PATTERN = r"[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9_])?"
# Anchored with \Z (not $): '$' also matches before a trailing newline.
USER_RE = re.compile(rf"^{USER_PATTERN}\Z")


def documented(regex: re.Pattern[str]) -> str:
    """The pattern as OpenAPI (ECMA regex) writes it: '$' for Python's stricter '\\Z'."""
    return regex.pattern.removesuffix("\\Z") + "$"


USER_RULE = (
    "1-64 lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    " and ending with a letter, digit or '_'"
)


def is_user(name: str) -> bool:
    return isinstance(name, str) and USER_RE.match(name) is not None


def tenant(name: str) -> str:
    """Return the tenant name if valid, else raise a 400 naming the rule."""
    if not is_tenant(name):
        raise errors.BadRequest("Invalid tenant name", errors={"tenant": [TENANT_RULE]})
    return name


def key(name: str) -> str:
    """Return the key if valid, else raise a 400 naming the rule."""
    if not is_key(name):
        raise errors.BadRequest("Invalid key", errors={"key": [KEY_RULE]})
    return name


def user(name: str) -> str:
    """Return the user name if valid, else raise a 400 naming the rule."""
    if not is_user(name):
        raise errors.BadRequest("Invalid user name", errors={"user": [USER_RULE]})
    return name
