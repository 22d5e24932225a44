"""Ingest: store a parsed GIAMDINHHS file, one transaction per encounter, idempotently.

Guarantees (the ingest issue, §5):
- Each encounter is stored in its own transaction with all its tables, issues and identity link: after a
  crash an encounter is either fully stored or absent, and the raw file is always stored first.
- The same file again stores nothing and answers the original receipt. The same encounter content
  again (in another file) is a ``duplicate``; other content for the same (MA_CSKCB, MA_LK) is a new
  version, and earlier versions stay readable.
- A submitter bound to facility X cannot store encounters of another facility.
- The identity step plugs in through :class:`EncounterLinker`, inside the encounter's transaction.

Never logs values from the file: only counts, codes and ids.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from mpi.store.content import content_tables
from mpi.store.models import Encounter, Facility, Submission, ValidationIssue, utcnow
from mpi.xml130 import Issue, Limits, ParsedEncounter, ParsedSubmission, PartialDateTime, parse_submission
from mpi.xml130.fields import Kind, field_table
from mpi.xml130.issues import Severity, issue

log = logging.getLogger(__name__)

_encounters = Encounter.__table__  # type: ignore[attr-defined]
_submissions = Submission.__table__  # type: ignore[attr-defined]
_issues = ValidationIssue.__table__  # type: ignore[attr-defined]
_facilities = Facility.__table__  # type: ignore[attr-defined]


class EncounterLinker(Protocol):
    """The identity step: link a freshly stored encounter version to a person.

    Called inside the encounter's transaction, so the link is stored with the encounter or not at all.
    Returns facts for the receipt (e.g. ``{"person_id": ...}``) or ``None``.
    """

    def __call__(
        self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter
    ) -> dict[str, Any] | None: ...


@dataclass(slots=True)
class EncounterReceipt:
    hoso: int
    facility_code: str | None
    ma_lk: str | None
    status: str
    """``accepted``, ``duplicate`` or ``rejected``."""
    version: int | None = None
    new_version: bool = False
    encounter_id: int | None = None
    warnings: int = 0
    errors: int = 0
    issues: list[dict[str, Any]] = field(default_factory=list)
    identity: dict[str, Any] | None = None


@dataclass(slots=True)
class Receipt:
    submission_id: int
    sha256: str
    received_at: str
    outcome: str
    """``accepted`` (every encounter stored), ``partial`` or ``rejected`` (nothing stored)."""
    facility_code: str | None
    declared_count: int | None
    hoso_count: int
    signature_present: bool
    issues: list[dict[str, Any]]
    """File-level issues."""
    encounters: list[EncounterReceipt]
    duplicate: bool = False
    """True when this exact file had been received before: this is the original receipt."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        encounters = [EncounterReceipt(**e) for e in data["encounters"]]
        return cls(**{**data, "encounters": encounters})


def ingest_file(
    *,
    engine: Engine,
    data: bytes,
    submitter: str,
    allowed_facility: str | None = None,
    linker: EncounterLinker | None = None,
    limits: Limits | None = None,
) -> Receipt:
    """Validate and store one file. ``allowed_facility`` scopes a submitter key to one MA_CSKCB."""
    parsed = parse_submission(data, limits=limits)
    existing = _find_submission(engine, parsed.sha256)
    if existing is not None and existing.outcome != "processing" and existing.receipt is not None:
        receipt = Receipt.from_dict(existing.receipt)
        receipt.duplicate = True
        return receipt
    submission_id = existing.id if existing is not None else _store_submission(engine, data, parsed, submitter)
    assert submission_id is not None

    receipts: list[EncounterReceipt] = []
    for enc in parsed.encounters:
        if allowed_facility is not None and enc.facility_code is not None and enc.facility_code != allowed_facility:
            enc.issues.append(issue("facility_scope", hoso=enc.hoso, table="XML1", field="MA_CSKCB", allowed=allowed_facility))
        receipts.append(_store_encounter(engine, submission_id, enc, linker))

    stored = sum(1 for r in receipts if r.status != "rejected")
    if parsed.rejected or stored == 0:
        outcome = "rejected"
    elif stored < len(receipts):
        outcome = "partial"
    else:
        outcome = "accepted"
    received_at = existing.received_at if existing is not None else utcnow()
    receipt = Receipt(
        submission_id=submission_id,
        sha256=parsed.sha256,
        received_at=received_at.isoformat(timespec="seconds"),
        outcome=outcome,
        facility_code=parsed.facility_code,
        declared_count=parsed.declared_count,
        hoso_count=len(parsed.encounters),
        signature_present=parsed.signature_present,
        issues=[i.as_dict() for i in parsed.issues],
        encounters=receipts,
    )
    with engine.begin() as conn:
        if parsed.issues:
            conn.execute(insert(_issues), [_issue_row(i, submission_id, None, None) for i in parsed.issues])
        conn.execute(
            update(_submissions)
            .where(_submissions.c.id == submission_id)
            .values(outcome=outcome, receipt=receipt.as_dict(), hoso_count=len(parsed.encounters))
        )
    log.info(
        "submission %s: outcome=%s encounters=%d stored=%d", submission_id, outcome, len(receipts), stored
    )
    return receipt


def get_receipt(*, engine: Engine, submission_id: int) -> Receipt | None:
    with engine.connect() as conn:
        row = conn.execute(select(_submissions.c.receipt).where(_submissions.c.id == submission_id)).first()
    if row is None or row.receipt is None:
        return None
    return Receipt.from_dict(row.receipt)


def _find_submission(engine: Engine, sha256: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(_submissions.c.id, _submissions.c.outcome, _submissions.c.receipt, _submissions.c.received_at).where(
                _submissions.c.sha256 == sha256
            )
        ).first()


