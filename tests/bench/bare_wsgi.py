"""The floor for a one-key resolve: a bare WSGI proxy (no Flask, no checks, no logs) that reads
the key from Vault with the caller's token over one urllib3 pool. Served by the same gunicorn
settings as the service, it shows what gunicorn and the extra hop cost by themselves."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import urllib3

_POOL = urllib3.PoolManager(maxsize=32)
_VAULT = os.environ["VAULT_ADDR"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] == "GET":  # /healthz, for the benchmark's start-up wait
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    tenant = environ["PATH_INFO"].split("/")[4]
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    token = environ["HTTP_AUTHORIZATION"][len("Bearer ") :]
    resolved = []
    for parameter in body["parameters"]:
        url = f"{_VAULT}/v1/secret/data/tenants/{tenant}/{parameter['value']}"
        reply = _POOL.request("GET", url, headers={"X-Vault-Token": token})
        resolved.append({**parameter, "value": json.loads(reply.data)["data"]["data"]["value"]})
    out = json.dumps({"parameters": resolved}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
    return [out]
