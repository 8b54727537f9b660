"""Make docs/screenshot*.png: the Secrets and Members screens with demo data, in the same Chromium as
the tests (and screenshot-deleted.png, screenshot-history.png: Recently deleted and a secret's history;
screenshot-delete.png: the delete confirm saying when the Hub last resolved the key;
screenshot-used-by.png and screenshot-delete-referenced.png: the Actions and Event Types that
reference a key, and the delete confirm that names them and asks for the key).

    python tests/screenshot.py [OUTDIR]   # screenshot.png, -edit, -import (a preview), -narrow

Starts its own OpenBao dev server and the service; needs the `bao` binary and /usr/bin/chromium.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from conftest import Users, start_bao_dev  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from ui_server import launch, serve  # noqa: E402

from app import access, create_app, usage  # noqa: E402

DEMO = [  # (key, description, who)
    ("DATABASE_PASSWORD", "Primary Postgres, rotated monthly", "maria"),
    ("DATADOG_API_KEY", "Metrics and APM agent", "jonas"),
    ("GITHUB_DEPLOY_TOKEN", "CI deploy bot, repo scope only", "jonas"),
    ("REDIS_URL", "Cache connection string (TLS)", "maria"),
    ("S3_BACKUP_ACCESS_KEY", "Nightly backups bucket, eu-west-1", "maria"),
    ("SLACK_WEBHOOK_URL", "Alerts to #ops-oncall", "jonas"),
    ("SMTP_API_KEY", "Transactional mail relay", "maria"),
    ("STRIPE_SECRET_KEY", "Payments, live mode", "maria"),
]
DELETED = [  # (key, description, created by, deleted by): shown under Recently deleted
    ("LEGACY_FTP_PASSWORD", "Old partner upload server", "maria", "jonas"),
    ("SENDGRID_API_KEY", "Replaced by the SMTP relay", "jonas", "maria"),
]
ROTATIONS = [("SMTP_API_KEY", "jonas"), ("SMTP_API_KEY", "maria")]  # new values: the history has three versions
# Last used (hours ago; demo data written straight beside the references, as the Hub's resolve
# does hourly) and expiry (days from now): the table shows the column and the badges.
LAST_USED = {
    "DATABASE_PASSWORD": 1,
    "DATADOG_API_KEY": 0,
    "SMTP_API_KEY": 3,
    "STRIPE_SECRET_KEY": 26,
    "REDIS_URL": 24 * 9,
}
EXPIRES = {"GITHUB_DEPLOY_TOKEN": -2, "STRIPE_SECRET_KEY": 6, "S3_BACKUP_ACCESS_KEY": 160}

# Declared by the Hub (issue 25): (kind, id, name, {parameter: key}).
REFERRERS = [
    ("action", "send-invoice", "Send invoice", {"db_password": "DATABASE_PASSWORD", "mail": "SLACK_WEBHOOK_URL"}),
    ("action", "nightly-sync", "Nightly sync", {"db": "DATABASE_PASSWORD", "backup_key": "S3_BACKUP_ACCESS_KEY"}),
    ("event-type", "order.created", "order.created", {"signing_secret": "DATABASE_PASSWORD"}),
    ("action", "charge-card", "Charge card", {"stripe": "STRIPE_SECRET_KEY"}),
]

IMPORTED = ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    bao = start_bao_dev(Path(tempfile.mkdtemp(prefix="nexo-shot-")))
    try:
        access.bootstrap(bao.vault, bao.root_token)
        users = Users(bao)
        password = secrets.token_urlsafe(16)
        for name in ("maria", "jonas", "sam"):
            users.user(name, password)
        users.user("nina", password, ("nexo-admin",))
        for tenant in ("acme", "acme-staging"):
            access.provision(bao.vault, bao.root_token, tenant)
        access.grant(bao.vault, bao.root_token, "acme", "maria", "write")
        access.grant(bao.vault, bao.root_token, "acme", "jonas", "write")
        access.grant(bao.vault, bao.root_token, "acme-staging", "maria", "read")
        access.grant(bao.vault, bao.root_token, "acme", "sam", "read")
        app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": secrets.token_urlsafe(48)})
        clients = {}
        for name in ("maria", "jonas"):
            client = app.test_client()
            csrf = client.post("/api/v1/session", json={"username": name, "password": password}).get_json()
            clients[name] = (client, csrf["csrf_token"])
        for key, description, who in DEMO:
            client, csrf = clients[who]
            body = {"key": key, "description": description, "value": secrets.token_urlsafe(24)}
            reply = client.post("/api/v1/tenants/acme/secrets", json=body, headers={"X-CSRF-Token": csrf})
            assert reply.status_code == 201, reply.get_json()
        for key, description, who, deleter in DELETED:
            client, csrf = clients[who]
            body = {"key": key, "description": description, "value": secrets.token_urlsafe(24)}
            assert (
                client.post("/api/v1/tenants/acme/secrets", json=body, headers={"X-CSRF-Token": csrf}).status_code
                == 201
            )
            client, csrf = clients[deleter]
            assert (
                client.delete(f"/api/v1/tenants/acme/secrets/{key}", headers={"X-CSRF-Token": csrf}).status_code == 204
            )
        for key, who in ROTATIONS:
            client, csrf = clients[who]
            body = {"value": secrets.token_urlsafe(24)}
            reply = client.patch(f"/api/v1/tenants/acme/secrets/{key}", json=body, headers={"X-CSRF-Token": csrf})
            assert reply.status_code == 200, reply.get_json()

        now = datetime.now(UTC)
        for key, hours in LAST_USED.items():
            when = usage.hour(now - timedelta(hours=hours))
            usage.record(bao.vault, bao.root_token, "acme", key, when)
        for key, days in EXPIRES.items():
            when = usage.format_time(now + timedelta(days=days))
            bao.vault.kv.patch_metadata(bao.root_token, "acme", key, {usage.EXPIRES_AT: when})

        creds = access.hub_credentials(bao.vault, bao.root_token)
        hub = bao.vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
        for kind, id_, name, parameters in REFERRERS:
            declared: dict[str, Any] = {
                "name": name,
                "parameters": [{"name": p, "type": "SECRET", "value": k} for p, k in parameters.items()],
            }
            reply = app.test_client().put(
                f"/api/v1/tenants/acme/references/{kind}/{id_}",
                json=declared,
                headers={"Authorization": f"Bearer {hub}"},
            )
            assert reply.status_code == 200, reply.get_json()

        with serve(app) as url, sync_playwright() as playwright:
            browser = launch(playwright)
            for name, viewport in (
                ("screenshot", {"width": 1280, "height": 760}),
                ("screenshot-narrow", {"width": 390, "height": 844}),
                ("screenshot-tablet", {"width": 900, "height": 1000}),  # the list as cards beside the sidebar
            ):
                context = browser.new_context(base_url=url, viewport=viewport, device_scale_factor=1)
                page = context.new_page()
                page.goto("/#/acme")
                page.get_by_role("textbox", name="Username").fill("maria")
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("#rows tr")).to_have_count(len(DEMO))
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / f"{name}.png"))
                if name == "screenshot":
                    page.get_by_role("button", name="Edit SMTP_API_KEY").click()
                    expect(page.get_by_role("dialog", name="Edit Secret")).to_be_visible()
                    pem = "\n".join(
                        [
                            "-----BEGIN PRIVATE KEY-----",
                            *(secrets.token_hex(32) for _ in range(4)),
                            "-----END PRIVATE KEY-----\n",
                        ]
                    )
                    page.locator("#f-value-file").set_input_files(
                        files=[{"name": "smtp-relay.pem", "mimeType": "text/plain", "buffer": pem.encode()}]
                    )  # a new value from a file: masked, several lines
                    expect(page.locator("#f-value-loaded")).to_contain_text("Loaded smtp-relay.pem")
                    page.screenshot(path=str(out / "screenshot-edit.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("button", name="Delete SMTP_API_KEY").click()
                    expect(page.get_by_role("alertdialog", name="Delete secret?")).to_be_visible()
                    page.screenshot(path=str(out / "screenshot-delete.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("button", name="3 automations use DATABASE_PASSWORD: show which").click()
                    expect(page.locator("#referrers-rows tr")).to_have_count(3)
                    page.screenshot(path=str(out / "screenshot-used-by.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("button", name="Delete DATABASE_PASSWORD").click()
                    expect(page.locator("#confirm-referrers")).to_be_visible()
                    page.screenshot(path=str(out / "screenshot-delete-referenced.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("button", name="Import", exact=True).click()
                    dialog = page.get_by_role("dialog", name="Import secrets")
                    env = "".join(f"{k}={secrets.token_urlsafe(24)}\n" for k in IMPORTED)
                    dialog.locator("#import-file").set_input_files(
                        files=[{"name": "payments.env", "mimeType": "text/plain", "buffer": env.encode()}]
                    )
                    expect(dialog.locator("#import-list li")).to_have_count(len(IMPORTED))
                    page.screenshot(path=str(out / "screenshot-import.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("button", name="History of SMTP_API_KEY").click()
                    history = page.get_by_role("dialog", name="History of SMTP_API_KEY")
                    expect(history.locator("#history-rows tr")).to_have_count(3)
                    page.screenshot(path=str(out / "screenshot-history.png"))
                    page.keyboard.press("Escape")
                    page.get_by_role("tab", name="Recently deleted").click()
                    expect(page.locator("#deleted-rows tr")).to_have_count(len(DELETED))
                    page.mouse.move(0, 0)
                    page.screenshot(path=str(out / "screenshot-deleted.png"))
                context.close()
            for name, viewport in (
                ("screenshot-members", {"width": 1280, "height": 1100}),
                ("screenshot-members-narrow", {"width": 390, "height": 1400}),
            ):
                context = browser.new_context(base_url=url, viewport=viewport, device_scale_factor=1)
                page = context.new_page()
                page.goto("/#/members/acme")
                page.get_by_role("textbox", name="Username").fill("nina")
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                expect(page.locator("#member-rows tr")).to_have_count(3)
                expect(page.locator("#account-rows tr")).to_have_count(4)
                page.mouse.move(0, 0)
                page.screenshot(path=str(out / f"{name}.png"))
                context.close()
            browser.close()
    finally:
        bao.process.terminate()
        bao.process.wait(10)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "docs")
