"""Marshmallow schemas on both sides of every view; the OpenAPI document comes from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
from marshmallow import validate

from app import bulk, names, resolve, usage

MAX_VALUE_BYTES = 64 * 1024
MAX_DESCRIPTION = 512
_SURROGATE = re.compile("[\ud800-\udfff]")


def _printable_class() -> str:
    """A regex character class of what Vault accepts in custom_metadata.

    OpenBao (like Vault) refuses any value that is not `strutil.Printable`: every rune must be
    Go's `unicode.IsPrint`, that is a letter, mark, number, punctuation, symbol or the ASCII
    space (builtin/logical/kv/path_metadata.go, validateCustomMetadata). Python's
    str.isprintable() is the same definition. Planes 4-13 are unassigned and 15-16 private use,
    so only the others are scanned (tests/test_secrets.py checks against a full scan)."""
    flags = bytearray(0x110000)
    for start, stop in ((0, 0x40000), (0xE0000, 0xF0000)):
        flags[start:stop] = bytes(map(str.isprintable, map(chr, range(start, stop))))
    parts = []
    for run in re.finditer(rb"\x01+", bytes(flags)):
        first, last = _class_char(run.start()), _class_char(run.end() - 1)
        parts.append(first if first == last else f"{first}-{last}")
    return "[" + "".join(parts) + "]"


def _class_char(code: int) -> str:
    char = chr(code)
    return "\\" + char if char in "\\]^-[" else char


PRINTABLE_CLASS = _printable_class()
# The one rule for descriptions (and searches): the server checks this very regex, the OpenAPI
# document carries it as the pattern, so fuzzers and generated clients agree with the server.
PRINTABLE_RE = re.compile(rf"^{PRINTABLE_CLASS}*\Z")
PRINTABLE_RULE = "Only printable characters: no control, format or separator characters other than the space."


def _description(text: str) -> None:
    # Checked before Vault is called: a refusal after a value was written would leave half a secret.
    if not PRINTABLE_RE.match(text):
        raise ma.ValidationError(PRINTABLE_RULE)
    # Vault caps custom_metadata values at 512 bytes, not characters.
    if len(text.encode("utf-8")) > MAX_DESCRIPTION:
        raise ma.ValidationError(f"Must be at most {MAX_DESCRIPTION} bytes in UTF-8.")


def _search(text: str) -> None:
    if not PRINTABLE_RE.match(text):
        raise ma.ValidationError(PRINTABLE_RULE)


_NO_NUL = "^[^\\u0000]*$"  # the value's one character rule, as the document states it


def _value(text: str) -> None:
    if "\x00" in text:
        raise ma.ValidationError("Must not contain NUL characters.")
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise ma.ValidationError(f"Must be at most {MAX_VALUE_BYTES} bytes.")


def _matching(regex: re.Pattern[str], message: str) -> Callable[[str], None]:
    """A regex validator (the documented pattern is set in the field's metadata)."""

    def check(text: str) -> None:
        if not regex.match(text):
            raise ma.ValidationError(message)

    return check


class StrictString(ma.fields.String):
    """A string that refuses numbers, booleans, lists and objects instead of coercing them."""

    default_error_messages = {
        "invalid": "Must be a string.",
        "surrogate": "Must be valid Unicode (a lone surrogate such as \\ud800 is not a character).",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if _SURROGATE.search(value):  # JSON can carry one; UTF-8 cannot encode it
            raise self.make_error("surrogate")
        return super()._deserialize(value, attr, data, **kwargs)


def Key(**kwargs: Any) -> StrictString:  # noqa: N802 - reads like a field type
    return StrictString(
        validate=_matching(names.KEY_RE, "Invalid key: " + names.KEY_RULE + "."),
        metadata={
            "example": "DATABASE_PASSWORD",
            "pattern": names.documented(names.KEY_RE),
            "description": names.KEY_RULE[0].upper() + names.KEY_RULE[1:] + ".",
        },
        **kwargs,
    )


def Description(**kwargs: Any) -> StrictString:  # noqa: N802
    return StrictString(
        validate=[validate.Length(max=MAX_DESCRIPTION), _description],
        # Vault counts bytes: the page reads x-max-bytes from this document and counts the same way.
        metadata={
            "example": "Primary database password",
            "x-max-bytes": MAX_DESCRIPTION,
            "pattern": f"^{PRINTABLE_CLASS}*$",
            "description": f"At most {MAX_DESCRIPTION} bytes in UTF-8. {PRINTABLE_RULE}",
        },
        **kwargs,
    )


class ExpiresAt(ma.fields.Field):  # type: ignore[type-arg]
    """An expiry: RFC 3339 date-time or a date (midnight UTC), stored as RFC 3339 UTC; null clears it."""

    default_error_messages = {"invalid": 'Must be an RFC 3339 date-time like "2027-01-31T00:00:00Z", or a date.'}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return usage.expiry(value) if isinstance(value, str) else usage.expiry("")
        except ValueError:
            raise self.make_error("invalid") from None


def _expires_at(**kwargs: Any) -> ExpiresAt:
    return ExpiresAt(
        allow_none=True,
        metadata={
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "example": "2027-01-31T00:00:00Z",
            "description": "When the secret expires, RFC 3339 or a date (YYYY-MM-DD: midnight UTC); a date in the "
            "past is allowed; null: no expiry. "
            "Resolve still answers an expired secret and names it in warnings.",
        },
        **kwargs,
    )


class Strict(ma.Schema):
    """Unknown fields are refused, not ignored."""

    class Meta:
        unknown = ma.RAISE


class SecretCreate(Strict):
    key = Key(required=True)
    description = Description(load_default="")
    value = StrictString(
        required=True,
        validate=[validate.Length(min=1, error="Must not be empty."), _value],
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "pattern": _NO_NUL,
            "x-max-bytes": MAX_VALUE_BYTES,
            "description": f"The secret; at most {MAX_VALUE_BYTES} bytes in UTF-8, no NUL character.",
        },
    )
    expires_at = _expires_at()


class SecretUpdate(Strict):
    description = Description()
    value = StrictString(
        validate=_value,
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "pattern": _NO_NUL,
            "x-max-bytes": MAX_VALUE_BYTES,
            "description": "New value; empty or absent keeps the current value. As on create: no NUL.",
        },
    )
    version = ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "Expected current version; 409 if it has changed."},
    )
    expires_at = _expires_at()


