"""Patient search by demographics (IHE PDQm ITI-78): ``family``, ``given``, ``birthdate``, ``gender``,
``telecom``, ``address``, ``address-state``, ``address-country``, ``mothersMaidenName``, ``active``.

Minimal criteria. A master patient index must not let one cheap query list identities in bulk (every
``given=An`` of a province), so a demographic search has to complete one of the matcher's own blocking
keys (:class:`mpi.identity.matching.Matcher`: the indexed, capped look-ups online linking uses): family +
birthdate (a day), given + birthdate (a day), family + given + birthdate, or telecom — unless ``identifier``
or ``_id`` already narrows it. Anything broader is refused (400 ``search_too_broad``) with the combinations
that would be accepted, generated from the model's blocking rules; the rule has no other home.

Matching. The candidates are the records sharing a blocking key with the query; a person matches when one
of their current records, as the reader may see it (:mod:`mpi.records.sensitivity`: a withheld encounter
neither matches nor shows), satisfies every parameter — repeats are AND, comma-separated values OR:

- ``family`` and ``given``: whole names, case- and diacritic-insensitive (``given`` is any run of the given
  names: ``An`` or ``Văn An``); ``:exact`` compares them as recorded;
- ``birthdate``: FHIR date ranges with the prefixes ``eq ne gt lt ge le sa eb`` against the recorded date
  at its precision (``ap`` is refused: approximate matching is ``$match``);
- ``gender``: AdministrativeGender; ``telecom``: ``[phone|]number``, compared as normalised numbers;
- ``address``: a run of words of the recorded address text (DIA_CHI), or the start of its province code or
  name, or of its country (VN); ``address-state``: the start of the province code or name (before or
  after the 2025 merger); ``address-country``: VN / Việt Nam; ``:exact`` compares the whole value;
- ``mothersMaidenName``: the start (whole words) of a mother's name recorded on the person's papers
  (XML7, XML8, XML11 HO_TEN_ME; Vietnamese names do not change on marriage);
- ``active``: ``true`` (every person the search returns is active; merged ones are left out), ``false``
  finds none.

Read-only, on the caller's connection; never logs a value.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import Connection

from linkage import model_row, normalise_phone, normalise_record
from linkage.model import ModelRow
from linkage.normalise.provinces import PROVINCES_2025, PROVINCES_PRE_2025
from mpi.errors import MPIError
from mpi.fhir import params as P
from mpi.fhir.lookup import mothers_names
from mpi.fhir.patient import GENDERS, fold_name
from mpi.identity.links import resolve_person, survivors
from mpi.identity.matching import Matcher
from mpi.identity.policy import Thresholds
from mpi.records import Candidate, SearchResult
from mpi.records.dates import partial_iso
from mpi.records.lookup import Grade
from mpi.records.person import read_current_encounters
from mpi.records.sensitivity import Segmentation

STRING_PARAMETERS: Final = ("family", "given", "address", "address-state", "address-country", "mothersMaidenName")
"""String parameters; each also takes ``:exact``."""
DEMOGRAPHIC_PARAMETERS: Final = (*STRING_PARAMETERS, "birthdate", "gender", "telecom", "active")
MAX_COMBINATIONS: Final = 16
"""Comma alternatives of the blocking parameters expand to at most this many look-ups."""
COUNTRY: Final = "VN"
_COUNTRY_NAMES: Final = ("vn", "viet nam", "vietnam")
_GENDER_SYSTEM: Final = "http://hl7.org/fhir/administrative-gender"
_KEY_PARAMETERS: Final[Mapping[str, str]] = {
    "family_key": "family",
    "given_key": "given",
    "name_sorted": "family + given",
    "dob_date": "birthdate=YYYY-MM-DD",
    "dob_year": "birthdate",
    "phone": "telecom",
}
"""Blocking-key columns and the search parameters that fill them (keys on other columns, such as the
commune, cannot be filled from a FHIR search)."""


class SearchTooBroad(MPIError):
    """A demographic search that completes no blocking key (it would list persons in bulk)."""

    code = "search_too_broad"
    status = 400
    issue_type = "too-costly"


def accepted_combinations(matcher: Matcher) -> list[str]:
    """The parameter combinations a demographic search may use: the matcher's blocking keys that FHIR
    parameters can fill, in the model's order."""
    out: dict[str, None] = {}
    for key in matcher.keys:
        if all(c in _KEY_PARAMETERS for c in key.columns):
            parts = dict.fromkeys(p for c in key.columns for p in _KEY_PARAMETERS[c].split(" + "))
            if "birthdate=YYYY-MM-DD" in parts:
                parts.pop("birthdate", None)
            out[" + ".join(parts)] = None
    return list(out)


