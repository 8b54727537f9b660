"""Sessions, Bearer tokens, CSRF and sign-in throttling."""

from __future__ import annotations

import json
from typing import Any

from app import create_app
from tests.conftest import BaoServer, Tenant, Users, planted, production_app
from tests.helpers import session_token


def test_login_sets_safe_cookie_and_hides_token(app: Any, tenant: Tenant, users: Users) -> None:
    client = app.test_client()
    reply = client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password})
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["user"] == tenant.writer and body["tenants"] == {tenant.name: "write"}
    assert len(body["csrf_token"]) >= 32
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # Anyone can decode a Flask session cookie; the Vault token inside is encrypted.
    token = session_token(client)
    with app.test_request_context():
        contents = app.session_interface.get_signing_serializer(app).loads(client.get_cookie("nexo_session").value)
    assert token not in json.dumps(contents) and token not in cookie
    assert users.token(tenant.writer, tenant.password) != token  # a fresh login: a new token
    assert "password" not in json.dumps(body)


def test_cookie_is_secure_outside_dev(bao: BaoServer, tenant: Tenant) -> None:
    prod = production_app(bao)
    reply = prod.test_client().post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password})
    assert reply.status_code == 200 and "Secure" in reply.headers["Set-Cookie"]


def test_cookie_from_another_key_is_refused(bao: BaoServer, app: Any, tenant: Tenant) -> None:
    client = app.test_client()
    client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password})
    other = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": "o" * 48}).test_client()
    cookie = client.get_cookie("nexo_session")
    assert cookie is not None
    other.set_cookie("nexo_session", cookie.value)
    assert other.get("/api/v1/session").status_code == 401


def test_bad_credentials_one_message(app: Any, tenant: Tenant) -> None:
    client = app.test_client()
    wrong_password = client.post("/api/v1/session", json={"username": tenant.writer, "password": "nope"})
    no_such_user = client.post("/api/v1/session", json={"username": "ghost-user", "password": "nope"})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.get_json() == no_such_user.get_json()
    for odd in ("..", "a/b", "x" * 100):
        reply = client.post("/api/v1/session", json={"username": odd, "password": "nope"})
        assert reply.status_code == 401 and reply.get_json() == wrong_password.get_json()
    assert wrong_password.get_json()["message"] == "Invalid username or password"


def test_repeated_failures_are_throttled_per_client_address(bao: BaoServer, users: Users) -> None:
    app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": "k" * 48, "LOGIN_MAX_FAILURES": 1})
    name, password = users.user()
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "198.51.100.7"}
    codes = [
        client.post(
            "/api/v1/session", json={"username": f"guess{n}", "password": "bad"}, environ_base=attacker
        ).status_code
        for n in range(4)
    ]
    assert codes == [401] * 4  # 4x NEXO_LOGIN_MAX_FAILURES per address
    locked = client.post("/api/v1/session", json={"username": name, "password": password}, environ_base=attacker)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert locked.get_json()["code"] == 429
    # Another address is not held up by it; per user name, OpenBao's own lockout counts.
    other = {"REMOTE_ADDR": "198.51.100.8"}
    assert (
        client.post("/api/v1/session", json={"username": name, "password": password}, environ_base=other).status_code
        == 200
    )


def test_behind_trusted_proxies_each_client_has_its_own_bucket(bao: BaoServer, users: Users) -> None:
    """NEXO_TRUSTED_PROXIES=1: the client address is the proxy's X-Forwarded-For entry."""
    settings = {"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": "k" * 48, "LOGIN_MAX_FAILURES": 1}
    name, password = users.user()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def sign_in(app: Any, client_address: str, secret: str) -> int:
        headers = {"X-Forwarded-For": client_address}
        body = {"username": name, "password": secret}
        return int(
            app.test_client().post("/api/v1/session", json=body, headers=headers, environ_base=proxy).status_code
        )

    behind = create_app({**settings, "TRUSTED_PROXIES": 1})
    assert [sign_in(behind, "203.0.113.1", "bad") for _ in range(4)] == [401] * 4
    assert sign_in(behind, "203.0.113.1", password) == 429
    assert sign_in(behind, "203.0.113.2", password) == 200  # another client behind the same proxy
    # Not configured: the header is the client's own claim and is ignored (no bucket hopping).
    direct = create_app(settings)
    assert [sign_in(direct, f"203.0.113.{n}", "bad") for n in range(10, 14)] == [401] * 4
    assert sign_in(direct, "203.0.113.99", password) == 429


def test_every_failed_sign_in_is_padded_to_the_same_floor(bao: BaoServer, users: Users, monkeypatch: Any) -> None:
    """Unknown names (a password hash in OpenBao), known names and impossible names all wait out
    the same floor: the time tells nothing. OpenBao's user lockout is off: after them all, the
    right password still signs in."""
    from app import auth

    app = create_app({"NEXO_ENV": "test", "VAULT_ADDRS": [bao.addr], "SECRET_KEY": "k" * 48, "LOGIN_MAX_FAILURES": 100})
    floors: list[float] = []
    monkeypatch.setattr(auth, "pad_failure", lambda started, floor: floors.append(floor))
    name, password = users.user()
    client = app.test_client()
    attempts = [("ghost-" + name, "bad"), (name, "bad")] + [(name, "bad")] * 6 + [("..", "bad")]
    codes = [client.post("/api/v1/session", json={"username": u, "password": p}).status_code for u, p in attempts]
    assert codes == [401] * len(attempts)
    assert floors == [app.config["LOGIN_FAILURE_SECONDS"]] * len(attempts) and floors[0] > 0
    assert client.post("/api/v1/session", json={"username": name, "password": password}).status_code == 200


