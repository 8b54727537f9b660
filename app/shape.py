"""The one data shape, `{"value": "<string>"}`: whether a key's current version holds another.

The service writes only that shape and names who wrote each version in the key's
custom_metadata (`version_<n>_by`); a version without that entry was written around the service
(the Vault CLI, another tool) and may hold anything. KV v2 subkeys answers the structure with
every value replaced by null, so the shape is learnt without reading a value.
"""

from __future__ import annotations

import re

from app.vault import Vault
from app.vault import errors as vault_errors
from app.vault.kv import Metadata

# custom_metadata entry naming who wrote a version (KV v2 versions have no author field).
VERSION_BY = re.compile(r"^version_([0-9]+)_by$")


def version_by(version: int) -> str:
    return f"version_{version}_by"


def malformed(vault: Vault, token: str, tenant: str, meta: Metadata, *, every: bool = False) -> bool:
    """True when the current live version is not the one shape. Only versions the service did
    not write are asked (one subkeys call each): asking for every key would double a listing's
    Vault calls. With `every`, any live version is asked (one item, its history)."""
    current = meta.current
    if not current.holds_value or (not every and version_by(current.version) in meta.custom):
        return False
    try:
        return not vault.kv.holds_one_value(token, tenant, meta.key)
    except (vault_errors.NotFound, vault_errors.Denied):  # deleted meanwhile; a policy from before subkeys
        return False
