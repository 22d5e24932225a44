"""The identity policy: the one home of the rules that turn scored candidates into a decision.

Called by the online path (:mod:`mpi.identity.online`, one incoming record against its candidates) and by
batch relinking (:mod:`mpi.identity.relink`, one record of a person against another person's records), so
that the same evidence gives the same decision on both paths. Pure: no database access; the callers read
the steward facts (blocked and pinned persons) and pass them in.

The order of evidence:

1. **National ID (CCCD).** A CCCD counts when it is structurally sound (12 digits, a province code that
   exists, a century that has begun: :func:`usable_cccd`). Equal usable CCCDs on both records:
   - demographics consistent (sex, birth year, given name) -> link (``national_id``);
   - the disagreement is a typo the CCCD itself corrects: one record's birth year (or sex) agrees with the
     CCCD's digits, the other's does not and differs from it by one digit or two swapped digits, and the
     names agree -> link (``national_id_corroborated``), saying which field the number corrected;
   - the CCCD's digits fit one record and the other record is a different, younger person (a guardian's
     number on a child's record: born years after the number's holder, another given name) -> the number
     is the guardian's: that candidate is not this person, no review is opened for it, and the relation is
     kept in the evidence (``guardian_person_id``); the other evidence decides;
   - both records were born years after the number's holder (a guardian's number on two records of a
     child, or on siblings and twins) -> the number says nothing about the pair; the other evidence decides;
   - any other disagreement -> review (``national_id_conflict``), never a silent link.
   Names agree when their tokens agree in any order, or the given names differ by one typed letter.
   Two *different* usable CCCDs, each the record's own (its birth year and sex fit the number's digits:
   not a guardian's) and more than one typed digit apart, are two people (:func:`different_holders`): such
   a pair contradicts a link whatever the model says (a father and a son of one name sharing the
   household's phone and address).
2. **Same facility and patient code (MA_BN), or an earlier version of the same encounter**: strong
   evidence, not proof: it links when the model does not contradict it (probability at least the review
   threshold), and goes to review when it does.
3. **The model**, person by person, strongest first: a person is linked when its best record reaches
   ``auto``, none of its scored records contradicts the incoming one (probability below
   :data:`CONTRADICTION` — the evidence must hold for the person's records, not for one strong pair) and,
   unless a personal identifier (BHXH number, CCCD) agrees, the given names agree (twins and siblings
   share everything else); an auto-band person failing these opens a review; at least ``review`` opens a
   review item; below, the record starts a new person.
4. **The same card and birth**, where the model did not link: a record links to the person whose record has
   the same BHXH number, birth date (and birth time, when both carry one) and sex, whatever the names
   (``bhxh_birth``): a newborn is first recorded under a parent's name and later under its own, and its
   temporary card already carries its own lifelong number. A person holding a record of another birth time
   on that date (a twin), or a record whose CCCD contradicts the incoming one, is not taken; such a pair
   never counts as a contradiction of the model.

Between 1 and 2, **a birth certificate** (XML9, read by :mod:`mpi.identity.births`): a record born on a
certificate's birth date and time, of its sex, written under the mother's name, under the child's intended
name or with the child's temporary card is that child (:func:`birth_of`), not the mother, whatever the
model says of the mother's records: it links to the person of the child's earlier records
(``birth_certificate``) unless one of them contradicts it; before any, the other rules decide without
the mother's person. The mother's person goes into the evidence (``mother_person_id``).

A person a steward said the record is not (``blocked``) is never a candidate; relinking never moves
records off a person a steward pinned (see :mod:`mpi.identity.relink`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from linkage.model import ModelRow
from linkage.normalise.national_id import cccd_birth_year, cccd_sex, check_cccd

__all__ = [
    "CONTRADICTION",
    "LINKING_RULES",
    "LINK_RULES_BY_EVIDENCE",
    "Action",
    "Birth",
    "Candidate",
    "Decision",
    "NationalIdEvidence",
    "Rule",
    "Thresholds",
    "birth_of",
    "contradicts",
    "decide",
    "decide_by_national_id",
    "demographics_consistent",
    "different_holders",
    "national_id_evidence",
    "supports",
    "usable_cccd",
]

CONTRADICTION: Final = 0.01
"""A scored record of a person below this probability contradicts linking the incoming record to that person."""
GUARDIAN_MIN_YEARS: Final = 12
"""A record born at least this many years after the CCCD's holder is not the holder (a child on a guardian's number)."""
_GIVEN_SIMILAR: Final = 0.88
_TYPO_MIN_LENGTH: Final = 3
"""Given names shorter than this (AN, AI) are never taken for one another's typo."""


