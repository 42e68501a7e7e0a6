"""``BRIDGE_TLS_CERT`` / ``BRIDGE_TLS_KEY``: the server ``bridge serve`` runs speaks https and
wss on loopback, with a throwaway self-signed certificate made here."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.app import create_app
from bridge.config import ConfigError, Settings, load_settings
from bridge.server import TlsFilesMissing, server_config
from bridge.testing.fakes import fake_engines


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_bridge_serves_https_and_wss_with_its_own_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    settings = Settings(default_dialplan="agent", tls_cert=str(cert), tls_key=str(key))
    app = create_app(settings, engines=fake_engines())
    started = asyncio.Event()

    async def signalling(scope: Any, receive: Any, send: Any) -> None:
        async def watched(message: Any) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete":
                started.set()

        await app(scope, receive, watched if scope["type"] == "lifespan" else send)

    config = server_config(signalling, settings)
    config.lifespan = "on"
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn serves them
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        trusted = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=trusted) as http:
            page = await http.get(f"https://127.0.0.1:{port}/")
            assert page.status_code == 200
            assert "softphone" in page.text
            assert (await http.get(f"https://127.0.0.1:{port}/healthz")).json() == {"status": "ok"}
        url = f"wss://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
        async with websockets.connect(url, ssl=trusted) as ws:
            assert '"session.created"' in str(await ws.recv())
        with pytest.raises(httpx.ConnectError):  # a client that does not trust it refuses it
            async with httpx.AsyncClient() as untrusting:
                await untrusting.get(f"https://127.0.0.1:{port}/healthz")
    finally:
        server.should_exit = True
        await task
        sock.close()


def test_tls_settings_go_together_and_name_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_TLS_CERT and BRIDGE_TLS_KEY go together"):
        load_settings(tls_cert=str(tmp_path / "cert.pem"))
    settings = Settings(tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"))
    with pytest.raises(TlsFilesMissing, match="BRIDGE_TLS_CERT: no such file"):
        server_config(object(), settings)
    plain = server_config(object(), Settings())
    assert plain.ssl_certfile is None
