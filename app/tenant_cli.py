"""`nexo-secrets secrets ...`: a tenant user's commands, through the service's HTTP API.

The user's own Vault token (VAULT_TOKEN, else ~/.vault-token that `bao login` leaves) is sent
as Bearer, so the service and Vault see the user, with the user's permissions. Never a token
or a value on the command line: both would stay in the shell's history. `whoami` says whose
token that is and where it came from, and so does every refusal (403): a VAULT_TOKEN left in
the shell by another sign-in wins over `bao login`'s file, and that is easy to forget.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

import click
import urllib3

from app import names

_TIMEOUT = urllib3.Timeout(connect=5.0, read=120.0)  # an import of 500 keys takes a while
_PAGE = 1000
_STATUS_WORDS = {"created": "created", "updated": "updated", "skipped": "skipped", "failed": "FAILED"}


class Service:
    """The service's API with the user's token; every failure a ClickException with its message."""

    def __init__(self, url: str, token: str, source: str = "VAULT_TOKEN") -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.source = source  # where the token came from: VAULT_TOKEN or ~/.vault-token
        self._http = urllib3.PoolManager(retries=False, timeout=_TIMEOUT)

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None, *, raw: bool = False
    ) -> Any:
        """JSON in, the answer's JSON (or its bytes, raw) out; an error raised as the API says it."""
        response = self.send(method, path, body, query)
        if response.status >= 400:
            raise self.refusal(response)
        return response.data if raw else _json(response.data)

    def refusal(self, response: Any) -> click.ClickException:
        """The API's message; for a 403 also whom the token belongs to, and where it came from."""
        message = _message(response.status, _json(response.data), self.source)
        if response.status == 403:
            message += "\n" + self.acting_as()
        return click.ClickException(message)

    def acting_as(self) -> str:
        """ "You are acting as alice (the token in VAULT_TOKEN)." and how to change that."""
        who = self.send("GET", "/api/v1/session", None, None)
        name = (_json(who.data) or {}).get("user") if who.status == 200 else None
        said = f"You are acting as {name}" if name else "You are acting as the owner of that token"
        said += f" (the token in {self.source})."
        if self.source == "VAULT_TOKEN":
            said += " To act as whom `bao login` signed in last, run: unset VAULT_TOKEN"
        return said

    def send(self, method: str, path: str, body: Any, query: dict[str, Any] | None) -> Any:
        url = self.url + path + ("?" + urlencode(query) if query else "")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json, text/csv"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            return self._http.request(method, url, body=data, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise click.ClickException(f"could not reach the service at {self.url}: {type(exc).__name__}") from None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _message(status: int, payload: Any, source: str = "VAULT_TOKEN or ~/.vault-token") -> str:
    """The API's own message, its field errors after it (one per line)."""
    if not isinstance(payload, dict) or "message" not in payload:
        return f"the service answered {status} (is the URL that of Nexomatic Secrets?)"
    lines = [str(payload["message"])]
    found = payload.get("errors")
    found = found if isinstance(found, dict) else {}
    for field, rules in found.items():
        if field in ("results", "existing", "unresolved"):
            continue
        for rule in rules if isinstance(rules, list) else [rules]:
            lines.append(f"  {rule}" if field == "content" else f"  {field}: {rule}")
    for result in found.get("results") or []:
        lines.append(_result_line(result))  # a stop half way: what was written, what was not
    if status == 401:
        lines.append(f"The token from {source} was refused: run `bao login` again.")
    return "\n".join(lines)


def _result_line(result: dict[str, Any]) -> str:
    reason = f" ({result['reason']})" if result.get("reason") else ""
    return f"{_STATUS_WORDS.get(result['status'], result['status'])} {result['key']}{reason}"


def _token() -> tuple[str, str]:
    """The user's Vault token and where it came from: VAULT_TOKEN, else what `bao login` wrote to
    ~/.vault-token."""
    token = os.environ.get("VAULT_TOKEN", "").strip()
    if token:
        return token, "VAULT_TOKEN"
    try:
        token = (Path.home() / ".vault-token").read_text().strip()
    except OSError:
        token = ""
    if not token:
        raise click.ClickException("no Vault token: sign in with `bao login -method=userpass username=...` first")
    return token, "~/.vault-token"


