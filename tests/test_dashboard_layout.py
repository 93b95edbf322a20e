"""Widget placement on the 24-column grid, as CloudWatch does it, and the markdown sanitiser."""

from __future__ import annotations

from rexwatch.services.dashboards.widgets import layout, split_log_query
from rexwatch.web.markdown import render


def places(widgets):
    return [(p.x, p.y, p.width, p.height) for p in layout(widgets)]


def test_auto_placement_flows_left_to_right_then_down() -> None:
    assert places([{}, {}, {}, {}, {"width": 12}]) == [(0, 0, 6, 6), (6, 0, 6, 6), (12, 0, 6, 6), (18, 0, 6, 6),
                                                        (0, 6, 12, 6)]


def test_explicit_places_are_kept_and_auto_widgets_fill_around_them() -> None:
    ws = [{"x": 0, "y": 0, "width": 12, "height": 3}, {"width": 12, "height": 3}, {"width": 24, "height": 2},
          {"x": 20, "y": 10, "width": 8}]
    assert places(ws) == [(0, 0, 12, 3), (12, 0, 12, 3), (0, 3, 24, 2), (16, 10, 8, 6)]  # moved left to fit


def test_hostile_sizes_are_clamped() -> None:
    assert places([{"width": 99, "height": -4}, {"width": True, "x": "a"}, "not a widget"]) == [
        (0, 0, 24, 1), (0, 1, 6, 6)]


def test_log_query_sources() -> None:
    assert split_log_query("SOURCE '/a' | SOURCE \"/b\" | stats count()") == (["/a", "/b"], "stats count()")
    assert split_log_query("fields @message") == ([], "fields @message")


def test_markdown_keeps_a_safe_subset() -> None:
    html = str(render("# T\n**b** *i* `c<d>`\n\n[x](javascript:alert(1)) [y](https://a.b/?q=1&r=2) <script>z</script>"))
    assert "<h1>T</h1>" in html and "<strong>b</strong>" in html and "<em>i</em>" in html
    assert "<code>c&lt;d&gt;</code>" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="https://a.b/?q=1&amp;r=2"' in html
