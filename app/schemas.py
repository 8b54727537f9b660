"""Marshmallow schemas on both sides of every view; the OpenAPI document comes from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
from marshmallow import validate

from app import rules, usage


def _rule(problem: Callable[[str], str | None]) -> Callable[[str], None]:
    """A validator from one of the product's rules (app/rules.py)."""

    def check(text: str) -> None:
        found = problem(text)
        if found:
            raise ma.ValidationError(found)

    return check


def _matching(regex: re.Pattern[str], message: str) -> Callable[[str], None]:
    """A regex validator (the documented pattern is set in the field's metadata)."""

    def check(text: str) -> None:
        if not regex.match(text):
            raise ma.ValidationError(message)

    return check


class StrictString(ma.fields.String):
    """A string that refuses numbers, booleans, lists and objects instead of coercing them."""

    default_error_messages = {"invalid": rules.NOT_A_STRING}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        problem = rules.text_problem(value)
        if problem:
            raise ma.ValidationError(problem)
        return super()._deserialize(value, attr, data, **kwargs)


def Key(**kwargs: Any) -> StrictString:
    return StrictString(
        validate=_rule(rules.key_problem),
        metadata={
            "example": "DATABASE_PASSWORD",
            "pattern": rules.documented(rules.KEY_RE),
            "description": rules.KEY_RULE[0].upper() + rules.KEY_RULE[1:] + ".",
        },
        **kwargs,
    )


def Description(**kwargs: Any) -> StrictString:
    return StrictString(
        validate=[validate.Length(max=rules.MAX_DESCRIPTION), _rule(rules.description_problem)],
        # Vault counts bytes: the page reads x-max-bytes from this document and counts the same way.
        metadata={
            "example": "Primary database password",
            "x-max-bytes": rules.MAX_DESCRIPTION,
            "pattern": f"^{rules.PRINTABLE_CLASS}*$",
            "description": f"At most {rules.MAX_DESCRIPTION} bytes in UTF-8. {rules.PRINTABLE_RULE}",
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
        validate=[validate.Length(min=1, error=rules.EMPTY_RULE), _rule(rules.value_problem)],
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "pattern": rules.NO_NUL,
            "x-max-bytes": rules.MAX_VALUE_BYTES,
            "description": f"The secret; at most {rules.MAX_VALUE_BYTES} bytes in UTF-8, no NUL character.",
        },
    )
    expires_at = _expires_at()


class SecretUpdate(Strict):
    description = Description()
    value = StrictString(
        validate=_rule(rules.value_problem),
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "pattern": rules.NO_NUL,
            "x-max-bytes": rules.MAX_VALUE_BYTES,
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
    references = ma.fields.Integer(
        metadata={"description": "How many Actions and Event Types the Hub declared as naming this key."}
    )
    referrers = ma.fields.List(
        ma.fields.Nested(lambda: ReferrerRef()),
        metadata={"description": "The export only: the Actions and Event Types that name this key."},
    )
    malformed = ma.fields.Boolean(
        metadata={
            "description": 'True: its data is not the one shape {"value": "<string>"} (written around the '
            "service); resolve refuses it (errors.unresolved reason malformed)."
        }
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A field that does not apply is left out (None: a live secret's deletion fields), as it
        # is read: null means something only for _ALWAYS. An item is a secrets.Item or its JSON
        # (no dotted names for marshmallow's general lookup to walk).
        value = obj.get(attr, default) if isinstance(obj, Mapping) else getattr(obj, attr, default)
        return ma.missing if value is None and attr not in _ALWAYS else value


_ALWAYS = ("last_used_time", "expires_at")  # null means something: never used, no expiry


class SecretListArgs(Strict):
    limit = ma.fields.Integer(load_default=rules.PAGE_DEFAULT, validate=validate.Range(min=1, max=rules.PAGE_MAX))
    after = StrictString(
        validate=_matching(rules.KEY_RE, "Must be a key returned as 'next'."),
        metadata={
            "description": "Return keys after this one (the 'next' of the previous page).",
            "pattern": rules.documented(rules.KEY_RE),
        },
    )
    q = StrictString(
        validate=[validate.Length(max=rules.MAX_SEARCH), _rule(rules.search_problem)],
        metadata={
            "description": f"Case-insensitive filter on key and description. {rules.PRINTABLE_RULE}",
            "pattern": f"^{rules.PRINTABLE_CLASS}*$",
        },
    )
    deleted = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "List the recently deleted secrets (restorable) instead of the live ones."},
    )
    expiring_within_days = ma.fields.Integer(
        strict=False,
        validate=validate.Range(min=0, max=rules.EXPIRING_DAYS_MAX),
        metadata={"description": "Only secrets that expire within this many days, or have expired."},
    )
    unused = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Only keys that no Action or Event Type references and that the Hub has not resolved "
            "for NEXO_UNUSED_DAYS (90 by default; never resolved counts): the candidates for clean-up."
        },
    )