def _store_submission(engine: Engine, data: bytes, parsed: ParsedSubmission, submitter: str) -> int:
    """Store the raw file first, in its own transaction: whatever happens next, nothing sent is lost."""
    with engine.begin() as conn:
        result = conn.execute(
            insert(_submissions).values(
                sha256=parsed.sha256,
                received_at=utcnow(),
                submitter=submitter,
                facility_code=(parsed.facility_code or "")[:20] or None,
                created_on=(parsed.created_on or "")[:20] or None,
                declared_count=parsed.declared_count,
                hoso_count=len(parsed.encounters),
                signature_present=parsed.signature_present,
                signature=parsed.signature,
                size=len(data),
                raw_gzip=gzip.compress(data, compresslevel=6),
                outcome="processing",
            )
        )
        return int(result.inserted_primary_key[0])


def _issue_row(i: Issue, submission_id: int, encounter_id: int | None, ma_lk: str | None) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "encounter_id": encounter_id,
        "hoso": i.hoso,
        "ma_lk": (ma_lk or "")[:100] or None,
        "path": i.path[:200],
        "table_name": i.table,
        "row": i.row,
        "field_name": (i.field or "")[:64] or None,
        "code": i.code,
        "severity": i.severity.value,
        "message_vi": i.message_vi,
        "message_en": i.message_en,
    }


def _store_encounter(
    engine: Engine, submission_id: int, enc: ParsedEncounter, linker: EncounterLinker | None
) -> EncounterReceipt:
    errors = sum(1 for i in enc.issues if i.severity is Severity.ERROR)
    receipt = EncounterReceipt(
        hoso=enc.hoso,
        facility_code=enc.facility_code,
        ma_lk=enc.ma_lk,
        status="rejected" if errors else "accepted",
        warnings=len(enc.issues) - errors,
        errors=errors,
        issues=[i.as_dict() for i in enc.issues],
    )
    if errors:
        with engine.begin() as conn:
            conn.execute(insert(_issues), [_issue_row(i, submission_id, None, enc.ma_lk) for i in enc.issues])
        return receipt
    assert enc.facility_code is not None and enc.ma_lk is not None
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                _write_encounter(conn, submission_id, enc, receipt, linker)
            return receipt
        except IntegrityError:
            # Another writer stored a version of the same encounter between our read and our insert.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _write_encounter(
    conn: Connection,
    submission_id: int,
    enc: ParsedEncounter,
    receipt: EncounterReceipt,
    linker: EncounterLinker | None,
) -> None:
    current = conn.execute(
        select(_encounters.c.id, _encounters.c.version, _encounters.c.content_sha256).where(
            _encounters.c.facility_code == enc.facility_code,
            _encounters.c.ma_lk == enc.ma_lk,
            _encounters.c.is_current.is_(True),
        )
    ).first()
    if current is not None and current.content_sha256 == enc.content_sha256:
        receipt.status, receipt.version, receipt.encounter_id = "duplicate", current.version, current.id
        return
    _ensure_facility(conn, enc.facility_code or "")
    version = 1 if current is None else current.version + 1
    if current is not None:
        conn.execute(update(_encounters).where(_encounters.c.id == current.id).values(is_current=False))
    encounter_id = conn.execute(
        insert(_encounters).values(
            facility_code=enc.facility_code,
            ma_lk=enc.ma_lk,
            version=version,
            is_current=True,
            submission_id=submission_id,
            hoso=enc.hoso,
            content_sha256=enc.content_sha256,
            status="accepted_with_warnings" if enc.issues else "accepted",
            legacy_format=any(t.legacy for t in enc.tables.values()),
            tables=sorted(enc.tables, key=lambda t: int(t[3:])),
            received_at=utcnow(),
        )
    ).inserted_primary_key[0]
    for name, table in enc.tables.items():
        if table.rows:
            conn.execute(insert(content_tables[name]), list(_content_rows(name, encounter_id, table.rows)))
    if enc.issues:
        conn.execute(insert(_issues), [_issue_row(i, submission_id, encounter_id, enc.ma_lk) for i in enc.issues])
    receipt.version, receipt.new_version, receipt.encounter_id = version, version > 1, encounter_id
    if linker is not None:
        receipt.identity = linker(connection=conn, encounter_id=encounter_id, encounter=enc)


def _content_rows(name: str, encounter_id: int, rows: Iterable[Any]) -> Iterable[dict[str, Any]]:
    template = _row_template(name)
    for row in rows:
        out = dict(template)
        out["encounter_id"], out["row_no"], out["raw"] = encounter_id, row.index, row.raw
        for tag, value in row.values.items():
            column = tag.lower()
            if isinstance(value, PartialDateTime):
                out[column], out[f"{column}_precision"] = value.value, value.precision.value
            else:
                out[column] = value
        yield out


_TEMPLATES: dict[str, dict[str, Any]] = {}


def _row_template(name: str) -> dict[str, Any]:
    """Every column set to None: executemany needs the same keys in every row."""
    template = _TEMPLATES.get(name)
    if template is None:
        template = {}
        for fdef in field_table()[name]:
            template[fdef.column] = None
            if fdef.kind is Kind.DATETIME:
                template[f"{fdef.column}_precision"] = None
        _TEMPLATES[name] = template
    return template


def _ensure_facility(conn: Connection, code: str) -> None:
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(_facilities).values(code=code, first_seen_at=utcnow()).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(_facilities).values(code=code, first_seen_at=utcnow()).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported back ends
        if conn.execute(select(_facilities.c.code).where(_facilities.c.code == code)).first() is not None:
            return
        stmt = insert(_facilities).values(code=code, first_seen_at=utcnow())
    conn.execute(stmt)
