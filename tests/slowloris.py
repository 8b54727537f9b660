"""Slow clients against the service: `python -m tests.slowloris` (figures for docs/performance.md).

Starts its own OpenBao dev server and the service as `nexo-secrets serve` runs it (and, with
--nginx, Debian's nginx with the repository's front-door file in front of it). Then, for each
kind of slow client, it opens `--connections` unauthenticated connections from `--sources`
loopback addresses (127.0.0.2, 127.0.0.3, ...) that trickle one byte every `--interval`
seconds for `--seconds`, re-opening any the server closes:

- headers: a request head that never ends (`GET /healthz` and one more header byte each time);
- body: a sign-in whose announced 200 KB body comes one byte at a time;
- chunks: a sign-in whose chunked body comes one 1-byte chunk at a time.

Meanwhile, from 127.0.0.1, it calls `/healthz` (a new connection each time) and another user's
listing of 50 keys (a reader's Bearer token, kept-alive), and prints: /healthz p50 and worst,
the listing's p50 before (quiet) and during the trickle and their ratio, failed calls, and what
happened to the slow connections (opened, closed or refused by the server).
Targets (issue 22): /healthz under 1 s, the listing p50 within 2x quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets as _secrets
import select
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from app import access
from tests import front_door
from tests.conftest import free_port, start_bao_dev
from tests.procs import start_serve, stop

MODES = ("headers", "body", "chunks")
_START = {
    "headers": b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ",
    "body": b"POST /api/v1/session HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
    b"Content-Length: 200000\r\n\r\n",
    "chunks": b"POST /api/v1/session HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
}
_TRICKLE = {"headers": b"a", "body": b" ", "chunks": b"1\r\n \r\n"}
PROBE_TIMEOUT = 5.0  # a request timeout, so that a stalled service shows as failures, not a hang


@dataclass
class Attack:
    """Slow connections to host:port; counts what the server did with them."""

    host: str
    port: int
    mode: str
    count: int
    sources: int
    interval: float
    opened: int = 0
    closed_by_server: int = 0
    connect_failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def _open(self, i: int) -> socket.socket | None:
        sock = socket.socket()
        sock.settimeout(2.0)
        try:
            sock.bind((f"127.0.0.{2 + i % self.sources}", 0))
            sock.connect((self.host, self.port))
            sock.sendall(_START[self.mode])
        except OSError:
            sock.close()
            self.connect_failed += 1
            return None
        self.opened += 1
        return sock

    def run(self) -> None:
        socks: dict[int, socket.socket | None] = {i: self._open(i) for i in range(self.count)}
        while not self.stop.wait(self.interval):
            live = [s for s in socks.values() if s is not None]
            readable, _, _ = select.select(live, [], [], 0) if live else ([], [], [])
            for i, sock in list(socks.items()):
                if sock is not None and sock not in readable:
                    try:
                        sock.sendall(_TRICKLE[self.mode])
                        continue
                    except OSError:
                        pass
                if sock is not None:  # the server answered or closed it: count, and open another
                    self.closed_by_server += 1
                    sock.close()
                socks[i] = self._open(i)
        for sock in socks.values():
            if sock is not None:
                sock.close()

    def figures(self) -> dict[str, int]:
        return {"opened": self.opened, "closed_by_server": self.closed_by_server, "connect_failed": self.connect_failed}


def _timed(call: Any) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        ok = bool(call())
    except requests.RequestException:
        ok = False
    return time.perf_counter() - started, ok


def probe(base: str, listing: requests.Session, tenant: str, seconds: float) -> dict[str, list[float] | int]:
    """/healthz and a listing from 127.0.0.1, one after another, for `seconds`."""
    health: list[float] = []
    lists: list[float] = []
    failed = 0
    url = f"{base}/api/v1/tenants/{tenant}/secrets"
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        took, ok = _timed(
            lambda: requests.get(base + "/healthz", timeout=PROBE_TIMEOUT, headers={"Connection": "close"}).ok
        )
        health.append(took)
        failed += not ok
        took, ok = _timed(lambda: listing.get(url, params={"limit": 50}, timeout=PROBE_TIMEOUT).ok)
        lists.append(took)
        failed += not ok
        time.sleep(0.05)
    return {"healthz": health, "listing": lists, "failed": failed}


def _ms(values: list[float], q: float = 0.5) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def run(
    *,
    connections: int = 200,
    seconds: float = 60.0,
    modes: tuple[str, ...] = MODES,
    workers: int = 2,
    model: str | None = None,
    nginx: bool = False,
    sources: int = 20,
    interval: float = 2.0,
    value_prefix: str | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Start OpenBao, the service (and nginx), run each kind of slow client; return the figures."""
    folder = workdir or Path(tempfile.mkdtemp(prefix="nexo-slowloris-"))
    bao = start_bao_dev(folder)
    service = front = None
    try:
        root, tenant, password = bao.root_token, "slow-clients", _secrets.token_urlsafe(16)
        access.bootstrap(bao.vault, root)
        access.provision(bao.vault, root, tenant)
        bao.vault.auth.write_user(root, "slow-reader", password)
        access.grant(bao.vault, root, tenant, "slow-reader", "read")
        prefix = value_prefix or f"slow-{_secrets.token_hex(8)}"
        for i in range(50):
            bao.vault.kv.write_value(root, tenant, f"KEY_{i:02d}", f"{prefix}-{i}", cas=0)
        token = bao.vault.auth.login_userpass("slow-reader", password)["client_token"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "NEXO_", "PROMETHEUS_"))}
        env.update(NEXO_ENV="production", SECRET_KEY=_secrets.token_urlsafe(48), VAULT_ADDR=bao.addr)
        if model:
            env["NEXO_SERVING_MODEL"] = model
        if nginx:
            env["NEXO_TRUSTED_PROXIES"] = "1"
            env["NEXO_MAX_CONNECTIONS_PER_ADDRESS"] = "0"  # as in compose: nginx limits per client
        service, base = start_serve(env, folder / "service.log", workers)
        if nginx:
            front = front_door.start(folder / "nginx", base.removeprefix("http://"), free_port())
            base = front.base
        host, port = base.removeprefix("http://").split(":")
        listing = requests.Session()
        listing.headers["Authorization"] = f"Bearer {token}"
        quiet = probe(base, listing, tenant, min(5.0, seconds))
        results: dict[str, Any] = {"quiet": _summary(quiet, None)}
        for mode in modes:
            attack = Attack(host, int(port), mode, connections, sources, interval)
            thread = threading.Thread(target=attack.run, daemon=True)
            thread.start()
            time.sleep(min(2.0, interval))  # the slow connections are open and waiting
            loud = probe(base, listing, tenant, seconds)
            attack.stop.set()
            thread.join(30)
            results[mode] = {**_summary(loud, quiet), "slow_connections": attack.figures()}
        results["service_log"] = str(folder / "service.log")
        results["nginx_log"] = front.log() if front else ""
        return results
    finally:
        if front is not None:
            front.stop()
        if service is not None:
            stop(service)
        bao.process.terminate()
        bao.process.wait(15)