class Action(StrEnum):
    LINK = "link"
    """Link to ``person_id``."""
    REVIEW = "review"
    """Start a new person and open a review item against ``person_id``."""
    NEW = "new"
    """Start a new person."""


class Rule(StrEnum):
    """What decided a link or opened a review item: the ``rule`` of ``link`` rows and link events and the
    ``reason`` of review items. The values are stored and shown in reports: never change one."""

    # the policy (:func:`decide`): links
    NATIONAL_ID = "national_id"
    NATIONAL_ID_CORROBORATED = "national_id_corroborated"
    FACILITY_PATIENT_CODE = "facility_patient_code"
    PREVIOUS_VERSION = "previous_version"
    MODEL = "model"
    BHXH_BIRTH = "bhxh_birth"
    BIRTH_CERTIFICATE = "birth_certificate"
    NEW_PERSON = "new_person"
    # the policy: reviews
    NATIONAL_ID_CONFLICT = "national_id_conflict"
    FACILITY_PATIENT_CODE_CONFLICT = "facility_patient_code_conflict"
    PREVIOUS_VERSION_CONFLICT = "previous_version_conflict"
    MODEL_BAND = "model_band"
    MODEL_CONTRADICTED = "model_contradicted"
    MODEL_BIRTH_TIME_DIFFERS = "model_birth_time_differs"
    MODEL_BHXH_DIFFERS = "model_bhxh_differs"
    MODEL_GIVEN_NAME_DIFFERS = "model_given_name_differs"
    # batch relinking (:mod:`mpi.identity.relink`)
    RELINK = "relink"
    CLUSTER_CONTRADICTED = "cluster_contradicted"
    CLUSTER_UNSUPPORTED = "cluster_unsupported"
    BOTH_PINNED = "both_pinned"
    # stewards and the history (:mod:`mpi.identity.links`, :mod:`mpi.identity.stewardship`)
    STEWARD = "steward"
    STEWARD_MOVE = "steward_move"
    MERGE = "merge"
    UNMERGE = "unmerge"
    UNDO = "undo"


#: The evidence each rule that links automatically rests on, by kind: the quality scorecard's link shares
#: group rules with it (every such rule in exactly one group: ``tests/identity/test_policy.py``).
LINK_RULES_BY_EVIDENCE: Final[dict[str, tuple[Rule, ...]]] = {
    "cccd": (Rule.NATIONAL_ID, Rule.NATIONAL_ID_CORROBORATED),
    "facility_code": (Rule.FACILITY_PATIENT_CODE, Rule.PREVIOUS_VERSION),
    "insurance_card": (Rule.BHXH_BIRTH,),
    "birth_certificate": (Rule.BIRTH_CERTIFICATE,),
    "model": (Rule.MODEL,),
}
LINKING_RULES: Final = frozenset(rule for rules in LINK_RULES_BY_EVIDENCE.values() for rule in rules)
"""The rules an automatic link may rest on (a link on any other rule is a policy bug: :class:`Decision`)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    auto: float
    review: float


@dataclass(slots=True)
class Candidate:
    source_record_id: int
    person_id: int
    features: ModelRow
    same_patient_code: bool = False
    previous_version: bool = False
    match_weight: float = 0.0
    match_probability: float = 0.0


@dataclass(slots=True)
class Decision:
    action: Action
    rule: Rule
    person_id: int | None = None
    match_weight: float | None = None
    match_probability: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    source_record_id: int | None = None
    """The candidate record the decision rests on (for the explanation of a review item)."""

    def __post_init__(self) -> None:
        if self.action is Action.LINK and self.rule not in LINKING_RULES:
            raise ValueError(f"a link on rule {self.rule!r}, which belongs to no evidence group")


@dataclass(frozen=True, slots=True)
class Birth:
    """One child of a birth certificate, as the policy reads it (see :mod:`mpi.identity.births`)."""

    certificate_id: int
    child: ModelRow
    """Model row of the child's data: intended name, birth date and time, sex, temporary card."""
    mother: ModelRow
    """Model row of the mother's data: name, birth date, CCCD, card."""
    mother_person_id: int
    child_person_id: int | None = None
    """The person of the child's records so far (None before the first)."""


