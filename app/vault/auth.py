"""Signing in and tokens: userpass, AppRole and JWT, token lookups, revoking wrapping tokens."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.vault import errors
from app.vault.transport import Transport, path


@dataclass(frozen=True)
class TokenInfo:
    """Who a Vault token belongs to, from token/lookup-self."""

    name: str
    entity_id: str
    policies: tuple[str, ...]
    ttl: int
    accessor: str


class Auth:
    """The auth methods the product uses (userpass for people, AppRole for the Hub) and tokens."""

    def __init__(self, transport: Transport, userpass_mount: str, approle_mount: str) -> None:
        self.t = transport
        self.userpass_mount = userpass_mount
        self.approle_mount = approle_mount

    # -- signing in --------------------------------------------------------------------------

    def login_userpass(self, username: str, password: str, budget: str | None = None) -> dict[str, Any]:
        """Vault's auth block for a userpass sign-in; BadCredentials for any bad credential.

        `budget` is sent as the client address: OpenBao's sign-in quota counts per address, so
        the service names the failure budget the attempt spends (app/auth.py, "device cookies").
        Over it, RateLimited."""
        try:
            reply = self.t.request(
                "POST",
                path("auth", self.userpass_mount, "login", username),
                None,
                {"password": password},
                forwarded_for=budget,
            )
        except (errors.Invalid, errors.Denied, errors.NotFound, errors.Unsupported):
            # Vault says 400 for a wrong password and for an unknown user alike, 403 for a
            # locked-out account, 405 for a name its route refuses: all a bad credential.
            raise errors.BadCredentials("Invalid username or password") from None
        return dict(reply["auth"])

    def login_approle(self, role_id: str, secret_id: str) -> dict[str, Any]:
        """Vault's auth block for an AppRole login."""
        body = {"role_id": role_id, "secret_id": secret_id}
        try:
            reply = self.t.request("POST", path("auth", self.approle_mount, "login"), None, body)
        except (errors.Invalid, errors.Denied):
            raise errors.BadCredentials("Invalid AppRole credentials") from None
        return dict(reply["auth"])

    def login_jwt(self, mount: str, role: str, jwt: str) -> dict[str, Any]:
        """Vault's auth block for a JWT login (a Hub run); BadCredentials for any refused JWT."""
        try:
            reply = self.t.request("POST", path("auth", mount, "login"), None, {"role": role, "jwt": jwt})
        except (errors.Invalid, errors.Denied):
            # Vault says 400 for a bad signature, issuer, audience, expiry or claim alike.
            raise errors.BadCredentials("The JWT was refused") from None
        return dict(reply["auth"])

    # -- tokens ------------------------------------------------------------------------------

    def lookup_self(self, token: str) -> TokenInfo:
        """Who the token belongs to; TokenInvalid if it is expired or revoked."""
        try:
            data = self.t.request("GET", path("auth", "token", "lookup-self"), token)["data"]
        except errors.Denied:
            raise errors.TokenInvalid() from None
        meta = data.get("meta") or {}
        name = meta.get("username") or meta.get("role_name") or data.get("display_name") or "unknown"
        policies = set(data.get("policies") or []) | set(data.get("identity_policies") or [])
        return TokenInfo(
            name=str(name),
            entity_id=str(data.get("entity_id") or ""),
            policies=tuple(sorted(policies)),
            ttl=int(data.get("ttl") or 0),
            accessor=str(data.get("accessor") or ""),
        )

    def token_alive(self, token: str) -> bool:
        """Whether Vault still knows the token (auth/token/lookup-self answers)."""
        try:
            self.t.request("GET", path("auth", "token", "lookup-self"), token)
        except (errors.TokenInvalid, errors.Denied):
            return False
        return True

    def revoke_self(self, token: str) -> None:
        """Revoke the token (sign-out); an already dead token is fine."""
        try:
            self.t.request("POST", path("auth", "token", "revoke-self"), token)
        except (errors.TokenInvalid, errors.Denied):
            pass

    def revoke_wrapping(self, wrapping_token: str) -> bool:
        """Revoke a wrapping token that must never be unwrapped; True if Vault confirmed it.

        Sent with the wrapping token itself, so no policy of the caller's is needed: a wrapping
        token has one use, and Vault spends it on this request (even one its policy refuses)."""
        try:
            self.t.request("POST", path("auth", "token", "revoke-self"), wrapping_token)
        except (errors.TokenInvalid, errors.Denied):
            return True  # already used, expired or revoked: unusable either way
        except errors.VaultError:
            return False
        return True

    # -- accounts and roles (operator and admin) ---------------------------------------------

    def write_user(self, token: str, user: str, password: str, policies: Iterable[str] = ()) -> None:
        """Create or update a userpass account (the embedded default's people)."""
        body: dict[str, Any] = {"password": password}
        if policies:
            body["token_policies"] = list(policies)
        self.t.request("POST", path("auth", self.userpass_mount, "users", user), token, body)

    def change_password(self, token: str, user: str, password: str) -> None:
        """Set a userpass account's password (the user's own token: nexo-self allows only their own)."""
        body = {"password": password}
        self.t.request("POST", path("auth", self.userpass_mount, "users", user, "password"), token, body)

    def tune_userpass(self, token: str, session_hours: float) -> None:
        """Tokens that end with the session, and no user lockout (anyone could trigger it)."""
        ttl = f"{max(1, int(session_hours * 3600))}s"
        body = {"default_lease_ttl": ttl, "max_lease_ttl": ttl, "user_lockout_config": {"lockout_disable": True}}
        self.t.request("POST", path("sys", "auth", self.userpass_mount, "tune"), token, body)

    def user_exists(self, token: str, user: str) -> bool:
        try:
            self.t.request("GET", path("auth", self.userpass_mount, "users", user), token)
        except errors.NotFound:
            return False
        return True

    def list_users(self, token: str) -> list[str]:
        """The userpass accounts' names (none yet: an empty list)."""
        try:
            reply = self.t.request("LIST", path("auth", self.userpass_mount, "users"), token)
        except errors.NotFound:
            return []
        return [str(k) for k in (reply.get("data") or {}).get("keys") or []]

    def delete_user(self, token: str, user: str) -> bool:
        """Delete a userpass account; False if there was none."""
        if not self.user_exists(token, user):
            return False
        self.t.request("DELETE", path("auth", self.userpass_mount, "users", user), token)
        return True

    def write_approle(self, token: str, role: str, settings: Mapping[str, Any]) -> None:
        self.t.request("POST", path("auth", self.approle_mount, "role", role), token, dict(settings))

    def approle_role_id(self, token: str, role: str) -> str:
        reply = self.t.request("GET", path("auth", self.approle_mount, "role", role, "role-id"), token)
        return str(reply["data"]["role_id"])

    def approle_secret_id(self, token: str, role: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """A new secret_id for an AppRole role: {secret_id, secret_id_accessor, secret_id_ttl}."""
        body = {"metadata": json.dumps(dict(metadata))}
        return dict(
            self.t.request("POST", path("auth", self.approle_mount, "role", role, "secret-id"), token, body)["data"]
        )

    def write_jwt_config(self, token: str, mount: str, settings: Mapping[str, Any]) -> None:
        """Configure a jwt auth mount: the keys (or JWKS URL) and the issuer it trusts."""
        self.t.request("POST", path("auth", mount, "config"), token, dict(settings))

    def write_jwt_role(self, token: str, mount: str, role: str, settings: Mapping[str, Any]) -> None:
        """Create a jwt role, or update the fields given of an existing one."""
        self.t.request("POST", path("auth", mount, "role", role), token, dict(settings))

    def read_jwt_role(self, token: str, mount: str, role: str) -> dict[str, Any] | None:
        try:
            return dict(self.t.request("GET", path("auth", mount, "role", role), token)["data"])
        except errors.NotFound:
            return None
