"""What bounds the one-key resolve: `python -m tests.bench.ab [--rounds N] [VARIANT ...]`.

Against the bare WSGI proxy (the floor), under the same gunicorn settings: a plain Flask view
(tests/bench/flask_wsgi.py), the service, and the service without some of its per-request rules
(tests/bench/rules_wsgi.py; a VARIANT names them, joined by '+', e.g. `access+metrics`). Each
round measures every server against the floor, interleaved in blocks; the line gives the median
of the rounds' ratios of p50s. Default variants: every rule off, then each rule alone off."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import uuid
from pathlib import Path

from tests.bench import run

RULES = ("access", "metrics", "headers", "login", "session", "guard")
DEFAULT = ("+".join(RULES), *RULES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="*", help=f"rules off, joined by '+' (rules: {', '.join(RULES)})")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=300, help="calls per side per round")
    args = parser.parse_args(argv)
    variants = args.variants or list(DEFAULT)
    for variant in variants:
        unknown = set(variant.split("+")) - set(RULES)
        if unknown:
            parser.error(f"unknown rule {sorted(unknown)[0]!r}; rules: {', '.join(RULES)}")
    workdir = Path(tempfile.mkdtemp(prefix="nexo-ab-"))
    env = run.setup(workdir, run.Sizes(small_tenant=20, large_tenant=30), f"bench-{uuid.uuid4().hex}")
    try:
        servers = {"plain Flask view": run.start_server(env.vault_addr, workdir, "flask", "tests.bench.flask_wsgi:app")}
        servers["service"] = (env.service, env.servers["service"])
        for variant in variants:
            os.environ["BENCH_WITHOUT"] = variant.replace("+", ",")
            name = f"service without {variant}"
            servers[name] = run.start_server(env.vault_addr, workdir, variant, "tests.bench.rules_wsgi:app")
        env.processes.extend(process for _, process in servers.values() if process not in env.processes)
        one, tenant = [run.key_name(7)], env.tenants["1k"]
        floor = run.resolve(env.bare, env, tenant, one)
        ratios: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (url, _process) in servers.items():
                left, right = run.latencies((floor, run.resolve(url, env, tenant, one)), args.samples)
                ratios[name].append(statistics.median(right) / statistics.median(left))
        print(f"{'one-key resolve vs bare WSGI proxy':<62} {'ratio':>6}  rounds")
        for name, values in ratios.items():
            print(f"{name:<62} {statistics.median(values):>6.2f}  {', '.join(f'{v:.2f}' for v in values)}")
    finally:
        run.stop(env.processes)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
