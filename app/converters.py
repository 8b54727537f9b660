"""Route converters for the product's names: a tenant, key, user, referrer kind or id in a path
is checked once, where the request comes in, and trusted after (services and app/vault build Vault paths
from it).

Any segment matches the route, so that a bad name is answered 400 naming its rule rather than
404; the OpenAPI document carries each rule's pattern.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

from app import names, rules


class NameRefused(BadRequest):
    """A name in the path breaks its rule; answered in the one error shape (app/http_errors.py)."""

    def __init__(self, message: str, field: str, rule: str) -> None:
        super().__init__(message)
        self.data = {"message": message, "errors": {field: [rule]}}


class _Name(BaseConverter):
    regex = "[^/]+"
    pattern: re.Pattern[str]
    field: str
    message: str
    rule: str

    def to_python(self, value: str) -> str:
        if self.pattern.match(value) is None:
            raise NameRefused(self.message, self.field, self.rule)
        return value


class Tenant(_Name):
    pattern, field, message, rule = names.TENANT_RE, "tenant", "Invalid tenant name", names.TENANT_RULE


class Key(_Name):
    pattern, field, message, rule = names.KEY_RE, "key", "Invalid key", names.KEY_RULE


class User(_Name):
    pattern, field, message, rule = names.USER_RE, "user", "Invalid user name", names.USER_RULE


class ReferrerKind(_Name):
    pattern, field, message, rule = rules.REFERRER_KIND_RE, "kind", "Invalid referrer kind", rules.REFERRER_KIND_RULE


class ReferrerId(_Name):
    pattern, field, message, rule = rules.REFERRER_ID_RE, "id", "Invalid referrer id", rules.REFERRER_ID_RULE


CONVERTERS: dict[str, type[_Name]] = {
    "tenant": Tenant,
    "key": Key,
    "user": User,
    "referrer_kind": ReferrerKind,
    "referrer_id": ReferrerId,
}


def init_app(app: Any, spec: Any) -> None:
    """Route names `<tenant:...>`, `<key:...>`, `<user:...>`, `<referrer_kind:...>`, `<referrer_id:...>`,
    documented with their patterns."""
    for name, converter in CONVERTERS.items():
        app.url_map.converters[name] = converter
        spec.register_converter(converter, lambda c: {"type": "string", "pattern": names.documented(c.pattern)})
