"""https to a bank: the connection goes to the checked address, the certificate is
verified against the URL's host name (sent as SNI)."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.alerts._banks import Bank
from tests.alerts.conftest import ONE_ATTEMPT, AlertEnv, alert

Key = ec.EllipticCurvePrivateKey


def _certificate(
    subject: str, key: Key, issuer: str, issuer_key: Key, *, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _server_context(tmp: Path, name: str, ca: x509.Certificate, ca_key: Key) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(name, key, "test ca", ca_key, ca=False)
    chain = tmp / f"{name}.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context


def test_https_is_verified_against_the_urls_host_name(env: AlertEnv, tmp_path: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test ca", ca_key, "test ca", ca_key, ca=True)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    # localhost is allowlisted so that its loopback address may be reached at all.
    env.configure(alert_allow_hosts=("localhost",), alert_ca_file=ca_file)
    genuine = Bank(tls=_server_context(tmp_path, "localhost", ca, ca_key)).start()
    impostor = Bank(tls=_server_context(tmp_path, "bank.example", ca, ca_key)).start()
    env.add_bank("GENUINE", genuine)
    env.add_bank("IMPOSTOR", impostor)
    good, bad = env.enqueue(alert("GENUINE", 0), alert("IMPOSTOR", 1))
    try:
        env.dispatcher(**ONE_ATTEMPT).run(once=True)
    finally:
        genuine.stop()
        impostor.stop()
    assert env.states([good, bad]) == ["delivered", "pending"]
    assert [r.verdict for r in genuine.received] == ["ok"]
    (attempt,) = env.status(bad).history
    assert attempt.status_code is None and "SSLError" in (attempt.error or "")
    assert attempt.target == f"https://localhost:{impostor.port}"
    assert impostor.received == []  # the handshake failed: no request was sent