# ---- national ID ---------------------------------------------------------------------------------
def usable_cccd(features: ModelRow) -> str | None:
    """The record's CCCD when it is structurally sound (its demographics are checked per pair), else None."""
    number = features.get("national_id")
    if features.get("national_id_kind") != "CCCD" or not isinstance(number, str) or len(number) != 12:
        return None
    return None if check_cccd(number) else number  # a province code, a century that has begun


def _fits(features: ModelRow, number: str) -> dict[str, bool | None]:
    """Whether the record's birth year and sex agree with the CCCD's digits (None: not recorded)."""
    year, sex = features.get("dob_year"), features.get("sex")
    return {
        "birth_year": None if year is None else year == cccd_birth_year(number),
        "sex": None if sex not in (1, 2) else sex == cccd_sex(number),
    }


def _rest_of_date_agrees(a: ModelRow, b: ModelRow) -> bool:
    """Month and day agree where both records know them (a typo in the year leaves them alone)."""
    return all(a.get(k) is None or b.get(k) is None or a.get(k) == b.get(k) for k in ("dob_month", "dob_day"))


def _year_typo(a: int, b: int) -> bool:
    """One wrong digit or two swapped adjacent digits (1976 -> 1967, 1976 -> 1978)."""
    sa, sb = str(a), str(b)
    return Levenshtein.distance(sa, sb) == 1 or (DamerauLevenshtein.distance(sa, sb) == 1 and sorted(sa) == sorted(sb))


def _given_agrees(a: ModelRow, b: ModelRow) -> bool:
    ga, gb = a.get("given_key"), b.get("given_key")
    return not (ga and gb and ga != gb and JaroWinkler.similarity(str(ga), str(gb)) < _GIVEN_SIMILAR)


def _given_typo(a: ModelRow, b: ModelRow) -> bool:
    """The given names agree, or differ by one typed letter (CHI/CJI, BAO/NAO): only with an equal CCCD."""
    ga, gb = a.get("given_key"), b.get("given_key")
    if _given_agrees(a, b):
        return True
    assert isinstance(ga, str) and isinstance(gb, str)
    return min(len(ga), len(gb)) >= _TYPO_MIN_LENGTH and DamerauLevenshtein.distance(ga, gb) <= 1


def _same_tokens(a: ModelRow, b: ModelRow) -> bool:
    """The same name tokens in any order, allowing one typed letter in the whole name."""
    sa, sb = a.get("name_sorted"), b.get("name_sorted")
    return bool(sa and sb and (sa == sb or DamerauLevenshtein.distance(str(sa), str(sb)) <= 1))


def _names_agree(a: ModelRow, b: ModelRow) -> bool:
    """The same name, allowing a typo in the given name and any order of the tokens."""
    if _same_tokens(a, b):
        return True
    family_a, family_b = a.get("family_key"), b.get("family_key")
    return bool(family_a and family_a == family_b and a.get("given_key") and _given_typo(a, b))


def demographics_consistent(a: ModelRow, b: ModelRow) -> bool:
    """Same person plausible on sex, birth year and given name (a typo or another order allowed)."""
    if a.get("sex") in (1, 2) and b.get("sex") in (1, 2) and a.get("sex") != b.get("sex"):
        return False
    if a.get("dob_year") is not None and b.get("dob_year") is not None and a.get("dob_year") != b.get("dob_year"):
        return False
    return _given_typo(a, b) or _same_tokens(a, b)


@dataclass(frozen=True, slots=True)
class NationalIdEvidence:
    """What an equal usable CCCD on two records says: ``consistent``, ``corroborated``, ``guardian``,
    ``not_theirs`` (a guardian's number on both: no evidence) or ``conflict``."""

    verdict: str
    evidence: dict[str, Any]


