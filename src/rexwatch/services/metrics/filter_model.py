"""Metric filters as the service takes and returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transformation:
    """How matching events become a metric: a constant or a field's value, per dimensions."""

    metric_name: str
    namespace: str
    value: str  # a number, "$.json.path" or "$field"
    default_value: float | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    unit: str | None = None

    def constant(self) -> float | None:
        try:
            return float(self.value)
        except ValueError:
            return None


@dataclass(frozen=True)
class MetricFilter:
    group_id: int
    log_group_name: str
    name: str
    pattern: str
    transformations: tuple[Transformation, ...]
    apply_on_transformed_logs: bool
    created_ms: int
