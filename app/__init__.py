"""Nexomatic Secrets: the tenant-scoped secrets store, a thin service in front of Vault.

The package imports no web framework by itself; `create_app` loads the service on first use.
The Hub's client is the separate distribution nexo-secrets-client (client/).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service (see app.factory)."""
    from app.factory import create_app as build

    return build(config)
