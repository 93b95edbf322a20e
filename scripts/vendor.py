"""Fetch the browser assets the server serves itself into src/rexwatch/web/static/vendor/.

Every page the server renders loads its scripts and styles from the server, so
the UI and the API docs work on a machine without internet. Each package below
is pinned by version and by the npm registry's integrity hash; ``npm pack``
fetches it, the hash is checked, and only the listed files are kept, always with
the package's licence files. ``manifest.json`` records what was vendored (and
the sha256 of every file, which tests/test_vendor.py checks).

Usage: ``make vendor`` (or ``python scripts/vendor.py [NAME ...]``), then commit
the result. Adding a package is one entry in ``PACKAGES``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src" / "rexwatch" / "web" / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity (sha512, base64)
    files: tuple[str, ...]  # paths inside the package to keep (may be nested: dist/x.min.js)
    licence: tuple[str, ...]  # the licence files, always kept


PACKAGES: tuple[Package, ...] = (
    Package(
        "swagger-ui-dist",
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        files=("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
        licence=("LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"),
    ),
    # The console's charts (MIT).
    Package(
        "uplot",
        "1.6.32",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        files=("dist/uPlot.iife.min.js", "dist/uPlot.min.css"),
        licence=("LICENSE",),
    ),
    # The console's partial page updates (0BSD).
    Package(
        "htmx.org",
        "2.0.11",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        files=("dist/htmx.min.js",),
        licence=("LICENSE",),
    ),
    # The accessibility engine the console's tests run on every page (MPL-2.0); no page loads it.
    Package(
        "axe-core",
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        files=("axe.min.js",),
        licence=("LICENSE", "LICENSE-3RD-PARTY.txt"),
    ),
)


def _sha512_integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(pkg: Package, workdir: Path) -> Path:
    """``npm pack`` the pinned version into ``workdir`` and check its integrity."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed to vendor packages (apt-get install npm)")
    out = subprocess.run(
        [npm, "pack", f"{pkg.name}@{pkg.version}", "--json", "--pack-destination", str(workdir)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    tarball = workdir / json.loads(out.stdout)[0]["filename"]
    got = _sha512_integrity(tarball)
    if got != pkg.integrity:
        sys.exit(f"{pkg.name}@{pkg.version}: integrity {got} does not match the pinned {pkg.integrity}")
    return tarball


def unpack(pkg: Package, tarball: Path) -> dict[str, str]:
    """Replace vendor/<name>/ with the listed files; return their sha256 by name."""
    dest = VENDOR / pkg.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    sums: dict[str, str] = {}
    with tarfile.open(tarball) as tar:
        for name in (*pkg.files, *pkg.licence):
            member = tar.getmember(f"package/{name}")  # KeyError names a file the package lacks
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            target = dest / name  # may be nested, e.g. dist/uPlot.iife.min.js
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            sums[name] = hashlib.sha256(data).hexdigest()
    return sums


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="packages to refresh (default: all)")
    args = ap.parse_args(argv)
    known = {p.name: p for p in PACKAGES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        sys.exit(f"unknown package(s) {', '.join(unknown)}; known: {', '.join(known)}")
    manifest_path = VENDOR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest = {k: v for k, v in manifest.items() if k in known}
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in (known[n] for n in (args.names or known)):
            sums = unpack(pkg, fetch(pkg, Path(tmp)))
            manifest[pkg.name] = {"version": pkg.version, "integrity": pkg.integrity, "files": sums}
            print(f"vendored {pkg.name}@{pkg.version}: {', '.join(sums)}")
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


if __name__ == "__main__":
    main()
