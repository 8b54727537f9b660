"""Bulk moves: import a `.env` file or a JSON list of secrets, export the inventory (never values).

An import is parsed and validated whole before the first write; a refusal names the line (or
item) and the rule, never a value. Vault has no transactions: when Vault fails half way the
answer and the log say which keys were written, and a retry with on_conflict "skip" finishes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from dotenv.parser import parse_stream

from app import errors, names, references, rules, secrets
from app.vault import Vault
from app.vault import errors as vault_errors

log = logging.getLogger(__name__)

EXPORT_PAGE = 1000
# Problems listed in one refusal: enough to fix a file in one go, bounded however bad the file.
_MAX_PROBLEMS = 50
_EXISTENCE_READERS = 8
EXPORT_FIELDS = (
    "key", "description", "version", "created_time", "updated_time", "created_by", "updated_by",
    "last_used_time", "expires_at", "referrers", "malformed",
)  # fmt: skip
_NEWLINE = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class Entry:
    """One secret to import, with where it came from ("line 3", "item 2") for messages."""

    key: str
    value: str
    description: str | None
    where: str

    def __repr__(self) -> str:  # a traceback or a debug print must not show the value
        return f"Entry(key={self.key!r}, where={self.where!r})"


@dataclass(frozen=True)
class Result:
    key: str
    status: str  # created, updated, skipped, failed
    reason: str | None = None


class _Problems:
    """Collects refusals; each names a place and a rule, never the text found there."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, where: str, rule: str) -> None:
        self.found.append(f"{where}: {rule}")

    def raise_if_any(self, what: str) -> None:
        if self.found:
            count = len(self.found)
            raise errors.Unprocessable(
                f"The {what} was refused ({count} problem{'s' if count > 1 else ''}); nothing was written",
                errors={"content": self.found[:_MAX_PROBLEMS]},
            )


def _value_rule(value: str) -> str | None:
    """Why a value cannot be stored (the API's own rules for a value), or None."""
    if not value:  # decided: an empty line value is refused, never stored or skipped silently
        return "the value is empty (a secret needs a value)"
    problem = rules.text_problem(value) or rules.value_problem(value)
    return f"value: {problem}" if problem else None


_FIELDS = ("key", "value", "description")


def _item_problems(item: dict[str, Any]) -> str | None:
    """Why a JSON item is not a secret to create (the rules of a create), or None. An unknown
    field is not named: its name may be a value."""
    found: list[str] = []
    for field in _FIELDS:
        if field not in item:
            if field != "description":
                found.append(f"{field}: required, and missing")
            continue
        text = item[field]
        problem = "Field may not be null." if text is None else rules.text_problem(text)
        if problem is None:
            if field == "key":
                problem = rules.key_problem(text)
            elif field == "value":
                problem = rules.EMPTY_RULE if not text else rules.value_problem(text)
            else:
                problem = rules.description_problem(text)
        if problem:
            found.append(f"{field}: {problem}")
    if any(field not in _FIELDS for field in item):
        found.append("unknown field (only key, value, description)")
    return "; ".join(found) or None


def parse_dotenv(content: str) -> list[Entry]:
    """Parse `.env` text with python-dotenv's parser (export prefixes, quotes, comments, escapes,
    multi-line values), line by line so that a refusal can name its line.

    Values are taken as written: `${VAR}` is not expanded (dotenv_values would expand it from
    the service's own environment)."""
    if _is_inventory_csv(content):
        raise errors.Unprocessable(INVENTORY_GIVEN)
    problems = _Problems()
    entries: list[Entry] = []
    first_line: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(content)):
        text = binding.original.string
        # The parser's line is where its blank lines and indentation began; count to the key.
        line = binding.original.line + len(_NEWLINE.findall(text[: len(text) - len(text.lstrip())]))
        where = f"line {line}"
        if binding.error:
            problems.add(where, "cannot be read as KEY=value (check its quotes and spaces)")
        elif binding.key is None:
            continue  # a comment or blank lines
        elif binding.value is None:
            # The text may be part of a value gone astray: never echoed, not even as a key.
            problems.add(where, "no '=' (expected KEY=value)")
        elif not names.is_key(binding.key):
            problems.add(where, "invalid key: " + names.KEY_RULE)
        elif binding.key in first_line:
            # No key in these messages: in an unquoted multi-line value, a line such as the
            # base64 `...Zm9v=` parses as a key, and that key is part of the value.
            problems.add(where, f"same key as line {first_line[binding.key]} (each key once)")
        else:
            first_line[binding.key] = line
            rule = _value_rule(binding.value)
            if rule:
                problems.add(where, rule)
            else:
                entries.append(Entry(binding.key, binding.value, None, where))
    _check_count(problems, len(first_line))
    problems.raise_if_any("import")
    return entries


