"""Checking a dashboard body the way CloudWatch does, and reading it for rendering.

CloudWatch validates the body's structure against its published schema and reports every problem
at once, each with a JSON pointer (``dataPath``) and a message; it stores the body as given. This
module does the same: ``validate`` returns errors (the put is refused) and warnings (the put
succeeds and PutDashboard returns them as ``DashboardValidationMessages``). ``expand_metrics``
resolves the ``"."`` shorthand for renderers.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from rexwatch.services.dashboards.model import ValidationMessage

MAX_WIDGETS = 500
GRID_COLUMNS = 24
MAX_HEIGHT = 1000
WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
VIEWS = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
LOG_VIEWS = ("table", "timeSeries", "bar", "pie")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_STAT = re.compile(
    r"^(SampleCount|Average|Sum|Minimum|Maximum|IQM|"
    r"(p|tm|wm|tc|ts|pr)\d{1,2}(\.\d{1,10})?|(p|tm|wm|tc|ts|pr)100|"
    r"(TM|WM|TC|TS|PR)\(\s*[^()]*\s*\))$")
_RELATIVE = re.compile(r"^-P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
METRIC_OPTIONS = {"accountId", "color", "expression", "id", "label", "period", "region", "stat", "visible",
                  "yAxis"}


class _Checker:
    def __init__(self) -> None:
        self.errors: list[ValidationMessage] = []
        self.warnings: list[ValidationMessage] = []

    def err(self, path: str, message: str) -> None:
        self.errors.append(ValidationMessage(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(ValidationMessage(path, message))

    def typed(self, value: Any, kinds: type | tuple[type, ...], path: str, name: str) -> bool:
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)))
        if not ok:
            self.err(path, f"Should be {name}")
        return ok

    def integer(self, obj: dict, key: str, path: str, lo: int, hi: int | None) -> None:
        if key not in obj:
            return
        v = obj[key]
        if not self.typed(v, int, f"{path}/{key}", "integer"):
            return
        if v < lo:
            self.err(f"{path}/{key}", f"Should be >= {lo}")
        elif hi is not None and v > hi:
            self.err(f"{path}/{key}", f"Should be <= {hi}")

    def enum(self, obj: dict, key: str, path: str, allowed: tuple[str, ...]) -> None:
        if key in obj and obj[key] not in allowed:
            self.err(f"{path}/{key}", "Should be equal to one of the allowed values: " + ", ".join(allowed))

    def time(self, obj: dict, key: str, path: str) -> None:
        if key in obj and not (isinstance(obj[key], str) and (_RELATIVE.match(obj[key]) or _ISO.match(obj[key]))):
            self.err(f"{path}/{key}", "Should be a relative time such as -PT3H or an ISO 8601 timestamp")

    def period(self, obj: dict, key: str, path: str) -> None:
        if key not in obj:
            return
        v = obj[key]
        if not self.typed(v, int, f"{path}/{key}", "integer"):
            return
        if v < 1 or (v not in (1, 5, 10, 30) and v % 60):
            self.err(f"{path}/{key}", "Should be 1, 5, 10, 30 or a multiple of 60")

    def stat(self, obj: dict, key: str, path: str) -> None:
        if key in obj and not (isinstance(obj[key], str) and _STAT.match(obj[key])):
            self.err(f"{path}/{key}", "Should be a valid statistic such as Average, Sum or p99")


def parse(body: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _INVALID


_INVALID = object()


def parse_or_none(body: str) -> Any:
    doc = parse(body)
    return None if doc is _INVALID else doc


def dumps(doc: Any) -> str:
    return orjson.dumps(doc).decode()


def validate(body: str, default_region: str) -> tuple[list[ValidationMessage], list[ValidationMessage]]:
    """(errors, warnings) for a dashboard body."""
    c = _Checker()
    doc = parse(body)
    if doc is _INVALID or not isinstance(doc, dict):
        c.err("", "The field DashboardBody must be a valid JSON object")
        return c.errors, c.warnings
    known_top = {"widgets", "start", "end", "periodOverride", "variables"}
    for key in doc:
        if key not in known_top:
            c.err("", f"Should NOT have additional properties '{key}'")
    c.time(doc, "start", "")
    c.time(doc, "end", "")
    if "end" in doc and "start" not in doc:
        c.err("/end", "If you specify a value for end, you must also specify a value for start")
    c.enum(doc, "periodOverride", "", ("auto", "inherit"))
    if "variables" in doc:
        _variables(c, doc["variables"])
    widgets = doc.get("widgets")
    if widgets is None:
        c.err("", "Should have required property 'widgets'")
    elif c.typed(widgets, list, "/widgets", "array"):
        if len(widgets) > MAX_WIDGETS:
            c.err("/widgets", f"Should NOT have more than {MAX_WIDGETS} items")
        for i, w in enumerate(widgets[:MAX_WIDGETS]):
            _widget(c, w, f"/widgets/{i}", default_region)
    return c.errors, c.warnings


def _variables(c: _Checker, variables: Any) -> None:
    if not c.typed(variables, list, "/variables", "array"):
        return
    for i, v in enumerate(variables):
        path = f"/variables/{i}"
        if not c.typed(v, dict, path, "object"):
            continue
        kind = v.get("type")
        if kind not in ("property", "pattern"):
            c.err(f"{path}/type", "Should be equal to one of the allowed values: property, pattern")
        for req in ("property" if kind == "property" else "pattern", "inputType", "id"):
            if req not in v:
                c.err(path, f"Should have required property '{req}'")
        c.enum(v, "inputType", path, ("input", "select", "radio"))
        if "values" in v and c.typed(v["values"], list, f"{path}/values", "array"):
            for j, item in enumerate(v["values"]):
                if not (isinstance(item, dict) and isinstance(item.get("value"), str)):
                    c.err(f"{path}/values/{j}", "Should have required property 'value'")


def _widget(c: _Checker, w: Any, path: str, region: str) -> None:
    if not c.typed(w, dict, path, "object"):
        return
    kind = w.get("type")
    if kind is None:
        c.err(path, "Should have required property 'type'")
    elif kind not in WIDGET_TYPES:
        c.err(f"{path}/type", "Should be equal to one of the allowed values: " + ", ".join(WIDGET_TYPES))
    c.integer(w, "x", path, 0, GRID_COLUMNS - 1)
    c.integer(w, "y", path, 0, None)
    c.integer(w, "width", path, 1, GRID_COLUMNS)
    c.integer(w, "height", path, 1, MAX_HEIGHT)
    if isinstance(w.get("x"), int) and isinstance(w.get("width"), int) and w["x"] + w["width"] > GRID_COLUMNS:
        c.warn(path, f"x + width is {w['x'] + w['width']}: the widget is moved left to fit 24 columns")
    props = w.get("properties")
    if props is None:
        if kind in WIDGET_TYPES:
            c.err(path, "Should have required property 'properties'")
        return
    if not c.typed(props, dict, f"{path}/properties", "object"):
        return
    p = f"{path}/properties"
    if kind == "metric":
        _metric_props(c, props, p, region)
    elif kind == "text":
        if "markdown" not in props:
            c.err(p, "Should have required property 'markdown'")
        elif not isinstance(props["markdown"], str):
            c.err(f"{p}/markdown", "Should be string")
        c.enum(props, "background", p, ("solid", "transparent"))
    elif kind == "log":
        if "query" not in props:
            c.err(p, "Should have required property 'query'")
        elif not isinstance(props["query"], str):
            c.err(f"{p}/query", "Should be string")
        c.enum(props, "view", p, LOG_VIEWS)
        if "region" not in props:
            c.warn(p, f"region is not set: the server's region {region} is used")
    elif kind == "alarm":
        alarms = props.get("alarms")
        if alarms is None:
            c.err(p, "Should have required property 'alarms'")
        elif c.typed(alarms, list, f"{p}/alarms", "array"):
            for i, a in enumerate(alarms):
                if not (isinstance(a, str) and a.startswith("arn:")):
                    c.err(f"{p}/alarms/{i}", "Should be an alarm ARN")
        c.enum(props, "sortBy", p, ("default", "stateUpdatedTimestamp", "timestamp"))
    elif kind in ("explorer", "custom"):
        c.warn(p, f"{kind} widgets are stored but not rendered: the console shows a note in their place")


def _metric_props(c: _Checker, props: dict, p: str, region: str) -> None:
    metrics = props.get("metrics")
    annotations = props.get("annotations")
    has_alarm_annotation = isinstance(annotations, dict) and bool(annotations.get("alarms"))
    if metrics is None and not has_alarm_annotation:
        c.err(p, "Should have required property 'metrics'")
    if "region" not in props:
        c.warn(p, f"region is not set: the server's region {region} is used")
    c.enum(props, "view", p, VIEWS)
    c.period(props, "period", p)
    c.stat(props, "stat", p)
    for flag in ("stacked", "liveData", "setPeriodToTimeRange", "sparkline", "singleValueFullPrecision"):
        if flag in props and not isinstance(props[flag], bool):
            c.err(f"{p}/{flag}", "Should be boolean")
    if "yAxis" in props and c.typed(props["yAxis"], dict, f"{p}/yAxis", "object"):
        for side, axis in props["yAxis"].items():
            if side not in ("left", "right"):
                c.err(f"{p}/yAxis", f"Should NOT have additional properties '{side}'")
            elif c.typed(axis, dict, f"{p}/yAxis/{side}", "object"):
                for bound in ("min", "max"):
                    if bound in axis and not isinstance(axis[bound], int | float):
                        c.err(f"{p}/yAxis/{side}/{bound}", "Should be number")
    if annotations is not None and c.typed(annotations, dict, f"{p}/annotations", "object"):
        for i, h in enumerate(annotations.get("horizontal", []) or []):
            hp = f"{p}/annotations/horizontal/{i}"
            if not isinstance(h, dict) or not isinstance(h.get("value"), int | float):
                c.err(hp, "Should have required property 'value'")
            elif "color" in h and not (isinstance(h["color"], str) and _COLOR.match(h["color"])):
                c.err(f"{hp}/color", 'Should match pattern "^#[0-9a-fA-F]{6}$"')
        for i, v in enumerate(annotations.get("vertical", []) or []):
            vp = f"{p}/annotations/vertical/{i}"
            if not isinstance(v, dict) or not (isinstance(v.get("value"), str) and _ISO.match(v["value"])):
                c.err(vp, "Should have required property 'value' (an ISO 8601 time)")
    if metrics is None:
        return
    if not c.typed(metrics, list, f"{p}/metrics", "array"):
        return
    prev: list[Any] = []
    for i, row in enumerate(metrics):
        rp = f"{p}/metrics/{i}"
        if not isinstance(row, list) or not row:
            c.err(rp, "Should be array with at least 1 item")
            continue
        opts = row[-1] if isinstance(row[-1], dict) else None
        names = row[:-1] if opts is not None else row
        for j, item in enumerate(names):
            if not isinstance(item, str):
                c.err(f"{rp}/{j}", "Should be string")
        if opts is not None:
            for key in opts:
                if key not in METRIC_OPTIONS:
                    c.err(f"{rp}/{len(row) - 1}", f"Should NOT have additional properties '{key}'")
            op = f"{rp}/{len(row) - 1}"
            if "color" in opts and not (isinstance(opts["color"], str) and _COLOR.match(opts["color"])):
                c.err(f"{op}/color", 'Should match pattern "^#[0-9a-fA-F]{6}$"')
            c.enum(opts, "yAxis", op, ("left", "right"))
            c.stat(opts, "stat", op)
            c.period(opts, "period", op)
            if "visible" in opts and not isinstance(opts["visible"], bool):
                c.err(f"{op}/visible", "Should be boolean")
            if "id" in opts and not (isinstance(opts["id"], str) and re.match(r"^[a-z][a-zA-Z0-9_]*$", opts["id"])):
                c.err(f"{op}/id", "Should start with a lowercase letter and hold only letters, digits and _")
        if not names:
            if opts is None or "expression" not in opts:
                c.err(rp, "A metric row needs a namespace and metric name, or an expression")
            continue
        if opts is not None and "expression" in opts:
            c.err(rp, "An expression row holds only the options object")
            continue
        full = _expand_row([n if isinstance(n, str) else "" for n in names], prev)
        if len(full) < 2 or (len(full) - 2) % 2:
            c.err(rp, "Should be [namespace, metricName, dimensionName, dimensionValue, ...]")
        elif "." in full[:2]:
            c.err(rp, 'The "." shorthand needs a row above it with a value in that position')
        prev = full


def _expand_row(names: list[str], prev: list[Any]) -> list[str]:
    # "..." first means "the row above, with its last values replaced by the ones after it", as
    # CloudWatch's console writes a series that differs from the one above only in a dimension value.
    if names and names[0] == "..." and prev:
        rest = names[1:]
        names = [*prev[:max(0, len(prev) - len(rest))], *rest]
    return [prev[i] if n == "." and i < len(prev) else n for i, n in enumerate(names)]


def expand_metrics(metrics: list[Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """Each row as (names with "." resolved, options), for renderers; expression rows have no names."""
    out: list[tuple[list[str], dict[str, Any]]] = []
    prev: list[str] = []
    for row in metrics:
        opts = dict(row[-1]) if row and isinstance(row[-1], dict) else {}
        names = [str(n) for n in (row[:-1] if opts or (row and isinstance(row[-1], dict)) else row)]
        if names:
            names = _expand_row(names, prev)
            prev = names
        out.append((names, opts))
    return out
