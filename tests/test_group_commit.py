"""Group commit (`mpi.ingest.ingest_many`): the same receipts and rows as one transaction per file, and a
receipt only for what is durable."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, func, select

import mpi.ingest
from mpi.identity import links as L
from mpi.identity.online import OnlineLinker, prepare
from mpi.ingest import Receipt, ingest_many, ingest_parsed, stage
from mpi.settings import get_settings
from mpi.store import content_tables, open_store
from mpi.store.bulk import BulkInsert, Prepared
from mpi.store.db import sqlite_dialect
from mpi.store.models import Encounter
from mpi.xml130 import ParsedSubmission, PartialDateTime, parse_submission
from mpi.xml130.fields import Kind, field_table
from mpi.xml130.rows import ParsedRow
from mpi.xml130.values import Precision
from synth import generate_province
from tests.builders import envelope, outpatient

_encounters = Encounter.__table__


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A small province (one HOSO per file), a file sent twice, a corrected version, a 5-HOSO file, a bad file."""
    out = tmp_path_factory.mktemp("province")
    generate_province(persons=40, seed=2, out=out)
    files = [p.read_bytes() for p in sorted((out / "xml").rglob("*.xml"))]
    first = outpatient("GRP00001")
    corrected = outpatient("GRP00001", HO_TEN="NGUYEN VAN SUA")
    batch = [outpatient(f"GRPB{n:04d}") for n in range(5)]
    return [
        *files[:30],
        envelope([first]),
        files[3],
        envelope(batch),
        *files[30:],
        envelope([corrected]),
        b"<GIAMDINHHS><broken>",
    ]


def _summary(receipt: Receipt) -> tuple[Any, ...]:
    return (
        receipt.outcome,
        receipt.duplicate,
        tuple(
            (e.ma_lk, e.status, e.version, e.errors, e.warnings, (e.identity or {}).get("rule"))
            for e in receipt.encounters
        ),
    )


