"""Find persons for FHIR: an identifier token, a ``$match`` Patient, a PIXm source identifier.

Thin over the record services (``mpi.records``): the token's system picks the search; a bare value is
tried as CCCD, BHXH number and MA_BN at any facility, as FHIR token search matches any system. Scores
for ``$match``: the model's probability for a demographic match; 1.0 for an identifier only one person
holds, 0.5 for one several persons hold. Never logs a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection

from mpi.errors import MPIError, NotFound
from mpi.fhir import identifiers as sid
from mpi.fhir.params import TokenQuery
from mpi.fhir.patient import patient_identifiers
from mpi.identity.links import resolve_person
from mpi.identity.online import OnlineLinker
from mpi.records import Candidate, DemographicQuery, PersonSummary, SearchResult, person_summary
from mpi.records.lookup import normalised_identifier, search_demographics, search_identifier
from mpi.records.person import read_current_encounters
from mpi.records.sensitivity import Segmentation


class UnknownSystem(MPIError):
    """A ``sourceIdentifier`` whose assigning authority (system) the hub does not know (PIXm: 400,
    ``code-invalid``)."""

    code = "unknown_system"
    status = 400
    issue_type = "code-invalid"


class UnknownTargetSystem(MPIError):
    """A ``targetSystem`` the hub does not know (PIXm: 403, ``code-invalid``)."""

    code = "target_system_unknown"
    status = 403
    issue_type = "code-invalid"


class SourceNotFound(NotFound):
    """No person holds the ``sourceIdentifier`` (PIXm: 404, ``not-found``)."""

    code = "source_identifier_not_found"


class MatchTooVague(MPIError):
    """A ``$match`` Patient with neither an identifier nor a name and birth date (PDQm: 400)."""

    code = "match_too_vague"
    status = 400
    issue_type = "required"


class TooBroad(MPIError):
    """A search that would list every person holding some identifier (``system|`` with no value)."""

    code = "search_too_broad"
    status = 400
    issue_type = "too-costly"


class DomainUnknown(NotFound):
    """``identifier=system|`` naming an identifier domain the hub does not know (PDQm ITI-78 case 4: 404,
    a ``not-found`` warning)."""

    code = "target_system_unknown"
    severity = "warning"


def domains(alternatives: Sequence[TokenQuery]) -> frozenset[str] | None:
    """An ``identifier`` whose every alternative is ``system|`` names the identifier domains to return (PDQm
    ITI-78 3.78.4.1.2.3): each Patient found must hold an identifier of one of them, and shows only those.
    None when the parameter searches by value."""
    if not alternatives or any(a.value is not None or a.system is None for a in alternatives):
        return None
    systems = frozenset(str(a.system) for a in alternatives)
    if any(s not in KNOWN_TARGETS and sid.resolve_system(s) is None for s in systems):
        raise DomainUnknown("targetSystem not found")
    return systems


def holds_domain(
    *, conn: Connection, person_id: int, systems: frozenset[str], segmentation: Segmentation | None = None
) -> bool:
    """Whether the person, as the reader may see them, holds an identifier of one of these systems."""
    summary = _visible_summary(conn, person_id, segmentation)
    return any(i["system"] in systems for i in patient_identifiers(summary))


def _visible_summary(conn: Connection, person_id: int, segmentation: Segmentation | None) -> PersonSummary:
    """The person's summary over the encounters the reader may see; the cluster's encounters read once."""
    person = resolve_person(conn=conn, person_id=person_id)
    rows = read_current_encounters(conn, person.cluster)
    withheld = segmentation.of_person(conn, person, rows).withheld_ids if segmentation is not None else frozenset()
    return person_summary(conn=conn, person_id=person.person_id, exclude=withheld, person=person, encounters=rows)


def _merge(results: Sequence[SearchResult]) -> SearchResult:
    best: dict[int, Candidate] = {}
    order = {"certain": 0, "probable": 1, "possible": 2}
    for result in results:
        for c in result.candidates:
            if c.person_id not in best or order[c.grade] < order[best[c.person_id].grade]:
                best[c.person_id] = c
    candidates = sorted(best.values(), key=lambda c: (order[c.grade], c.person_id))
    return SearchResult(kind="identifier", candidates=candidates, truncated=any(r.truncated for r in results))


def search_token(*, conn: Connection, token: sid.Token, segmentation: Segmentation | None = None) -> SearchResult:
    """Persons carrying the identifier on a record the reader may see (``segmentation``); a bare value (no
    system) is tried under every system, an unknown system finds nobody (as a FHIR server answers)."""
    if token.system is None:
        found = [
            search_identifier(conn=conn, kind=kind, value=token.value, any_facility=True, segmentation=segmentation)
            for kind in ("national_id", "bhxh_number", "patient_code")
            if normalised_identifier(kind, token.value) is not None
        ]
        return _merge(found)
    resolved = sid.resolve_system(token.system)
    if resolved is None:
        return SearchResult(kind="identifier", candidates=[], truncated=False)
    return _search_resolved(conn=conn, resolved=resolved, value=token.value, segmentation=segmentation)


def search_tokens(
    *, conn: Connection, alternatives: Sequence[TokenQuery], segmentation: Segmentation | None = None
) -> SearchResult:
    """A token parameter's alternatives (comma-OR): the persons any of them finds. ``|value`` asks for
    identifiers without a system, which the hub never has; ``system|`` alone would list every holder of
    that kind of identifier and is refused."""
    found = []
    for alt in alternatives:
        if alt.value is None:
            raise TooBroad(
                "identifier=system| names which identifiers to return (alone, or with other systems|): it cannot "
                "be an alternative of a value"
            )
        if alt.any_system:
            token = sid.Token(system=None, value=alt.value)
        elif alt.system is not None:
            token = sid.Token(system=alt.system, value=alt.value)
        else:
            continue
        found.append(search_token(conn=conn, token=token, segmentation=segmentation))
    return _merge(found)


def search_ids(*, conn: Connection, ids: Sequence[str]) -> SearchResult:
    """``_id``: the persons with these ids (canonical spelling only: ``0123`` is not ``123``)."""
    return _merge([_search_resolved(conn=conn, resolved=sid.Resolved("person"), value=i) for i in ids])


def _search_resolved(
    *, conn: Connection, resolved: sid.Resolved, value: str, segmentation: Segmentation | None = None
) -> SearchResult:
    if resolved.kind == "person":
        if not canonical_id(value):
            return SearchResult(kind="person", candidates=[], truncated=False)
        try:
            person = resolve_person(conn=conn, person_id=int(value))
        except NotFound:
            return SearchResult(kind="person", candidates=[], truncated=False)
        candidate = Candidate(
            person_id=person.person_id, grade="certain", reason="same person id", match_probability=None,
            matched_on=("person",), record=None,
        )  # fmt: skip
        return SearchResult(kind="person", candidates=[candidate], truncated=False)
    if resolved.kind != "patient_code" and normalised_identifier(resolved.kind, value) is None:
        return SearchResult(kind=resolved.kind, candidates=[], truncated=False)
    return search_identifier(
        conn=conn, kind=resolved.kind, value=value, facility_code=resolved.facility_code, segmentation=segmentation
    )


MAX_ID: Final = 2**31 - 1
"""Ids above this cannot exist (and must not reach the database: PostgreSQL integers are 32-bit)."""


def canonical_id(value: str) -> bool:
    """A person id as the hub writes it: ASCII digits (``'١'.isdigit()`` is true too) without a leading
    zero, within the id range."""
    return value.isascii() and value.isdigit() and not value.startswith("0") and int(value) <= MAX_ID


def score(candidate: Candidate, *, shared: bool) -> float:
    if candidate.match_probability is not None:
        return candidate.match_probability
    return 0.5 if shared else 1.0


@dataclass(frozen=True, slots=True)
class MatchInput:
    """What ``$match`` reads from its Patient: identifiers, or name + birth date (+ sex, commune)."""

    tokens: tuple[sid.Token, ...]
    name: str | None
    birth_date: str | None
    sex: int | None
    commune_code: str | None


_SEX = {"male": 1, "female": 2}


def match_input(patient: dict[str, Any]) -> MatchInput:
    """Read the query out of the ``$match`` Patient (a JSON object already validated as a Patient)."""
    identifiers = patient.get("identifier") or ()
    tokens = tuple(sid.Token(system=i.get("system"), value=str(i["value"])) for i in identifiers if i.get("value"))
    name = None
    for n in patient.get("name") or ():
        name = n.get("text") or " ".join([*([n["family"]] if n.get("family") else []), *(n.get("given") or [])])
        if name:
            break
    commune = None
    for a in patient.get("address") or ():
        for ext in a.get("extension") or ():
            if ext.get("url") == sid.COMMUNE:
                commune = ext.get("valueCode")
    return MatchInput(
        tokens=tokens,
        name=name or None,
        birth_date=patient.get("birthDate"),
        sex=_SEX.get(patient.get("gender") or ""),
        commune_code=commune,
    )


def match(
    *,
    conn: Connection,
    linker: OnlineLinker,
    query: MatchInput,
    count: int,
    segmentation: Segmentation | None = None,
) -> SearchResult:
    """Identifiers with a known system first (any that finds someone); else the demographic model; over
    the records the reader may see (``segmentation``)."""
    for token in query.tokens:
        if token.system is not None and sid.resolve_system(token.system) is not None:
            result = search_token(conn=conn, token=token, segmentation=segmentation)
            if result.candidates:
                return SearchResult(
                    kind=result.kind, candidates=result.candidates[:count],
                    truncated=result.truncated or len(result.candidates) > count,
                )  # fmt: skip
    if query.name and query.birth_date:
        demographic = DemographicQuery(
            name=query.name, birth_date=query.birth_date, sex=query.sex, commune_code=query.commune_code
        )
        return search_demographics(conn=conn, query=demographic, linker=linker, limit=count, segmentation=segmentation)
    if query.tokens:
        return SearchResult(kind="identifier", candidates=[], truncated=False)
    raise MatchTooVague("$match needs a Patient with an identifier, or a name and a birthDate")


@dataclass(frozen=True, slots=True)
class CrossReference:
    person_ids: list[int]
    identifiers: list[dict[str, Any]]
    """FHIR Identifier objects (system, value) of the person, the source identifier left out; empty when
    the source identifier names several persons (their identifiers must not be mixed in one list)."""
    encounter_ids: list[int]


KNOWN_TARGETS = (sid.CCCD, sid.BHXH, sid.PERSON)


def cross_reference(
    *, conn: Connection, source: sid.Token, target_systems: Sequence[str] = (), segmentation: Segmentation | None = None
) -> CrossReference:
    """PIXm ITI-83: the other identifiers of the person ``source`` names, restricted to ``target_systems``;
    with ``segmentation``, none drawn from an encounter withheld from the reader (an HIV clinic's MA_BN).

    A source identifier several persons hold (a guardian's CCCD on a child's records) answers each person
    as a ``targetId`` and no ``targetIdentifier``: a flat list would attach one person's numbers to the
    other; the client reads each Patient to choose.
    """
    if source.system is None:
        raise UnknownSystem("sourceIdentifier Assigning Authority not found: give it as system|value")
    resolved = sid.resolve_system(source.system)
    if resolved is None:
        raise UnknownSystem("sourceIdentifier Assigning Authority not found")
    for target in target_systems:
        if target not in KNOWN_TARGETS and sid.resolve_system(target) is None:
            raise UnknownTargetSystem("targetSystem not found")
    found = _search_resolved(conn=conn, resolved=resolved, value=source.value, segmentation=segmentation)
    if not found.candidates:
        raise SourceNotFound("sourceIdentifier Patient Identifier not found")
    identifiers: list[dict[str, Any]] = []
    encounter_ids: list[int] = []
    if len(found.candidates) == 1:  # several persons: targetIds only, no identifier of either
        summary = _visible_summary(conn, found.candidates[0].person_id, segmentation)
        encounter_ids += summary.encounter_ids
        for identifier in patient_identifiers(summary):
            if (identifier["system"], identifier["value"]) == (source.system, source.value.strip()):
                continue
            if target_systems and identifier["system"] not in target_systems:
                continue
            identifiers.append({"system": identifier["system"], "value": identifier["value"]})
    return CrossReference(person_ids=found.person_ids, identifiers=identifiers, encounter_ids=encounter_ids)