# --- the criteria --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alternatives:
    """One occurrence of a parameter: its comma-separated values (OR)."""

    values: tuple[str, ...]
    exact: bool = False


Criteria = dict[str, list[Alternatives]]
"""Parameter name (without modifier) -> its occurrences (AND)."""


def criteria(params: P.Params) -> Criteria:
    """The demographic parameters of a search, checked: a value a parameter cannot take is a 400."""
    out: Criteria = {}
    for name in DEMOGRAPHIC_PARAMETERS:
        for key, exact in ((name, False), (f"{name}:exact", True)):
            for value in params.values.get(key, []):
                alternatives = tuple(v.strip() for v in P.split_commas(value))
                if any(not v for v in alternatives):
                    raise P.ParamInvalid(f"parameter '{key}' has an empty value")
                for v in alternatives:
                    _check(name, v)
                out.setdefault(name, []).append(Alternatives(alternatives, exact))
    return out


def _check(name: str, value: str) -> None:
    if name == "birthdate":
        P.date_prefixed(value, name=name)
    elif name == "gender" and value.removeprefix(f"{_GENDER_SYSTEM}|") not in ("male", "female", "other", "unknown"):
        raise P.ParamInvalid("gender must be male, female, other or unknown")
    elif name == "active" and value not in ("true", "false"):
        raise P.ParamInvalid("active must be true or false")
    elif name == "telecom" and not value.rpartition("|")[2].strip():
        raise P.ParamInvalid("telecom needs a value: [phone|]number")


# --- matching one record -------------------------------------------------------------------------------


def _date_range(text: str) -> tuple[date, date]:
    """The days a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) covers."""
    parts = [int(p) for p in text[:10].split("-")]
    year = parts[0]
    if len(parts) == 1:
        return date(year, 1, 1), date(year, 12, 31)
    month = parts[1]
    if len(parts) == 2:
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    day = date(year, month, parts[2])
    return day, day


def date_matches(prefix: str, wanted: str, recorded: str) -> bool:
    """FHIR date search semantics (the parameter's range against the recorded value's range)."""
    low, high = _date_range(wanted)
    start, end = _date_range(recorded)
    inside = low <= start and end <= high
    return {
        "eq": inside,
        "ne": not inside,
        "gt": end > high,
        "lt": start < low,
        "ge": end > high or inside,
        "le": start < low or inside,
        "sa": start > high,
        "eb": end < low,
    }[prefix]


def _words(text: str) -> list[str]:
    return fold_name(text).split()


def _run_of(needle: list[str], hay: list[str]) -> bool:
    """``needle`` is a contiguous run of the words ``hay``."""
    n = len(needle)
    return n > 0 and any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def _starts(value: str, wanted: str) -> bool:
    """``wanted`` is the start of ``value``, in whole words, case- and diacritic-insensitive."""
    hay, needle = _words(value), _words(wanted)
    return bool(needle) and hay[: len(needle)] == needle


def _province_names(code: str | None) -> list[str]:
    if not code:
        return []
    return [n for n in (PROVINCES_2025.get(code), PROVINCES_PRE_2025.get(code)) if n]


def _state(row: Any, wanted: str, exact: bool) -> bool:
    code = row.matinh_cu_tru
    values = [v for v in (code, *_province_names(code)) if v]
    if exact:
        return wanted in values
    return any(_starts(v, wanted) for v in values)


def _country(wanted: str, exact: bool) -> bool:
    return wanted == COUNTRY if exact else " ".join(_words(wanted)) in _COUNTRY_NAMES


