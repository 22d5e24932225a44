"""Sensitive data segmentation: which encounters hold HIV, TB, mental-health or reproductive-health data,
and whether a reader may see them.

Vietnam's HIV/AIDS law (Law 64/2006/QH11, art. 8 and 30) lets only those who treat a person learn their HIV
status; the other categories are withheld by the same rule when the deployment enables them
(``MPI_SENSITIVE_CATEGORIES``). The unit withheld is the *encounter*: a diagnosis, a drug or a lab value of
an HIV visit discloses the status as surely as the XML6 table does, and so does the visit itself.

Classification (:func:`classify`, pure; :func:`classify_encounters`, from the store):

=====================  ============================================================================
category               an encounter is in it when
=====================  ============================================================================
``hiv``                ICD-10 B20–B24, Z21, R75, Z20.6, Z71.7, O98.7 (main or secondary diagnosis);
                       an XML6 table (HIV care); an XML15 TB record with PHANLOAI_LAO_HIV = 1,
                       NGAYKD_HIV or BDDT_ARV; an HIV-related test in XML3/XML4 (name or code
                       mentioning HIV)
``tb``                 ICD-10 A15–A19; an XML15 table (TB treatment)
``mental_health``      ICD-10 F00–F99
``reproductive_health``ICD-10 O00–O08 (pregnancy with abortive outcome), Z30–Z31 (contraception,
                       procreative management), N46, N97 (infertility), A50–A64 (sexually
                       transmitted infections)
=====================  ============================================================================

Decision (:meth:`Segmentation.decide`), per encounter:

* not in an enabled category → ``open``;
* produced by the reader's own facility → ``own_facility`` (a facility always sees what it recorded);
* break-glass asked with a typed reason (:class:`BreakGlass`) and either the purpose of use is a
  break-glass purpose (``ETREAT``) or the reader's key is granted every category of the encounter →
  ``revealed`` (the caller audits the reveal as such);
* otherwise → ``withheld``: the encounter is left out, and the record says how many were left out
  (:attr:`Segmented.withheld`) without saying which category, facility or date.

The FHIR layer labels what it shows of a sensitive encounter with :func:`security_labels` (HL7
confidentiality ``R`` plus the category's sensitivity code) and omits what is withheld.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import CompoundSelect, Connection, bindparam, or_, select, union_all

from mpi.errors import MPIError, PermissionDenied
from mpi.identity.links import ResolvedPerson
from mpi.records.person import encounters, read_current_encounters, xml1
from mpi.store.content import content_tables


class Category(StrEnum):
    HIV = "hiv"
    TB = "tb"
    MENTAL_HEALTH = "mental_health"
    REPRODUCTIVE_HEALTH = "reproductive_health"


ALL_CATEGORIES: Final = frozenset(Category)
_CATEGORY_NAMES: Final = frozenset(c.value for c in Category)

ICD_RANGES: Final[Mapping[Category, tuple[tuple[str, str], ...]]] = {
    Category.HIV: (("B20", "B24"), ("Z21", "Z21"), ("R75", "R75"), ("Z206", "Z206"), ("Z717", "Z717"),
                   ("O987", "O987")),
    Category.TB: (("A15", "A19"),),
    Category.MENTAL_HEALTH: (("F00", "F99"),),
    Category.REPRODUCTIVE_HEALTH: (("O00", "O08"), ("Z30", "Z31"), ("N46", "N46"), ("N97", "N97"), ("A50", "A64")),
}  # fmt: skip
"""Inclusive ranges over the code without its dot; a 3-character bound covers all its subcodes, a longer
bound exactly the codes that start with it."""

TABLE_CATEGORIES: Final[Mapping[str, Category]] = {"XML6": Category.HIV, "XML15": Category.TB}
"""Tables whose mere presence puts an encounter in a category."""

_HIV_WORD: Final = re.compile(r"(?<![A-Z0-9])HIV(?![A-Z])")

FHIR_CONFIDENTIALITY: Final = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
FHIR_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
FHIR_OBSERVATION_VALUE: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED: Final[Mapping[str, str]] = MappingProxyType(
    {"system": FHIR_OBSERVATION_VALUE, "code": "REDACTED", "display": "redacted"}
)
"""HL7 security integrity label of a resource drawn from a record some of whose encounters were withheld."""
SENSITIVITY_CODES: Final[Mapping[Category, tuple[str, str]]] = {
    Category.HIV: ("HIV", "HIV/AIDS information sensitivity"),
    Category.TB: ("COMDIS", "communicable disease information sensitivity"),
    Category.MENTAL_HEALTH: ("PSY", "psychiatry disorder information sensitivity"),
    Category.REPRODUCTIVE_HEALTH: ("SEX", "sexuality and reproductive health information sensitivity"),
}
"""HL7 v3 ActInformationSensitivityPolicy code of each category (FHIR ``meta.security``)."""

MIN_REASON_CHARS: Final = 10
MAX_REASON_CHARS: Final = 500


def icd_key(code: str) -> str:
    """``b20.1`` / ``B201`` / `` B20.1 `` → ``B201``."""
    return code.strip().upper().replace(".", "")


def categories_of_icd(code: str) -> frozenset[Category]:
    key = icd_key(code)
    found = set()
    for category, ranges in ICD_RANGES.items():
        for low, high in ranges:
            head = key[: len(low)]
            if len(head) == len(low) and low <= head <= high:
                found.add(category)
    return frozenset(found)


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.upper()) if not unicodedata.combining(c))


def is_hiv_test(*texts: str | None) -> bool:
    """A service or lab row naming HIV (``Tải lượng HIV``, ``HIV Ab test nhanh``, an index code ``HIV...``)."""
    return any(t and _HIV_WORD.search(_folded(t)) for t in texts)


def classify(
    *,
    diagnoses: Iterable[str | None],
    tables: Iterable[str],
    test_names: Iterable[str | None] = (),
    tb_hiv_positive: bool = False,
) -> frozenset[Category]:
    """The categories of one encounter from its ICD-10 codes, the tables it came with, the names/codes of its
    services and lab results, and whether its XML15 TB record states an HIV infection."""
    found: set[Category] = set()
    for code in diagnoses:
        if code:
            found |= categories_of_icd(code)
    for table in tables:
        if table in TABLE_CATEGORIES:
            found.add(TABLE_CATEGORIES[table])
    if tb_hiv_positive or is_hiv_test(*test_names):
        found.add(Category.HIV)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class EncounterSensitivity:
    encounter_id: int
    facility_code: str
    """MA_CSKCB of the facility that produced the encounter."""
    categories: frozenset[Category]


def _tb_hiv_positive(row: Any) -> bool:
    return str(row.phanloai_lao_hiv or "") == "1" or bool(row.ngaykd_hiv) or bool(row.bddt_arv)


def _hiv_named_services() -> CompoundSelect[Any]:
    parts = []
    for name, columns in (("XML3", ("ma_dich_vu", "ten_dich_vu")), ("XML4", ("ma_chi_so", "ten_chi_so"))):
        t = content_tables[name]
        hiv_like = or_(*(t.c[c].ilike("%hiv%") for c in columns))
        parts.append(
            select(t.c.encounter_id, *(t.c[c].label(f"text_{n}") for n, c in enumerate(columns))).where(
                t.c.encounter_id.in_(bindparam("with_tests", expanding=True)), hiv_like
            )
        )
    return union_all(*parts)


_HIV_NAMED: Final = _hiv_named_services()
"""Services (XML3) and lab results (XML4) naming HIV, of the encounters ``with_tests``, in one statement."""
_xml15 = content_tables["XML15"]
_TB_HIV: Final = select(_xml15.c.encounter_id, _xml15.c.phanloai_lao_hiv, _xml15.c.ngaykd_hiv, _xml15.c.bddt_arv).where(
    _xml15.c.encounter_id.in_(bindparam("with_tb", expanding=True))
)
"""What the XML15 TB records of the encounters ``with_tb`` say of HIV."""
# Both are built once: a statement built per call costs its construction and SQLAlchemy's cache key (which
# is kept on the statement object) on every read, more CPU than running it.


def classify_encounters(conn: Connection, heads: Iterable[Any]) -> dict[int, EncounterSensitivity]:
    """Classify encounters from their head rows (``id``, ``facility_code``, ``ma_benh_chinh``, ``ma_benh_kt``,
    ``tables``, as :func:`mpi.records.person.current_encounters` selects them); one query per content table
    that can matter, over all of them at once."""
    rows = list(heads)
    by_id = {int(r.id): r for r in rows}
    tests: dict[int, list[str | None]] = {}
    hiv_in_tb: set[int] = set()
    with_tests = [i for i, r in by_id.items() if {"XML3", "XML4"} & set(r.tables or ())]
    if with_tests:
        for r in conn.execute(_HIV_NAMED, {"with_tests": with_tests}):
            tests.setdefault(int(r.encounter_id), []).extend(str(v) if v is not None else None for v in r[1:])
    with_tb = [i for i, r in by_id.items() if "XML15" in set(r.tables or ())]
    if with_tb:
        hiv_in_tb = {int(r.encounter_id) for r in conn.execute(_TB_HIV, {"with_tb": with_tb}) if _tb_hiv_positive(r)}
    return {
        i: EncounterSensitivity(
            encounter_id=i,
            facility_code=str(r.facility_code),
            categories=classify(
                diagnoses=(r.ma_benh_chinh, *(r.ma_benh_kt or ())),
                tables=r.tables or (),
                test_names=tests.get(i, ()),
                tb_hiv_positive=i in hiv_in_tb,
            ),
        )
        for i, r in by_id.items()
    }


class Disclosure(StrEnum):
    OPEN = "open"
    OWN_FACILITY = "own_facility"
    REVEALED = "revealed"
    WITHHELD = "withheld"


class BreakGlassInvalid(MPIError):
    code = "break_glass_invalid"
    status = 422


class Withheld(PermissionDenied):
    """Reading an encounter the sensitivity policy withholds from this reader (HTTP 403)."""

    code = "sensitive_withheld"


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """An explicit request to see withheld data, with the reason the reader typed."""

    reason: str

    @classmethod
    def parse(cls, reason: str | None) -> BreakGlass | None:
        """``None`` when nothing was asked; :class:`BreakGlassInvalid` when the reason is too short or long."""
        if reason is None or not reason.strip():
            return None
        text = " ".join(reason.split())
        if len(text) < MIN_REASON_CHARS:
            raise BreakGlassInvalid(f"a break-glass reason needs at least {MIN_REASON_CHARS} characters")
        if len(text) > MAX_REASON_CHARS:
            raise BreakGlassInvalid(f"a break-glass reason is at most {MAX_REASON_CHARS} characters")
        return cls(reason=text)


def parse_categories(text: str) -> frozenset[Category]:
    """``hiv,tb`` -> the categories; an unknown name is a :class:`ValueError` naming the valid ones."""
    return _categories(text)


def _categories(text: str) -> frozenset[Category]:
    names = [c.strip().lower() for c in text.split(",") if c.strip()]
    unknown = [n for n in names if n not in {c.value for c in Category}]
    if unknown:
        raise ValueError(f"unknown sensitive categories {unknown}: use {', '.join(c.value for c in Category)}")
    return frozenset(Category(n) for n in names)


@dataclass(frozen=True, slots=True)
class SensitivityPolicy:
    categories: frozenset[Category] = ALL_CATEGORIES
    """Categories withheld by default (HIV should always be among them)."""
    break_glass_purposes: frozenset[str] = frozenset({"ETREAT"})
    """Purposes of use that may reveal every category with a typed reason."""
    grants: Mapping[str, frozenset[Category]] = field(default_factory=lambda: MappingProxyType({}))
    """Facility (MA_CSKCB) -> categories its clinicians may reveal with a typed reason under any clinical
    purpose (the provincial HIV clinic for ``hiv``, the TB programme for ``tb``)."""

    @classmethod
    def from_settings(cls, categories: str, break_glass_purposes: str, grants: str = "") -> SensitivityPolicy:
        """From ``MPI_SENSITIVE_CATEGORIES`` and ``MPI_BREAK_GLASS_PURPOSES`` (comma-separated) and
        ``MPI_SENSITIVE_GRANTS`` (``74050:hiv,tb;74051:tb``)."""
        purposes = frozenset(p.strip().upper() for p in break_glass_purposes.split(",") if p.strip())
        granted: dict[str, frozenset[Category]] = {}
        for item in (g.strip() for g in grants.split(";") if g.strip()):
            facility, sep, names = item.partition(":")
            if not sep or not re.fullmatch(r"\d{5}", facility.strip()):
                raise ValueError(f"MPI_SENSITIVE_GRANTS: {item!r} is not FACILITY:category[,category]")
            granted[facility.strip()] = _categories(names)
        return cls(categories=_categories(categories), break_glass_purposes=purposes, grants=MappingProxyType(granted))

    def granted_to(self, facility_code: str | None, key_grants: Iterable[str] = ()) -> frozenset[Category]:
        """Categories a reader may reveal with a typed reason: its facility's (``MPI_SENSITIVE_GRANTS``) and
        its own key's (``mpi keys grant``)."""
        own = frozenset(Category(g) for g in key_grants if g in _CATEGORY_NAMES)
        return self.grants.get(facility_code or "", frozenset()) | own


