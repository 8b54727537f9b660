"""SecretsClient: resolve SECRET parameters for the Hub, unwrap delivered ones in a sink module
after checking them against the sink's own expectation, and keep every value out of the logs.
The Hub also declares which keys its Actions and Event Types reference (declare, check, forget).

Needs only urllib3 and the standard library (no Flask, no hvac), so a Hub or a sink module can
install it alone (see the package docstring for a sketch, the server's README for the whole).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload
from urllib.parse import quote

import urllib3

from nexo_secrets_client import names
from nexo_secrets_client.masking import MaskingFilter

log = logging.getLogger(__name__)

SECRET = "SECRET"


# -- errors: they name tenants, keys and parameters, never a value ------------------------


class SecretsClientError(Exception):
    """A failed call. The message names tenants, keys and parameters, never a value."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotAuthorized(SecretsClientError):
    """401/403: the token is invalid, or may not resolve (only the Hub's may)."""


@dataclass(frozen=True)
class UnresolvedParameter:
    name: str
    key: str | None
    reason: str


class Unresolved(SecretsClientError):
    """422 from resolve: these SECRET parameters have no value (missing or invalid key)."""

    def __init__(self, tenant: str, unresolved: list[UnresolvedParameter]) -> None:
        listed = ", ".join(f"{u.name} (key {u.key!r}: {u.reason})" for u in unresolved)
        super().__init__(f"unresolved SECRET parameters in tenant {tenant!r}: {listed}", 422)
        self.tenant = tenant
        self.unresolved = unresolved


class UnwrapError(SecretsClientError):
    """Refused: the delivery is not what the sink expects, or a token is invalid, expired, used,
    or not Vault's read of the expected key."""


@dataclass(frozen=True)
class Delivery:
    """A wrapped resolve, for a sink module: the parameters in order, every SECRET one with
    "value": None, its "key" and "wrap": {"token", "ttl", "creation_path"}, a single-use token
    of Vault's own read of that key. Parameters naming the same key share one token."""

    tenant: str
    parameters: list[dict[str, Any]] = field(repr=False)  # holds the tokens
    ttl: int

    @property
    def keys(self) -> list[str]:
        """The distinct keys delivered, in order."""
        return list(dict.fromkeys(p["key"] for p in self.parameters if "wrap" in p))

    def as_dict(self) -> dict[str, Any]:
        """The JSON form to hand to a sink: {"tenant", "parameters"}."""
        return {"tenant": self.tenant, "parameters": [dict(p) for p in self.parameters]}


@dataclass(frozen=True)
class ParameterCheck:
    """The state of one SECRET parameter's key, never its value: `status` is ok, missing (no
    such key, or a value that is no key), deleted, expired, expiring (within 14 days) or malformed."""

    name: str
    key: str
    status: str


@dataclass(frozen=True)
class Referrer:
    """An Action or an Event Type as the service now has it declared: the keys its SECRET
    parameters name and the check of each of those parameters, in order."""

    tenant: str
    kind: str
    id: str
    name: str
    keys: list[str]
    updated_time: str | None
    check: list[ParameterCheck]

    @property
    def problems(self) -> list[ParameterCheck]:
        """The parameters whose key would not resolve cleanly today (status other than ok)."""
        return [c for c in self.check if c.status != "ok"]


# -- the client ---------------------------------------------------------------------------


