"""The auditors' runbook in the README, run as written with the real `bao` CLI and an auditor's token,
and the Vault audit log: a resolved value is there only as its audit hash.

The Vault is a real server started from deploy/openbao/node.hcl (Raft storage, file audit device),
as docker-compose and `nexo-secrets dev` run it; a -dev server has no audit device.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app import access, create_app
from app.vault import Vault
from tests.conftest import SEEN, bao_binary, planted
from tests.vault_nodes import REPO, Node, initialize, unseal, wait_active

KEY = "DATABASE_PASSWORD"


@dataclass
class Deployed:
    node: Node
    root: str
    vault: Vault
    app: Any
    tenant: str
    writer: str
    reader: str
    admin: str
    auditor: str
    password: str
    value: str
    hub_token: str
    hub_accessor: str
    request_id: str

    @property
    def audit_log(self) -> Path:
        return self.node.workdir / "logs" / "audit.log"

    def audit_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A server-mode OpenBao with its audit device, bootstrapped, with a tenant, its users and one resolved secret."""
    node = Node(tmp_path_factory.mktemp("openbao"))
    node.start()
    try:
        key, root = initialize(node)
        unseal(node, key)
        wait_active([node], root)
        vault = Vault([node.addr])
        access.bootstrap(vault, root)
        tenant = "audit-" + secrets.token_hex(4)
        access.provision(vault, root, tenant)
        password = secrets.token_urlsafe(16)
        writer, reader, admin, auditor = (f"{role}-{secrets.token_hex(3)}" for role in ("w", "r", "admin", "auditor"))
        for user, policies in ((writer, ()), (reader, ()), (admin, ("nexo-admin",)), (auditor, ("nexo-auditor",))):
            vault.auth.write_user(root, user, password, policies)
        access.grant(vault, root, tenant, writer, "write")
        access.grant(vault, root, tenant, reader, "read")

        app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [node.addr], "SECRET_KEY": "r" * 48})
        value = planted("audited")
        http = app.test_client()
        signed_in = http.post("/api/v1/session", json={"username": writer, "password": password})
        assert signed_in.status_code == 200
        created = http.post(
            f"/api/v1/tenants/{tenant}/secrets",
            json={"key": KEY, "description": "Primary database", "value": value},
            headers={"X-CSRF-Token": signed_in.get_json()["csrf_token"]},
        )
        assert created.status_code == 201, created.get_json()
        # A deleted secret, for the runbook's "deleted secrets" question.
        csrf = {"X-CSRF-Token": signed_in.get_json()["csrf_token"]}
        old = http.post(f"/api/v1/tenants/{tenant}/secrets", json={"key": "OLD_KEY", "value": planted()}, headers=csrf)
        assert old.status_code == 201
        assert http.delete(f"/api/v1/tenants/{tenant}/secrets/OLD_KEY", headers=csrf).status_code == 204

        # The Hub path: AppRole login with issued credentials, then the service's resolve endpoint.
        creds = access.hub_credentials(vault, root)
        hub_login = vault.auth.login_approle(creds.role_id, creds.secret_id)
        hub_token, hub_accessor = str(hub_login["client_token"]), str(hub_login["accessor"])
        hub = {"Authorization": f"Bearer {hub_token}"}
        parameters = [{"name": "db_password", "type": "SECRET", "value": KEY}]
        # The Hub declares the Action that names the key, for the runbook's references questions.
        declared = app.test_client().put(
            f"/api/v1/tenants/{tenant}/references/action/send-invoice",
            json={"name": "Send invoice", "parameters": parameters},
            headers=hub,
        )
        assert declared.status_code == 200, declared.get_json()
        resolved = app.test_client().post(
            f"/api/v1/tenants/{tenant}/resolve",
            json={"parameters": parameters, "referrer": {"kind": "action", "id": "send-invoice"}},
            headers=hub,
        )
        resolved.close()  # as a server does once the answer is sent: the use is recorded then
        assert resolved.status_code == 200 and resolved.get_json()["parameters"][0]["value"] == value
        yield Deployed(
            node,
            root,
            vault,
            app,
            tenant,
            writer,
            reader,
            admin,
            auditor,
            password,
            value,
            hub_token,
            hub_accessor,
            resolved.headers["X-Request-Id"],
        )
    finally:
        node.stop()
        SEEN.append(("runbook server log", node.log()))
        audit_log = node.workdir / "logs" / "audit.log"
        if audit_log.exists():
            SEEN.append(("runbook audit log", audit_log.read_text(errors="replace")))