class DeleteArgs(Strict):
    permanent = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Delete for good: every version and the metadata (a live or a deleted secret)."},
    )
    force = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Delete a secret that Actions or Event Types reference (else 409 errors.referenced)."},
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
    malformed = ma.fields.Boolean(
        metadata={"description": 'The current version only: true when its data is not {"value": "<string>"}.'}
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        value = super().get_attribute(obj, attr, default)
        return ma.missing if value is None and attr == "malformed" else value  # checked on the current one only


class VersionList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SecretVersion), required=True, metadata={"description": "Newest first."})
    max_versions = ma.fields.Integer(metadata={"description": "Vault keeps this many versions; older ones drop off."})


class SecretPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SecretItem), required=True)
    next = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Pass as 'after' for the next page; null when nothing more exists. Set whenever more "
            "may exist, also after a page that the scan budget left short or empty."
        },
    )


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
    unused_days = ma.fields.Integer(metadata={"description": "The Unused filter's days without a resolve."})


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
    limit = ma.fields.Integer(load_default=rules.PAGE_DEFAULT, validate=validate.Range(min=1, max=rules.PAGE_MAX))
    after = StrictString(
        validate=_matching(rules.TENANT_RE, "Must be a tenant returned as 'next'."),
        metadata={
            "description": "Return tenants after this one (the 'next' of the previous page).",
            "pattern": rules.documented(rules.TENANT_RE),
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
        validate=_matching(rules.USER_RE, "Invalid user name: " + rules.USER_RULE + "."),
        metadata={"example": "erin", "pattern": rules.documented(rules.USER_RE)},
    )


class UserCreated(ma.Schema):
    user = ma.fields.String(required=True)
    password = ma.fields.String(
        required=True, metadata={"description": "The first password, generated: shown this once, never kept."}
    )


class UserState(ma.Schema):
    user = ma.fields.String(required=True)
    disabled = ma.fields.Boolean(required=True)


class UserListArgs(Strict):
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    after = StrictString(
        validate=_matching(rules.USER_RE, "Must be a user returned as 'next'."),
        metadata={
            "description": "Return accounts after this one (the 'next' of the previous page).",
            "pattern": rules.documented(rules.USER_RE),
        },
    )


class Account(ma.Schema):
    user = ma.fields.String(required=True)
    disabled = ma.fields.Boolean(required=True)
    tenants = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), metadata={"description": "{tenant: read | write}"}
    )


class AccountPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Account), required=True)
    next = ma.fields.String(allow_none=True, metadata={"description": "Pass as 'after' for the next page."})


class TenantInfo(ma.Schema):
    tenant = ma.fields.String(required=True)
    policies = ma.fields.List(ma.fields.String())
    groups = ma.fields.List(ma.fields.String())
    removed_members = ma.fields.Integer(
        metadata={
            "description": "A new tenant whose groups someone made in advance starts with no members: "
            "how many were removed (0 otherwise)."
        }
    )


