"""Multi-line values in the browser: PEM keys and service-account JSON files, pasted or loaded from
a file, stored byte for byte (newlines, the final newline, CRLF), and never shown on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import browser as screen
from tests.browser import Watched, add_dialog, assert_no_values, row, secret_dialog, sign_in, vault_value

# The Secrets screen's browser fixtures, shared (assigned, so that they are this module's fixtures too).
suite, planted, browser, base_url, ui = screen.suite, screen.planted, screen.browser, screen.base_url, screen.ui

pytestmark = pytest.mark.ui


def pem_key(planted: Callable[[str], str], newline: str = "\n") -> str:
    """A PEM private key whose every body line is a planted value (the leak check looks for each)."""
    body = [planted(f"pem{i}")[:64] for i in range(6)]
    return newline.join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----"]) + newline


def service_account(planted: Callable[[str], str], newline: str = "\n") -> str:
    """A Google-style service-account file, pretty-printed, with a final newline."""
    document = {
        "type": "service_account",
        "project_id": "nexo-demo",
        "private_key_id": planted("sa-id"),
        "private_key": pem_key(planted),
        "client_email": "robot@nexo-demo.iam.gserviceaccount.com",
        "client_id": "1234567890",
    }
    return json.dumps(document, indent=2).replace("\n", newline) + newline


def visible_text(page: Page) -> str:
    """Everything the page shows as text, dialogs included, and every attribute a tooltip could show."""
    return str(
        page.evaluate(
            """() => document.body.innerText + "\\n" +
                [...document.querySelectorAll("[title],[placeholder],[aria-label],[value]")]
                    .map(e => [e.title, e.placeholder, e.getAttribute("aria-label"), e.getAttribute("value")].join(" "))
                    .join("\\n")"""
        )
    )


def assert_not_shown(page: Page, value: str) -> None:
    lines = [line.strip() for line in value.replace("\r", "").split("\n") if len(line.strip()) > 8]
    shown = visible_text(page)
    assert not [line for line in lines if line in shown], "a line of the value is visible on the page"


def assert_masked(page: Page, value: str) -> None:
    """The field draws the value as dots: a screenshot of it is the same as one of a value of the
    same shape made of other characters (each character is one disc)."""
    textarea = page.locator("#f-value")
    assert textarea.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"
    page.locator("#f-description").focus()  # no caret in the picture
    textarea.evaluate("e => { e.scrollTop = 0; }")
    box = textarea.bounding_box()
    assert box
    # The text area inside the border (the border's anti-aliased corners are no text).
    inside: Any = {"x": box["x"] + 4, "y": box["y"] + 4, "width": box["width"] - 8, "height": box["height"] - 8}
    with_value = page.screenshot(clip=inside, animations="disabled", caret="hide")
    shape = "".join(c if c in "\r\n" else "x" for c in value)
    textarea.evaluate("(e, text) => { e.value = text; e.scrollTop = 0; }", shape.replace("\r\n", "\n"))
    with_shape = page.screenshot(clip=inside, animations="disabled", caret="hide")
    assert with_value == with_shape, "the Value field shows the value's characters"
    textarea.evaluate("(e, text) => { e.value = text; }", value.replace("\r\n", "\n"))


def paste(page: Page, text: str) -> None:
    """Put `text` on the clipboard and paste it into the Value field with Ctrl+V, as a user does."""
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    page.locator("#f-value").focus()
    page.keyboard.press("Control+V")


def load_from_file(page: Page, file: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Load from file").click()
    chooser.value.set_files(str(file))


@pytest.mark.parametrize("how", ["paste", "file"])
@pytest.mark.parametrize(
    "kind, newline",
    [("pem", "\n"), ("service-account", "\n"), ("service-account", "\r\n")],
    ids=["pem", "service-account", "service-account-crlf"],
)
def test_a_multi_line_value_is_stored_exactly_and_never_shown(
    ui: Watched,
    bao: Any,
    tenant: Any,
    planted: Callable[[str], str],
    suite: ModuleType,
    tmp_path: Path,
    how: str,
    kind: str,
    newline: str,
) -> None:
    value = pem_key(planted, newline) if kind == "pem" else service_account(planted, newline)
    suite.PLANTED.append(value)
    file = tmp_path / ("key.pem" if kind == "pem" else "service-account.json")
    file.write_bytes(value.encode())
    ui.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = sign_in(ui, tenant.writer, tenant.password)

    key = "SERVICE_KEY"
    dialog = add_dialog(page, key=key)
    if how == "paste":
        paste(page, value)
        expect(page.locator("#f-value")).not_to_have_value("")
    else:
        load_from_file(page, file)
        expect(dialog.locator("#f-value-loaded")).to_contain_text(f"Loaded {file.name}")
        expect(dialog.locator("#f-value-loaded")).to_contain_text("Its content is not shown")
    # The field holds every line (a one-line input would have made spaces of the newlines)...
    assert page.locator("#f-value").input_value() == value.replace("\r\n", "\n")
    # ...and shows none of it: dots in the field, nothing anywhere else.
    assert_masked(page, value)
    assert_not_shown(page, value)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row(page, key)).to_be_visible()

    # Vault holds the file byte for byte: every newline, the final one, and CRLF as given.
    assert vault_value(bao, tenant.name, key) == (value, 1)
    assert vault_value(bao, tenant.name, key)[0].encode() == file.read_bytes()
    expect(page.locator("#f-value")).to_have_value("")  # the closed form forgets it
    assert_not_shown(page, value)
    assert_no_values(ui, suite)


def test_a_new_value_from_a_file_on_edit_and_a_hand_edit_after_pasting(
    ui: Watched, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType, tmp_path: Path
) -> None:
    """Edit loads a new certificate from a file; a value pasted with CRLF and then typed in keeps CRLF."""
    client = login(tenant.writer, tenant.password)
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    assert client.post(url, json={"key": "TLS_KEY", "value": planted("old")}).status_code == 201
    new = pem_key(planted)
    suite.PLANTED.append(new)
    file = tmp_path / "tls.key"
    file.write_bytes(new.encode())
    ui.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = sign_in(ui, tenant.writer, tenant.password)

    row(page, "TLS_KEY").get_by_role("button", name="Edit TLS_KEY").click()
    dialog = secret_dialog(page, "Edit Secret")
    load_from_file(page, file)
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    assert vault_value(bao, tenant.name, "TLS_KEY") == (new, 2)

    # Pasted with CRLF, then a line typed at the end: the typed line break is a CRLF too.
    first, second = planted("crlf-a"), planted("crlf-b")
    dialog = add_dialog(page, key="CRLF_VALUE")
    paste(page, f"{first}\r\n")
    page.locator("#f-value").press("End")
    page.keyboard.press("Control+End")
    page.keyboard.type(second)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert vault_value(bao, tenant.name, "CRLF_VALUE") == (f"{first}\r\n{second}", 1)

    # A file that is not text is refused in words, and nothing is loaded.
    binary = tmp_path / "key.der"
    binary.write_bytes(b"\x30\x82\x04\xbe\x02\x01\x00\xff\xfe")
    dialog = add_dialog(page, key="BINARY")
    load_from_file(page, binary)
    expect(dialog.locator("#f-value-error")).to_contain_text("key.der is not UTF-8 text")
    expect(page.locator("#f-value")).to_have_value("")
    page.keyboard.press("Escape")
    assert_no_values(ui, suite)
