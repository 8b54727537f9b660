"""Keeping secret values out of logs: a logging filter that masks every form a value takes."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
# Lines of a multi-line value and base64 fragments shorter than this are not masked on their
# own (they would blot out ordinary words); whole values are masked whatever their length.
MIN_FRAGMENT = 4

_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class MaskingFilter(logging.Filter):
    """Replaces every known secret value in a log record with ***.

    Also the forms a value takes on its way into a log line: base64 (standard and URL-safe, also
    inside a longer encoded string such as a Basic auth header), URL-encoded, JSON- and
    repr-escaped, and each line of a multi-line value. Attach it to handlers (not loggers:
    a logger's filters do not see records propagated from its children).
    """

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False
        self._lock = threading.Lock()
        self._attached: list[logging.Handler | logging.Filterer] = []

    def add(self, *values: str) -> None:
        """Mask these values from now on."""
        with self._lock:
            new = {v for v in values if isinstance(v, str) and v} - self._values
            if new:
                self._values |= new
                self._dirty = True

    def forget(self, *values: str) -> None:
        """Stop masking these values (e.g. after a task run is over and its logs are written)."""
        with self._lock:
            self._values -= set(values)
            self._dirty = True

    def mask(self, text: str) -> str:
        """The text with every form of every known value replaced by ***."""
        pattern = self._compiled()
        return pattern.sub(MASK, text) if pattern is not None else text

    def attach(self, *targets: logging.Handler | logging.Filterer) -> None:
        """Add the filter to these handlers; by default to every handler of the root logger."""
        chosen = targets or tuple(logging.getLogger().handlers)
        for target in chosen:
            target.addFilter(self)
            self._attached.append(target)

    def detach(self) -> None:
        """Remove the filter from everything attach() added it to."""
        for target in self._attached:
            target.removeFilter(self)
        self._attached.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = self._compiled()
        if pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is still masked
            message = f"{record.msg!s} {record.args!r}"
        masked = pattern.sub(MASK, message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info or record.exc_text:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
            masked = pattern.sub(MASK, text)
            if masked != text:
                # The exception object itself holds the value: handlers get only the masked text.
                record.exc_text, record.exc_info = masked, None
        if record.stack_info:
            record.stack_info = pattern.sub(MASK, record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _RECORD_FIELDS or value is None or isinstance(value, int | float | bool):
                continue
            text = value if isinstance(value, str) else repr(value)
            masked = pattern.sub(MASK, text)
            if masked != text:
                setattr(record, name, masked)  # extra={...} fields a formatter may print
        return True

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._dirty:
                forms = set().union(*(masked_forms(v) for v in self._values)) if self._values else set()
                # Longest first, so a value wins over a line or fragment inside it.
                ordered = sorted(forms, key=lambda f: (-len(f), f))
                self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
                self._dirty = False
            return self._pattern


def masked_forms(value: str) -> set[str]:
    """Every form of a value the filter masks."""
    atoms = {value}
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", value)]
    if len(lines) > 1:
        atoms.update(line for line in lines if len(line) >= MIN_FRAGMENT)
    forms: set[str] = set()
    for atom in atoms:
        escaped = json.dumps(atom)[1:-1]
        forms.update(
            {
                atom,
                escaped,
                json.dumps(atom, ensure_ascii=False)[1:-1],
                json.dumps(escaped)[1:-1],  # JSON inside a JSON string
                repr(atom)[1:-1],
                repr(atom.encode())[2:-1],
            }
        )
        for safe in ("", "/"):
            for encoded in (quote(atom, safe=safe), quote_plus(atom, safe=safe)):
                forms.add(encoded)
                forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
        forms.update(_base64_forms(atom.encode()))
    return {f for f in forms if f}


def _base64_forms(data: bytes) -> set[str]:
    """The value's base64, whole and as the characters it alone determines at each alignment."""
    forms = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    for shift in range(3):  # the value may start at any byte offset of a longer encoded string
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6]
        if len(core) >= MIN_FRAGMENT:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
    return forms
