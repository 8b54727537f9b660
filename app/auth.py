"""Who the caller is: browser sessions (Vault userpass) and machine callers (Bearer tokens).

The browser's session cookie holds the user's Vault token encrypted with a key derived from
SECRET_KEY, so neither the browser nor anyone holding the cookie without that key can read it.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from app import errors, names
from app.secrets import Caller
from app.vault import Vault
from app.vault import errors as vault_errors

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

login_manager = LoginManager()


class User(UserMixin):  # type: ignore[misc]
    """A signed-in caller: their Vault token and how they presented it."""

    def __init__(self, token: str, name: str | None, *, via_session: bool, sealed: str = "") -> None:
        self.token = token
        self._name = name
        self.via_session = via_session
        self._sealed = sealed

    def get_id(self) -> str:
        # Flask-Login keeps this in the session cookie: the token, encrypted.
        return self._sealed

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = vault().auth.lookup_self(self.token).name  # a Bearer caller, when a write needs it
        return self._name

    def caller(self) -> Caller:
        return Caller(token=self.token, name_of=lambda: self.name)


def vault() -> Vault:
    return current_app.extensions["nexo_vault"]  # type: ignore[no-any-return]


def _fernet(app: Flask) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nexo-session-token").derive(
        app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(token: str, name: str) -> str:
    fernet: Fernet = current_app.extensions["nexo_fernet"]
    return fernet.encrypt(json.dumps({"t": token, "n": name}).encode()).decode()


def unseal(sealed: str) -> tuple[str, str] | None:
    fernet: Fernet = current_app.extensions["nexo_fernet"]
    ttl = int(current_app.permanent_session_lifetime.total_seconds())
    try:
        data = json.loads(fernet.decrypt(sealed.encode(), ttl=ttl))
    except (InvalidToken, ValueError):
        return None
    return str(data["t"]), str(data["n"])


@login_manager.user_loader
def _from_session(sealed: str) -> User | None:
    if request.headers.get("Authorization"):
        return None  # an explicit Bearer token wins over a cookie
    opened = unseal(sealed)
    if opened is None:
        return None
    return User(opened[0], opened[1], via_session=True, sealed=sealed)


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if it can be a Vault token."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if len(token) > 512 or not token.isascii() or not token.isprintable():
        return None
    return token


@login_manager.request_loader
def _from_bearer(req: Any) -> User | None:
    token = bearer_token(req.headers.get("Authorization", ""))
    return None if token is None else User(token, None, via_session=False)


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    raise errors.NotAuthenticated()


def require_user() -> User:
    """The signed-in caller, or 401."""
    if not current_user.is_authenticated:
        raise errors.NotAuthenticated()
    return current_user  # type: ignore[no-any-return]


def check_csrf() -> None:
    """Cookie-authenticated unsafe requests must echo the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if not current_user.is_authenticated or not getattr(current_user, "via_session", False):
        return
    expected = session.get("csrf", "")
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise errors.PermissionDenied("Missing or wrong X-CSRF-Token header")


class LoginThrottle:
    """Counts failed sign-ins per client address; refuses that address for a while after too many.

    In memory, per worker process. Per-user limits are OpenBao's own user lockout (userpass
    locks an account after repeated failures, for every replica alike): a bucket per user name
    here would be per worker, and would let anyone lock a name out of every address."""

    def __init__(self, max_failures: int, lockout_seconds: int) -> None:
        self.max_failures = max_failures
        self.lockout = lockout_seconds
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self.lockout]
            self._failures[address] = recent
            if len(recent) >= self.max_failures * 4:
                retry = int(self.lockout - (now - recent[0])) + 1
                raise errors.TooManyRequests("Too many failed sign-ins; try again later", retry_after=retry)

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(time.monotonic())


def pad_failure(started: float, floor: float) -> None:
    """Answer a failed sign-in at a whole multiple of `floor` seconds after it began.

    OpenBao answers an unknown name after a password hash (~70 ms) and a locked-out account at
    once (~3 ms): without this, the time of a 401 tells which names exist."""
    if floor <= 0:
        return
    elapsed = time.monotonic() - started
    time.sleep(floor * max(1, math.ceil(elapsed / floor)) - elapsed)


def sign_in(username: str, password: str) -> User:
    """Log in with Vault userpass and start a fresh session."""
    started = time.monotonic()
    throttle: LoginThrottle = current_app.extensions["nexo_throttle"]
    address = request.remote_addr or "-"  # the client's, behind NEXO_TRUSTED_PROXIES proxies
    throttle.check(address)
    try:
        # A name no account can have never becomes a Vault path ('..' would be one), and gets
        # the same answer as a wrong password.
        if not names.is_user(username.lower()):
            raise errors.NotAuthenticated()
        auth = vault().auth.login_userpass(username, password)
    except (errors.NotAuthenticated, vault_errors.BadCredentials):
        throttle.failed(address)
        pad_failure(started, current_app.config["LOGIN_FAILURE_SECONDS"])
        raise errors.NotAuthenticated("Invalid username or password") from None
    name = (auth.get("metadata") or {}).get("username") or username
    token = auth["client_token"]
    session.clear()  # a new session at every sign-in: nothing carries over
    user = User(token, name, via_session=True, sealed=seal(token, name))
    session.permanent = True
    login_user(user)
    session["csrf"] = secrets.token_urlsafe(32)
    return user


def sign_out() -> None:
    """Revoke the user's Vault token and end the session."""
    if current_user.is_authenticated:
        vault().auth.revoke_self(current_user.token)
    logout_user()
    session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def init_app(app: Flask) -> None:
    app.extensions["nexo_fernet"] = _fernet(app)
    app.extensions["nexo_throttle"] = LoginThrottle(
        app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCKOUT_SECONDS"]
    )
    app.permanent_session_lifetime = timedelta(hours=app.config["SESSION_HOURS"])
    login_manager.init_app(app)
