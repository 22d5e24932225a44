"""A throwaway test PKI made at test time with ``cryptography``: a CA and facility signing certificates.

Nothing here is a real key; no key is stored in the repository.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "Test CA (synthetic)") -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Signer(key, cert)


def make_signer(
    ca: Signer, cn: str, *, valid_from_days: int = -30, valid_to_days: int = 365, ecdsa: bool = False
) -> Signer:
    """A facility signing certificate issued by ``ca``, valid from/to the given days relative to now."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if ecdsa
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=valid_from_days))
        .not_valid_after(now + timedelta(days=valid_to_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Signer(key, cert)


_TABLE = re.compile(rb"<NOIDUNGFILE>([A-Za-z0-9+/=]+)</NOIDUNGFILE>")


def tamper_one_byte(data: bytes, old: bytes = b"BN000123", new: bytes = b"BN000124") -> bytes:
    """Change one byte of the first base64 table holding ``old`` (a patient code digit): the file still
    reads as a valid file, only its content differs from what was signed."""
    for match in _TABLE.finditer(data):
        decoded = base64.b64decode(match.group(1))
        if old in decoded:
            encoded = base64.b64encode(decoded.replace(old, new, 1))
            changed = sum(a != b for a, b in zip(encoded, match.group(1), strict=True))
            assert 1 <= changed <= 2, changed
            return data[: match.start(1)] + encoded + data[match.end(1) :]
    raise AssertionError("no table holds the value to change")
