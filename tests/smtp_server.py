"""A real SMTP server for tests (aiosmtpd on loopback): plain, STARTTLS with AUTH, or TLS from the first byte,
with a self-signed certificate made here (`cryptography`) that the app trusts through SSL_CERT_FILE."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "mailer", "mail-pass-1"


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    message: EmailMessage
    received_at: float = field(default_factory=time.monotonic)
    """When the server accepted it (time.monotonic: bench/notify.py measures up to here)."""

    def part(self, subtype: str) -> str:
        found = self.message.get_body((subtype,))
        assert found is not None, f"no text/{subtype} part"
        return str(found.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class MailServer:
    """Keeps every message it accepted; `logins` counts successful AUTHs, `tls` says whether each mail came over TLS."""

    def __init__(self, **smtp: Any):
        self.mails: list[Mail] = []
        self.logins: list[str] = []
        self.tls: list[bool] = []
        self._lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        server = self

        class Handler:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server._lock:
                    server.mails.append(Mail(tuple(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
                    server.tls.append(session.ssl is not None)
                return "250 OK"

        def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
            if ok:
                server.logins.append(USER)
            return AuthResult(success=ok, handled=False)

        if smtp.pop("auth", False):
            smtp.update(authenticator=authenticate, auth_required=True, auth_exclude_mechanism=["LOGIN"])
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **smtp)
        self._controller.start()

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [mail for mail in self.mails if address in mail.to]

    def close(self) -> None:
        self._controller.stop()
