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


def test_load_script_flood_small() -> None:
    """The flood mode runs: the flooder's searches get only documented answers (many of them 429)."""
    report = load.run(clients=4, seconds=7, workers=1, value_prefix=planted("flood"), with_flood=True, flood_keys=300)
    SEEN.append(("flood service log", Path(report["service_log"]).read_text()))
    assert report["undocumented"] == 0 and report["lost_updates"] == 0
    flood = {status for status in report["statuses"] if status.startswith("flood ")}
    assert flood and flood <= {"flood 200", "flood 429", "flood 503"}
    assert any(kind.endswith("(flood)") for kind in report["latency_ms"])
