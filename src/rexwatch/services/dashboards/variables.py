"""Dashboard variables, as CloudWatch defines them: a *property* variable sets one dimension (say
``ServiceName``) in every metric row of every widget; a *pattern* variable replaces a piece of text
(say ``utm-api``) wherever it appears in the widgets (metrics, expressions, queries, titles).

Values come from the variable's ``values`` list, or, for a property variable with ``search`` and
``populateFrom``, from the values of that dimension among the metrics the SEARCH finds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rexwatch.errors import QueryError
from rexwatch.services.dashboards.body import expand_metrics

MAX_VALUES = 500
MAX_VARIABLES = 20


@dataclass
class Variable:
    id: str
    kind: str  # property | pattern
    target: str  # the dimension name, or the text replaced
    label: str
    input_type: str
    values: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    default: str | None = None
    visible: bool = True


def read(doc: dict[str, Any]) -> list[Variable]:
    out = []
    for v in (doc.get("variables") or [])[:MAX_VARIABLES] if isinstance(doc.get("variables"), list) else []:
        if not isinstance(v, dict) or v.get("type") not in ("property", "pattern") or not isinstance(v.get("id"), str):
            continue
        target = v.get("property") if v["type"] == "property" else v.get("pattern")
        if not isinstance(target, str) or not target:
            continue
        values = [(str(i["value"]), str(i.get("label") or i["value"])) for i in v.get("values") or []
                  if isinstance(i, dict) and isinstance(i.get("value"), str)][:MAX_VALUES]
        default = v.get("defaultValue") if isinstance(v.get("defaultValue"), str) else None
        out.append(Variable(v["id"], v["type"], target, str(v.get("label") or v["id"]),
                            v.get("inputType") if v.get("inputType") in ("input", "select", "radio") else "input",
                            values, default, v.get("visible", True) is not False))
    return out


def populate(runtime: Any, doc: dict[str, Any], variables: list[Variable]) -> None:
    """Fill ``values`` of property variables that name a ``search`` and ``populateFrom``."""
    from rexwatch.lang.search import parse_search
    from rexwatch.services.metrics import MetricsService

    raw = {v.get("id"): v for v in doc.get("variables") or [] if isinstance(v, dict)}
    for var in variables:
        spec = raw.get(var.id) or {}
        search, dim = spec.get("search"), spec.get("populateFrom")
        if var.values or not isinstance(search, str) or not isinstance(dim, str):
            continue
        try:
            sq = parse_search(search)
        except QueryError:
            continue
        found: set[str] = set()
        token = None
        for _ in range(20):  # bounded: the catalog pages
            infos, token = runtime.service(MetricsService).list_metrics(sq.namespace, None, next_token=token)
            for m in infos:
                if sq.matches(m):
                    found.update(val for k, val in m.dimensions if k == dim)
            if not token or len(found) >= MAX_VALUES:
                break
        var.values = [(x, x) for x in sorted(found)[:MAX_VALUES]]


def chosen(variables: list[Variable], params: dict[str, str]) -> dict[str, str]:
    """The value of each variable: the URL's ``var.<id>``, else its default, else its first value."""
    out = {}
    for v in variables:
        value = params.get(f"var.{v.id}")
        if value is None or value == "":
            value = v.default if v.default is not None else (v.values[0][0] if v.values else None)
        if value is not None:
            out[v.id] = value[:1024]
    return out


def _replace_text(value: Any, old: str, new: str, depth: int = 0) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if depth > 20:
        return value
    if isinstance(value, list):
        return [_replace_text(x, old, new, depth + 1) for x in value]
    if isinstance(value, dict):
        return {k: _replace_text(x, old, new, depth + 1) for k, x in value.items()}
    return value


def _set_property(props: dict[str, Any], dim: str, value: str) -> dict[str, Any]:
    rows = props.get("metrics")
    if not isinstance(rows, list) or not all(isinstance(r, list) and r for r in rows):
        return props
    new_rows = []
    for names, opts in expand_metrics(rows):
        if names:
            names = list(names)
            for j in range(2, len(names) - 1, 2):
                if names[j] == dim:
                    names[j + 1] = value
            new_rows.append([*names, opts] if opts else names)
        else:
            new_rows.append([opts])
    return {**props, "metrics": new_rows}


def apply(widget: dict[str, Any], variables: list[Variable], values: dict[str, str]) -> dict[str, Any]:
    """The widget with every variable's value put in."""
    for v in variables:
        value = values.get(v.id)
        if value is None:
            continue
        props = widget.get("properties")
        if not isinstance(props, dict):
            continue
        if v.kind == "pattern":
            widget = {**widget, "properties": _replace_text(props, v.target, value)}
        elif widget.get("type") == "metric":
            widget = {**widget, "properties": _set_property(props, v.target, value)}
    return widget
