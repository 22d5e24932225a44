"""Find a person: by an identifier (CCCD, BHXH number, facility + MA_BN) or by demographics.

Every answer is a short ranked list of candidates, each with a grade and the reason for it, never a
silent pick:
- ``certain``: one person holds the identifier, or the model's probability reaches the auto-link
  threshold (the same bar linking uses);
- ``probable``: at least the review threshold, or an identifier that several persons hold (a guardian's
  CCCD on a child's record, a reused MA_BN);
- ``possible``: below review but above a floor.
The demographic search normalises the query exactly like a record (``linkage.normalise_record``), fetches
candidates through the online linker's own matcher (:class:`mpi.identity.matching.Matcher`: the same
indexed blocking keys with their caps, the same scorer and term frequencies, never rebuilt here). A query that blocks on
nothing (a surname alone) is refused rather than answered with every Nguyễn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, and_, select

from linkage import model_row, normalise_record, parse_insurance_cards
from mpi.errors import MPIError
from mpi.identity import links as L
from mpi.identity.links import survivors
from mpi.identity.matching import IDENTIFIER_CAP
from mpi.identity.online import OnlineLinker
from mpi.records.dates import partial_iso
from mpi.records.sensitivity import Segmentation
from mpi.store.content import content_tables

Grade = Literal["certain", "probable", "possible"]
IdentifierKind = Literal["national_id", "bhxh_number", "patient_code"]
MAX_RESULTS: Final = 10
POSSIBLE_FLOOR: Final = 0.05
"""Below this probability a demographic candidate is not shown at all."""

_GRADE_ORDER: Final = {"certain": 0, "probable": 1, "possible": 2}
_xml1 = content_tables["XML1"]
_DATE: Final = re.compile(r"(\d{4})(?:-?(\d{2})(?:-?(\d{2}))?)?")


class QueryInvalid(MPIError):
    code = "query_invalid"
    status = 422


@dataclass(frozen=True, slots=True)
class RecordedDemographics:
    """One source record's identity fields as the facility sent them (the best match for a candidate)."""

    encounter_id: int
    facility_code: str
    name: str | None
    birth_date: str | None
    sex: int | None
    commune_code: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    person_id: int
    grade: Grade
    reason: str
    """Why: the identifier that matched, or the comparison levels the model found (labels, no values)."""
    match_probability: float | None
    matched_on: tuple[str, ...]
    record: RecordedDemographics | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    kind: str
    candidates: list[Candidate]
    truncated: bool
    """More candidates passed the floor than were returned."""

    @property
    def person_ids(self) -> list[int]:
        return [c.person_id for c in self.candidates]


@dataclass(frozen=True, slots=True)
class DemographicQuery:
    name: str
    birth_date: str
    """``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or the standard's ``yyyymmdd``."""
    sex: int | None = None
    commune_code: str | None = None

    def as_xml1(self) -> dict[str, str | None]:
        match = _DATE.fullmatch(self.birth_date.strip())
        if match is None:
            raise QueryInvalid("birth_date must be YYYY-MM-DD, YYYY-MM or YYYY")
        year, month, day = match.group(1), match.group(2) or "00", match.group(3) or "00"
        return {
            "HO_TEN": self.name,
            "NGAY_SINH": f"{year}{month}{day}0000",
            "GIOI_TINH": str(self.sex) if self.sex is not None else None,
            "MAXA_CU_TRU": self.commune_code,
        }


def _display(conn: Connection, encounter_ids: Iterable[int]) -> dict[int, RecordedDemographics]:
    ids = list(set(encounter_ids))
    if not ids:
        return {}
    x = _xml1
    rows = conn.execute(
        select(
            x.c.encounter_id, x.c.ma_cskcb, x.c.ho_ten, x.c.ngay_sinh, x.c.ngay_sinh_precision, x.c.gioi_tinh,
            x.c.maxa_cu_tru, L.sources.c.facility_code,
        )
        .join(L.sources, L.sources.c.encounter_id == x.c.encounter_id)
        .where(x.c.encounter_id.in_(ids), x.c.row_no == 1)
    )  # fmt: skip
    return {
        int(r.encounter_id): RecordedDemographics(
            encounter_id=int(r.encounter_id),
            facility_code=str(r.facility_code),
            name=r.ho_ten,
            birth_date=partial_iso(r.ngay_sinh, r.ngay_sinh_precision),
            sex=r.gioi_tinh,
            commune_code=r.maxa_cu_tru,
        )
        for r in rows
    }


