"""The docker-compose deployment: the files are valid, and its OpenBao config and init job work.

There is no Docker engine here, so the parts are tested as they run inside the containers: `bao
server` with deploy/openbao/node.hcl unchanged (its relative paths resolve against the working
directory, /openbao in the container, a temporary folder here; only the listener, the one part
that names ports, is written per test, as tests/vault_nodes.py does), then deploy/init.sh, the
init job's script, against it, twice around a restart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import vault_nodes
from tests.conftest import SEEN, bao_binary
from tests.vault_nodes import NODE_HCL, REPO, Node, run_init

BASE = ["-f", "docker-compose.yml"]
HA = [*BASE, "-f", "docker-compose.ha.yml"]


def compose(*args: str, secret_key: str | None = "k" * 48) -> subprocess.CompletedProcess[str]:
    """docker-compose in the repository, with SECRET_KEY as an operator would export it (None: unset)."""
    binary = shutil.which("docker-compose")
    if not binary:
        pytest.fail("docker-compose is missing: apt-get install docker-compose (.ci/run does)")
    unset = ("SECRET_KEY", "VAULT_TOKEN", "OPENBAO_VERSION", "OPENBAO_REGISTRY")  # .env's version, not the shell's
    env = {k: v for k, v in os.environ.items() if k not in unset}
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    return subprocess.run([binary, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("files", [BASE, HA], ids=["single", "ha"])
def test_compose_config_is_valid(files: list[str]) -> None:
    checked = compose(*files, "config", "-q")
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("files", [BASE, HA], ids=["single", "ha"])
@pytest.mark.parametrize("secret_key", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_run_without_a_secret_key(files: list[str], secret_key: str | None) -> None:
    """Else `up` starts a service that refuses to start, again and again (restart: unless-stopped)."""
    checked = compose(*files, "config", "-q", secret_key=secret_key)
    assert checked.returncode != 0
    assert "set SECRET_KEY to at least 32 random characters" in checked.stderr, checked.stderr


@pytest.mark.parametrize("files", [BASE, HA], ids=["single", "ha"])
def test_compose_deploys_the_openbao_version_the_tests_run(files: list[str]) -> None:
    installed = subprocess.run([bao_binary(), "version"], capture_output=True, text=True, check=True).stdout
    found = re.match(r"OpenBao v(\d+\.\d+\.\d+)\b", installed)
    assert found, installed
    images = {s["image"] for n, s in rendered(files)["services"].items() if n.startswith("openbao-")}
    assert images == {f"quay.io/openbao/openbao:{found.group(1)}"}


def rendered(files: list[str]) -> dict[str, Any]:
    result = compose(*files, "config")
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_compose_runs_the_repository_configs_and_gives_the_service_no_token() -> None:
    single, ha = rendered(BASE), rendered(HA)
    for config, bao_nodes, services in ((single, 1, 1), (ha, 3, 2)):
        nodes = {n: s for n, s in config["services"].items() if n.startswith("openbao-")}
        apps = {n: s for n, s in config["services"].items() if n.startswith("nexo-secrets")}
        assert (len(nodes), len(apps)) == (bao_nodes, services)
        for node in nodes.values():
            assert node["working_dir"] == "/openbao"  # node.hcl's relative paths land in the volumes
            assert any(v.startswith(f"{REPO / 'deploy' / 'openbao'}:/nexo/openbao") for v in _volumes(node))
            assert {"/openbao/file", "/openbao/logs"} <= {v.split(":")[1] for v in _volumes(node)}
            assert "-config=/nexo/openbao/listener.hcl" in node["command"]
        for app in apps.values():
            env = app["environment"]
            assert "VAULT_TOKEN" not in env and "BAO_TOKEN" not in env
            assert env["NEXO_ENV"] == "production"
            assert app["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert config["services"]["init"]["entrypoint"] == ["sh", "/srv/nexo/deploy/init.sh"]
    assert "-config=/nexo/openbao/node.hcl" in single["services"]["openbao-1"]["command"]
    assert all("-config=/nexo/openbao/node-ha.hcl" in ha["services"][f"openbao-{i}"]["command"] for i in (1, 2, 3))
    assert len(ha["services"]["init"]["environment"]["NEXO_UNSEAL_NODES"].split()) == 3
    assert len(ha["services"]["nexo-secrets-2"]["environment"]["VAULT_ADDR"].split(",")) == 3


def _volumes(service: dict[str, Any]) -> list[str]:
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append(f"{volume['source']}:{volume['target']}")
        else:
            found.append(str(volume))
    return found


def test_node_config_and_init_job_give_a_working_audited_vault(tmp_path: Path) -> None:
    assert NODE_HCL == REPO / "deploy" / "openbao" / "node.hcl"
    node = Node(tmp_path / "openbao")
    node.workdir.mkdir()
    init_dir = tmp_path / "init"
    node.start()
    try:
        first = run_init(node, init_dir)
        assert "init: initializing" in first and "bootstrap done" in first and first.rstrip().endswith("init: done")
        keys_file = init_dir / "init.json"
        assert keys_file.stat().st_mode & 0o777 == 0o600
        keys = json.loads(keys_file.read_text())
        root = keys["root_token"]
        assert node.health()["sealed"] is False
        policies = node.sys("LIST", "sys/policies/acl", root).json()["data"]["keys"]
        assert {"nexo-admin", "nexo-hub", "nexo-auditor"} <= set(policies)
        devices = node.sys("GET", "sys/audit", root).json()["data"]
        assert devices["file/"]["type"] == "file" and devices["file/"]["options"]["file_path"] == "logs/audit.log"

        # A restart seals the server: the job (run again by `docker-compose up`) unseals it, no re-init.
        node.stop()
        node.start()
        assert node.health()["sealed"] is True
        second = run_init(node, init_dir)
        assert "initializing" not in second and "bootstrap done" in second
        assert json.loads(keys_file.read_text()) == keys
        assert node.health()["sealed"] is False
        assert node.sys("GET", "secret/config", root).status_code == 200  # Raft kept the KV mount
    finally:
        node.stop()
        SEEN.append(("compose node server log", node.log()))
    audit_log = node.workdir / "logs" / "audit.log"
    lines = [json.loads(line) for line in audit_log.read_text().splitlines() if line.strip()]
    assert any(e.get("request", {}).get("path") == "sys/policies/acl/nexo-auditor" for e in lines)
    assert root not in audit_log.read_text()  # tokens are hashed in the audit log


def test_ha_node_config_starts_and_serves_as_a_first_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """node-ha.hcl parses and runs: the peers it would join (compose host names) do not exist here, so
    it is initialized as the cluster's first node, as openbao-1 is in docker-compose.ha.yml."""
    monkeypatch.setattr(vault_nodes, "NODE_HCL", REPO / "deploy" / "openbao" / "node-ha.hcl")
    node = Node(tmp_path / "openbao-1")
    node.workdir.mkdir()
    node.start()
    try:
        key, root = vault_nodes.initialize(node)
        vault_nodes.unseal(node, key)
        assert vault_nodes.wait_active([node], root) is node
        devices = node.sys("GET", "sys/audit", root).json()["data"]
        assert devices["file/"]["options"]["file_path"] == "logs/audit.log"
        peers = node.sys("GET", "sys/storage/raft/configuration", root).json()["data"]["config"]["servers"]
        assert len(peers) == 1 and peers[0]["leader"] is True
    finally:
        node.stop()
        SEEN.append(("compose HA node server log", node.log()))
    assert (node.workdir / "logs" / "audit.log").stat().st_size > 0