class Health(ma.Schema):
    status = ma.fields.String(required=True)
    vault = ma.fields.Dict()


class ApiError(ma.Schema):
    """The one error shape."""

    code = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.Raw()),
        metadata={
            "description": "Each field with the list of its messages: a body or query field by name (nested: "
            "dotted, `parameters.0.name`), a path name by its parameter (`tenant`, `key`, `user`). Lists of "
            "another kind: resolve's `unresolved` ({name, key, reason} per parameter), an import's `existing` "
            "(keys, 409) and `results` (per key, when it stopped half way).",
            "example": {"key": ["Invalid key: starts with a letter or '_'."]},
        },
    )


# -- resolve (the Hub) --------------------------------------------------------------------


class Duration(ma.fields.Field):  # type: ignore[type-arg]
    """Seconds as an integer, or a Vault-style duration string: "90s", "5m"."""

    default_error_messages = {"invalid": rules.DURATION_RULE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema's integer: 60.0 is 60
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        seconds = rules.duration_seconds(value) if isinstance(value, str) else None
        if seconds is None:
            raise self.make_error("invalid")
        return seconds


class ResolveParameter(Strict):
    name = StrictString(
        required=True,
        validate=validate.Length(min=1, max=rules.MAX_PARAMETER_NAME),
        metadata={"example": "db_password"},
    )
    type = StrictString(
        required=True,
        validate=validate.Length(min=1, max=rules.MAX_PARAMETER_TYPE),
        metadata={"example": "SECRET", "description": "SECRET parameters carry a key and get its value."},
    )
    value = ma.fields.Raw(
        required=True,
        allow_none=True,
        metadata={"example": "DATABASE_PASSWORD", "description": "For SECRET: the key. Otherwise returned as is."},
    )


class ReferrerName(Strict):
    kind = StrictString(required=True, validate=validate.OneOf(rules.REFERRER_KINDS))
    id = StrictString(
        required=True,
        validate=_matching(rules.REFERRER_ID_RE, rules.REFERRER_ID_RULE),
        metadata={"pattern": rules.documented(rules.REFERRER_ID_RE)},
    )


class ResolveRequest(Strict):
    referrer = ma.fields.Nested(
        ReferrerName,
        metadata={
            "description": "The Action or Event Type this run is for: its last_resolved_time is recorded, and keys "
            "it did not declare are named in `warnings` (undeclared). Never a refusal."
        },
    )
    parameters = ma.fields.List(
        ma.fields.Nested(ResolveParameter),
        required=True,
        validate=validate.Length(max=rules.MAX_PARAMETERS, error="At most {max} parameters per call."),
    )
    wrap_ttl = Duration(
        validate=validate.Range(
            min=rules.WRAP_TTL_MIN, max=rules.WRAP_TTL_MAX, error="Must be {min} to {max} seconds."
        ),
        metadata={
            "description": "Deliver by Vault response wrapping: every SECRET parameter gets a single-use token "
            "of Vault's own read of its key, valid this long, instead of its value.",
            "oneOf": [
                {"type": "integer", "minimum": rules.WRAP_TTL_MIN, "maximum": rules.WRAP_TTL_MAX},
                {"type": "string", "pattern": rules.documented(rules.DURATION), "example": "5m", "maxLength": 4},
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
    name = ma.fields.String(metadata={"description": "The parameter (expired)."})
    key = ma.fields.String(metadata={"description": "The key (expired, undeclared)."})
    code = ma.fields.String(required=True, metadata={"enum": ["expired", "undeclared", "unknown_referrer"]})
    expires_at = ma.fields.String(metadata={"description": "expired: when."})
    kind = ma.fields.String(metadata={"description": "undeclared, unknown_referrer: the referrer's kind."})
    id = ma.fields.String(metadata={"description": "undeclared, unknown_referrer: the referrer's id."})


class ResolveResponse(ma.Schema):
    parameters = ma.fields.List(ma.fields.Nested(ResolvedParameter), required=True)
    warnings = ma.fields.List(
        ma.fields.Nested(ResolveWarning),
        metadata={"description": "Parameters whose key has expired: they still resolve. Absent when none."},
    )


# -- import and export --------------------------------------------------------------------


class ImportRequest(Strict):
    format = StrictString(
        required=True,
        validate=validate.OneOf(rules.IMPORT_FORMATS),
        metadata={
            "description": "dotenv: the text of a .env file; json: the JSON text of a list of "
            "{key, value, description?}."
        },
    )
    content = StrictString(
        required=True,
        validate=validate.Length(min=1, error=rules.EMPTY_RULE),
        load_only=True,
        metadata={
            "format": "password",
            "writeOnly": True,
            "description": f"The file's text: at most {rules.MAX_IMPORT_KEYS} keys; the whole request body is "
            "capped at 256 KiB (413).",
        },
    )
    on_conflict = StrictString(
        load_default="fail",
        validate=validate.OneOf(rules.ON_CONFLICT),
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
    format = StrictString(load_default="json", validate=validate.OneOf(rules.EXPORT_FORMATS))


# -- references (which Actions and Event Types name which keys) ----------------------------


class ReferrerDeclare(Strict):
    name = StrictString(
        required=True,
        validate=[validate.Length(min=1, max=rules.REFERRER_NAME_MAX_BYTES), _rule(rules.referrer_name_problem)],
        metadata={
            "example": "Send invoice",
            "x-max-bytes": rules.REFERRER_NAME_MAX_BYTES,
            "pattern": f"^{rules.PRINTABLE_CLASS}*$",
            "description": f"The Action's or Event Type's name; at most {rules.REFERRER_NAME_MAX_BYTES} bytes in "
            "UTF-8. " + rules.PRINTABLE_RULE,
        },
    )
    parameters = ma.fields.List(
        ma.fields.Nested(ResolveParameter),
        required=True,
        validate=validate.Length(max=rules.MAX_REFERRER_PARAMETERS, error="At most {max} parameters."),
        metadata={"description": "The referrer's parameters, as resolve takes them; only SECRET ones are kept."},
    )


class CheckRequest(Strict):
    parameters = ReferrerDeclare._declared_fields["parameters"]


class CheckEntry(ma.Schema):
    name = ma.fields.String(required=True)
    key = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True, metadata={"enum": ["ok", "missing", "deleted", "expired", "expiring", "malformed"]}
    )


class CheckResponse(ma.Schema):
    check = ma.fields.List(ma.fields.Nested(CheckEntry), required=True)


class ReferrerDeclared(ma.Schema):
    kind = ma.fields.String(required=True)
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    keys = ma.fields.List(ma.fields.String(), required=True)
    updated_time = ma.fields.String(required=True)
    check = ma.fields.List(ma.fields.Nested(CheckEntry), required=True)


class ReferrerItem(ma.Schema):
    kind = ma.fields.String(required=True)
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    parameters = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "SECRET parameter names."})
    updated_time = ma.fields.String(allow_none=True)
    last_resolved_time = ma.fields.String(allow_none=True)


class ReferrerRef(ma.Schema):
    kind = ma.fields.String(required=True)
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class ReferrerPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReferrerItem), required=True)
    next = ma.fields.String(allow_none=True, metadata={"description": "Pass as `after` for the next page: kind,id."})


_REFERRER_CURSOR = re.compile(rf"^(?:action|event-type),{rules.REFERRER_ID_PATTERN}\Z")


class ReferrerListArgs(Strict):
    key = Key()
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    after = StrictString(
        validate=_matching(_REFERRER_CURSOR, "Must be a `next` value."),
        metadata={"pattern": rules.documented(_REFERRER_CURSOR), "description": "The `next` of the page before."},
    )
