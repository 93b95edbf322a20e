"""``rexwatch server`` as a user runs it: start, refuse bad settings, stop cleanly."""

from __future__ import annotations

import signal
import sys

import httpx

from helpers import run_cli
from rexwatch.testing import free_port


def _port() -> str:
    # Every server a test starts names a free port: a developer's `make serve` holds the default one.
    return str(free_port())


def test_starts_healthy_and_stops_cleanly_on_sigterm(server_process):
    sp = server_process().start(wait=False)
    sp.wait_healthy()
    assert httpx.get(f"{sp.url}/health").json()["status"] == "healthy"
    assert (sp.data_dir / "control.db").exists()
    assert (sp.data_dir / "telemetry").is_dir()
    assert sp.stop(signal.SIGTERM) == 0
    out = sp.proc.stdout.read()
    assert f"serving on {sp.url}" in out


def test_sigint_also_stops_cleanly_and_data_dir_reopens(server_process, tmp_path):
    sp = server_process().start()
    assert sp.stop(signal.SIGINT) == 0
    again = server_process(data_dir=sp.data_dir).start()
    assert httpx.get(f"{again.url}/health").status_code == 200
    assert again.stop() == 0


def test_second_server_on_same_data_dir_is_refused(server_process):
    first = server_process().start()
    second = server_process(data_dir=first.data_dir)
    r = run_cli("server", "--data-dir", str(first.data_dir), "--port", str(second.port), timeout=60)
    assert r.returncode == 1
    assert "already using data dir" in r.stderr
    assert httpx.get(f"{first.url}/health").status_code == 200


def test_non_loopback_with_auth_off_is_refused(tmp_path):
    r = run_cli("server", "--host", "0.0.0.0", "--auth", "off", "--port", _port(),
                "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 1
    assert "rexwatch keys create" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unwritable_data_dir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    r = run_cli("server", "--port", _port(), "--data-dir", str(blocker / "sub"))
    assert r.returncode == 1
    assert "data dir" in r.stderr and str(blocker) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_toml_is_one_clear_line(tmp_path):
    cfg = tmp_path / "rexwatch.toml"
    cfg.write_text("port = [unclosed\n")
    r = run_cli("--config", str(cfg), "server", "--port", _port(), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 1
    assert "not valid TOML" in r.stderr and str(cfg) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_refusing_postgres_url_is_one_clear_line(tmp_path):
    r = run_cli("server", "--port", _port(), "--data-dir", str(tmp_path / "d"),
                env={"REXWATCH_CONTROL_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    assert r.returncode == 1
    assert "refused the connection" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_sdk_imports_without_server_dependencies():
    code = (
        "import sys\n"
        "for m in ('chdb', 'fastapi', 'sqlalchemy', 'uvicorn', 'pyarrow', 'awscli'):\n"
        "    sys.modules[m] = None\n"
        "import rexwatch.sdk\n"
        "print('ok')\n"
    )
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_status_command_against_running_server_with_auth(server_process, tmp_path):
    d = tmp_path / "authsrv"
    created = run_cli("--output", "json", "keys", "create", "--name", "ops", "--data-dir", str(d))
    token = __import__("json").loads(created.stdout)["token"]
    sp = server_process("--auth", "on", data_dir=d).start()
    denied = run_cli("--endpoint", sp.url, "status")
    assert denied.returncode == 1 and "valid API key" in denied.stderr
    ok = run_cli("--endpoint", sp.url, "--api-key", token, "--output", "json", "status")
    assert ok.returncode == 0, ok.stderr
    data = __import__("json").loads(ok.stdout)
    assert data["status"] == "healthy" and data["auth_enabled"] is True
    down = run_cli("--endpoint", "http://127.0.0.1:1", "status")
    assert down.returncode == 1 and "cannot reach" in down.stderr


def test_info_log_says_only_what_an_operator_needs(server_process):
    """Routine lines (each request, each probe's HTTP call) are debug; the info log keeps the start line."""
    import json as _json

    from rexwatch.testing import wait_until

    env = {"REXWATCH_LOG_FORMAT": "json", "REXWATCH_LOG_LEVEL": "info", "REXWATCH_SELF_MONITOR": "true",
           "REXWATCH_SELF_MONITOR_FLUSH_S": "1", "REXWATCH_SELF_MONITOR_HEALTH_INTERVAL_S": "0.5"}
    sp = server_process("--workers", "selfwatch,probes", env=env).start()
    for _ in range(5):
        httpx.get(f"{sp.url}/health")
    httpx.get(f"{sp.url}/api/v1/nope")

    def probed_twice():  # the prober checked the server's /health through httpx at least twice
        ms = [m for m in httpx.get(f"{sp.url}/api/v1/monitors").json() if m["name"] == "rexwatch server"]
        return ms and len(httpx.get(f"{sp.url}/api/v1/monitors/{ms[0]['id']}/history").json()["results"]) >= 2

    wait_until(probed_twice, 120, what="two checks by the self health monitor")
    assert sp.stop(signal.SIGTERM) == 0
    lines = [_json.loads(ln) for ln in sp.proc.stderr.read().splitlines() if ln.startswith("{")]
    messages = [(ln["logger"], ln["msg"]) for ln in lines]
    assert any(m == "server started" for _, m in messages)
    assert not [m for m in messages if m[0].startswith(("httpx", "httpcore"))], messages
    assert not [m for m in messages if m[0] == "rexwatch.access"], messages
    assert all(ln["level"] in ("info", "warning", "error") for ln in lines)
