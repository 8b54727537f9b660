"""The `nexo-secrets` command: operator tasks with the operator's own token, and `serve`."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import click

from app import access, config, errors, hub_auth, names, vault
from app.vault import Vault
from app.vault import errors as vault_errors


def _vault() -> Vault:
    return vault.from_settings(config.from_environ())


def _token() -> str:
    token = os.environ.get("VAULT_TOKEN")
    if not token:
        raise click.UsageError("set VAULT_TOKEN to an operator (bootstrap) or admin token")
    return token


def _run(action: Any) -> Any:
    """Run a domain action; its errors become one line in the operator's terms (not the web UI's)."""
    try:
        return action()
    except (errors.ServiceError, vault_errors.VaultError) as failed:
        exc = failed if isinstance(failed, errors.ServiceError) else errors.from_vault(failed)
    if isinstance(exc, errors.Unavailable):
        raise click.ClickException(_unavailable())
    if isinstance(exc, errors.NotAuthenticated):  # TokenInvalid included: the CLI signs in with VAULT_TOKEN only
        raise click.ClickException(
            f"VAULT_TOKEN was refused by Vault at {_addresses()}: it is wrong, expired or revoked; "
            "set it to a valid operator or admin token"
        )
    if isinstance(exc, errors.PermissionDenied):
        generic = "Vault denied this to the token in VAULT_TOKEN: use an operator (bootstrap) or admin token"
        raise click.ClickException(generic if exc.message == errors.PermissionDenied.message else exc.message)
    rules = [rule for found in (exc.errors or {}).values() for rule in found]
    raise click.ClickException(": ".join([exc.message, *rules]))


def _addresses() -> str:
    return ", ".join(config.from_environ()["VAULT_ADDRS"])


def _unavailable() -> str:
    """Why Vault did not serve the request: unreachable, sealed, or failing."""
    where = "from VAULT_ADDR" if os.environ.get("VAULT_ADDR") else "the default: VAULT_ADDR is not set"
    health = _vault().sys.health()
    if not health.get("reachable"):
        return f"could not reach Vault at {_addresses()} ({where}); is it running, and is VAULT_ADDR right?"
    if health.get("sealed"):
        return f"Vault at {_addresses()} ({where}) is sealed: unseal it first"
    return f"Vault at {_addresses()} ({where}) answered with a server error; try again shortly"


@click.group()
def main() -> None:
    """Nexomatic Secrets: tenant secrets in Vault."""
    # No configured logging here, so Python would print the service's log lines ("vault
    # unreachable: GET /v1/...") to stderr before the one line _run says in the operator's terms.
    logging.getLogger("app").addHandler(logging.NullHandler())


@main.command()
@click.option(
    "--sign-in-quota/--no-sign-in-quota",
    default=False,
    envvar="NEXO_SIGN_IN_QUOTA",  # docker-compose's init job sets it (deploy/init.sh)
    help="Write OpenBao's rate-limit quota that bounds password guessing. Needs the listener to "
    "trust the service's X-Forwarded-For (README, Signing in); without that it counts every sign-in together. "
    "Default: NEXO_SIGN_IN_QUOTA (true/false), else off.",
)
def bootstrap(sign_in_quota: bool) -> None:
    """Enable userpass and approle, ensure the KV v2 mount, write the static policies."""
    vault = _vault()
    hours = config.from_environ()["SESSION_HOURS"]
    for line in _run(lambda: access.bootstrap(vault, _token(), session_hours=hours, sign_in_quota=sign_in_quota)):
        click.echo(line)
    click.echo("bootstrap done")


def _tenant_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A tenant name from the command line, checked here, where it comes in (the services trust it)."""
    if not names.is_tenant(value):
        raise click.BadParameter(names.TENANT_RULE)
    return value


