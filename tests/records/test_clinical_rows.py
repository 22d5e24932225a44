"""The typed drug, service, lab and progress rows: one reading of XML2..XML5 for the REST API, FHIR and pages."""

from __future__ import annotations

from decimal import Decimal

from mpi.records.detail import Drug, LabResult, ProgressNote, Service, TableRow, quantity


def test_a_drug_row_reads_every_field_it_names() -> None:
    row = TableRow(
        3,
        {
            "MA_THUOC": "40.17", "TEN_THUOC": "Paracetamol", "HAM_LUONG": "500mg", "DANG_BAO_CHE": "Viên nén",
            "DON_VI_TINH": "Viên", "LIEU_DUNG": "1 viên/lần * 2 lần/ngày * 5 ngày", "DUONG_DUNG": "1.01",
            "CACH_DUNG": "Uống sau ăn", "SO_LUONG": Decimal("10.000"), "NGAY_YL": "2026-03-01T08:30",
        },
    )  # fmt: skip
    drug = Drug.of(row)
    assert (drug.row_no, drug.code, drug.name, drug.strength) == (3, "40.17", "Paracetamol", "500mg")
    assert drug.route == "1.01" and drug.instructions == "Uống sau ăn"
    assert drug.quantity == Decimal("10.000") and drug.ordered_at == "2026-03-01T08:30"
    assert Drug.of(TableRow(1, {})).model_dump() == {
        "row_no": 1, "code": None, "name": None, "strength": None, "form": None, "unit": None, "dose": None,
        "route": None, "instructions": None, "quantity": None, "ordered_at": None,
    }  # fmt: skip


def test_quantities_are_exact_and_lists_are_joined() -> None:
    assert quantity(TableRow(1, {"SO_LUONG": 2}), "SO_LUONG") == Decimal(2)
    assert quantity(TableRow(1, {"SO_LUONG": "2"}), "SO_LUONG") is None  # text is not a quantity
    service = Service.of(TableRow(1, {"MA_DICH_VU": "18.0001.0001", "NGAY_KQ": "2026-03-01", "SO_LUONG": 1}))
    assert (service.code, service.quantity, service.result_at, service.supply_code) == (
        "18.0001.0001", Decimal(1), "2026-03-01", None,
    )  # fmt: skip
    lab = LabResult.of(TableRow(2, {"MA_CHI_SO": "H17", "GIA_TRI": "5.2", "MO_TA": ("a", "b")}))
    assert (lab.code, lab.value, lab.description, lab.service_name) == ("H17", "5.2", "a;b", None)
    note = ProgressNote.of(TableRow(4, {"DIEN_BIEN_LS": "Sốt", "THOI_DIEM_DBLS": "2026-03-01T09:00"}))
    assert (note.progress, note.at, note.surgery) == ("Sốt", "2026-03-01T09:00", None)
