"""Terminal charts from a list of numbers (no plotting dependency)."""

from __future__ import annotations

import math
from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One line of block characters; None draws a gap."""
    nums = [v for v in values if v is not None and not math.isnan(v)]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = hi - lo or 1.0
    out = []
    for v in values:
        if v is None or math.isnan(v):
            out.append(" ")
        else:
            out.append(BLOCKS[1 + round((v - lo) / span * (len(BLOCKS) - 2))])
    return "".join(out)


def bar_chart(values: Sequence[float | None], height: int = 8) -> list[str]:
    """``height`` rows of eighth-block columns, top row first, scaled from min(0, lo) to the maximum."""
    nums = [v for v in values if v is not None and not math.isnan(v)]
    if not nums:
        return []
    lo, hi = min(0.0, min(nums)), max(nums)
    span = hi - lo or 1.0
    levels = [None if v is None or math.isnan(v) else (v - lo) / span * height * 8 for v in values]
    rows = []
    for row in range(height - 1, -1, -1):
        line = []
        for lv in levels:
            if lv is None:
                line.append(" ")
                continue
            fill = lv - row * 8
            line.append("█" if fill >= 8 else (BLOCKS[max(0, round(fill))] if fill > 0 else " "))
        rows.append("".join(line))
    return rows
