"""Who the caller is: browser sessions (Vault userpass) and machine callers (Bearer tokens).

The browser's session cookie holds the user's Vault token encrypted with a key derived from
SECRET_KEY, so neither the browser nor anyone holding the cookie without that key can read it.
The token lives as long as the session (bootstrap sets the userpass mount's TTL) and is revoked
at sign-out and when the same browser signs in again.

Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a browser that
signed in as a user gets a cookie naming that user, signed with SECRET_KEY. Each sign-in spends
a failure budget that OpenBao itself counts (the `nexo-sign-in` rate-limit quota counts per
client address, and the service sends the budget's name as X-Forwarded-For): one budget per
device cookie, and one per account for every browser without one. An attacker who exhausts an
account's budget gets 429s; the user's own browser, with its cookie, still signs in. OpenBao's
user lockout, which anyone could trigger, is off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
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
from flask import Flask, Response, current_app, g, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from app import access, errors, names
from app.secrets import Caller
from app.vault import Vault
from app.vault import errors as vault_errors

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

login_manager = LoginManager()


class User(UserMixin):  # type: ignore[misc]
    """A signed-in caller: their Vault token and how they presented it."""

    def __init__(
        self,
        token: str,
        name: str | None,
        *,
        via_session: bool,
        sealed: str = "",
        entity_id: str | None = None,
        first_password: bool = False,
    ) -> None:
        self.token = token
        self._name = name
        self.via_session = via_session
        self._sealed = sealed
        self._entity_id = entity_id
        self.first_password = first_password  # the password an admin chose: change it first

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

    def identity(self) -> str:
        """Who counts as one caller for in-flight limits: the Vault entity (a person or a machine
        identity, however many tokens it holds); a token without an entity counts by itself."""
        if self._entity_id is None:
            self._entity_id = current_app.extensions["nexo_entities"].entity_of(self.token)
        return "e:" + self._entity_id if self._entity_id else "t:" + _digest(self.token)


def vault() -> Vault:
    return current_app.extensions["nexo_vault"]  # type: ignore[no-any-return]


def _fernet(app: Flask) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nexo-session-token").derive(
        app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def seal(token: str, name: str, entity_id: str = "", ends: float = 0, first_password: bool = False) -> str:
    """The session's token, user, entity, end (epoch seconds) and first-password mark, encrypted."""
    fernet: Fernet = current_app.extensions["nexo_fernet"]
    data = {"t": token, "n": name, "e": entity_id, "x": ends, "f": first_password}
    return fernet.encrypt(json.dumps(data).encode()).decode()


def unseal(sealed: str) -> tuple[str, str] | None:
    """The sealed session's token and user name (see opened)."""
    data = opened(sealed)
    return None if data is None else (str(data["t"]), str(data["n"]))


def opened(sealed: str) -> dict[str, Any] | None:
    """The sealed session's contents; None if forged, older than a session or past its token's end."""
    fernet: Fernet = current_app.extensions["nexo_fernet"]
    ttl = int(current_app.permanent_session_lifetime.total_seconds())
    try:
        data = json.loads(fernet.decrypt(sealed.encode(), ttl=ttl))
    except (InvalidToken, ValueError):
        return None
    if not isinstance(data, dict) or (data.get("x") and float(data["x"]) <= time.time()):
        return None
    return data


@login_manager.user_loader
def _from_session(sealed: str) -> User | None:
    if request.headers.get("Authorization"):
        return None  # an explicit Bearer token wins over a cookie
    data = opened(sealed)
    if data is None:
        return None
    return User(
        str(data["t"]),
        str(data["n"]),
        via_session=True,
        sealed=sealed,
        entity_id=str(data.get("e") or ""),
        first_password=bool(data.get("f")),
    )


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

    In memory, per worker process: a cheap first stop for one noisy address. Per account, the
    bound is OpenBao's sign-in quota (per failure budget, see the module's docstring), which every
    worker and replica shares."""

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


DEVICE_COOKIE = "nexo_device"
DEVICE_DAYS = 180
TOO_MANY_SIGN_INS = "Too many sign-ins for this account from browsers it has not used before; try again later"


def _device_key() -> bytes:
    return bytes(current_app.extensions["nexo_device_key"])


def device_cookie(username: str) -> str:
    """A new device cookie for a browser that just signed in as `username`: user, nonce, MAC."""
    nonce = secrets.token_urlsafe(16)
    mac = hmac.new(_device_key(), f"{username}|{nonce}".encode(), hashlib.sha256).hexdigest()
    return f"{username}.{nonce}.{mac}"


def device_of(username: str) -> str | None:
    """The nonce of this browser's device cookie if it is genuine and names `username`."""
    head, _, mac = request.cookies.get(DEVICE_COOKIE, "").rpartition(".")
    user, _, nonce = head.rpartition(".")  # user names may hold '.', nonce and MAC do not
    if not nonce or not hmac.compare_digest(user, username):
        return None
    expected = hmac.new(_device_key(), f"{user}|{nonce}".encode(), hashlib.sha256).hexdigest()
    return nonce if hmac.compare_digest(mac, expected) else None


def failure_budget(username: str) -> str:
    """The name of the failure budget this attempt spends, as the address OpenBao's quota counts:
    this browser's own if it holds a device cookie for the user, else the account's shared one.
    A unique-local IPv6 address (fd00::/8) made from a MAC of the user (and device)."""
    username = username.lower()  # Vault's userpass names are lowercase: 'Bob' is 'bob'
    nonce = device_of(username)
    what = f"device|{username}|{nonce}" if nonce else f"account|{username}"
    digest = hmac.new(_device_key(), what.encode(), hashlib.sha256).digest()
    return str(ipaddress.IPv6Address(b"\xfd" + digest[:15]))