def test_padding_waits_to_the_next_whole_floor(monkeypatch: Any) -> None:
    from app import auth

    slept: list[float] = []
    monkeypatch.setattr("app.auth.time.sleep", slept.append)
    for now in (10.07, 10.003, 10.3):
        monkeypatch.setattr("app.auth.time.monotonic", lambda now=now: now)
        auth.pad_failure(10.0, 0.25)
    assert [round(s, 3) for s in slept] == [0.18, 0.247, 0.2]


def test_logout_revokes_token(bao: BaoServer, app: Any, tenant: Tenant, login: Any) -> None:
    client = login(tenant.writer, tenant.password)
    cookie = client.http.get_cookie("nexo_session").value
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/session").status_code == 401
    # The old cookie replayed: its Vault token is revoked, so it is worthless.
    replay = app.test_client()
    replay.set_cookie("nexo_session", cookie)
    reply = replay.get(f"/api/v1/tenants/{tenant.name}/secrets")
    assert reply.status_code == 401 and reply.get_json()["code"] == 401


def test_revoked_token_gives_401(bao: BaoServer, tenant: Tenant, login: Any, users: Users) -> None:
    client = login(tenant.writer, tenant.password)
    # An operator revokes the session's token in Vault, out of band.
    token = session_token(client)
    assert bao.api("POST", "/v1/auth/token/revoke", json={"token": token}).status_code == 204
    assert client.get(f"/api/v1/tenants/{tenant.name}/secrets").status_code == 401
    assert client.get("/api/v1/session").status_code == 401


def test_bearer_token(app: Any, tenant: Tenant, users: Users) -> None:
    token = users.token(tenant.writer, tenant.password)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post(
        f"/api/v1/tenants/{tenant.name}/secrets", json={"key": "BEARER", "value": planted()}, headers=headers
    )
    assert created.status_code == 201 and created.get_json()["created_by"] == tenant.writer
    info = client.get("/api/v1/session", headers=headers).get_json()
    assert info["user"] == tenant.writer and info["csrf_token"] == ""
    assert client.get("/api/v1/session", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get(f"/api/v1/tenants/{tenant.name}/secrets").status_code == 401


def test_csrf_required_for_cookie_sessions(app: Any, tenant: Tenant, bao: BaoServer) -> None:
    client = app.test_client()
    csrf = client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password}).get_json()[
        "csrf_token"
    ]
    url = f"/api/v1/tenants/{tenant.name}/secrets"
    missing = client.post(url, json={"key": "CSRF_KEY", "value": planted()})
    wrong = client.post(url, json={"key": "CSRF_KEY", "value": planted()}, headers={"X-CSRF-Token": "x" * 43})
    assert missing.status_code == wrong.status_code == 403
    assert "CSRF" in missing.get_json()["message"]
    assert bao.api("GET", f"/v1/secret/metadata/tenants/{tenant.name}/CSRF_KEY").status_code == 404
    assert client.delete("/api/v1/session").status_code == 403  # logout is unsafe too
    ok = client.post(url, json={"key": "CSRF_KEY", "value": planted()}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_form_posts_are_refused(app: Any, tenant: Tenant) -> None:
    """A cross-site HTML form can only send form encodings: those are refused before sign-in."""
    client = app.test_client()
    reply = client.post("/api/v1/session", data={"username": tenant.writer, "password": tenant.password})
    assert reply.status_code == 415 and reply.get_json()["code"] == 415
    assert client.get_cookie("nexo_session") is None


def test_new_session_at_login(app: Any, tenant: Tenant, users: Users) -> None:
    client = app.test_client()
    first = client.post("/api/v1/session", json={"username": tenant.writer, "password": tenant.password}).get_json()
    second = client.post("/api/v1/session", json={"username": tenant.reader, "password": tenant.password}).get_json()
    assert first["csrf_token"] != second["csrf_token"]
    assert client.get("/api/v1/session").get_json()["user"] == tenant.reader


def test_a_password_typed_as_user_name_is_in_no_log_line(app: Any, monkeypatch: Any) -> None:
    """At every level, the service's JSON lines and urllib3's DEBUG lines (the URL of each call)
    included: a login path's name segment is never written down."""
    import io
    import logging

    from app import observe

    typed = planted("typed-as-user-name")  # passes the name rule once lowercased, so Vault is asked
    stream = io.StringIO()
    handler = observe.json_handler(stream)
    handler.setLevel(logging.DEBUG)
    plain = io.StringIO()
    plain_handler = logging.StreamHandler(plain)
    plain_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for h in (handler, plain_handler):
        root.addHandler(h)
    monkeypatch.setattr(root, "level", logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "app", "nexo"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    try:
        client = app.test_client()
        for username in (typed, typed.lower()):
            reply = client.post("/api/v1/session", json={"username": username, "password": "x"})
            assert reply.status_code == 401
    finally:
        for h in (handler, plain_handler):
            root.removeHandler(h)
    written = stream.getvalue() + plain.getvalue()
    assert "auth/userpass/login" in written  # the calls were logged, by operation or with the name blanked
    assert typed not in written and typed.lower() not in written


def test_names_vaults_route_refuses_are_bad_credentials(app: Any) -> None:
    """Vault's userpass route wants a name ending in a word character (else 405): a 401, not a 501."""
    client = app.test_client()
    for name in ("alice.", "nexo-tenant-", "bob@", "x-"):
        reply = client.post("/api/v1/session", json={"username": name, "password": "nope"})
        assert reply.status_code == 401 and reply.get_json()["message"] == "Invalid username or password", name
