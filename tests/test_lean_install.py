"""``pip install rexwatch`` without extras: the client CLI and the SDK, no server libraries.

The wheel is built from this checkout and installed into a fresh virtualenv
(its dependencies come from the package index), once per test session.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# Building and installing a wheel on a loaded machine can take minutes: a deadline, not a speed goal.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("lean")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next((tmp / "dist").glob("rexwatch-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True, timeout=300)
    bin_dir = tmp / "venv" / "bin"
    r = subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return {"wheel": wheel, "bin": bin_dir}


def run(lean: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(lean["bin"] / "rexwatch"), *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": f"{lean['bin']}:/usr/bin:/bin", "HOME": str(lean["bin"].parent)})


def test_no_server_library_is_installed(lean):
    for module in ("chdb", "fastapi", "sqlalchemy", "pyarrow", "awscli", "botocore", "pydantic", "grpc"):
        r = subprocess.run([str(lean["bin"] / "python"), "-c", f"import {module}"], capture_output=True, text=True)
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, module
    r = subprocess.run([str(lean["bin"] / "python"), "-c", "import rexwatch.sdk, rexwatch; print(rexwatch.__version__)"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    # Tracing and the OTLP exporter need the otlp extra: without it they say so, and the rest works.
    code = ("import rexwatch.sdk as rw\n"
            "for kw in ({'tracing': True}, {'exporter': 'otlp'}):\n"
            "    try:\n"
            "        rw.configure(logging_level=None, endpoint='http://127.0.0.1:9', **kw)\n"
            "    except RuntimeError as e:\n"
            "        print(e)\n"
            "rw.configure(logging_level=None, endpoint='http://127.0.0.1:9', exporter='emf', aws_access_key_id='x',\n"
            "             aws_secret_access_key='x')\n"
            "rw.put_metric('X', 1, 'Count')\n"
            "print('emf ok')\n")
    r = subprocess.run([str(lean["bin"] / "python"), "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("pip install 'rexwatch[otlp]'") == 2 and "emf ok" in r.stdout, r.stdout


def test_wheel_ships_the_vendored_browser_assets(lean):
    names = set(zipfile.ZipFile(lean["wheel"]).namelist())
    assert "rexwatch/web/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in names
    assert "rexwatch/web/static/vendor/swagger-ui-dist/LICENSE" in names


def test_client_commands_work_against_a_remote_server(lean, live):
    r = run(lean, "--help")
    assert r.returncode == 0, r.stderr
    assert "status" in r.stdout and "logs" in r.stdout
    r = run(lean, "--endpoint", live.url, "status", "--help")
    assert r.returncode == 0, r.stderr
    r = run(lean, "--endpoint", live.url, "--output", "json", "status")
    assert r.returncode == 0, r.stderr
    assert '"status": "healthy"' in r.stdout and live.url in r.stdout
    r = run(lean, "--endpoint", live.url, "env")
    assert r.returncode == 0, r.stderr
    assert f"export AWS_ENDPOINT_URL={live.url}" in r.stdout
    r = run(lean, "--endpoint", live.url, "logs", "--help")
    assert r.returncode == 0, r.stderr
    assert "tail" in r.stdout and "rexwatch[server]" in r.stdout


@pytest.mark.parametrize("args", [["keys", "list"], ["config", "show"], ["logs", "describe-log-groups"],
                                  ["server", "--port", "1"]])
def test_server_commands_say_what_to_install_in_one_line(lean, live, args):
    r = run(lean, "--endpoint", live.url, *args)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "rexwatch[server]" in lines[0] and "Traceback" not in r.stderr


def test_sdk_sends_from_a_lean_install(lean, live):
    code = f"""
import logging, rexwatch.sdk as rw
import rexwatch.sdk.asgi, rexwatch.sdk.wsgi, rexwatch.sdk.health, rexwatch.sdk.runtime, rexwatch.sdk.profiling
rw.configure(service="lean", endpoint="{live.url}", log_group="/app/lean", namespace="Lean", runtime_metrics=1)
logging.getLogger("lean").info("from a lean install")
rw.put_metric("LeanMetric", 2, "Count")
assert rw.shutdown(30), rw.stats()
print("sent")
"""
    r = subprocess.run([str(lean["bin"] / "python"), "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "sent", r.stderr
    from sdk_helpers import log_lines, metric_stats, wait_for

    lines = wait_for(lambda: log_lines(live.url, "/app/lean"))
    assert lines[0]["message"] == "from a lean install" and lines[0]["logger"] == "lean"
    assert wait_for(lambda: metric_stats(live.url, "Lean", "LeanMetric"))["Sum"] == 2