def _rows(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        out: dict[str, Any] = {
            "encounters": sorted(
                conn.execute(select(_encounters.c.facility_code, _encounters.c.ma_lk, _encounters.c.version)).all()
            ),
            "persons": conn.execute(select(func.count()).select_from(L.persons)).scalar_one(),
            "links": sorted(conn.execute(select(L.links.c.state, L.links.c.rule)).all()),
        }
        for name, table in content_tables.items():
            out[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return out


def _single_and_grouped(
    stores: Callable[[str], str], corpus: list[bytes], group: int
) -> tuple[Engine, list[Receipt], Engine, list[Receipt]]:
    """The files stored one transaction per file, and with group commit, in two fresh stores (and linkers)."""
    settings = get_settings()
    single = open_store(stores("single"))
    grouped = open_store(stores("grouped"))
    linker = OnlineLinker.from_settings(settings)
    expected = [
        ingest_parsed(engine=single, data=b, parsed=parse_submission(b), submitter="t", linker=linker) for b in corpus
    ]
    linker = OnlineLinker.from_settings(settings)
    files = ((b, parse_submission(b)) for b in corpus)
    got = list(ingest_many(engine=grouped, files=files, submitter="t", linker=linker, group=group))
    return single, expected, grouped, got


def test_group_commit_stores_what_one_transaction_per_file_stores(
    migrated_sqlite: Callable[[str], str], corpus: list[bytes]
) -> None:
    single, expected, grouped, got = _single_and_grouped(migrated_sqlite, corpus, 7)
    assert [_summary(r) for r in got] == [_summary(r) for r in expected]
    assert _rows(grouped) == _rows(single)
    assert any(r.duplicate for r in got) and any(e.new_version for r in got for e in r.encounters)
    single.dispose()
    grouped.dispose()


def test_a_receipt_is_given_only_for_committed_encounters(
    migrated_sqlite: Callable[[str], str], corpus: list[bytes]
) -> None:
    """The process fails in the middle of a group: every acknowledged encounter is stored whole, the rest of
    the group is absent, and sending everything again completes the store."""
    engine = open_store(migrated_sqlite("store"))
    files = [(b, parse_submission(b)) for b in corpus[:20]]

    def failing() -> Any:
        yield from files[:12]
        raise RuntimeError("the reader died")

    acknowledged: list[Receipt] = []
    with pytest.raises(RuntimeError, match="reader died"):
        for receipt in ingest_many(engine=engine, files=failing(), submitter="t", group=8):
            acknowledged.append(receipt)
    assert len(acknowledged) == 8
    stored = {(row.facility_code, row.ma_lk) for row in _rows(engine)["encounters"]}
    assert stored == {(e.facility_code, e.ma_lk) for r in acknowledged for e in r.encounters}
    with engine.connect() as conn:
        xml1 = content_tables["XML1"]
        per_encounter = conn.execute(select(xml1.c.encounter_id, func.count()).group_by(xml1.c.encounter_id)).all()
    assert len(per_encounter) == 8 and {n for _, n in per_encounter} == {1}
    again = list(ingest_many(engine=engine, files=iter(files), submitter="t", group=8))
    assert len({(row.facility_code, row.ma_lk) for row in _rows(engine)["encounters"]}) == 20
    assert sum(r.duplicate for r in again) == 8
    engine.dispose()


def test_one_group_sees_its_own_files_and_encounters(
    migrated_sqlite: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one transaction: a file sent twice, a corrected version of an encounter stored earlier in the
    group, and a new facility's encounters; the same receipts and rows as one transaction per file
    (what the group reads ahead answers once, then the group's own writes are read), without a conflict
    (whose retry, a savepoint per file, would hide a stale read)."""

    def no_retry(*args: Any) -> Any:
        raise AssertionError("the group conflicted with itself")

    monkeypatch.setattr(mpi.ingest, "_in_savepoint", no_retry)
    first = envelope([outpatient("ONE00001")])
    files = [
        first,
        envelope([outpatient("ONE00002")]),
        first,
        envelope([outpatient("ONE00001", HO_TEN="NGUYEN VAN SUA")]),
        envelope([outpatient("NEW00001", facility="74002")], facility="74002"),
        envelope([outpatient("NEW00002", facility="74002")], facility="74002"),
        envelope([outpatient("ONE00001", HO_TEN="NGUYEN VAN SUA", GIOI_TINH="1")]),
    ]
    single, expected, grouped, got = _single_and_grouped(migrated_sqlite, files, 64)
    assert [_summary(r) for r in got] == [_summary(r) for r in expected]
    assert [r.duplicate for r in got] == [False, False, True, False, False, False, False]
    assert [e.version for e in got[6].encounters] == [3]
    assert _rows(grouped) == _rows(single)
    assert _content(grouped) == _content(single)
    with grouped.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(_encounters).where(_encounters.c.is_current)) == 4
    single.dispose()
    grouped.dispose()


def test_group_must_be_positive(sqlite_engine: Engine) -> None:
    with pytest.raises(ValueError, match="group"):
        list(ingest_many(engine=sqlite_engine, files=[], submitter="t", group=0))


def _content(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every content row with every column, keyed by its encounter's (facility, MA_LK, version) instead of ids."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in content_tables.items():
            columns = [c for c in table.c if c.name not in ("id", "encounter_id")]
            query = select(_encounters.c.facility_code, _encounters.c.ma_lk, _encounters.c.version, *columns).join(
                _encounters, _encounters.c.id == table.c.encounter_id
            )
            out[name] = sorted(tuple(map(repr, row)) for row in conn.execute(query))
    return out


def test_rows_staged_by_the_parsing_workers_store_the_same_content(
    migrated_sqlite: Callable[[str], str], corpus: list[bytes]
) -> None:
    """`stage` (what `mpi ingest`'s workers do for SQLite, with the identity step's preparation), sent through
    pickle as a worker sends it, stores every column of every content row exactly as the store's own typing
    does, with the same receipts and links."""
    settings = get_settings()
    plain = open_store(migrated_sqlite("plain"))
    staged = open_store(migrated_sqlite("staged"))
    expected = list(
        ingest_many(
            engine=plain,
            files=((b, parse_submission(b)) for b in corpus),
            submitter="t",
            linker=OnlineLinker.from_settings(settings),
        )
    )

    def worker(data: bytes) -> ParsedSubmission:
        parsed = parse_submission(data)
        stage(parsed, prepare=prepare)
        return pickle.loads(pickle.dumps(parsed))

    sent = [worker(b) for b in corpus]
    assert any(e.store_rows for p in sent for e in p.encounters)
    assert all(e.derived for p in sent for e in p.encounters if e.store_rows is not None)
    assert all(not t.content for p in sent for e in p.encounters if e.store_rows is not None for t in e.tables.values())
    got = list(
        ingest_many(
            engine=staged,
            files=zip(corpus, sent, strict=True),
            submitter="t",
            linker=OnlineLinker.from_settings(settings),
        )
    )
    assert [_summary(r) for r in got] == [_summary(r) for r in expected]
    assert _rows(staged) == _rows(plain)
    assert _content(staged) == _content(plain)
    assert sum(len(rows) for rows in _content(staged).values()) > 100
    plain.dispose()
    staged.dispose()


def test_staging_needs_a_positional_driver() -> None:
    from sqlalchemy.dialects.postgresql import psycopg

    with pytest.raises(ValueError, match="positional"):
        BulkInsert(content_tables["XML2"]).stage(psycopg.dialect(), [{"row_no": 1}], later="encounter_id")


def _every_kind(name: str, index: int) -> ParsedRow:
    """A record of content table ``name`` holding a value in every field, of each kind's shapes in turn."""
    dates = [
        PartialDateTime(datetime(2025, 1, 1), Precision.YEAR, 8),
        PartialDateTime(datetime(2025, 3, 1), Precision.MONTH, 8),
        PartialDateTime(datetime(2025, 3, 9), Precision.DAY, 12),
        PartialDateTime(datetime(2025, 3, 9, 7, 5), Precision.MINUTE, 12),
    ]
    by_kind: dict[Kind, list[Any]] = {
        Kind.STRING: ["0012", "Nguyễn", " x "],
        Kind.INTEGER: [0, -3, 10**15],
        Kind.DECIMAL: [Decimal("1234567890123.456"), Decimal("-0.10"), Decimal("0")],
        Kind.DATETIME: dates,
        Kind.LIST: [["A"], ["A", "B"], []],
    }
    values = {}
    for n, fdef in enumerate(field_table()[name]):
        if (n + index) % 5:  # some fields absent
            shapes = by_kind[fdef.kind]
            values[fdef.name] = shapes[(n + index) % len(shapes)]
    return ParsedRow(index, values, {"X": "as sent", **{k: str(v) for k, v in values.items()}})


def test_content_rows_are_staged_from_the_values_present_as_from_every_column() -> None:
    """The driver's rows of each content table, built from a record's values alone (what the parsing workers
    and a SQLite store write), equal those typed from a dict of every column, value and type alike."""
    dialect = sqlite_dialect()
    for name in content_tables:
        rows = [_every_kind(name, n) for n in range(1, 6)] + [ParsedRow(6, {}, {})]
        expected = mpi.ingest._INSERT_CONTENT[name].stage(
            dialect, list(mpi.ingest._content_rows(0, rows)), later="encounter_id"
        )
        got = mpi.ingest._content_stager(name, dialect).rows(rows)
        assert got == expected
        assert [list(map(type, row)) for row in got] == [list(map(type, row)) for row in expected]



def test_staged_dates_and_amounts_remembered_by_object_not_by_value() -> None:
    """A field remembers the driver's text of the dates and amounts it converted, per object: the same
    objects again (as the reader hands them out) give the same rows, and an equal amount written otherwise
    (``1.0`` and ``1.00``) keeps its own text."""
    dialect = sqlite_dialect()
    name = "XML2"
    amount = next(f for f in field_table()[name] if f.kind is Kind.DECIMAL).name
    date = next(f for f in field_table()[name] if f.kind is Kind.DATETIME).name
    stager = mpi.ingest._content_stager(name, dialect)
    day = PartialDateTime(datetime(2025, 3, 9), Precision.DAY, 12)
    minute = PartialDateTime(datetime(2025, 3, 9, 7, 5), Precision.MINUTE, 12)
    one, one_again = Decimal("1.0"), Decimal("1.00")
    rows = [
        ParsedRow(1, {amount: one, date: day}, {}),
        ParsedRow(2, {amount: one_again, date: minute}, {}),
        ParsedRow(3, {amount: one, date: day}, {}),
    ]
    expected = mpi.ingest._INSERT_CONTENT[name].stage(
        dialect, list(mpi.ingest._content_rows(0, rows)), later="encounter_id"
    )
    assert stager.rows(rows) == expected
    assert stager.rows(rows) == expected  # every value now from the memo
    texts = {row[stager.fields[amount][0]] for row in expected}
    assert texts == {"1.0", "1.00"}

def _reference_params(binds: tuple[tuple[str, Any, Any], ...], row: dict[str, Any], positional: bool) -> Any:
    values = [
        process(value) if process is not None and value is not None else value
        for name, process, default in binds
        for value in (row.get(name, default),)
    ]
    return tuple(values) if positional else dict(zip((name for name, _, _ in binds), values, strict=True))


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
def test_generated_parameters_follow_each_bind(dialect_name: str) -> None:
    """A row becomes the driver's parameters as each bind says (default when missing, processor unless None)."""
    from sqlalchemy.dialects.postgresql import psycopg

    dialect = sqlite_dialect() if dialect_name == "sqlite" else psycopg.dialect()
    for insert in (BulkInsert(_encounters), BulkInsert(content_tables["XML1"]), BulkInsert(L.sources)):
        binds = insert.prepared.binds(dialect)
        names = [name for name, _, _ in binds]
        sample = _sample(binds)
        for row in (sample, {}, {n: None for n in names}, {n: sample[n] for n in names[::2] if n in sample}):
            expected = _reference_params(binds, row, dialect.positional)
            # (by repr: psycopg's JSON parameter is a wrapper without equality)
            assert repr(insert.prepared._for(dialect).params(row)) == repr(expected)
    one = Prepared(select(_encounters.c.id).where(_encounters.c.id == bindparam("eid")))
    assert one._for(sqlite_dialect()).params({"eid": 5}) == (5,)


def _sample(binds: tuple[tuple[str, Any, Any], ...]) -> dict[str, Any]:
    """A value for every bind that its processor takes (a datetime, an amount, JSON...)."""
    candidates = [datetime(2025, 1, 2, 3, 4, tzinfo=UTC), Decimal("1.50"), {"k": [1, "v"]}, 7, "x"]
    out = {}
    for name, process, _ in binds:
        for value in candidates:
            try:
                if process is not None:
                    process(value)
            except (TypeError, AttributeError, ValueError):
                continue
            out[name] = value
            break
    return out