def _service(url: str | None) -> Service:
    if not url:
        raise click.UsageError("give the service's URL with --url or NEXO_URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--url must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        click.echo(f"warning: {url} is plain http: your Vault token crosses the network unencrypted", err=True)
    return Service(url, *_token())


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _secrets_path(tenant: str, key: str | None = None, *, action: str | None = None) -> str:
    path = f"/api/v1/tenants/{quote(tenant, safe='')}/secrets"
    if key is not None:
        path += "/" + quote(key, safe="")
    return path + (f"/{action}" if action else "")


def _check_tenant(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not names.is_tenant(value):
        raise click.BadParameter(names.TENANT_RULE)
    return value


def _check_key(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not names.is_key(value):
        raise click.BadParameter(names.KEY_RULE)
    return value


_tenant_option = click.option("--tenant", "-t", required=True, callback=_check_tenant, help="The tenant.")
_url_option = click.option("--url", envvar="NEXO_URL", help="The service's URL (default: $NEXO_URL).")


@click.group("secrets")
def command() -> None:
    """A tenant's secrets, as you (your Vault token from `bao login`), through the service's API."""


@command.command("whoami")
@_url_option
def whoami(url: str | None) -> None:
    """Say whom your token belongs to, where it came from, and your tenants."""
    service = _service(url)
    info = service.call("GET", "/api/v1/session")
    click.echo(f"{info['user']} (the token in {service.source})")
    tenants = info.get("tenants") or {}
    for tenant, permission in sorted(tenants.items()):
        click.echo(f"  {tenant}: {permission}")
    if not tenants:
        click.echo("  no tenant")


@command.command("list")
@_tenant_option
@_url_option
@click.option("--search", "-q", help="Only keys or descriptions containing this.")
def list_(tenant: str, url: str | None, search: str | None) -> None:
    """List the secrets: key, version, last update, by whom, description (never a value)."""
    service = _service(url)
    for item in _items(service, tenant, search):
        click.echo("\t".join(str(item[f]) for f in ("key", "version", "updated_time", "updated_by", "description")))


def _items(service: Service, tenant: str, search: str | None) -> Iterator[dict[str, Any]]:
    after: str | None = None
    while True:
        query: dict[str, Any] = {"limit": _PAGE}
        if after:
            query["after"] = after
        if search:
            query["q"] = search
        page = service.call("GET", _secrets_path(tenant), query=query)
        yield from page["items"]
        after = page.get("next")
        if not after:
            return


@command.command("set")
@click.argument("key", callback=_check_key)
@_tenant_option
@_url_option
@click.option("--description", "-d", help="The description (kept as it is when not given).")
def set_(key: str, tenant: str, url: str | None, description: str | None) -> None:
    """Create KEY or give it a new value, read from standard input or a hidden prompt.

    Piped input loses one trailing newline (`printf %s` keeps it exact)."""
    service = _service(url)
    value = _read_value(key)
    body: dict[str, Any] = {"key": key, "value": value}
    if description is not None:
        body["description"] = description
    path = _secrets_path(tenant)
    response = service.send("POST", path, body, None)
    if response.status == 409:  # it exists: a new version
        body.pop("key")
        item = service.call("PATCH", _secrets_path(tenant, key), body)
        click.echo(f"{key} updated (version {item['version']})")
        return
    if response.status >= 400:
        raise service.refusal(response)
    click.echo(f"{key} created (version {_json(response.data)['version']})")


def _read_value(key: str) -> str:
    if sys.stdin.isatty():
        value = str(click.prompt(f"Value of {key}", hide_input=True, confirmation_prompt=True))
    else:
        value = sys.stdin.read()
        value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value:
        raise click.ClickException("the value is empty: a secret needs a value")
    return value


@command.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@_tenant_option
@_url_option
@click.option(
    "--format", "fmt", type=click.Choice(["dotenv", "json"]), help="The file's format (default: json for *.json)."
)
@click.option(
    "--on-conflict",
    type=click.Choice(["skip", "overwrite", "fail"]),
    default="fail",
    show_default=True,
    help="What to do with keys that exist: skip, overwrite (a new version), or fail (write nothing).",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
def import_(file: IO[str], tenant: str, url: str | None, fmt: str | None, on_conflict: str, dry_run: bool) -> None:
    """Import FILE (a .env file or a JSON list of {key, value, description}; - for stdin)."""
    service = _service(url)
    if fmt is None:
        fmt = "json" if file.name.endswith(".json") else "dotenv"
    try:
        content = file.read()
    except UnicodeDecodeError:
        raise click.ClickException(f"{file.name} is not UTF-8 text") from None
    body = {"format": fmt, "content": content, "on_conflict": on_conflict, "dry_run": dry_run}
    answer = service.call("POST", _secrets_path(tenant, action="import"), body)
    failed = 0
    for result in answer["results"]:
        click.echo(("would be " if dry_run else "") + _result_line(result))
        failed += result["status"] == "failed"
    if failed:
        raise click.ClickException(f"{failed} keys failed")


@command.command("export")
@_tenant_option
@_url_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Write here (default: standard output).")
def export(tenant: str, url: str | None, fmt: str, output: IO[bytes]) -> None:
    """Export the inventory: keys, descriptions, versions, who and when; never a value."""
    service = _service(url)
    output.write(service.call("GET", _secrets_path(tenant, action="export"), query={"format": fmt}, raw=True))


@command.command("delete")
@click.argument("key", callback=_check_key)
@_tenant_option
@_url_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(key: str, tenant: str, url: str | None, yes: bool) -> None:
    """Delete KEY (restorable under Recently deleted for the recovery window); parameters naming it
    stop resolving."""
    service = _service(url)
    if not yes:
        click.confirm(f"Delete {key} from {tenant}? Parameters naming it will stop resolving", abort=True)
    service.call("DELETE", _secrets_path(tenant, key))
    click.echo(f"{key} deleted")


@command.command("passwd")
@_url_option
def passwd(url: str | None) -> None:
    """Change your own password (the account your token signed in as): the current one, then the
    new one twice, at prompts; or, from a pipe, the current and the new one on two lines."""
    service = _service(url)
    if sys.stdin.isatty():
        current = str(click.prompt("Current password", hide_input=True))
        new = str(click.prompt("New password", hide_input=True, confirmation_prompt=True))
    else:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2:
            raise click.ClickException("send the current and the new password on two lines")
        current, new = lines[0], lines[1]
    service.call("PUT", "/api/v1/session/password", {"current": current, "new": new})
    click.echo("password changed")
