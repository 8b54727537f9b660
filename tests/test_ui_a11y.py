"""axe-core (WCAG 2.1 A and AA rules) on every screen and dialog, empty and full, at 390 and 1280 px.

axe-core is the npm package in tests/a11y (package.json and its lock; .ci/run installs it with
`npm ci --prefix tests/a11y`). It is loaded into each page as an init script, which the page's
CSP does not govern, so the page under audit is the page as served."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app import access
from tests import browser as screen
from tests.browser import SEARCH_PATH, Watched, open_page, row, sign_in

# The Secrets screen's browser fixtures, shared (assigned, so that they are this module's fixtures too).
suite, planted, browser, base_url = screen.suite, screen.planted, screen.browser, screen.base_url

pytestmark = pytest.mark.ui

AXE = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN = """async (tags) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return result.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: npm ci --prefix tests/a11y (.ci/run does it; these tests never skip)")
    return AXE.read_text()


class Audit:
    """Runs axe on a page whenever asked, and keeps every finding with the screen it was on."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: list[str] = []
        self.screens: list[str] = []

    def __call__(self, screen: str) -> None:
        self.page.wait_for_load_state("networkidle")
        self.screens.append(screen)
        self.found += [f"{screen}: {v}" for v in self.page.evaluate(RUN, TAGS)]


@pytest.fixture(params=[390, 1280], ids=lambda w: f"{w}px")
def audited(
    request: pytest.FixtureRequest, browser: Browser, base_url: str, axe_source: str, suite: ModuleType
) -> Iterator[tuple[Watched, Audit]]:
    watched = open_page(browser, base_url, viewport={"width": request.param, "height": 900})
    watched.context.add_init_script(script=axe_source)
    audit = Audit(watched.page)
    yield watched, audit
    suite.SEEN.extend(watched.evidence().items())
    watched.context.close()
    assert not watched.errors, watched.errors


def test_secrets_screens_and_dialogs_have_no_violations(
    audited: tuple[Watched, Audit], users: Any, login: Any, planted: Callable[[str], str]
) -> None:
    watched, audit = audited
    page = watched.page
    tenant = users.tenant()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to Secrets")).to_be_visible()
    audit("sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_be_visible()
    audit("sign-in with an error")

    sign_in(watched, tenant.writer, tenant.password)
    expect(page.get_by_role("heading", name="No secrets yet")).to_be_visible()
    audit("Secrets, empty")
    page.get_by_role("tab", name="Recently deleted").click()
    expect(page.get_by_role("heading", name="Nothing recently deleted")).to_be_visible()
    audit("Recently deleted, empty")
    page.get_by_role("tab", name="Active").click()

    page.get_by_role("button", name="Add Secret", exact=True).click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    audit("Add Secret, empty")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#f-key-error")).to_be_visible()
    audit("Add Secret, with field errors")
    page.keyboard.press("Escape")

    client = login(tenant.writer, tenant.password)
    for n, key in enumerate(("API_KEY", "DATABASE_PASSWORD", "OLD_TOKEN", "TLS_KEY")):
        body = {"key": key, "description": f"Description {n}", "value": planted("ui-axe")}
        if key == "TLS_KEY":
            body["expires_at"] = "2020-01-01T00:00:00Z"  # an Expired badge
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    assert client.delete(f"{SEARCH_PATH.format(tenant.name)}/OLD_TOKEN").status_code == 204
    page.reload()
    expect(page.locator("#rows tr")).to_have_count(3)
    audit("Secrets, full")

    row(page, "API_KEY").get_by_role("button", name="Edit API_KEY").click()
    audit("Edit Secret")
    page.keyboard.press("Escape")
    row(page, "API_KEY").get_by_role("button", name="History of API_KEY").click()
    expect(page.locator("#history-rows tr")).to_have_count(1)
    audit("History")
    page.keyboard.press("Escape")
    row(page, "API_KEY").get_by_role("button", name="Delete API_KEY").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    audit("Delete confirm")
    confirm.get_by_role("button", name="Delete secret").click()
    expect(page.get_by_role("button", name="Undo the delete of API_KEY")).to_be_visible()
    audit("the delete toast with Undo")

    page.get_by_role("button", name="Import", exact=True).click()
    import_dialog = page.get_by_role("dialog", name="Import secrets")
    audit("Import, empty")
    import_dialog.locator("#import-file").set_input_files(
        files=[{"name": "new.env", "mimeType": "text/plain", "buffer": f"NEW_KEY={planted('ui-axe')}\n".encode()}]  # type: ignore[arg-type]
    )
    expect(import_dialog.locator("#import-list li")).to_have_count(1)
    audit("Import, preview")
    import_dialog.locator("#import-file").set_input_files(
        files=[{"name": "broken.env", "mimeType": "text/plain", "buffer": b"not a line\n"}]  # type: ignore[arg-type]
    )
    expect(import_dialog.locator("#import-error")).to_be_visible()
    audit("Import, refused")
    page.keyboard.press("Escape")

    page.get_by_role("tab", name="Recently deleted").click()
    expect(page.locator("#deleted-rows tr")).to_have_count(2)
    audit("Recently deleted, full")
    row(page, "OLD_TOKEN").get_by_role("button", name="Delete OLD_TOKEN permanently").click()
    audit("Delete permanently confirm")
    page.keyboard.press("Escape")

    # A reader's view of the same tenant: no write controls.
    page.get_by_role("button", name="Sign out").click()
    sign_in(watched, tenant.reader, tenant.password)
    expect(page.locator("#rows tr")).to_have_count(2)
    audit("Secrets, a reader")
    assert audit.found == [], "\n".join(audit.found)


def test_members_and_accounts_have_no_violations(audited: tuple[Watched, Audit], users: Any, bao: Any) -> None:
    watched, audit = audited
    page = watched.page
    admin, password = users.user(policies=("nexo-admin",))
    nobody, nobody_password = users.user()
    sign_in(watched, admin, password)
    expect(page.get_by_role("heading", name="No tenant")).to_be_visible()
    audit("an admin with no tenant")
    tenant = users.tenant()
    page.goto("/#/members/")
    page.reload()
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.get_by_role("combobox", name="Tenant").select_option(tenant.name)
    expect(page.locator("#member-rows tr")).to_have_count(2)
    audit("Members, full")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator("#grant-user-error")).to_be_visible()
    audit("Members, a grant error")
    page.get_by_role("button", name=f"Revoke {tenant.reader}").click()
    audit("Revoke confirm")
    page.keyboard.press("Escape")
    page.get_by_role("button", name=f"Disable {nobody}").click()
    audit("Disable account confirm")
    page.keyboard.press("Escape")
    page.get_by_role("textbox", name="Account name").fill("axe-" + nobody[-6:])
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("dialog", name="Account created")).to_be_visible()
    audit("Account created")
    page.get_by_role("button", name="Done").click()
    empty = "e" + uuid.uuid4().hex[:10]  # a tenant with no members yet
    access.provision(bao.vault, bao.root_token, empty)
    page.reload()
    page.get_by_role("combobox", name="Tenant").select_option(empty)
    expect(page.get_by_role("heading", name="No members yet")).to_be_visible()
    audit("Members, empty")

    page.get_by_role("button", name="Sign out").click()
    sign_in(watched, nobody, nobody_password)
    expect(page.get_by_role("heading", name="No tenant")).to_be_visible()
    audit("a user with no tenant")
    assert audit.found == [], "\n".join(audit.found)


def test_references_panel_and_typed_confirm_have_no_violations(
    audited: tuple[Watched, Audit], users: Any, login: Any, bao: Any, planted: Callable[[str], str]
) -> None:
    watched, audit = audited
    page = watched.page
    tenant = users.tenant()
    client = login(tenant.writer, tenant.password)
    for key in ("DATABASE_PASSWORD", "STRIPE_KEY"):
        body = {"key": key, "value": planted("ui-axe"), "expires_at": "2020-01-01T00:00:00Z"}
        assert client.post(SEARCH_PATH.format(tenant.name), json=body).status_code == 201
    creds = access.hub_credentials(bao.vault, bao.root_token)
    hub = bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
    for kind, id_, name in (
        ("action", "send-invoice", "Send invoice"),
        ("event-type", "order.created", "order.created"),
    ):
        reply = client.http.put(
            f"/api/v1/tenants/{tenant.name}/references/{kind}/{id_}",
            json={
                "name": name,
                "parameters": [{"name": "db_password", "type": "SECRET", "value": "DATABASE_PASSWORD"}],
            },
            headers={"Authorization": f"Bearer {hub}"},
        )
        assert reply.status_code == 200
    sign_in(watched, tenant.writer, tenant.password)
    expect(row(page, "DATABASE_PASSWORD").locator(".cell-refs")).to_have_text("2")
    audit("Secrets with Used by")
    row(page, "DATABASE_PASSWORD").get_by_role("button", name=re.compile("show which")).click()
    expect(page.locator("#referrers-rows tr")).to_have_count(2)
    audit("Used by panel")
    page.keyboard.press("Escape")
    row(page, "DATABASE_PASSWORD").get_by_role("button", name="Delete DATABASE_PASSWORD").click()
    confirm = page.get_by_role("alertdialog", name="Delete secret?")
    expect(confirm.locator("#confirm-referrers")).to_be_visible()
    audit("Delete confirm naming the referrers")
    confirm.get_by_role("button", name="Delete anyway").click()
    expect(confirm.locator("#confirm-typed-error")).to_be_visible()
    audit("Delete confirm, key not typed")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Expiring").click()
    expect(page.locator(".breaks")).to_have_count(1)
    audit("Expiring, what would break")
    page.get_by_role("button", name="Expiring").click()
    page.get_by_role("button", name="Unused").click()
    expect(page.locator("#rows tr")).to_have_count(1)  # STRIPE_KEY: named by nothing, never resolved
    audit("Unused")
    assert audit.found == [], "\n".join(audit.found)
