"""The serving configuration (app/serving.py) under real servers: `nexo-secrets serve` (gunicorn,
gevent workers), Debian's nginx running the repository's front-door file, OpenBao.

Slow clients are run short here (a few seconds) with correctness checks only; the 60 s figures
come from `python -m tests.slowloris` (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app import serving
from tests import front_door, helpers, slowloris
from tests.conftest import SEEN, BaoServer, free_port, planted
from tests.procs import metrics_url, start_serve, stop

pytestmark = pytest.mark.system

SHAPE = {"code", "status", "message"}


def _env(bao: BaoServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "NEXO_", "PROMETHEUS_"))}
    env.update(VAULT_ADDR=bao.addr, SECRET_KEY="s" * 48, NEXO_ENV="production", **extra)
    return env


@pytest.fixture
def served(bao: BaoServer, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`nexo-secrets serve` (1 worker) with production settings."""
    env = _env(bao)
    log = tmp_path / "serve.log"
    process, base = start_serve(env, log, workers=1)
    try:
        yield base, env
    finally:
        stop(process)
        SEEN.append(("serve log", log.read_text(errors="replace")))


@pytest.fixture
def behind_nginx(served: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[front_door.Nginx]:
    base, _ = served
    nginx = front_door.start(tmp_path / "nginx", base.removeprefix("http://"), free_port())
    try:
        yield nginx
    finally:
        nginx.stop()
        SEEN.append(("nginx logs", nginx.log()))


def test_serve_and_dev_run_the_one_serving_configuration() -> None:
    argv = serving.argv(["127.0.0.1:1"], 3, "--pid", "x")
    assert argv[argv.index("--config") + 1] == "python:app.serving" and argv[-1] == "app.wsgi:app"
    assert argv[argv.index("--workers") + 1] == "3"
    assert serving.binds("h", 1, {"METRICS_PORT": 0}) == ["h:1"]
    assert serving.binds("h", 1, {"METRICS_PORT": 9}) == ["h:1", "h:9"]
    assert serving.worker_class == "app.serving.GeventWorker"
    dockerfile = (front_door.REPO / "Dockerfile").read_text()
    assert '"nexo-secrets", "serve"' in dockerfile  # the image runs `serve`, hence this configuration


def test_the_front_door_file_passes_nginx_t(tmp_path: Path) -> None:
    checked = front_door.check(front_door.configure(tmp_path, "127.0.0.1:9", free_port()))
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


CAP = 256 * 1024  # app/factory.py MAX_CONTENT_LENGTH, nginx's client_max_body_size


def _post(url: str, size: int, chunked: bool = False) -> requests.Response:
    """A JSON body of `size` + 2 bytes, with a Content-Length or (`chunked`) in 64 KiB chunks."""
    body = b"{" + b" " * size + b"}"
    data: Any = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_gets_a_readable_413_directly_and_through_nginx(
    served: tuple[str, dict[str, str]], behind_nginx: front_door.Nginx, chunked: bool
) -> None:
    base, _ = served
    url = "/api/v1/tenants/demo/secrets/import"
    for where in (base, behind_nginx.base):
        reply = _post(where + url, 500_000, chunked)  # the 500 KB import of the finding
        assert reply.status_code == 413, (where, reply.text)
        assert set(reply.json()) >= SHAPE and reply.json()["code"] == 413
        assert reply.json()["message"] == "The request body is too large"
        assert reply.headers["Content-Type"] == "application/json"
        # The connection was drained, not reset: the next request on a new one is answered.
        assert requests.get(where + "/healthz", timeout=5).status_code == 200
        # At the cap exactly, nginx passes it on and the service itself judges it (not a 413).
        at_cap = _post(where + url, CAP - 2, chunked)
        assert at_cap.status_code in (401, 422) and set(at_cap.json()) >= SHAPE, (where, at_cap.text)
    assert "buffered to a temporary file" not in behind_nginx.log()  # bodies stay in memory


def test_nginx_forwards_the_client_address_and_answers_in_the_error_shape(
    served: tuple[str, dict[str, str]], behind_nginx: front_door.Nginx, tmp_path: Path
) -> None:
    reply = requests.get(behind_nginx.base + "/api/v1/session", timeout=5)
    assert reply.status_code == 401 and set(reply.json()) >= SHAPE
    assert "Server" not in reply.headers or "nginx/" not in reply.headers["Server"]  # server_tokens off
    assert requests.get(behind_nginx.base + "/metrics", timeout=5).status_code == 404


def _limited(served: tuple[str, dict[str, str]], folder: Path, **settings: str) -> front_door.Nginx:
    """nginx with the template's per-address limits set low (compose's front-door variables)."""
    return front_door.start(folder, served[0].removeprefix("http://"), free_port(), settings=settings)


def _refused_by_nginx(status: int, headers: dict[str, str], text: str) -> None:
    """nginx's own 429 (error_page @too_many): the one error shape, Retry-After, not cached."""
    assert status == 429, text
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    assert headers["Retry-After"] == "1"
    answer = json.loads(text)
    assert set(answer) >= SHAPE and answer["code"] == 429 and "this address" in answer["message"]


def test_nginx_limits_requests_per_address(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    """limit_req at 1 request a minute plus a burst of 1: an address's third request is refused,
    whatever the time between them (the minute cannot pass); other addresses are served."""
    nginx = _limited(served, tmp_path / "nginx", NEXO_RATE_LIMIT="1r/m", NEXO_RATE_BURST="1")
    try:
        codes = [helpers.request_from("127.0.0.3", nginx.base, "GET", "/healthz")[0] for _ in range(2)]
        assert codes == [200, 200]  # the rate's one and the burst's one
        _refused_by_nginx(*helpers.request_from("127.0.0.3", nginx.base, "GET", "/api/v1/session"))
        assert helpers.request_from("127.0.0.4", nginx.base, "GET", "/healthz")[0] == 200
        assert requests.get(served[0] + "/healthz", timeout=5).status_code == 200  # the service never saw them
        assert "limiting requests" in nginx.log()
    finally:
        nginx.stop()
        SEEN.append(("nginx logs (limit_req)", nginx.log()))


def _held(base: str, source: str) -> socket.socket:
    """A connection from `source` inside a request: its head sent, its body not; back once nginx
    says it reads the body (100 Continue), so the request holds one of the address's connections."""
    host, port = base.removeprefix("http://").split(":")
    sock = _slow(
        host,
        int(port),
        source,
        b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 64\r\nExpect: 100-continue\r\n\r\n",
    )
    assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
    return sock


def test_nginx_limits_open_connections_per_address(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    nginx = _limited(served, tmp_path / "nginx", NEXO_CONN_LIMIT="2")
    held = [_held(nginx.base, "127.0.0.5") for _ in range(2)]
    try:
        _refused_by_nginx(*helpers.request_from("127.0.0.5", nginx.base, "GET", "/healthz"))
        assert helpers.request_from("127.0.0.6", nginx.base, "GET", "/healthz")[0] == 200  # other addresses
        assert requests.get(served[0] + "/healthz", timeout=5).status_code == 200
        assert "limiting connections" in nginx.log()
    finally:
        for sock in held:
            sock.close()
        nginx.stop()
        SEEN.append(("nginx logs (limit_conn)", nginx.log()))


def _certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1, as an operator would provide one (tls.crt, tls.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True)
    (folder / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


def test_the_front_door_terminates_tls_with_the_operators_certificate(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The README's TLS steps on the template: HTTPS to nginx, the service behind it told https."""
    base, _ = served
    certs = _certificate(tmp_path / "certs")
    ca = str(certs / "tls.crt")
    nginx = front_door.start(tmp_path / "nginx", base.removeprefix("http://"), free_port(), certs, verify=ca)
    try:
        assert nginx.base.startswith("https://")
        reply = requests.get(nginx.base + "/healthz", timeout=5, verify=ca)
        assert reply.status_code == 200
        assert reply.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"  # the service's own
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(nginx.base + "/healthz", timeout=5)  # not a certificate the system trusts
    finally:
        nginx.stop()
        SEEN.append(("nginx TLS logs", nginx.log()))


def test_metrics_only_on_their_own_listener(bao: BaoServer, tmp_path: Path) -> None:
    port = free_port()
    process, base = start_serve(_env(bao, NEXO_METRICS_PORT=str(port)), tmp_path / "serve.log", workers=1)
    try:
        public = requests.get(base + "/metrics", timeout=5)
        assert public.status_code == 404 and set(public.json()) >= SHAPE
        # A Host header naming the metrics port changes nothing: the port is the socket's.
        spoofed = requests.get(base + "/metrics", headers={"Host": f"127.0.0.1:{port}"}, timeout=5)
        assert spoofed.status_code == 404
        scraped = requests.get(metrics_url(base, port), timeout=5)
        assert scraped.status_code == 200 and "nexo_http_requests_total" in scraped.text
    finally:
        stop(process)
    process, base = start_serve(_env(bao), tmp_path / "serve2.log", workers=1)
    try:
        assert requests.get(base + "/metrics", timeout=5).status_code == 404  # no port set: no /metrics
    finally:
        stop(process)


def _slow(host: str, port: int, source: str, start: bytes) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)  # a request timeout, not a measurement
    sock.bind((source, 0))
    sock.connect((host, port))
    sock.sendall(start)
    return sock


def test_one_address_gets_a_few_connections_and_a_slow_request_is_cut(bao: BaoServer, tmp_path: Path) -> None:
    env = _env(bao, NEXO_MAX_CONNECTIONS_PER_ADDRESS="5", NEXO_REQUEST_READ_SECONDS="2")
    process, base = start_serve(env, tmp_path / "serve.log", workers=1)
    try:
        _one_address(base)
    finally:
        stop(process)
        SEEN.append(("serve log (limits)", (tmp_path / "serve.log").read_text(errors="replace")))


def _one_address(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    body_start = slowloris._START["body"]
    held = [_slow(host, int(port), "127.0.0.7", body_start) for _ in range(5)]
    try:
        extra = _slow(host, int(port), "127.0.0.7", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = extra.recv(4096).decode()
        extra.close()
        assert answer.startswith("HTTP/1.1 429"), answer
        assert json.loads(answer.split("\r\n\r\n", 1)[1])["code"] == 429
        assert requests.get(base + "/healthz", timeout=5).status_code == 200  # other addresses are served
        # The held ones trickle too slowly: past the read deadline the service answers and closes.
        for sock in held:
            sock.sendall(b" ")
        answers = [sock.recv(4096) for sock in held]
        assert all(a.startswith(b"HTTP/1.1 400") for a in answers), answers
    finally:
        for sock in held:
            sock.close()


def _check(report: dict[str, Any]) -> None:
    for mode in slowloris.MODES:
        row = report[mode]
        assert row["failed"] == 0, (mode, row)  # every /healthz and listing answered within the timeout
        assert row["calls"] > 0 and row["slow_connections"]["opened"] >= 200, (mode, row)


def test_two_hundred_slow_clients_do_not_stall_serve_as_dev_runs_it() -> None:
    """One worker, as `nexo-secrets dev` runs it: headers, bodies and chunks trickled by 200."""
    report = slowloris.run(connections=200, seconds=5, workers=1, interval=1.0, value_prefix=planted("slow"))
    SEEN.append(("slowloris service log", Path(report["service_log"]).read_text(errors="replace")))
    _check(report)


def test_two_hundred_slow_clients_through_nginx() -> None:
    report = slowloris.run(
        connections=200, seconds=5, workers=2, interval=1.0, nginx=True, value_prefix=planted("slow-nginx")
    )
    SEEN.append(("slowloris service log (nginx)", Path(report["service_log"]).read_text(errors="replace")))
    SEEN.append(("slowloris nginx log", report["nginx_log"]))
    _check(report)
    # The service saw the clients' own addresses (X-Forwarded-For from nginx, NEXO_TRUSTED_PROXIES=1).
    remotes = {
        json.loads(line).get("remote")
        for line in Path(report["service_log"]).read_text().splitlines()
        if line.startswith("{") and '"nexo.access"' in line
    }
    assert "127.0.0.1" in remotes


def test_slowloris_script_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert slowloris.main(["--connections", "20", "--seconds", "2", "--workers", "1", "--modes", "headers"]) == 0
    out = capsys.readouterr().out
    SEEN.append(("slowloris output", out))
    assert out.splitlines()[0].split()[:2] == ["healthz", "p50"]
    figures = json.loads(out.splitlines()[-1])
    assert figures["headers"]["failed"] == 0


def test_a_secret_key_is_required_by_every_replica_in_compose() -> None:
    """docker-compose.ha.yml's second replica states its own SECRET_KEY: it must require it too."""
    for name in ("docker-compose.yml", "docker-compose.ha.yml"):
        text = (front_door.REPO / name).read_text()
        keys = [line.strip() for line in text.splitlines() if line.strip().startswith("SECRET_KEY:")]
        assert keys and all(k.startswith("SECRET_KEY: ${SECRET_KEY:?") for k in keys), (name, keys)
