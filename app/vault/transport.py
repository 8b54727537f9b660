"""One road to Vault: a connection pool, failover across addresses, retries, redirects, and the
one place where Vault's answers become Vault errors (app/vault/errors.py).

urllib3 straight rather than hvac's client: every call here carries its own caller's token (an
hvac client holds one).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from app.vault import errors

log = logging.getLogger(__name__)

# The name segment of a login path: people type passwords into the user-name field.
_LOGIN_NAME = re.compile(r"(/auth/[^/?#\s\"']+/login/)[^/?#\s\"']+")


class RedactLoginNames(logging.Filter):
    """Blanks the name in login paths of urllib3's own records (its DEBUG line names every URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LOGIN_NAME.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_LOGIN_NAME.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


_REDACT = RedactLoginNames()
for _name in (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "urllib3.response",
):
    # A logger's filters see only the records made on it, not its children's: each one gets it.
    logging.getLogger(_name).addFilter(_REDACT)

# Vault answers 400 with these texts when a (metadata) check-and-set version does not match.
_CAS_MISMATCH = ("check-and-set parameter did not match", "check-and-set parameter does not match")
_NO_ROUTE = "no handler for route"
_UNSUPPORTED = "unsupported path"
_IDEMPOTENT = frozenset({"GET", "LIST", "HEAD"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503})
_ATTEMPTS = 3
_FIRST_BACKOFF = 0.05

Observer = Callable[[str, str, "int | None", float], None]


def path(*segments: str) -> str:
    """A Vault API path from segments, each quoted: '/', '?' and '%' never change the path.

    A '..' or '.' segment is not quoted (it needs no quoting) and HTTP clients and servers collapse
    it: only the naming rules (app/names.py), checked before a path is built, keep it out."""
    return "/v1/" + "/".join(quote(s, safe="") for s in segments)


def operation(method: str, url: str) -> str:
    """A Vault request as a short name without tenant, key or user: 'GET secret/data',
    'POST auth/userpass/login'. Used for metric labels and log lines."""
    segments = url.split("?", 1)[0].removeprefix("/v1/").strip("/").split("/")
    head = segments[0] if segments else ""
    if head == "sys":
        keep = 3 if len(segments) > 1 and segments[1] == "policies" else 2
    elif head in ("auth", "identity"):
        keep = 3
    else:  # a secrets engine: mount + data/metadata/detailed-metadata
        keep = 2
    return f"{method.upper()} {'/'.join(segments[:keep])}"


class _Unreachable(Exception):
    """No node answered; `sent` says whether the request may have reached one."""

    def __init__(self, what: str, *, sent: bool) -> None:
        super().__init__(what)
        self.sent = sent


