"""Vault itself: health, initializing and unsealing, mounts, and what a token may do."""

from __future__ import annotations

from typing import Any

from app.vault import errors
from app.vault.transport import Transport, path


class Sys:
    """sys/ endpoints the product uses."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def health(self) -> dict[str, Any]:
        """Vault's own health: reachable, initialized, sealed, standby."""
        try:
            reply = self.t.request(
                "GET", path("sys", "health"), params={"standbyok": "true", "perfstandbyok": "true"}, probe=True
            )
        except errors.Unavailable:
            return {"reachable": False}
        return {"reachable": True, **(reply if isinstance(reply, dict) else {})}

    def init(self) -> dict[str, Any]:
        """Initialize a new server with one unseal key: {keys_base64, root_token}."""
        return dict(self.t.request("PUT", path("sys", "init"), None, {"secret_shares": 1, "secret_threshold": 1}))

    def unseal(self, key: str) -> None:
        self.t.request("PUT", path("sys", "unseal"), None, {"key": key})

    def auth_methods(self, token: str) -> dict[str, Any]:
        """Enabled auth methods by path ('userpass/': {type, accessor, ...})."""
        reply = self.t.request("GET", path("sys", "auth"), token)
        return dict(reply.get("data") or reply)

    def enable_auth(self, token: str, mount: str, kind: str) -> None:
        self.t.request("POST", path("sys", "auth", mount), token, {"type": kind})

    def mounts(self, token: str) -> dict[str, Any]:
        """Secrets engines by path ('secret/': {type, options, ...})."""
        reply = self.t.request("GET", path("sys", "mounts"), token)
        return dict(reply.get("data") or reply)

    def enable_kv2(self, token: str, mount: str) -> None:
        self.t.request("POST", path("sys", "mounts", mount), token, {"type": "kv", "options": {"version": "2"}})

    def audit_request_header(self, token: str, header: str) -> None:
        """Have every audit device log a request header in clear (operator token)."""
        self.t.request("POST", path("sys", "config", "auditing", "request-headers", header), token, {"hmac": False})

    def auth_accessor(self, token: str, mount: str) -> str:
        """The accessor of an auth mount (entity aliases are keyed by it)."""
        found = self.auth_methods(token).get(mount.strip("/") + "/")  # the listing needs no sudo
        if not found:
            raise errors.NotFound(f"auth method {mount!r} is not enabled")
        return str(found["accessor"])

    def capabilities(self, token: str, policy_path: str) -> list[str]:
        """What the token may do on a path (sys/capabilities-self)."""
        reply = self.t.request("POST", path("sys", "capabilities-self"), token, {"paths": [policy_path]}) or {}
        found = reply.get(policy_path) or (reply.get("data") or {}).get(policy_path) or reply.get("capabilities")
        return [str(c) for c in found or []]

    def write_rate_limit(self, token: str, name: str, quota_path: str, rate: int, interval: int, block: int) -> None:
        """A rate-limit quota: `rate` requests per `interval` seconds per client address, then
        that address is refused for `block` seconds."""
        body = {"path": quota_path, "rate": rate, "interval": f"{interval}s", "block_interval": f"{block}s"}
        self.t.request("POST", path("sys", "quotas", "rate-limit", name), token, body)
