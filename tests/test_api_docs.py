"""The API reference page works offline: every asset comes from the server itself."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from rexwatch.testing import wait_until

CHROMIUM = "/usr/bin/chromium"
VENDOR = Path(__file__).resolve().parents[1] / "src" / "rexwatch" / "web" / "static" / "vendor"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        yield b
        b.close()


def test_docs_page_renders_operations_with_no_outside_request(browser, live):
    context = browser.new_context()
    outside: list[str] = []
    served: dict[str, int] = {}

    def route(r):
        url = r.request.url
        if urlsplit(url).hostname not in LOCAL_HOSTS and not url.startswith(("data:", "blob:")):
            outside.append(url)
            r.abort()
        else:
            r.continue_()

    context.route("**/*", route)
    page = context.new_page()
    csp_refusals: list[str] = []
    page.on("console", lambda m: csp_refusals.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("response", lambda resp: served.__setitem__(urlsplit(resp.url).path, resp.status))
    page.goto(live.url + "/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    # Past a hundred-odd operations Swagger UI renders only what is near the viewport: scroll through
    # the whole page, collecting every operation rendered on the way, until all the spec's paths were
    # seen (passes repeat while the renderer lags, up to the deadline).
    spec_paths = set(httpx.get(live.url + "/api/v1/openapi.json", timeout=60).json()["paths"])
    seen: set[str] = set()

    def one_pass() -> bool:
        y = 0
        while y <= page.evaluate("() => document.body.scrollHeight"):
            page.evaluate(f"() => window.scrollTo(0, {y})")
            seen.update(p.replace("\u200b", "") for p in page.locator(".opblock-summary-path").all_inner_texts())
            y += 400
        return seen >= spec_paths

    wait_until(one_pass, 90, interval=0.2, what="every path of the spec rendered")
    title = page.locator(".info .title").first.inner_text()
    context.close()

    assert outside == []
    # The page works under its own CSP, which forbids inline script.
    assert csp_refusals == []
    assert served["/static/apidocs.js"] == 200
    assert served["/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"] == 200
    assert served["/static/vendor/swagger-ui-dist/swagger-ui.css"] == 200
    assert served["/api/v1/openapi.json"] == 200
    assert "rexwatch" in title
    assert "/api/v1/info" in seen
    assert seen >= set(spec_paths), sorted(set(spec_paths) - seen)[:10]


def test_docs_html_names_no_outside_url(client):
    html = client.get("/api/v1/docs").text
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html


def test_vendored_files_match_the_manifest():
    """What is committed under vendor/ is exactly what scripts/vendor.py fetched, licences included."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("vendor_script", VENDOR.parents[4] / "scripts" / "vendor.py")
    vendor = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = vendor  # dataclasses look their module up while the class is built
    spec.loader.exec_module(vendor)
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    assert set(manifest) == {p.name for p in vendor.PACKAGES}
    for pkg in vendor.PACKAGES:
        entry = manifest[pkg.name]
        assert (entry["version"], entry["integrity"]) == (pkg.version, pkg.integrity)
        assert set(entry["files"]) == {*pkg.files, *pkg.licence}
        assert any(name.startswith("LICENSE") for name in pkg.licence)
        for name, digest in entry["files"].items():
            assert hashlib.sha256((VENDOR / pkg.name / name).read_bytes()).hexdigest() == digest, name
