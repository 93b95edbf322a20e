"""SEARCH() in metric math: find metrics by namespace, dimension schema, properties and terms.

    SEARCH('{UTM/Application,Service} MetricName="APILatency"', 'p99', 300)

- ``{Namespace,Dim1,Dim2}``: metrics of that namespace whose dimension names are exactly those.
- ``Name="value"`` / ``Name=value``: an exact property (``MetricName``, ``Namespace`` or a dimension).
- other words: each must appear in the metric name, namespace or a dimension value (case-insensitive).
- ``NOT`` before a term or property excludes matches; terms are ANDed.

Matches are listed from the series catalog (at most ``MAX_RESULTS``) and read in one batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rexwatch.errors import QueryError
from rexwatch.services.metrics.model import MetricInfo

MAX_RESULTS = 500
_TOKEN = re.compile(
    r"""\s*(?:(?P<schema>\{[^}]*\})|(?P<prop>[A-Za-z0-9_./:-]+)\s*=\s*(?P<pval>"(?:[^"\\]|\\.)*"|[^\s"]+)
    |(?P<term>"(?:[^"\\]|\\.)*"|[^\s"{}]+))""",
    re.VERBOSE,
)


@dataclass
class SearchQuery:
    namespace: str | None = None
    schema: tuple[str, ...] | None = None
    props: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, value, negated)
    terms: list[tuple[str, bool]] = field(default_factory=list)  # (text lowercased, negated)

    def matches(self, m: MetricInfo) -> bool:
        dims = dict(m.dimensions)
        if self.schema is not None and tuple(sorted(dims)) != self.schema:
            return False
        for name, value, neg in self.props:
            actual = (
                m.metric_name
                if name == "MetricName"
                else m.namespace
                if name == "Namespace"
                else dims.get(name)
            )
            if (actual == value) == neg:
                return False
        haystack = " ".join([m.metric_name, m.namespace, *dims.values()]).lower()
        return all((t in haystack) != neg for t, neg in self.terms)


def _unquote(v: str) -> str:
    return v[1:-1].replace('\\"', '"') if v.startswith('"') else v


def parse_search(text: str) -> SearchQuery:
    q = SearchQuery()
    pos, negate = 0, False
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            start = pos + len(text[pos:]) - len(text[pos:].lstrip())
            raise QueryError(f"cannot read {text[start : start + 10]!r}", query=text, start=start)
        if m.group("schema"):
            parts = [p.strip().strip('"') for p in m.group("schema")[1:-1].split(",")]
            if not parts or not parts[0]:
                raise QueryError(
                    "a schema starts with a namespace: {Namespace,Dim1,...}",
                    query=text,
                    start=m.start("schema"),
                )
            q.namespace, q.schema = parts[0], tuple(sorted(p for p in parts[1:] if p))
        elif m.group("prop"):
            q.props.append((m.group("prop"), _unquote(m.group("pval")), negate))
            negate = False
        else:
            term = _unquote(m.group("term"))
            if term.upper() == "NOT":
                negate = True
            elif term.upper() in ("AND",):
                pass
            else:
                q.terms.append((term.lower(), negate))
                negate = False
        pos = m.end()
    for name, value, neg in q.props:
        if name == "Namespace" and not neg and q.namespace is None:
            q.namespace = value
    return q
