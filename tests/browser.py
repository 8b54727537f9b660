"""The page in Debian's Chromium: the fixtures (one Chromium per module, the service on a local port,
a watched page whose HTML, storage and URLs join the leak check) and the helpers every UI test
module shares. Test modules import them from here, never from each other."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from app import auth
from tests.ui_server import CHROMIUM, launch, serve

SEARCH_PATH = "/api/v1/tenants/{}/secrets"


@pytest.fixture(scope="session")
def suite(users: Any) -> ModuleType:
    """The conftest module pytest loaded: the PLANTED and SEEN its leak check reads.

    Importing `tests.conftest` by name can load a second copy with lists nobody checks."""
    return sys.modules[type(users).__module__]


@pytest.fixture(scope="session")
def planted(suite: ModuleType) -> Callable[[str], str]:
    return suite.planted


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (these tests never skip)")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def base_url(app: Any) -> Iterator[str]:
    with serve(app) as url:
        yield url


@dataclass
class Watched:
    """A page plus everything it did that a test may want to check afterwards."""

    page: Page
    context: BrowserContext
    requests: list[tuple[str, str, dict[str, str]]] = dataclasses.field(default_factory=list)  # method, url, headers
    console: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    def evidence(self) -> dict[str, str]:
        """Every place a value must never be: HTML, input values, browser storage, URLs."""
        storage = self.page.evaluate("() => JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})")
        inputs = self.page.evaluate(
            "() => JSON.stringify([...document.querySelectorAll('input, textarea')].map(i => i.value))"
        )
        return {
            "page html": self.page.content(),
            "page inputs": inputs,
            "browser storage": storage,
            "requested urls": "\n".join(url for _, url, _ in self.requests),
        }


def open_page(browser: Browser, base_url: str, **options: Any) -> Watched:
    context = browser.new_context(base_url=base_url, viewport=options.pop("viewport", {"width": 1280, "height": 800}))
    page = context.new_page()
    watched = Watched(page, context)
    page.on("request", lambda r: watched.requests.append((r.method, r.url, r.headers)))
    page.on("console", lambda m: watched.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    return watched


@pytest.fixture
def ui(browser: Browser, base_url: str, suite: ModuleType) -> Iterator[Watched]:
    """A fresh browser context; afterwards its HTML, storage and URLs go to the leak check."""
    watched = open_page(browser, base_url)
    yield watched
    if not watched.page.is_closed():
        for where, text in watched.evidence().items():
            suite.SEEN.append((where, text))
    watched.context.close()
    assert not watched.errors, f"JavaScript errors: {watched.errors}"
    refused = [line for line in watched.console if "Content Security Policy" in line]
    assert not refused, f"the page broke its own CSP: {refused}"


def assert_no_values(ui: Watched, suite: ModuleType) -> None:
    evidence = ui.evidence()
    leaks = [where for where, text in evidence.items() for value in suite.PLANTED if value in text]
    assert not leaks, f"a secret value is in: {sorted(set(leaks))}"


def sign_in(ui: Watched, user: str, password: str) -> Page:
    page = ui.page
    page.goto("/")
    page.get_by_role("textbox", name="Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()
    expect(page.locator("#user-name")).to_have_text(user)
    return page


def row(page: Page, key: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=key, exact=True))


def keys_shown(page: Page) -> list[str]:
    """The keys of the table's rows, in the order shown."""
    return [str(k) for k in page.locator("#rows tr").evaluate_all("rows => rows.map(r => r.dataset.key)")]


def secret_dialog(page: Page, title: str) -> Locator:
    return page.get_by_role("dialog", name=title)


def field(dialog: Locator, name: str) -> Locator:
    return dialog.get_by_role("textbox", name=name, exact=True)


def add_dialog(page: Page, key: str | None = None, value: str | None = None) -> Locator:
    """Open Add Secret from the toolbar; fill Key and Value if given."""
    page.get_by_role("button", name="Add Secret", exact=True).click()
    dialog = secret_dialog(page, "Add Secret")
    if key is not None:
        field(dialog, "Key").fill(key)
    if value is not None:
        field(dialog, "Value").fill(value)
    return dialog


def vault_value(bao: Any, tenant: str, key: str) -> tuple[str, int]:
    """What Vault holds, read with a privileged token behind the service's back."""
    reply = bao.api("GET", f"/v1/secret/data/tenants/{tenant}/{key}")
    assert reply.status_code == 200, reply.status_code
    data = reply.json()["data"]
    return data["data"]["value"], data["metadata"]["version"]


def browser_token(app: Any, context: BrowserContext) -> str:
    """The Vault token sealed inside the browser's session cookie (to revoke it from outside)."""
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "nexo_session")
    session = app.session_interface.get_signing_serializer(app).loads(cookie)
    with app.app_context():
        opened = auth.unseal(session["_user_id"])
    assert opened is not None
    return opened[0]