def _one(name: str, value: str, exact: bool, row: Any) -> bool:
    """One alternative of one parameter against one recorded encounter (XML1 columns)."""
    recorded_name = " ".join(str(row.ho_ten or "").split())
    tokens = recorded_name.split(" ") if recorded_name else []
    if name == "family":
        if len(tokens) < 2:
            return False
        return tokens[0] == value if exact else _words(tokens[0]) == _words(value)
    if name == "given":
        given = tokens[1:] if len(tokens) > 1 else tokens
        if exact:
            return value in given or value == " ".join(given)
        return _run_of(_words(value), _words(" ".join(given)))
    if name == "birthdate":
        recorded = partial_iso(row.ngay_sinh, row.ngay_sinh_precision)
        prefix, wanted = P.date_prefixed(value, name=name)
        return recorded is not None and date_matches(prefix, wanted, recorded)
    if name == "gender":
        return GENDERS.get(row.gioi_tinh) == value.removeprefix(f"{_GENDER_SYSTEM}|")
    if name == "telecom":
        system, bar, number = value.rpartition("|")
        if bar and system not in ("", "phone"):
            return False
        mine, theirs = normalise_phone(row.dien_thoai), normalise_phone(number)
        return mine is not None and theirs is not None and mine.number == theirs.number
    if name == "address":
        text = str(row.dia_chi or "")
        if exact:
            return value in (text, row.matinh_cu_tru, COUNTRY)
        return _run_of(_words(value), _words(text)) or _state(row, value, exact) or _country(value, exact)
    if name == "address-state":
        return _state(row, value, exact)
    if name == "address-country":
        return _country(value, exact)
    if name == "active":
        return value == "true"
    raise ValueError(f"no record-level rule for parameter {name}")  # pragma: no cover - names are fixed above


def record_matches(row: Any, wanted: Criteria) -> bool:
    """Every parameter (AND) has an alternative (OR) this record satisfies (``mothersMaidenName`` aside:
    it is a person's, from other papers)."""
    return all(
        any(_one(name, v, occurrence.exact, row) for v in occurrence.values)
        for name, occurrences in wanted.items()
        if name != "mothersMaidenName"
        for occurrence in occurrences
    )


def _mother_matches(names: Sequence[str], occurrences: Sequence[Alternatives]) -> bool:
    return all(
        any((v in names) if o.exact else any(_starts(n, v) for n in names) for v in o.values) for o in occurrences
    )


# --- the search ----------------------------------------------------------------------------------------


def _blocking_rows(wanted: Criteria) -> list[ModelRow]:
    """The model rows the candidate search looks up: one per combination of the alternatives of the first
    occurrence of family, an ``eq`` birthdate and telecom and of the last of given (``given=Văn&given=An``:
    the given name proper comes last), keyed exactly as records are (``linkage.normalise_record`` +
    ``linkage.model_row``). Keys a partial name would fill with a placeholder are emptied."""

    def first(name: str, accept: Any = None, *, last: bool = False) -> list[str | None]:
        occurrences = wanted.get(name, [])
        for occurrence in reversed(occurrences) if last else occurrences:
            values = [v for v in occurrence.values if accept is None or accept(v)]
            if values and len(values) == len(occurrence.values):
                return list(values)
        return [None]

    births = first("birthdate", lambda v: P.date_prefixed(v, name="birthdate")[0] == "eq")
    combos = list(itertools.product(first("family"), first("given", last=True), births, first("telecom")))
    if len(combos) > MAX_COMBINATIONS:
        raise P.ParamInvalid(f"too many comma alternatives together: at most {MAX_COMBINATIONS} combinations")
    rows = []
    for family, given, birth, phone in combos:
        name = " ".join(n for n in (family, given) if n)
        dob = None
        if birth is not None:
            text = P.date_prefixed(birth, name="birthdate")[1]
            year, month, day = [*text.split("-"), "00", "00"][:3]
            dob = f"{year}{month}{day}0000"
        record = normalise_record(
            {"HO_TEN": name or None, "NGAY_SINH": dob, "DIEN_THOAI": phone.rpartition("|")[2] if phone else None}
        )
        row = model_row(record.to_row())
        if family is None or given is None:
            row["name_sorted"] = None
            row["family_key" if family is None else "given_key"] = None
            if family is not None:  # a family name alone would be read as a given name
                single = model_row(normalise_record({"HO_TEN": f"{family} X"}).to_row())
                row["family_key"] = single["family_key"]
        rows.append(row)
    return rows


