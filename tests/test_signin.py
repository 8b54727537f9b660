"""Sign-in that cannot lock people out, sessions that end, and changing one's own password.

Against real OpenBao: for the guessing bound, a server configured as docker-compose runs it (its
listener takes X-Forwarded-For from the service only, README "Signing in"; the init job writes
bootstrap's sign-in quota); the suite's shared server for the rest.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app import access, auth, create_app
from tests.conftest import SEEN, BaoServer, Tenant, Users, planted
from tests.helpers import request_from, session_token
from tests.vault_nodes import Node, run_init


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """OpenBao as docker-compose runs it: node.hcl and compose's own listener.hcl, trusting the
    service's X-Forwarded-For (here the service connects from 127.0.0.1), set up by the init job
    (deploy/init.sh) with the sign-in quota."""
    tmp = tmp_path_factory.mktemp("bao-quota")
    node = Node(tmp / "openbao", trusted="127.0.0.1/32")
    node.workdir.mkdir()
    node.start()
    try:
        out = run_init(node, tmp / "init", NEXO_SIGN_IN_QUOTA="true")
        assert f"wrote rate-limit quota {access.SIGN_IN_QUOTA}" in out
        root = json.loads((tmp / "init" / "init.json").read_text())["root_token"]
        assert node.process is not None
        yield BaoServer(node.addr, root, node.process, node.workdir / "server.log")
    finally:
        node.stop()
        SEEN.append(("sign-in quota server log", node.log()))


def _app(server: BaoServer) -> Any:
    # LOGIN_MAX_FAILURES high: this shows OpenBao's bound, not the per-address one in memory.
    return create_app(
        {"NEXO_ENV": "test", "VAULT_ADDRS": [server.addr], "SECRET_KEY": "q" * 48, "LOGIN_MAX_FAILURES": 1000}
    )


def _sign_in(client: Any, user: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/api/v1/session", json={"username": user, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_an_attacker_cannot_lock_out_the_users_own_browser(guarded: BaoServer) -> None:
    app = _app(guarded)
    name, password = "victim" + os.urandom(4).hex(), planted("pw")
    guarded.vault.auth.write_user(guarded.root_token, name, password)
    browser = app.test_client()
    signed = _sign_in(browser, name, password)  # the user's browser, once: a device cookie
    assert signed.status_code == 200
    assert browser.get_cookie(auth.DEVICE_COOKIE, path="/api/v1/session") is not None
    csrf = {"X-CSRF-Token": signed.get_json()["csrf_token"]}
    assert browser.delete("/api/v1/session", headers=csrf).status_code == 204  # signed out; the cookie stays

    attacker = app.test_client()
    codes = [_sign_in(attacker, name, f"guess-{n}", f"198.51.100.{n}").status_code for n in range(1, 16)]
    # The account's budget for browsers it never used: SIGN_IN_RATE attempts, then refused.
    assert codes[: access.SIGN_IN_RATE - 1] == [401] * (access.SIGN_IN_RATE - 1)
    assert set(codes[access.SIGN_IN_RATE :]) == {429}
    refused = _sign_in(attacker, name, password, "198.51.100.99")  # even the right password, now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == access.SIGN_IN_BLOCK
    assert refused.get_json()["code"] == 429 and password not in refused.get_data(as_text=True)

    # The user's own browser keeps its own budget and signs in.
    again = _sign_in(browser, name, password, "203.0.113.5")
    assert again.status_code == 200 and again.get_json()["user"] == name

    # Another account's budget is its own: spent only by its own sign-ins, from the same addresses.
    other, theirs = "bystander" + os.urandom(4).hex(), planted("pw")
    guarded.vault.auth.write_user(guarded.root_token, other, theirs)
    assert _sign_in(attacker, other, "guess", "198.51.100.1").status_code == 401
    assert _sign_in(app.test_client(), other, theirs, "198.51.100.2").status_code == 200


def test_a_device_cookie_counts_only_for_its_user_and_cannot_be_forged(guarded: BaoServer) -> None:
    app = _app(guarded)
    mine, other = "dev" + os.urandom(4).hex(), "tgt" + os.urandom(4).hex()
    password = planted("pw")
    for user in (mine, other):
        guarded.vault.auth.write_user(guarded.root_token, user, password)
    attacker = app.test_client()
    assert _sign_in(attacker, mine, password).status_code == 200  # the attacker's own account: a cookie
    for n in range(access.SIGN_IN_RATE):
        _sign_in(app.test_client(), other, "nope", f"192.0.2.{n + 1}")
    # Their cookie names another user: it spends the target's shared budget, which is spent.
    assert _sign_in(attacker, other, password).status_code == 429
    forged = app.test_client()
    cookie = attacker.get_cookie(auth.DEVICE_COOKIE, path="/api/v1/session")
    assert cookie is not None
    forged.set_cookie(auth.DEVICE_COOKIE, cookie.value.replace(mine, other, 1), path="/api/v1/session")
    assert _sign_in(forged, other, password).status_code == 429


def test_the_quota_path_form_that_applies(guarded: BaoServer) -> None:
    """OpenBao 2.7: a quota on `auth/<mount>/login` does not count logins; `.../login/*` does."""
    assert guarded.api("POST", "/v1/sys/auth/probe", json={"type": "userpass"}).status_code == 204
    guarded.api("POST", "/v1/sys/auth/probe/tune", json={"user_lockout_config": {"lockout_disable": True}})
    guarded.api("POST", "/v1/auth/probe/users/p", json={"password": "x"})
    guarded.vault.sys.write_rate_limit(guarded.root_token, "probe-a", "auth/probe/login", 1, 60, 60)

    def codes(address: str) -> list[int]:
        return [
            requests.post(
                guarded.addr + "/v1/auth/probe/login/p",
                json={"password": "bad"},
                headers={"X-Forwarded-For": address},
                timeout=10,
            ).status_code
            for _ in range(3)
        ]

    assert codes("10.1.0.1") == [400, 400, 400]
    guarded.api("DELETE", "/v1/sys/quotas/rate-limit/probe-a")
    guarded.vault.sys.write_rate_limit(guarded.root_token, "probe-b", "auth/probe/login/*", 1, 60, 60)
    assert codes("10.1.0.2") == [400, 429, 429]
    assert codes("10.1.0.3") == [400, 429, 429]  # each forwarded address its own budget
    guarded.api("DELETE", "/v1/sys/quotas/rate-limit/probe-b")


def _login_from(server: BaoServer, source: str, forwarded: str | None) -> tuple[int, str]:
    """A userpass login straight to OpenBao from the local address `source`, naming `forwarded`."""
    headers = {"Content-Type": "application/json", **({"X-Forwarded-For": forwarded} if forwarded else {})}
    status, _, text = request_from(
        source, server.addr, "POST", "/v1/auth/userpass/login/nobody", b'{"password": "x"}', headers
    )
    return status, text


def test_only_the_trusted_address_may_name_a_budget(guarded: BaoServer) -> None:
    """compose's listener settings: a client the listener does not trust (127.0.0.2 here, the init
    job or Prometheus in compose) is refused when it sends X-Forwarded-For, served without it; the
    trusted address (the service) is served without the header too."""
    status, text = _login_from(guarded, "127.0.0.2", "fd00::1")
    assert status == 400 and "not authorized for x-forwarded-for" in text.lower(), text
    # Without the header both are served: a plain failed login (there is no such user), not refused
    # for a missing header (x_forwarded_for_reject_not_present = false).
    for source in ("127.0.0.2", "127.0.0.1"):
        status, text = _login_from(guarded, source, None)
        assert status == 400 and "invalid username or password" in text.lower(), (source, text)


def test_bootstrap_turns_the_user_lockout_off(bao: BaoServer, app: Any, users: Users) -> None:
    tune = bao.api("GET", "/v1/sys/auth/userpass/tune").json()
    assert tune["user_lockout_disable"] is True
    name, password = users.user(password=planted("pw"))
    client = app.test_client()
    for n in range(8):  # OpenBao's default lockout: 5 failures (from addresses of their own: the
        # suite's app counts failures per address across tests)
        wrong = client.post(
            "/api/v1/session", json={"username": name, "password": "wrong"}, environ_base={"REMOTE_ADDR": f"10.9.8.{n}"}
        )
        assert wrong.status_code == 401
    assert client.post("/api/v1/session", json={"username": name, "password": password}).status_code == 200


# -- sessions end -------------------------------------------------------------------------


def _alive(bao: BaoServer, token: str) -> bool:
    return bao.api("POST", "/v1/auth/token/lookup", json={"token": token}).status_code == 200


def test_the_session_token_lives_as_long_as_the_session(bao: BaoServer, app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    data = bao.api("POST", "/v1/auth/token/lookup", json={"token": session_token(client)}).json()["data"]
    hours = app.config["SESSION_HOURS"]
    assert 0 < data["ttl"] <= hours * 3600 and data["explicit_max_ttl"] in (0, hours * 3600)
    tune = bao.api("GET", "/v1/sys/auth/userpass/tune").json()
    assert tune["default_lease_ttl"] == tune["max_lease_ttl"] == int(hours * 3600)


def test_signing_in_again_revokes_the_browsers_previous_token(
    bao: BaoServer, app: Any, tenant: Tenant, login: Any
) -> None:
    client = login(tenant.writer, tenant.password)
    first = session_token(client)
    again = client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password})
    assert again.status_code == 200
    client.csrf = again.get_json()["csrf_token"]
    second = session_token(client)
    assert second != first and not _alive(bao, first) and _alive(bao, second)
    # Another browser of the same user keeps its own session.
    other = login(tenant.writer, tenant.password)
    assert _alive(bao, second) and _alive(bao, session_token(other))
    assert client.delete("/api/v1/session").status_code == 204
    assert not _alive(bao, second)


def test_an_expired_token_ends_the_session(bao: BaoServer, app: Any) -> None:
    name, password = "short" + os.urandom(4).hex(), planted("pw")
    body = {"password": password, "token_ttl": "2s", "token_max_ttl": "2s"}
    assert bao.api("POST", f"/v1/auth/userpass/users/{name}", json=body).status_code == 204
    client = app.test_client()
    assert client.post("/api/v1/session", json={"username": name, "password": password}).status_code == 200
    token = session_token(client)
    assert client.get("/api/v1/session").status_code == 200
    while _alive(bao, token):  # Vault ends the token; no assertion on how long that takes
        time.sleep(0.5)
    reply = client.get("/api/v1/session")
    assert reply.status_code == 401 and reply.get_json()["code"] == 401


# -- one's own password -------------------------------------------------------------------


def test_a_token_changes_its_own_password_and_no_one_elses(bao: BaoServer, users: Users) -> None:
    """nexo-self, with real tokens straight against Vault: 204 for one's own, 403 for another's."""
    me, mine = users.user(password=planted("pw"))
    other, theirs = users.user(password=planted("pw"))
    token = users.token(me, mine)
    new = planted("pw")
    own = bao.api("POST", f"/v1/auth/userpass/users/{me}/password", token=token, json={"password": new})
    assert own.status_code == 204
    refused = bao.api("POST", f"/v1/auth/userpass/users/{other}/password", token=token, json={"password": new})
    assert refused.status_code == 403
    assert users.token(other, theirs)  # unchanged
    assert users.token(me, new)
    caps = bao.api(
        "POST",
        "/v1/sys/capabilities-self",
        token=token,
        json={
            "paths": [
                f"auth/userpass/users/{me}/password",
                f"auth/userpass/users/{other}/password",
                f"auth/userpass/users/{me}",
            ]
        },
    ).json()
    assert caps[f"auth/userpass/users/{me}/password"] == ["update"]
    assert caps[f"auth/userpass/users/{other}/password"] == ["deny"]
    assert caps[f"auth/userpass/users/{me}"] == ["deny"]  # not the account's other settings


def test_changing_ones_password_through_the_api(app: Any, tenant: Tenant, login: Any, users: Users) -> None:
    name, old = users.user(password=planted("pw"))
    client = login(name, old)
    url = "/api/v1/session/password"
    new = planted("pw")
    bad = [
        ({"current": "wrong-password", "new": new}, 422, "current"),
        ({"current": old, "new": old}, 422, "new"),
        ({"current": old, "new": "short"}, 422, "new"),
        ({"current": old}, 422, "new"),
        ({"current": old, "new": new, "extra": 1}, 422, "extra"),
    ]
    for body, status, field in bad:
        reply = client.put(url, json=body)
        assert reply.status_code == status, (body, reply.get_json())
        answer = reply.get_json()
        assert answer["code"] == status and field in str(answer.get("errors"))
        assert old not in reply.get_data(as_text=True) and new not in reply.get_data(as_text=True)
    no_csrf = client.http.put(url, json={"current": old, "new": new})
    assert no_csrf.status_code == 403
    assert users.token(name, old)  # nothing changed so far
    assert client.put(url, json={"current": old, "new": new}).status_code == 204
    assert client.get("/api/v1/session").status_code == 200  # the session goes on
    fresh = app.test_client()
    assert _sign_in(fresh, name, old, "10.9.7.1").status_code == 401
    assert fresh.post("/api/v1/session", json={"username": name, "password": new}).status_code == 200
    assert app.test_client().put(url, json={"current": new, "new": planted("pw")}).status_code == 401


def test_a_first_password_from_an_admin_works_once(bao: BaoServer, app: Any, users: Users, tenant: Tenant) -> None:
    admin_name, admin_password = users.user(password=planted("pw"), policies=("nexo-admin",))
    admin = app.test_client()
    signed = admin.post("/api/v1/session", json={"username": admin_name, "password": admin_password})
    csrf = {"X-CSRF-Token": signed.get_json()["csrf_token"]}
    name = "new" + os.urandom(4).hex()
    made = admin.post("/api/v1/users", json={"username": name}, headers=csrf)
    assert made.status_code == 201
    first = made.get_json()["password"]
    access.grant(bao.vault, bao.root_token, tenant.name, name, "read")

    # The admin cannot clear the mark for the user, nor rewrite it (their token, against Vault).
    admin_token = users.token(admin_name, admin_password)
    mark = f"/v1/secret/data/nexo-accounts/{name}"
    assert bao.api("DELETE", f"/v1/secret/metadata/nexo-accounts/{name}", token=admin_token).status_code == 403
    assert bao.api("POST", mark, token=admin_token, json={"data": {"first_password": "no"}}).status_code == 403
    assert bao.api("DELETE", mark, token=admin_token).status_code == 403

    user = app.test_client()
    session = user.post("/api/v1/session", json={"username": name, "password": first}).get_json()
    assert session["first_sign_in"] is True
    headers = {"X-CSRF-Token": session["csrf_token"]}
    for reply in (
        user.get(f"/api/v1/tenants/{tenant.name}/secrets"),
        user.get("/api/v1/tenants"),
        user.post(f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "K", "value": planted()}, headers=headers),
    ):
        assert reply.status_code == 403 and "own password" in reply.get_json()["message"]
    assert user.get("/api/v1/session").get_json()["first_sign_in"] is True
    own = planted("pw")
    assert user.put("/api/v1/session/password", json={"current": first, "new": own}, headers=headers).status_code == 204
    assert user.get(f"/api/v1/tenants/{tenant.name}/secrets").status_code == 200
    assert bao.api("GET", mark).status_code == 404  # the mark is gone
    # The next sign-in is an ordinary one; the admin's password no longer works.
    later = app.test_client()
    assert _sign_in(later, name, first, "10.9.7.2").status_code == 401
    again = later.post("/api/v1/session", json={"username": name, "password": own}).get_json()
    assert again["first_sign_in"] is False


def test_the_tenant_cli_changes_ones_own_password(app: Any, users: Users, tmp_path: Path) -> None:
    from tests.test_tenant_cli import run
    from tests.ui_server import serve

    name, old = users.user(password=planted("pw"))
    (tmp_path / ".vault-token").write_text(users.token(name, old) + "\n")  # as `bao login` leaves it
    new = planted("pw")
    with serve(app) as url:
        wrong = run("passwd", url=url, home=tmp_path, stdin=f"not-the-password\n{new}\n")
        assert wrong.returncode != 0 and "current password is wrong" in wrong.stderr.lower()
        done = run("passwd", url=url, home=tmp_path, stdin=f"{old}\n{new}\n")
    assert done.returncode == 0 and done.stdout.strip() == "password changed", done.stderr
    for answer in (wrong, done):
        assert old not in answer.stdout + answer.stderr and new not in answer.stdout + answer.stderr
    assert users.token(name, new)
    assert _sign_in(app.test_client(), name, old, "10.9.7.3").status_code == 401
