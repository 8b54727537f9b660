"""The load script, run small: it works, and its own checks (no undocumented status, no lost
update) hold. The figures come from `python -m tests.load` (see README), not from here."""

from __future__ import annotations

from pathlib import Path

from tests import load
from tests.conftest import SEEN, planted


def test_load_script_small() -> None:
    prefix = planted("load")
    report = load.run(clients=6, seconds=2, workers=1, value_prefix=prefix)
    SEEN.append(("load service log", Path(report["service_log"]).read_text()))
    assert report["requests"] > 0
    assert report["undocumented"] == 0 and report["lost_updates"] == 0
    kinds = {status.split()[0] for status in report["statuses"]}
    assert kinds == {"list", "resolve", "update"}