def sign_in(username: str, password: str) -> User:
    """Log in with Vault userpass and start a fresh session (revoking this browser's last token)."""
    started = time.monotonic()
    throttle: LoginThrottle = current_app.extensions["nexo_throttle"]
    address = request.remote_addr or "-"  # the client's, behind NEXO_TRUSTED_PROXIES proxies
    throttle.check(address)
    try:
        # A name no account can have never becomes a Vault path ('..' would be one), and gets
        # the same answer as a wrong password.
        if not names.is_user(username.lower()):
            raise errors.NotAuthenticated()
        auth = vault().auth.login_userpass(username, password, budget=failure_budget(username))
    except (errors.NotAuthenticated, vault_errors.BadCredentials):
        throttle.failed(address)
        pad_failure(started, current_app.config["LOGIN_FAILURE_SECONDS"])
        raise errors.NotAuthenticated("Invalid username or password") from None
    except vault_errors.RateLimited:
        # OpenBao's sign-in quota: this budget is spent, whether the password was right or not.
        throttle.failed(address)
        raise errors.TooManyRequests(TOO_MANY_SIGN_INS, retry_after=access.SIGN_IN_BLOCK) from None
    name = (auth.get("metadata") or {}).get("username") or username
    token = auth["client_token"]
    previous = current_user.token if current_user.is_authenticated and current_user.via_session else None
    if previous and previous != token:
        vault().auth.revoke_self(previous)  # one live token per browser
    entity_id = str(auth.get("entity_id") or "")
    # The session ends when its token does (the userpass mount's TTL), at most SESSION_HOURS on.
    lease = int(auth.get("lease_duration") or 0)
    hours = current_app.permanent_session_lifetime.total_seconds()
    ends = time.time() + (min(lease, hours) if lease else hours)
    first = vault().kv.first_password(token, name)
    session.clear()  # a new session at every sign-in: nothing carries over
    user = User(
        token,
        name,
        via_session=True,
        sealed=seal(token, name, entity_id, ends, first),
        entity_id=entity_id,
        first_password=first,
    )
    session.permanent = True
    login_user(user)
    session["csrf"] = secrets.token_urlsafe(32)
    g.nexo_device = device_cookie(name)  # set on the answer (after_request below)
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Set the caller's own password, after checking the current one (which spends the same
    sign-in budget as a sign-in: a stolen session cannot guess faster). Vault's nexo-self policy
    lets a token change its own account's password only."""
    if new == current:  # checked here, not in the schema: OpenAPI cannot say it, and 401 comes first
        raise errors.Unprocessable("Choose a new password", errors={"new": ["Must differ from the current password."]})
    name = user.name
    try:
        proof = vault().auth.login_userpass(name, current, budget=failure_budget(name))
    except vault_errors.BadCredentials:
        raise errors.Unprocessable("The current password is wrong", errors={"current": ["Wrong password."]}) from None
    except vault_errors.RateLimited:
        raise errors.TooManyRequests(TOO_MANY_SIGN_INS, retry_after=access.SIGN_IN_BLOCK) from None
    vault().auth.revoke_self(str(proof["client_token"]))  # only the proof was wanted
    vault().auth.change_password(user.token, name, new)
    if user.first_password or not user.via_session:
        vault().kv.clear_first_password(user.token, name)
    if user.via_session:
        data = opened(user.get_id()) or {}
        user.first_password = False
        user._sealed = seal(user.token, name, str(data.get("e") or ""), float(data.get("x") or 0), False)
        login_user(user)  # the cookie now says the password is the user's own


def require_own_password(user: User) -> None:
    """A first password an admin chose works for choosing one's own, and nothing else."""
    if user.first_password:
        raise errors.PermissionDenied(FIRST_PASSWORD)


FIRST_PASSWORD = "Choose your own password first (the account menu, or `secrets passwd`)"


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


class Entities:
    """The Vault entity of each Bearer token, looked up once and kept for the token's life
    (bounded in number; the oldest are forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._known: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def entity_of(self, token: str) -> str:
        key, now = _digest(token), time.monotonic()
        with self._lock:
            found = self._known.get(key)
        if found and found[1] > now:
            return found[0]
        info = vault().auth.lookup_self(token)
        with self._lock:
            if len(self._known) >= self.size:
                self._known.pop(next(iter(self._known)))
            self._known[key] = (info.entity_id, now + max(info.ttl, 60) if info.ttl else now + 3600)
        return info.entity_id


def init_app(app: Flask) -> None:
    app.extensions["nexo_fernet"] = _fernet(app)
    app.extensions["nexo_entities"] = Entities()
    app.extensions["nexo_device_key"] = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"nexo-device-cookie"
    ).derive(app.config["SECRET_KEY"].encode())
    app.extensions["nexo_throttle"] = LoginThrottle(
        app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCKOUT_SECONDS"]
    )
    app.permanent_session_lifetime = timedelta(hours=app.config["SESSION_HOURS"])
    login_manager.init_app(app)

    @app.after_request
    def _device(response: Response) -> Response:
        cookie = g.pop("nexo_device", None)
        if cookie and response.status_code == 200:
            response.set_cookie(
                DEVICE_COOKIE,
                cookie,
                max_age=DEVICE_DAYS * 86400,
                path="/api/v1/session",
                secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
                httponly=True,
                samesite="Strict",
            )
        return response
