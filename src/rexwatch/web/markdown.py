"""Markdown of text widgets as safe HTML.

Everything is HTML-escaped first, so raw HTML in the markdown shows as text; then a safe subset
is turned into tags: headings, paragraphs, bullet and numbered lists, tables, fenced and inline
code, bold, italic, horizontal rules and links. Links keep only http(s), mailto and same-site
paths (never ``javascript:``) and open with ``rel="noopener noreferrer"``. CloudWatch's own
``[button:Label](url)`` links render as buttons.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

MAX_CHARS = 100_000
_LINK = re.compile(r"\[([^\]\n]{1,500})\]\(([^)\s]{1,2000})\)")
_SAFE_URL = re.compile(r"^(https?://|mailto:|/(?!/)|#)", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")


def _inline(text: str) -> str:
    """Inline markdown of one escaped line."""
    codes: list[str] = []

    def keep_code(m: re.Match) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = re.sub(r"`([^`]+)`", keep_code, text)

    def link(m: re.Match) -> str:
        label, href = m.group(1), m.group(2)
        # The text was escaped already: undo &amp; only for the check, keep the escaped href.
        raw = href.replace("&amp;", "&")
        if not _SAFE_URL.match(raw):
            return m.group(0)
        cls = ""
        if label.startswith("button:primary:"):
            label, cls = label[len("button:primary:"):], ' class="btn primary"'
        elif label.startswith("button:"):
            label, cls = label[len("button:"):], ' class="btn"'
        return f'<a href="{href}"{cls} rel="noopener noreferrer" target="_blank">{label}</a>'

    text = _LINK.sub(link, text)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\*)|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)",
                  lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], text)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def render(markdown: str) -> Markup:
    lines = str(escape(markdown[:MAX_CHARS])).replace("\r\n", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + "<br>".join(_inline(p) for p in para) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append("<pre><code>" + "\n".join(lines[i + 1:j]) + "</code></pre>")
            i = j + 1
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        if _RULE.match(line):
            flush()
            out.append("<hr>")
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2).rstrip('#').strip())}</h{level}>")
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush()
            head = _cells(line)
            rows = []
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(_cells(lines[j]))
                j += 1
            html = ["<table><thead><tr>", *(f"<th>{_inline(c)}</th>" for c in head), "</tr></thead><tbody>"]
            for r in rows:
                html += ["<tr>", *(f"<td>{_inline(c)}</td>" for c in r), "</tr>"]
            html.append("</tbody></table>")
            out.append("".join(html))
            i = j
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                flush()
                items = []
                while i < len(lines) and pattern.match(lines[i]):
                    items.append(f"<li>{_inline(pattern.match(lines[i]).group(1))}</li>")
                    i += 1
                out.append(f"<{tag}>{''.join(items)}</{tag}>")
                break
        else:
            para.append(line)
            i += 1
    flush()
    return Markup("".join(out))
