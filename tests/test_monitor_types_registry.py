"""The monitor-type registry carries what differs between types; nothing outside it branches on a name."""

from __future__ import annotations

import re
from pathlib import Path

from rexwatch.services.monitors import types

SRC = Path(__file__).resolve().parents[1] / "src" / "rexwatch"


def test_every_type_declares_its_scheduling_kind():
    kinds = {name: types.scheduling(name) for name in types.TYPES}
    assert set(kinds.values()) <= set(types.SCHEDULING_KINDS)
    assert kinds["push"] == "passive" and kinds["http"] == kinds["tcp"] == kinds["dns"] == "active"
    for name in types.TYPES:
        module = types.get(name)
        # Active types say where they connect (checked against the address policy); passive ones connect nowhere.
        assert hasattr(module, "destinations") == (kinds[name] == "active"), name


def test_no_branches_on_a_type_name_outside_the_types_package():
    names = "|".join(types.TYPES)
    pattern = re.compile(rf"""type"?\]?\s*[!=]=\s*["'](?:{names})["']""")
    offenders = []
    for path in SRC.rglob("*.py"):
        if "services/monitors/types" in path.as_posix():
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and "scope[" not in line:  # an ASGI scope's type is not a monitor's
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert offenders == []


def test_the_prober_uses_the_service_not_the_stores():
    text = (SRC / "workers" / "probes.py").read_text()
    assert "stores." not in text and "MonitorService" in text