def runbook_commands() -> list[str]:
    """Every command in the README's auditor runbook, in order (continued lines joined)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## For auditors (Vault CLI runbook)", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        pending = ""
        for line in block.splitlines():
            if pending:
                line = pending + line.lstrip()
                pending = ""
            if line.rstrip().endswith("\\"):
                pending = line.rstrip()[:-1] + " "
                continue
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def run_runbook(deployed: Deployed, tmp: Path) -> list[tuple[str, int, str]]:
    """Run the commands in one shell, as an auditor would type them; (command, exit code, output) each."""
    commands = runbook_commands()
    script = ["set -u"]
    for index, command in enumerate(commands):
        script.append(f"{{ {command}\n}} > {tmp}/out.{index} 2>&1; echo $? > {tmp}/rc.{index}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(
        VAULT_ADDR=deployed.node.addr,
        TENANT=deployed.tenant,
        KEY=KEY,
        ACCOUNT=deployed.admin,
        AUDITOR=deployed.auditor,
        AUDIT_LOG=str(deployed.audit_log),
        ACCESSOR=deployed.hub_accessor,
        REQUEST_ID=deployed.request_id,
        HOME=str(tmp),  # no ~/.vault-token of the machine's user
        PATH=f"{Path(bao_binary()).parent}{os.pathsep}{os.environ['PATH']}",
    )
    subprocess.run(
        ["bash", "-c", "\n".join(script)], input=deployed.password, text=True, env=env, timeout=120, check=True
    )
    ran = []
    for index, command in enumerate(commands):
        output = (tmp / f"out.{index}").read_text()
        ran.append((command, int((tmp / f"rc.{index}").read_text()), output))
        SEEN.append((f"runbook: {command[:60]}", output))
    return ran


def test_every_runbook_command_answers_its_question_and_no_value_is_shown(deployed: Deployed, tmp_path: Path) -> None:
    ran = run_runbook(deployed, tmp_path)
    assert len(ran) >= 21
    results = {command: (code, output) for command, code, output in ran}

    def answer(fragment: str) -> str:
        matches = [c for c in results if c == fragment] or [c for c in results if fragment in c]
        assert len(matches) == 1, (fragment, matches)
        code, output = results[matches[0]]
        assert code == 0, (matches[0], output)
        return output

    vault, root, tenant = deployed.vault, deployed.root, deployed.tenant
    writer_id = access.entity_of(vault, root, deployed.writer, create=False)
    reader_id = access.entity_of(vault, root, deployed.reader, create=False)
    assert writer_id and reader_id

    answer("bao login")
    assert f"{tenant}/" in answer("bao kv list -mount=secret tenants").split()
    # Exactly the tenant's keys (OLD_KEY deleted, within its recovery window): the service keeps
    # nothing of its own in a tenant's folder.
    assert answer("bao kv list -mount=secret tenants/$TENANT").split() == ["Keys", "----", KEY, "OLD_KEY"]
    metadata = answer("kv metadata get")
    assert f"created_by:{deployed.writer}" in metadata and "description:Primary database" in metadata
    assert re.search(r"current_version\s+1", metadata) and "Version 1" in metadata
    assert f"version_1_by:{deployed.writer}" in metadata
    # Expiry (none set); OLD_KEY is deleted but listed.
    assert answer('get("expires_at", "-")').splitlines() == [f"{KEY} -", "OLD_KEY -"]
    # Last used: the Hub's resolve above, to the hour, beside the references; OLD_KEY never.
    used = answer("references/$TENANT/~used").split()
    assert used[:2] == ["Keys", "----"] and len(used) == 3, used
    assert re.fullmatch(rf"{KEY},20[0-9-]{{8}}T[0-9]{{2}}:00:00Z", used[2]), used
    # References: the key's entry of the Action, and the Action with its last resolve (that hour).
    named = [line.split("\t") for line in answer('not k.startswith("@")').splitlines()]
    assert named == [[KEY, "action", "send-invoice", "Send invoice", "db_password"]], named
    [referrer] = [line.split("\t") for line in answer('if k.startswith("@")').splitlines()]
    assert referrer[:3] == ["action", "send-invoice", "Send invoice"] and referrer[3].startswith("20"), referrer
    assert referrer[4] == used[2].split(",", 1)[1], referrer
    deleted = answer("deletion_time").splitlines()
    assert len(deleted) == 1 and deleted[0].startswith("OLD_KEY 20") and deleted[0].endswith(f" {deployed.writer}")
    readers = answer("-readers")
    assert reader_id in readers and writer_id not in readers and f"nexo-tenant-{tenant}-read" in readers
    writers = answer("-writers")
    assert writer_id in writers and reader_id not in writers and f"nexo-tenant-{tenant}-write" in writers
    entities = answer("list -detailed identity/entity/id")
    assert writer_id in entities and f"name:{deployed.writer}" in entities and f"name:{deployed.reader}" in entities
    assert deployed.admin in answer("bao list auth/userpass/users")
    assert "nexo-admin" in answer("-field=token_policies")
    assert {"nexo-auditor", "nexo-hub", f"nexo-tenant-{tenant}-read"} <= set(answer("bao policy list").split())
    assert f'"secret/metadata/tenants/{tenant}/*"' in answer("policy read nexo-tenant-$TENANT-read")
    assert f'"secret/data/tenants/{tenant}/*"' in answer("policy read nexo-tenant-$TENANT-write")
    assert '"secret/data/' in answer("policy read nexo-hub")
    # Who touched the value, by path: the writer's create and the Hub's read, with Vault's request
    # id and the token accessor in clear, and no hash of the value to test guesses against.
    uses = [u.split("\t") for u in answer('--arg p "secret/data/tenants/$TENANT/$KEY"').splitlines()]
    assert any(u[2] == "create" and u[3] == f"userpass-{deployed.writer}" and u[5] == "ok" for u in uses), uses
    reads = [u for u in uses if u[2] == "read" and u[3] == "approle"]
    assert reads and all(u[4] == deployed.hub_accessor and u[5] == "ok" and u[1] for u in reads), uses
    # The resolve, by the X-Request-Id the service answered: the Hub's read of the key, by the Hub.
    calls = [u.split("\t") for u in answer('--arg id "$REQUEST_ID"').splitlines()]
    assert ["read", f"secret/data/tenants/{tenant}/{KEY}", "approle"] in [u[1:] for u in calls], calls
    assert all(u[3] == "approle" for u in calls)
    # The Hub token, followed by its accessor: exactly what it did (its resolve and its use record).
    done = [u.split("\t") for u in answer('--arg a "$ACCESSOR"').splitlines()]
    values = {u[2] for u in done if u[1] == "read" and u[2].startswith("secret/data/tenants/")}
    assert values == {f"secret/data/tenants/{tenant}/{KEY}"}, done
    # Its references work and its use record, beside the tenant's folder; never the secrets' metadata.
    assert f"secret/data/references/{tenant}/@action,send-invoice" in {u[2] for u in done if u[1] == "read"}
    assert any(u[2].startswith(f"secret/metadata/references/{tenant}/~used/{KEY},") for u in done), done
    assert not [u for u in done if u[2].startswith("secret/metadata/tenants/") and u[1] != "read"], done
    assert all(u[2] != f"secret/data/tenants/{tenant}/OLD_KEY" for u in done)
    assert not [line for line in deployed.audit_log.read_text().splitlines() if "sys/audit-hash" in line]
    assert "file_path=logs/audit.log" in answer("bao audit list -detailed")

    # The last command: the auditor's token cannot read a value.
    command, code, output = ran[-1]
    assert command.startswith("bao kv get") and code != 0 and "permission denied" in output
    for _, _, output in ran:
        assert deployed.value not in output


def test_a_resolved_value_is_in_the_audit_log_only_as_its_hash(deployed: Deployed) -> None:
    text = deployed.audit_log.read_text()
    assert deployed.value not in text
    assert deployed.hub_token not in text and deployed.root not in text and deployed.password not in text
    hashed = deployed.node.sys("POST", "sys/audit-hash/file", deployed.root, json={"input": deployed.value}).json()[
        "data"
    ]["hash"]
    assert hashed.startswith("hmac-sha256:")
    resolve_reads = [
        e
        for e in deployed.audit_entries()
        if e["type"] == "response"
        and e["request"]["path"] == f"secret/data/tenants/{deployed.tenant}/{KEY}"
        and e["request"]["operation"] == "read"
        and not e.get("error")  # the runbook's auditor tries too, and is refused
    ]
    assert resolve_reads, "the Hub's read is audited"
    # The Hub's own token made the read (no standing privilege in the service), and the value is hashed.
    assert all(e["auth"]["display_name"] == "approle" and "nexo-hub" in e["auth"]["policies"] for e in resolve_reads)
    assert all(e["response"]["data"]["data"]["value"] == hashed for e in resolve_reads)


def test_the_auditor_token_cannot_read_a_value_even_directly(deployed: Deployed) -> None:
    token = str(deployed.vault.auth.login_userpass(deployed.auditor, deployed.password)["client_token"])
    data = deployed.node.sys("GET", f"secret/data/tenants/{deployed.tenant}/{KEY}", token)
    assert data.status_code == 403
    # ...while metadata and policies are open to it.
    assert deployed.node.sys("GET", f"secret/metadata/tenants/{deployed.tenant}/{KEY}", token).status_code == 200
    assert deployed.node.sys("GET", "sys/policies/acl/nexo-hub", token).status_code == 200
    # Nor can it change anything it can see.
    assert deployed.node.sys("DELETE", f"secret/metadata/tenants/{deployed.tenant}/{KEY}", token).status_code == 403
    assert deployed.node.sys("PUT", "sys/policies/acl/nexo-hub", token, json={"policy": ""}).status_code == 403
    assert deployed.node.sys("DELETE", "sys/audit/file", token).status_code == 403


def test_the_auditor_token_cannot_hash_a_candidate_value(deployed: Deployed) -> None:
    """No value oracle: sys/audit-hash would let an auditor test guesses against the log's HMACs."""
    token = str(deployed.vault.auth.login_userpass(deployed.auditor, deployed.password)["client_token"])
    guess = deployed.node.sys("POST", "sys/audit-hash/file", token, json={"input": "1234"})
    assert guess.status_code == 403
    capabilities = deployed.node.sys("POST", "sys/capabilities-self", token, json={"paths": ["sys/audit-hash/file"]})
    assert capabilities.json()["capabilities"] == ["deny"]
