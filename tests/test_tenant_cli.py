"""`nexo-secrets secrets ...`: a tenant user's CLI against the real service (HTTP) and OpenBao."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEEN, BaoServer, Tenant, Users, planted
from tests.ui_server import serve


@pytest.fixture(scope="module")
def service_url(app: Any) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(
    *args: str,
    url: str | None,
    token: str | None = None,
    home: Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: no operator variables, HOME where `bao login` would leave its token."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    environ["HOME"] = str(home)
    if url is not None:
        environ["NEXO_URL"] = url
    if token is not None:
        environ["VAULT_TOKEN"] = token
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "secrets", *args],
        input=stdin,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    SEEN.append(("tenant cli " + " ".join(args[:1]), done.stdout + done.stderr))
    return done


def stored(bao: BaoServer, tenant: str, key: str) -> str:
    return str(bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}").json()["data"]["data"]["value"])


def test_set_reads_the_value_from_stdin_and_the_token_from_bao_login(
    bao: BaoServer, tenant: Tenant, users: Users, service_url: str, tmp_path: Path
) -> None:
    (tmp_path / ".vault-token").write_text(users.token(tenant.writer, tenant.password) + "\n")  # as `bao login` does
    value = planted("cli-set")
    done = run(
        "set", "DB_PASSWORD", "-t", tenant.name, "-d", "Primary DB", url=service_url, home=tmp_path, stdin=value + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DB_PASSWORD created (version 1)"
    assert stored(bao, tenant.name, "DB_PASSWORD") == value  # one trailing newline dropped
    newer = planted("cli-set2")
    again = run("set", "DB_PASSWORD", "-t", tenant.name, url=service_url, home=tmp_path, stdin=newer)
    assert again.returncode == 0 and again.stdout.strip() == "DB_PASSWORD updated (version 2)", again.stderr
    assert stored(bao, tenant.name, "DB_PASSWORD") == newer

    listed = run("list", "-t", tenant.name, url=service_url, home=tmp_path)
    assert listed.returncode == 0
    key, version, _, by, description = listed.stdout.strip().split("\t")
    assert (key, version, by, description) == ("DB_PASSWORD", "2", tenant.writer, "Primary DB")
    for answer in (done, again, listed):
        assert value not in answer.stdout + answer.stderr and newer not in answer.stdout + answer.stderr

    empty = run("set", "EMPTY", "-t", tenant.name, url=service_url, home=tmp_path, stdin="\n")
    assert empty.returncode == 1 and "the value is empty" in empty.stderr


def test_import_export_delete(bao: BaoServer, tenant: Tenant, users: Users, service_url: str, tmp_path: Path) -> None:
    token = users.token(tenant.writer, tenant.password)
    one, two = planted("cli-imp1"), planted("cli-imp2")
    env_file = tmp_path / "app.env"
    env_file.write_text(f"# app\nexport API_KEY={one}\nDB_URL='postgres://u:{two}@db/x?a=b'\n")
    preview = run("import", str(env_file), "-t", tenant.name, "--dry-run", url=service_url, token=token, home=tmp_path)
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.splitlines() == ["would be created API_KEY", "would be created DB_URL"]
    done = run("import", str(env_file), "-t", tenant.name, url=service_url, token=token, home=tmp_path)
    assert done.stdout.splitlines() == ["created API_KEY", "created DB_URL"], done.stderr
    assert stored(bao, tenant.name, "DB_URL") == f"postgres://u:{two}@db/x?a=b"

    refused = run("import", str(env_file), "-t", tenant.name, url=service_url, token=token, home=tmp_path)
    assert refused.returncode == 1 and "2 of these keys exist already: API_KEY, DB_URL" in refused.stderr
    skipped = run("import", "-", "-t", tenant.name, "--on-conflict", "skip", url=service_url, token=token, home=tmp_path, stdin=env_file.read_text())  # fmt: skip
    assert skipped.returncode == 0 and skipped.stdout.splitlines() == [
        "skipped API_KEY (exists)",
        "skipped DB_URL (exists)",
    ]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"key": "OK", "value": one}, {"key": "no way", "value": two}]))
    broken = run("import", str(bad), "-t", tenant.name, url=service_url, token=token, home=tmp_path)
    assert broken.returncode == 1
    assert "nothing was written" in broken.stderr and "item 2: key: Invalid key" in broken.stderr, broken.stderr

    latin = tmp_path / "latin.env"
    latin.write_bytes("K=caf\xe9\n".encode("latin-1"))
    undecodable = run("import", str(latin), "-t", tenant.name, url=service_url, token=token, home=tmp_path)
    assert undecodable.returncode == 1 and "latin.env is not UTF-8 text" in undecodable.stderr, undecodable.stderr

    as_csv = run("export", "-t", tenant.name, url=service_url, token=token, home=tmp_path)
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0][0] == "key" and [r[0] for r in rows[1:]] == ["API_KEY", "DB_URL"]
    out = tmp_path / "inventory.json"
    as_json = run(
        "export", "-t", tenant.name, "--format", "json", "-o", str(out), url=service_url, token=token, home=tmp_path
    )
    assert as_json.returncode == 0 and [i["key"] for i in json.loads(out.read_text())] == ["API_KEY", "DB_URL"]

    deleted = run("delete", "API_KEY", "-t", tenant.name, "--yes", url=service_url, token=token, home=tmp_path)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "API_KEY deleted"
    gone = run("delete", "API_KEY", "-t", tenant.name, "--yes", url=service_url, token=token, home=tmp_path)
    assert gone.returncode == 1 and "No secret with key 'API_KEY'" in gone.stderr
    for answer in (preview, done, refused, skipped, broken, as_csv, deleted):
        assert one not in answer.stdout + answer.stderr and two not in answer.stdout + answer.stderr


def test_errors_are_the_apis_message(tenant: Tenant, users: Users, service_url: str, tmp_path: Path) -> None:
    reader = users.token(tenant.reader, tenant.password)
    denied = run(
        "set", "K", "-t", tenant.name, url=service_url, token=reader, home=tmp_path, stdin=planted("cli-denied")
    )
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        f"Error: You do not have write permission on tenant '{tenant.name}'\n"
        f"You are acting as {tenant.reader} (the token in VAULT_TOKEN)."
        " To act as whom `bao login` signed in last, run: unset VAULT_TOKEN"
    )
    refused = run("list", "-t", tenant.name, url=service_url, token="not-a-token", home=tmp_path)
    assert refused.returncode == 1 and "run `bao login` again" in refused.stderr, refused.stderr
    none = run("list", "-t", tenant.name, url=service_url, home=tmp_path)
    assert none.returncode == 1 and "no Vault token" in none.stderr
    no_url = run("list", "-t", tenant.name, url=None, token=reader, home=tmp_path)
    assert no_url.returncode == 2 and "--url or NEXO_URL" in no_url.stderr
    bad_key = run("delete", "../x", "-t", tenant.name, "--yes", url=service_url, token=reader, home=tmp_path)
    assert bad_key.returncode == 2 and "starts with a letter" in bad_key.stderr
    from tests.conftest import free_port

    down = run("list", "-t", tenant.name, url=f"http://127.0.0.1:{free_port()}", token=reader, home=tmp_path)
    assert down.returncode == 1 and "could not reach the service" in down.stderr


def test_set_takes_no_value_argument(tenant: Tenant, service_url: str, tmp_path: Path) -> None:
    """A value on the command line would stay in the shell's history: there is no way to give one."""
    done = run("set", "K", "some-value", "-t", tenant.name, url=service_url, token="x", home=tmp_path)
    assert done.returncode == 2 and "unexpected extra argument" in done.stderr.lower()
    assert "--token" not in run("set", "--help", url=None, home=tmp_path).stdout


