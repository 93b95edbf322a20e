"""GetMetricWidgetImage: a metric widget drawn on the server, as PNG (Pillow) or SVG.

The widget's data comes from ``widgets.metric_data``, the same queries, statistics and metric math
as the console's widgets and GetMetricData. Drawing goes through one small canvas interface with two
backends, so the PNG and the SVG show the same picture: ``timeSeries`` (lines, or stacked areas),
``singleValue``, ``bar`` and ``pie``, with the title, a legend, horizontal annotations and
``yAxis`` bounds. CloudWatch's ``width`` and ``height`` are in pixels.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import re
from typing import Any, Protocol
from xml.sax.saxutils import escape as xml_escape

from rexwatch.errors import Invalid, InvalidDashboard
from rexwatch.services.dashboards import body as bodies
from rexwatch.services.dashboards.model import ValidationMessage
from rexwatch.services.dashboards.widgets import metric_data

DEFAULT_WIDTH, DEFAULT_HEIGHT = 600, 400
MIN_SIDE, MAX_SIDE = 100, 2000
FORMATS = {"png": "png", "image/png": "png", "image/svg+xml": "svg", "svg": "svg"}
VIEWS = ("timeSeries", "singleValue", "bar", "pie")
BG, FG, MUTED, GRID = "#ffffff", "#1f2328", "#57606a", "#e1e4e8"
_REL = re.compile(r"^-P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class Canvas(Protocol):
    def line(self, pts: list[tuple[float, float]], color: str, width: int = 1, dash: bool = False) -> None: ...
    def polygon(self, pts: list[tuple[float, float]], fill: str, opacity: float = 1.0) -> None: ...
    def rect(self, x: float, y: float, w: float, h: float, fill: str) -> None: ...
    def pie(self, cx: float, cy: float, r: float, a0: float, a1: float, fill: str) -> None: ...
    def text(self, x: float, y: float, s: str, color: str, size: int = 12, anchor: str = "start") -> None: ...
    def finish(self) -> bytes: ...


class PngCanvas:
    def __init__(self, w: int, h: int) -> None:
        from PIL import Image, ImageDraw, ImageFont

        self.img = Image.new("RGB", (w, h), BG)
        self.draw = ImageDraw.Draw(self.img, "RGBA")
        self._font = ImageFont.load_default
        self._fonts: dict[int, Any] = {}

    def font(self, size: int) -> Any:
        if size not in self._fonts:
            self._fonts[size] = self._font(size)
        return self._fonts[size]

    def line(self, pts, color, width=1, dash=False):
        if len(pts) < 2:
            if pts:
                x, y = pts[0]
                self.draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=color)
            return
        if dash:
            for (x0, y0), (x1, y1) in itertools.pairwise(pts):
                n = max(1, int(math.hypot(x1 - x0, y1 - y0) // 8))
                for k in range(0, n, 2):
                    a, b = k / n, min(1.0, (k + 1) / n)
                    self.draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                                   fill=color, width=width)
            return
        self.draw.line(pts, fill=color, width=width, joint="curve")

    def polygon(self, pts, fill, opacity=1.0):
        r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
        self.draw.polygon(pts, fill=(r, g, b, int(255 * opacity)))

    def rect(self, x, y, w, h, fill):
        self.draw.rectangle((x, y, x + max(w, 1) - 1, y + max(h, 1) - 1), fill=fill)

    def pie(self, cx, cy, r, a0, a1, fill):
        self.draw.pieslice((cx - r, cy - r, cx + r, cy + r), math.degrees(a0), math.degrees(a1), fill=fill)

    def text(self, x, y, s, color, size=12, anchor="start"):
        a = {"start": "ls", "middle": "ms", "end": "rs"}[anchor]
        self.draw.text((x, y), s, fill=color, font=self.font(size), anchor=a)

    def finish(self) -> bytes:
        out = io.BytesIO()
        self.img.save(out, "PNG", optimize=True)
        return out.getvalue()


class SvgCanvas:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.parts = [f'<rect width="{w}" height="{h}" fill="{BG}"/>']

    @staticmethod
    def _pts(pts) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)

    def line(self, pts, color, width=1, dash=False):
        if len(pts) == 1:
            self.parts.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2" fill="{color}"/>')
        elif pts:
            d = ' stroke-dasharray="6 4"' if dash else ""
            self.parts.append(f'<polyline points="{self._pts(pts)}" fill="none" stroke="{color}" '
                              f'stroke-width="{width}" stroke-linejoin="round"{d}/>')

    def polygon(self, pts, fill, opacity=1.0):
        self.parts.append(f'<polygon points="{self._pts(pts)}" fill="{fill}" fill-opacity="{opacity:.2f}"/>')

    def rect(self, x, y, w, h, fill):
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 1):.1f}" height="{max(h, 1):.1f}" '
                          f'fill="{fill}"/>')

    def pie(self, cx, cy, r, a0, a1, fill):
        if a1 - a0 >= 2 * math.pi - 1e-6:
            self.parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}"/>')
            return
        x0, y0 = cx + r * math.cos(a0), cy + r * math.sin(a0)
        x1, y1 = cx + r * math.cos(a1), cy + r * math.sin(a1)
        large = 1 if a1 - a0 > math.pi else 0
        self.parts.append(f'<path d="M{cx:.1f},{cy:.1f} L{x0:.1f},{y0:.1f} A{r:.1f},{r:.1f} 0 {large} 1 '
                          f'{x1:.1f},{y1:.1f} Z" fill="{fill}"/>')

    def text(self, x, y, s, color, size=12, anchor="start"):
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" fill="{color}" font-size="{size}" '
                          f'text-anchor="{anchor}">{xml_escape(s)}</text>')

    def finish(self) -> bytes:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" font-family="sans-serif">' + "".join(self.parts)
                + "</svg>").encode()


def _time(value: Any, now: dt.datetime, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a relative time such as -PT3H or an ISO 8601 timestamp", field=field)
    m = _REL.match(value)
    if m and value != "-P":
        w, d, h, mi, s = (int(g or 0) for g in m.groups())
        return now - dt.timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{field} must be a relative time such as -PT3H or an ISO 8601 timestamp", field=field)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def parse_widget(text: Any, region: str) -> dict[str, Any]:
    """The MetricWidget JSON, checked as a dashboard's metric widget is (errors name their path)."""
    if not isinstance(text, str) or not text:
        raise Invalid("The parameter MetricWidget is required.", field="MetricWidget")
    if len(text.encode()) > 100_000:
        raise Invalid("MetricWidget is larger than 100,000 bytes", field="MetricWidget")
    doc = bodies.parse_or_none(text)
    if not isinstance(doc, dict):
        raise Invalid("MetricWidget must be a JSON object", field="MetricWidget")
    errors, _ = bodies.validate(bodies.dumps({"widgets": [{"type": "metric", "properties": doc}]}), region)
    if errors:
        prefix = "/widgets/0/properties"
        raise InvalidDashboard([ValidationMessage(m.data_path.removeprefix(prefix), m.message) for m in errors])
    for key in ("width", "height"):
        v = doc.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not MIN_SIDE <= v <= MAX_SIDE):
            raise Invalid(f"{key} must be a number of pixels from {MIN_SIDE} to {MAX_SIDE}", field=key)
    if doc.get("view", "timeSeries") not in VIEWS:
        raise Invalid(f"view {doc.get('view')!r} cannot be drawn as an image: use one of {', '.join(VIEWS)}",
                      field="view")
    return doc