class _Answered(Exception):
    """Vault answered with an error status (kept until retries are decided)."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


class Transport:
    """Sends requests to Vault with the caller's token and answers payloads or Vault errors."""

    observer: Observer | None = None  # app.observe counts and times calls through this
    # The service's request id for the call being made (app.observe), sent as X-Request-Id: the
    # audit device logs it (sys/config/auditing), so an auditor finds a request's Vault calls.
    request_id: Callable[[], str | None] | None = None

    def __init__(self, addresses: list[str], *, timeout: float = 5.0, cacert: str | None = None) -> None:
        self.addresses = addresses
        self.timeout = timeout
        self._current = 0
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(
            num_pools=max(4, len(addresses)),
            maxsize=32,
            # Wait for a pooled connection rather than open one to throw away: a gevent worker
            # has many requests in flight, and each extra connection costs both sides a handshake.
            block=True,
            retries=False,  # no blind retries: a write must never be sent twice behind the caller's back
            timeout=urllib3.Timeout(connect=min(2.0, timeout), read=timeout),
            ca_certs=cacert,
        )

    def close(self) -> None:
        self._pool.clear()

    def request(
        self,
        method: str,
        api_path: str,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        wrap_ttl: int | None = None,
        content_type: str = "application/json",
        probe: bool = False,
        forwarded_for: str | None = None,
    ) -> Any:
        """One call: Vault's JSON payload (None for 204), or a Vault error.

        Reads (GET, LIST) are retried with jittered backoff after a dropped connection, a timeout,
        429 or a 5xx; any request is retried when no node could even be connected to; all within
        one timeout's budget. A `probe` (sys/health) is sent once and answers the payload whatever the status.
        `forwarded_for` is sent as X-Forwarded-For (the address OpenBao's rate-limit quotas count)."""
        headers = {"X-Vault-Request": "true"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        if token:
            headers["X-Vault-Token"] = token
        request_id = self.request_id() if self.request_id is not None else None
        if request_id:
            headers["X-Request-Id"] = request_id
        if wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = f"{int(wrap_ttl)}s"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        url = f"{api_path}?{urlencode(params)}" if params else api_path
        deadline = time.monotonic() + self.timeout
        delay = _FIRST_BACKOFF
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._once(method, url, data, headers, probe)
            except _Unreachable as exc:
                failure: Exception = exc
                retry = method in _IDEMPOTENT or not exc.sent
            except _Answered as exc:
                failure = exc
                retry = method in _IDEMPOTENT and exc.status in _RETRY_STATUSES
            pause = delay * (0.5 + random.random())
            if not retry or probe or attempt == _ATTEMPTS or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            delay *= 4
        raise self._error(failure, method, url, token)

    def _once(self, method: str, url: str, data: bytes | None, headers: dict[str, str], probe: bool) -> Any:
        started, status = time.perf_counter(), None
        try:
            response = self._send(method, url, data, headers)
            status = response.status
            if response.status in (307, 308) and response.headers.get("Location"):
                # A standby that cannot forward (e.g. mid-election) points at the active node. It
                # did not process the request, so sending it there once is safe, writes included.
                response = self._follow(method, response.headers["Location"], data, headers)
                status = response.status
        finally:
            if self.observer is not None:
                self.observer(method, url, status, time.perf_counter() - started)
        status = response.status
        payload = None
        if response.data:
            try:
                payload = json.loads(response.data)
            except ValueError:
                payload = None
        if probe:
            return payload
        if 300 <= status < 400 or (status < 300 and status != 204 and payload is None):
            raise _Answered(502, None)  # not an answer a healthy Vault gives: a failed call
        if status >= 400:
            raise _Answered(status, payload)
        return payload

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Any:
        # Only a failure to connect moves on to the next address (the request was never sent), so
        # a write is never sent twice.
        last: Exception | None = None
        for attempt in range(len(self.addresses)):
            with self._lock:
                index = (self._current + attempt) % len(self.addresses)
            try:
                response = self._pool.request(
                    method, self.addresses[index] + url, body=data, headers=headers, redirect=False
                )
            except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
                last = exc
                continue
            except urllib3.exceptions.HTTPError as exc:  # read timeout, dropped connection: maybe processed
                raise _Unreachable(type(exc).__name__, sent=True) from None
            if attempt:
                with self._lock:
                    self._current = index
            return response
        raise _Unreachable(type(last).__name__, sent=False)

    def _follow(self, method: str, location: str, data: bytes | None, headers: dict[str, str]) -> Any:
        try:
            return self._pool.request(method, location, body=data, headers=headers, redirect=False)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            raise _Unreachable("redirect: connect failed", sent=False) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _Unreachable(f"redirect: {type(exc).__name__}", sent=True) from None

    def _error(self, failure: Exception, method: str, url: str, token: str | None) -> errors.VaultError:
        """The Vault error for a failed call. Vault's own text is logged (never handed upward);
        the log names the operation, not the path, which may hold a user name typed as a password."""
        what = operation(method, url)
        if isinstance(failure, _Unreachable):
            log.warning("vault unreachable: %s (%s)", what, failure)
            return errors.Unavailable()
        assert isinstance(failure, _Answered)
        status = failure.status
        found = failure.payload.get("errors") if isinstance(failure.payload, dict) else None
        text = " ".join(str(e) for e in found or [])
        log.info("vault answered %s to %s: %s", status, what, text[:300])
        if status == 400 and any(m in text for m in _CAS_MISMATCH):
            return errors.Conflict()
        if status == 403:
            if token and not url.startswith(path("auth", "token", "lookup-self")) and not self._valid(token):
                return errors.TokenInvalid()
            return errors.Denied()
        if status == 404 and _NO_ROUTE in text:
            # A node that has just become active answers this until its mounts are set up.
            return errors.Unavailable()
        if status == 405 or (status == 404 and _UNSUPPORTED in text):
            return errors.Unsupported()
        if status == 404:
            return errors.NotFound()
        if status == 429:
            return errors.RateLimited()
        if status == 400:
            return errors.Invalid()
        return errors.Unavailable()

    def _valid(self, token: str) -> bool:
        """Whether Vault still knows the token (a 403 then means 'not allowed', not 'signed out')."""
        try:
            self.request("GET", path("auth", "token", "lookup-self"), token)
        except errors.Denied:
            return False
        except errors.VaultError:
            return True
        return True