class SecretsClient:
    """Resolve for the Hub (service base_url + a Vault token or AppRole), unwrap for sink modules.

    Thread-safe: one client may serve many task runs at once. Every value it hands out is
    added to `log_filter`, which masks it in any log record once attached to the handlers.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        vault_addr: str | None = None,
        token: str | None = None,
        role_id: str | None = None,
        secret_id: str | None = None,
        approle_mount: str = "approle",
        timeout: float = 10.0,
        ca_certs: str | None = None,
        log_filter: MaskingFilter | None = None,
        pool_size: int = 16,
        kv_mount: str = "secret",
        kv_prefix: str = "tenants",
    ) -> None:
        if (role_id is None) != (secret_id is None):
            raise ValueError("give both role_id and secret_id, or neither")
        if role_id is not None and token is not None:
            raise ValueError("give a token or AppRole credentials, not both")
        if role_id is not None and not vault_addr:
            raise ValueError("AppRole login needs vault_addr")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.vault_addr = vault_addr.rstrip("/") if vault_addr else None
        self.approle_mount = approle_mount
        # Where the service keeps secrets (its KV_MOUNT and KV_PREFIX): a delivered token must
        # have been created by a read of <kv_mount>/data/<kv_prefix>/<tenant>/<key>.
        self.kv_mount = kv_mount.strip("/")
        self.kv_prefix = kv_prefix.strip("/")
        self.log_filter = log_filter or MaskingFilter()
        self._role_id = role_id
        self._secret_id = secret_id
        self._token = token
        self._lease = 0  # seconds; 0: the token does not expire (or is not ours to renew)
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._token_lock = threading.Lock()
        self._http = urllib3.PoolManager(
            maxsize=pool_size,
            retries=False,
            timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
            ca_certs=ca_certs,
        )

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> SecretsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- resolve (the Hub) ----------------------------------------------------------------

    @overload
    def resolve(
        self,
        tenant: str,
        parameters: Sequence[Mapping[str, Any]],
        wrap_ttl: None = None,
        *,
        referrer: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]: ...

    @overload
    def resolve(
        self,
        tenant: str,
        parameters: Sequence[Mapping[str, Any]],
        wrap_ttl: int | str,
        *,
        referrer: tuple[str, str] | None = None,
    ) -> Delivery: ...

    def resolve(
        self,
        tenant: str,
        parameters: Sequence[Mapping[str, Any]],
        wrap_ttl: int | str | None = None,
        *,
        referrer: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]] | Delivery:
        """Give SECRET parameters their values (all or nothing); with wrap_ttl, a Delivery of
        wrapped reads for a sink module instead (no value passes through the Hub).

        `referrer`, (kind, id) of the Action or Event Type this run is for, has the service
        record when it last resolved and warn (logged here) of keys it did not declare."""
        what = f"resolve in tenant {tenant!r}"
        body: dict[str, Any] = {"parameters": [dict(p) for p in parameters]}
        if wrap_ttl is not None:
            body["wrap_ttl"] = wrap_ttl
        if referrer is not None:
            kind, id_ = _referrer_of(referrer)
            body["referrer"] = {"kind": kind, "id": id_}
        status, payload = self._service("POST", tenant, "resolve", body, what)
        if status == 200 and isinstance(payload, dict):
            _log_warnings(tenant, payload)
            if wrap_ttl is not None:
                return self._delivery(tenant, payload)
            resolved = list(payload.get("parameters") or [])
            self._remember(resolved)
            log.debug("resolved %d parameters for tenant %s", len(resolved), tenant)
            return resolved
        raise _failure(what, tenant, status, payload)

    def _delivery(self, tenant: str, payload: dict[str, Any]) -> Delivery:
        """The wrapped answer as a Delivery, refused unless every SECRET parameter carries a
        token made at its key's path (a plain string check; the sink asks Vault)."""
        parameters = payload.get("parameters")
        if not isinstance(parameters, list):
            raise SecretsClientError(f"resolve in tenant {tenant!r}: the answer holds no parameters")
        ttls = []
        for parameter in parameters:
            if not isinstance(parameter, dict) or not _is_secret(parameter):
                continue
            wrap, key = parameter.get("wrap"), parameter.get("key")
            if (
                not isinstance(wrap, dict)
                or not isinstance(key, str)
                or parameter.get("value") is not None
                or not isinstance(wrap.get("token"), str)
                or wrap.get("creation_path") != self.creation_path(tenant, key)
            ):
                name = parameter.get("name")
                raise SecretsClientError(f"resolve in tenant {tenant!r}: {name!r} is not a wrapped read of its key")
            ttls.append(int(wrap.get("ttl") or 0))
        return Delivery(tenant=tenant, parameters=parameters, ttl=min(ttls, default=0))

    # -- references (the Hub): which Actions and Event Types use which keys -----------------

    def declare(self, tenant: str, kind: str, id: str, name: str, parameters: Sequence[Mapping[str, Any]]) -> Referrer:
        """Declare an Action's (kind "action") or Event Type's ("event-type") parameters, in
        resolve's shape, each time the Hub saves one: only SECRET ones are kept, and this
        replaces what it declared before. Answers the referrer with the check of each SECRET
        parameter (a missing or expiring key is no refusal: see `Referrer.problems`)."""
        what = f"declare {str(kind)[:20]} {str(id)[:128]!r} in tenant {tenant!r}"
        body = {"name": name, "parameters": [dict(p) for p in parameters]}
        status, payload = self._service("PUT", tenant, _referrer_path(kind, id), body, what)
        if status == 200 and isinstance(payload, dict):
            keys = payload.get("keys")
            return Referrer(
                tenant=tenant,
                kind=str(payload.get("kind", kind)),
                id=str(payload.get("id", id)),
                name=str(payload.get("name", name)),
                keys=[str(k) for k in keys] if isinstance(keys, list) else [],
                updated_time=_text_or_none(payload.get("updated_time")),
                check=_checks_of(what, payload),
            )
        raise _failure(what, tenant, status, payload)

    def forget(self, tenant: str, kind: str, id: str) -> None:
        """Forget a referrer the Hub deleted (and every key's entry of it). A referrer that is
        not declared raises SecretsClientError with status 404."""
        what = f"forget {str(kind)[:20]} {str(id)[:128]!r} in tenant {tenant!r}"
        status, payload = self._service("DELETE", tenant, _referrer_path(kind, id), None, what)
        if status == 204:
            return
        if status == 404:
            raise SecretsClientError(f"{what}: it is not declared, so there is nothing to forget", 404)
        raise _failure(what, tenant, status, payload)

    def check(self, tenant: str, parameters: Sequence[Mapping[str, Any]]) -> list[ParameterCheck]:
        """The state of each SECRET parameter's key (in resolve's shape; others are left out),
        stored nowhere: for the Hub's editor while a user edits an Action."""
        what = f"check in tenant {tenant!r}"
        body = {"parameters": [dict(p) for p in parameters]}
        status, payload = self._service("POST", tenant, "check", body, what)
        if status == 200 and isinstance(payload, dict):
            return _checks_of(what, payload)
        raise _failure(what, tenant, status, payload)

    # -- the service's calls ----------------------------------------------------------------

    def _service(self, method: str, tenant: str, path: str, body: Any, what: str) -> tuple[int, Any]:
        """One call to /api/v1/tenants/<tenant>/<path> with the current token; on a 401 with
        AppRole (revoked or expired behind our back), log in again and send it once more."""
        if not self.base_url:
            raise SecretsClientError(f"{what.split(' ', 1)[0]} needs the service's base_url")
        if not names.is_tenant(tenant):
            # Checked here: '..' would be collapsed on the way into another path of the service.
            raise SecretsClientError(f"not a valid tenant name {str(tenant)[:80]!r}: {names.TENANT_RULE}")
        url = f"{self.base_url}/api/v1/tenants/{tenant}/{path}"
        status, payload = self._send_service(method, url, body)
        if status == 401 and self._role_id is not None:
            self._forget_token()
            status, payload = self._send_service(method, url, body)
        return status, payload

    def _send_service(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._current_token()}"}
        return self._request(method, url, headers, body, "the secrets service")

    # -- unwrap (sink modules) ------------------------------------------------------------

    def creation_path(self, tenant: str, key: str) -> str:
        """The creation path of Vault's read of a key: what a genuine delivery token shows."""
        if not names.is_tenant(tenant) or not names.is_key(key):
            raise UnwrapError(f"not a valid tenant and key: {str(tenant)[:80]!r}, {str(key)[:200]!r}")
        return "/".join(p for p in (self.kv_mount, "data", self.kv_prefix, tenant, key) if p)

    @overload
    def unwrap(self, delivered: str, *, tenant: str, key: str) -> str: ...

    @overload
    def unwrap(
        self,
        delivered: Delivery | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        tenant: str,
        expect: Mapping[str, str],
    ) -> list[dict[str, Any]]: ...

    def unwrap(
        self,
        delivered: str | Delivery | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        tenant: str,
        key: str | None = None,
        expect: Mapping[str, str] | None = None,
    ) -> str | list[dict[str, Any]]:
        """Unwrap a delivery directly from Vault, once, after proving it is what the sink expects.

        `tenant`, `key` and `expect` are the sink's own configuration, never read from the
        delivery. `delivered` is one wrapping token with the `key` it must be a read of (returns
        the value), or a whole delivery (a Delivery, its as_dict(), the service's answer or its
        parameter list) with `expect`, each parameter the sink takes as SECRET and its key, e.g.
        {"db_password": "DATABASE_PASSWORD"} (returns the parameters with their values, as a
        plain resolve would; the others as they came).

        Refused with every token left unused: an expected parameter that is missing or arrives
        plain (another type, a value, no token), a SECRET parameter the sink does not expect, and,
        once every token has been looked up (which does not use it), a token that Vault did not
        create by a read of exactly <kv_mount>/data/<kv_prefix>/<tenant>/<key> of the expected
        key, in Vault's root namespace: any token can wrap anything with sys/wrapping/wrap, but
        only a reader of that value can make this path. Then each token is unwrapped once, and
        one whose answer is no read of a value refuses the delivery."""
        if isinstance(delivered, str):
            if key is None or expect is not None:
                raise UnwrapError("give the key the wrapping token must be a read of (and no expect)")
            self._check_origin(delivered, tenant, key)
            value = self._unwrap_read(delivered, tenant, key)
            self.log_filter.add(value)
            return value
        if expect is None or key is not None:
            raise UnwrapError("give expect: each parameter the sink takes as SECRET and the key it must be a read of")
        parameters = _parameters_of(delivered, tenant)
        tokens = _expected_tokens(parameters, expect)
        for token, expected in tokens.items():
            self._check_origin(token, tenant, expected)
        values: dict[str, str] = {}
        for token, expected in tokens.items():
            values[token] = self._unwrap_read(token, tenant, expected)
            self.log_filter.add(values[token])
        return [
            {k: v for k, v in p.items() if k not in ("key", "wrap")} | {"value": values[p["wrap"]["token"]]}
            if p.get("name") in expect
            else dict(p)
            for p in parameters
        ]

    def _check_origin(self, token: str, tenant: str, key: str) -> None:
        """Refuse, without using it, a token that is not Vault's read of tenant/key."""
        expected = self.creation_path(tenant, key)
        if token.count(".") > 1:
            # <type>.<random>.<namespace id>: made in a namespace, where creation paths are
            # relative to the namespace, so whoever runs any namespace could make this path.
            raise UnwrapError(f"the wrapping token for key {key!r} was made in a Vault namespace; not unwrapped")
        status, payload = self._request(
            "POST", f"{self._vault_addr()}/v1/sys/wrapping/lookup", {}, {"token": token}, "Vault"
        )
        if status != 200 or not isinstance(payload, dict):
            raise UnwrapError(f"the wrapping token for key {key!r} is invalid, expired or already used", status)
        made_at = (payload.get("data") or {}).get("creation_path")
        if made_at != expected:
            raise UnwrapError(
                f"the wrapping token for key {key!r} was created at {made_at!r}, not {expected!r}; not unwrapped"
            )

    def _unwrap_read(self, token: str, tenant: str, key: str) -> str:
        """Unwrap a checked token: the value of the KV read it holds."""
        status, payload = self._request(
            "POST", f"{self._vault_addr()}/v1/sys/wrapping/unwrap", {"X-Vault-Token": token}, None, "Vault"
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        if status == 404 and isinstance(data, dict) and isinstance(data.get("metadata"), dict):
            # Vault wraps its 404 for a deleted version like any answer.
            raise UnwrapError(f"key {key!r} of tenant {tenant!r} was deleted when it was read; no value", status)
        if status != 200 or not isinstance(data, dict):
            # It was valid a moment ago: someone else unwrapped it in between. Treat as compromised.
            raise UnwrapError(f"the wrapping token for key {key!r} was used by someone else after the lookup", status)
        read = data.get("data")
        value = read.get("value") if isinstance(read, dict) else None
        if not isinstance(value, str) or not isinstance(data.get("metadata"), dict):
            # Made at the key's path but not by a read: e.g. a writer's wrapped write, whose
            # answer is the new version's metadata. Its lookup shows the same creation path, so
            # only unwrapping tells; the delivery is refused and no value of it handed out.
            raise UnwrapError(
                f"the wrapping token for key {key!r} holds no read of its value (not Vault's read of the key,"
                " e.g. a wrapped write); refused"
            )
        return value

    # -- tokens ---------------------------------------------------------------------------

    def login_jwt(self, jwt: str, role: str = "nexo-hub-run", mount: str = "hub-jwt") -> None:
        """Exchange a run's JWT (signed by the Hub, naming one tenant) for a run token: it reads
        that tenant's values alone and ends with its TTL; the next run brings a new JWT."""
        if self._role_id is not None:
            raise ValueError("this client logs in with AppRole; use one client per run for run tokens")
        url = f"{self._vault_addr()}/v1/auth/{quote(mount, safe='')}/login"
        status, payload = self._request("POST", url, {}, {"role": role, "jwt": jwt}, "Vault")
        auth = payload.get("auth") if isinstance(payload, dict) else None
        if status != 200 or not auth:
            # Vault's reason is not repeated (nor, ever, the JWT): one message for every refusal.
            why = "expired, badly signed, for another audience or issuer, or for no provisioned tenant"
            raise NotAuthorized(f"run token login with role {role!r} was refused: the JWT is {why}", status)
        with self._token_lock:
            self._token = str(auth["client_token"])
        log.info("logged in to Vault with a run JWT (token ttl %ss)", int(auth.get("lease_duration") or 0))

    def _current_token(self) -> str:
        """The Vault token for the next call: logged in, renewed or logged in again as needed."""
        with self._token_lock:
            if self._role_id is None:
                if not self._token:
                    raise SecretsClientError("no Vault token and no AppRole credentials")
                return self._token
            now = time.monotonic()
            if self._token is None or (self._lease and now >= self._expires_at):
                self._login()
            elif self._lease and now >= self._renew_at:
                self._renew()
            assert self._token is not None
            return self._token

    def _forget_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _login(self) -> None:
        url = f"{self._vault_addr()}/v1/auth/{quote(self.approle_mount, safe='')}/login"
        status, payload = self._request(
            "POST", url, {}, {"role_id": self._role_id, "secret_id": self._secret_id}, "Vault"
        )
        auth = payload.get("auth") if isinstance(payload, dict) else None
        if status != 200 or not auth:
            raise NotAuthorized("AppRole login failed: role_id or secret_id is wrong or expired", status)
        self._took(str(auth["client_token"]), int(auth.get("lease_duration") or 0))
        log.info("logged in to Vault with AppRole (token ttl %ss)", self._lease)

    def _renew(self) -> None:
        """Renew the token; near its max TTL (or if renewal fails) log in afresh instead."""
        assert self._token is not None
        url = f"{self._vault_addr()}/v1/auth/token/renew-self"
        status, payload = self._request("POST", url, {"X-Vault-Token": self._token}, {}, "Vault")
        auth = payload.get("auth") if isinstance(payload, dict) else None
        granted = int(auth.get("lease_duration") or 0) if auth else 0
        if status == 200 and granted >= self._lease // 3:
            self._took(self._token, granted, keep_lease=True)
            log.debug("renewed the Vault token (ttl %ss)", granted)
        else:
            self._login()

    def _took(self, token: str, lease: int, *, keep_lease: bool = False) -> None:
        now = time.monotonic()
        self._token = token
        if not keep_lease:
            self._lease = lease
        self._expires_at = now + lease - min(5, lease / 10)
        self._renew_at = now + lease * 2 / 3

    # -- plumbing -------------------------------------------------------------------------

    def _vault_addr(self) -> str:
        if not self.vault_addr:
            raise SecretsClientError("this needs vault_addr (the Vault server the wrapping tokens come from)")
        return self.vault_addr

    def _request(self, method: str, url: str, headers: dict[str, str], body: Any, what: str) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            response = self._http.request(method, url, body=data, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise SecretsClientError(f"could not reach {what}: {type(exc).__name__}") from None
        try:
            payload = json.loads(response.data) if response.data else None
        except ValueError:
            payload = None
        return response.status, payload

    def _remember(self, parameters: Iterable[Any]) -> None:
        for parameter in parameters:
            if isinstance(parameter, dict) and _is_secret(parameter) and isinstance(parameter.get("value"), str):
                self.log_filter.add(parameter["value"])


def _log_warnings(tenant: str, payload: Mapping[str, Any]) -> None:
    """Log each warning the service gave (it still resolved): keys, parameters and referrers,
    never a value. expired: renew the key; undeclared, unknown_referrer: declare the referrer."""
    found = payload.get("warnings")
    for warning in found if isinstance(found, list) else []:
        if not isinstance(warning, dict):
            continue
        code = warning.get("code")
        key = str(warning.get("key"))[:128]
        referrer = f"{str(warning.get('kind'))[:20]} {str(warning.get('id'))[:128]!r}"
        if code == "expired":
            log.warning(
                "resolve in tenant %s: key %s (parameter %s) expired at %s; it still resolves, renew it",
                tenant,
                key,
                str(warning.get("name"))[:256],
                str(warning.get("expires_at"))[:40],
            )
        elif code == "undeclared":
            log.warning(
                "resolve in tenant %s: key %s was resolved for %s, which does not declare it; declare it again",
                tenant,
                key,
                referrer,
            )
        elif code == "unknown_referrer":
            log.warning("resolve in tenant %s: %s is not declared; declare it", tenant, referrer)


def _referrer_of(referrer: Any) -> tuple[str, str]:
    """(kind, id) as given; their rules are the service's, which answers 422 naming them."""
    if not isinstance(referrer, tuple) or len(referrer) != 2 or not all(isinstance(p, str) for p in referrer):
        raise ValueError('referrer is (kind, id), e.g. ("action", "send-invoice")')
    return referrer[0], referrer[1]


def _referrer_path(kind: str, id_: str) -> str:
    """The service path of a referrer; its kind and id are checked by the service's own rules
    first, so a '/' or an empty id is a clear error rather than another path (404)."""
    if not names.is_referrer(kind, id_):
        raise SecretsClientError(
            f"not a valid referrer {str(kind)[:20]!r}/{str(id_)[:128]!r}: the kind is "
            f"{' or '.join(names.REFERRER_KINDS)}, the id {names.REFERRER_ID_RULE}"
        )
    return f"references/{_segment(kind)}/{_segment(id_)}"


def _segment(text: str) -> str:
    """One path segment, as the service must see it: '/' and the rest encoded, and '.' or '..'
    (valid ids) encoded too, which urllib3 would otherwise remove as dot segments."""
    quoted = quote(str(text), safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _checks_of(what: str, payload: Mapping[str, Any]) -> list[ParameterCheck]:
    found = payload.get("check")
    if not isinstance(found, list):
        raise SecretsClientError(f"{what}: the answer holds no check")
    return [
        ParameterCheck(str(c.get("name")), str(c.get("key")), str(c.get("status")))
        for c in found
        if isinstance(c, dict)
    ]


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_secret(parameter: Mapping[str, Any]) -> bool:
    kind = parameter.get("type")
    return isinstance(kind, str) and kind.upper() == SECRET


def _parameters_of(delivered: Any, tenant: str) -> list[Mapping[str, Any]]:
    """The parameter list of a delivery in any of its forms, for the tenant the sink expects."""
    if isinstance(delivered, Delivery):
        delivered = delivered.as_dict()
    if isinstance(delivered, Mapping):
        if delivered.get("tenant", tenant) != tenant:
            raise UnwrapError(f"the delivery is for tenant {delivered.get('tenant')!r}, not {tenant!r}")
        delivered = delivered.get("parameters")
    if not isinstance(delivered, Sequence) or not all(isinstance(p, Mapping) for p in delivered):
        raise UnwrapError("not a delivery: expected a list of parameters")
    return list(delivered)


def _expected_tokens(parameters: Sequence[Mapping[str, Any]], expect: Mapping[str, str]) -> dict[str, str]:
    """Each wrapping token of the delivery and the key the sink expects it to be a read of.

    The delivery's own labels (its "type" aside, "key" and "creation_path") are never trusted:
    the key comes from `expect`, and a parameter that does not match it is refused here."""
    tokens: dict[str, str] = {}  # token -> key
    seen: set[str] = set()
    for parameter in parameters:
        name = parameter.get("name")
        shown = str(name)[:256]
        if not isinstance(name, str) or name not in expect:
            if _is_secret(parameter):
                raise UnwrapError(
                    f"parameter {shown!r} arrived as SECRET but the sink does not expect it; nothing unwrapped"
                )
            continue
        expected = expect[name]
        wrap = parameter.get("wrap")
        token = wrap.get("token") if isinstance(wrap, Mapping) else None
        if not _is_secret(parameter) or parameter.get("value") is not None:
            raise UnwrapError(
                f"parameter {shown!r} is expected as SECRET (key {expected!r}) but arrived plain; nothing unwrapped"
            )
        if not isinstance(token, str):
            raise UnwrapError(
                f"parameter {shown!r} (key {expected!r}) arrived without a wrapping token; nothing unwrapped"
            )
        if tokens.setdefault(token, expected) != expected:
            raise UnwrapError(f"one wrapping token is given for keys {tokens[token]!r} and {expected!r}")
        seen.add(name)
    missing = sorted(set(expect) - seen)
    if missing:
        listed = ", ".join(missing)
        raise UnwrapError(f"expected SECRET parameters missing from the delivery: {listed}; nothing unwrapped")
    return tokens


def _failure(what: str, tenant: str, status: int, payload: Any) -> SecretsClientError:
    """An error from the service's answer: its message (which never holds a value) and names."""
    body = payload if isinstance(payload, dict) else {}
    message = body.get("message")
    message = message[:300] if isinstance(message, str) else f"HTTP {status}"
    details = body.get("errors")
    details = details if isinstance(details, dict) else {}
    listed = details.get("unresolved") if status == 422 else None
    if isinstance(listed, list):
        return Unresolved(
            tenant,
            [
                UnresolvedParameter(str(u.get("name")), u.get("key"), str(u.get("reason") or ""))
                for u in listed
                if isinstance(u, dict)
            ],
        )
    if status in (401, 403):
        return NotAuthorized(f"{what}: {message}", status)
    if status == 422 and details:
        fields = ", ".join(sorted(details))
        return SecretsClientError(f"{what}: {message} ({fields})", status)
    return SecretsClientError(f"{what}: {message}", status)
