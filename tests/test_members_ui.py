"""The Members screen in Debian's Chromium, against the real service and a real OpenBao server:
an admin grants, changes and revokes access and creates and disables accounts; the member sees
the effect on their next request; readers and writers see the list read-only."""

from __future__ import annotations

import re
import uuid
from types import ModuleType
from typing import Any

from playwright.sync_api import Browser, Page, expect

from app import access
from tests import browser as screen
from tests.browser import Watched, assert_no_values, open_page, sign_in

# The Secrets screen's browser fixtures, shared (one Chromium per module, the leak check's suite).
browser, base_url, ui, suite = screen.browser, screen.base_url, screen.ui, screen.suite

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def open_members(page: Page) -> Page:
    page.get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    return page


def member_row(page: Page, user: str) -> Any:
    return page.locator("#member-rows tr").filter(
        has=page.get_by_role("rowheader", name=re.compile(f"^{re.escape(user)}"))
    )


def admin_account(users: Any) -> tuple[str, str]:
    return users.user(policies=("nexo-admin",))


def test_admin_grants_and_the_member_signs_in_to_the_tenant(
    ui: Watched, browser: Browser, base_url: str, bao: Any, users: Any
) -> None:
    admin, admin_pw = admin_account(users)
    tenant = users.tenant()
    newcomer, newcomer_pw = users.user()
    page = open_members(sign_in(ui, admin, admin_pw))
    picker = page.get_by_role("combobox", name="Tenant")
    picker.select_option(tenant.name)
    expect(page).to_have_url(re.compile(f"#/members/{tenant.name}$"))
    expect(member_row(page, tenant.writer)).to_be_visible()
    expect(page.get_by_role("combobox", name=f"Permission of {tenant.writer}")).to_have_value("write")
    expect(page.get_by_role("combobox", name=f"Permission of {tenant.reader}")).to_have_value("read")
    expect(page.locator("#members-desc")).to_contain_text("takes effect on the member's next request")

    page.get_by_role("textbox", name="User name").fill(newcomer)
    page.get_by_role("combobox", name="Permission", exact=True).select_option("write")
    page.get_by_role("button", name="Grant", exact=True).click()
    expect(
        page.get_by_role("status").filter(has_text=f"{newcomer} may now read and write {tenant.name}")
    ).to_contain_text("takes effect on their next request")
    expect(page.get_by_role("combobox", name=f"Permission of {newcomer}")).to_have_value("write")

    # A typo grants nobody: the page says so at the field.
    page.get_by_role("textbox", name="User name").fill("nobody-" + uuid.uuid4().hex[:6])
    page.get_by_role("button", name="Grant", exact=True).click()
    expect(page.locator("#grant-user-error")).to_contain_text("No account named")

    # The member signs in and sees the tenant, with write permission.
    other = open_page(browser, base_url)
    try:
        member = sign_in(other, newcomer, newcomer_pw)
        expect(member.locator("#tenant-name")).to_have_text(tenant.name)
        expect(member.get_by_role("button", name="Add Secret", exact=True)).to_be_visible()
    finally:
        other.context.close()
    assert not other.errors

    # Changing the permission: the next request is a reader's.
    page.get_by_role("combobox", name=f"Permission of {newcomer}").select_option("read")
    expect(page.get_by_role("status").filter(has_text=f"{newcomer} may now read {tenant.name}")).to_be_visible()
    token = users.token(newcomer, newcomer_pw)
    data = f"secret/data/tenants/{tenant.name}/K"
    assert bao.api("POST", "/v1/sys/capabilities-self", token, json={"paths": [data]}).json()[data] == ["deny"]
    assert access.Member(newcomer, "read") in access.roster(bao.vault, bao.root_token, tenant.name).members


def test_admin_revokes_after_confirming_and_the_members_next_request_is_refused(
    ui: Watched, browser: Browser, base_url: str, bao: Any, users: Any
) -> None:
    admin, admin_pw = admin_account(users)
    tenant = users.tenant()
    other = open_page(browser, base_url)
    try:
        member = sign_in(other, tenant.reader, tenant.password)
        expect(member.locator(".badge")).to_have_text("Read only")

        page = ui.page
        page.goto(f"/#/members/{tenant.name}")  # a link straight to the tenant's members
        page.get_by_role("textbox", name="Username").fill(admin)
        page.get_by_label("Password").fill(admin_pw)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Members", exact=True)).to_be_focused()
        the_row = member_row(page, tenant.reader)

        # Cancel first: nothing changes.
        the_row.get_by_role("button", name=f"Revoke {tenant.reader}").click()
        confirm = page.get_by_role("alertdialog", name="Revoke access?")
        expect(confirm).to_contain_text("from their next request on")
        expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Escape")
        expect(confirm).to_be_hidden()
        expect(the_row).to_be_visible()

        the_row.get_by_role("button", name=f"Revoke {tenant.reader}").click()
        confirm.get_by_role("button", name="Revoke access").click()
        expect(confirm).to_be_hidden()
        expect(the_row).to_have_count(0)
        expect(page.get_by_role("status").filter(has_text=f"{tenant.reader} no longer has access")).to_be_visible()

        # The member's next request is refused, and the page says so.
        assert other.page.request.get(f"/api/v1/tenants/{tenant.name}/secrets").status == 403
        member.get_by_role("searchbox").fill("anything")
        expect(member.get_by_role("heading", name="No tenant")).to_be_visible()
        expect(member.get_by_role("status").filter(has_text="no longer have access")).to_be_visible()
    finally:
        other.context.close()
    assert not other.errors