def national_id_evidence(a: ModelRow, b: ModelRow) -> NationalIdEvidence | None:
    """The CCCD rule for one pair of model rows (``a`` the incoming record); None without an equal usable CCCD."""
    number = usable_cccd(a)
    if number is None or number != usable_cccd(b):
        return None
    year_a, year_b = a.get("dob_year"), b.get("dob_year")
    holder = cccd_birth_year(number)
    if year_a is not None and year_b is not None and min(int(year_a), int(year_b)) - holder >= GUARDIAN_MIN_YEARS:
        # Both records were born years after the number's holder: it is a guardian's number on both (a
        # newborn under the mother's name and later under its own, siblings, twins): no evidence either way.
        return NationalIdEvidence("not_theirs", {"national_id": "guardian_on_both"})
    if demographics_consistent(a, b):
        return NationalIdEvidence("consistent", {})
    fits_a, fits_b = _fits(a, number), _fits(b, number)
    # A guardian's number: one record was born years after the number's holder, the other was not.
    for holder_year, other_year, side in ((year_b, year_a, "incoming"), (year_a, year_b, "candidate")):
        if (
            holder_year is not None
            and other_year is not None
            and int(holder_year) - holder < GUARDIAN_MIN_YEARS <= int(other_year) - holder
            and not (
                _given_agrees(a, b) and _year_typo(int(holder_year), int(other_year)) and _rest_of_date_agrees(a, b)
            )
        ):
            return NationalIdEvidence("guardian", {"national_id": "guardian", "child": side})
    # A typo the number corrects: names agree, and every disagreeing field is right on exactly one side.
    if not _names_agree(a, b):
        return NationalIdEvidence("conflict", {"national_id": "conflict"})
    corrected: dict[str, str] = {}
    for name in ("birth_year", "sex"):
        left, right = fits_a[name], fits_b[name]
        if left is None or right is None or left == right:
            if left is False and right is False:
                return NationalIdEvidence("conflict", {"national_id": "conflict"})
            continue
        corrected[name] = "incoming" if right else "candidate"
    if "birth_year" in corrected:
        assert year_a is not None and year_b is not None
        if not _year_typo(int(year_a), int(year_b)) or not _rest_of_date_agrees(a, b):
            return NationalIdEvidence("conflict", {"national_id": "conflict"})
    if not corrected:
        return NationalIdEvidence("conflict", {"national_id": "conflict"})
    return NationalIdEvidence(
        "corroborated", {"national_id": "corroborated", "corrected": sorted(corrected), "typo_on": corrected}
    )


def _own_cccd(features: ModelRow) -> str | None:
    """The record's usable CCCD when its digits fit the record: the birth year recorded and equal to the
    number's, the sex equal to the number's where recorded (a guardian's number on a child's record does
    not fit it)."""
    number = usable_cccd(features)
    if number is None:
        return None
    fits = _fits(features, number)
    return number if fits["birth_year"] is True and fits["sex"] is not False else None


def different_holders(a: ModelRow, b: ModelRow) -> bool:
    """Each record carries its own CCCD (:func:`_own_cccd`) and the two numbers differ by more than one typed
    digit or one swap of neighbours: two people, whatever else they share."""
    number_a, number_b = _own_cccd(a), _own_cccd(b)
    return bool(number_a and number_b and DamerauLevenshtein.distance(number_a, number_b) > 1)


def contradicts(a: ModelRow, b: ModelRow, match_probability: float) -> bool:
    """Whether a record of a person speaks against the other record being that person.

    An equal usable CCCD decides (consistent or corroborated: no; a conflict or a guardian's number: yes);
    so do two different CCCDs each fitting its own record (:func:`different_holders`: yes); otherwise the
    model's probability below :data:`CONTRADICTION`.
    """
    found = national_id_evidence(a, b)
    if found is not None and found.verdict != "not_theirs":
        return found.verdict not in ("consistent", "corroborated")
    if different_holders(a, b):
        return True
    if _card_and_birth_agree(a, b):
        return False
    return match_probability < CONTRADICTION


def supports(a: ModelRow, b: ModelRow, match_probability: float, thresholds: Thresholds) -> bool:
    """Whether a pair of records, on its own, makes the same person plausible: the model at least at the
    review threshold, an equal CCCD that agrees (or corrects a typo), or the same card and birth."""
    if match_probability >= thresholds.review or _card_and_birth_agree(a, b):
        return True
    found = national_id_evidence(a, b)
    return found is not None and found.verdict in ("consistent", "corroborated")


# ---- decision ------------------------------------------------------------------------------------
def _by_person(candidates: Iterable[Candidate]) -> dict[int, list[Candidate]]:
    out: dict[int, list[Candidate]] = {}
    for c in candidates:
        out.setdefault(c.person_id, []).append(c)
    return out


def _rank(candidate: Candidate) -> tuple[float, int]:
    """The order of candidates, the best first: the higher weight, then the older record (the lower id)."""
    return -candidate.match_weight, candidate.source_record_id


