"""The product's rules: limits, ranges and patterns, each with its human text.

No Flask or marshmallow here: the schemas (and through them the OpenAPI document, which the page
reads), the services and the CLI all read these, so a rule is stated once. Each check answers the
message for a broken rule, or None; it never repeats the text it checked.
"""

from __future__ import annotations

import re

from app.names import (
    KEY_PATTERN,
    KEY_RE,
    KEY_RULE,
    REFERRER_ID_PATTERN,
    REFERRER_ID_RE,
    REFERRER_ID_RULE,
    REFERRER_KIND_RE,
    REFERRER_KIND_RULE,
    REFERRER_KINDS,
    TENANT_PATTERN,
    TENANT_RE,
    TENANT_RULE,
    USER_PATTERN,
    USER_RE,
    USER_RULE,
    documented,
)

__all__ = [
    "KEY_PATTERN", "KEY_RE", "KEY_RULE", "TENANT_PATTERN", "TENANT_RE", "TENANT_RULE",
    "REFERRER_ID_PATTERN", "REFERRER_ID_RE", "REFERRER_ID_RULE", "REFERRER_KINDS", "REFERRER_KIND_RE",
    "REFERRER_KIND_RULE",
    "USER_PATTERN", "USER_RE", "USER_RULE", "documented",
]  # fmt: skip

# -- a secret's value and description --------------------------------------------------------

MAX_VALUE_BYTES = 64 * 1024
# Vault caps custom_metadata values at 512 bytes, not characters.
MAX_DESCRIPTION = 512
MAX_SEARCH = 200
NO_NUL = "^[^\\u0000]*$"  # the value's one character rule, as the document states it
_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_A_STRING = "Must be a string."
SURROGATE_RULE = "Must be valid Unicode (a lone surrogate such as \\ud800 is not a character)."
EMPTY_RULE = "Must not be empty."


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


def text_problem(text: object) -> str | None:
    """Why something is not a text field's string: not a string, or not Unicode that UTF-8 can carry."""
    if not isinstance(text, str):
        return NOT_A_STRING
    if _SURROGATE.search(text):  # JSON can carry one; UTF-8 cannot encode it
        return SURROGATE_RULE
    return None


def value_problem(text: str) -> str | None:
    """Why a value (a string) cannot be stored; an empty one is for the caller to decide."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        return f"Must be at most {MAX_VALUE_BYTES} bytes."
    return None


def description_problem(text: str) -> str | None:
    # Checked before Vault is called: a refusal after a value was written would leave half a secret.
    return _printable_within(text, MAX_DESCRIPTION)


def _printable_within(text: str, max_bytes: int) -> str | None:
    """Vault's rule for a custom_metadata value: printable, and at most so many bytes (not characters)."""
    if not PRINTABLE_RE.match(text):
        return PRINTABLE_RULE
    if len(text.encode("utf-8")) > max_bytes:
        return f"Must be at most {max_bytes} bytes in UTF-8."
    return None


def search_problem(text: str) -> str | None:
    return None if PRINTABLE_RE.match(text) else PRINTABLE_RULE


def key_problem(text: str) -> str | None:
    return None if KEY_RE.match(text) else "Invalid key: " + KEY_RULE + "."


# -- listings ----------------------------------------------------------------------------------

PAGE_DEFAULT = 50
PAGE_MAX = 1000
EXPIRING_DAYS_MAX = 3650

# -- resolve (the Hub) -------------------------------------------------------------------------

MAX_PARAMETERS = 100
MAX_PARAMETER_NAME = 256
MAX_PARAMETER_TYPE = 64
WRAP_TTL_MIN = 10
WRAP_TTL_MAX = 15 * 60
# A duration string within WRAP_TTL_MIN..WRAP_TTL_MAX (10 s to 15 min), exactly: the server
# checks this regex and the OpenAPI document carries it, so no string the document allows is refused.
DURATION = re.compile(r"^(?:(?:[1-9][0-9]|[1-8][0-9]{2}|900)s?|(?:[1-9]|1[0-5])m)\Z")
DURATION_RULE = 'Must be 10 to 900 seconds, as a number or a duration like "90s" or "5m" (at most "15m").'
_UNIT_SECONDS = {"s": 1, "m": 60}


def duration_seconds(text: str) -> int | None:
    """The seconds of a duration string ("90s", "5m", "60"), or None if it is not one."""
    if not DURATION.match(text):
        return None
    unit = text[-1] if text[-1] in _UNIT_SECONDS else "s"
    return int(text.rstrip("sm")) * _UNIT_SECONDS[unit]


# -- import and export -------------------------------------------------------------------------

MAX_IMPORT_KEYS = 500
# A JSON import is a list of objects of strings: 2 levels, 4 elements per key (the object and
# its key, value and description; twice that, so that a long list is refused by its key count).
# Bounded before parsing: a deep one would crash the parser.
MAX_IMPORT_DEPTH = 4
MAX_IMPORT_ELEMENTS = 8 * MAX_IMPORT_KEYS
MAX_EXPORT_ITEMS = 20_000
IMPORT_FORMATS = ("dotenv", "json")
EXPORT_FORMATS = ("json", "csv")
ON_CONFLICT = ("skip", "overwrite", "fail")

# -- references (which Actions and Event Types name which keys) --------------------------------

REFERRER_NAME_MAX_BYTES = 200
MAX_REFERRER_PARAMETERS = 100
EXPIRING_SOON_DAYS = 14  # a check says `expiring` this close to the expiry


def referrer_name_problem(text: str) -> str | None:
    return _printable_within(text, REFERRER_NAME_MAX_BYTES)  # kept in the entries' custom_metadata


# -- settings ----------------------------------------------------------------------------------

RECOVERY_DAYS = (0, 3650)  # NEXO_RECOVERY_DAYS: 0 deletes for good at once
UNUSED_DAYS = (1, 3650)  # NEXO_UNUSED_DAYS: the Unused filter's "not resolved for" window
# Who made each version is kept in custom_metadata (version_<n>_by); Vault allows 64 entries,
# and the service's own (description, created_by, updated_by, deleted_by, ...) need the rest.
MAX_VERSIONS = (1, 50)