# JSON's strings (escapes included), and the characters that open, close and separate elements.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_STRUCTURE = re.compile(r"[\[\]{},]")


def _json_bounds(content: str) -> str | None:
    """Why JSON text is nested too deep or holds too many elements, or None; read before it is
    parsed (json.loads recurses once per level: deep nesting would be a RecursionError). Counted
    outside its strings; an element is an item of a list or a field of an object."""
    depth = elements = 0
    for match in _JSON_STRUCTURE.finditer(_JSON_STRING.sub('""', content)):
        char = match.group()
        if char in "[{":
            depth += 1
            elements += 1
            if depth > rules.MAX_IMPORT_DEPTH:
                return f"nested more than {rules.MAX_IMPORT_DEPTH} levels deep (a list of objects is 2)"
        elif char == ",":
            elements += 1
        else:
            depth -= 1
        if elements > rules.MAX_IMPORT_ELEMENTS:
            return f"more than {rules.MAX_IMPORT_ELEMENTS} elements (lists' items and objects' fields)"
    return None


def parse_json(content: str) -> list[Entry]:
    """Parse the JSON text of a list of {key, value, description?}; items are counted from 1."""
    problems = _Problems()
    bound = _json_bounds(content)
    if bound:
        problems.add("content", bound)
        problems.raise_if_any("import")
    try:
        items = json.loads(content)
    except RecursionError:  # within the bounds this does not happen; never a 500 if it does
        problems.add("content", f"nested more than {rules.MAX_IMPORT_DEPTH} levels deep")
        problems.raise_if_any("import")
    except ValueError as exc:
        # JSONDecodeError's msg names what was expected where, never the text itself.
        place = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "content"
        problems.add(place, "not valid JSON" + (f" ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""))
        problems.raise_if_any("import")
    if not isinstance(items, list):
        problems.add("content", "must be a JSON list of {key, value, description?}")
        problems.raise_if_any("import")
    if _is_inventory(items):
        raise errors.Unprocessable(INVENTORY_GIVEN)
    entries: list[Entry] = []
    first_item: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        if not isinstance(item, dict):
            problems.add(where, "must be an object {key, value, description?}")
            continue
        problem = _item_problems(item)
        if problem:
            problems.add(where, problem)
            continue
        key = item["key"]
        if key in first_item:
            problems.add(where, f"same key as item {first_item[key]} (each key once)")
            continue
        first_item[key] = number
        entries.append(Entry(key, item["value"], item.get("description"), where))
    _check_count(problems, len(items))
    problems.raise_if_any("import")
    return entries


INVENTORY_GIVEN = (
    "This is an inventory export (Download), which lists keys and descriptions but holds no values, "
    "so there is nothing to import: import a .env file or a JSON list of {key, value, description?}"
)
_INVENTORY_ONLY = set(EXPORT_FIELDS) - {"key", "description"}


def _is_inventory(items: list[Any]) -> bool:
    """Whether a JSON list is this service's own export: objects with its fields and no value."""
    return bool(items) and all(
        isinstance(item, dict) and "value" not in item and _INVENTORY_ONLY & item.keys() for item in items
    )


def _is_inventory_csv(content: str) -> bool:
    """Whether the text is the CSV export: its first line is the export's header."""
    return content.lstrip("\ufeff").split("\n", 1)[0].strip() == ",".join(EXPORT_FIELDS)


def _check_count(problems: _Problems, count: int) -> None:
    if count > rules.MAX_IMPORT_KEYS:
        problems.add("content", f"at most {rules.MAX_IMPORT_KEYS} keys per import (this has {count})")
    elif count == 0 and not problems.found:
        problems.add("content", "no KEY=value to import")


def parse(fmt: str, content: str) -> list[Entry]:
    """The entries of an import in either format, all checked (422 naming each problem)."""
    return parse_dotenv(content) if fmt == "dotenv" else parse_json(content)


def import_entries(
    vault: Vault,
    caller: secrets.Caller,
    tenant: str,
    entries: list[Entry],
    on_conflict: str,
    *,
    dry_run: bool = False,
) -> list[Result]:
    """Write the entries in order: create new keys; existing ones are skipped, overwritten (a
    new version) or, with "fail", refuse the whole import before anything is written (409).

    A dry run answers the statuses the import would produce and writes nothing."""
    _check_may_write(vault, caller, tenant)
    existing = _existing(vault, caller, tenant, [e.key for e in entries])
    if on_conflict == "fail" and existing:
        shown = [e.key for e in entries if e.key in existing]
        raise errors.Conflict(
            f"{len(shown)} of these keys exist already: {', '.join(shown[:20])}{' ...' if len(shown) > 20 else ''}; "
            "nothing was written (import with skip or overwrite)",
            errors={"existing": shown},
        )
    if dry_run:
        return [_planned(e, e.key in existing, on_conflict) for e in entries]
    results: list[Result] = []
    for number, entry in enumerate(entries):
        try:
            results.append(_write(vault, caller, tenant, entry, entry.key in existing, on_conflict))
        except (errors.ServiceError, vault_errors.VaultError) as failed:
            # Vault (or the caller's token) failed: stop, and say exactly what was written.
            # Vault may have taken this key's write before failing to answer: say so.
            exc = failed if isinstance(failed, errors.ServiceError) else errors.from_vault(failed)
            results.append(Result(entry.key, "failed", f"{exc.message} (it may have been written: check it)"))
            results += [Result(e.key, "failed", "not attempted") for e in entries[number + 1 :]]
            raise _stopped(tenant, entry.key, exc, results) from None
    _log(tenant, results)
    return results


def _planned(entry: Entry, exists: bool, on_conflict: str) -> Result:
    if not exists:
        return Result(entry.key, "created")
    return Result(entry.key, "updated" if on_conflict == "overwrite" else "skipped", "exists")


def _write(vault: Vault, caller: secrets.Caller, tenant: str, entry: Entry, exists: bool, on_conflict: str) -> Result:
    """One entry; a change by someone else since the check fails this key only."""
    try:
        if not exists:
            secrets.create(vault, caller, tenant, entry.key, entry.value, entry.description or "")
            return Result(entry.key, "created")
        if on_conflict == "skip":
            return Result(entry.key, "skipped", "exists")
        secrets.update(vault, caller, tenant, entry.key, description=entry.description, value=entry.value)
        return Result(entry.key, "updated")
    except (errors.Conflict, vault_errors.Conflict):
        if on_conflict == "skip":  # created by someone else since the check: skip it like the others
            return Result(entry.key, "skipped", "exists")
        return Result(entry.key, "failed", "changed by someone else during the import; import it again")
    except (errors.NotFound, vault_errors.NotFound):
        return Result(entry.key, "failed", "deleted by someone else during the import; import it again")


def _stopped(tenant: str, key: str, cause: errors.ServiceError, results: list[Result]) -> errors.ServiceError:
    written = [r.key for r in results if r.status in ("created", "updated")]
    log.warning(
        "import into tenant %s stopped at key %s (%s); %d keys written: %s",
        tenant,
        key,
        type(cause).__name__,
        len(written),
        ", ".join(written) or "none",
    )
    stopped = type(cause)(
        f"The import stopped at key {key!r}: {cause.message}. "
        f"{len(written)} {'key was' if len(written) == 1 else 'keys were'} written before it "
        "(see errors.results); import again with on_conflict 'skip' to finish",
        errors={"results": [asdict(r) for r in results]},
        retry_after=cause.retry_after,
    )
    return stopped


def _log(tenant: str, results: list[Result]) -> None:
    counts = {s: sum(1 for r in results if r.status == s) for s in ("created", "updated", "skipped", "failed")}
    log.info("import into tenant %s: %s", tenant, ", ".join(f"{n} {s}" for s, n in counts.items()))


def _check_may_write(vault: Vault, caller: secrets.Caller, tenant: str) -> None:
    """Refuse a reader before any work: Vault's own answer for the tenant's data path."""
    try:
        capabilities = vault.sys.capabilities(caller.token, vault.kv.data_path(tenant, "_"))
    except vault_errors.Denied:
        capabilities = []
    if not {"create", "update", "root"} & set(capabilities):
        raise errors.PermissionDenied(f"You do not have write permission on tenant {tenant!r}")


def _existing(vault: Vault, caller: secrets.Caller, tenant: str, keys: list[str]) -> set[str]:
    """Which of the keys exist with a live current version, read concurrently. A key whose
    current version is deleted or destroyed counts as new: a create makes it again."""

    def exists(key: str) -> bool:
        try:
            meta = vault.kv.read_metadata(caller.token, tenant, key)
        except vault_errors.NotFound:
            return False
        except vault_errors.Denied:
            raise errors.PermissionDenied(f"You have no access to tenant {tenant!r}") from None
        return meta.current.holds_value

    readers = vault.readers("nexo-import", _EXISTENCE_READERS)
    return {key for key, found in zip(keys, readers.map(exists, keys), strict=True) if found}


# -- export -----------------------------------------------------------------------------------


def inventory(vault: Vault, caller: secrets.Caller, tenant: str) -> list[secrets.Item]:
    """Every secret of a tenant without values, in key order, read in pages of EXPORT_PAGE, each
    with its referrers; a tenant with more than rules.MAX_EXPORT_ITEMS is refused rather than cut
    short."""
    items: list[secrets.Item] = []
    after: str | None = None
    while True:
        page, after = secrets.list_secrets(vault, caller, tenant, limit=EXPORT_PAGE, after=after)
        items += page
        if len(items) > rules.MAX_EXPORT_ITEMS:
            raise errors.Unprocessable(
                f"Tenant {tenant!r} has more than {rules.MAX_EXPORT_ITEMS} secrets, too many for one export; "
                "page through GET .../secrets instead"
            )
        if after is None:
            return _with_referrers(vault, caller, tenant, items)


def _with_referrers(vault: Vault, caller: secrets.Caller, tenant: str, items: list[secrets.Item]) -> list[secrets.Item]:
    """Items with the referrers of each key. A token whose policies predate references (a tenant not
    provisioned again since) gets the inventory without them rather than a refusal."""
    try:
        found = references.by_key(vault, caller.token, tenant)
    except vault_errors.Denied:
        log.warning("export without references for tenant %s: its policies predate them", tenant)
        return items
    return [replace(item, referrers=found.get(item.key, [])) for item in items]


def as_csv(items: list[secrets.Item]) -> str:
    """The inventory as CSV with a header row; a cell a spreadsheet would run as a formula is
    prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for item in items:
        row = asdict(item)
        row["referrers"] = _referrers_cell(item.referrers or [])
        writer.writerow([_inert("" if row[f] is None else str(row[f])) for f in EXPORT_FIELDS])
    return out.getvalue()


def _referrers_cell(found: list[dict[str, str]]) -> str:
    """One CSV cell: `kind/id: name` each, separated by `; ` (ids hold no space, so the first
    `: ` of each ends its id)."""
    return "; ".join(f"{r['kind']}/{r['id']}: {r['name']}" for r in found)


def _inert(cell: str) -> str:
    # OWASP's list: =, +, -, @ start a formula; tab and CR do in some spreadsheets too.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