def _user_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A user name from the command line, checked here, where it comes in (the services trust it)."""
    if not names.is_user(value):
        raise click.BadParameter(names.USER_RULE)
    return value


@main.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.argument("name", callback=_tenant_name)
def tenant_create(name: str) -> None:
    """Provision tenant NAME: its policies and groups (idempotent)."""
    done = _run(lambda: access.provision(_vault(), _token(), name))
    _run(lambda: hub_auth.allow_tenant(_vault(), _token(), name))  # the Hub's runs may now get tokens for it
    click.echo(f"tenant {name} {'created' if done.new else 'updated'}")
    if done.removed:
        click.echo(
            f"its groups existed before the tenant (made outside tenant create): the {done.removed} "
            "member(s) they held were removed; it starts with no members"
        )


@main.command()
@click.argument("user", callback=_user_name)
@click.argument("tenant_name", metavar="TENANT", callback=_tenant_name)
@click.argument("permission", type=click.Choice(access.PERMISSIONS))
def grant(user: str, tenant_name: str, permission: str) -> None:
    """Give USER (an existing account) read or write permission on TENANT."""
    vault = _vault()
    # access.grant would make an entity for any name: a typo would leave an orphan nobody signs in as.
    if not _run(lambda: access.user_exists(vault, _token(), user)):
        raise click.ClickException(f"there is no user {user}: add the account first (nexo-secrets user add {user})")
    _run(lambda: access.grant(vault, _token(), tenant_name, user, permission))
    click.echo(f"{user} may now {permission} {tenant_name}")


@main.command()
@click.argument("user", callback=_user_name)
@click.argument("tenant_name", metavar="TENANT", callback=_tenant_name)
def revoke(user: str, tenant_name: str) -> None:
    """Take away USER's permission on TENANT."""
    changed = _run(lambda: access.revoke(_vault(), _token(), tenant_name, user))
    click.echo(f"{user} revoked from {tenant_name}" if changed else f"{user} had no permission on {tenant_name}")


@main.group()
def user() -> None:
    """Userpass accounts (the embedded default's sign-in method)."""


@user.command("add")
@click.argument("name", callback=_user_name)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--policy", "policies", multiple=True, help="Extra policy, e.g. nexo-admin (operator token only).")
def user_add(name: str, password: str, policies: tuple[str, ...]) -> None:
    """Create or update user NAME (password read from the prompt or --password).

    An admin token may only create a new account without policies; updating an account or
    giving it a policy takes the operator's token."""
    vault = _vault()
    _run(lambda: vault.auth.write_user(_token(), name, password, policies))
    click.echo(f"user {name} saved")
    # Vault takes any policy name; a typo only shows later as a user who may do nothing. The
    # listing, not a read of each: an admin token may list every policy but read only nexo-*.
    if policies:
        known = set(_run(lambda: vault.identity.list_policies(_token())))
        for policy in policies:
            if policy not in known:
                click.echo(f"warning: there is no policy {policy} (yet); {name} has it in name only", err=True)


@user.command("delete")
@click.argument("name", callback=_user_name)
def user_delete(name: str) -> None:
    """Delete user NAME and its Vault entity (operator token; an admin disables instead)."""
    found = _run(lambda: access.delete_user(_vault(), _token(), name))
    click.echo(f"user {name} deleted" if found else f"no user {name}")


@user.command("disable")
@click.argument("name", callback=_user_name)
def user_disable(name: str) -> None:
    """Disable user NAME: it can no longer sign in, and its tokens stop working."""
    _run(lambda: access.set_disabled(_vault(), _token(), name, True))
    click.echo(f"user {name} disabled")


@user.command("enable")
@click.argument("name", callback=_user_name)
def user_enable(name: str) -> None:
    """Enable user NAME again."""
    _run(lambda: access.set_disabled(_vault(), _token(), name, False))
    click.echo(f"user {name} enabled")


