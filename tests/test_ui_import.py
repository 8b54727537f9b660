"""Import and Download on the Secrets screen, in Debian's Chromium against the real service and OpenBao."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from playwright.sync_api import Page, expect

from tests import browser as screen
from tests.browser import Watched, assert_no_values, row, sign_in, vault_value

# The Secrets screen's browser fixtures, shared (assigned, so that they are this module's fixtures too).
suite, planted, browser, base_url, ui = screen.suite, screen.planted, screen.browser, screen.base_url, screen.ui


def import_dialog(page: Page) -> Any:
    page.get_by_role("button", name="Import", exact=True).click()
    dialog = page.get_by_role("dialog", name="Import secrets")
    expect(dialog).to_be_visible()
    return dialog


def listed(dialog: Any) -> list[tuple[str, str]]:
    items = dialog.locator("#import-list li")
    return [
        (items.nth(i).locator("code").inner_text(), items.nth(i).locator(".status").inner_text())
        for i in range(items.count())
    ]


def test_writer_imports_a_dotenv_file_with_a_preview(
    ui: Watched, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    old, one, two, three = (planted(f"ui-import{i}") for i in range(4))
    login(tenant.writer, tenant.password).post(
        f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "EXISTING", "value": old}
    )
    page = sign_in(ui, tenant.writer, tenant.password)
    expect(row(page, "EXISTING")).to_be_visible()
    dialog = import_dialog(page)
    expect(dialog.get_by_role("textbox", name="File")).to_be_focused()
    env = f'# app settings\nexport API_KEY={one}\nDB_URL="postgres://u:{two}@db/x?a=b"\nEXISTING={three}\n'
    dialog.locator("#import-file").set_input_files(
        files=[{"name": "app.env", "mimeType": "text/plain", "buffer": env.encode()}]
    )

    expect(dialog.locator("#import-loaded-text")).to_have_text("app.env: 4 lines, read as .env")
    expect(dialog.locator("#import-summary")).to_have_text("Preview: 3 keys (2 new, 1 skipped)")
    assert listed(dialog) == [
        ("API_KEY", "will be created"),
        ("DB_URL", "will be created"),
        ("EXISTING", "will be skipped"),
    ]
    expect(dialog.get_by_role("textbox", name="File")).to_have_value("")  # the drop zone never holds the text
    assert_no_values(ui, suite)

    dialog.get_by_label("Overwrite them with a new version").check()
    expect(dialog.locator("#import-summary")).to_have_text("Preview: 3 keys (2 new, 1 to overwrite)")
    assert ("EXISTING", "will get a new version") in listed(dialog)
    assert vault_value(bao, tenant.name, "EXISTING") == (old, 1)  # a preview writes nothing

    dialog.get_by_role("button", name="Import 3 secrets").click()
    expect(dialog.locator("#import-summary")).to_have_text("Imported: 3 keys (2 new, 1 overwritten)")
    assert listed(dialog) == [("API_KEY", "created"), ("DB_URL", "created"), ("EXISTING", "new version")]
    expect(dialog.get_by_role("button", name="Done")).to_be_focused()
    assert_no_values(ui, suite)
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    for key in ("API_KEY", "DB_URL", "EXISTING"):
        expect(row(page, key)).to_be_visible()
    assert vault_value(bao, tenant.name, "DB_URL") == (f"postgres://u:{two}@db/x?a=b", 1)
    assert vault_value(bao, tenant.name, "EXISTING") == (three, 2)
    # Opened again, nothing of the last import is left.
    dialog = import_dialog(page)
    expect(dialog.locator("#import-outcome")).to_be_hidden()
    expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    assert_no_values(ui, suite)


def test_a_refused_file_names_lines_and_rules_never_values(
    ui: Watched, bao: Any, tenant: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    value = planted("ui-refused")
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = import_dialog(page)
    # A paste, as Ctrl+V delivers it.
    text = f"GOOD=1\n2BAD={value}\nGOOD={value}\nEMPTY=\n"
    dialog.get_by_role("textbox", name="File").evaluate(
        """(zone, text) => { const data = new DataTransfer(); data.setData("text/plain", text);
             zone.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true})); }""",
        text,
    )
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("The import was refused (3 problems); nothing was written")
    expect(alert.locator("li")).to_have_text([
        "line 2: invalid key: starts with a letter or '_', then up to 127 letters, digits, '_', '.' or '-'",
        "line 3: same key as line 1 (each key once)",
        "line 4: the value is empty (a secret needs a value)",
    ])  # fmt: skip
    expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    assert_no_values(ui, suite)
    # Typing into the zone is refused: typed values would be shown.
    dialog.get_by_role("textbox", name="File").press_sequentially("SECRET=shown")
    expect(dialog.get_by_role("textbox", name="File")).to_have_value("")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(dialog.get_by_role("alert")).to_be_hidden()
    assert bao.api("LIST", f"/v1/secret/metadata/tenants/{tenant.name}/").status_code == 404


def test_json_import_and_fail_on_existing(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    login(tenant.writer, tenant.password).post(
        f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "TAKEN", "value": planted("ui-taken")}
    )
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = import_dialog(page)
    dialog.get_by_label("Import nothing if any exists").check()
    items = [
        {"key": "TAKEN", "value": planted("ui-j1")},
        {"key": "NEW_ONE", "value": planted("ui-j2"), "description": "From JSON"},
    ]
    dialog.locator("#import-file").set_input_files(
        files=[{"name": "secrets.json", "mimeType": "application/json", "buffer": json.dumps(items).encode()}]
    )
    expect(dialog.locator("#import-loaded-text")).to_contain_text("read as JSON")
    expect(dialog.get_by_role("alert")).to_contain_text("1 of these keys exist already: TAKEN; nothing was written")
    expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    dialog.get_by_label("Skip them, keep their values").check()
    expect(dialog.locator("#import-summary")).to_have_text("Preview: 2 keys (1 new, 1 skipped)")
    expect(dialog.get_by_role("alert")).to_be_hidden()
    dialog.get_by_role("button", name="Import 1 secret").click()
    expect(dialog.locator("#import-summary")).to_have_text("Imported: 2 keys (1 new, 1 skipped)")
    dialog.get_by_role("button", name="Done").click()
    expect(row(page, "NEW_ONE")).to_contain_text("From JSON")
    assert_no_values(ui, suite)


def test_reader_downloads_the_inventory_and_cannot_import(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    writer = login(tenant.writer, tenant.password)
    writer.post(
        f"/api/v1/tenants/{tenant.name}/secrets",
        json={"key": "A_KEY", "value": planted("ui-dl"), "description": "=cmd"},
    )
    page = sign_in(ui, tenant.reader, tenant.password)
    expect(row(page, "A_KEY")).to_be_visible()
    expect(page.get_by_role("button", name="Import", exact=True)).to_be_hidden()
    page.get_by_text("Download", exact=True).click()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Inventory as CSV").click()
    assert csv_download.value.suggested_filename == f"{tenant.name}-secrets.csv"
    rows = list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["key", "description", "version"] and rows[1][:3] == ["A_KEY", "'=cmd", "1"]
    expect(page.get_by_role("link", name="Inventory as CSV")).to_be_hidden()  # the menu closed
    page.get_by_text("Download", exact=True).click()
    page.keyboard.press("Escape")  # and closes from the keyboard
    expect(page.get_by_role("link", name="Inventory as CSV")).to_be_hidden()
    page.get_by_text("Download", exact=True).click()
    with page.expect_download() as json_download:
        page.get_by_role("link", name="Inventory as JSON").click()
    items = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert [i["key"] for i in items] == ["A_KEY"] and items[0]["created_by"] == tenant.writer
    suite.SEEN.append(("downloads", json.dumps(rows) + json.dumps(items)))
    assert_no_values(ui, suite)


def test_an_import_stopped_half_way_says_what_was_written(
    ui: Watched, app: Any, tenant: Any, planted: Callable[[str], str], suite: ModuleType, monkeypatch: Any
) -> None:
    from app.vault import errors

    kv = app.extensions["nexo_vault"].kv
    real_write = kv.write_value

    def failing(token: str, tenant_name: str, key: str, value: str, cas: int) -> int:
        if key == "B_SECOND":
            raise errors.Unavailable()
        return int(real_write(token, tenant_name, key, value, cas))

    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = import_dialog(page)
    env = "".join(f"{key}={planted('ui-half')}\n" for key in ("A_FIRST", "B_SECOND", "C_THIRD"))
    dialog.locator("#import-file").set_input_files(
        files=[{"name": "x.env", "mimeType": "text/plain", "buffer": env.encode()}]
    )
    expect(dialog.locator("#import-summary")).to_have_text("Preview: 3 keys (3 new)")
    monkeypatch.setattr(kv, "write_value", failing)
    dialog.get_by_role("button", name="Import 3 secrets").click()
    expect(dialog.get_by_role("alert")).to_contain_text("The import stopped at key 'B_SECOND'")
    expect(dialog.get_by_role("alert")).to_contain_text("1 key was written before it")
    expect(dialog.locator("#import-summary")).to_have_text("Imported: 3 keys (1 new, 2 failed)")
    assert [status for _, status in listed(dialog)][0] == "created"
    assert [key for key, status in listed(dialog) if status.startswith("failed")] == ["B_SECOND", "C_THIRD"]
    monkeypatch.setattr(kv, "write_value", real_write)
    dialog.get_by_role("button", name="Done").click()
    expect(row(page, "A_FIRST")).to_be_visible()  # the table shows what was written
    expect(row(page, "B_SECOND")).to_have_count(0)
    assert_no_values(ui, suite)


def test_an_inventory_export_given_to_import_is_named_as_such(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    """The Download menu's files hold no values: Import says so in one sentence, for JSON and CSV."""
    writer = login(tenant.writer, tenant.password)
    writer.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "A_KEY", "value": planted("ui-inv")})
    exported = {
        fmt: writer.get(f"/api/v1/tenants/{tenant.name}/secrets/export?format={fmt}").data for fmt in ("json", "csv")
    }
    page = sign_in(ui, tenant.writer, tenant.password)
    for fmt, content in exported.items():
        dialog = import_dialog(page)
        dialog.locator("#import-file").set_input_files(
            files=[{"name": f"{tenant.name}-secrets.{fmt}", "mimeType": "text/plain", "buffer": content}]
        )
        alert = dialog.locator("#import-error")
        expect(alert).to_have_text(
            re.compile(
                r"^This is an inventory export \(Download\), which lists keys and descriptions but holds no values"
            )
        )
        expect(alert.locator("li")).to_have_count(0)  # one sentence, no list of field errors
        expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()
        page.keyboard.press("Escape")
    assert (
        writer.get(f"/api/v1/tenants/{tenant.name}/secrets").get_json()["items"][0]["version"] == 1
    )  # nothing written

    # A JSON list with a bad item: the item's number and the field, in words.
    dialog = import_dialog(page)
    content = json.dumps([{"key": "OK", "value": planted("ui-inv")}, {"key": "NO_VALUE", "description": "x"}])
    dialog.locator("#import-file").set_input_files(
        files=[{"name": "list.json", "mimeType": "application/json", "buffer": content.encode()}]
    )
    expect(dialog.locator("#import-error li")).to_have_text(["item 2: value: required, and missing"])
    page.keyboard.press("Escape")
    assert_no_values(ui, suite)