def _grade(probability: float, thresholds: Thresholds) -> Grade:
    return (
        "certain" if probability >= thresholds.auto else "probable" if probability >= thresholds.review else "possible"
    )


def demographic_search(
    *, conn: Connection, matcher: Matcher, wanted: Criteria, segmentation: Segmentation
) -> SearchResult:
    """Persons matching every demographic parameter, best model score first (the score of their best
    matching record against the query); refused when no blocking key is complete."""
    looked_up = _blocking_rows(wanted)
    if not matcher.can_block(looked_up[0]):
        raise SearchTooBroad(
            "a search by demographics needs one of: " + "; ".join(accepted_combinations(matcher))
            + " (or identifier / _id): a broader one would list persons in bulk"
        )  # fmt: skip
    rows: dict[int, Any] = {}
    truncated = False
    for values in looked_up:
        found = matcher.candidates(conn, values)
        complete = [k.cap for k in matcher.keys if all(values.get(c) is not None for c in k.columns)]
        truncated = truncated or (bool(complete) and len(found) >= min(complete))
        rows.update((int(r.id), r) for r in found)
    raw = {int(r.person_id) for r in rows.values()}
    matched = set(filter_persons(conn=conn, person_ids=raw, wanted=wanted, segmentation=segmentation).values())
    survivor_of = survivors(conn, raw)
    best = dict.fromkeys(matched, 0.0)
    for scored in matcher.score(conn, looked_up[0], list(rows.values())):
        person = survivor_of[int(scored.row.person_id)]
        if person in best:
            best[person] = max(best[person], scored.match_probability)
    candidates = [
        Candidate(
            person_id=p,
            grade=_grade(prob, matcher.thresholds),
            reason="demographics",
            match_probability=round(prob, 6),
            matched_on=tuple(wanted),
            record=None,
        )
        for p, prob in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return SearchResult(kind="demographics", candidates=candidates, truncated=truncated)


def filter_persons(
    *, conn: Connection, person_ids: Iterable[int], wanted: Criteria, segmentation: Segmentation
) -> dict[int, int]:
    """The current encounters (visible to the reader) that satisfy ``wanted``, each -> its surviving person;
    ``person_ids`` are the persons (or merged members of them) whose encounters to try."""
    ids = tuple(sorted(set(person_ids)))
    if not ids:
        return {}
    heads = read_current_encounters(conn, ids)
    withheld = segmentation.of_encounters(conn, heads).withheld_ids
    survivor_of = survivors(conn, (int(h.linked_person_id) for h in heads))
    hits = {
        int(h.id): survivor_of[int(h.linked_person_id)]
        for h in heads
        if int(h.id) not in withheld and record_matches(h, wanted)
    }
    mothers = wanted.get("mothersMaidenName")
    if not mothers or not hits:
        return hits
    visible: dict[int, list[int]] = {}
    for h in sorted(heads, key=lambda h: (h.ngay_vao is not None, h.ngay_vao or 0, int(h.id))):
        if int(h.id) not in withheld:
            visible.setdefault(survivor_of[int(h.linked_person_id)], []).append(int(h.id))
    keep = {
        p for p in set(hits.values()) if _mother_matches(mothers_names(conn=conn, encounter_ids=visible[p]), mothers)
    }
    return {e: p for e, p in hits.items() if p in keep}


def narrow(*, conn: Connection, result: SearchResult, wanted: Criteria, segmentation: Segmentation) -> SearchResult:
    """An identifier or ``_id`` search's persons that also match the demographic parameters."""
    members = {
        m: c.person_id for c in result.candidates for m in resolve_person(conn=conn, person_id=c.person_id).cluster
    }
    kept = set(filter_persons(conn=conn, person_ids=members, wanted=wanted, segmentation=segmentation).values())
    return SearchResult(
        kind=result.kind, candidates=[c for c in result.candidates if c.person_id in kept], truncated=result.truncated
    )
