"""Birth certificates (XML9, giấy chứng sinh): the mother–child relation, and the newborn's records.

A delivery encounter carries one XML9 row per child (QĐ 130 as amended by QĐ 4750: sent when the
facility issues the certificate); its XML1 is the mother's record. Each row names the mother (HO_TEN_NND,
NGAYSINH_NND, SO_CCCD_NND, MA_THE_NND) and the child (intended name HO_TEN_CON, NGAY_SINH_CON with the
birth time, GIOI_TINH_CON, temporary card MA_THE_TAM). A newborn's first records are often written under
the mother's name; the certificate says such a record is the child, not the mother
(:func:`mpi.identity.policy.birth_of` decides; this module reads and writes the ``birth_certificate``
rows):

- :func:`register` stores the children of an encounter's XML9 once its XML1 record is linked, with the
  person of the child's records already stored, if they are on exactly one person other than the
  mother's;
- :func:`for_record` gives the certificates of the current encounter versions whose child was born on a
  record's birth date (only records carrying a birth time: newborns), with mother and child resolved to
  their surviving persons;
- :func:`set_child` records the child's person when its first record arrives;
- :func:`relations` lists a person's mothers and children; :func:`mother_child_pairs` all of them (batch
  relinking never merges a mother and her child).

Works inside the caller's transaction. Never logs a name, an identifier or a phone number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Connection, or_, select, update

from linkage import model_row, normalise_record
from linkage.model import ModelRow
from mpi.identity import links as L
from mpi.identity.models import BirthCertificate
from mpi.identity.policy import Birth, is_birth_of
from mpi.store import ahead
from mpi.store.models import Encounter, utcnow
from mpi.xml130 import ParsedEncounter

__all__ = [
    "Relation",
    "certificate_children",
    "for_record",
    "mother_child_pairs",
    "register",
    "relations",
    "set_child",
]

certificates = BirthCertificate.__table__  # type: ignore[attr-defined]
_encounters = Encounter.__table__  # type: ignore[attr-defined]
_CHILD_FIELDS: Final = {"HO_TEN": "HO_TEN_CON", "NGAY_SINH": "NGAY_SINH_CON", "GIOI_TINH": "GIOI_TINH_CON"}
_MOTHER_FIELDS: Final = {"HO_TEN": "HO_TEN_NND", "NGAY_SINH": "NGAYSINH_NND", "SO_CCCD": "SO_CCCD_NND"}
_FEATURES: Final = ("name_sorted", "name_key", "given_key", "family_key", "dob_date", "dob_time", "dob_year")
_CHILD_FEATURES: Final = (*_FEATURES, "sex", "bhxh_number")
_MOTHER_FEATURES: Final = (*_FEATURES, "national_id", "national_id_kind", "bhxh_number")


def _features(raw: Mapping[str, str | None], keep: Iterable[str]) -> ModelRow:
    row = model_row(normalise_record(dict(raw)).to_row())
    return cast(ModelRow, {k: row.get(k) for k in keep})


def certificate_children(encounter: ParsedEncounter) -> list[tuple[int, ModelRow, ModelRow]]:
    """(row number, child's model row, mother's model row) of each XML9 row of the encounter."""
    table = encounter.tables.get("XML9")
    if table is None:
        return []
    out = []
    for row in table.rows:
        child = {ours: row.text(theirs) for ours, theirs in _CHILD_FIELDS.items()}
        child["MA_THE_BHYT"] = row.text("MA_THE_TAM")
        mother = {ours: row.text(theirs) for ours, theirs in _MOTHER_FIELDS.items()}
        mother["MA_THE_BHYT"] = row.text("MA_THE_NND")
        out.append((row.index, _features(child, _CHILD_FEATURES), _features(mother, _MOTHER_FEATURES)))
    return out


def _child_person(conn: Connection, birth: Birth) -> int | None:
    """The one person (not the mother's) holding records that are the certificate's child, or None."""
    s, child = L.sources, birth.child
    keys = []
    if child.get("bhxh_number"):
        keys.append(s.c.bhxh_number == child["bhxh_number"])
    for name in {birth.mother.get("name_sorted"), child.get("name_sorted")} - {None}:
        keys.append((s.c.name_sorted == name) & (s.c.dob_year == child.get("dob_year")))
    if not keys or not child.get("dob_date"):
        return None
    rows = conn.execute(select(s.c.person_id, s.c.features).where(or_(*keys), s.c.dob_date == child["dob_date"])).all()
    holders = {int(r.person_id) for r in rows if is_birth_of(r.features, birth)}
    persons = set(L.survivors(conn, holders).values()) - {birth.mother_person_id}
    return persons.pop() if len(persons) == 1 else None


def register(conn: Connection, *, encounter_id: int, encounter: ParsedEncounter, mother_source_record_id: int) -> int:
    """Store the children of the encounter's XML9 (its XML1 record, the mother's, already linked); returns
    how many."""
    children = certificate_children(encounter)
    if not children:
        return 0
    ahead.write_pending(conn)  # the certificates refer to the mother's record, and the search reads records
    mother_person = int(
        conn.execute(select(L.sources.c.person_id).where(L.sources.c.id == mother_source_record_id)).scalar_one()
    )
    for row_no, child, mother in children:
        birth = Birth(0, child, mother, mother_person)
        conn.execute(
            certificates.insert().values(
                encounter_id=encounter_id,
                row_no=row_no,
                mother_source_record_id=mother_source_record_id,
                child_person_id=_child_person(conn, birth),
                dob_date=child.get("dob_date"),
                child=child,
                mother=mother,
                created_at=utcnow(),
            )
        )
    return len(children)


def for_record(conn: Connection, features: Mapping[str, Any]) -> list[Birth]:
    """The certificates (of current encounter versions) whose child may be this record: born on its birth
    date. Only a record carrying a birth time (a newborn's) is looked up."""
    if not features.get("dob_time") or not features.get("dob_date"):
        return []
    c, s = certificates, L.sources
    rows = conn.execute(
        select(c.c.id, c.c.child, c.c.mother, c.c.child_person_id, s.c.person_id.label("mother_person_id"))
        .join(s, s.c.id == c.c.mother_source_record_id)
        .join(_encounters, _encounters.c.id == c.c.encounter_id)
        .where(c.c.dob_date == features["dob_date"], _encounters.c.is_current.is_(True))
        .order_by(c.c.id)
    ).all()
    if not rows:
        return []
    current = L.survivors(conn, {int(r.child_person_id) for r in rows if r.child_person_id is not None})
    return [
        Birth(
            certificate_id=int(r.id),
            child=r.child,
            mother=r.mother,
            mother_person_id=int(r.mother_person_id),
            child_person_id=None if r.child_person_id is None else current[int(r.child_person_id)],
        )
        for r in rows
    ]


def set_child(conn: Connection, *, certificate_id: int, person_id: int) -> None:
    """Record the person of the certificate's child (its first record has just been linked)."""
    ahead.write_pending(conn)  # the person may be new
    conn.execute(
        update(certificates)
        .where(certificates.c.id == certificate_id, certificates.c.child_person_id.is_(None))
        .values(child_person_id=person_id)
    )


@dataclass(frozen=True, slots=True)
class Relation:
    """A mother–child relation from a birth certificate, between surviving persons."""

    certificate_id: int
    mother_person_id: int
    child_person_id: int


def relations(conn: Connection, person_id: int) -> list[Relation]:
    """Every certificate relation in which ``person_id`` (a surviving person) is the mother or the child.

    Persons merged into ``person_id`` count as it; a relation whose two sides became one person (a
    steward merged them) is left out.
    """
    c, s = certificates, L.sources
    mine = {person_id, *L.absorbed(conn, person_id)}  # the persons merged into this one, however deep
    rows = conn.execute(
        select(c.c.id, c.c.child_person_id, s.c.person_id.label("mother_person_id"))
        .join(s, s.c.id == c.c.mother_source_record_id)
        .join(_encounters, _encounters.c.id == c.c.encounter_id)
        .where(
            _encounters.c.is_current.is_(True),
            c.c.child_person_id.is_not(None),
            or_(s.c.person_id == person_id, c.c.child_person_id.in_(sorted(mine))),
        )
        .order_by(c.c.id)
    ).all()
    current = L.survivors(conn, {int(r.child_person_id) for r in rows} | {int(r.mother_person_id) for r in rows})
    out = []
    for r in rows:
        mother, child = current[int(r.mother_person_id)], current[int(r.child_person_id)]
        if mother != child:
            out.append(Relation(int(r.id), mother, child))
    return out


def mother_child_pairs(conn: Connection) -> dict[int, set[int]]:
    """Every surviving person -> the surviving persons it is the mother or a child of (by certificate)."""
    c, s = certificates, L.sources
    rows = conn.execute(
        select(c.c.child_person_id, s.c.person_id.label("mother_person_id"))
        .join(s, s.c.id == c.c.mother_source_record_id)
        .join(_encounters, _encounters.c.id == c.c.encounter_id)
        .where(_encounters.c.is_current.is_(True), c.c.child_person_id.is_not(None))
    ).all()
    current = L.survivors(conn, {int(r.child_person_id) for r in rows} | {int(r.mother_person_id) for r in rows})
    out: dict[int, set[int]] = {}
    for r in rows:
        mother, child = current[int(r.mother_person_id)], current[int(r.child_person_id)]
        if mother != child:
            out.setdefault(mother, set()).add(child)
            out.setdefault(child, set()).add(mother)
    return out
