"""HTTPS checks against a local TLS server (certificate expiry warning) and the prober inside a
real ``rexwatch server`` process."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from probe_servers import FlipServer, wait_for
from rexwatch.services.monitors.types import Probe, ProbeContext, get


def _self_signed(tmp_path, days: int):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"c{days}.pem", tmp_path / f"k{days}.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    servers = []

    def make(days: int) -> str:
        cert, key = _self_signed(tmp_path, days)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"https://127.0.0.1:{httpd.server_address[1]}/"

    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def _check(config: dict):
    http = get("http")
    cfg = http.validate(config)

    async def go():
        async with httpx.AsyncClient() as verified, httpx.AsyncClient(verify=False) as insecure:
            # A generous timeout: a loaded machine's slow TLS handshake must not turn into "timed out".
            return await http.check(ProbeContext(verified, insecure), Probe("monitor", 1, "http", cfg, 60.0, 30.0))

    return asyncio.run(go())


def test_tls_certificate_expiry_warning(tls_server):
    soon, later = tls_server(5), tls_server(90)
    r = _check({"url": soon, "verify_tls": False, "tls_expiry_days": 14})
    assert not r.ok and r.reason == "tls"
    assert "TLS certificate expires in 4." in r.error or "TLS certificate expires in 5." in r.error
    assert _check({"url": later, "verify_tls": False, "tls_expiry_days": 14}).ok
    # A self-signed certificate fails verification when verify_tls is on.
    r = _check({"url": later, "tls_expiry_days": 14})
    assert not r.ok and r.reason == "connect" and "CERTIFICATE_VERIFY_FAILED" in r.error


def test_server_process_runs_the_prober(server_process):
    flip = FlipServer()
    try:
        srv = server_process("--workers", "probes").start()
        with httpx.Client(base_url=srv.url) as http:
            m = http.post("/api/v1/monitors", json={"name": "api", "url": f"{flip.url}/health",
                                                    "interval": 0.3, "timeout": 0.3}).json()
            wait_for(lambda: http.get(f"/api/v1/monitors/{m['id']}").json()["status"] == "up", 60)
            flip.mode = "failing"
            wait_for(lambda: http.get(f"/api/v1/monitors/{m['id']}").json()["status"] == "down", 60)

            # The failing server's 503 is recorded and the incident is open. Not necessarily as the newest
            # check: on a loaded machine a check may also time out, which is a failure too.
            def recorded_503() -> dict | None:
                hist = http.get(f"/api/v1/monitors/{m['id']}/history").json()
                got = any(r["status_code"] == 503 for r in hist["results"])
                return hist if got and hist["incidents"] and hist["incidents"][0]["end"] is None else None

            hist = wait_for(recorded_503, 60)
            assert all(r["status_code"] in (200, 503) or r["reason"] == "timeout" for r in hist["results"]), hist
        assert srv.stop() == 0
    finally:
        flip.close()
