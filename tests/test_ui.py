"""The Secrets screen in Debian's Chromium, against the real service and a real OpenBao server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from app import secrets
from tests import browser as screen
from tests.browser import (
    SEARCH_PATH,
    Watched,
    add_dialog,
    assert_no_values,
    browser_token,
    field,
    open_page,
    row,
    secret_dialog,
    sign_in,
    vault_value,
)

# The shared browser fixtures (tests/browser.py).
suite, planted, browser, base_url, ui = screen.suite, screen.planted, screen.browser, screen.base_url, screen.ui


# -- the writer's whole round -----------------------------------------------------------


def test_writer_adds_edits_changes_value_and_deletes(
    ui: Watched, bao: Any, tenant: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()
    expect(page.get_by_role("combobox", name="Tenant")).to_be_hidden()  # one tenant: no switcher
    expect(page.locator("#tenant-name")).to_have_text(tenant.name)

    # Add
    first = planted("ui-first")
    dialog = add_dialog(page)
    expect(dialog).to_be_visible()
    expect(field(dialog, "Key")).to_be_focused()
    value = field(dialog, "Value")
    # Several lines, masked as a password field is (test_ui_values covers PEM and JSON files)
    assert value.evaluate("e => e.tagName") == "TEXTAREA"
    assert value.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"
    expect(value).to_have_attribute("spellcheck", "false")
    expect(value).to_have_value("")
    field(dialog, "Key").fill("DATABASE_PASSWORD")
    field(dialog, "Description").fill("Primary Postgres")
    value.fill(first)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#f-value")).to_have_value("")  # the closed form forgets the value

    the_row = row(page, "DATABASE_PASSWORD")
    expect(the_row).to_be_visible()
    expect(the_row.get_by_role("cell").nth(0)).to_have_text("Primary Postgres")
    expect(the_row).to_contain_text(tenant.writer)
    expect(the_row.locator("time")).to_have_text("just now")
    expect(page.get_by_role("status").filter(has_text="DATABASE_PASSWORD created")).to_be_visible()
    assert first not in page.content()
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (first, 1)

    # Edit the description; the empty Value keeps the stored one
    the_row.get_by_role("button", name="Edit DATABASE_PASSWORD").click()
    dialog = secret_dialog(page, "Edit Secret")
    expect(field(dialog, "Key")).to_have_value("DATABASE_PASSWORD")
    expect(field(dialog, "Key")).not_to_be_editable()
    expect(field(dialog, "Description")).to_be_focused()
    expect(field(dialog, "Value")).to_have_value("")
    expect(dialog.get_by_text("Leave empty to keep the current value.")).to_be_visible()
    field(dialog, "Description").fill("Primary Postgres (rotated monthly)")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(the_row).to_contain_text("Primary Postgres (rotated monthly)")
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (first, 1)

    # Change the value
    second = planted("ui-second")
    the_row.get_by_role("button", name="Edit DATABASE_PASSWORD").click()
    dialog = secret_dialog(page, "Edit Secret")
    expect(field(dialog, "Value")).to_have_value("")  # never pre-filled
    field(dialog, "Value").fill(second)
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="updated with a new value")).to_be_visible()
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (second, 2)

    # Edit again with the Value left empty: the new value stays
    the_row.get_by_role("button", name="Edit DATABASE_PASSWORD").click()
    dialog = secret_dialog(page, "Edit Secret")
    expect(field(dialog, "Value")).to_have_value("")
    field(dialog, "Description").fill("Primary Postgres")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(the_row.get_by_role("cell").nth(0)).to_have_text("Primary Postgres")
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (second, 2)

    # Cancel a delete (button, then Escape): the row and the secret stay
    for dismiss in ("button", "escape"):
        the_row.get_by_role("button", name="Delete DATABASE_PASSWORD").click()
        confirm = page.get_by_role("alertdialog", name="Delete secret?")
        expect(confirm).to_be_visible()
        expect(confirm).to_contain_text("will stop resolving")
        expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
        if dismiss == "button":
            confirm.get_by_role("button", name="Cancel").click()
        else:
            page.keyboard.press("Escape")
        expect(confirm).to_be_hidden()
        expect(the_row).to_be_visible()
        expect(the_row.get_by_role("button", name="Delete DATABASE_PASSWORD")).to_be_focused()
    assert vault_value(bao, tenant.name, "DATABASE_PASSWORD") == (second, 2)

    # Delete after confirming
    the_row.get_by_role("button", name="Delete DATABASE_PASSWORD").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    confirm.get_by_role("button", name="Delete secret").click()
    expect(confirm).to_be_hidden()
    expect(the_row).to_have_count(0)
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()
    # A soft delete: restorable from Recently deleted (test_delete_restore_and_delete_permanently)
    meta = bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/DATABASE_PASSWORD").json()["data"]
    assert meta["versions"]["2"]["deletion_time"]

    # Every unsafe call carried the CSRF header; no value anywhere the page keeps or shows
    unsafe = [(m, u, h) for m, u, h in ui.requests if m in ("POST", "PATCH", "DELETE") and "/secrets" in u]
    assert len(unsafe) == 5
    assert all(h.get("x-csrf-token") for _, _, h in unsafe)
    assert_no_values(ui, suite)


# -- form errors ------------------------------------------------------------------------


def test_duplicate_key_shows_error_at_key_field(
    ui: Watched, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    original = planted("ui-original")
    client = login(tenant.writer, tenant.password)
    made = client.post(SEARCH_PATH.format(tenant.name), json={"key": "SMTP_API_KEY", "value": original})
    assert made.status_code == 201
    page = sign_in(ui, tenant.writer, tenant.password)
    expect(row(page, "SMTP_API_KEY")).to_be_visible()

    dialog = add_dialog(page, "SMTP_API_KEY", planted("ui-duplicate"))
    dialog.get_by_role("button", name="Save").click()

    key = field(dialog, "Key")
    expect(dialog.locator("#f-key-error")).to_have_text("This key is already in use.")
    expect(key).to_have_attribute("aria-invalid", "true")
    expect(key).to_have_accessible_description(re.compile("already in use"))
    expect(key).to_be_focused()
    expect(dialog).to_be_visible()  # nothing lost: fix the key and save again
    assert vault_value(bao, tenant.name, "SMTP_API_KEY") == (original, 1)

    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#f-value")).to_have_value("")
    assert_no_values(ui, suite)


def test_key_is_checked_as_you_type_with_the_api_rules(ui: Watched, tenant: Any) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = add_dialog(page)
    key = field(dialog, "Key")
    error = dialog.locator("#f-key-error")

    key.fill("9LIVES")
    expect(error).to_contain_text("cannot start with “9”")
    expect(error).to_contain_text("Starts with a letter or '_'")  # the rule, as the API documents it
    key.fill("MY KEY")
    expect(error).to_contain_text("No spaces")
    key.fill("a/b")
    expect(error).to_contain_text("“/”")
    key.fill("_Valid.key-1")
    expect(error).to_be_hidden()
    expect(key).not_to_have_attribute("aria-invalid", "true")

    # Saving an invalid form sends nothing and says what is missing
    key.fill("bad key")
    before = len(ui.requests)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#f-value-error")).to_have_text("Enter the value to store.")
    expect(key).to_be_focused()
    assert not [u for m, u, _ in ui.requests[before:] if m == "POST"]


def test_description_limit_counts_bytes_as_the_server_does(ui: Watched, tenant: Any) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = add_dialog(page)
    description = field(dialog, "Description")
    error = dialog.locator("#f-description-error")
    description.fill("é" * 256)  # 256 characters, 512 bytes: the most Vault takes
    expect(error).to_be_hidden()
    description.fill("é" * 257)  # 257 characters, 514 bytes: refused, though far below 512 characters
    expect(error).to_contain_text("at most 512 bytes")
    # What Vault refuses in metadata, by the document's pattern: invisible format characters too.
    description.fill("Primary DB\u200b")
    expect(error).to_contain_text("Remove invisible characters")
    description.fill("Primary DB 🔑 café")
    expect(error).to_be_hidden()


def test_api_field_errors_show_next_to_the_field(
    ui: Watched, tenant: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    # A value over the API's 64 KiB limit: only the server knows the rule, its 422 names the field.
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = add_dialog(page, "HUGE", planted("ui-huge") + "x" * (64 * 1024))
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#f-value-error")).to_have_text("Must be at most 65536 bytes.")
    expect(field(dialog, "Value")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_role("alert")).to_have_count(0)  # no generic banner when a field explains it
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()
    assert_no_values(ui, suite)


def test_edit_conflict_shows_the_newer_version_before_saving_again(
    ui: Watched, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    client = login(tenant.writer, tenant.password)
    url = SEARCH_PATH.format(tenant.name)
    assert (
        client.post(url, json={"key": "API_TOKEN", "description": "v1", "value": planted("ui-c1")}).status_code == 201
    )
    page = sign_in(ui, tenant.writer, tenant.password)
    row(page, "API_TOKEN").get_by_role("button", name="Edit API_TOKEN").click()
    dialog = secret_dialog(page, "Edit Secret")

    # Someone else stores a new value while the dialog is open.
    theirs = planted("ui-c2")
    assert client.patch(f"{url}/API_TOKEN", json={"value": theirs, "description": "theirs"}).status_code == 200
    field(dialog, "Description").fill("mine")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_role("alert")).to_contain_text("changed by someone else")
    expect(row(page, "API_TOKEN")).to_contain_text("theirs")
    assert vault_value(bao, tenant.name, "API_TOKEN") == (theirs, 2)

    # Saving again is a deliberate choice, made against the version now shown.
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(row(page, "API_TOKEN").get_by_role("cell").nth(0)).to_have_text("mine")
    assert vault_value(bao, tenant.name, "API_TOKEN") == (theirs, 2)


# -- permissions and tenants ------------------------------------------------------------


def test_reader_sees_the_table_without_write_controls(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    client = login(tenant.writer, tenant.password)
    body = {"key": "SMTP_API_KEY", "description": "Mail relay", "value": planted("ui-reader")}
    assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201

    page = sign_in(ui, tenant.reader, tenant.password)
    the_row = row(page, "SMTP_API_KEY")
    expect(the_row).to_contain_text("Mail relay")
    expect(page.locator(".badge")).to_have_text("Read only")
    expect(page.get_by_role("button", name=re.compile("Add"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^(Edit|Delete) "))).to_have_count(0)
    # Key, Description, Updated, By, Last used, Used by, and the actions column with History only
    expect(page.get_by_role("columnheader")).to_have_count(7)
    expect(the_row.get_by_role("button")).to_have_count(1)
    expect(the_row.get_by_role("button", name="History of SMTP_API_KEY")).to_be_visible()


def test_tenant_switcher_shows_each_tenant_with_its_permission(
    ui: Watched, users: Any, bao: Any, login: Any, planted: Callable[[str], str]
) -> None:
    from app import access

    home, other = users.tenant(), users.tenant()
    access.grant(bao.vault, bao.root_token, other.name, home.writer, "read")
    body = {"key": "OTHER_TOKEN", "description": "From the other tenant", "value": planted("ui-other")}
    assert login(other.writer, other.password).post(SEARCH_PATH.format(other.name), json=body).status_code == 201

    page = sign_in(ui, home.writer, home.password)
    switcher = page.get_by_role("combobox", name="Tenant")
    expect(switcher).to_be_visible()
    expect(switcher.locator("option")).to_have_text(sorted([home.name, other.name]))
    switcher.select_option(home.name)
    expect(page.get_by_role("button", name="Add Secret", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()

    switcher.select_option(other.name)
    expect(row(page, "OTHER_TOKEN")).to_contain_text("From the other tenant")
    expect(page.get_by_role("button", name="Add Secret", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Edit OTHER_TOKEN")).to_have_count(0)
    assert page.url.endswith(f"#/{other.name}")

    page.reload()  # the chosen tenant survives a reload (it is in the URL fragment)
    expect(switcher).to_have_value(other.name)


def test_permission_changes_while_signed_in_are_shown(
    ui: Watched, bao: Any, tenant: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    from app import access

    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = add_dialog(page, "NOT_ANY_MORE", planted("ui-downgraded"))

    # An administrator turns the writer into a reader: Vault refuses the write at once.
    access.grant(bao.vault, bao.root_token, tenant.name, tenant.writer, "read")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("do not have write permission")
    page.keyboard.press("Escape")
    expect(page.locator(".badge")).to_have_text("Read only")
    expect(page.get_by_role("button", name="Add Secret", exact=True)).to_have_count(0)

    # ...and then takes the tenant away altogether.
    access.revoke(bao.vault, bao.root_token, tenant.name, tenant.writer)
    page.get_by_role("searchbox").fill("anything")
    expect(page.get_by_role("heading", name="No tenant")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="no longer have access")).to_be_visible()
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/NOT_ANY_MORE").status_code == 404
    assert_no_values(ui, suite)


def test_user_without_tenants_gets_a_clear_empty_state(ui: Watched, users: Any) -> None:
    name, password = users.user()
    page = sign_in(ui, name, password)
    expect(page.get_by_role("heading", name="No tenant")).to_be_visible()
    expect(page.get_by_text("Ask an administrator")).to_be_visible()
    expect(page.get_by_role("searchbox")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("Add"))).to_have_count(0)
    assert not [u for _, u, _ in ui.requests if "/tenants/" in u]
    expect(page.locator("#tenant-box")).to_be_hidden()  # no "TENANT None" in the sidebar
    assert "None" not in page.locator(".sidebar").inner_text()
    # The session cannot tell an auditor from anyone else: the same text tells them where to look.
    expect(page.get_by_text("Auditors: you review keys, metadata and the audit log with the bao CLI")).to_be_visible()


def test_admin_without_tenants_is_told_what_an_admin_can_do(ui: Watched, users: Any) -> None:
    name, password = users.user(policies=("nexo-admin",))
    page = sign_in(ui, name, password)
    expect(page.get_by_role("heading", name="No tenant")).to_be_visible()
    text = page.locator("#empty-text")
    expect(text).to_contain_text("You are an administrator: you grant people read or write on tenants")
    expect(text).to_contain_text("on the Members page")
    expect(text).not_to_contain_text("Ask an administrator")
    link = page.get_by_role("link", name="Open Members")
    expect(link).to_be_visible()
    assert link.evaluate("e => getComputedStyle(e).textDecorationLine") == "none"  # a button, not underlined


# -- search and paging ------------------------------------------------------------------


def test_search_and_load_more_for_large_tenants(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    client = login(tenant.writer, tenant.password)
    for n in range(57):
        description = "postgres replica" if n % 10 == 3 else f"service {n}"
        body = {"key": f"KEY_{n:03d}", "description": description, "value": planted("ui-page")}
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201

    page = sign_in(ui, tenant.writer, tenant.password)
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#count")).to_have_text("50 secrets shown, more available")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(57)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    keys = rows.locator("th").all_inner_texts()
    assert keys == [f"KEY_{n:03d}" for n in range(57)]
    # Short keys stay on one line on a small laptop screen (a key column squeezed to one letter
    # per line was a real bug)
    page.set_viewport_size({"width": 1000, "height": 700})
    lines = rows.locator(".key-text").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"
    )
    assert max(lines) < 2, lines

    search = page.get_by_role("searchbox", name="Search secrets by key or description")
    search.fill("POSTGRES")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("postgres replica")
    search.fill("key_05")
    expect(rows).to_have_count(7)
    search.fill("nothing-like-this")
    expect(page.get_by_role("heading", name="No matching secrets")).to_be_visible()
    assert any("q=nothing-like-this" in url for _, url, _ in ui.requests)


# -- sessions ---------------------------------------------------------------------------


def test_expired_session_returns_to_sign_in_and_drops_the_typed_value(
    ui: Watched, app: Any, bao: Any, tenant: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    dialog = add_dialog(page, "LATE_KEY", planted("ui-expired"))

    # The Vault token behind the browser's session ends (TTL, or revoked by an operator).
    token = browser_token(app, ui.context)
    assert bao.api("POST", "/v1/auth/token/revoke-self", token).status_code == 204

    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Sign in to Secrets")).to_be_visible()
    expect(page.get_by_text("Your session has expired. Please sign in again.")).to_be_visible()
    expect(dialog).to_be_hidden()
    expect(page.locator("#f-value")).to_have_value("")
    expect(page.locator("#rows tr")).to_have_count(0)
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/LATE_KEY").status_code == 404

    sign_in(ui, tenant.writer, tenant.password)  # signing in again works
    assert_no_values(ui, suite)


def test_sign_out_revokes_the_session(ui: Watched, app: Any, bao: Any, tenant: Any) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    token = browser_token(app, ui.context)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect(page.get_by_role("textbox", name="Username")).to_be_focused()
    assert page.request.get("/api/v1/session").status == 401
    assert bao.api("GET", "/v1/auth/token/lookup-self", token).status_code == 403

    page.reload()  # a fresh load of a signed-out page says nothing about expiry
    expect(page.get_by_role("heading", name="Sign in to Secrets")).to_be_visible()
    expect(page.locator("#signin-notice")).to_have_text("")


def test_wrong_password_is_an_error_on_the_sign_in_form(ui: Watched, tenant: Any) -> None:
    page = ui.page
    page.goto("/")
    page.get_by_role("textbox", name="Username").fill(tenant.writer)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.locator("#shell")).to_be_hidden()


# -- keyboard, layout, headers ----------------------------------------------------------


def test_dialogs_work_from_the_keyboard(ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]) -> None:
    client = login(tenant.writer, tenant.password)
    assert (
        client.post(SEARCH_PATH.format(tenant.name), json={"key": "K", "value": planted("ui-kbd")}).status_code == 201
    )
    # Sign in with the keyboard alone; focus then starts at the page heading
    page = ui.page
    page.goto("/")
    expect(page.get_by_role("textbox", name="Username")).to_be_focused()
    page.keyboard.type(tenant.writer)
    page.keyboard.press("Tab")
    page.keyboard.type(tenant.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_focused()
    expect(page).to_have_title(f"Secrets · {tenant.name} · Nexomatic")

    add = page.get_by_role("button", name="Add Secret", exact=True)
    add.focus()
    page.keyboard.press("Enter")
    dialog = secret_dialog(page, "Add Secret")
    expect(field(dialog, "Key")).to_be_focused()

    # Tab and Shift+Tab stay inside the open dialog
    inside = "() => document.querySelector('dialog[open]').contains(document.activeElement)"
    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
    dialog.get_by_role("button", name="Close").focus()
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Save")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()

    # Escape closes and focus goes back to the button that opened it
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(add).to_be_focused()

    # The focused control is visibly marked
    outline = add.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"


def test_narrow_screen_has_no_sideways_scroll(
    browser: Browser, base_url: str, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    body = {"key": "A_RATHER_LONG_KEY_NAME_FOR_A_PHONE", "description": "Shown as a card", "value": planted("ui-nar")}
    assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    narrow = open_page(browser, base_url, viewport={"width": 375, "height": 740})
    try:
        page = sign_in(narrow, tenant.writer, tenant.password)
        expect(row(page, "A_RATHER_LONG_KEY_NAME_FOR_A_PHONE")).to_be_visible()
        overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) <= 0
        key_box = row(page, "A_RATHER_LONG_KEY_NAME_FOR_A_PHONE").locator(".key-text").bounding_box()
        edit_box = page.get_by_role("button", name="Edit A_RATHER_LONG_KEY_NAME_FOR_A_PHONE").bounding_box()
        assert key_box and edit_box
        beside = key_box["x"] + key_box["width"] <= edit_box["x"]
        below = key_box["y"] + key_box["height"] <= edit_box["y"]  # a phone: the actions on a line of their own
        assert beside or below, (key_box, edit_box)  # no overlap
        page.get_by_role("button", name="Edit A_RATHER_LONG_KEY_NAME_FOR_A_PHONE").click()
        box = secret_dialog(page, "Edit Secret").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        page.keyboard.press("Escape")
        page.get_by_role("button", name="History of A_RATHER_LONG_KEY_NAME_FOR_A_PHONE").click()
        history = page.get_by_role("dialog", name="History of A_RATHER_LONG_KEY_NAME_FOR_A_PHONE")
        expect(history.locator("#history-rows tr")).to_have_count(1)
        box = history.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        scrolled = history.evaluate("d => d.scrollWidth - d.clientWidth")
        assert scrolled <= 0  # a long key in the title wraps instead of widening the dialog
        assert_no_values(narrow, suite)
        suite.SEEN.extend(narrow.evidence().items())
    finally:
        narrow.context.close()
    assert not narrow.errors


def test_phone_header_keeps_its_height_when_the_page_is_short(
    browser: Browser, base_url: str, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    """With one row the page is shorter than the screen: the spare height must not go to the top bar."""
    client = login(tenant.writer, tenant.password)
    assert (
        client.post(SEARCH_PATH.format(tenant.name), json={"key": "ONE_ROW", "value": planted("ui-bar")}).status_code
        == 201
    )
    narrow = open_page(browser, base_url, viewport={"width": 375, "height": 740})
    try:
        page = sign_in(narrow, tenant.writer, tenant.password)
        expect(row(page, "ONE_ROW")).to_be_visible()
        bar = page.locator(".sidebar").bounding_box()
        tenant_line = page.locator(".tenant-box").bounding_box()
        assert bar and tenant_line
        # The bar ends where its last line (the tenant) does, plus its padding (0.75rem).
        assert bar["y"] + bar["height"] - (tenant_line["y"] + tenant_line["height"]) <= 16, bar
        assert bar["height"] < 130, bar
    finally:
        narrow.context.close()
    assert not narrow.errors


@pytest.mark.parametrize("width", [1280, 375])
def test_long_descriptions_and_keys_are_clamped_and_can_be_read_whole(
    browser: Browser, base_url: str, tenant: Any, login: Any, planted: Callable[[str], str], width: int
) -> None:
    key = ("LONG_KEY_" * 15)[:120] + str(width)
    description = ("A description as long as Vault allows, written by someone thorough. " * 8)[:509] + "END"
    assert len(description.encode()) == 512 and len(key) <= 128
    client = login(tenant.writer, tenant.password)
    body = {"key": key, "description": description, "value": planted("ui-long")}
    assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    watched = open_page(browser, base_url, viewport={"width": width, "height": 800})
    try:
        page = sign_in(watched, tenant.writer, tenant.password)
        line = row(page, key)
        expect(line).to_be_visible()
        pill = line.locator(".key-text")
        desc = line.locator(".desc")
        assert pill.get_attribute("title") == key and desc.get_attribute("title") == description
        pill_box, row_box = pill.bounding_box(), line.bounding_box()
        assert pill_box and row_box
        assert pill_box["height"] < 32, pill_box  # one line in its pill
        assert row_box["height"] < 200, row_box  # two lines of description, not twenty
        overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) <= 0
        expect(desc).to_have_attribute("aria-expanded", "false")
        desc.click()  # unfolds the whole text
        expect(desc).to_have_attribute("aria-expanded", "true")
        opened = line.bounding_box()
        assert opened and opened["height"] > row_box["height"] + 40
        desc.press("Enter")  # and folds it again, from the keyboard too
        expect(desc).to_have_attribute("aria-expanded", "false")
    finally:
        watched.context.close()
    assert not watched.errors


def test_page_is_served_with_a_strict_csp(ui: Watched, base_url: str) -> None:
    reply = ui.page.goto("/")
    assert reply is not None and reply.status == 200
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "no-cache" in reply.headers["cache-control"]  # a new release is never mixed with cached modules
    # Only our own origin is ever contacted (no CDN): the service works offline.
    expect(ui.page.get_by_role("heading", name="Sign in to Secrets")).to_be_visible()
    origins = {re.sub(r"^(https?://[^/]+).*", r"\1", url) for _, url, _ in ui.requests}
    assert origins == {base_url}
    assert json.loads(ui.page.evaluate("() => JSON.stringify(Object.keys(localStorage))")) == []


# -- recently deleted and history (issue 14) ----------------------------------------------


def hub_resolves(app: Any, bao: Any, tenant: str, key: str, suite: ModuleType) -> Any:
    """The Hub's answer for one SECRET parameter, with a fresh AppRole token."""
    from app import access

    creds = access.hub_credentials(bao.vault, bao.root_token)
    token = bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
    body = {"parameters": [{"name": "p", "type": "SECRET", "value": key}]}
    reply = app.test_client().post(
        f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    if reply.status_code != 200:
        suite.SEEN.append(("resolve answer", reply.get_data(as_text=True)))
    return reply


def test_delete_restore_and_delete_permanently(
    ui: Watched, app: Any, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    value = planted("ui-restore")
    for key, description in (("SMTP_API_KEY", "Mail relay"), ("OLD_TOKEN", "Retired"), ("KEEP", "Stays")):
        body = {"key": key, "description": description, "value": value if key == "SMTP_API_KEY" else planted("ui")}
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201

    page = sign_in(ui, tenant.writer, tenant.password)
    for key in ("SMTP_API_KEY", "OLD_TOKEN"):
        row(page, key).get_by_role("button", name=f"Delete {key}").click()
        confirm = page.get_by_role("alertdialog", name="Delete secret?")
        expect(confirm).to_contain_text("moves to Recently deleted")
        expect(confirm).to_contain_text("within 30 days")
        confirm.get_by_role("button", name="Delete secret").click()
        expect(confirm).to_be_hidden()
        expect(row(page, key)).to_have_count(0)
    expect(page.get_by_role("button", name="Undo the delete of OLD_TOKEN")).to_be_visible()  # the last toast
    assert hub_resolves(app, bao, tenant.name, "SMTP_API_KEY", suite).status_code == 422

    # Recently deleted: both, with who deleted them and when they will be purged
    page.get_by_role("tab", name="Recently deleted").click()
    expect(page.get_by_role("tab", name="Recently deleted")).to_have_attribute("aria-selected", "true")
    deleted = page.get_by_role("tabpanel", name="Recently deleted")
    expect(deleted).to_contain_text("can be restored for 30 days")
    expect(page.locator("#deleted-rows tr")).to_have_count(2)
    smtp = row(page, "SMTP_API_KEY")
    expect(smtp).to_contain_text("Mail relay")
    expect(smtp).to_contain_text(tenant.writer)
    expect(smtp.locator(".cell-deleted time")).to_have_text("just now")
    expect(smtp.locator(".cell-purge time")).not_to_have_text("—")
    expect(row(page, "KEEP")).to_have_count(0)

    # Restore: the row is back under Active, and the Hub resolves the same value
    smtp.get_by_role("button", name="Restore SMTP_API_KEY").click()
    expect(smtp).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="SMTP_API_KEY restored")).to_be_visible()
    page.get_by_role("tab", name="Active").click()
    expect(row(page, "SMTP_API_KEY")).to_be_visible()
    expect(row(page, "SMTP_API_KEY")).to_contain_text("Mail relay")
    answer = hub_resolves(app, bao, tenant.name, "SMTP_API_KEY", suite)
    assert answer.status_code == 200 and answer.get_json()["parameters"][0]["value"] == value

    # Delete permanently, with its own confirm (cancel first): gone from Vault
    page.get_by_role("tab", name="Recently deleted").click()
    old = row(page, "OLD_TOKEN")
    old.get_by_role("button", name="Delete OLD_TOKEN permanently").click()
    confirm = page.get_by_role("alertdialog", name="Delete permanently?")
    expect(confirm.locator("code")).to_have_text("OLD_TOKEN")  # named once, in the sentence
    expect(confirm).to_contain_text("cannot be restored")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/OLD_TOKEN").status_code == 200
    old.get_by_role("button", name="Delete OLD_TOKEN permanently").click()
    confirm.get_by_role("button", name="Delete permanently").click()
    expect(confirm).to_be_hidden()
    expect(old).to_have_count(0)
    expect(page.get_by_role("heading", name="Nothing recently deleted")).to_be_visible()
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/OLD_TOKEN").status_code == 404

    # A restore that lost a race: someone re-created the key meanwhile; the page says so
    client.delete(f"{SEARCH_PATH.format(tenant.name)}/KEEP")
    page.get_by_role("tab", name="Active").click()
    page.get_by_role("tab", name="Recently deleted").click()
    keep = row(page, "KEEP")
    expect(keep).to_be_visible()
    assert client.post(SEARCH_PATH.format(tenant.name), json={"key": "KEEP", "value": planted("ui")}).status_code == 201
    keep.get_by_role("button", name="Restore KEEP").click()
    expect(page.locator("#deleted-error")).to_contain_text("was created after it was deleted")
    expect(keep).to_have_count(0)
    assert_no_values(ui, suite)


def test_a_deletion_someone_else_made_first_closes_the_confirm_and_says_so(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    """Both confirm dialogs: a 404 on confirming means done, with its own toast (dialogs.onConfirm)."""
    client = login(tenant.writer, tenant.password)
    url = SEARCH_PATH.format(tenant.name)
    for key in ("RACED", "PURGED"):
        assert client.post(url, json={"key": key, "value": planted("ui")}).status_code == 201
    assert client.delete(f"{url}/PURGED").status_code == 204
    page = sign_in(ui, tenant.writer, tenant.password)

    row(page, "RACED").get_by_role("button", name="Delete RACED").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    assert client.delete(f"{url}/RACED", query_string={"permanent": "true"}).status_code == 204
    confirm.get_by_role("button", name="Delete secret").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Secret RACED was already deleted.")).to_be_visible()
    expect(row(page, "RACED")).to_have_count(0)

    page.get_by_role("tab", name="Recently deleted").click()
    row(page, "PURGED").get_by_role("button", name="Delete PURGED permanently").click()
    confirm = page.get_by_role("alertdialog", name="Delete permanently?")
    assert client.delete(f"{url}/PURGED", query_string={"permanent": "true"}).status_code == 204
    confirm.get_by_role("button", name="Delete permanently").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Secret PURGED was already gone.")).to_be_visible()
    expect(row(page, "PURGED")).to_have_count(0)


def test_the_delete_toast_offers_undo_while_the_secret_is_restorable(
    ui: Watched, app: Any, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    value = planted("ui-undo")
    body = {"key": "UNDO_ME", "description": "Comes back", "value": value}
    assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    page = sign_in(ui, tenant.writer, tenant.password)
    row(page, "UNDO_ME").get_by_role("button", name="Delete UNDO_ME").click()
    page.get_by_role("alertdialog", name="Delete secret?").get_by_role("button", name="Delete secret").click()
    expect(row(page, "UNDO_ME")).to_have_count(0)
    assert hub_resolves(app, bao, tenant.name, "UNDO_ME", suite).status_code == 422
    undo = page.locator("#toast").get_by_role("button", name="Undo the delete of UNDO_ME")
    expect(undo).to_have_text("Undo")
    undo.click()
    expect(page.get_by_role("status").filter(has_text="Secret UNDO_ME restored.")).to_be_visible()
    expect(row(page, "UNDO_ME")).to_contain_text("Comes back")
    answer = hub_resolves(app, bao, tenant.name, "UNDO_ME", suite)
    assert answer.status_code == 200 and answer.get_json()["parameters"][0]["value"] == value
    assert_no_values(ui, suite)


def test_restore_is_labelled_in_words(ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]) -> None:
    client = login(tenant.writer, tenant.password)
    assert client.post(SEARCH_PATH.format(tenant.name), json={"key": "GONE", "value": planted("ui")}).status_code == 201
    assert client.delete(f"{SEARCH_PATH.format(tenant.name)}/GONE").status_code == 204
    page = sign_in(ui, tenant.writer, tenant.password)
    page.get_by_role("tab", name="Recently deleted").click()
    expect(row(page, "GONE").get_by_role("button", name="Restore GONE")).to_have_text("Restore")


def test_reader_sees_recently_deleted_without_buttons(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    client = login(tenant.writer, tenant.password)
    assert client.post(SEARCH_PATH.format(tenant.name), json={"key": "GONE", "value": planted("ui")}).status_code == 201
    assert client.delete(f"{SEARCH_PATH.format(tenant.name)}/GONE").status_code == 204
    page = sign_in(ui, tenant.reader, tenant.password)
    page.get_by_role("tab", name="Recently deleted").click()
    gone = row(page, "GONE")
    expect(gone).to_contain_text(tenant.writer)
    expect(gone.get_by_role("button", name=re.compile(r"^(Restore|Delete) "))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile(r"^(Restore|Delete) "))).to_have_count(0)
    expect(gone.get_by_role("button", name="History of GONE")).to_be_visible()


def test_history_shows_versions_and_says_values_are_write_only(
    ui: Watched, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], users: Any
) -> None:
    client = login(tenant.writer, tenant.password)
    url = SEARCH_PATH.format(tenant.name)
    assert client.post(url, json={"key": "API_KEY", "value": planted("ui")}).status_code == 201
    other, _ = users.user(password=tenant.password)
    from app import access

    access.grant(bao.vault, bao.root_token, tenant.name, other, "write")
    second = login(other, tenant.password)
    assert second.patch(f"{url}/API_KEY", json={"value": planted("ui")}).status_code == 200
    assert client.patch(f"{url}/API_KEY", json={"value": planted("ui")}).status_code == 200

    page = sign_in(ui, tenant.reader, tenant.password)
    opener = row(page, "API_KEY").get_by_role("button", name="History of API_KEY")
    opener.click()
    dialog = page.get_by_role("dialog", name="History of API_KEY")
    expect(dialog).to_be_visible()
    rows = dialog.locator("#history-rows tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("v3")
    expect(rows.nth(0)).to_contain_text("Current")
    expect(rows.nth(0)).to_contain_text(tenant.writer)
    expect(rows.nth(1)).to_contain_text(other)
    expect(rows.nth(2)).to_contain_text("Earlier")
    expect(dialog).to_contain_text("Values are write-only")
    expect(dialog).to_contain_text("no rollback")
    expect(dialog).to_contain_text("keeps the last 10 versions")
    expect(dialog.get_by_role("button", name=re.compile("value|Rollback|Restore", re.I))).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


def test_a_page_of_only_deleted_secrets_is_followed(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str]
) -> None:
    """The live listing leaves deleted secrets out, so its first page can be empty with more after it."""
    client = login(tenant.writer, tenant.password)
    url = SEARCH_PATH.format(tenant.name)
    for n in range(51):
        assert client.post(url, json={"key": f"A_{n:02d}", "value": planted("ui-hop")}).status_code == 201
        assert client.delete(f"{url}/A_{n:02d}").status_code == 204
    assert client.post(url, json={"key": "Z_LIVE", "value": planted("ui-hop")}).status_code == 201
    page = sign_in(ui, tenant.writer, tenant.password)
    expect(row(page, "Z_LIVE")).to_be_visible()
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_hidden()
    assert len(listings(ui, tenant.name)) == 1  # the server filled the page past the 51 deleted


def listings(ui: Watched, tenant: str) -> list[str]:
    """The query strings of the page's listing requests for the tenant, in order."""
    path = SEARCH_PATH.format(tenant)
    found = [url.split("?", 1) for method, url, _ in ui.requests if method == "GET" and path in url]
    return [parts[1] if len(parts) > 1 else "" for parts in found if parts[0].endswith(path)]


def test_each_page_is_one_request_even_when_the_scan_budget_stops_it(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str], monkeypatch: Any
) -> None:
    """A sparse search (or Recently deleted) past the scan budget: the page shows what one request
    found, says more may follow, and Load more is one more request."""
    monkeypatch.setattr(secrets, "SCAN_BUDGET", 20)
    client = login(tenant.writer, tenant.password)
    url = SEARCH_PATH.format(tenant.name)
    for n in range(30):
        body = {"key": f"K_{n:02d}", "description": "the needle" if n == 25 else "hay", "value": planted("ui-budget")}
        assert client.post(url, json=body).status_code == 201
    assert client.delete(f"{url}/K_27").status_code == 204

    page = sign_in(ui, tenant.writer, tenant.password)
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(20)  # the budget (20 keys) is below the page size here
    assert len(listings(ui, tenant.name)) == 1
    page.get_by_role("searchbox", name="Search secrets by key or description").fill("needle")
    expect(page.get_by_role("heading", name="No matches yet")).to_be_visible()
    expect(page.get_by_role("heading", name="No matching secrets")).to_be_hidden()
    searches = [q for q in listings(ui, tenant.name) if "q=needle" in q]
    assert len(searches) == 1 and "after" not in searches[0]
    page.get_by_role("button", name="Load more").click()
    expect(row(page, "K_25")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    searches = [q for q in listings(ui, tenant.name) if "q=needle" in q]
    assert len(searches) == 2 and "after=K_19" in searches[1]

    before = len(listings(ui, tenant.name))
    page.get_by_role("tab", name="Recently deleted").click()
    deleted = page.get_by_role("tabpanel", name="Recently deleted")
    expect(deleted.get_by_role("heading", name="No deleted secrets found yet")).to_be_visible()
    opened = listings(ui, tenant.name)[before:]
    assert len(opened) == 1 and "deleted=true" in opened[0]
    deleted.get_by_role("button", name="Load more").click()
    expect(page.locator("#deleted-rows tr")).to_have_count(1)
    expect(page.locator("#deleted-rows")).to_contain_text("K_27")
    expect(deleted.get_by_role("heading", name="Nothing recently deleted")).to_be_hidden()
    opened = listings(ui, tenant.name)[before:]
    assert len(opened) == 2 and "deleted=true" in opened[1] and "after=K_19" in opened[1]
