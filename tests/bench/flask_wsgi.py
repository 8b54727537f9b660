"""The framework's share of a one-key resolve: a plain Flask view doing what the bare WSGI proxy
does (no checks, no logs, no schema). Served by the same gunicorn settings; the benchmark's row
"floor: plain Flask view" sets it against the bare proxy."""

from __future__ import annotations

import json
import os
from typing import Any

import flask
import urllib3

app = flask.Flask(__name__)
_POOL = urllib3.PoolManager(maxsize=32)
_VAULT = os.environ["VAULT_ADDR"]


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.post("/api/v1/tenants/<tenant>/resolve")
def resolve(tenant: str) -> dict[str, Any]:
    body = flask.request.get_json()
    token = flask.request.headers["Authorization"][len("Bearer ") :]
    resolved = []
    for parameter in body["parameters"]:
        url = f"{_VAULT}/v1/secret/data/tenants/{tenant}/{parameter['value']}"
        reply = _POOL.request("GET", url, headers={"X-Vault-Token": token})
        resolved.append({**parameter, "value": json.loads(reply.data)["data"]["data"]["value"]})
    return {"parameters": resolved}
