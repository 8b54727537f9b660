"""What references cost, in one run: `python -m tests.bench.references` (docs/performance.md).

Starts its own OpenBao dev server and the service under the gunicorn settings of `nexo-secrets
serve`, writes two tenants of 10,000 secrets straight into Vault (setup, not measured), has the
Hub declare 1,000 referrers of three keys each for one of them through the service (setup), then
measures side by side, interleaved in rounds:

- the first page of 50 of the tenant with references vs. the same page of the tenant without
  (target: at most 1.3x);
- `check` of 20 SECRET parameters vs. a page of 50 (target: at most 1.3x);
- the first page of 50 of the Unused filter (`?unused=true`: no referrer, not resolved lately;
  about a third of the keys are named, so its scan reads past them) vs. the plain page of 50
  (our target: at most 1.3x, as for the other listings).

Each row gives the median latency ratio over rounds and the CPU per call, from /proc, of the
service's workers and of OpenBao, for each side. A delete's reference check is one Vault listing
of the tenant's references by construction; tests/test_references.py counts it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from app import access
from app.vault import Vault
from tests.bench.cpu import cpu_seconds
from tests.bench.run import _session as session
from tests.bench.run import key_name, populate, start_bao, start_server, stop, workers_of


def measure(
    sides: dict[str, Callable[[], None]], service: list[int], bao: int, rounds: int, calls: int
) -> dict[str, dict[str, list[float]]]:
    """Per side and round: median latency (ms), and CPU per call (ms) of the service and OpenBao."""
    out: dict[str, dict[str, list[float]]] = {name: {"ms": [], "service_cpu": [], "bao_cpu": []} for name in sides}
    for call in sides.values():
        for _ in range(5):
            call()
    for _ in range(rounds):
        for name, call in sides.items():
            times = []
            before_service, before_bao = cpu_seconds(service), cpu_seconds([bao])
            for _ in range(calls):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            out[name]["service_cpu"].append((cpu_seconds(service) - before_service) / calls * 1000)
            out[name]["bao_cpu"].append((cpu_seconds([bao]) - before_bao) / calls * 1000)
            out[name]["ms"].append(statistics.median(times) * 1000)
    return out


def row(
    label: str, target: float, numerator: dict[str, list[float]], denominator: dict[str, list[float]]
) -> dict[str, Any]:
    ratios = [a / b for a, b in zip(numerator["ms"], denominator["ms"], strict=True)]
    ratio = statistics.median(ratios)
    return {
        "row": label,
        "ratio": round(ratio, 2),
        "target": target,
        "met": ratio <= target,
        "rounds": [round(r, 2) for r in ratios],
        "service_cpu_ms": [
            round(statistics.median(numerator["service_cpu"]), 2),
            round(statistics.median(denominator["service_cpu"]), 2),
        ],
        "bao_cpu_ms": [
            round(statistics.median(numerator["bao_cpu"]), 2),
            round(statistics.median(denominator["bao_cpu"]), 2),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--referrers", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args(argv)
    prefix = os.environ.get("NEXO_BENCH_VALUE_PREFIX") or f"bench-{random.randrange(1 << 30):x}"
    workdir = Path(tempfile.mkdtemp(prefix="nexo-bench-refs-"))
    addr, root, bao = start_bao(workdir)
    processes = [bao]
    try:
        vault = Vault([addr])
        access.bootstrap(vault, root)
        password = "bench-" + os.urandom(8).hex()
        vault.auth.write_user(root, "bench-reader", password)
        for tenant in ("refs", "plain"):
            access.provision(vault, root, tenant)
            access.grant(vault, root, tenant, "bench-reader", "read")
            populate(addr, root, tenant, args.keys, prefix)
        reader = vault.auth.login_userpass("bench-reader", password)["client_token"]
        creds = access.hub_credentials(vault, root, issued_by="bench")
        hub = vault.auth.login_approle(creds.role_id, creds.secret_id)["client_token"]
        vault.close()
        url, server = start_server(addr, workdir, "service", None)
        processes.append(server)
        service = workers_of(server.pid)
        chooser = random.Random(25)
        hub_session = session(hub)

        def declare(n: int) -> None:
            keys = chooser.sample(range(args.keys), 3)
            body = {
                "name": f"Action {n}",
                "parameters": [{"name": f"p{i}", "type": "SECRET", "value": key_name(k)} for i, k in enumerate(keys)],
            }
            reply = hub_session.put(f"{url}/api/v1/tenants/refs/references/action/a{n}", json=body, timeout=60)
            if reply.status_code != 200:
                raise RuntimeError(f"declare answered {reply.status_code}")

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(declare, range(args.referrers)))
        print(f"# declared {args.referrers} referrers in {time.perf_counter() - started:.1f}s", file=sys.stderr)

        members = session(reader)
        expect = [key_name(i) for i in range(min(50, args.keys))]

        def page(tenant: str) -> Callable[[], None]:
            def call() -> None:
                reply = members.get(f"{url}/api/v1/tenants/{tenant}/secrets", params={"limit": 50}, timeout=60)
                if reply.status_code != 200 or [i["key"] for i in reply.json()["items"]] != expect:
                    raise RuntimeError(f"page of {tenant} answered {reply.status_code}")

            return call

        def unused() -> None:
            reply = members.get(
                f"{url}/api/v1/tenants/refs/secrets", params={"limit": "50", "unused": "true"}, timeout=60
            )
            full = args.keys - 3 * args.referrers >= 50  # at least 50 keys no referrer names
            if reply.status_code != 200 or (full and len(reply.json()["items"]) != 50):
                raise RuntimeError(f"the Unused page answered {reply.status_code}")

        check_body = {
            "parameters": [{"name": f"p{i}", "type": "SECRET", "value": key_name(i * 7 % args.keys)} for i in range(20)]
        }

        def check() -> None:
            reply = hub_session.post(f"{url}/api/v1/tenants/refs/check", json=check_body, timeout=60)
            if reply.status_code != 200 or len(reply.json()["check"]) != 20:
                raise RuntimeError(f"check answered {reply.status_code}")

        direct = requests.Session()
        direct.headers["X-Vault-Token"] = reader
        read_pool = ThreadPoolExecutor(max_workers=16)

        def direct_reads() -> None:
            # The floor of a check: OpenBao's own 20 metadata reads, 16 at once as the service makes them.
            def one(i: int) -> None:
                if (
                    direct.get(
                        f"{addr}/v1/secret/metadata/tenants/refs/{key_name(i * 7 % args.keys)}", timeout=60
                    ).status_code
                    != 200
                ):
                    raise RuntimeError("a metadata read failed")

            list(read_pool.map(one, range(20)))

        def direct_list() -> None:
            reply = direct.request(
                "LIST", f"{addr}/v1/secret/detailed-metadata/tenants/refs/", params={"limit": 51}, timeout=60
            )
            if reply.status_code != 200:
                raise RuntimeError("the LIST failed")

        figures = measure(
            {
                "page, references": page("refs"),
                "page, none": page("plain"),
                "check of 20": check,
                "unused page": unused,
                "20 reads": direct_reads,
                "LIST 51": direct_list,
            },
            service,
            bao.pid,
            args.rounds,
            args.calls,
        )
        rows = [
            row(
                f"page of 50 with {args.referrers:,} referrers vs without",
                1.3,
                figures["page, references"],
                figures["page, none"],
            ),
            row("check of 20 parameters vs a page of 50", 1.3, figures["check of 20"], figures["page, references"]),
            row("unused page of 50 vs a page of 50", 1.3, figures["unused page"], figures["page, references"]),
            # The floor of the row above, measured in the same run: OpenBao alone, no service.
            row("floor: 20 OpenBao metadata reads vs its LIST of 51", 0, figures["20 reads"], figures["LIST 51"]),
        ]
        print(f"{'row':<46} {'ratio':>6} {'target':>6}  {'service CPU ms/call':>20}  {'OpenBao CPU ms/call':>20}")
        for r in rows:
            print(
                f"{r['row']:<46} {r['ratio']:>6} {r['target']:>6}  "
                f"{r['service_cpu_ms'][0]:>9} vs {r['service_cpu_ms'][1]:<8} {r['bao_cpu_ms'][0]:>9} vs {r['bao_cpu_ms'][1]:<8}"
                f" {('met' if r['met'] else 'MISSED') if r['target'] else 'floor'}"
            )
        print(json.dumps({"references_bench": rows}))
    finally:
        stop(processes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
