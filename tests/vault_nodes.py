"""Real OpenBao servers in server mode (not -dev), started from deploy/openbao/node.hcl.

The node config is the one docker-compose uses; the listener is written per node: a plain one
with the node's ports, or docker-compose's own (deploy/openbao/listener.hcl) with only its ports
and the addresses it trusts for X-Forwarded-For changed. deploy/init.sh, the compose init job,
runs against a node as it does in the container. Used by the reliability and compose tests.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.conftest import SEEN, bao_binary, free_port

REPO = Path(__file__).resolve().parent.parent
NODE_HCL = REPO / "deploy" / "openbao" / "node.hcl"
LISTENER_HCL = REPO / "deploy" / "openbao" / "listener.hcl"
_TRUSTED = re.compile(r'(x_forwarded_for_authorized_addrs\s*=\s*)"([^"]*)"')


def compose_trusted() -> list[str]:
    """The addresses docker-compose's listener.hcl trusts for X-Forwarded-For."""
    found = _TRUSTED.search(LISTENER_HCL.read_text())
    assert found, f"{LISTENER_HCL} trusts no address for X-Forwarded-For"
    return [part.strip() for part in found.group(2).split(",")]


def compose_listener(port: int, cluster_port: int, trusted: str) -> str:
    """docker-compose's listener.hcl on 127.0.0.1 with these ports, trusting `trusted` for X-Forwarded-For."""
    text = LISTENER_HCL.read_text()
    for old, new in (('"0.0.0.0:8200"', f'"127.0.0.1:{port}"'), ('"0.0.0.0:8201"', f'"127.0.0.1:{cluster_port}"')):
        assert text.count(old) == 1, f"{LISTENER_HCL} no longer says {old}"
        text = text.replace(old, new)
    compose_trusted()
    return _TRUSTED.sub(lambda m: f'{m.group(1)}"{trusted}"', text)


@dataclass
class Node:
    """One OpenBao server process with its own data directory."""

    workdir: Path
    port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    trusted: str | None = None  # set: docker-compose's listener, trusting these for X-Forwarded-For

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        (self.workdir / "file").mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        listener = (
            compose_listener(self.port, self.cluster_port, self.trusted)
            if self.trusted
            else 'listener "tcp" {\n'
            f'  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n'
            "  tls_disable = true\n}\n"
        )
        (self.workdir / "listener.hcl").write_text(listener)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["BAO_API_ADDR"] = self.addr
        env["BAO_CLUSTER_ADDR"] = f"http://127.0.0.1:{self.cluster_port}"
        with open(self.workdir / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [bao_binary(), "server", f"-config={NODE_HCL}", "-config=listener.hcl"],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.wait_listening()

    def wait_listening(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                requests.get(self.addr + "/v1/sys/health", timeout=1)
                return
            except requests.ConnectionError:
                assert self.process is not None and self.process.poll() is None, self.log()
                time.sleep(0.05)
        raise RuntimeError("OpenBao did not start listening: " + self.log())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)
        self.process = None

    def health(self) -> dict[str, Any]:
        try:
            return dict(requests.get(self.addr + "/v1/sys/health?standbyok=true", timeout=2).json())
        except (requests.RequestException, ValueError):
            return {}

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def sys(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"X-Vault-Token": token} if token else {}
        return requests.request(method, self.addr + "/v1/" + path, headers=headers, timeout=10, **kwargs)


def initialize(node: Node) -> tuple[str, str]:
    """Init with one key share; returns (unseal key, root token)."""
    reply = node.sys("PUT", "sys/init", json={"secret_shares": 1, "secret_threshold": 1})
    reply.raise_for_status()
    data = reply.json()
    return data["keys_base64"][0], data["root_token"]


def unseal(node: Node, key: str) -> None:
    node.sys("PUT", "sys/unseal", json={"key": key}).raise_for_status()


def wait_active(nodes: list[Node], token: str, seconds: float = 60) -> Node:
    """Wait until one node is active and serving requests; return it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for node in nodes:
            if node.process is None:
                continue
            health = node.health()
            if health.get("initialized") and not health.get("sealed") and not health.get("standby"):
                if node.sys("GET", "sys/mounts", token).status_code == 200:
                    return node
        time.sleep(0.1)
    raise RuntimeError("no active OpenBao node: " + " | ".join(n.log()[-500:] for n in nodes))


def enable_kv(node: Node, token: str, mount: str = "secret") -> None:
    """Mount KV v2 and wait until it serves writes (a new mount upgrades itself first)."""
    node.sys("POST", f"sys/mounts/{mount}", token, json={"type": "kv", "options": {"version": "2"}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        probe = node.sys("POST", f"{mount}/data/_probe", token, json={"data": {"value": "probe"}})
        if probe.status_code == 200:
            node.sys("DELETE", f"{mount}/metadata/_probe", token)
            return
        time.sleep(0.1)
    raise RuntimeError("KV mount did not become ready")


def run_init(node: Node, init_dir: Path, **env: str) -> str:
    """deploy/init.sh as the compose init job runs it (its PATH has bao and nexo-secrets), with `env`
    added to the job's environment; returns its output."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    environ.update(VAULT_ADDR=node.addr, NEXO_INIT_DIR=str(init_dir), NEXO_INIT_TIMEOUT="90", **env)
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    result = subprocess.run(
        ["sh", str(REPO / "deploy" / "init.sh")], env=environ, capture_output=True, text=True, timeout=300
    )
    SEEN.append(("deploy/init.sh output", result.stdout + result.stderr))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
