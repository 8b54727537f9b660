"""The naming rules for tenants, keys and referrers: the one copy, which the server imports too.

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

# A referrer: an Action or an Event Type of the Hub, by its kind and the Hub's id.
REFERRER_KINDS = ("action", "event-type")
REFERRER_KIND_RE = re.compile(r"^(?:action|event-type)\Z")
REFERRER_KIND_RULE = "One of: action, event-type."
REFERRER_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
REFERRER_ID_RE = re.compile(rf"^{REFERRER_ID_PATTERN}\Z")
REFERRER_ID_RULE = "1-128 letters, digits, '.', '_', ':' or '-'"


def is_tenant(name: object) -> bool:
    return isinstance(name, str) and TENANT_RE.match(name) is not None


def is_key(name: object) -> bool:
    return isinstance(name, str) and KEY_RE.match(name) is not None


def is_referrer(kind: object, id_: object) -> bool:
    return (
        isinstance(kind, str)
        and REFERRER_KIND_RE.match(kind) is not None
        and isinstance(id_, str)
        and REFERRER_ID_RE.match(id_) is not None
    )
