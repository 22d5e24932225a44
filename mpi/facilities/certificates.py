"""Signing certificates registered for a facility: what a submission's ``CHUKYDONVI`` is checked against.

``mpi facilities certificates add|list|remove``. A facility may hold several (a renewal overlaps the old
one); removing keeps the row with ``removed_at`` so that past submissions still name their certificate.
Only certificates are accepted: a file that also holds a private key is refused (the key must never
leave the facility).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session

from mpi.errors import MPIError, NotFound
from mpi.store.models import Facility, FacilityCertificate, utcnow
from mpi.xml130.signature import fingerprint

_CODE: Final = re.compile(r"\d{5}")
_table = FacilityCertificate.__table__  # type: ignore[attr-defined]
_ACTIVE: Final = select(_table.c.fingerprint, _table.c.pem).where(
    _table.c.facility_code == bindparam("f"), _table.c.removed_at.is_(None)
)


class CertificateError(MPIError):
    code = "certificate_invalid"
    status = 422


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    id: int
    facility_code: str
    fingerprint: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    added_at: datetime
    removed_at: datetime | None


def read_certificate(data: bytes, *, source: str) -> x509.Certificate:
    """One X.509 certificate from PEM or DER bytes; a clear error naming ``source`` otherwise."""
    if b"PRIVATE KEY" in data:
        raise CertificateError(
            f"{source}: the file holds a private key; register the certificate only (the key stays at the facility)"
        )
    if b"-----BEGIN CERTIFICATE-----" in data:
        if data.count(b"-----BEGIN CERTIFICATE-----") > 1:
            raise CertificateError(f"{source}: the file holds several certificates; register them one by one")
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise CertificateError(f"{source}: not a readable PEM certificate ({exc})") from None
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError(f"{source}: neither a PEM nor a DER X.509 certificate") from None


def add_certificate(*, session: Session, facility_code: str, cert: x509.Certificate) -> CertificateInfo:
    """Register ``cert`` for the facility (created unregistered if the store does not know it yet).

    Registering a certificate already active for the facility is an error; one removed earlier is restored.
    """
    if not _CODE.fullmatch(facility_code):
        raise CertificateError(f"facility code {facility_code!r} is not a MA_CSKCB (5 digits)", code="facility_code")
    if session.get(Facility, facility_code) is None:
        session.add(Facility(code=facility_code))
        session.flush()
    fp = fingerprint(cert)
    row = (
        session.execute(
            select(FacilityCertificate).where(_table.c.facility_code == facility_code, _table.c.fingerprint == fp)
        )
        .scalars()
        .first()
    )
    if row is not None and row.removed_at is None:
        raise CertificateError(
            f"certificate {fp[:16]}… is already registered for facility {facility_code}", code="certificate_exists"
        )
    if row is None:
        row = FacilityCertificate(
            facility_code=facility_code,
            fingerprint=fp,
            subject=cert.subject.rfc4514_string()[:500],
            issuer=cert.issuer.rfc4514_string()[:500],
            serial=format(cert.serial_number, "x")[:80],
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
        )
    else:
        row.removed_at, row.added_at = None, utcnow()
    session.add(row)
    session.flush()
    _cache.clear()
    return _info(row)


def list_certificates(
    *, session: Session, facility_code: str | None = None, include_removed: bool = False
) -> list[CertificateInfo]:
    stmt = select(FacilityCertificate).order_by(_table.c.facility_code, _table.c.id)
    if facility_code is not None:
        stmt = stmt.where(_table.c.facility_code == facility_code)
    if not include_removed:
        stmt = stmt.where(_table.c.removed_at.is_(None))
    return [_info(row) for row in session.execute(stmt).scalars()]


def remove_certificate(*, session: Session, facility_code: str, ref: str) -> CertificateInfo:
    """Remove the facility's active certificate named by its id or a fingerprint prefix (8+ hex digits)."""
    rows = [r for r in session.execute(
        select(FacilityCertificate).where(_table.c.facility_code == facility_code, _table.c.removed_at.is_(None))
    ).scalars() if str(r.id) == ref or (len(ref) >= 8 and r.fingerprint.startswith(ref.lower()))]  # fmt: skip
    if not rows:
        raise NotFound(f"no active certificate {ref!r} for facility {facility_code}")
    if len(rows) > 1:
        raise CertificateError(f"{ref!r} names several certificates of facility {facility_code}; give more digits")
    row = rows[0]
    row.removed_at = utcnow()
    session.add(row)
    session.flush()
    _cache.clear()
    return _info(row)


# Parsed certificates by fingerprint: ingest reads the active fingerprints (one indexed query) per
# signed file and parses each PEM once per process.
_cache: dict[str, x509.Certificate] = {}
_lock = threading.Lock()


def active_certificates(conn: Connection, facility_code: str | None) -> Sequence[x509.Certificate]:
    """The facility's registered (not removed) certificates, for :func:`mpi.xml130.signature.check_signature`."""
    if not facility_code:
        return []
    out = []
    for fp, pem in conn.execute(_ACTIVE, {"f": facility_code}):
        cert = _cache.get(fp)
        if cert is None:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
            with _lock:
                _cache[fp] = cert
        out.append(cert)
    return out


def _info(row: FacilityCertificate) -> CertificateInfo:
    assert row.id is not None
    return CertificateInfo(
        id=row.id,
        facility_code=row.facility_code,
        fingerprint=row.fingerprint,
        subject=row.subject,
        issuer=row.issuer,
        serial=row.serial,
        not_before=row.not_before,
        not_after=row.not_after,
        added_at=row.added_at,
        removed_at=row.removed_at,
    )
