"""Last used, expiry badges, the Expiring filter and the delete warning, in Chromium against
the real service and a real OpenBao server."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from playwright.sync_api import expect

from app import access, usage
from tests import browser as screen
from tests.browser import SEARCH_PATH, Watched, assert_no_values, field, keys_shown, row, sign_in

# The Chromium fixtures of test_ui, found by name here too.
browser, base_url, ui, suite, planted = screen.browser, screen.base_url, screen.ui, screen.suite, screen.planted


def hub_resolve(app: Any, bao: Any, tenant: str, key: str) -> None:
    """Resolve as the Hub does, and let the answer close (as a server does once it is sent)."""
    creds = access.hub_credentials(bao.vault, bao.root_token)
    token = bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
    body = {"parameters": [{"name": "p", "type": "SECRET", "value": key}]}
    reply = app.test_client().post(
        f"/api/v1/tenants/{tenant}/resolve", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    reply.close()
    assert reply.status_code == 200


def in_days(days: float) -> str:
    return usage.format_time(datetime.now(UTC) + timedelta(days=days))


def test_last_used_expiry_badges_filter_sort_and_the_delete_warning(
    ui: Watched, app: Any, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    secrets = {
        "SMTP_API_KEY": {"description": "Mail relay"},
        "OLD_CERT": {"expires_at": in_days(-3)},
        "STRIPE_KEY": {"expires_at": in_days(5.5)},
        "UNUSED": {"expires_at": in_days(200)},
    }
    for key, extra in secrets.items():
        body = {"key": key, "value": planted("ui-usage"), **extra}
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    hub_resolve(app, bao, tenant.name, "SMTP_API_KEY")
    hub_resolve(app, bao, tenant.name, "OLD_CERT")  # an expired key still resolves

    page = sign_in(ui, tenant.writer, tenant.password)
    expect(page.locator("#rows tr")).to_have_count(4)
    expect(page.get_by_role("columnheader", name="Last used")).to_be_visible()
    # Last used: a time for the resolved keys (to the hour), "never" for the others.
    used = row(page, "SMTP_API_KEY").locator(".cell-used time")
    expect(used).to_have_attribute("datetime", re.compile(r"T[0-9]{2}:00:00\.000Z$"))  # recorded to the hour
    expect(used).to_have_text(re.compile("^(this hour|1 hour ago)$"))  # the latter if the hour just turned
    expect(row(page, "UNUSED").locator(".cell-used")).to_have_text("never")
    # Badges: expired, expiring within 14 days; none for far away or no expiry.
    expect(row(page, "OLD_CERT").locator(".badge.expiry")).to_have_text("Expired")
    expect(row(page, "STRIPE_KEY").locator(".badge.expiry")).to_have_text("Expires in 6 days")
    expect(row(page, "UNUSED").locator(".badge.expiry")).to_have_count(0)
    expect(row(page, "SMTP_API_KEY").locator(".badge.expiry")).to_have_count(0)

    # The Expiring filter asks the API for those only.
    expiring = page.get_by_role("button", name="Expiring")
    expiring.click()
    expect(expiring).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#rows tr")).to_have_count(2)
    assert keys_shown(page) == ["OLD_CERT", "STRIPE_KEY"]
    assert any("expiring_within_days=14" in url for _, url, _ in ui.requests)
    expiring.click()
    expect(page.locator("#rows tr")).to_have_count(4)

    # Sort by last use: most recent first, then least recent (never used on top), then key order.
    header = page.get_by_role("columnheader", name="Last used")
    sort = header.get_by_role("button")
    sort.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert keys_shown(page)[2:] == ["STRIPE_KEY", "UNUSED"]
    assert sorted(keys_shown(page)[:2]) == ["OLD_CERT", "SMTP_API_KEY"]
    sort.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert keys_shown(page)[:2] == ["STRIPE_KEY", "UNUSED"]
    sort.click()
    expect(header).to_have_attribute("aria-sort", "none")
    assert keys_shown(page) == ["OLD_CERT", "SMTP_API_KEY", "STRIPE_KEY", "UNUSED"]

    # The delete confirm says what a delete breaks, and for how long it can be restored.
    row(page, "SMTP_API_KEY").get_by_role("button", name="Delete SMTP_API_KEY").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    expect(confirm).to_contain_text(re.compile("Resolved by the Hub (this hour|1 hour ago)"))
    expect(confirm).to_contain_text("Actions that reference it will stop resolving")
    expect(confirm.locator("code")).to_have_text("SMTP_API_KEY")  # the key named once
    expect(confirm).to_contain_text("within 30 days")
    confirm.get_by_role("button", name="Cancel").click()
    row(page, "UNUSED").get_by_role("button", name="Delete UNUSED").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    expect(confirm).to_contain_text("Never resolved by the Hub")
    expect(confirm).not_to_contain_text("Resolved by the Hub")
    confirm.get_by_role("button", name="Delete secret").click()
    expect(row(page, "UNUSED")).to_have_count(0)
    assert_no_values(ui, suite)


def test_expiry_date_in_the_form(
    ui: Watched, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    page = sign_in(ui, tenant.writer, tenant.password)
    page.get_by_role("button", name="Add Secret", exact=True).click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    field(dialog, "Key").fill("VPN_CERT")
    field(dialog, "Value").fill(planted("ui-expiry"))
    expires = dialog.get_by_label("Expires")
    expect(dialog.locator("#f-expires_at-hint")).to_contain_text("marked in the table 14 days before")
    expires.fill("2020-02-29")  # in the past: allowed, and said so
    expect(dialog.locator("#f-expires_at-hint")).to_contain_text("This date has passed")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row(page, "VPN_CERT").locator(".badge.expiry")).to_have_text("Expired")
    client = login(tenant.writer, tenant.password)
    url = f"{SEARCH_PATH.format(tenant.name)}/VPN_CERT"
    assert client.get(url).get_json()["expires_at"] == "2020-02-29T00:00:00Z"

    # Edit: the date is shown; a later one moves the badge; clearing it removes the expiry.
    row(page, "VPN_CERT").get_by_role("button", name="Edit VPN_CERT").click()
    dialog = page.get_by_role("dialog", name="Edit Secret")
    expect(dialog.get_by_label("Expires")).to_have_value("2020-02-29")
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d")
    dialog.get_by_label("Expires").fill(soon)
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(row(page, "VPN_CERT").locator(".badge.expiry")).to_contain_text("Expires in")
    assert client.get(url).get_json()["expires_at"] == f"{soon}T00:00:00Z"

    row(page, "VPN_CERT").get_by_role("button", name="Edit VPN_CERT").click()
    dialog = page.get_by_role("dialog", name="Edit Secret")
    dialog.get_by_label("Expires").fill("")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    expect(row(page, "VPN_CERT").locator(".badge.expiry")).to_have_count(0)
    item = client.get(url).get_json()
    assert item["expires_at"] is None and item["version"] == 1
    # A description edit leaves the expiry alone (only a changed date is sent).
    patches = [u for m, u, _ in ui.requests if m == "PATCH"]
    assert len(patches) == 2
    assert_no_values(ui, suite)