def _best(candidates: Sequence[Candidate]) -> Candidate:
    return min(candidates, key=_rank)


def _ranked_persons(candidates: Iterable[Candidate]) -> list[tuple[Candidate, list[Candidate]]]:
    """Each person's best record (:func:`_best`) and records, the best persons first (:func:`_rank`): the
    same list as ``_best`` of each :func:`_by_person` group, sorted, in one pass over the candidates (a
    large block is ~100 candidates of ~70 persons)."""
    bests: dict[int, Candidate] = {}
    persons: dict[int, list[Candidate]] = {}
    for c in candidates:
        person = c.person_id
        best = bests.get(person)
        if best is None:
            bests[person] = c
            persons[person] = [c]
            continue
        persons[person].append(c)
        if _rank(c) < _rank(best):
            bests[person] = c
    return sorted(((bests[person], records) for person, records in persons.items()), key=lambda t: _rank(t[0]))


def _decision(action: Action, rule: Rule, chosen: Candidate, **evidence: Any) -> Decision:
    return Decision(
        action,
        rule,
        chosen.person_id,
        chosen.match_weight,
        chosen.match_probability,
        evidence=dict(evidence),
        source_record_id=chosen.source_record_id,
    )


def _national_id_step(
    record: ModelRow, remaining: Sequence[Candidate]
) -> tuple[list[tuple[Candidate, NationalIdEvidence]], dict[str, Any], Decision | None]:
    """The first rule of :func:`decide`: the candidates with an equal usable CCCD and what it says of each,
    the evidence so far (guardians' and wards' persons), and the link when an agreeing CCCD decides.

    Reads only the candidates with an equal usable CCCD (:func:`national_id_evidence` is None for every other
    pair) and, of those, only the agreeing ones' scores: see :func:`decide_by_national_id`.
    """
    evidence: dict[str, Any] = {}
    same_id: list[tuple[Candidate, NationalIdEvidence]] = []
    number = usable_cccd(record)
    if number is not None:
        for c in remaining:
            # national_id_evidence is None unless the candidate carries the same number: asked of those only
            if c.features.get("national_id") == number:
                found = national_id_evidence(record, c.features)
                if found is not None:
                    same_id.append((c, found))
    guardians = sorted(
        {c.person_id for c, e in same_id if e.verdict == "guardian" and e.evidence["child"] == "incoming"}
    )
    if guardians:
        evidence["guardian_person_ids"] = guardians
    wards = {c.person_id for c, e in same_id if e.verdict == "guardian" and e.evidence["child"] == "candidate"}
    if wards:
        evidence["ward_person_ids"] = sorted(wards)
    for verdict, rule in (("consistent", Rule.NATIONAL_ID), ("corroborated", Rule.NATIONAL_ID_CORROBORATED)):
        agreeing = [(c, e) for c, e in same_id if e.verdict == verdict and c.person_id not in wards]
        if agreeing:
            chosen, said = min(agreeing, key=lambda t: _rank(t[0]))
            return same_id, evidence, _decision(Action.LINK, rule, chosen, **evidence, **said.evidence)
    return same_id, evidence, None


def decide_by_national_id(
    record: ModelRow, candidates: Sequence[Candidate], *, blocked: Iterable[int] = ()
) -> Decision | None:
    """:func:`decide`'s decision when its first rule (an equal CCCD that agrees or corrects a typo) links the
    record, else None.

    Given every candidate that carries the record's usable CCCD (and any others), the answer equals what
    :func:`decide` returns for any larger set of candidates with the same ``blocked``: that rule reads no
    other candidate (the online path asks this first, with the records of that CCCD only, and searches
    and scores the record's whole candidate set only when it answers None).
    """
    if usable_cccd(record) is None:
        return None
    banned = set(blocked)
    return _national_id_step(record, [c for c in candidates if c.person_id not in banned])[2]


