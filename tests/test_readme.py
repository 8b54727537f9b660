"""The README tells a newcomer what works: the lock, the first screen, the layout, where the figures are.

Its Hub examples are run for real against `nexo-secrets dev` in tests/test_dev.py, and its auditor
runbook in tests/test_runbook.py.
"""

from __future__ import annotations

import re

from tests.vault_nodes import REPO

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_first_screen_says_where_to_go_and_who_to_be() -> None:
    first_screen = "\n".join(README.splitlines()[:40])
    assert "Python 3.11" in first_screen and "venv" in first_screen
    assert "`bao`" in first_screen and "comes with the" in first_screen
    assert "Open <http://127.0.0.1:8080/> and sign in as `alice`" in first_screen
    assert "nexo-secrets dev" in first_screen


def test_every_pip_install_uses_the_lock_and_the_refresh_command_is_the_locks_own() -> None:
    installs = [line for line in README.splitlines() if re.match(r"\s*(python3 -m )?pip install", line)]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
    header = (REPO / "constraints.txt").read_text().splitlines()[1]
    refresh = header.lstrip("# ").strip()
    assert refresh.startswith("uv pip compile") and refresh in README


def test_performance_is_a_short_summary_linking_its_own_document() -> None:
    summary = [line for line in section("Performance").strip().splitlines() if line.strip()]
    assert 3 <= len(summary) <= 6 and "[docs/performance.md](docs/performance.md)" in section("Performance")
    moved = (REPO / "docs" / "performance.md").read_text()
    assert "python -m tests.bench --rounds 5" in moved and "What bounds" in moved
    assert "python -m tests.bench --rounds 5" not in README


def test_the_layout_names_every_module() -> None:
    layout = README.split("\nLayout:\n", 1)[1].split("\n## ", 1)[0]
    modules = {p.stem for p in (REPO / "app").glob("*.py")} | {p.name for p in (REPO / "app").iterdir() if p.is_dir()}
    missing = [m for m in sorted(modules - {"__init__", "__pycache__", "static"}) if f"`{m}" not in layout]
    assert not missing, missing


def test_examples_use_what_nexo_secrets_dev_sets_up() -> None:
    dev_sections = ("Try it", "Operator commands", "For the Hub team", "The Secrets screen")
    for title in dev_sections:
        assert "acme" not in section(title), title
    hub = section("For the Hub team")
    assert ":8200" not in hub and "/tenants/demo/resolve" in hub
    assert "VAULT_TOKEN=$WRAP bao unwrap" in hub and "bao unwrap $WRAP" not in hub.replace(
        "`bao unwrap $WRAP` would", ""
    )
    assert "refuses VAULT_TOKEN" not in section("Operator commands")


def test_the_client_section_shows_every_references_call() -> None:
    """The quick form of tests/test_dev.py's run of it: one client block declares, checks, names
    its referrer in a resolve and forgets, on the demo tenant, with no referrer of dev's own."""
    blocks = re.findall(r"```python\n(.*?)```", section("For the Hub team"), re.S)
    [references] = [b for b in blocks if "hub.declare(" in b]
    for call in ('hub.declare("demo", ', 'hub.check("demo", ', 'referrer=("action", ', 'hub.forget("demo", '):
        assert call in references, call
    assert "send-invoice" not in references and "order.created" not in references  # dev's samples stay as they are