def normalised_identifier(kind: IdentifierKind, value: str) -> str | None:
    """The stored (normalised) form of an identifier typed by a clinician."""
    text = value.strip()
    if kind == "national_id":
        return normalise_record({"SO_CCCD": text}).national_id
    if kind == "bhxh_number":
        digits = re.sub(r"[\s.-]", "", text).upper()
        if re.fullmatch(r"\d{10}", digits):
            return digits
        cards = parse_insurance_cards(digits)
        return cards[-1].bhxh_number if cards else None
    return text or None


def search_identifier(
    *,
    conn: Connection,
    kind: IdentifierKind,
    value: str,
    facility_code: str | None = None,
    any_facility: bool = False,
    limit: int = MAX_RESULTS,
    segmentation: Segmentation | None = None,
) -> SearchResult:
    """Persons whose records carry the identifier (for ``patient_code``: MA_BN within ``facility_code``, or
    at every facility with ``any_facility``, as FHIR's token search without a system asks); with
    ``segmentation``, records withheld from the reader do not count (an HIV clinic's MA_BN finds nobody for
    a reader who may not see that clinic's encounters)."""
    normalised = normalised_identifier(kind, value)
    if normalised is None:
        raise QueryInvalid(f"the {kind} given is not a valid identifier")
    s = L.sources
    if kind == "patient_code" and facility_code:
        where = and_(s.c.facility_code == facility_code, s.c.patient_code == normalised)
    elif kind == "patient_code" and not any_facility:
        raise QueryInvalid("a patient code (MA_BN) is only unique within a facility: give facility_code too")
    else:
        where = s.c[kind] == normalised
    rows = visible(
        conn,
        conn.execute(
            select(s.c.person_id, s.c.encounter_id).where(where).order_by(s.c.id.desc()).limit(IDENTIFIER_CAP)
        ).all(),
        segmentation,
    )
    survivor_of = survivors(conn, (int(r.person_id) for r in rows))
    best: dict[int, int] = {}  # person -> newest encounter carrying the identifier
    for r in rows:
        best.setdefault(survivor_of[int(r.person_id)], int(r.encounter_id))
    display = _display(conn, best.values())
    shared = len(best) > 1
    reason = f"{kind} held by {len(best)} persons (e.g. a guardian's number): choose" if shared else f"same {kind}"
    candidates = [
        Candidate(
            person_id=p,
            grade="probable" if shared else "certain",
            reason=reason,
            match_probability=None,
            matched_on=(kind,),
            record=display.get(e),
        )
        for p, e in best.items()
    ]
    candidates.sort(key=lambda c: c.person_id)
    return SearchResult(kind=kind, candidates=candidates[:limit], truncated=len(candidates) > limit)


def visible(conn: Connection, rows: Sequence[Any], segmentation: Segmentation | None) -> list[Any]:
    """The rows (with an ``encounter_id``) whose encounters the reader may see; all of them without a
    segmentation."""
    if segmentation is None or not rows:
        return list(rows)
    withheld = segmentation.withheld_among(conn, (int(r.encounter_id) for r in rows))
    return [r for r in rows if int(r.encounter_id) not in withheld]


def _reason(comparisons: Iterable[Any]) -> tuple[str, tuple[str, ...]]:
    agreed = tuple(c.comparison for c in comparisons if c.match_weight > 0)
    parts = [f"{c.comparison}: {c.label}" for c in comparisons if c.gamma != -1]
    return "; ".join(parts), agreed


