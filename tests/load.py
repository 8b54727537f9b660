"""Load: many concurrent clients mixing list, resolve and update against the production server.

`python -m tests.load --clients 200 --seconds 30` starts its own OpenBao dev server and the
service under gunicorn (`nexo-secrets serve`), then runs the clients and prints: requests and
their statuses, latency percentiles per kind, lost updates (each client's last acknowledged
value must be the one Vault holds) and the workers' resident memory before and after.
Writers use `version` (check-and-set), so two clients sharing a key may see documented 409s.

With `--flood`, one reader of a 5,000-key tenant also sends searches that match nothing
(`?q=zz...&limit=1000`) at 20 requests/s, in blocks of a few seconds that alternate with quiet
ones; the other clients' latencies are reported for both kinds of block, and their ratio, with
`/healthz` probed throughout. `--flood-kind sessions`: the same reader signed in 8 times, each
search with the next of its 8 tokens (one caller all the same: its Vault entity). `--flood-kind
import`: one writer sends import dry runs of 500 keys instead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from app import access
from tests.conftest import start_bao_dev
from tests.procs import descendants, rss_mib, start_serve, stop

DOCUMENTED = {200, 201, 409, 429, 503}
TENANTS = 10
FLOOD_KEYS = 5000
FLOOD_RATE = 20  # searches per second
FLOOD_BLOCK = 3.0  # seconds; flood and quiet blocks alternate
FLOOD_KINDS = ("search", "sessions", "import")
FLOOD_SESSIONS = 8
IMPORT_KEYS = 500


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[f"{kind} {status}"] += 1
            self.latency.setdefault(kind, []).append(seconds)


def flooding(began: float, now: float) -> bool:
    """Whether `now` falls in a flood block (odd blocks; the first is quiet)."""
    return int((now - began) / FLOOD_BLOCK) % 2 == 1


def fill(bao: Any, tenant: str, count: int) -> None:
    """Write `count` keys with descriptions straight into Vault (setup, not measured)."""
    root = bao.root_token

    def one(i: int) -> None:
        key = f"FLOOD_{i:05d}"
        bao.vault.kv.write_value(root, tenant, key, f"flood-{i}", cas=0)
        # version_1_by as the service writes it: a listing checks the shape of keys made without it.
        bao.vault.kv.write_metadata(root, tenant, key, {"description": f"flooded key {i}", "version_1_by": "load"})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))


def flood(
    base: str, tokens: list[str], tenant: str, ends_at: float, began: float, tally: Tally, kind: str = "search"
) -> None:
    """Searches (or import dry runs) at FLOOD_RATE per second during flood blocks, not waiting
    for answers (open loop); each request with the next of `tokens`."""
    url = f"{base}/api/v1/tenants/{tenant}/secrets?limit=1000&q=" + "z" * 40
    content = "".join(f"IMPORTED_{i:04d}=dry-run-{i}\n" for i in range(IMPORT_KEYS))
    body = {"format": "dotenv", "content": content, "dry_run": True}
    local = threading.local()
    turn = iter(range(1 << 62))

    def search() -> None:
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        headers = {"Authorization": f"Bearer {tokens[next(turn) % len(tokens)]}"}
        started = time.perf_counter()
        if kind == "import":
            reply = http.post(f"{base}/api/v1/tenants/{tenant}/secrets/import", json=body, headers=headers, timeout=120)
        else:
            reply = http.get(url, headers=headers, timeout=120)
        tally.add("flood", reply.status_code, time.perf_counter() - started)

    with ThreadPoolExecutor(64) as pool:
        tick = time.monotonic()
        while tick < ends_at:
            if flooding(began, tick):
                pool.submit(search)
            tick += 1 / FLOOD_RATE
            time.sleep(max(0.0, tick - time.monotonic()))


def probe_health(base: str, ends_at: float, began: float, tally: Tally) -> None:
    """GET /healthz five times a second, tallied by the block it started in."""
    http = requests.Session()
    while time.monotonic() < ends_at:
        block = "flood" if flooding(began, time.monotonic()) else "quiet"
        started = time.perf_counter()
        try:
            status = http.get(f"{base}/healthz", timeout=30).status_code
        except requests.RequestException:
            status = 0
        tally.add(f"healthz ({block})", status, time.perf_counter() - started)
        time.sleep(0.2)


def run(
    clients: int,
    seconds: float,
    workers: int,
    value_prefix: str,
    with_flood: bool = False,
    flood_keys: int = FLOOD_KEYS,
    flood_kind: str = "search",
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="nexo-load-"))
    bao = start_bao_dev(tmp)
    service: subprocess.Popen[bytes] | None = None
    try:
        access.bootstrap(bao.vault, bao.root_token)
        tenants = [f"load{i}" for i in range(TENANTS)]
        bao.vault.auth.write_user(bao.root_token, "loader", "loader-password")
        for tenant in tenants:
            access.provision(bao.vault, bao.root_token, tenant)
            access.grant(bao.vault, bao.root_token, tenant, "loader", "write")
        writer = bao.vault.auth.login_userpass("loader", "loader-password")["client_token"]
        hub = bao.vault.transport.request("POST", "/v1/auth/token/create", bao.root_token, {"policies": ["nexo-hub"]})
        hub_token = hub["auth"]["client_token"]
        if with_flood:
            access.provision(bao.vault, bao.root_token, "flood")
            bao.vault.auth.write_user(bao.root_token, "flooder", "flooder-password")
            access.grant(bao.vault, bao.root_token, "flood", "flooder", "write" if flood_kind == "import" else "read")
            signs_in = FLOOD_SESSIONS if flood_kind == "sessions" else 1
            flooders = [
                bao.vault.auth.login_userpass("flooder", "flooder-password")["client_token"] for _ in range(signs_in)
            ]
            fill(bao, "flood", flood_keys)

        env = {k: v for k, v in os.environ.items() if k != "VAULT_TOKEN"}
        env.update({"VAULT_ADDR": bao.addr, "SECRET_KEY": "l" * 48, "NEXO_ENV": "production"})
        service, base = start_serve(env, tmp / "service.log", workers)
        memory_before = {pid: rss_mib(pid) for pid in descendants(service.pid)}

        # Every client owns one key (so its last acknowledged value is known) in one of the tenants.
        session = requests.Session()
        owned: list[tuple[str, str]] = []
        for i in range(clients):
            tenant, key = tenants[i % TENANTS], f"LOAD_{i:04d}"
            reply = session.post(
                f"{base}/api/v1/tenants/{tenant}/secrets",
                json={"key": key, "value": f"{value_prefix}-{i}-0", "description": f"load client {i}"},
                headers={"Authorization": f"Bearer {writer}"},
                timeout=30,
            )
            assert reply.status_code == 201, reply.text
            owned.append((tenant, key))

        # Each client is a person of its own (a caller is a Vault entity, app/limits.py), signed in
        # here one after the other: userpass logins are costly (password hashing), and 200 at once
        # would measure OpenBao's hashing rather than the service.
        writers = []
        for i in range(clients):
            person = f"loader{i}"
            bao.vault.auth.write_user(bao.root_token, person, "loader-password")
            access.grant(bao.vault, bao.root_token, owned[i][0], person, "write")
            writers.append(bao.vault.auth.login_userpass(person, "loader-password")["client_token"])
        tally = Tally()
        last_acknowledged: dict[int, str] = {i: f"{value_prefix}-{i}-0" for i in range(clients)}
        undocumented: list[str] = []
        ends_at = time.monotonic() + seconds
        start_gate = threading.Barrier(clients)

        def client(i: int) -> None:
            http = requests.Session()
            rng = random.Random(i)
            tenant, key = owned[i]
            version, n = 1, 0
            writer = writers[i]
            start_gate.wait()
            while time.monotonic() < ends_at:
                kind = rng.choice(("list", "resolve", "resolve", "update"))
                flooded = with_flood and flooding(began, time.monotonic())
                started = time.perf_counter()
                if kind == "list":
                    reply = http.get(
                        f"{base}/api/v1/tenants/{tenant}/secrets?limit=50",
                        headers={"Authorization": f"Bearer {writer}"},
                        timeout=60,
                    )
                elif kind == "resolve":
                    reply = http.post(
                        f"{base}/api/v1/tenants/{tenant}/resolve",
                        json={"parameters": [{"name": "p", "type": "SECRET", "value": key}]},
                        headers={"Authorization": f"Bearer {hub_token}"},
                        timeout=60,
                    )
                else:
                    n += 1
                    value = f"{value_prefix}-{i}-{n}"
                    reply = http.patch(
                        f"{base}/api/v1/tenants/{tenant}/secrets/{key}",
                        json={"value": value, "version": version},
                        headers={"Authorization": f"Bearer {writer}"},
                        timeout=60,
                    )
                    if reply.status_code == 200:
                        version = reply.json()["version"]
                        last_acknowledged[i] = value
                if with_flood:  # the block the request started in
                    kind += " (flood)" if flooded else " (quiet)"
                tally.add(kind, reply.status_code, time.perf_counter() - started)
                if reply.status_code not in DOCUMENTED:
                    undocumented.append(f"{kind} {reply.status_code}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        began = time.monotonic()
        if with_flood:
            threads.append(
                threading.Thread(target=flood, args=(base, flooders, "flood", ends_at, began, tally, flood_kind))
            )
            threads.append(threading.Thread(target=probe_health, args=(base, ends_at, began, tally)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        memory_after = {pid: rss_mib(pid) for pid in descendants(service.pid)}

        lost = []
        for i, (tenant, key) in enumerate(owned):
            stored, _ = bao.vault.kv.read_current(bao.root_token, tenant, key)
            if stored != last_acknowledged[i]:
                lost.append(key)

        total = sum(tally.statuses.values())
        report: dict[str, Any] = {
            "clients": clients,
            "seconds": round(elapsed, 1),
            "requests": total,
            "requests_per_s": round(total / elapsed, 1),
            "statuses": dict(sorted(tally.statuses.items())),
            "undocumented": len(undocumented),
            "lost_updates": len(lost),
            "latency_ms": {
                kind: {
                    "p50": round(statistics.median(values) * 1000, 1),
                    "p99": round(sorted(values)[int(len(values) * 0.99) - 1] * 1000, 1) if len(values) > 1 else None,
                }
                for kind, values in sorted(tally.latency.items())
            },
            "worker_rss_mib_before": sorted(round(v, 1) for v in memory_before.values()),
            "worker_rss_mib_after": sorted(round(v, 1) for v in memory_after.values()),
        }
        if with_flood:
            p50 = report["latency_ms"]
            report["flood_over_quiet_p50"] = {
                kind: round(p50[f"{kind} (flood)"]["p50"] / p50[f"{kind} (quiet)"]["p50"], 2)
                for kind in ("list", "resolve", "update", "healthz")
                if f"{kind} (flood)" in p50 and f"{kind} (quiet)" in p50
            }
            report["flood_kind"] = flood_kind
        report["service_log"] = str(tmp / "service.log")
        return report
    finally:
        if service is not None:
            stop(service)
        bao.process.terminate()
        bao.process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flood", action="store_true", help="one reader also floods with searches (see above)")
    parser.add_argument("--flood-kind", choices=FLOOD_KINDS, help="flood this way (implies --flood; see above)")
    args = parser.parse_args(argv)
    prefix = os.environ.get("NEXO_LOAD_VALUE_PREFIX") or f"load-{random.getrandbits(64):x}"
    kind = args.flood_kind or "search"
    report = run(
        args.clients,
        args.seconds,
        args.workers,
        prefix,
        with_flood=args.flood or bool(args.flood_kind),
        flood_kind=kind,
    )
    for name in ("clients", "seconds", "requests", "requests_per_s", "undocumented", "lost_updates"):
        print(f"{name:>22}: {report[name]}")
    for status, count in report["statuses"].items():
        print(f"{status:>22}: {count}")
    for kind, figures in report["latency_ms"].items():
        print(f"{kind + ' ms':>22}: p50 {figures['p50']}  p99 {figures['p99']}")
    if "flood_over_quiet_p50" in report:
        print(f"{'flood kind':>22}: {report['flood_kind']}")
        print(f"{'flood/quiet p50':>22}: {report['flood_over_quiet_p50']}")
        healthz = [v for k, v in report["latency_ms"].items() if k.startswith("healthz")]
        print(f"{'healthz worst p99 ms':>22}: {max((f['p99'] or f['p50'] for f in healthz), default=None)}")
    print(f"{'worker RSS MiB':>22}: before {report['worker_rss_mib_before']} after {report['worker_rss_mib_after']}")
    print(json.dumps(report))
    return 0 if report["undocumented"] == 0 and report["lost_updates"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