class SecretItem(ma.Schema):
    key = ma.fields.String(required=True)
    description = ma.fields.String()
    version = ma.fields.Integer()
    created_time = ma.fields.String()
    updated_time = ma.fields.String()
    created_by = ma.fields.String()
    updated_by = ma.fields.String()
    last_used_time = ma.fields.String(
        allow_none=True,
        metadata={"description": "When the Hub last resolved it, to the hour (RFC 3339); null: never."},
    )
    expires_at = ma.fields.String(
        allow_none=True, metadata={"description": "When it expires (RFC 3339); null: no expiry date."}
    )
    deleted_time = ma.fields.String(metadata={"description": "Deleted secrets only: when it was deleted."})
    deleted_by = ma.fields.String(metadata={"description": "Deleted secrets only: who deleted it (empty: unknown)."})
    purge_time = ma.fields.String(
        metadata={"description": "Deleted secrets only: when the recovery window ends and it may be purged."}
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A field that does not apply is left out (None: a live secret's deletion fields), as it
        # is read: null means something only for _ALWAYS. An item is a secrets.Item or its JSON
        # (no dotted names for marshmallow's general lookup to walk).
        value = obj.get(attr, default) if isinstance(obj, Mapping) else getattr(obj, attr, default)
        return ma.missing if value is None and attr not in _ALWAYS else value


_ALWAYS = ("last_used_time", "expires_at")  # null means something: never used, no expiry


class SecretListArgs(Strict):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    after = StrictString(
        validate=_matching(names.KEY_RE, "Must be a key returned as 'next'."),
        metadata={
            "description": "Return keys after this one (the 'next' of the previous page).",
            "pattern": names.documented(names.KEY_RE),
        },
    )
    q = StrictString(
        validate=[validate.Length(max=200), _search],
        metadata={
            "description": f"Case-insensitive filter on key and description. {PRINTABLE_RULE}",
            "pattern": f"^{PRINTABLE_CLASS}*$",
        },
    )
    deleted = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "List the recently deleted secrets (restorable) instead of the live ones."},
    )
    expiring_within_days = ma.fields.Integer(
        strict=False,
        validate=validate.Range(min=0, max=3650),
        metadata={"description": "Only secrets that expire within this many days, or have expired."},
    )


class DeleteArgs(Strict):
    permanent = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Delete for good: every version and the metadata (a live or a deleted secret)."},
    )


class SecretVersion(ma.Schema):
    version = ma.fields.Integer(required=True)
    created_time = ma.fields.String(required=True)
    created_by = ma.fields.String(
        required=True, metadata={"description": "Who wrote this version (empty if written outside the service)."}
    )
    deleted = ma.fields.Boolean(required=True)
    deletion_time = ma.fields.String()
    destroyed = ma.fields.Boolean()


