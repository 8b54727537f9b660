"""Every screen width from a small phone to a wide monitor: nothing sticks out of the page, nothing
is cut off, every row's actions can be clicked; with the longest keys and descriptions allowed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import browser as screen
from tests.browser import SEARCH_PATH, open_page, row, sign_in

# The Secrets screen's browser fixtures, shared (assigned, so that they are this module's fixtures too).
suite, planted, browser, base_url = screen.suite, screen.planted, screen.browser, screen.base_url

pytestmark = pytest.mark.ui

WIDTHS = [320, 390, 768, 820, 900, 1024, 1280, 1440]
DESCRIPTION = ("Rotated by the platform team every quarter; ask #infra before changing it. " * 8)[:500]

# Elements whose right edge lies past the viewport, ignoring what is hidden from sight on purpose.
PAST_THE_EDGE = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const e of document.querySelectorAll("body *")) {
    if (e.closest(".visually-hidden, .sprite, [hidden], dialog:not([open])")) continue;
    const box = e.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5) out.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className.baseVal ?? e.className} right=${Math.round(box.right)}`);
  }
  return out;
}"""
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def long_key(n: int) -> str:
    return (f"K{n}_" + "SERVICE_ACCOUNT_CREDENTIALS_" * 5)[:128]


def assert_fits(page: Page, where: str) -> None:
    assert page.evaluate(SIDEWAYS) <= 0, f"{where}: the page scrolls sideways"
    assert page.evaluate(PAST_THE_EDGE) == [], f"{where}: elements past the right edge"


def assert_clickable(page: Page, buttons: Any, width: int) -> None:
    """Each button is inside the viewport and receives a click (trial: nothing covers it)."""
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (button.get_attribute("aria-label"), box)
        # Not cut off by its card either (a card clips what overflows it).
        inside = button.evaluate(
            """b => { const card = b.closest(".card"); if (!card) return true;
                      const c = card.getBoundingClientRect(), r = b.getBoundingClientRect();
                      return r.left >= c.left && r.right <= c.right; }"""
        )
        assert inside, (button.get_attribute("aria-label"), "cut off by its card")
        button.click(trial=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_width_keeps_every_control_in_reach(
    browser: Browser,
    base_url: str,
    users: Any,
    login: Any,
    planted: Callable[[str], str],
    suite: ModuleType,
    width: int,
) -> None:
    tenant = users.tenant()
    client = login(tenant.writer, tenant.password)
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT00:00:00Z")
    for n in range(4):
        body = {"key": long_key(n), "description": DESCRIPTION, "value": planted("ui-wide")}
        if n == 1:
            body["expires_at"] = soon
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    assert client.delete(f"{SEARCH_PATH.format(tenant.name)}/{long_key(3)}").status_code == 204
    assert len(long_key(0)) == 128 and len(DESCRIPTION.encode()) == 500

    watched = open_page(browser, base_url, viewport={"width": width, "height": 800})
    try:
        page = sign_in(watched, tenant.writer, tenant.password)
        expect(page.locator("#rows tr")).to_have_count(3)
        assert_fits(page, "Secrets")
        for name in ("Add Secret", "Import", "Expiring"):
            assert_clickable(page, page.get_by_role("button", name=name, exact=True), width)
        assert_clickable(page, page.get_by_role("searchbox"), width)
        search = page.get_by_role("searchbox").bounding_box()
        assert search and search["width"] >= 200, search  # room for its placeholder, not just the icon
        assert_clickable(page, page.locator("#rows .cell-actions button"), width)
        assert page.locator("#rows .cell-actions button").count() == 9
        # Each key shows a good part of itself (the rest ends in "…")...
        for pill in page.locator("#rows .key-text").all():
            box = pill.bounding_box()
            assert box and box["width"] >= min(180, width - 100), box
        # ...and a 128-character key squeezes no description: two lines at most (the clamp).
        for i in range(3):
            lines = (
                row(page, long_key(i))
                .locator(".desc")
                .evaluate(
                    "e => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))"
                )
            )
            assert lines <= 2, lines

        # The dialogs fit too, with the longest key in them.
        row(page, long_key(0)).get_by_role("button", name=f"Edit {long_key(0)}").click()
        dialog = page.get_by_role("dialog", name="Edit Secret")
        expect(dialog).to_be_visible()
        assert_fits(page, "Edit Secret")
        assert_clickable(page, dialog.get_by_role("button", name="Load from file"), width)
        assert_clickable(page, dialog.get_by_role("button", name="Save changes"), width)
        page.keyboard.press("Escape")
        row(page, long_key(0)).get_by_role("button", name=f"Delete {long_key(0)}").click()
        confirm = page.get_by_role("alertdialog", name="Delete secret?")
        assert_fits(page, "Delete secret?")
        confirm.get_by_role("button", name="Delete secret").click()
        expect(confirm).to_be_hidden()
        toast = page.locator("#toast")
        expect(toast).to_be_visible()  # the toast with a 128-character key stays on the screen
        assert_fits(page, "the delete toast")
        assert_clickable(page, toast.get_by_role("button", name=f"Undo the delete of {long_key(0)}"), width)

        page.get_by_role("tab", name="Recently deleted").click()
        expect(page.locator("#deleted-rows tr")).to_have_count(2)
        assert_fits(page, "Recently deleted")
        assert_clickable(page, page.locator("#deleted-rows .cell-actions button"), width)
        assert page.locator("#deleted-rows .cell-actions button").count() == 6
    finally:
        suite.SEEN.extend(watched.evidence().items())
        watched.context.close()
    assert not watched.errors


@pytest.mark.parametrize("width", [320, 900])
def test_members_and_accounts_fit(browser: Browser, base_url: str, users: Any, suite: ModuleType, width: int) -> None:
    admin, password = users.user(policies=("nexo-admin",))
    watched = open_page(browser, base_url, viewport={"width": width, "height": 800})
    try:
        page = sign_in(watched, admin, password)
        page.goto("/#/members/")
        expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
        expect(page.locator("#account-rows tr").first).to_be_visible()
        assert_fits(page, "Members")
        for name in page.locator("#account-rows th, #member-rows th").all():  # no name squeezed to a column
            box = name.bounding_box()
            assert box and box["width"] >= 100, box
        assert_clickable(page, page.locator("#account-rows button").first, width)
        assert_clickable(page, page.get_by_role("button", name="Grant"), width)
    finally:
        suite.SEEN.extend(watched.evidence().items())
        watched.context.close()
    assert not watched.errors
