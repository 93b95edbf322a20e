"""What collectors produce and the sender ships: metric points and log lines, in wire-ready form."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    namespace: str
    name: str
    value: float
    unit: str = "None"
    dimensions: tuple[tuple[str, str], ...] = ()
    # Epoch seconds; the runner stamps points that a collector leaves at 0.
    timestamp: float = 0.0

    def wire(self) -> dict:
        return {
            "metric_name": self.name,
            "value": self.value,
            "unit": self.unit,
            "timestamp": self.timestamp,
            "dimensions": [{"name": k, "value": v} for k, v in self.dimensions],
        }


@dataclass(frozen=True)
class LogLine:
    group: str
    stream: str
    timestamp_ms: int
    message: str


@dataclass
class Collected:
    points: list[Point] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)

    def extend(self, other: Collected) -> None:
        self.points.extend(other.points)
        self.lines.extend(other.lines)
