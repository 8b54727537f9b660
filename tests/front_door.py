"""Debian's nginx running the repository's own front-door file (deploy/nginx/nexo.conf.template).

The file is filled in as the official image's entrypoint does (envsubst of the ${NEXO_...} names
of compose's front-door environment, with compose's values unless a test sets its own) and
included in a minimal main config, as the image's nginx.conf includes conf.d/*.conf inside
http {}; everything else is the file unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "nginx" / "nexo.conf.template"
COMPOSE = REPO / "docker-compose.yml"

_MAIN = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {conf};
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise RuntimeError("nginx is missing: apt-get install nginx (.ci/run does)")
    return found


def compose_settings() -> dict[str, str]:
    """The front-door environment of docker-compose.yml: the production values of the template."""
    environment = yaml.safe_load(COMPOSE.read_text())["services"]["front-door"]["environment"]
    return {name: str(value) for name, value in environment.items()}


def render(upstream: str, listen: str, certs: Path | None = None, settings: dict[str, str] | None = None) -> str:
    """The template as the official image's envsubst step fills it, with compose's settings but
    `upstream`, `listen` and `settings` (NEXO_RATE_LIMIT="1r/m", ...); with `certs`, as the
    README's TLS steps change it (the `TLS:` lines instead of the plain listen, the certificates
    from `certs`)."""
    text = TEMPLATE.read_text()
    if certs is not None:
        text = text.replace("    listen ${NEXO_LISTEN};\n", "").replace("    # TLS: ", "    ")
        text = text.replace("/etc/nginx/certs/", f"{certs}/")
    values = compose_settings() | (settings or {}) | {"NEXO_UPSTREAM": upstream, "NEXO_LISTEN": listen}
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    unset = re.findall(r"\$\{NEXO_\w+\}", text)
    assert not unset, f"the template uses {unset}, which compose's front-door environment does not set"
    return text


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    base: str
    folder: Path

    def log(self) -> str:
        return "".join(
            (self.folder / name).read_text(errors="replace")
            for name in ("error.log", "access.log", "out.log")
            if (self.folder / name).exists()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def configure(
    folder: Path, upstream: str, port: int, certs: Path | None = None, settings: dict[str, str] | None = None
) -> Path:
    """Write the filled-in file and a main config around it; returns the main config."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nexo.conf"
    conf.write_text(render(upstream, f"127.0.0.1:{port}", certs, settings))
    main = folder / "nginx.conf"
    main.write_text(_MAIN.format(dir=folder, conf=conf))
    return main


def check(main: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the config."""
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(main.parent), "-c", str(main)], capture_output=True, text=True, timeout=30
    )


def start(
    folder: Path,
    upstream: str,
    port: int,
    certs: Path | None = None,
    verify: str | bool = True,
    settings: dict[str, str] | None = None,
) -> Nginx:
    """nginx in the foreground on 127.0.0.1:port in front of upstream (host:port); TLS with `certs`;
    `settings` instead of compose's (render)."""
    main = configure(folder, upstream, port, certs, settings)
    checked = check(main)
    if checked.returncode != 0:
        raise RuntimeError("nginx -t failed: " + checked.stderr)
    with open(folder / "out.log", "wb") as out:
        process = subprocess.Popen(
            [nginx_binary(), "-p", str(folder), "-c", str(main)], stdout=out, stderr=subprocess.STDOUT
        )
    base = f"{'https' if certs else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(base + "/healthz", timeout=2, verify=verify).status_code == 200:
                return Nginx(process, base, folder)
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            Nginx(process, base, folder).stop()
            raise RuntimeError("nginx did not start: " + (folder / "error.log").read_text(errors="replace")[-2000:])
        time.sleep(0.05)
