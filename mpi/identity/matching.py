"""The matching policy (design.md): national ID first, then the facility's own patient code, then the model.

Pure decision logic over already-scored candidates; no database access. The order of evidence:
1. A valid CCCD equal on both sides with consistent demographics links. Equal CCCD with conflicting
   demographics (a typo, or a parent's number on a child's record) goes to review, never a silent link.
2. The same facility and patient code (MA_BN), or an earlier version of the same encounter, is strong
   evidence, not proof: it links when the model does not contradict it (probability at least the review
   threshold), and goes to review when it does.
3. Otherwise the model's probability: at least ``auto`` links, at least ``review`` opens a review,
   below that the record starts a new person.
A person a steward said is not this record's person is never a candidate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import JaroWinkler


@dataclass(frozen=True, slots=True)
class Thresholds:
    auto: float
    review: float


@dataclass(slots=True)
class Candidate:
    source_record_id: int
    person_id: int
    features: Mapping[str, Any]
    same_patient_code: bool = False
    previous_version: bool = False
    match_weight: float = 0.0
    match_probability: float = 0.0


@dataclass(slots=True)
class Decision:
    action: str
    """``link`` (to ``person_id``), ``review`` (new person + review item against ``person_id``) or ``new``."""
    rule: str
    person_id: int | None = None
    match_weight: float | None = None
    match_probability: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def demographics_consistent(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same person plausible on sex, birth year and given name (typos allowed)."""
    if a.get("sex") in (1, 2) and b.get("sex") in (1, 2) and a.get("sex") != b.get("sex"):
        return False
    if a.get("dob_year") is not None and b.get("dob_year") is not None and a.get("dob_year") != b.get("dob_year"):
        return False
    ga, gb = a.get("given_key"), b.get("given_key")
    return not (ga and gb and ga != gb and JaroWinkler.similarity(str(ga), str(gb)) < 0.88)


def _best_by_person(candidates: Iterable[Candidate]) -> dict[int, Candidate]:
    best: dict[int, Candidate] = {}
    for c in candidates:
        if c.person_id not in best or c.match_weight > best[c.person_id].match_weight:
            best[c.person_id] = c
    return best


def decide(
    record: Mapping[str, Any],
    candidates: list[Candidate],
    thresholds: Thresholds,
    *,
    national_id_valid: bool,
) -> Decision:
    """Choose what to do with a new source record given its scored candidates (blocked ones removed)."""
    if not candidates:
        return Decision("new", "new_person")
    by_person = _best_by_person(candidates)

    national_id = record.get("national_id")
    if national_id_valid and national_id:
        same_id = [c for c in candidates if c.features.get("national_id") == national_id]
        if same_id:
            consistent = [c for c in same_id if demographics_consistent(record, c.features)]
            if consistent:
                chosen = max(consistent, key=lambda c: c.match_weight)
                return Decision("link", "national_id", chosen.person_id, chosen.match_weight, chosen.match_probability)
            chosen = max(same_id, key=lambda c: c.match_weight)
            return Decision(
                "review", "national_id_conflict", chosen.person_id, chosen.match_weight, chosen.match_probability
            )

    strong = [c for c in candidates if c.same_patient_code or c.previous_version]
    if strong:
        chosen = max(strong, key=lambda c: c.match_weight)
        rule = "previous_version" if chosen.previous_version else "facility_patient_code"
        if chosen.match_probability >= thresholds.review:
            return Decision("link", rule, chosen.person_id, chosen.match_weight, chosen.match_probability)
        return Decision("review", f"{rule}_conflict", chosen.person_id, chosen.match_weight, chosen.match_probability)

    best = max(by_person.values(), key=lambda c: c.match_weight)
    if best.match_probability >= thresholds.auto:
        return Decision("link", "model", best.person_id, best.match_weight, best.match_probability)
    if best.match_probability >= thresholds.review:
        return Decision("review", "model_band", best.person_id, best.match_weight, best.match_probability)
    return Decision("new", "new_person", None, best.match_weight, best.match_probability)