def render_widget(runtime: Any, widget: str, output_format: str | None = "png",
                  now: dt.datetime | None = None) -> tuple[bytes, str]:
    """(image bytes, "png" or "svg") for a MetricWidget JSON string."""
    fmt = FORMATS.get(output_format or "png")
    if fmt is None:
        raise Invalid(f"OutputFormat {output_format!r} is not supported: use png, image/png or image/svg+xml",
                      field="OutputFormat")
    doc = parse_widget(widget, runtime.settings.region)
    now = now or dt.datetime.now(dt.UTC)
    start = _time(doc.get("start", "-PT3H"), now, "start")
    end = _time(doc["end"], now, "end") if "end" in doc else now
    if end <= start:
        raise Invalid("end must be after start", field="end")
    data = metric_data(runtime, doc, start, end, "auto")
    w, h = doc.get("width", DEFAULT_WIDTH), doc.get("height", DEFAULT_HEIGHT)
    canvas: Canvas = PngCanvas(w, h) if fmt == "png" else SvgCanvas(w, h)
    draw(canvas, w, h, doc, data)
    return canvas.finish(), fmt


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def draw(c: Canvas, w: int, h: int, doc: dict[str, Any], data: dict[str, Any]) -> None:
    title = doc.get("title") if isinstance(doc.get("title"), str) else ""
    top = 28 if title else 10
    if title:
        c.text(10, 19, title, FG, 14)
    series = [s for s in data["series"] if s["values"]]
    legend = data.get("legend") != "hidden" and bool(series)
    bottom = h - (24 + 16 * math.ceil(len(series) / 3) if legend else 24)
    view = data["view"]
    if not series:
        c.text(w / 2, (top + bottom) / 2, "No data available.", MUTED, 13, "middle")
    elif view == "singleValue":
        col_w = (w - 20) / min(len(series), 4)
        for i, s in enumerate(series[:8]):
            x = 10 + (i % 4) * col_w
            y = top + 40 + (i // 4) * 60
            c.text(x, y, _fmt(s["values"][-1]), s["color"], 30)
            c.text(x, y + 18, s["label"][:40], MUTED, 11)
        legend = False
    elif view == "bar":
        vals = [s["values"][-1] for s in series]
        peak = max(abs(v) for v in vals) or 1.0
        row = min(28, (bottom - top) / len(series))
        for i, (s, v) in enumerate(zip(series, vals, strict=True)):
            y = top + i * row
            c.text(10, y + row * 0.65, s["label"][:24], FG, 11)
            c.rect(w * 0.3, y + row * 0.2, (w * 0.6) * abs(v) / peak, row * 0.6, s["color"])
            c.text(w - 10, y + row * 0.65, _fmt(v), FG, 11, "end")
        legend = False
    elif view == "pie":
        vals = [max(0.0, s["values"][-1]) for s in series]
        total = sum(vals) or 1.0
        r = max(10.0, min(w / 2 - 20, (bottom - top) / 2 - 4))
        cx, cy = w / 2, (top + bottom) / 2
        a = -math.pi / 2
        for s, v in zip(series, vals, strict=True):
            if v > 0:
                c.pie(cx, cy, r, a, a + 2 * math.pi * v / total, s["color"])
                a += 2 * math.pi * v / total
    else:
        _time_series(c, w, top, bottom, data, series)
    if legend:
        col = (w - 20) / 3
        for i, s in enumerate(series):
            x, y = 10 + (i % 3) * col, bottom + 26 + 16 * (i // 3)
            c.rect(x, y - 9, 10, 10, s["color"])
            c.text(x + 14, y, s["label"][:40], FG, 11)


def _time_series(c: Canvas, w: int, top: float, bottom: float, data: dict[str, Any],
                 series: list[dict[str, Any]]) -> None:
    left_px, right_px = 50, w - 12
    x0, x1 = data["start"], data["end"]
    stacked = data.get("stacked")
    lines = []
    if stacked:
        acc: dict[int, float] = {}
        for s in series:
            pts = []
            for t, v in zip(s["timestamps"], s["values"], strict=True):
                acc[t] = acc.get(t, 0.0) + v
                pts.append((t, acc[t]))
            lines.append(pts)
    else:
        lines = [list(zip(s["timestamps"], s["values"], strict=True)) for s in series]
    values = [v for pts in lines for _, v in pts]
    bounds = (data.get("yAxis") or {}).get("left") or {}
    horizontal = [a for a in data["annotations"]["horizontal"] if isinstance(a.get("value"), int | float)]
    lo = bounds.get("min") if isinstance(bounds.get("min"), int | float) else min([0.0, *values])
    hi = bounds.get("max") if isinstance(bounds.get("max"), int | float) else max(
        [*values, *(a["value"] for a in horizontal)])
    if hi <= lo:
        hi = lo + 1.0
    hi += (hi - lo) * 0.05 if not isinstance(bounds.get("max"), int | float) else 0

    def px(t: float, v: float) -> tuple[float, float]:
        x = left_px + (t - x0) / max(1, x1 - x0) * (right_px - left_px)
        y = bottom - (min(max(v, lo), hi) - lo) / (hi - lo) * (bottom - top)
        return x, y

    for tick in _ticks(lo, hi):
        _, y = px(x0, tick)
        c.line([(left_px, y), (right_px, y)], GRID)
        c.text(left_px - 4, y + 4, _fmt(tick), MUTED, 10, "end")
    span = x1 - x0
    step = next((s for s in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
                 if span / s <= 6), 30 * 86400)
    t = x0 - x0 % step + step
    while t < x1:
        x, _ = px(t, lo)
        label = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M" if step < 86400 else "%m-%d")
        c.line([(x, bottom), (x, bottom + 4)], MUTED)
        c.text(x, bottom + 16, label, MUTED, 10, "middle")
        t += step
    c.line([(left_px, bottom), (right_px, bottom)], MUTED)
    prev: list[tuple[float, float]] | None = None
    for s, pts in zip(series, lines, strict=True):
        xy = [px(t, v) for t, v in pts]
        if stacked and xy:
            base = prev if prev else [(x, bottom) for x, _ in xy]
            c.polygon(xy + list(reversed(base if len(base) == len(xy) else [(x, bottom) for x, _ in xy])),
                      s["color"], 0.35)
            prev = xy
        c.line(xy, s["color"], 2)
    for a in horizontal:
        _, y = px(x0, a["value"])
        color = a.get("color") if isinstance(a.get("color"), str) and len(a["color"]) == 7 else "#d62728"
        c.line([(left_px, y), (right_px, y)], color, 1, dash=True)
        if a.get("label"):
            c.text(left_px + 4, y - 4, str(a["label"])[:40], color, 10)
