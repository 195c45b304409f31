"""The local receiver of development (`flask --app app listen`): the address it listens on, its
own certificate authority, and the one exception it makes to where webhooks may be sent.

In development the app allows exactly this loopback address (https://127.0.0.1:PORT) and
trusts this CA for requests to it, and to nothing else. In production (WEBHOOKS_ENV=production)
there is no local receiver: its address is refused like any private one and its CA is unknown.
"""
import datetime
import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
DIRECTORY = "listen"  # inside the instance folder
CA_YEARS, SERVER_DAYS = 10, 825


@dataclass(frozen=True)
class LocalReceiver:
    """Where the development receiver listens and keeps its certificates."""

    port: int
    directory: str

    @property
    def url(self):
        return f"https://{HOST}:{self.port}"

    @property
    def webhook_url(self):
        """The URL the demo webhook sends to."""
        return f"{self.url}/webhooks"

    @property
    def ca_file(self):
        return os.path.join(self.directory, "ca.pem")

    @property
    def cert_file(self):
        return os.path.join(self.directory, "server.pem")

    @property
    def key_file(self):
        return os.path.join(self.directory, "server-key.pem")

    def serves(self, url):
        """Return whether url is an https URL of this receiver (its address and port, any path)."""
        try:
            parts = urlsplit(url)
            return (parts.scheme.lower() == "https" and parts.hostname == HOST
                    and parts.port == self.port and parts.username is None)
        except ValueError:
            return False

    def ensure_certificates(self):
        """Create the CA and the receiver's certificate once (again when either has expired)."""
        if self._certificates_valid():
            return
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        ca_key, ca_cert = _new_ca()
        key, cert = _new_server_certificate(ca_key, ca_cert)
        _write(self.key_file, key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()), private=True)
        _write(self.cert_file, cert.public_bytes(serialization.Encoding.PEM))
        _write(self.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))

    def _certificates_valid(self):
        try:
            with open(self.cert_file, "rb") as handle:
                cert = x509.load_pem_x509_certificate(handle.read())
            with open(self.ca_file, "rb") as handle:
                ca = x509.load_pem_x509_certificate(handle.read())
        except (OSError, ValueError):
            return False
        now = _now()
        return (os.path.exists(self.key_file) and cert.not_valid_after_utc > now
                and ca.not_valid_after_utc > now and cert.issuer == ca.subject)


def of(app):
    """Return the app's LocalReceiver, or None in production."""
    if app.config["WEBHOOKS_ENV"] == "production":
        return None
    return LocalReceiver(port=int(app.config["WEBHOOKS_LISTEN_PORT"]),
                         directory=os.path.join(app.instance_path, DIRECTORY))


# --- Certificates ----------------------------------------------------------------------------


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path, data, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _builder(subject, issuer, public_key, days):
    now = _now()
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _new_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Webhooks development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Webhooks local receiver CA")])
    cert = (_builder(name, name, key.public_key(), CA_YEARS * 365)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _new_server_certificate(ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    cert = (_builder(subject, ca_cert.subject, key.public_key(), SERVER_DAYS)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert
