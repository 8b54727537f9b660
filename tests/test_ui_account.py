"""The account menu's password change, in Chromium against the real service and OpenBao."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from playwright.sync_api import expect

from app import access
from tests import browser as screen
from tests.browser import Watched, assert_no_values, sign_in

# The Chromium fixtures of test_ui, found by name here too.
browser, base_url, ui, suite, planted = screen.browser, screen.base_url, screen.ui, screen.suite, screen.planted


def test_a_user_changes_their_password_from_the_account_menu(
    ui: Watched, app: Any, users: Any, tenant: Any, suite: ModuleType, planted: Callable[[str], str]
) -> None:
    name, old = users.user(password=planted("pw"))
    access.grant(users.bao.vault, users.bao.root_token, tenant.name, name, "read")
    page = sign_in(ui, name, old)
    page.get_by_role("button", name="Account").click()
    dialog = page.get_by_role("dialog", name="Change password")
    new = planted("pw")
    dialog.get_by_label("Current password").fill("not-the-password")
    dialog.get_by_label("New password", exact=True).fill(new)
    dialog.get_by_label("New password again").fill(new)
    dialog.get_by_role("button", name="Change password").click()
    expect(dialog.locator("#passwd-current-error")).to_have_text("Wrong password.")
    expect(dialog.get_by_label("New password", exact=True)).to_have_value("")  # typed passwords are wiped
    dialog.get_by_label("Current password").fill(old)
    dialog.get_by_label("New password", exact=True).fill(new)
    dialog.get_by_label("New password again").fill(new + "x")
    dialog.get_by_role("button", name="Change password").click()
    expect(dialog.locator("#passwd-repeat-error")).to_have_text("The two new passwords differ.")
    dialog.get_by_label("Current password").fill(old)
    dialog.get_by_label("New password", exact=True).fill(new)
    dialog.get_by_label("New password again").fill(new)
    dialog.get_by_role("button", name="Change password").click()
    expect(page.locator("#toast")).to_have_text("Password changed")
    expect(page.locator("#passwd-dialog")).to_have_count(0)  # gone from the page with what was typed
    assert_no_values(ui, suite)  # neither password in the page, its inputs, storage or URLs
    fresh = app.test_client()
    stale = fresh.post(
        "/api/v1/session", json={"username": name, "password": old}, environ_base={"REMOTE_ADDR": "10.9.7.4"}
    )
    assert stale.status_code == 401
    assert fresh.post("/api/v1/session", json={"username": name, "password": new}).status_code == 200


def test_a_first_password_must_be_replaced_before_anything_else(
    ui: Watched, app: Any, bao: Any, tenant: Any, suite: ModuleType, planted: Callable[[str], str]
) -> None:
    name = "first" + planted("u")[-8:]
    first = access.create_user(bao.vault, bao.root_token, name)
    suite.PLANTED.append(first)
    access.grant(bao.vault, bao.root_token, tenant.name, name, "read")
    page = ui.page
    page.goto("/")
    page.get_by_role("textbox", name="Username").fill(name)
    page.locator("#signin-password").fill(first)
    page.get_by_role("button", name="Sign in").click()
    dialog = page.get_by_role("dialog", name="Change password")
    expect(dialog.get_by_text("Choose your own to continue.")).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(dialog).to_be_visible()  # not dismissed
    own = planted("pw")
    dialog.get_by_label("Current password").fill(first)
    dialog.get_by_label("New password", exact=True).fill(own)
    dialog.get_by_label("New password again").fill(own)
    dialog.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()
    expect(page.locator("#head-tenant")).to_have_text(tenant.name)
    assert_no_values(ui, suite)
