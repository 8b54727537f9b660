"""The benchmark (python -m tests.bench) runs end to end, small: its own OpenBao, the service
under gunicorn, every measurement. No timing is asserted; only that each figure was taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEN, planted

REPO = Path(__file__).resolve().parents[1]

EXPECTED_ROWS = (
    "resolve 1 key: vs bare WSGI proxy",
    "resolve 20 keys: vs 20 hvac reads",
    "first page of 50, 200: vs OpenBao's page",
    "search 1 of 200: vs OpenBao's full LIST",
    "resolve 1 key: vs 1 hvac read",
    "floor: bare WSGI proxy vs 1 hvac read",
    "floor: plain Flask view vs bare WSGI proxy",
    "resolve 1 key: 8 clients",
    "first page of 50, 50: vs OpenBao's page",
    "fallback: first page of 50, 200",
    "create: 1 client",
    "create: 8 clients",
    "update value: 1 client",
    "update value: 8 clients",
)
TARGET_ROWS = EXPECTED_ROWS[:4]


def test_benchmark_runs_small_and_reports_every_figure(tmp_path: Path) -> None:
    # Every value the benchmark stores starts with this planted value: the suite's leak check
    # then covers the benchmark's servers' logs too.
    done = _module("tests.bench", "--small", "--workdir", str(tmp_path), NEXO_BENCH_VALUE_PREFIX=planted("bench"))
    logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
    SEEN.extend((f"benchmark {name}", text) for name, text in logs.items())
    assert done.returncode == 0, done.stderr[-3000:]

    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["sizes"] == {"small_tenant": 50, "large_tenant": 200, "rounds": 1}
    rows = result["rows"]
    for name in EXPECTED_ROWS:
        assert name in rows, name
        assert rows[name]["service_median"] > 0 and rows[name]["direct_median"] > 0, name
        assert name in done.stdout.split(lines[-1])[0], f"{name} missing from the table"
    for name in TARGET_ROWS:
        assert "target" in rows[name] and isinstance(rows[name]["met"], bool), name
    # CPU per call, from /proc, for each serving model: the service's default (gevent) and gthread.
    calls = ("resolve 1 key", "resolve 20 keys", "page of 50 of 50")
    assert set(result["cpu_per_call_ms"]) == {f"{c} ({m})" for c in calls for m in ("gevent", "gthread")}
    assert all(v["service"] >= 0 and v["openbao"] >= 0 for v in result["cpu_per_call_ms"].values())
    assert set(result["load"]) == {"gevent", "gthread"}
    assert all(f["p50_8_ms"] > 0 and f["p50_200_ms"] > 0 and f["rate_200"] > 0 for f in result["load"].values())
    assert "CPU per call (ms)" in done.stdout
    # The service's and the fallback's gunicorn masters had their two workers measured.
    assert sorted(result["worker_rss_mib"]) == ["fallback", "service"]
    assert [len(v) for v in result["worker_rss_mib"].values()] == [2, 2]
    assert all(mib > 0 for v in result["worker_rss_mib"].values() for mib in v)

    # The service really answered the calls: its access log has them, for each route measured.
    service_log = logs["service-service.log"]
    for route in ("/api/v1/tenants/<tenant>/resolve", "/api/v1/tenants/<tenant>/secrets"):
        assert f'"route": "{route}"' in service_log, route
    assert '"route": "/api/v1/tenants/<tenant>/secrets"' in logs["service-fallback.log"]


def test_ab_sets_each_variant_against_the_floor() -> None:
    done = _module("tests.bench.ab", "--rounds", "1", "--samples", "5", "metrics+login", "headers")
    assert done.returncode == 0, done.stderr[-3000:]
    ratios = {}
    for line in done.stdout.strip().splitlines()[1:]:
        name, ratio, rounds = line.rsplit(maxsplit=2)
        ratios[name.strip()] = float(ratio)
        assert float(rounds) == float(ratio)  # one round: its ratio is the median
    assert list(ratios) == [
        "plain Flask view",
        "service",
        "service without metrics+login",
        "service without headers",
    ]
    assert all(r > 0 for r in ratios.values())


def test_ab_refuses_a_rule_it_does_not_know() -> None:
    done = _module("tests.bench.ab", "access+speed")
    assert done.returncode == 2
    assert "unknown rule 'speed'" in done.stderr


def _module(name: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m name args` from the checkout, without the caller's VAULT_ and NEXO_ settings
    (plus `settings`); what it prints joins what the leak check searches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "NEXO_"))}
    done = subprocess.run(
        [sys.executable, "-m", name, *args],
        cwd=REPO,
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=600,
    )
    SEEN.append((f"{name} stdout", done.stdout))
    SEEN.append((f"{name} stderr", done.stderr))
    return done