def test_set_prompts_for_the_value_without_echo(
    bao: BaoServer, tenant: Tenant, users: Users, service_url: str, tmp_path: Path
) -> None:
    """At a terminal the value is asked twice, hidden: the terminal never shows it."""
    import pty
    import select
    import time

    value = planted("cli-prompt")
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_"))}
    environ.update(HOME=str(tmp_path), NEXO_URL=service_url, VAULT_TOKEN=users.token(tenant.writer, tenant.password))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "secrets", "set", "PROMPTED", "-t", tenant.name],
        env=environ,
        preexec_fn=lambda: os.login_tty(slave),  # the pty becomes the controlling terminal
        pass_fds=(slave,),
    )
    os.close(slave)
    shown = b""

    def read_until(marker: bytes) -> None:
        nonlocal shown
        deadline = time.monotonic() + 30
        while marker not in shown and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    shown += os.read(master, 4096)
                except OSError:
                    return

    read_until(b"Value of PROMPTED")
    os.write(master, value.encode() + b"\n")
    read_until(b"Repeat")
    os.write(master, value.encode() + b"\n")
    read_until(b"created")
    assert process.wait(30) == 0, shown
    os.close(master)
    SEEN.append(("tenant cli set at a terminal", shown.decode(errors="replace")))
    assert value.encode() not in shown and b"PROMPTED created (version 1)" in shown, shown
    assert stored(bao, tenant.name, "PROMPTED") == value


