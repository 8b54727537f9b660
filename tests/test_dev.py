"""`nexo-secrets dev`: one command starts OpenBao, the demo and the service; a restart keeps the data."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.conftest import SEEN, BaoServer, planted

READY_LINE = "Press Ctrl-C to stop."
USER_LINE = re.compile(r"^(writer|reader|admin|auditor|hub): (\S+) / (\S+)$")


@dataclass
class Dev:
    """A running `nexo-secrets dev` and what it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        found = [m.group(1) for line in self.lines if (m := re.search(r"running at (http://\S+/)", line))]
        assert found, self.lines
        return found[0]

    @property
    def accounts(self) -> dict[str, tuple[str, str]]:
        return {m.group(1): (m.group(2), m.group(3)) for line in self.lines if (m := USER_LINE.match(line))}

    def stop(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(60)
        if self.reader is not None:
            self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def command() -> list[str]:
    found = shutil.which("nexo-secrets")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def start(folder: Path, env: dict[str, str]) -> Dev:
    process = subprocess.Popen(
        [*command(), "dev", "--data-dir", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    dev = Dev(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            dev.lines.append(line.rstrip("\n"))
            if line.strip() == READY_LINE:
                dev.ready.set()
        SEEN.append(("nexo-secrets dev output", "\n".join(dev.lines)))

    dev.reader = threading.Thread(target=read, daemon=True)
    dev.reader.start()
    deadline = time.monotonic() + 150
    while not dev.ready.wait(0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            dev.stop(signal.SIGKILL)
            bao_log = folder / "bao.log"
            tail = bao_log.read_text(errors="replace")[-3000:] if bao_log.exists() else ""
            pytest.fail("nexo-secrets dev did not become ready:\n" + "\n".join(dev.lines[-10:]) + "\n" + tail)
    return dev


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (the dev data folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if text in cmdline and state != "Z" and int(proc.name) != os.getpid():
            found.append(f"{proc.name}: {cmdline}")
    return found


def sign_in(url: str, user: str, password: str) -> requests.Session:
    http = requests.Session()
    reply = http.post(url + "api/v1/session", json={"username": user, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    http.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return http


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    env.update(extra)
    return env


def record_files(folder: Path) -> None:
    for name in ("bao.log", "service.log", "logs/audit.log"):
        if (folder / name).exists():
            SEEN.append((f"nexo-secrets dev {name}", (folder / name).read_text(errors="replace")))


def test_dev_runs_everything_and_keeps_secrets_across_restarts(tmp_path: Path) -> None:
    folder = tmp_path / "nexo-dev"
    # An operator token in the shell must not reach the service (it is not even used here).
    env = clean_env(VAULT_TOKEN="hvs.operator-token-that-must-not-leak")
    value = planted("dev")

    dev = start(folder, env)
    try:
        accounts = dev.accounts
        assert set(accounts) == {"writer", "reader", "admin", "auditor", "hub"}, dev.lines
        assert [accounts[r][0] for r in ("writer", "reader", "admin", "auditor")] == ["alice", "bob", "carol", "dave"]
        for name in ("init.json", "demo-users.json", "hub-approle.json", "secret-key"):
            assert (folder / name).stat().st_mode & 0o777 == 0o600, name
        assert (folder / "logs" / "audit.log").exists()

        # The service runs with NEXO_ENV=dev and no Vault token in its environment.
        service_pid = (folder / "gunicorn.pid").read_text().strip()
        service_env = Path(f"/proc/{service_pid}/environ").read_bytes().split(b"\0")
        assert b"NEXO_ENV=dev" in service_env
        assert not [e for e in service_env if e.startswith((b"VAULT_TOKEN=", b"BAO_TOKEN="))]

        # A second one on the same folder is refused instead of fighting over Raft's files.
        second = subprocess.run(
            [*command(), "dev", "--data-dir", str(folder), "--port", "0"], env=env, capture_output=True, text=True
        )
        assert second.returncode != 0 and "another `nexo-secrets dev` is running" in second.stderr

        page = requests.get(dev.url, timeout=10)  # the UI is served at the printed URL
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")

        writer = sign_in(dev.url, *accounts["writer"])
        created = writer.post(
            dev.url + "api/v1/tenants/demo/secrets",
            json={"key": "DEV_RESTART_CHECK", "description": "kept across restarts", "value": value},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        assert created.json()["key"] == "DEV_RESTART_CHECK" and "value" not in created.json()
    finally:
        code = dev.stop()
    assert code == 0, dev.lines[-20:]
    assert processes_mentioning(str(folder)) == []

    again = start(folder, env)
    try:
        assert again.accounts == accounts  # the same passwords after a restart
        reader = sign_in(again.url, *accounts["reader"])
        listed = reader.get(again.url + "api/v1/tenants/demo/secrets", timeout=10).json()
        assert [i["key"] for i in listed["items"]] == ["DEV_RESTART_CHECK"]
        assert listed["items"][0]["created_by"] == "alice"
    finally:
        code = again.stop(signal.SIGTERM)
    assert code == 0
    assert processes_mentioning(str(folder)) == []
    record_files(folder)
    service_log = (folder / "service.log").read_text()
    assert '"route": "/api/v1/tenants/<tenant>/secrets"' in service_log
    assert env["VAULT_TOKEN"] not in service_log


def test_dev_uses_an_existing_vault_from_vault_addr(tmp_path: Path, bao: BaoServer) -> None:
    folder = tmp_path / "external"
    dev = start(folder, clean_env(VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.root_token))
    try:
        assert f"OpenBao: {bao.addr}" in dev.lines
        assert not (folder / "init.json").exists()  # nothing was initialized: that Vault was used
        writer = sign_in(dev.url, *dev.accounts["writer"])
        assert writer.get(dev.url + "api/v1/session", timeout=10).json()["tenants"] == {"demo": "write"}
    finally:
        assert dev.stop() == 0
    assert processes_mentioning(str(folder)) == []
    record_files(folder)
