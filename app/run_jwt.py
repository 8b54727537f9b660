"""A run JWT, signed by a Hub that keeps its own key: what it exchanges for a run token.

Stand-alone (the standard library and `cryptography`), for tests and for Hubs without an
identity provider; a Hub with one (Kubernetes service-account tokens, an OIDC provider) lets it
sign instead. RS256 for an RSA key, ES256 for a P-256 key, the kinds OpenBao's jwt method takes.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# The tenant naming rule (app/names.py), repeated so that this module stands alone.
TENANT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# OpenBao accepts a JWT until its exp (a JWT without exp, for ever): keep it short, since
# whoever holds it may exchange it for a run token until then.
LIFETIME = 60


def sign(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    issuer: str,
    audience: str,
    tenant: str,
    subject: str = "nexo-hub",
    lifetime: int = LIFETIME,
    key_id: str | None = None,
    now: float | None = None,
) -> str:
    """A compact JWT naming `tenant` for one run; ValueError for a tenant name that breaks the rule."""
    if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
        raise ValueError("tenant: 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "tenant": tenant,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ES256"
    else:
        raise ValueError("the key must be RSA or EC P-256")
    header: dict[str, Any] = {"alg": algorithm, "typ": "JWT", **({"kid": key_id} if key_id else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants r || s, not DER
    return f"{signing_input.decode()}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
