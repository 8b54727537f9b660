"""The naming rules for tenants and keys: the one copy, which the server imports too.

A sink builds the creation path it expects from these, and the server checks every name against
them before a Vault path is built: HTTP clients collapse `..` and `//`, so a lax check would be
a path into another tenant.
"""

from __future__ import annotations

import re

TENANT_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
# Anchored with \Z (not $): '$' also matches before a trailing newline.
TENANT_RE = re.compile(rf"^{TENANT_PATTERN}\Z")
KEY_RE = re.compile(rf"^{KEY_PATTERN}\Z")

TENANT_RULE = "1-63 lowercase letters, digits or '-', not starting or ending with '-'"
KEY_RULE = "starts with a letter or '_', then up to 127 letters, digits, '_', '.' or '-'"


def is_tenant(name: object) -> bool:
    return isinstance(name, str) and TENANT_RE.match(name) is not None


def is_key(name: object) -> bool:
    return isinstance(name, str) and KEY_RE.match(name) is not None