class VersionList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SecretVersion), required=True, metadata={"description": "Newest first."})
    max_versions = ma.fields.Integer(metadata={"description": "Vault keeps this many versions; older ones drop off."})


class SecretPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SecretItem), required=True)
    next = ma.fields.String(allow_none=True, metadata={"description": "Pass as 'after' for the next page."})


class Login(Strict):
    username = StrictString(required=True, validate=validate.Length(min=1, max=128))
    password = StrictString(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


PASSWORD_MIN, PASSWORD_MAX = 12, 1024


class PasswordChange(Strict):
    current = StrictString(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    new = StrictString(
        required=True,
        validate=validate.Length(
            min=PASSWORD_MIN, max=PASSWORD_MAX, error=f"Between {PASSWORD_MIN} and {PASSWORD_MAX} characters."
        ),
        load_only=True,
    )


class SessionInfo(ma.Schema):
    user = ma.fields.String(required=True)
    tenants = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=validate.OneOf(["read", "write"])),
        required=True,
    )
    admin = ma.fields.Boolean()
    csrf_token = ma.fields.String()
    recovery_days = ma.fields.Integer(metadata={"description": "Days a deleted secret can be restored (0: none)."})
    first_sign_in = ma.fields.Boolean(
        metadata={"description": "Still the first password an admin chose: only choosing one's own is answered."}
    )


class Permission(Strict):
    permission = StrictString(required=True, validate=validate.OneOf(["read", "write"]))


class Member(ma.Schema):
    user = ma.fields.String(required=True)
    permission = ma.fields.String(required=True)


class MemberList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Member), required=True)
    unnamed = ma.fields.Integer(
        metadata={"description": "Members whose user name the caller cannot see (granted outside the service)."}
    )


class TenantListArgs(Strict):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    after = StrictString(
        validate=_matching(names.TENANT_RE, "Must be a tenant returned as 'next'."),
        metadata={
            "description": "Return tenants after this one (the 'next' of the previous page).",
            "pattern": names.documented(names.TENANT_RE),
        },
    )


class TenantItem(ma.Schema):
    name = ma.fields.String(required=True)
    permission = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The caller's own: read, write, or null (an admin who is no member)."},
    )


class TenantPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TenantItem), required=True)
    next = ma.fields.String(allow_none=True, metadata={"description": "Pass as 'after' for the next page."})


class UserCreate(Strict):
    username = StrictString(
        required=True,
        validate=_matching(names.USER_RE, "Invalid user name: " + names.USER_RULE + "."),
        metadata={"example": "erin", "pattern": names.documented(names.USER_RE)},
    )


class UserCreated(ma.Schema):
    user = ma.fields.String(required=True)
    password = ma.fields.String(
        required=True, metadata={"description": "The first password, generated: shown this once, never kept."}
    )


class UserState(ma.Schema):
    user = ma.fields.String(required=True)
    disabled = ma.fields.Boolean(required=True)


class TenantInfo(ma.Schema):
    tenant = ma.fields.String(required=True)
    policies = ma.fields.List(ma.fields.String())
    groups = ma.fields.List(ma.fields.String())


class Health(ma.Schema):
    status = ma.fields.String(required=True)
    vault = ma.fields.Dict()


class ApiError(ma.Schema):
    """The one error shape."""

    code = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(metadata={"description": "Field errors (422) or unresolved parameters"})


# -- resolve (the Hub) --------------------------------------------------------------------

# A duration string within WRAP_TTL_MIN..WRAP_TTL_MAX (10 s to 15 min), exactly: the server
# checks this regex and the OpenAPI document carries it, so no string the document allows is refused.
_DURATION = re.compile(r"^(?:(?:[1-9][0-9]|[1-8][0-9]{2}|900)s?|(?:[1-9]|1[0-5])m)\Z")
_UNIT_SECONDS = {"s": 1, "m": 60}


class Duration(ma.fields.Field):  # type: ignore[type-arg]
    """Seconds as an integer, or a Vault-style duration string: "90s", "5m"."""

    default_error_messages = {
        "invalid": 'Must be 10 to 900 seconds, as a number or a duration like "90s" or "5m" (at most "15m").'
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema's integer: 60.0 is 60
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _DURATION.match(value):
            unit = value[-1] if value[-1] in _UNIT_SECONDS else "s"
            return int(value.rstrip("sm")) * _UNIT_SECONDS[unit]
        raise self.make_error("invalid")


class ResolveParameter(Strict):
    name = StrictString(required=True, validate=validate.Length(min=1, max=256), metadata={"example": "db_password"})
    type = StrictString(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"example": "SECRET", "description": "SECRET parameters carry a key and get its value."},
    )
    value = ma.fields.Raw(
        required=True,
        allow_none=True,
        metadata={"example": "DATABASE_PASSWORD", "description": "For SECRET: the key. Otherwise returned as is."},
    )


