"""References on the Secrets screen (issue 25): the Used by column and its panel, the delete confirm
that names the referrers and asks for the key, the Expiring view's "would break" and the Unused
filter, in Chromium against the real service and a real OpenBao server."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import expect

from app import access, usage
from tests import browser as screen
from tests.browser import SEARCH_PATH, Watched, assert_no_values, keys_shown, row, sign_in

# The shared browser fixtures (tests/browser.py).
browser, base_url, ui, suite, planted = screen.browser, screen.base_url, screen.ui, screen.suite, screen.planted

pytestmark = pytest.mark.ui


def hub_token(bao: Any) -> str:
    creds = access.hub_credentials(bao.vault, bao.root_token)
    return str(bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"])


def declare(app: Any, token: str, tenant: str, kind: str, id_: str, name: str, **parameters: str) -> None:
    body = {"name": name, "parameters": [{"name": p, "type": "SECRET", "value": k} for p, k in parameters.items()]}
    reply = app.test_client().put(
        f"/api/v1/tenants/{tenant}/references/{kind}/{id_}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200, reply.get_json()


def add(client: Any, tenant: str, key: str, value: str, **extra: Any) -> None:
    assert client.post(SEARCH_PATH.format(tenant), json={"key": key, "value": value, **extra}).status_code == 201


def test_used_by_column_panel_and_the_typed_key_confirm(
    ui: Watched, app: Any, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    for key in ("DATABASE_PASSWORD", "FREE_KEY", "SMTP_KEY"):
        add(client, tenant.name, key, planted("ui-refs"))
    hub = hub_token(bao)
    declare(app, hub, tenant.name, "action", "send-invoice", "Send invoice", db_password="DATABASE_PASSWORD")
    declare(app, hub, tenant.name, "action", "nightly", "Nightly sync", db="DATABASE_PASSWORD", smtp="SMTP_KEY")
    declare(app, hub, tenant.name, "event-type", "order.created", "order.created", signing="DATABASE_PASSWORD")
    for n in range(4):  # seven in all: the confirm names five "and 2 more"
        declare(app, hub, tenant.name, "action", f"extra-{n}", f"Extra {n}", p="DATABASE_PASSWORD")
    # The Hub resolved for one of them: the panel shows when.
    resolved = app.test_client().post(
        f"/api/v1/tenants/{tenant.name}/resolve",
        json={
            "parameters": [{"name": "db_password", "type": "SECRET", "value": "DATABASE_PASSWORD"}],
            "referrer": {"kind": "action", "id": "send-invoice"},
        },
        headers={"Authorization": f"Bearer {hub}"},
    )
    resolved.close()  # the referrer's last resolve is written once the answer is closed
    assert resolved.status_code == 200

    # A reader sees the column and the panel.
    page = sign_in(ui, tenant.reader, tenant.password)
    expect(page.get_by_role("columnheader", name="Used by")).to_be_visible()
    expect(row(page, "DATABASE_PASSWORD").locator(".cell-refs")).to_have_text("7")
    expect(row(page, "SMTP_KEY").locator(".cell-refs")).to_have_text("1")
    expect(row(page, "FREE_KEY").locator(".cell-refs")).to_have_text("none")
    row(page, "DATABASE_PASSWORD").get_by_role("button", name="7 automations use DATABASE_PASSWORD: show which").click()
    panel = page.get_by_role("dialog", name="Used by: DATABASE_PASSWORD")
    expect(panel.locator("#referrers-rows tr")).to_have_count(7)
    first = panel.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Send invoice", exact=True))
    expect(first).to_contain_text("Action")
    expect(first).to_contain_text("db_password")
    expect(first.locator("time")).to_have_count(1)  # last resolved: recorded just now, to the hour
    event = panel.get_by_role("row").filter(has=page.get_by_role("rowheader", name="order.created", exact=True))
    expect(event).to_contain_text("Event Type")
    expect(event).to_contain_text("never")
    nightly = panel.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Nightly sync", exact=True))
    expect(nightly).to_contain_text("db")  # the parameters naming this key only
    expect(nightly).not_to_contain_text("smtp")
    panel.get_by_role("button", name="Close").last.click()
    expect(panel).to_be_hidden()
    expect(row(page, "DATABASE_PASSWORD").get_by_role("button", name=re.compile("show which"))).to_be_focused()
    expect(page.get_by_role("button", name=re.compile("^Delete "))).to_have_count(0)  # readers: no delete

    # A writer's delete of a referenced key names them and asks for the key.
    page.get_by_role("button", name="Sign out").click()
    sign_in(ui, tenant.writer, tenant.password)
    row(page, "DATABASE_PASSWORD").get_by_role("button", name="Delete DATABASE_PASSWORD").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    expect(confirm.locator("#confirm-referrers")).to_have_text(
        "7 automations reference DATABASE_PASSWORD: Extra 0 (Action, parameter p), Extra 1 (Action, parameter p), "
        "Extra 2 (Action, parameter p), Extra 3 (Action, parameter p), Nightly sync (Action, parameter db) and 2 more."
    )
    typed = confirm.get_by_role("textbox", name="Type DATABASE_PASSWORD to delete it anyway")
    expect(typed).to_be_focused()
    expect(confirm.locator("#confirm-usage")).to_be_hidden()
    delete = confirm.get_by_role("button", name="Delete anyway")
    delete.click()  # refused until typed: nothing is sent
    expect(confirm.locator("#confirm-typed-error")).to_have_text(
        "Type DATABASE_PASSWORD to delete it anyway, or Cancel."
    )
    typed.fill("DATABASE_PASSWOR")
    delete.click()
    expect(confirm.locator("#confirm-typed-error")).to_have_text("That is not DATABASE_PASSWORD.")
    expect(typed).to_have_attribute("aria-invalid", "true")
    assert not [u for m, u, _ in ui.requests if m == "DELETE" and "/secrets/" in u]
    assert client.get(f"{SEARCH_PATH.format(tenant.name)}/DATABASE_PASSWORD").status_code == 200
    typed.fill("DATABASE_PASSWORD")
    delete.click()
    expect(confirm).to_be_hidden()
    expect(row(page, "DATABASE_PASSWORD")).to_have_count(0)
    deletes = [u for m, u, _ in ui.requests if m == "DELETE" and "/secrets/" in u]
    assert len(deletes) == 1 and deletes[0].endswith("/secrets/DATABASE_PASSWORD?force=true")
    assert client.get(f"{SEARCH_PATH.format(tenant.name)}/DATABASE_PASSWORD").status_code == 404

    # No referrers: today's confirm, no typing.
    row(page, "FREE_KEY").get_by_role("button", name="Delete FREE_KEY").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    expect(confirm.locator("#confirm-referenced")).to_be_hidden()
    expect(confirm).to_contain_text("Never resolved by the Hub")
    confirm.get_by_role("button", name="Cancel").click()

    # Declared after the page loaded: the plain delete's 409 turns it into the typed confirm.
    declare(app, hub, tenant.name, "action", "late", "Late action", key="FREE_KEY")
    row(page, "FREE_KEY").get_by_role("button", name="Delete FREE_KEY").click()
    confirm.get_by_role("button", name="Delete secret").click()
    expect(confirm.locator("#confirm-referrers")).to_have_text(
        "1 automation references FREE_KEY: Late action (Action, parameter key)."
    )
    expect(confirm.get_by_role("alert")).to_contain_text("the Hub declared them after the list was loaded")
    assert client.get(f"{SEARCH_PATH.format(tenant.name)}/FREE_KEY").status_code == 200
    confirm.get_by_role("textbox", name="Type FREE_KEY to delete it anyway").fill("FREE_KEY")
    confirm.get_by_role("button", name="Delete anyway").click()
    expect(row(page, "FREE_KEY")).to_have_count(0)
    assert_no_values(ui, suite)


def test_expiring_names_what_breaks_and_the_unused_filter(
    ui: Watched, app: Any, bao: Any, tenant: Any, login: Any, planted: Callable[[str], str], suite: ModuleType
) -> None:
    client = login(tenant.writer, tenant.password)
    soon = usage.format_time(datetime.now(UTC) + timedelta(days=5))
    add(client, tenant.name, "STRIPE_KEY", planted("ui-refs"), expires_at=soon)
    add(client, tenant.name, "VPN_CERT", planted("ui-refs"), expires_at=soon)
    for key in ("IN_USE", "OLD_USE", "NEVER_USED"):
        add(client, tenant.name, key, planted("ui-refs"))
    now = datetime.now(UTC)
    usage.record(bao.vault, bao.root_token, tenant.name, "IN_USE", usage.hour(now))
    old = usage.hour(now - timedelta(days=120))
    usage.record(bao.vault, bao.root_token, tenant.name, "OLD_USE", old)
    hub = hub_token(bao)
    declare(app, hub, tenant.name, "action", "charge", "Charge card", key="STRIPE_KEY")
    declare(app, hub, tenant.name, "event-type", "payment.failed", "payment.failed", key="STRIPE_KEY")

    page = sign_in(ui, tenant.reader, tenant.password)
    expect(page.locator("#rows tr")).to_have_count(5)
    expect(page.locator(".breaks")).to_have_count(0)  # only the Expiring view says it
    page.get_by_role("button", name="Expiring").click()
    expect(page.locator("#rows tr")).to_have_count(2)
    expect(row(page, "STRIPE_KEY").locator(".breaks")).to_have_text(
        "Would break: Charge card (Action), payment.failed (Event Type)"
    )
    expect(row(page, "VPN_CERT").locator(".breaks")).to_have_count(0)  # nothing names it
    page.get_by_role("button", name="Expiring").click()

    unused = page.get_by_role("button", name="Unused")
    expect(unused).to_have_attribute("title", re.compile("not resolved for 90 days"))
    unused.click()
    expect(unused).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#rows tr")).to_have_count(3)
    assert keys_shown(page) == ["NEVER_USED", "OLD_USE", "VPN_CERT"]
    assert any("unused=true" in url for _, url, _ in ui.requests)
    page.get_by_role("searchbox").fill("stripe")
    expect(page.get_by_role("heading", name="Nothing unused")).to_be_visible()
    page.get_by_role("searchbox").fill("")
    expect(page.locator("#rows tr")).to_have_count(3)
    unused.click()
    expect(page.locator("#rows tr")).to_have_count(5)
    assert_no_values(ui, suite)
