"""Screenshots of every console page for docs/console.md, taken from a live server holding the
console's sample data (``rexwatch.sample_data``), in headless Chromium through Playwright.

Each page is shot at 1280x800 (the first screen, as a user first sees it) in the dark theme,
then reduced to a 256-colour palette so the PNGs stay small in the repository.

Usage: ``python scripts/console_screenshots.py [--out docs/img] [--chromium /usr/bin/chromium]
[--only NAME ...] [--theme dark|light]``. Needs the test extra (Playwright) and Debian's chromium.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shrink(path: Path) -> None:
    """A palette PNG: a tenth of the size of the browser's truecolour one, and the UI has few colours."""
    from PIL import Image

    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def settle(page, name: str) -> None:
    page.wait_for_selector("body[data-console-ready]", state="attached", timeout=30_000) if name not in (
        "status-page", "api-docs") else None
    if name == "insights":
        page.wait_for_selector("#results[data-status=Complete]", timeout=60_000)
        page.wait_for_selector("#query[data-completions]", state="attached", timeout=30_000)
    elif name in ("metrics", "alarm", "log-group"):
        page.wait_for_selector(".chart canvas", state="attached", timeout=30_000)
    elif name == "dashboard":
        page.wait_for_selector(".widget canvas", state="attached", timeout=30_000)
    elif name == "api-docs":
        page.wait_for_selector(".swagger-ui .info", timeout=30_000)
    elif name == "live-tail":
        page.wait_for_selector("#tail[data-ready]", state="attached", timeout=30_000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--only", nargs="*", default=None, help="page names (default: every page)")
    ap.add_argument("--theme", choices=("dark", "light"), default="dark")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from rexwatch import sample_data
    from rexwatch.stores.telemetry.chdb import engine_for
    from rexwatch.testing import LiveServer, make_runtime

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexwatch-shots-") as tmp:
        engine = engine_for(str(Path(tmp) / "chdb"))
        runtime = make_runtime(Path(tmp) / "data", engine, workers="none")
        try:
            sample = sample_data.seed(runtime)
            with LiveServer(runtime, run_workers=False) as live, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
                ctx = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=args.theme,
                                          timezone_id="UTC")
                page = ctx.new_page()
                for name, path in sample_data.pages(sample):
                    if args.only and name not in args.only:
                        continue
                    resp = page.goto(live.url + path)
                    if resp is None or resp.status != 200:
                        print(f"{name}: HTTP {resp and resp.status}", file=sys.stderr)
                        return 1
                    settle(page, name)
                    target = out / f"console-{name}.png"
                    page.screenshot(path=str(target))
                    shrink(target)
                    print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                          f"{target.stat().st_size // 1024} KiB")
                browser.close()
        finally:
            runtime.close(close_stores=False)
            runtime.telemetry.drop_database()
            runtime.control.dispose()
            engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
