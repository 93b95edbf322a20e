"""Golden files: ``input ; expected`` pairs, one per line, for compiler tests.

A file in ``tests/fixtures/<area>/`` holds one case per line, split at the
last `` ; ``. Lines starting with ``#`` are comments, except ``#! key: value``
options that apply to the whole file. Run with ``REXWATCH_UPDATE_GOLDEN=1``
to rewrite the expected halves from the current output (then read the diff).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SEP = " ; "


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    input: str
    expected: str
    options: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def load_cases(area: str) -> list[Case]:
    cases = []
    for path in sorted((FIXTURES / area).glob("*.txt")):
        options: dict[str, str] = {}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("#!"):
                key, _, value = line[2:].partition(":")
                options[key.strip()] = value.strip()
            elif line.strip() and not line.startswith("#"):
                if SEP not in line:
                    raise ValueError(f"{path.name}:{n}: no '{SEP.strip()}' separating input and expected")
                inp, _, exp = line.rpartition(SEP)
                cases.append(Case(path.name, n, inp, exp, dict(options)))
    return cases


def update_enabled() -> bool:
    return os.environ.get("REXWATCH_UPDATE_GOLDEN") == "1"


def rewrite(area: str, render: Callable[[Case], str]) -> None:
    """Rewrite every expected half with ``render(case)``."""
    for path in sorted((FIXTURES / area).glob("*.txt")):
        options: dict[str, str] = {}
        out = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("#!"):
                key, _, value = line[2:].partition(":")
                options[key.strip()] = value.strip()
            if line.strip() and not line.startswith("#"):
                inp = line.rpartition(SEP)[0] if SEP in line else line
                line = inp + SEP + render(Case(path.name, n, inp, "", dict(options)))
            out.append(line)
        path.write_text("\n".join(out) + "\n")