def _summary(found: dict[str, Any], quiet: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "healthz_p50_ms": _ms(found["healthz"]),
        "healthz_worst_ms": _ms(found["healthz"], 1.0),
        "listing_p50_ms": _ms(found["listing"]),
        "calls": len(found["healthz"]) + len(found["listing"]),
        "failed": found["failed"],
    }
    if quiet is not None and quiet["listing"]:
        out["listing_vs_quiet"] = round(statistics.median(found["listing"]) / statistics.median(quiet["listing"]), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.slowloris", description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="per kind of slow client")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workers", type=int, default=2, help="2: as `serve`; 1: as `dev`")
    parser.add_argument("--model", choices=("gevent", "gthread"), help="NEXO_SERVING_MODEL (default: the service's)")
    parser.add_argument("--nginx", action="store_true", help="through the front door (Debian's nginx)")
    parser.add_argument("--sources", type=int, default=20, help="loopback addresses the slow clients come from")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two bytes")
    args = parser.parse_args(argv)
    report = run(
        connections=args.connections, seconds=args.seconds, modes=tuple(args.modes.split(",")),
        workers=args.workers, model=args.model, nginx=args.nginx, sources=args.sources, interval=args.interval,
    )  # fmt: skip
    head = (
        f"{'':<8} {'healthz p50':>12} {'worst':>8} {'listing p50':>12} {'x quiet':>8} {'failed':>7}  slow connections"
    )
    print(head)
    for mode in ("quiet", *args.modes.split(",")):
        row = report[mode]
        slow = row.get("slow_connections", {})
        print(
            f"{mode:<8} {row['healthz_p50_ms']:>10.1f}ms {row['healthz_worst_ms']:>6.0f}ms {row['listing_p50_ms']:>10.1f}ms "
            f"{row.get('listing_vs_quiet', 1.0):>8.2f} {row['failed']:>4}/{row['calls']:<4}"
            f"  {', '.join(f'{k} {v}' for k, v in slow.items())}"
        )
    print(json.dumps({k: v for k, v in report.items() if not k.endswith("_log")}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
