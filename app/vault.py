"""The only module that talks to Vault (or OpenBao).

One urllib3 connection pool is shared by every request; each call carries the caller's own
token. Path segments are URL-quoted by one helper. Vault's answers become domain errors here;
Vault's own text (which may hold URLs) is logged, never handed upward.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import hvac.adapters
import hvac.exceptions
import urllib3

from app import errors

log = logging.getLogger(__name__)

# Vault answers 400 with these texts when a (metadata) check-and-set version does not match.
_CAS_MISMATCH = ("check-and-set parameter did not match", "check-and-set parameter does not match")
_RETRY_AFTER_UNAVAILABLE = 5
_NO_ROUTE = "no handler for route"
_IDEMPOTENT = frozenset({"GET", "LIST", "HEAD"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503})
_FIRST_BACKOFF = 0.05


def segment(value: str) -> str:
    """Quote one path segment so that '/', '..', '?' and '%' can never change the path."""
    return quote(value, safe="")


def path(*segments: str) -> str:
    """Build a Vault API path from segments, each quoted; '/' inside a segment is escaped."""
    return "/v1/" + "/".join(segment(s) for s in segments)


class Urllib3Adapter(hvac.adapters.Adapter):  # type: ignore[misc]
    """An hvac adapter on one shared urllib3 pool: the leanest way to reach Vault."""

    # Set by app.observe to count and time calls: (method, url, status or None if unreachable, seconds).
    observer: Callable[[str, str, int | None, float], None] | None = None

    def __init__(
        self,
        addresses: list[str],
        *,
        timeout: float = 5.0,
        cacert: str | None = None,
        pool_size: int = 32,
    ) -> None:
        super().__init__(base_uri=addresses[0], timeout=timeout)
        self.addresses = addresses
        self._current = 0
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(
            num_pools=max(4, len(addresses)),
            maxsize=pool_size,
            # No blind retries: a write must never be sent twice behind the caller's back.
            retries=False,
            timeout=urllib3.Timeout(connect=min(2.0, timeout), read=timeout),
            ca_certs=cacert,
        )

    def close(self) -> None:
        self._pool.clear()

    def get_login_token(self, response: Any) -> str:
        return str(response["auth"]["client_token"])

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        raise_exception: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Send one request; returns the decoded JSON body (or None for 204)."""
        headers = dict(headers or {})
        headers["X-Vault-Request"] = "true"
        if self.token and "X-Vault-Token" not in headers:
            headers["X-Vault-Token"] = self.token
        if kwargs.get("wrap_ttl"):
            headers["X-Vault-Wrap-TTL"] = str(kwargs["wrap_ttl"])
        body = None
        if kwargs.get("json") is not None:
            body = json.dumps(kwargs["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        if kwargs.get("params"):
            url = f"{url}?{urlencode(kwargs['params'])}"
        started, answered = time.perf_counter(), None  # answered: Vault's status, None if unreachable
        try:
            response = self._send(method, url, body, headers)
            answered = response.status
        finally:
            if self.observer is not None:
                self.observer(method, url, answered, time.perf_counter() - started)
        if response.status in (307, 308) and response.headers.get("Location"):
            # A standby that cannot forward (e.g. mid-election) points at the active node. It
            # did not process the request, so sending it there once is safe, writes included.
            response = self._follow(method, response.headers["Location"], body, headers)
        status = response.status
        data = response.data
        payload: Any = None
        if data:
            try:
                payload = json.loads(data)
            except ValueError:
                payload = None
        if (300 <= status < 400 or (status != 204 and payload is None and status < 300)) and raise_exception:
            # Not an answer Vault gives when it is healthy: treat as a failed call (retried for reads).
            raise hvac.exceptions.VaultError.from_status(502, None, method=method, url=url, text=data[:200])
        errs = payload.get("errors") if isinstance(payload, dict) else None
        if status == 404 and errs and any(_NO_ROUTE in str(e) for e in errs):
            # A node that has just become active answers 404 for its mounts until they are set
            # up: the backend is not ready yet, which is not "no such secret".
            status = 503
        if status >= 400 and raise_exception:
            error = hvac.exceptions.VaultError.from_status(
                status, None, errors=errs, method=method, url=url, text=data[:500]
            )
            error.status_code = status  # hvac maps only some statuses to classes (405 is "unexpected")
            raise error
        return payload

    def _follow(self, method: str, location: str, body: bytes | None, headers: dict[str, str]) -> Any:
        try:
            return self._pool.request(method, location, body=body, headers=headers, redirect=False)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            raise VaultUnreachable(f"{method} redirect: connect failed", sent=False) from None
        except urllib3.exceptions.HTTPError as exc:
            raise VaultUnreachable(f"{method} redirect: {type(exc).__name__}", sent=True) from None

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Any:
        # Several addresses: a node that cannot be connected to is skipped. Only a failure to
        # connect moves on (the request was never sent), so a write is never sent twice.
        last: Exception | None = None
        for attempt in range(len(self.addresses)):
            with self._lock:
                index = (self._current + attempt) % len(self.addresses)
            base = self.addresses[index]
            try:
                # Straight to the node's connection pool: PoolManager.request would parse the
                # URL again on every call (a tenth of a call's time); errors are the same.
                pool = self._pool.connection_from_url(base)
                response = pool.urlopen(method, url, body=body, headers=headers, redirect=False)
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
                last = exc
                continue
            except urllib3.exceptions.HTTPError as exc:
                # A read timeout or a dropped connection: the request may have been processed.
                raise VaultUnreachable(f"{method} {url}: {type(exc).__name__}", sent=True) from None
            if attempt:
                with self._lock:
                    self._current = index
            return response
        raise VaultUnreachable(f"{method} {url}: {type(last).__name__}", sent=False) from None


class VaultUnreachable(Exception):
    """No Vault node answered (connection refused, timeout, dropped connection)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent  # False: no node ever received the request, so resending is safe


@dataclass(frozen=True)
class TokenInfo:
    """Who a Vault token belongs to, from token/lookup-self."""

    name: str
    entity_id: str
    policies: tuple[str, ...]
    ttl: int
    accessor: str


class Vault:
    """Vault's API, reduced to what the product uses; every call takes the caller's token."""

    def __init__(
        self,
        addresses: list[str],
        *,
        mount: str = "secret",
        prefix: str = "tenants",
        userpass_mount: str = "userpass",
        approle_mount: str = "approle",
        timeout: float = 5.0,
        cacert: str | None = None,
    ) -> None:
        self.adapter = Urllib3Adapter(addresses, timeout=timeout, cacert=cacert)
        self.attempts = 3
        # Retries of one call stop once this much time has passed: the caller gets its 503 quickly.
        self.retry_budget = timeout
        self.mount = mount
        self.prefix = tuple(p for p in prefix.split("/") if p)
        self.userpass_mount = userpass_mount
        self.approle_mount = approle_mount
        self._detailed_listing: bool | None = None
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()

    def readers(self, name: str, workers: int) -> ThreadPoolExecutor:
        """A thread pool for concurrent reads, one per purpose and process, made on first use
        (after a pre-forking server has forked); its reads share this adapter's connection pool."""
        pool = self._pools.get(name)
        if pool is None:
            with self._pools_lock:
                pool = self._pools.get(name)
                if pool is None:
                    pool = self._pools[name] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        return pool

    # -- the one place requests are made ------------------------------------------------

    def _request(
        self,
        method: str,
        api_path: str,
        token: str | None,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        wrap_ttl: str | None = None,
        content_type: str | None = None,
        raise_exception: bool = True,
    ) -> Any:
        """One Vault request, retried with backoff only where that cannot duplicate a write.

        Reads (GET, LIST) are retried after a dropped connection, a timeout, 429 or a 5xx; any
        request is retried when no node could even be connected to. Raises hvac errors or
        VaultUnreachable."""
        headers = {"X-Vault-Token": token} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        idempotent = method in _IDEMPOTENT
        deadline = time.monotonic() + self.retry_budget
        delay = _FIRST_BACKOFF
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.adapter.request(
                    method,
                    api_path,
                    headers=headers,
                    json=body,
                    params=params,
                    wrap_ttl=wrap_ttl,
                    raise_exception=raise_exception,
                )
            except VaultUnreachable as exc:
                failure: Exception = exc
                retry = idempotent or not exc.sent
            except hvac.exceptions.VaultError as exc:
                failure = exc
                retry = idempotent and _status_of(exc) in _RETRY_STATUSES
            pause = delay * (0.5 + random.random())
            if not retry or attempt >= self.attempts or time.monotonic() + pause > deadline:
                raise failure
            time.sleep(pause)
            delay *= 4

    def call(
        self,
        method: str,
        api_path: str,
        token: str | None,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        wrap_ttl: str | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Make one Vault request with the caller's token; translate failures to domain errors."""
        try:
            return self._request(
                method, api_path, token, body, params, wrap_ttl=wrap_ttl, content_type=content_type
            )
        except VaultUnreachable as exc:
            log.warning("vault unreachable: %s", exc)
            raise errors.Unavailable(retry_after=_RETRY_AFTER_UNAVAILABLE) from None
        except hvac.exceptions.VaultError as exc:
            raise self._translate(exc, token) from None

    def _translate(self, exc: hvac.exceptions.VaultError, token: str | None) -> errors.ServiceError:
        status = _status_of(exc)
        text = " ".join(str(e) for e in (exc.errors or []))
        log.info("vault answered %s to %s %s: %s", status, exc.method, _strip(exc.url), text[:300])
        if status == 400 and any(m in text for m in _CAS_MISMATCH):
            return errors.Conflict("The secret was changed by someone else; reload and try again")
        if status == 403:
            if token and not self.token_valid(token):
                return errors.TokenInvalid()
            return errors.PermissionDenied()
        if status == 404:
            return errors.NotFound()
        if status == 429:
            return errors.TooManyRequests("Vault is rate-limiting requests", retry_after=1)
        if status in (500, 502, 503, 501):
            return errors.Unavailable(retry_after=_RETRY_AFTER_UNAVAILABLE)
        if status == 400:
            return errors.BadRequest("Vault refused the request")
        return errors.Unavailable(retry_after=_RETRY_AFTER_UNAVAILABLE)

    # -- tokens and sign-in -------------------------------------------------------------

    def login_userpass(self, username: str, password: str) -> dict[str, Any]:
        """Log in with userpass; returns Vault's auth block. Bad credentials -> NotAuthenticated."""
        try:
            reply = self.call(
                "POST", path("auth", self.userpass_mount, "login", username), None, {"password": password}
            )
        except (errors.BadRequest, errors.PermissionDenied, errors.NotFound):
            # Vault says 400 for a wrong password and for an unknown user alike.
            raise errors.NotAuthenticated("Invalid username or password") from None
        return dict(reply["auth"])

    def login_approle(self, role_id: str, secret_id: str) -> dict[str, Any]:
        """Log in with AppRole; returns Vault's auth block."""
        try:
            reply = self.call(
                "POST",
                path("auth", self.approle_mount, "login"),
                None,
                {"role_id": role_id, "secret_id": secret_id},
            )
        except (errors.BadRequest, errors.PermissionDenied):
            raise errors.NotAuthenticated("Invalid AppRole credentials") from None
        return dict(reply["auth"])

    def lookup_self(self, token: str) -> TokenInfo:
        """Who the token belongs to; NotAuthenticated if it is expired or revoked."""
        try:
            data = self._request("GET", path("auth", "token", "lookup-self"), token)["data"]
        except hvac.exceptions.Forbidden:
            raise errors.TokenInvalid() from None
        except VaultUnreachable:
            raise errors.Unavailable(retry_after=_RETRY_AFTER_UNAVAILABLE) from None
        except hvac.exceptions.VaultError as exc:
            raise self._translate(exc, None) from None
        meta = data.get("meta") or {}
        name = meta.get("username") or meta.get("role_name") or data.get("display_name") or "unknown"
        policies = tuple(sorted(set(data.get("policies") or []) | set(data.get("identity_policies") or [])))
        return TokenInfo(
            name=str(name),
            entity_id=str(data.get("entity_id") or ""),
            policies=policies,
            ttl=int(data.get("ttl") or 0),
            accessor=str(data.get("accessor") or ""),
        )

    def token_valid(self, token: str) -> bool:
        """True if Vault still knows the token (used to tell 401 from 403)."""
        try:
            self._request("GET", path("auth", "token", "lookup-self"), token)
        except hvac.exceptions.Forbidden:
            return False
        except (hvac.exceptions.VaultError, VaultUnreachable):
            return True
        return True

    def revoke_self(self, token: str) -> None:
        """Revoke the token (logout); an already dead token is fine."""
        try:
            self.call("POST", path("auth", "token", "revoke-self"), token)
        except errors.NotAuthenticated:
            pass

    # -- tenant secrets (KV v2) ---------------------------------------------------------

    def _kv(self, kind: str, tenant: str, key: str | None = None) -> str:
        parts = [self.mount, kind, *self.prefix, tenant]
        if key is not None:
            parts.append(key)
        return path(*parts)

    def list_detailed(
        self, token: str, tenant: str, after: str | None, limit: int | None
    ) -> dict[str, dict[str, Any]] | None:
        """OpenBao's LIST detailed-metadata: keys with metadata in one call.

        Returns None when the server has no such endpoint (HashiCorp Vault)."""
        if self._detailed_listing is False:
            return None
        params: dict[str, Any] = {}
        if after:
            params["after"] = after
        if limit:
            params["limit"] = limit
        try:
            reply = self._request("LIST", self._kv("detailed-metadata", tenant) + "/", token, params=params)
        except hvac.exceptions.InvalidPath as exc:
            if exc.errors:  # "unsupported path": not OpenBao
                self._detailed_listing = False
                return None
            self._detailed_listing = True
            return {}  # 404 with no errors: the tenant has no keys
        except hvac.exceptions.VaultError as exc:
            if _status_of(exc) == 405:  # "unsupported operation": not OpenBao
                self._detailed_listing = False
                return None
            raise self._translate(exc, token) from None
        except VaultUnreachable:
            raise errors.Unavailable(retry_after=_RETRY_AFTER_UNAVAILABLE) from None
        self._detailed_listing = True
        data = reply["data"]
        info = data.get("key_info") or {}
        return {k: info.get(k, {}) for k in data.get("keys", [])}

    def list_keys(self, token: str, tenant: str, after: str | None = None, limit: int | None = None) -> list[str]:
        """Plain LIST of a tenant's keys (works on HashiCorp Vault and OpenBao)."""
        params: dict[str, Any] = {}
        if after:
            params["after"] = after
        if limit:
            params["limit"] = limit
        try:
            reply = self.call("LIST", self._kv("metadata", tenant) + "/", token, params=params)
        except errors.NotFound:
            return []
        keys = [k for k in reply["data"].get("keys", []) if not k.endswith("/")]
        if after and keys and keys[0] <= after:
            # HashiCorp Vault ignores after/limit; page here so callers see one behaviour.
            keys = [k for k in keys if k > after]
        return keys[:limit] if limit else keys

    def read_metadata(self, token: str, tenant: str, key: str) -> dict[str, Any]:
        """A key's metadata (versions, times, custom_metadata); NotFound if absent."""
        return dict(self.call("GET", self._kv("metadata", tenant, key), token)["data"])

    def write_value(self, token: str, tenant: str, key: str, value: str, cas: int) -> int:
        """Write a new version with check-and-set (cas=0: create only); returns the version."""
        reply = self.call(
            "POST", self._kv("data", tenant, key), token, {"options": {"cas": cas}, "data": {"value": value}}
        )
        return int(reply["data"]["version"])

    def write_metadata(self, token: str, tenant: str, key: str, custom: Mapping[str, str]) -> None:
        """Replace a key's custom_metadata."""
        self.call("POST", self._kv("metadata", tenant, key), token, {"custom_metadata": dict(custom)})

    def patch_metadata(
        self,
        token: str,
        tenant: str,
        key: str,
        custom: Mapping[str, str | None],
        metadata_cas: int | None = None,
    ) -> None:
        """Merge into a key's custom_metadata without writing a new version.

        metadata_cas (OpenBao): refuse with Conflict if the metadata changed since it was read."""
        body: dict[str, Any] = {"custom_metadata": dict(custom)}
        if metadata_cas is not None:
            body["metadata_cas"] = metadata_cas
        self.call(
            "PATCH", self._kv("metadata", tenant, key), token, body, content_type="application/merge-patch+json"
        )

    def delete_all(self, token: str, tenant: str, key: str) -> None:
        """Delete a key's metadata and every version."""
        self.call("DELETE", self._kv("metadata", tenant, key), token)

    def read_value(self, token: str, tenant: str, key: str) -> str:
        """The current value of a key (only the Hub's policy allows this)."""
        reply = self.call("GET", self._kv("data", tenant, key), token)
        data = reply.get("data") or {}
        if data.get("data") is None:  # the current version was deleted
            raise errors.NotFound()
        return str(data["data"]["value"])

    # -- policies, groups, entities (admin) ---------------------------------------------

    def put_policy(self, token: str, name: str, hcl: str) -> None:
        self.call("PUT", path("sys", "policies", "acl", name), token, {"policy": hcl})

    def read_policy(self, token: str, name: str) -> str | None:
        try:
            return str(self.call("GET", path("sys", "policies", "acl", name), token)["data"]["policy"])
        except errors.NotFound:
            return None

    def read_group(self, token: str, name: str) -> dict[str, Any] | None:
        try:
            reply = self.call("GET", path("identity", "group", "name", name), token)
        except errors.NotFound:
            return None
        return dict(reply["data"]) if reply else None

    def write_group(self, token: str, name: str, policies: Iterable[str], member_entity_ids: Iterable[str]) -> None:
        self.call(
            "POST",
            path("identity", "group", "name", name),
            token,
            {"type": "internal", "policies": list(policies), "member_entity_ids": sorted(set(member_entity_ids))},
        )

    def read_entity(self, token: str, name: str) -> dict[str, Any] | None:
        try:
            reply = self.call("GET", path("identity", "entity", "name", name), token)
        except errors.NotFound:
            return None
        return dict(reply["data"]) if reply else None

    def read_entity_by_id(self, token: str, entity_id: str) -> dict[str, Any] | None:
        try:
            reply = self.call("GET", path("identity", "entity", "id", entity_id), token)
        except errors.NotFound:
            return None
        return dict(reply["data"]) if reply else None

    def create_entity(self, token: str, name: str) -> str:
        reply = self.call("POST", path("identity", "entity", "name", name), token, {"metadata": {"nexo": "user"}})
        if reply and reply.get("data"):
            return str(reply["data"]["id"])
        entity = self.read_entity(token, name)
        assert entity is not None
        return str(entity["id"])

    def create_entity_alias(self, token: str, name: str, entity_id: str, mount_accessor: str) -> None:
        self.call(
            "POST",
            path("identity", "entity-alias"),
            token,
            {"name": name, "canonical_id": entity_id, "mount_accessor": mount_accessor},
        )

    def lookup_entity_by_alias(self, token: str, alias_name: str, mount_accessor: str) -> str | None:
        """The entity id behind an auth alias (a user who signed in or was granted before)."""
        reply = self.call(
            "POST",
            path("identity", "lookup", "entity"),
            token,
            {"alias_name": alias_name, "alias_mount_accessor": mount_accessor},
        )
        return str(reply["data"]["id"]) if reply and reply.get("data") else None

    def write_user(self, token: str, user: str, password: str, policies: Iterable[str] = ()) -> None:
        """Create or update a userpass user (the embedded default's accounts)."""
        body: dict[str, Any] = {"password": password}
        if policies:
            body["token_policies"] = list(policies)
        self.call("POST", path("auth", self.userpass_mount, "users", user), token, body)

    def auth_accessor(self, token: str, mount: str) -> str:
        """The accessor of an auth mount (entity aliases are keyed by it)."""
        # GET sys/auth/<mount> needs sudo; the listing does not.
        reply = self.call("GET", path("sys", "auth"), token)
        mounts = reply.get("data") or reply
        found = mounts.get(mount.strip("/") + "/")
        if not found:
            raise errors.NotFound(f"Auth method {mount!r} is not enabled")
        return str(found["accessor"])

    # -- health -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Vault's own health: initialized, sealed, standby."""
        try:
            reply = self.adapter.request(
                "GET",
                path("sys", "health"),
                params={"standbyok": "true", "perfstandbyok": "true"},
                raise_exception=False,
            )
        except VaultUnreachable:
            return {"reachable": False}
        reply = reply if isinstance(reply, dict) else {}
        return {"reachable": True, **reply}

    # -- resolve: wrapping and the Hub's AppRole ----------------------------------------

    def wrap(self, token: str, data: Mapping[str, Any], ttl_seconds: int) -> dict[str, Any]:
        """Response-wrap `data` with the caller's token; Vault's wrap_info (token, ttl, creation_path)."""
        reply = self.call("POST", path("sys", "wrapping", "wrap"), token, data, wrap_ttl=f"{int(ttl_seconds)}s")
        return dict(reply["wrap_info"])

    def can_read_values(self, token: str, tenant: str) -> bool:
        """Whether the token's policies let it read the tenant's values (asks sys/capabilities-self)."""
        target = "/".join((self.mount, "data", *self.prefix, tenant, "_"))
        reply = self.call("POST", path("sys", "capabilities-self"), token, {"paths": [target]}) or {}
        capabilities = reply.get(target) or (reply.get("data") or {}).get(target) or reply.get("capabilities") or []
        return "read" in capabilities or "root" in capabilities

    def write_approle(self, token: str, role: str, settings: Mapping[str, Any]) -> None:
        """Create or update an AppRole role."""
        self.call("POST", path("auth", self.approle_mount, "role", role), token, dict(settings))

    def approle_role_id(self, token: str, role: str) -> str:
        """The role_id of an AppRole role."""
        reply = self.call("GET", path("auth", self.approle_mount, "role", role, "role-id"), token)
        return str(reply["data"]["role_id"])

    def approle_secret_id(self, token: str, role: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """Issue a new secret_id for an AppRole role: {secret_id, secret_id_accessor, secret_id_ttl}."""
        body = {"metadata": json.dumps(dict(metadata))}
        return dict(self.call("POST", path("auth", self.approle_mount, "role", role, "secret-id"), token, body)["data"])


def _status_of(exc: hvac.exceptions.VaultError) -> int:
    if isinstance(getattr(exc, "status_code", None), int):
        return int(exc.status_code)
    table = {
        hvac.exceptions.InvalidRequest: 400,
        hvac.exceptions.Unauthorized: 401,
        hvac.exceptions.Forbidden: 403,
        hvac.exceptions.InvalidPath: 404,
        hvac.exceptions.UnsupportedOperation: 405,
        hvac.exceptions.PreconditionFailed: 412,
        hvac.exceptions.RateLimitExceeded: 429,
        hvac.exceptions.InternalServerError: 500,
        hvac.exceptions.VaultNotInitialized: 501,
        hvac.exceptions.BadGateway: 502,
        hvac.exceptions.VaultDown: 503,
    }
    for kind, status in table.items():
        if isinstance(exc, kind):
            return status
    return 500


def _strip(url: str | None) -> str:
    """The path of a Vault URL without its query string, for logs."""
    return (url or "").split("?", 1)[0]


def init_app(app: Any) -> None:
    """Attach one Vault adapter (one connection pool) to the app."""
    app.extensions["nexo_vault"] = Vault(
        app.config["VAULT_ADDRS"],
        mount=app.config["KV_MOUNT"],
        prefix=app.config["KV_PREFIX"],
        userpass_mount=app.config["USERPASS_MOUNT"],
        approle_mount=app.config["APPROLE_MOUNT"],
        timeout=app.config["VAULT_TIMEOUT"],
        cacert=app.config.get("VAULT_CACERT"),
    )
