"""CPU per call, from /proc, for each serving model: part of `python -m tests.bench`.

For a one-key resolve, a 20-key resolve and a page of 50, one client calls the service back to
back; the CPU time (user + system, /proc/<pid>/stat) the service's gunicorn workers and the
OpenBao server spent meanwhile, divided by the calls, is the cost per call; their ratio is the
service's cost per unit of Vault's (target for the one-key resolve: at most 1.5). Beside it, for
the one-key resolve: p50 latency with 8 and with 200 concurrent clients, and the calls per second
the 200 made. Each serving model (NEXO_SERVING_MODEL) runs in its own gunicorn with the same
settings otherwise. The machine is shared: CPU per call moves less with other people's load
than latency does, but every figure is noisy.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
CPU_TARGET = 1.5  # the service's CPU per one-key resolve, per unit of OpenBao's for the same read


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (their finished threads included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


@dataclass
class Cost:
    """CPU per call of one kind of call under one serving model, in ms."""

    model: str
    call: str
    service_ms: list[float] = field(default_factory=list)  # one figure per round
    vault_ms: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return statistics.median(
            s / v if v else float("inf") for s, v in zip(self.service_ms, self.vault_ms, strict=True)
        )


def cost(call: Callable[[], Any], calls: int, service: list[int], vault: int) -> tuple[float, float]:
    """(service ms, OpenBao ms) of CPU per call over `calls` back-to-back calls."""
    for _ in range(min(10, calls)):
        call()
    before_s, before_v = cpu_seconds(service), cpu_seconds([vault])
    for _ in range(calls):
        call()
    after_s, after_v = cpu_seconds(service), cpu_seconds([vault])
    return (after_s - before_s) * 1000 / calls, (after_v - before_v) * 1000 / calls


def _clients(factory: Callable[[], Callable[[], Any]], threads: int, seconds: float, queue: Any) -> None:
    """One process of `threads` clients, each with its own connection; reports its latencies."""
    try:
        calls = [factory() for _ in range(threads)]
        found: list[float] = []
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def client(call: Callable[[], Any]) -> None:
            mine = []
            while time.monotonic() < deadline:
                started = time.perf_counter()
                call()
                mine.append(time.perf_counter() - started)
            with lock:
                found.extend(mine)

        workers = [threading.Thread(target=client, args=(c,)) for c in calls]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        queue.put(found)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        queue.put(f"{type(exc).__name__}: {exc}")


def gather(workers: list[Any], queue: Any, seconds: float) -> list[Any]:
    """Start the client processes and collect each one's result; a client's failure (a string)
    fails the run."""
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise RuntimeError("a benchmark client failed: " + failed[0])
    return results


def concurrent(factory: Callable[[], Callable[[], Any]], clients: int, seconds: float) -> tuple[float, float]:
    """(p50 ms, calls per second) with `clients` concurrent clients, spread over a few processes."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = min(clients, 8)
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    workers = [context.Process(target=_clients, args=(factory, n, seconds, queue)) for n in shares]
    results = gather(workers, queue, seconds)
    latencies = [x for r in results for x in r]
    return statistics.median(latencies) * 1000, len(latencies) / seconds


def table(costs: list[Cost], load: dict[str, dict[str, float]]) -> str:
    head = f"{'CPU per call (ms)':<28} {'model':<8} {'service':>8} {'OpenBao':>8} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for c in costs:
        target = (
            f"  <= {CPU_TARGET:g} {'met' if c.ratio() <= CPU_TARGET else 'MISSED'}" if c.call == "resolve 1 key" else ""
        )
        lines.append(
            f"{c.call:<28} {c.model:<8} {statistics.median(c.service_ms):>8.2f} {statistics.median(c.vault_ms):>8.2f}"
            f" {c.ratio():>6.2f}{target}"
        )
    lines.append(f"{'resolve 1 key under load':<28} {'model':<8} {'p50 @8':>8} {'p50 @200':>9} {'calls/s @200':>13}")
    for model, figures in load.items():
        lines.append(
            f"{'':<28} {model:<8} {figures['p50_8_ms']:>6.1f}ms {figures['p50_200_ms']:>7.1f}ms {figures['rate_200']:>13.0f}"
        )
    lines.append(
        "CPU: user+system from /proc of the service's gunicorn workers and of OpenBao, per call; medians of rounds"
    )
    return "\n".join(lines)