def test_readers_and_writers_see_who_has_access_read_only(ui: Watched, users: Any) -> None:
    tenant = users.tenant()
    page = open_members(sign_in(ui, tenant.reader, tenant.password))
    expect(page.locator("#members-desc")).to_contain_text("Only an administrator can change it")
    expect(member_row(page, tenant.writer)).to_contain_text("Write")
    expect(member_row(page, tenant.reader)).to_contain_text("(you)")
    expect(page.get_by_role("combobox", name=re.compile("^Permission of"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Revoke|Grant|Create account|Disable|Enable)"))).to_have_count(
        0
    )
    expect(page.get_by_role("textbox", name="User name")).to_have_count(0)
    expect(page.get_by_role("columnheader")).to_have_count(2)  # Member, Permission

    # Back to Secrets through the sidebar.
    page.get_by_role("link", name="Secrets", exact=True).click()
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_focused()
    expect(page.locator("#tenant-name")).to_have_text(tenant.name)


def test_sidebar_and_empty_states_follow_the_role(ui: Watched, browser: Browser, base_url: str, users: Any) -> None:
    # No tenant, no admin: Secrets alone, and whom to ask.
    nobody, password = users.user()
    page = sign_in(ui, nobody, password)
    expect(page.get_by_role("link", name="Members", exact=True)).to_have_count(0)
    expect(page.get_by_text("Ask an administrator")).to_be_visible()
    page.goto("/#/members/")  # the screen is not theirs: Secrets instead
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()

    # An admin who is no member: Secrets says what an admin does and where.
    admin, admin_pw = admin_account(users)
    tenant = users.tenant()
    other = open_page(browser, base_url)
    try:
        admin_page = sign_in(other, admin, admin_pw)
        expect(admin_page.locator("#empty-text")).to_contain_text("on the Members page")
        admin_page.get_by_role("link", name="Open Members").click()
        expect(admin_page.get_by_role("heading", name="Members", exact=True)).to_be_focused()
        expect(admin_page.get_by_role("heading", name="Grant access")).to_be_visible()
        expect(admin_page.get_by_role("heading", name="Accounts")).to_be_visible()
        # Every tenant, none of them the admin's own.
        options = admin_page.get_by_role("combobox", name="Tenant").locator("option")
        expect(options.filter(has_text=tenant.name)).to_have_count(1)
        assert "(you:" not in " ".join(options.all_inner_texts())
    finally:
        other.context.close()
    assert not other.errors


def test_admin_creates_an_account_sees_its_password_once_and_disables_it(
    ui: Watched, browser: Browser, base_url: str, bao: Any, users: Any, suite: ModuleType
) -> None:
    admin, admin_pw = admin_account(users)
    tenant = users.tenant()
    page = open_members(sign_in(ui, admin, admin_pw))
    name = "erin-" + uuid.uuid4().hex[:6]
    page.get_by_role("textbox", name="Account name").fill("Erin Smith")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#account-user-error")).to_contain_text("Invalid user name")

    page.get_by_role("textbox", name="Account name").fill(name)
    page.get_by_role("button", name="Create account").click()
    dialog = page.get_by_role("dialog", name="Account created")
    expect(dialog).to_contain_text(f"Give {name} this password")
    password = page.locator("#password-value").inner_text()
    assert len(password) >= 20 and password in suite.PLANTED  # the leak search covers it
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#password-value")).to_have_text("")  # shown once: gone from the page
    assert password not in page.content()

    # The account signs in with it, once: to choose its own password first (issue 22)...
    other = open_page(browser, base_url)
    try:
        fresh = sign_in(other, name, password)
        expect(fresh.get_by_role("dialog", name="Change password")).to_contain_text("Choose your own to continue")
        # ...and, disabled, its session stops at once and it can no longer sign in.
        # The Accounts list shows it, active and in no tenant; Disable asks first.
        account = page.locator("#account-rows tr").filter(has=page.get_by_role("rowheader", name=name, exact=True))
        expect(account.get_by_role("cell").nth(0)).to_have_text("Active")
        expect(account.get_by_role("cell").nth(1)).to_have_text("No tenant")
        account.get_by_role("button", name=f"Disable {name}").click()
        confirm = page.get_by_role("alertdialog", name="Disable account?")
        expect(confirm).to_contain_text(f"{name} can no longer sign in")
        confirm.get_by_role("button", name="Cancel").click()
        expect(confirm).to_be_hidden()
        fresh.reload()  # cancelled: still signed in, and still asked to choose its own password first
        expect(fresh.get_by_role("dialog", name="Change password")).to_contain_text("Choose your own to continue")
        account.get_by_role("button", name=f"Disable {name}").click()
        confirm.get_by_role("button", name="Disable").click()
        expect(page.get_by_role("status").filter(has_text=f"Account {name} disabled")).to_be_visible()
        expect(account.get_by_role("cell").nth(0)).to_have_text("Disabled")
        fresh.reload()
        expect(fresh.get_by_role("heading", name="Sign in to Secrets")).to_be_visible()
        fresh.get_by_role("textbox", name="Username").fill(name)
        fresh.get_by_label("Password").fill(password)
        fresh.get_by_role("button", name="Sign in").click()
        expect(fresh.get_by_role("alert")).to_have_text("Invalid username or password")
    finally:
        other.context.close()
    account.get_by_role("button", name=f"Enable {name}").click()
    confirm = page.get_by_role("alertdialog", name="Enable account?")
    confirm.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status").filter(has_text=f"Account {name} enabled")).to_be_visible()
    expect(account.get_by_role("cell").nth(0)).to_have_text("Active")
    # Granted a tenant, the list says which (and with what permission).
    page.get_by_role("combobox", name="Tenant").select_option(tenant.name)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("button", name="Grant").click()
    expect(account.get_by_role("cell").nth(1)).to_have_text(f"{tenant.name} (read)")
    # Not one's own account: disabling it would end this session.
    own = page.locator("#account-rows tr").filter(has=page.get_by_role("rowheader", name=admin, exact=True))
    expect(own.get_by_role("button")).to_have_count(0)
    users.token(name, password)
    assert_no_values(ui, suite)


def test_a_non_admin_trying_the_admin_calls_from_the_page_is_refused(ui: Watched, users: Any, bao: Any) -> None:
    """The page offers a writer no admin control; its own session's calls are refused (403)."""
    tenant = users.tenant()
    page = open_members(sign_in(ui, tenant.writer, tenant.password))
    expect(page.get_by_role("heading", name="Grant access")).to_be_hidden()
    calls = page.evaluate(
        """async ([tenant, user]) => {
            const session = await (await fetch("/api/v1/session")).json();
            const headers = {"Content-Type": "application/json", "X-CSRF-Token": session.csrf_token};
            const send = async (method, url, body) =>
                (await fetch(url, {method, headers, body: body && JSON.stringify(body)})).status;
            return [
                await send("PUT", `/api/v1/tenants/${tenant}/members/${user}`, {permission: "write"}),
                await send("DELETE", `/api/v1/tenants/${tenant}/members/${user}`),
                await send("POST", "/api/v1/users", {username: "sneaky-" + Date.now()}),
                await send("POST", `/api/v1/users/${user}/disable`),
                await send("PUT", `/api/v1/tenants/${tenant}`),
                await send("GET", "/api/v1/users"),
            ];
        }""",
        [tenant.name, tenant.reader],
    )
    assert calls == [403, 403, 403, 403, 403, 403]
    assert access.Member(tenant.reader, "read") in access.roster(bao.vault, bao.root_token, tenant.name).members


def test_members_on_a_narrow_screen(browser: Browser, base_url: str, users: Any, suite: ModuleType) -> None:
    admin, admin_pw = admin_account(users)
    tenant = users.tenant()
    long_name = "a-rather-long-user-name-for-a-phone-" + uuid.uuid4().hex[:8]
    users.user(long_name)
    access.grant(users.bao.vault, users.bao.root_token, tenant.name, long_name, "read")
    narrow = open_page(browser, base_url, viewport={"width": 375, "height": 740})
    try:
        page = open_members(sign_in(narrow, admin, admin_pw))
        page.get_by_role("combobox", name="Tenant").select_option(tenant.name)
        the_row = member_row(page, long_name)
        expect(the_row).to_be_visible()
        assert page.evaluate(OVERFLOW) <= 0
        name_box = the_row.locator(".member-name").bounding_box()
        revoke_box = the_row.get_by_role("button", name=f"Revoke {long_name}").bounding_box()
        assert name_box and revoke_box
        beside = name_box["x"] + name_box["width"] <= revoke_box["x"]
        below = name_box["y"] + name_box["height"] <= revoke_box["y"]  # a phone: actions on a line of their own
        assert beside or below, (name_box, revoke_box)  # no overlap
        the_row.get_by_role("button", name=f"Revoke {long_name}").click()
        box = page.get_by_role("alertdialog").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        page.keyboard.press("Escape")
        # The two views are tabs in the top bar.
        expect(page.get_by_role("link", name="Secrets", exact=True)).to_be_visible()
        suite.SEEN.extend(narrow.evidence().items())
    finally:
        narrow.context.close()
    assert not narrow.errors
