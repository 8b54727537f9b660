"""The `nexo-secrets` command: operator tasks with the operator's own token, and `serve`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from app import access, config, errors, vault
from app.vault import Vault


def _vault() -> Vault:
    return vault.from_settings(config.from_environ())


def _token() -> str:
    token = os.environ.get("VAULT_TOKEN")
    if not token:
        raise click.UsageError("set VAULT_TOKEN to an operator (bootstrap) or admin token")
    return token


def _run(action: Any) -> Any:
    try:
        return action()
    except errors.ServiceError as exc:
        raise click.ClickException(f"{exc.status}: {exc.message}") from None


@click.group()
def main() -> None:
    """Nexomatic Secrets: tenant secrets in Vault."""


@main.command()
def bootstrap() -> None:
    """Enable userpass and approle, ensure the KV v2 mount, write the static policies."""
    vault = _vault()
    for line in _run(lambda: access.bootstrap(vault, _token())):
        click.echo(line)
    click.echo("bootstrap done")


@main.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.argument("name")
def tenant_create(name: str) -> None:
    """Provision tenant NAME: its policies and groups (idempotent)."""
    new = _run(lambda: access.provision(_vault(), _token(), name))
    click.echo(f"tenant {name} {'created' if new else 'updated'}")


@main.command()
@click.argument("user")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("permission", type=click.Choice(access.PERMISSIONS))
def grant(user: str, tenant_name: str, permission: str) -> None:
    """Give USER read or write permission on TENANT."""
    _run(lambda: access.grant(_vault(), _token(), tenant_name, user, permission))
    click.echo(f"{user} may now {permission} {tenant_name}")


@main.command()
@click.argument("user")
@click.argument("tenant_name", metavar="TENANT")
def revoke(user: str, tenant_name: str) -> None:
    """Take away USER's permission on TENANT."""
    changed = _run(lambda: access.revoke(_vault(), _token(), tenant_name, user))
    click.echo(f"{user} revoked from {tenant_name}" if changed else f"{user} had no permission on {tenant_name}")


@main.group()
def user() -> None:
    """Userpass accounts (the embedded default's sign-in method)."""


@user.command("add")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--policy", "policies", multiple=True, help="Extra policy, e.g. nexo-admin (operator token only).")
def user_add(name: str, password: str, policies: tuple[str, ...]) -> None:
    """Create or update user NAME (password read from the prompt or --password).

    An admin token may only create a new account without policies; updating an account or
    giving it a policy takes the operator's token."""
    from app import names

    if not names.is_user(name):
        raise click.BadParameter(names.USER_RULE, param_hint="NAME")
    _run(lambda: _vault().auth.write_user(_token(), name, password, policies))
    click.echo(f"user {name} saved")


@user.command("delete")
@click.argument("name")
def user_delete(name: str) -> None:
    """Delete user NAME and its Vault entity (operator token; an admin disables instead)."""
    found = _run(lambda: access.delete_user(_vault(), _token(), name))
    click.echo(f"user {name} deleted" if found else f"no user {name}")


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable user NAME: it can no longer sign in, and its tokens stop working."""
    _run(lambda: access.set_disabled(_vault(), _token(), name, True))
    click.echo(f"user {name} disabled")


@user.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable user NAME again."""
    _run(lambda: access.set_disabled(_vault(), _token(), name, False))
    click.echo(f"user {name} enabled")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Run the service under gunicorn (the production WSGI server)."""
    # The service holds no standing privilege: an operator token must not leak into it.
    os.environ.pop("VAULT_TOKEN", None)
    try:
        config.check(config.from_environ())
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    argv = [
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        "8",
        # No gunicorn access log: the app writes a JSON access line per request, with its request
        # id and caller (app/observe.py); paths and statuses only, bodies and headers never.
        # gunicorn's own lines are JSON too.
        "--logger-class",
        "app.observe.GunicornLogger",
        # gunicorn's own error answers (a request line too long, a bad request) in the JSON shape
        "--worker-class",
        "app.observe.JsonErrorWorker",
        "app.wsgi:app",
    ]
    if os.path.isdir("/dev/shm"):
        # Each worker touches its heartbeat file on every request; on tmpfs that costs a fraction
        # of what it does on a disk filesystem (it showed in the worker's profile).
        argv[-1:-1] = ["--worker-tmp-dir", "/dev/shm"]
    os.execvp(sys.executable, [sys.executable, "-m", *argv])


@main.command("hub-credentials")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of shell variables.")
def hub_credentials(as_json: bool) -> None:
    """Print the Hub's AppRole role_id and a fresh secret_id (run `bootstrap` first)."""
    import json

    creds = _run(lambda: access.hub_credentials(_vault(), _token(), issued_by="nexo-secrets hub-credentials"))
    if as_json:
        click.echo(json.dumps({"role_id": creds.role_id, "secret_id": creds.secret_id}))
    else:
        click.echo(f"NEXO_HUB_ROLE_ID={creds.role_id}")
        click.echo(f"NEXO_HUB_SECRET_ID={creds.secret_id}")
    days = creds.secret_id_ttl // 86400
    click.echo(
        f"secret_id accessor {creds.secret_id_accessor}, valid {days} days"
        if days
        else f"secret_id accessor {creds.secret_id_accessor}",
        err=True,
    )


# `nexo-secrets dev`: the embedded default (app/dev.py).
from app import dev as _dev  # noqa: E402

main.add_command(_dev.command)

if __name__ == "__main__":
    main()
