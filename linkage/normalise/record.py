"""`CanonicalRecord`: one source record's identity fields, normalised for blocking and scoring.

`normalise_record` takes the XML1 (TONG_HOP) field names as they come from the XML 130 reader and
returns the frozen record; `to_row()` flattens it to plain str/int/None for an Arrow/DuckDB table
(Splink). Field names map one to one: HO_TEN -> name_*, NGAY_SINH -> dob_*, GIOI_TINH -> sex,
SO_CCCD -> national_id*, MA_THE_BHYT -> bhxh_number / insurance_prefix, DIEN_THOAI -> phone*,
MATINH/MAHUYEN/MAXA_CU_TRU -> province_code / commune_code (post-2025), DIA_CHI -> address_text,
MA_CSKCB -> facility_code, MA_BN -> patient_code.

Pure: no ORM, no I/O beyond the packaged mapping tables, never logs a field value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from linkage.normalise.address import fold_address, normalise_admin_codes
from linkage.normalise.dates import PartialDate, parse_partial_date
from linkage.normalise.insurance import parse_insurance_cards
from linkage.normalise.names import normalise_name
from linkage.normalise.national_id import classify_national_id
from linkage.normalise.phone import normalise_phone
from linkage.pickling import by_fields

__all__ = ["IDENTITY_ELEMENTS", "CanonicalRecord", "normalise_record"]

IDENTITY_ELEMENTS: Final = (
    "MA_BN",
    "HO_TEN",
    "NGAY_SINH",
    "GIOI_TINH",
    "SO_CCCD",
    "MA_THE_BHYT",
    "DIEN_THOAI",
    "MATINH_CU_TRU",
    "MAHUYEN_CU_TRU",
    "MAXA_CU_TRU",
    "DIA_CHI",
)
"""The XML1 elements of a person's identity that :func:`normalise_record` reads (besides MA_CSKCB, the
facility of the encounter): what an encounter's identity is linked from, in the order a steward compares
them."""

RowValue = str | int | None


@by_fields
@dataclass(frozen=True, slots=True)
class CanonicalRecord:
    # name (HO_TEN)
    name_full: str | None  # NFC, upper case, single spaces, legacy encodings repaired
    name_ascii: str | None  # folded to ASCII
    name_key: str | None  # ASCII, terminal Y -> I, Huỳnh/Hoàng and Võ/Vũ unified
    family: str | None
    middle: str | None  # middle tokens joined by one space
    middle_core: str | None  # middle without Thị / Văn
    given: str | None
    given_ascii: str | None
    # date of birth (NGAY_SINH) and sex (GIOI_TINH: 1 male, 2 female, 3 unknown)
    dob: PartialDate | None
    sex: int | None
    # identifiers
    national_id: str | None
    national_id_kind: str | None  # CCCD / CMND / PASSPORT / OTHER
    national_id_issues: tuple[str, ...]
    bhxh_number: str | None  # last 10 digits of the newest insurance card
    insurance_prefix: str | None  # beneficiary group of that card, e.g. "DN", "TE"
    phone: str | None
    phone_kind: str | None
    # residence, post-2025 units
    province_code: str | None
    commune_code: str | None
    commune_split: bool
    address_text: str | None
    # source
    facility_code: str | None
    patient_code: str | None

    @property
    def dob_iso(self) -> str | None:
        return self.dob.iso() if self.dob else None

    @property
    def dob_year(self) -> int | None:
        return self.dob.year if self.dob else None

    @property
    def dob_precision(self) -> str | None:
        return self.dob.precision if self.dob else None

    def to_row(self) -> dict[str, RowValue]:
        """Flat plain-typed row (str / int / None) in a stable column order, for Arrow/DuckDB/Splink."""
        row: dict[str, RowValue] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if name == "dob":
                dob = self.dob
                row["dob_iso"] = self.dob_iso
                row["dob_year"] = dob.year if dob else None
                row["dob_month"] = dob.month if dob else None
                row["dob_day"] = dob.day if dob else None
                row["dob_precision"] = self.dob_precision
            elif isinstance(value, tuple):
                row[name] = ";".join(value) or None
            elif isinstance(value, bool):
                row[name] = int(value)
            else:
                row[name] = value
        return row


_FIELD_NAMES: Final = tuple(field.name for field in fields(CanonicalRecord))
"""The record's fields in declaration order (``dataclasses.fields`` once, not per :meth:`CanonicalRecord.to_row`)."""


def _text(raw: Mapping[str, str | None], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _sex(value: str | None) -> int | None:
    return int(value) if value in ("1", "2", "3") else None


def normalise_record(raw: Mapping[str, str | None]) -> CanonicalRecord:
    """Normalise one XML1 row (field names as in QĐ 130/4750) into a `CanonicalRecord`.

    Missing keys and empty strings are treated alike; malformed values become None (or an issue
    on the national ID), never an exception.
    """
    name = normalise_name(_text(raw, "HO_TEN"))
    dob = parse_partial_date(_text(raw, "NGAY_SINH"))
    sex = _sex(_text(raw, "GIOI_TINH"))
    national_id = classify_national_id(_text(raw, "SO_CCCD"), sex=sex, dob=dob)
    cards = parse_insurance_cards(_text(raw, "MA_THE_BHYT"))
    card = cards[-1] if cards else None
    phone = normalise_phone(_text(raw, "DIEN_THOAI"))
    unit = normalise_admin_codes(
        _text(raw, "MATINH_CU_TRU"), _text(raw, "MAHUYEN_CU_TRU"), _text(raw, "MAXA_CU_TRU")
    )
    return CanonicalRecord(
        name_full=name.full if name else None,
        name_ascii=name.ascii if name else None,
        name_key=name.key if name else None,
        family=name.family if name else None,
        middle=" ".join(name.middle) or None if name else None,
        middle_core=" ".join(name.middle_core) or None if name else None,
        given=name.given if name else None,
        given_ascii=name.given_ascii if name else None,
        dob=dob,
        sex=sex,
        national_id=national_id.value if national_id else None,
        national_id_kind=national_id.kind if national_id else None,
        national_id_issues=national_id.issues if national_id else (),
        bhxh_number=card.bhxh_number if card else None,
        insurance_prefix=card.group if card else None,
        phone=phone.number if phone else None,
        phone_kind=phone.kind if phone else None,
        province_code=unit.province_code,
        commune_code=unit.commune_code,
        commune_split=unit.split,
        address_text=fold_address(_text(raw, "DIA_CHI")),
        facility_code=_text(raw, "MA_CSKCB"),
        patient_code=_text(raw, "MA_BN"),
    )
