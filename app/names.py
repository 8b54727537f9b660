"""The naming rules for tenants, keys and users, checked before any Vault path is built."""

from __future__ import annotations

import re

from app import errors

TENANT_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
# Vault's userpass names a user by `\w(([\w-.@]+)?\w)?`: a name ending in '.', '-' or '@'
# matches no route there (405), so it is no user name here either.
USER_PATTERN = r"[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9_])?"
# Anchored with \Z (not $): '$' also matches before a trailing newline.
TENANT_RE = re.compile(rf"^{TENANT_PATTERN}\Z")
KEY_RE = re.compile(rf"^{KEY_PATTERN}\Z")
USER_RE = re.compile(rf"^{USER_PATTERN}\Z")


def documented(regex: re.Pattern[str]) -> str:
    """The pattern as OpenAPI (ECMA regex) writes it: '$' for Python's stricter '\\Z'."""
    return regex.pattern.removesuffix("\\Z") + "$"


TENANT_RULE = "1-63 lowercase letters, digits or '-', not starting or ending with '-'"
KEY_RULE = "starts with a letter or '_', then up to 127 letters, digits, '_', '.' or '-'"
USER_RULE = (
    "1-64 lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    " and ending with a letter, digit or '_'"
)


def is_tenant(name: str) -> bool:
    return isinstance(name, str) and TENANT_RE.match(name) is not None


def is_key(name: str) -> bool:
    return isinstance(name, str) and KEY_RE.match(name) is not None


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