def test_compose_puts_the_front_door_before_the_service() -> None:
    """nginx (the repository's own front-door file) is the only way in; the service is not published,
    trusts the one proxy hop and serves /metrics on its own, unpublished port."""
    for files in (BASE, HA):
        config = rendered(files)
        door = config["services"]["front-door"]
        assert door["image"].startswith("nginx:")
        assert [p["target"] for p in door["ports"]] == [8080]
        mounts = _volumes(door)
        assert (
            f"{REPO / 'deploy' / 'nginx' / 'nexo.conf.template'}:/etc/nginx/templates/nexo.conf.template:ro" in mounts
        )
        assert door["environment"]["NEXO_UPSTREAM"] == "nexo-app:8080"
        limits = {
            k: v
            for k, v in door["environment"].items()
            if k in ("NEXO_CONN_LIMIT", "NEXO_RATE_LIMIT", "NEXO_RATE_BURST")
        }
        assert limits == {
            "NEXO_CONN_LIMIT": "64",
            "NEXO_RATE_LIMIT": "100r/s",
            "NEXO_RATE_BURST": "200",
        }  # README's figures
        apps = {n: s for n, s in config["services"].items() if n.startswith("nexo-secrets")}
        for app in apps.values():
            assert "ports" not in app  # nothing of the service is published
            env = app["environment"]
            assert env["NEXO_TRUSTED_PROXIES"] == "1" and env["NEXO_METRICS_PORT"] == "9102"
            assert env["NEXO_MAX_CONNECTIONS_PER_ADDRESS"] == "0"  # every connection comes from nginx
            assert "nexo-app" in app["networks"]["default"]["aliases"]


def test_only_the_service_may_name_a_sign_in_budget_to_openbao() -> None:
    """The listener trusts X-Forwarded-For from the service's fixed addresses on the "vault" network
    only: the init job and the OpenBao nodes there get addresses from the ip_range, nginx (and a
    Prometheus beside it) are not on it, and the init job writes the sign-in quota."""
    import ipaddress

    trusted = {ipaddress.ip_network(a) for a in vault_nodes.compose_trusted()}
    for files, replicas in ((BASE, 1), (HA, 2)):
        config = rendered(files)
        (ipam,) = config["networks"]["vault"]["ipam"]["config"]
        dynamic = ipaddress.IPv4Network(ipam["ip_range"])
        assert dynamic.subnet_of(ipaddress.IPv4Network(ipam["subnet"]))
        fixed = set()
        for name, service in config["services"].items():
            networks = service.get("networks") or {"default": None}
            if name.startswith("nexo-secrets"):
                address = ipaddress.ip_address(networks["vault"]["ipv4_address"])
                assert address not in dynamic
                fixed.add(ipaddress.ip_network(address))
            elif "vault" in networks:
                assert not (networks["vault"] or {}).get("ipv4_address"), name  # from the ip_range
            if name.startswith("openbao-"):
                assert set(networks) == {"vault"}  # the service reaches OpenBao from its trusted address only
        assert "vault" not in (config["services"]["front-door"].get("networks") or {})
        assert len(fixed) == replicas and fixed <= trusted
        assert not any(dynamic.overlaps(t) for t in trusted)
        assert not any(ipaddress.ip_address(ipam["gateway"]) in t for t in trusted)  # the published port's peer
        assert config["services"]["init"]["environment"]["NEXO_SIGN_IN_QUOTA"] == "true"
    assert len(trusted) == 2  # both replicas of docker-compose.ha.yml, nothing else
