"""Marshmallow schemas on both sides of every view; the OpenAPI document comes from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import validate

from app import names, resolve

MAX_VALUE_BYTES = 64 * 1024
MAX_DESCRIPTION = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _description(text: str) -> None:
    # Vault caps custom_metadata values at 512 bytes, not characters.
    if len(text.encode("utf-8")) > MAX_DESCRIPTION:
        raise ma.ValidationError(f"Must be at most {MAX_DESCRIPTION} bytes in UTF-8.")
    if _CONTROL.search(text):
        raise ma.ValidationError("Must not contain control characters (newlines, tabs, NUL).")


def _value(text: str) -> None:
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise ma.ValidationError(f"Must be at most {MAX_VALUE_BYTES} bytes.")
    if "\x00" in text:
        raise ma.ValidationError("Must not contain NUL characters.")


def _matching(regex: re.Pattern[str], message: str) -> Callable[[str], None]:
    """A regex validator (the documented pattern is set in the field's metadata)."""

    def check(text: str) -> None:
        if not regex.match(text):
            raise ma.ValidationError(message)

    return check


class StrictString(ma.fields.String):
    """A string that refuses numbers, booleans, lists and objects instead of coercing them."""

    default_error_messages = {"invalid": "Must be a string."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("invalid")
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
        metadata={"example": "Primary database password", "x-max-bytes": MAX_DESCRIPTION},
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
        metadata={"format": "password", "writeOnly": True},
    )


class SecretUpdate(Strict):
    description = Description()
    value = StrictString(
        validate=_value,
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "description": "New value; empty or absent keeps the current value.",
        },
    )
    version = ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "Expected current version; 409 if it has changed."},
    )


class SecretItem(ma.Schema):
    key = ma.fields.String(required=True)
    description = ma.fields.String()
    version = ma.fields.Integer()
    created_time = ma.fields.String()
    updated_time = ma.fields.String()
    created_by = ma.fields.String()
    updated_by = ma.fields.String()


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
        validate=[validate.Length(max=200), _description],
        metadata={"description": "Case-insensitive filter on key and description."},
    )


class SecretPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SecretItem), required=True)
    next = ma.fields.String(allow_none=True, metadata={"description": "Pass as 'after' for the next page."})


class Login(Strict):
    username = StrictString(required=True, validate=validate.Length(min=1, max=128))
    password = StrictString(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


class SessionInfo(ma.Schema):
    user = ma.fields.String(required=True)
    tenants = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=validate.OneOf(["read", "write"])),
        required=True,
    )
    admin = ma.fields.Boolean()
    csrf_token = ma.fields.String()


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

_DURATION = re.compile(r"^([0-9]{1,6})([smh]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


class Duration(ma.fields.Field):  # type: ignore[type-arg]
    """Seconds as an integer, or a Vault-style duration string: "90s", "5m"."""

    default_error_messages = {"invalid": 'Must be a number of seconds or a duration like "90s" or "5m".'}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


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
                {"type": "string", "pattern": names.documented(_DURATION), "example": "5m"},
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


class ResolveResponse(ma.Schema):
    parameters = ma.fields.List(ma.fields.Nested(ResolvedParameter), required=True)