class ResolveRequest(Strict):
    parameters = ma.fields.List(
        ma.fields.Nested(ResolveParameter),
        required=True,
        validate=validate.Length(max=resolve.MAX_PARAMETERS, error="At most {max} parameters per call."),
    )
    wrap_ttl = Duration(
        validate=validate.Range(
            min=resolve.WRAP_TTL_MIN, max=resolve.WRAP_TTL_MAX, error="Must be {min} to {max} seconds."
        ),
        metadata={
            "description": "Deliver by Vault response wrapping: every SECRET parameter gets a single-use token "
            "of Vault's own read of its key, valid this long, instead of its value.",
            "oneOf": [
                {"type": "integer", "minimum": resolve.WRAP_TTL_MIN, "maximum": resolve.WRAP_TTL_MAX},
                {"type": "string", "pattern": names.documented(_DURATION), "example": "5m", "maxLength": 4},
            ],
        },
    )


class WrapInfo(ma.Schema):
    token = ma.fields.String(
        required=True, metadata={"description": "Single-use Vault wrapping token of Vault's own read of the key."}
    )
    ttl = ma.fields.Integer(required=True, metadata={"description": "Seconds the token stays valid."})
    creation_path = ma.fields.String(
        required=True,
        metadata={
            "example": "secret/data/tenants/acme/DATABASE_PASSWORD",
            "description": "The key's data path: a sink checks it (sys/wrapping/lookup) before unwrapping.",
        },
    )


class ResolvedParameter(ma.Schema):
    name = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    value = ma.fields.Raw(
        metadata={"description": "For SECRET: the secret's value; null in a wrapped delivery (see wrap)."}
    )
    key = ma.fields.String(metadata={"description": "Wrapped delivery, SECRET only: the key, as sent in value."})
    wrap = ma.fields.Nested(
        WrapInfo,
        metadata={
            "description": "Wrapped delivery, SECRET only: the value as a wrapped Vault read of the key. "
            "Parameters naming the same key share one token."
        },
    )


class ResolveWarning(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "The parameter."})
    key = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"enum": ["expired"]})
    expires_at = ma.fields.String(required=True)


class ResolveResponse(ma.Schema):
    parameters = ma.fields.List(ma.fields.Nested(ResolvedParameter), required=True)
    warnings = ma.fields.List(
        ma.fields.Nested(ResolveWarning),
        metadata={"description": "Parameters whose key has expired: they still resolve. Absent when none."},
    )


# -- import and export --------------------------------------------------------------------


class ImportItem(Strict):
    """One secret in a JSON import: the rules of a create."""

    key = Key(required=True)
    value = SecretCreate._declared_fields["value"]  # the very rules of a create's value, kept in step
    description = Description()


class ImportRequest(Strict):
    format = StrictString(
        required=True,
        validate=validate.OneOf(bulk.FORMATS),
        metadata={
            "description": "dotenv: the text of a .env file; json: the JSON text of a list of "
            "{key, value, description?}."
        },
    )
    content = StrictString(
        required=True,
        validate=validate.Length(min=1, error="Must not be empty."),
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "description": f"The file's text: at most {bulk.MAX_IMPORT_KEYS} keys; the whole request body is "
            "capped at 256 KiB (413).",
        },
    )
    on_conflict = StrictString(
        load_default="fail",
        validate=validate.OneOf(bulk.ON_CONFLICT),
        metadata={
            "description": "Keys that exist: skip them, overwrite them (a new version), or fail "
            "(nothing is written if any exists, 409)."
        },
    )
    dry_run = ma.fields.Boolean(
        load_default=False,
        truthy={True},
        falsy={False},
        metadata={"description": "Answer the statuses the import would produce; write nothing."},
    )


class ImportResult(ma.Schema):
    key = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["created", "updated", "skipped", "failed"]))
    reason = ma.fields.String(allow_none=True)


class ImportResponse(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ImportResult), required=True)
    dry_run = ma.fields.Boolean()


class ExportArgs(Strict):
    format = StrictString(load_default="json", validate=validate.OneOf(["json", "csv"]))