def decide(
    record: ModelRow,
    candidates: Sequence[Candidate],
    thresholds: Thresholds,
    *,
    blocked: Iterable[int] = (),
    births: Sequence[Birth] = (),
) -> Decision:
    """Choose what to do with a record given its scored candidates (see the module docstring).

    ``blocked``: persons a steward said this record is not; their candidates are ignored. ``births``: the
    birth certificates whose child was born on the record's birth date.
    """
    banned = set(blocked)
    remaining = [c for c in candidates if c.person_id not in banned]
    same_id, evidence, linked = _national_id_step(record, remaining)
    if linked is not None:
        return linked
    birth = birth_of(record, births)
    if birth is not None:
        # The certificate's child: never the mother, and the child's person when it has one.
        evidence.update(mother_person_id=birth.mother_person_id, birth_certificate_id=birth.certificate_id)
        remaining = [c for c in remaining if c.person_id != birth.mother_person_id]
        same_id = [(c, e) for c, e in same_id if c.person_id != birth.mother_person_id]
        child = birth.child_person_id
        if child is not None and child not in banned and child != birth.mother_person_id:
            theirs = [c for c in remaining if c.person_id == child]
            if not any(contradicts(record, c.features, c.match_probability) for c in theirs):
                if theirs:
                    return _decision(Action.LINK, Rule.BIRTH_CERTIFICATE, _best(theirs), **evidence)
                return Decision(Action.LINK, Rule.BIRTH_CERTIFICATE, child, evidence=evidence)
    conflicts = [c for c, e in same_id if e.verdict == "conflict"]
    if conflicts:
        return _decision(Action.REVIEW, Rule.NATIONAL_ID_CONFLICT, _best(conflicts), **evidence, national_id="conflict")

    strong = [c for c in remaining if c.same_patient_code or c.previous_version]

    if strong:
        chosen = _best(strong)
        if chosen.previous_version:
            rule, conflict = Rule.PREVIOUS_VERSION, Rule.PREVIOUS_VERSION_CONFLICT
        else:
            rule, conflict = Rule.FACILITY_PATIENT_CODE, Rule.FACILITY_PATIENT_CODE_CONFLICT
        if chosen.match_probability >= thresholds.review:
            return _decision(Action.LINK, rule, chosen, **evidence)
        return _decision(Action.REVIEW, conflict, chosen, **evidence)

    if not remaining:
        return Decision(Action.NEW, Rule.NEW_PERSON, evidence=evidence)
    ranked = _ranked_persons(remaining)
    doubts: list[tuple[Candidate, Rule]] = []
    for best, records in ranked:
        if best.match_probability < thresholds.auto:
            break
        doubt = _model_doubt(record, best, records)
        if doubt is None:
            return _decision(Action.LINK, Rule.MODEL, best, **evidence)
        doubts.append((best, doubt))
    same_birth = _card_and_birth(record, remaining)
    if same_birth is not None:
        return _decision(Action.LINK, Rule.BHXH_BIRTH, same_birth, **evidence)
    if doubts:
        chosen, doubt = doubts[0]
        return _decision(Action.REVIEW, doubt, chosen, **evidence)
    best = ranked[0][0]
    if best.match_probability >= thresholds.review:
        return _decision(Action.REVIEW, Rule.MODEL_BAND, best, **evidence)
    return Decision(Action.NEW, Rule.NEW_PERSON, None, best.match_weight, best.match_probability, evidence=evidence)


def _born_together(a: ModelRow, b: ModelRow) -> bool | None:
    """Whether two records with birth times on the same birth date name the same birth (None: not both timed)."""
    ta, tb = a.get("dob_time"), b.get("dob_time")
    if not ta or not tb or not a.get("dob_date") or a.get("dob_date") != b.get("dob_date"):
        return None
    return bool(ta == tb)


def _same_birth(a: ModelRow, b: ModelRow) -> bool:
    """The same birth date to the day, the same birth time when both carry one."""
    return bool(a.get("dob_date")) and a.get("dob_date") == b.get("dob_date") and _born_together(a, b) is not False


def _card_and_birth_agree(a: ModelRow, b: ModelRow) -> bool:
    """The same BHXH number, birth (:func:`_same_birth`) and sex (1 or 2) on both records."""
    return (
        bool(a.get("bhxh_number"))
        and a.get("bhxh_number") == b.get("bhxh_number")
        and a.get("sex") in (1, 2)
        and a.get("sex") == b.get("sex")
        and _same_birth(a, b)
    )