@dataclass(frozen=True, slots=True)
class Viewer:
    facility_code: str | None
    purpose: str | None
    granted: frozenset[Category] = frozenset()
    """Categories the reader's key is granted (a clinician of an HIV or TB clinic, say)."""
    break_glass: BreakGlass | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    disclosure: Disclosure
    categories: frozenset[Category]
    """The encounter's categories that the policy covers (empty when ``open``)."""

    @property
    def visible(self) -> bool:
        return self.disclosure is not Disclosure.WITHHELD


@dataclass(frozen=True, slots=True)
class Segmented:
    """The decisions over a set of encounters."""

    decisions: dict[int, Decision]

    @property
    def withheld_ids(self) -> frozenset[int]:
        return frozenset(i for i, d in self.decisions.items() if d.disclosure is Disclosure.WITHHELD)

    @property
    def revealed_ids(self) -> list[int]:
        return sorted(i for i, d in self.decisions.items() if d.disclosure is Disclosure.REVEALED)

    @property
    def withheld(self) -> int:
        """How many encounters are withheld: what the record says to a reader who cannot see them."""
        return len(self.withheld_ids)

    @property
    def revealed_categories(self) -> list[str]:
        found = {c for d in self.decisions.values() if d.disclosure is Disclosure.REVEALED for c in d.categories}
        return sorted(c.value for c in found)

    def labels(self, encounter_id: int) -> list[dict[str, str]]:
        decision = self.decisions.get(encounter_id)
        return security_labels(decision.categories) if decision is not None else []

    def summary_labels(self) -> list[dict[str, str]]:
        """Labels of what is drawn from all the visible encounters together (a person's demographics and
        identifiers): the categories of the sensitive ones shown (own facility, break-glass), and
        :data:`REDACTED` when any encounter was withheld, so a reader knows the record is not whole."""
        shown = {c for d in self.decisions.values() if d.visible for c in d.categories}
        return [*security_labels(shown), *([dict(REDACTED)] if self.withheld_ids else [])]


