"""Processes for the tests: `nexo-secrets serve` started and stopped, and facts read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children, ...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
                found += descendants(int(entry.name))
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (0 if it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_serve(env: dict[str, str], log_path: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """`nexo-secrets serve` (gunicorn) on a free port with env, output to log_path.

    Returns the process and its base URL once /readyz answers 200; fails with the log's tail
    if the server dies or is not ready within a minute."""
    from tests.conftest import free_port

    port = free_port()
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/readyz", timeout=5).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(
                "nexo-secrets serve did not become ready: " + log_path.read_text(errors="replace")[-2000:]
            )
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, with everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def metrics_url(base: str, port: int) -> str:
    """/metrics of a service at `base` whose metrics listener (NEXO_METRICS_PORT) is `port`."""
    return f"{base.rsplit(':', 1)[0]}:{port}/metrics"
