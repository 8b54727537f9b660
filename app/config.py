"""Settings from the environment; refuses unsafe settings outside dev/test."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from app import rules

SAFE_ENVS = ("dev", "test")


class ConfigError(RuntimeError):
    """The service was configured in a way it must not run with."""


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the service's settings from environment variables."""
    env = os.environ if environ is None else environ
    nexo_env = env.get("NEXO_ENV", "production")
    addrs = [a.strip().rstrip("/") for a in env.get("VAULT_ADDR", "http://127.0.0.1:8200").split(",")]
    return {
        "NEXO_ENV": nexo_env,
        "SECRET_KEY": env.get("SECRET_KEY"),
        "VAULT_ADDRS": [a for a in addrs if a],
        "VAULT_CACERT": env.get("VAULT_CACERT"),
        "VAULT_TIMEOUT": float(env.get("NEXO_VAULT_TIMEOUT", "5")),
        "KV_MOUNT": env.get("NEXO_KV_MOUNT", "secret"),
        "KV_PREFIX": env.get("NEXO_KV_PREFIX", "tenants"),
        "REFERENCES_PREFIX": env.get("NEXO_REFERENCES_PREFIX", "references"),
        "USERPASS_MOUNT": env.get("NEXO_USERPASS_MOUNT", "userpass"),
        "APPROLE_MOUNT": env.get("NEXO_APPROLE_MOUNT", "approle"),
        "LOGIN_MAX_FAILURES": int(env.get("NEXO_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_SECONDS": int(env.get("NEXO_LOGIN_LOCKOUT_SECONDS", "300")),
        "LOGIN_FAILURE_SECONDS": float(env.get("NEXO_LOGIN_FAILURE_SECONDS", "0.5")),
        "TRUSTED_PROXIES": int(env.get("NEXO_TRUSTED_PROXIES", "0")),
        "SESSION_HOURS": float(env.get("NEXO_SESSION_HOURS", "8")),
        # Listings (the most expensive request) in flight at once, per worker process.
        "MAX_LISTINGS_PER_CALLER": int(env.get("NEXO_MAX_LISTINGS_PER_CALLER", "1")),
        "MAX_LISTINGS_PER_ADDRESS": int(env.get("NEXO_MAX_LISTINGS_PER_ADDRESS", "8")),
        "VAULT_TOKEN_PRESENT": bool(env.get("VAULT_TOKEN")),
        "RECOVERY_DAYS": _bounded(env, "NEXO_RECOVERY_DAYS", 30, *rules.RECOVERY_DAYS),
        "MAX_VERSIONS": _bounded(env, "NEXO_MAX_VERSIONS", 10, *rules.MAX_VERSIONS),
        # Serving (app/serving.py): gunicorn's worker model, how long reading one request may
        # take, open connections per peer address and worker (0: no limit, as behind nginx,
        # which limits per client), and the port of the /metrics listener (0: no /metrics).
        "SERVING_MODEL": _choice(env, "NEXO_SERVING_MODEL", "gevent", ("gevent", "gthread")),
        "REQUEST_READ_SECONDS": _bounded(env, "NEXO_REQUEST_READ_SECONDS", 10, 1, 600),
        "MAX_CONNECTIONS_PER_ADDRESS": _bounded(env, "NEXO_MAX_CONNECTIONS_PER_ADDRESS", 64, 0, 100000),
        "METRICS_PORT": _bounded(env, "NEXO_METRICS_PORT", 0, 0, 65535),
        "UNUSED_DAYS": _bounded(env, "NEXO_UNUSED_DAYS", 90, *rules.UNUSED_DAYS),
    }


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """A setting that is one of a few words; anything else refuses to start."""
    text = env.get(name, "").strip() or default
    if text not in allowed:
        raise ConfigError(f"{name} must be one of: {', '.join(allowed)}")
    return text


def _bounded(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer setting within [low, high]; anything else refuses to start."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return number


def check(config: Mapping[str, Any]) -> None:
    """Refuse settings that would make a production service unsafe."""
    secrets_at = "/".join(p for p in str(config.get("KV_PREFIX", "tenants")).split("/") if p)
    references_at = "/".join(p for p in str(config.get("REFERENCES_PREFIX", "references")).split("/") if p)
    if any(a == b or a.startswith(b + "/") for a, b in ((secrets_at, references_at), (references_at, secrets_at))):
        # The Hub writes references: inside (or around) the tenants' folders it could write secrets' data.
        raise ConfigError("NEXO_REFERENCES_PREFIX must lie beside NEXO_KV_PREFIX, neither inside the other")
    if config["NEXO_ENV"] in SAFE_ENVS:
        return
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32:
        raise ConfigError("SECRET_KEY must be set to at least 32 random characters outside dev/test")
    if config.get("VAULT_TOKEN_PRESENT"):
        # The service holds no standing privilege: every Vault call uses the caller's token.
        raise ConfigError("VAULT_TOKEN must not be set for the service; it uses each caller's own token")
    if not config.get("VAULT_ADDRS"):
        raise ConfigError("VAULT_ADDR must be set")