@main.command()
@click.option("--dry-run", is_flag=True, help="List what is past the recovery window; delete nothing.")
@click.option("--tenant", "only", multiple=True, help="Only this tenant (repeatable); default: every tenant.")
def purge(dry_run: bool, only: tuple[str, ...]) -> None:
    """Delete for good every deleted secret past NEXO_RECOVERY_DAYS, in every tenant (for cron).

    Takes the operator's token: the service itself holds none."""
    from app import secrets

    try:
        days = config.from_environ()["RECOVERY_DAYS"]
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    vault, token = _vault(), _token()
    count = 0

    def run() -> None:
        nonlocal count
        for tenant_name, key, deleted in secrets.purge(vault, token, days, dry_run=dry_run, tenants=only):
            count += 1
            click.echo(f"{'due' if dry_run else 'purged'} {tenant_name}/{key} (deleted {deleted})")

    _run(run)
    click.echo(f"{count} {'due for purging' if dry_run else 'purged'} (recovery window {days} days)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Run the service under gunicorn (the production WSGI server), without VAULT_TOKEN.

    VAULT_TOKEN is dropped from the environment, so an operator's shell can run it. With
    NEXO_METRICS_PORT set, /metrics is served on that port of HOST, and only there."""
    # The service holds no standing privilege: an operator token must not leak into it.
    os.environ.pop("VAULT_TOKEN", None)
    try:
        settings = config.from_environ()
        config.check(settings)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    from app import serving  # the one serving configuration (app/serving.py)

    argv = serving.argv(serving.binds(host, port, settings), workers)
    os.execvp(argv[0], argv)


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


@main.group("hub-auth")
def hub_auth_group() -> None:
    """How the Hub's runs sign in to Vault."""


def _duration(text: str) -> int:
    """Seconds from "300", "300s", "5m" or "1h"."""
    match = re.fullmatch(r"([0-9]{1,6})([smh]?)", text.strip())
    if not match:
        raise click.BadParameter("a duration such as 300, 300s, 5m")
    return int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def _public_key(path: str) -> str:
    """A PEM public key file's text; the file's content is never echoed (it could be a private key)."""
    from cryptography.hazmat.primitives import serialization

    data = Path(path).read_bytes()
    try:
        serialization.load_pem_public_key(data)
    except ValueError:
        private = b"PRIVATE KEY-----" in data
        hint = "it holds a private key: give its public half" if private else "it is not a PEM public key"
        raise click.BadParameter(f"{path}: {hint}", param_hint="--pubkey") from None
    return data.decode().strip()


@hub_auth_group.command("jwt")
@click.option("--issuer", required=True, help="The `iss` of the Hub's run JWTs.")
@click.option("--audience", required=True, help="The `aud` the Hub's run JWTs carry (e.g. nexo-secrets).")
@click.option(
    "--pubkey",
    "pubkeys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A PEM public key the Hub signs with (repeatable, for a key rollover).",
)
@click.option("--jwks-url", help="The Hub's (or its identity provider's) JWKS URL, instead of --pubkey.")
@click.option("--ttl", default="5m", show_default=True, help="Run token lifetime, 1m to 15m (no renewal beyond).")
@click.option("--mount", default=hub_auth.MOUNT, show_default=True, help="Path of the jwt auth mount.")
def hub_auth_jwt(
    issuer: str, audience: str, pubkeys: tuple[str, ...], jwks_url: str | None, ttl: str, mount: str
) -> None:
    """Run tokens: the Hub signs a short JWT per run, naming its tenant; Vault gives that run a
    token that reads that tenant's values alone, for minutes (idempotent)."""
    if bool(pubkeys) == bool(jwks_url):
        raise click.UsageError("give --pubkey FILE or --jwks-url URL (one of them)")
    seconds = _duration(ttl)
    if not hub_auth.TTL_MIN <= seconds <= hub_auth.TTL_MAX:
        raise click.BadParameter(f"{ttl}: from 1m to 15m", param_hint="--ttl")
    keys = [_public_key(p) for p in pubkeys]
    vault, token = _vault(), _token()

    def configure() -> list[str]:
        return hub_auth.configure(
            vault, token, issuer=issuer, audience=audience, pubkeys=keys, jwks_url=jwks_url, ttl=seconds, mount=mount
        )

    for line in _run(configure):
        click.echo(line)
    click.echo(f"hub-auth jwt done: runs sign in at auth/{mount}/login with role {hub_auth.RUN_ROLE}")


# `nexo-secrets dev`: the embedded default (app/dev.py).
from app import dev as _dev  # noqa: E402

main.add_command(_dev.command)

# `nexo-secrets secrets ...`: tenant users, through the service's API (app/tenant_cli.py).
from app import tenant_cli as _tenant_cli  # noqa: E402

main.add_command(_tenant_cli.command)

if __name__ == "__main__":
    main()