def _card_and_birth(record: ModelRow, candidates: Sequence[Candidate]) -> Candidate | None:
    """A child's record whatever name it carries: the same birth (date, time, sex) and the same BHXH number.

    A newborn's first records carry a parent's name and later its own (with a guardian's CCCD, or none);
    what stays is its birth date (and time) and its card's BHXH number (the temporary card carries the
    child's own lifelong number). The name then says nothing, so the model's name comparisons would keep
    the records apart. A person with another record of another birth time on that date (a twin), or with a
    record the incoming one contradicts, is not taken.
    """
    number = record.get("bhxh_number")
    if not number:
        return None  # no record agrees on a card the incoming one does not carry
    # the same card first (a cheap look at each candidate; most carry another number or none), then the rest
    # of _card_and_birth_agree and the persons of the few that agree
    agreeing = [
        c for c in candidates if c.features.get("bhxh_number") == number and _card_and_birth_agree(record, c.features)
    ]
    if not agreeing:
        return None
    persons = _by_person(candidates)
    found = [
        c
        for c in agreeing
        if not any(_born_together(record, other.features) is False for other in persons[c.person_id])
        and not any(contradicts(record, other.features, 1.0) for other in persons[c.person_id])
    ]
    if not found or len({c.person_id for c in found}) > 1:
        return None
    return _best(found)


def is_birth_of(record: ModelRow, birth: Birth) -> bool:
    """Whether a record can be the certificate's child: born on its birth date (at its birth time when both
    carry one), of its sex, and written under the mother's name, under the child's intended name, or with
    the child's temporary card (its lifelong BHXH number)."""
    child = birth.child
    if not child.get("dob_date") or record.get("dob_date") != child.get("dob_date"):
        return False
    if _born_together(record, child) is False:
        return False
    if record.get("sex") in (1, 2) and child.get("sex") in (1, 2) and record.get("sex") != child.get("sex"):
        return False
    if record.get("bhxh_number") and record.get("bhxh_number") == child.get("bhxh_number"):
        return True
    return _same_tokens(record, birth.mother) or _same_tokens(record, child)


def birth_of(record: ModelRow, births: Sequence[Birth]) -> Birth | None:
    """The one certificate child the record is (:func:`is_birth_of`), or None: none, or several children
    (twins whose records carry no birth time) and the record cannot tell which."""
    found = [b for b in births if is_birth_of(record, b)]
    return found[0] if len(found) == 1 else None


def given_names_differ(a: ModelRow, b: ModelRow) -> bool:
    """Both records name someone, and not the same given name (typos and reordered names allowed)."""
    if not a.get("given_key") or not b.get("given_key"):
        return False
    return not _given_agrees(a, b) and not (a.get("name_sorted") and a.get("name_sorted") == b.get("name_sorted"))


def _bhxh_differs(a: ModelRow, b: ModelRow) -> bool:
    """Both records carry a BHXH number (lifelong, one per person) and they differ by more than one typo."""
    x, y = a.get("bhxh_number"), b.get("bhxh_number")
    return bool(x and y and DamerauLevenshtein.distance(str(x), str(y)) > 1)


def _same_identifier(a: ModelRow, b: ModelRow) -> bool:
    if a.get("bhxh_number") and a.get("bhxh_number") == b.get("bhxh_number"):
        return True
    found = national_id_evidence(a, b)
    return found is not None and found.verdict in ("consistent", "corroborated")


def _model_doubt(record: ModelRow, best: Candidate, records: Sequence[Candidate]) -> Rule | None:
    """Why an auto-band person must not be linked on the model's word alone, or None.

    - another of the person's scored records contradicts the incoming one (``model_contradicted``);
    - both records carry a birth time on the same date and the times differ (``model_birth_time_differs``):
      newborn twins, both under their mother's name;
    - both records carry a BHXH number (one lifelong number per person) and they differ beyond a typo, and
      no CCCD agrees (``model_bhxh_differs``): twins under their mother's name, namesakes;
    - the given names differ and no personal identifier agrees (``model_given_name_differs``): twins and
      siblings share a household's phone, address, family name and often the birth date, which together
      outweigh one disagreeing field in the model; a steward decides.
    """
    if any(contradicts(record, c.features, c.match_probability) for c in records):
        return Rule.MODEL_CONTRADICTED
    if any(_born_together(record, c.features) is False for c in records):
        return Rule.MODEL_BIRTH_TIME_DIFFERS
    if _bhxh_differs(record, best.features) and not _same_identifier(record, best.features):
        return Rule.MODEL_BHXH_DIFFERS
    if given_names_differ(record, best.features) and not _same_identifier(record, best.features):
        return Rule.MODEL_GIVEN_NAME_DIFFERS
    return None
