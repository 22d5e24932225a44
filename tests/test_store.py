"""The store: migrations match the models, values round-trip exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from mpi.ingest import ingest_file
from mpi.schema import metadata
from mpi.store import content_tables
from tests.builders import drug, envelope, inner_document, outpatient, summary


def test_migrations_create_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == []


def test_typed_values_round_trip_exactly(engine: Engine) -> None:
    hoso = outpatient(
        "LK-TYPES",
        NGAY_SINH="194700000000",
        MA_NGHE_NGHIEP="00120",
        T_TONGCHI_BV="127000.00",
        MA_BENH_KT="R50.9;K30",
    )
    big = drug("LK-TYPES", 3, "0.00") | {"DON_GIA": "123456789012.345", "SO_LUONG": "0.001", "THANH_TIEN_BV": "0.00"}
    hoso["XML2"] = inner_document("XML2", [drug("LK-TYPES", 1, "15000.00"), drug("LK-TYPES", 2, "12000.00"), big])
    receipt = ingest_file(engine=engine, data=envelope([hoso]), submitter="test")
    assert [e.status for e in receipt.encounters] == ["accepted"]
    xml1, xml2 = content_tables["XML1"], content_tables["XML2"]
    with engine.connect() as conn:
        row = conn.execute(select(xml1)).one()
        drugs = conn.execute(select(xml2).order_by(xml2.c.row_no)).all()
    assert row.ngay_sinh == datetime(1947, 1, 1)
    assert row.ngay_sinh_precision == "year"
    assert row.ngay_vao == datetime(2026, 3, 1, 8, 15)
    assert row.ngay_vao_precision == "minute"
    assert row.ma_nghe_nghiep == "00120"
    assert row.ma_quoctich == "000"
    assert row.ma_benh_kt == ["R50.9", "K30"]
    assert row.ma_the_bhyt == ["DN4740123456789"]
    assert row.t_tongchi_bv == Decimal("127000.00")
    assert row.gioi_tinh == 2
    assert row.raw["NGAY_SINH"] == "194700000000"
    assert drugs[2].don_gia == Decimal("123456789012.345")
    assert drugs[2].so_luong == Decimal("0.001")
    assert [d.row_no for d in drugs] == [1, 2, 3]


def test_unknown_elements_are_kept_raw(engine: Engine) -> None:
    xml1 = inner_document("XML1", [summary("LK-RAW", GHI_CHU_NOI_BO="giữ nguyên")])
    ingest_file(engine=engine, data=envelope([{"XML1": xml1}]), submitter="test")
    with engine.connect() as conn:
        raw = conn.execute(select(content_tables["XML1"].c.raw)).scalar_one()
    assert raw["GHI_CHU_NOI_BO"] == "giữ nguyên"


def test_amounts_bound_on_sqlite_as_their_exact_text() -> None:
    """ExactDecimal's processor on SQLite (taken directly by the ingest path) gives what its bind step gives."""
    from decimal import Decimal

    from sqlalchemy.dialects.postgresql import psycopg

    from mpi.store.db import sqlite_dialect
    from mpi.store.types import ExactDecimal

    dialect = sqlite_dialect()
    process = ExactDecimal().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    for value in (None, Decimal("1234567890123.456"), Decimal("-0.10"), Decimal("1E+3"), Decimal("0E-7"), 5):
        assert process(value) == ExactDecimal().process_bind_param(value, dialect)  # type: ignore[arg-type]
    assert process(Decimal("1E+3")) == "1000" and process(None) is None
    postgres = psycopg.dialect()
    assert ExactDecimal().process_bind_param(Decimal("1.50"), postgres) == Decimal("1.50")
