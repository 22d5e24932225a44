"""Sign a generated province's files as facilities with digital signatures would (``mpi synth --sign``).

A throwaway test CA and one ECDSA P-256 signing certificate per facility are made with ``cryptography``
each run (never stored keys); every ``out/xml/<MA_CSKCB>/*.xml`` is signed in place with
:func:`mpi.xml130.signature.sign_envelope`. The certificates are written to ``out/certificates/`` —
``ca.pem`` and ``<MA_CSKCB>.pem`` — for ``mpi facilities certificates add``. Private keys are not
written: the files cannot be re-signed later, which is what a facility's key held elsewhere looks like.

Not part of the default generation (signing costs a few milliseconds per file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mpi.xml130.signature import sign_envelope


@dataclass(frozen=True, slots=True)
class SigningSummary:
    facilities: int
    files: int
    certificates: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650 if ca else 730))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def sign_province(out: Path) -> SigningSummary:
    """Sign every file under ``out/xml`` in place; write the CA and facility certificates."""
    folder = out / "certificates"
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Synthetic test CA (not a real authority)")
    ca = _certificate("Synthetic test CA (not a real authority)", ca_key, ca_name, ca_key, ca=True)
    (folder / "ca.pem").write_bytes(ca.public_bytes(Encoding.PEM))
    facilities = files = 0
    for facility_dir in sorted(p for p in (out / "xml").iterdir() if p.is_dir()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(f"CSKCB {facility_dir.name} (synthetic)", key, ca_name, ca_key, ca=False)
        (folder / f"{facility_dir.name}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
        facilities += 1
        for path in sorted(facility_dir.rglob("*.xml")):
            path.write_bytes(sign_envelope(path.read_bytes(), key, [cert]))
            files += 1
    return SigningSummary(facilities=facilities, files=files, certificates=folder)
