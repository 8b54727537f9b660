"""`nexo-secrets dev`: one command starts OpenBao, the demo and the service; a restart keeps the data."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from app import dev as dev_module
from tests.conftest import SEEN, BaoServer, free_port, planted
from tests.vault_nodes import REPO

READY_LINE = "Press Ctrl-C to stop."
USER_LINE = re.compile(r"^(writer|reader|admin|auditor): (\S+) / (\S+)$")


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

    @property
    def paste(self) -> str:
        """The shell lines the banner tells a user to paste."""
        first = next(i for i, line in enumerate(self.lines) if line.startswith("Paste into another shell")) + 1
        return "\n".join(line.strip() for line in self.lines[first : self.lines.index(READY_LINE)])

    @property
    def auditor_line(self) -> str:
        """The auditor's sign-in, which the paste block carries as a comment (run only when wanted)."""
        [line] = [line.strip().removeprefix("#").strip() for line in self.paste.splitlines() if "bao login" in line]
        return line

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


def start(folder: Path, env: dict[str, str], port: str | None = "0", argv: list[str] | None = None) -> Dev:
    """`nexo-secrets dev` on `folder` with --port `port` (None: no --port, the default port)."""
    options = ["--port", port] if port is not None else []
    process = subprocess.Popen(
        [*(argv or command()), "dev", "--data-dir", str(folder), *options],
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


def readme_blocks(section: str, language: str) -> list[str]:
    """The code blocks of one README section, as written."""
    text = (REPO / "README.md").read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def run_hub_examples(dev: Dev, home: Path, value: str) -> None:
    """The README's Hub examples (shell and Python), after the banner's lines, against this `dev`.

    Only the service's port differs from what a reader runs (NEXO_DEV_PORT instead of 8080)."""
    service = dev.url.rstrip("/")
    shell = [b for b in readme_blocks("For the Hub team", "sh") if "<operator token>" not in b]
    marker = "----- next block -----"
    script = "\n".join([dev.paste, "set -e", *(f"{block}\necho; echo '{marker}'" for block in shell)])
    script = script.replace("http://127.0.0.1:8080", service)
    ran = subprocess.run(
        ["bash", "-c", script], env=clean_env(HOME=str(home)), capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    resolved_out, sink_out = ran.stdout.split(marker)[:2]
    assert json.loads(resolved_out)["parameters"][0]["value"] == value
    # The sink's check, then bao unwrap with a stale ~/.vault-token around.
    creation_path, brace, unwrapped = sink_out.strip().partition("{")  # -field= prints no newline
    assert creation_path == "secret/data/tenants/demo/DATABASE_PASSWORD"
    assert json.loads(brace + unwrapped) == {"value": value}

    [snippet] = [b for b in readme_blocks("For the Hub team", "python") if "sink.unwrap(" in b]
    snippet = snippet.replace("http://127.0.0.1:8080", service)
    env = pasted_env(dev, home)
    python = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60)
    assert python.returncode == 0, python.stderr
    assert "'value': '***'" in python.stderr and value not in python.stderr
    # A key that does not exist: the snippet stops with the names, not with a NameError.
    missing = snippet.replace('"DATABASE_PASSWORD"', '"NO_SUCH_KEY"')
    python = subprocess.run([sys.executable, "-c", missing], env=env, capture_output=True, text=True, timeout=60)
    assert python.returncode == 1 and "NO_SUCH_KEY" in python.stderr and "NameError" not in python.stderr


def pasted_env(dev: Dev, home: Path) -> dict[str, str]:
    """The environment after the banner's lines (its plain exports), for a Python snippet."""
    env = clean_env(HOME=str(home), PYTHONPATH=str(REPO))
    exports = re.findall(r"export (\w+)=(\S+)(?: (\w+)=(\S+))?", dev.paste)
    for name, text, other, other_text in exports:
        if not text.startswith("$("):
            env[name] = text
            if other:
                env[other] = other_text
    return env


def said_in_comments(snippet: str) -> tuple[list[str], list[str]]:
    """What a README snippet says it prints: the comment line after each print() (stdout), and
    each comment line naming a log level (stderr, as logging.basicConfig writes it)."""
    lines = snippet.splitlines()
    printed = [lines[i + 1].removeprefix("# ") for i, line in enumerate(lines[:-1]) if line.startswith("print(")]
    logged = [line.removeprefix("# ") for line in lines if re.match(r"# (DEBUG|INFO|WARNING|ERROR):", line)]
    return printed, logged


def at_a_terminal(script: str, typed: str, env: dict[str, str]) -> str:
    """Run `script` in bash on a pseudo-terminal, type `typed` and Enter; everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: bash on the terminal
        os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-c", script], env)
    shown = b""

    def read(until: float, prompt: bool) -> bool:
        nonlocal shown
        while time.monotonic() < until:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return False
                if not chunk:
                    return False
                shown += chunk
                if prompt and b"Password for" in shown:
                    return True
        return True

    read(time.monotonic() + 20, prompt=True)
    os.write(fd, typed.encode() + b"\r")
    read(time.monotonic() + 30, prompt=False)  # until bash ends
    os.waitpid(pid, 0)
    os.close(fd)
    return shown.decode(errors="replace")


def record_files(folder: Path) -> None:
    for name in ("bao.log", "service.log", "logs/audit.log"):
        if (folder / name).exists():
            SEEN.append((f"nexo-secrets dev {name}", (folder / name).read_text(errors="replace")))


def test_a_port_left_in_time_wait_counts_as_free() -> None:
    """A service that just stopped leaves its connections in TIME_WAIT: the port is still usable."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first, as gunicorn does at shutdown: its side goes to TIME_WAIT
    assert client.recv(1) == b""
    client.close()
    assert not dev_module.port_free(port)  # a program listens on it
    server.close()
    while not time_wait_on(port):  # until the kernel has handled the client's FIN (loopback: at once)
        time.sleep(0.01)
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the old check: TIME_WAIT looked like a busy port
    assert dev_module.port_free(port)


def time_wait_on(port: int) -> bool:
    """Whether /proc/net/tcp has a connection from `port` in TIME_WAIT (state 06)."""
    rows = [r.split() for r in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return any(r[1].endswith(f":{port:04X}") and r[3] == "06" for r in rows)


@pytest.mark.system
def test_dev_runs_everything_and_keeps_secrets_across_restarts(tmp_path: Path) -> None:
    folder = tmp_path / "nexo-dev"
    port = free_port()
    # An operator token in the shell must not reach the service (it is not even used here).
    # NEXO_DEV_PORT stands in for the default 8080, which other runs may hold; no --port.
    env = clean_env(VAULT_TOKEN="hvs.operator-token-that-must-not-leak", NEXO_DEV_PORT=str(port))
    value = planted("dev")
    # A venv used without activating it: its python runs, its bin/ (with bao) is not on PATH.
    bare = {**env, "PATH": "/usr/bin:/bin"}
    assert shutil.which("bao", path=bare["PATH"]) is None

    dev = start(folder, bare, port=None, argv=[sys.executable, "-m", "app.cli"])
    try:
        assert dev.url == f"http://127.0.0.1:{port}/"
        accounts = dev.accounts
        assert set(accounts) == {"writer", "reader", "admin", "auditor"}, dev.lines
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

        # The banner's lines, pasted as printed into the same shell (bao not on its PATH), with
        # another login's ~/.vault-token lying around.
        home = tmp_path / "home"
        home.mkdir()
        other = {k: v for k, v in bare.items() if k != "VAULT_TOKEN"}  # another shell, bao not on its PATH
        (home / ".vault-token").write_text("s.left-behind-by-another-login")
        check = 'echo "hub=$HUB_TOKEN token=${VAULT_TOKEN-unset} addr=$VAULT_ADDR url=$NEXO_URL bao=$(command -v bao)"'
        pasted = subprocess.run(
            ["bash", "-c", dev.paste + "\n" + check],
            env={**other, "HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert pasted.returncode == 0 and not pasted.stderr, pasted.stderr
        said = dict(word.split("=", 1) for word in pasted.stdout.split())
        assert said["hub"] and said["addr"].startswith("http://127.0.0.1:")
        assert said["url"] == dev.url.rstrip("/")  # the addresses dev chose, the service's port too
        assert said["token"] == "unset"  # the shell acts as nobody: `bao login` as alice then counts
        assert said["bao"].endswith("/bao")  # the README's bao commands work in that shell
        assert "password" not in dev.paste.replace("password=-", "").replace("Password for", "")

        # The auditor's sign-in, when wanted: the password asked at the terminal without echo,
        # one Enter ends it; a wrong password exports nothing.
        auditor, auditor_password = accounts["auditor"]
        sign = dev.paste + "\n" + dev.auditor_line + '\necho "token=${VAULT_TOKEN-unset}"'
        shown = at_a_terminal(sign, auditor_password, {**other, "HOME": str(home)})
        assert f"Password for {auditor}:" in shown and auditor_password not in shown, shown
        assert "token=" in shown, shown
        token = re.findall(r"token=(\S+)", shown)[-1]
        listed = requests.request(
            "LIST", said["addr"] + "/v1/secret/metadata/tenants/demo", headers={"X-Vault-Token": token}, timeout=10
        )
        assert listed.status_code == 200 and "DEV_RESTART_CHECK" in listed.json()["data"]["keys"]  # dave's token
        shown = at_a_terminal(sign, "not-his-password", {**other, "HOME": str(home), "VAULT_TOKEN": "kept"})
        assert re.findall(r"token=(\S+)", shown)[-1] == "kept"  # a failed sign-in changes nothing
        SEEN.append(("the auditor's sign-in at a terminal", shown))
        hub_token = said["hub"]
        resolved = requests.post(
            dev.url + "api/v1/tenants/demo/resolve",
            headers={"Authorization": f"Bearer {hub_token}"},
            json={"parameters": [{"name": "p", "type": "SECRET", "value": "DEV_RESTART_CHECK"}]},
            timeout=10,
        )
        assert resolved.status_code == 200 and resolved.json()["parameters"][0]["value"] == value

        # The README's examples for the Hub, on the demo tenant the banner names.
        added = writer.post(
            dev.url + "api/v1/tenants/demo/secrets", json={"key": "DATABASE_PASSWORD", "value": value}, timeout=10
        )
        assert added.status_code == 201, added.text
        run_hub_examples(dev, home, value)
    finally:
        code = dev.stop()
    assert code == 0, dev.lines[-20:]
    assert processes_mentioning(str(folder)) == []

    again = start(folder, env, port=None)  # at once: the stopped service's connections are in TIME_WAIT
    try:
        assert again.url == dev.url  # the same port, and nothing said about it
        assert not [line for line in again.lines if "in use" in line]
        assert again.accounts == accounts  # the same passwords after a restart
        reader = sign_in(again.url, *accounts["reader"])
        listed = reader.get(again.url + "api/v1/tenants/demo/secrets", timeout=10).json()
        assert [i["key"] for i in listed["items"]] == ["DATABASE_PASSWORD", "DEV_RESTART_CHECK"]
        assert {i["created_by"] for i in listed["items"]} == {"alice"}
    finally:
        code = again.stop(signal.SIGTERM)
    assert code == 0
    assert processes_mentioning(str(folder)) == []
    record_files(folder)
    service_log = (folder / "service.log").read_text()
    assert '"route": "/api/v1/tenants/<tenant>/secrets"' in service_log
    assert env["VAULT_TOKEN"] not in service_log


@pytest.mark.system
def test_readme_client_references_examples_run_against_dev(tmp_path: Path) -> None:
    """The README's client examples of references (declare, check, resolve naming its referrer,
    forget), run as written after the banner's lines; they print and log what their comments say."""
    blocks = [b for b in readme_blocks("For the Hub team", "python") if "hub.declare(" in b]
    assert len(blocks) == 1, blocks
    [snippet] = blocks
    for call in ("hub.declare(", "hub.check(", "referrer=(", "hub.forget("):
        assert call in snippet, call
    printed, logged = said_in_comments(snippet)
    assert len(printed) == 3 and len(logged) == 1, (printed, logged)

    folder = tmp_path / "nexo-dev"
    dev = start(folder, clean_env(), port="0")
    try:
        value = planted("readme-client")
        writer = sign_in(dev.url, *dev.accounts["writer"])
        added = writer.post(
            dev.url + "api/v1/tenants/demo/secrets", json={"key": "DATABASE_PASSWORD", "value": value}, timeout=10
        )
        assert added.status_code == 201, added.text
        home = tmp_path / "home"
        home.mkdir()
        env = pasted_env(dev, home)
        assert {"NEXO_URL", "VAULT_ADDR", "NEXO_HUB_ROLE_ID", "NEXO_HUB_SECRET_ID"} <= set(env)
        for round_ in ("first", "again"):  # as written, twice: a declaration replaces the last one
            ran = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60)
            SEEN.append((f"README client references example ({round_})", ran.stdout + ran.stderr))
            assert ran.returncode == 0, ran.stderr
            assert ran.stdout.splitlines() == printed, ran.stdout
            warnings = [line for line in ran.stderr.splitlines() if line.startswith("WARNING:")]
            assert warnings == logged, ran.stderr
            assert value not in ran.stdout + ran.stderr
        # What the service has now: the example's referrer forgotten, dev's two samples kept.
        used = writer.get(dev.url + "api/v1/tenants/demo/references?key=DATABASE_PASSWORD", timeout=10).json()
        assert {(i["kind"], i["id"]) for i in used["items"]} == {
            ("action", "send-invoice"),
            ("event-type", "order.created"),
        }
        every = writer.get(dev.url + "api/v1/tenants/demo/references", timeout=10).json()
        assert "nightly-sync" not in {i["id"] for i in every["items"]}
        # A referrer never declared: forget raises, as the example's comment says.
        missing = snippet.replace(
            'hub.forget("demo", "action", "nightly-sync")', 'hub.forget("demo", "action", "never")'
        )
        assert missing != snippet
        ran = subprocess.run([sys.executable, "-c", missing], env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 1 and "SecretsClientError" in ran.stderr and "'never'" in ran.stderr, ran.stderr
        assert value not in ran.stdout + ran.stderr
    finally:
        assert dev.stop() == 0
    assert processes_mentioning(str(folder)) == []
    record_files(folder)


@pytest.mark.system
def test_dev_uses_an_existing_vault_from_vault_addr(tmp_path: Path, bao: BaoServer) -> None:
    folder = tmp_path / "external"
    taken = socket.socket()  # another program listens on the default port
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    try:
        dev = start(folder, clean_env(VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.root_token, NEXO_DEV_PORT=str(busy)), None)
    finally:
        taken.close()
    try:
        port = int(dev.url.rstrip("/").rsplit(":", 1)[1])
        assert port != busy
        assert f"port {busy} is in use by another program; serving on port {port} instead" in dev.lines
        assert f"OpenBao: {bao.addr}" in dev.lines
        assert not (folder / "init.json").exists()  # nothing was initialized: that Vault was used
        writer = sign_in(dev.url, *dev.accounts["writer"])
        assert writer.get(dev.url + "api/v1/session", timeout=10).json()["tenants"] == {"demo": "write"}
        # The two sample referrers the Hub declared, so the Used by column shows something.
        used = writer.get(dev.url + "api/v1/tenants/demo/references?key=DATABASE_PASSWORD", timeout=10).json()
        assert {(i["kind"], i["name"]) for i in used["items"]} == {
            ("action", "Send invoice"),
            ("event-type", "order.created"),
        }
    finally:
        assert dev.stop() == 0
    assert processes_mentioning(str(folder)) == []
    record_files(folder)