@dataclass(frozen=True, slots=True)
class Segmentation:
    """One reader's view under one policy: decides for each encounter whether it is shown."""

    policy: SensitivityPolicy
    viewer: Viewer

    def decide(self, item: EncounterSensitivity) -> Decision:
        covered = item.categories & self.policy.categories
        if not covered:
            return Decision(Disclosure.OPEN, covered)
        if self.viewer.facility_code is not None and item.facility_code == self.viewer.facility_code:
            return Decision(Disclosure.OWN_FACILITY, covered)
        if self.viewer.break_glass is not None and (
            self.viewer.purpose in self.policy.break_glass_purposes or covered <= self.viewer.granted
        ):
            return Decision(Disclosure.REVEALED, covered)
        return Decision(Disclosure.WITHHELD, covered)

    def segment(self, items: Mapping[int, EncounterSensitivity]) -> Segmented:
        return Segmented({i: self.decide(item) for i, item in items.items()})

    def of_encounters(self, conn: Connection, heads: Iterable[Any]) -> Segmented:
        return self.segment(classify_encounters(conn, heads))

    def of_person(self, conn: Connection, person: ResolvedPerson, encounters: Iterable[Any] | None = None) -> Segmented:
        """Decisions over every current encounter of a person's cluster (``encounters``: those rows, when the
        caller read them already)."""
        if encounters is None:
            encounters = read_current_encounters(conn, person.cluster)
        return self.of_encounters(conn, encounters)

    def withheld_among(self, conn: Connection, encounter_ids: Iterable[int]) -> frozenset[int]:
        """Which of these encounters are withheld from this reader (a search must not find a person by what
        only a withheld encounter recorded)."""
        ids = sorted(set(encounter_ids))
        return self.of_encounters(conn, _heads(conn, ids)).withheld_ids if ids else frozenset()

    def check(self, conn: Connection, encounter_id: int) -> Decision:
        """The decision for one encounter; :class:`Withheld` when it is withheld from this reader."""
        heads = _heads(conn, [encounter_id])
        if not heads:
            return Decision(Disclosure.OPEN, frozenset())
        decision = self.decide(classify_encounters(conn, heads)[encounter_id])
        if not decision.visible:
            raise Withheld(
                "this encounter holds sensitive data withheld from your facility; a break-glass access with a "
                "typed reason (purpose ETREAT, or a key granted the category) reveals it"
            )
        return decision


def _heads(conn: Connection, encounter_ids: list[int]) -> list[Any]:
    """The head rows :func:`classify_encounters` reads, by encounter id."""
    return list(
        conn.execute(
            select(encounters.c.id, encounters.c.facility_code, encounters.c.tables, xml1.c.ma_benh_chinh,
                   xml1.c.ma_benh_kt)
            .join(xml1, (xml1.c.encounter_id == encounters.c.id) & (xml1.c.row_no == 1))
            .where(encounters.c.id.in_(encounter_ids))
        )
    )  # fmt: skip


def security_labels(categories: Iterable[Category]) -> list[dict[str, str]]:
    """FHIR ``meta.security`` codings for data in these categories: confidentiality ``R`` (restricted) and the
    sensitivity code of each category; empty for data in none."""
    cats = sorted(set(categories))
    if not cats:
        return []
    labels = [{"system": FHIR_CONFIDENTIALITY, "code": "R", "display": "restricted"}]
    for c in cats:
        code, display = SENSITIVITY_CODES[c]
        labels.append({"system": FHIR_ACT_CODE, "code": code, "display": display})
    return labels