def test_whoami_and_refusals_say_whose_token_acts_and_where_it_came_from(
    tenant: Tenant, users: Users, service_url: str, tmp_path: Path
) -> None:
    """The README's case: a shell left with another user's VAULT_TOKEN after `bao login` as the writer."""
    (tmp_path / ".vault-token").write_text(users.token(tenant.writer, tenant.password))
    me = run("whoami", url=service_url, home=tmp_path)
    assert me.returncode == 0, me.stderr
    assert me.stdout.splitlines() == [f"{tenant.writer} (the token in ~/.vault-token)", f"  {tenant.name}: write"]

    other, other_password = users.user()
    left_over = users.token(other, other_password)
    me = run("whoami", url=service_url, token=left_over, home=tmp_path)
    assert me.stdout.splitlines() == [f"{other} (the token in VAULT_TOKEN)", "  no tenant"]
    denied = run("list", "-t", tenant.name, url=service_url, token=left_over, home=tmp_path)
    assert denied.returncode == 1
    assert f"You are acting as {other} (the token in VAULT_TOKEN)" in denied.stderr
    assert "unset VAULT_TOKEN" in denied.stderr

    # Only the file: the refusal names it, and has no advice about VAULT_TOKEN.
    (tmp_path / ".vault-token").write_text(left_over)
    denied = run("list", "-t", tenant.name, url=service_url, home=tmp_path)
    assert f"You are acting as {other} (the token in ~/.vault-token)." in denied.stderr
    assert "unset" not in denied.stderr


def test_an_inventory_export_given_to_import_is_named_as_such(
    tenant: Tenant, users: Users, service_url: str, tmp_path: Path
) -> None:
    writer = users.token(tenant.writer, tenant.password)
    assert (
        run(
            "set", "A_KEY", "-t", tenant.name, url=service_url, token=writer, home=tmp_path, stdin=planted("cli-inv")
        ).returncode
        == 0
    )
    for fmt in ("json", "csv"):
        out = tmp_path / f"inventory.{fmt}"
        assert (
            run(
                "export",
                "-t",
                tenant.name,
                "--format",
                fmt,
                "-o",
                str(out),
                url=service_url,
                token=writer,
                home=tmp_path,
            ).returncode
            == 0
        )
        given = run(
            "import",
            str(out),
            "-t",
            tenant.name,
            "--format",
            "json" if fmt == "json" else "dotenv",
            url=service_url,
            token=writer,
            home=tmp_path,
        )
        assert given.returncode == 1
        assert given.stderr.startswith(
            "Error: This is an inventory export (Download), which lists keys and descriptions but holds no values"
        ), given.stderr
        assert len(given.stderr.strip().splitlines()) == 1, given.stderr  # one sentence