def search_demographics(
    *,
    conn: Connection,
    query: DemographicQuery,
    linker: OnlineLinker,
    limit: int = MAX_RESULTS,
    floor: float = POSSIBLE_FLOOR,
    segmentation: Segmentation | None = None,
) -> SearchResult:
    """Rank persons by the linkage model's probability that the query describes them (with
    ``segmentation``, over the records the reader may see)."""
    if not query.name.strip():
        raise QueryInvalid("a demographic search needs a name")
    record = normalise_record(query.as_xml1())
    if record.family is None or record.given is None or record.dob is None:
        raise QueryInvalid("a demographic search needs a full name (family and given name) and a date of birth")
    features = model_row(record.to_row())
    matcher = linker.matcher
    if not matcher.can_block(features):
        raise QueryInvalid("too vague to search: give the full name and date of birth (or the commune)")
    rows = visible(conn, matcher.candidates(conn, features), segmentation)
    scorer = matcher.scorer_for(conn, [features, *(r.features for r in rows)])
    survivor_of = survivors(conn, (int(r.person_id) for r in rows))
    best: dict[int, tuple[float, Any, Any]] = {}
    for r in rows:
        score = scorer.score(features, r.features)
        person = survivor_of[int(r.person_id)]
        if person not in best or score.match_probability > best[person][0]:
            best[person] = (score.match_probability, score, r)
    ranked = sorted(
        ((p, prob, score, r) for p, (prob, score, r) in best.items() if prob >= floor), key=lambda t: (-t[1], t[0])
    )
    shown = ranked[:limit]
    display = _display(conn, (int(r.encounter_id) for _, _, _, r in shown))
    thresholds = linker.thresholds
    candidates = []
    for person, prob, score, r in shown:
        grade: Grade = "certain" if prob >= thresholds.auto else "probable" if prob >= thresholds.review else "possible"
        reason, agreed = _reason(score.comparisons)
        candidates.append(
            Candidate(
                person_id=person,
                grade=grade,
                reason=reason,
                match_probability=round(prob, 6),
                matched_on=agreed,
                record=display.get(int(r.encounter_id)),
            )
        )
    candidates.sort(key=lambda c: (_GRADE_ORDER[c.grade], -(c.match_probability or 0.0), c.person_id))
    return SearchResult(kind="demographics", candidates=candidates, truncated=len(ranked) > limit)


def find_persons(
    *,
    conn: Connection,
    linker: OnlineLinker,
    national_id: str | None = None,
    bhxh_number: str | None = None,
    facility_code: str | None = None,
    patient_code: str | None = None,
    name: str | None = None,
    birth_date: str | None = None,
    sex: int | None = None,
    commune_code: str | None = None,
    limit: int = MAX_RESULTS,
    segmentation: Segmentation | None = None,
) -> SearchResult:
    """One search by exactly one way: an identifier, facility + MA_BN, or name + date of birth; with
    ``segmentation``, over the records the reader may see."""
    ways = [national_id, bhxh_number, patient_code, name or birth_date]
    if sum(w is not None and w != "" for w in ways) != 1:
        raise QueryInvalid(
            "search by exactly one of: national_id; bhxh_number; facility_code + patient_code; name + birth_date"
        )
    if national_id:
        return search_identifier(
            conn=conn, kind="national_id", value=national_id, limit=limit, segmentation=segmentation
        )
    if bhxh_number:
        return search_identifier(
            conn=conn, kind="bhxh_number", value=bhxh_number, limit=limit, segmentation=segmentation
        )
    if patient_code:
        return search_identifier(
            conn=conn, kind="patient_code", value=patient_code, facility_code=facility_code, limit=limit,
            segmentation=segmentation,
        )  # fmt: skip
    if not name or not birth_date:
        raise QueryInvalid("a demographic search needs both a name and a date of birth")
    query = DemographicQuery(name=name, birth_date=birth_date, sex=sex, commune_code=commune_code)
    return search_demographics(conn=conn, query=query, linker=linker, limit=limit, segmentation=segmentation)
