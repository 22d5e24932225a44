"""The online path: link each encounter to a person inside its ingest transaction, in milliseconds.

For a new source record: normalise the XML1 demographics (``linkage.normalise_record``), fetch candidate
records through indexed blocking keys (the model's own blocking rules, plus the facility's patient code
and earlier versions of the same encounter), score them in process with the trained model
(``linkage.Scorer``, parity-tested against Splink) — all three through the shared
:class:`mpi.identity.matching.Matcher` —, apply the policy (:mod:`mpi.identity.policy`) and write the
decision (:mod:`mpi.identity.links`), with its evidence on the link and, for a review item, the comparison
levels and weights that left the machine unsure; a delivery's birth certificates (XML9) are stored by
:mod:`mpi.identity.births` and read back for newborns' records. Plugs into ingest as its ``EncounterLinker``.

Never logs a name, an identifier or a phone number: only ids, rules and probabilities.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, Engine

from linkage import IDENTITY_ELEMENTS, CanonicalRecord, Scorer, model_row, normalise_record, probability_from_weight
from linkage.model import ModelRow
from mpi.identity import births
from mpi.identity import links as L
from mpi.identity.matching import CandidateRow, Matcher
from mpi.identity.models import LinkState, SourceValues
from mpi.identity.policy import Action, Candidate, Decision, Thresholds, decide, decide_by_national_id, usable_cccd
from mpi.identity.tf import TermFrequencies
from mpi.settings import Settings
from mpi.store import ahead
from mpi.xml130 import ParsedEncounter

SYSTEM: Final = "system"


# source_record columns filled from the model row (blocking keys; each has an index, mpi.identity.models).
def canonical_raw(enc: ParsedEncounter) -> dict[str, str | None]:
    """The XML1 identity fields of an encounter as sent (what :func:`canonical_from_encounter` normalises)."""
    summary = enc.summary
    raw: dict[str, str | None] = {name: (summary.text(name) if summary else None) for name in IDENTITY_ELEMENTS}
    raw["MA_CSKCB"] = enc.facility_code
    return raw


def canonical_from_encounter(enc: ParsedEncounter) -> CanonicalRecord:
    return normalise_record(canonical_raw(enc))


_DERIVED: Final = "mpi.identity.online"


def prepare(enc: ParsedEncounter) -> None:
    """Normalise an encounter's demographics and build its model row ahead of linking, e.g. in a parsing
    worker of ``mpi ingest`` (kept in ``enc.derived``): the one process that stores then only searches,
    scores and writes. A module-level function, so worker processes can be handed it."""
    record = canonical_from_encounter(enc)
    enc.derived[_DERIVED] = (record, model_row(record.to_row()))


def _prepared(enc: ParsedEncounter) -> tuple[CanonicalRecord, ModelRow]:
    found = enc.derived.get(_DERIVED)
    if found is None:
        record = canonical_from_encounter(enc)
        return record, model_row(record.to_row())
    return found  # type: ignore[no-any-return]


def source_values(
    record: CanonicalRecord,
    *,
    encounter_id: int,
    facility_code: str,
    ma_lk: str,
    version: int,
    features: ModelRow | None = None,
) -> SourceValues:
    """The ``source_record`` row of one encounter version: blocking keys and the model row (``features``,
    built from ``record`` unless given)."""
    if features is None:
        features = model_row(record.to_row())
    return SourceValues(
        encounter_id=encounter_id,
        facility_code=facility_code,
        ma_lk=ma_lk,
        version=version,
        patient_code=record.patient_code,
        given_key=features.get("given_key"),
        family_key=features.get("family_key"),
        name_sorted=features.get("name_sorted"),
        dob_date=features.get("dob_date"),
        dob_year=features.get("dob_year"),
        national_id=features.get("national_id"),
        bhxh_number=features.get("bhxh_number"),
        phone=features.get("phone"),
        commune_code=features.get("commune_code"),
        features=features,
    )


class OnlineLinker:
    """The identity step of ingest (an ``EncounterLinker``): the shared :class:`Matcher` plus the policy."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    @classmethod
    def from_settings(cls, settings: Settings) -> OnlineLinker:
        return cls(Matcher.from_settings(settings))

    @property
    def model_id(self) -> str:
        return self.matcher.model_id

    @property
    def thresholds(self) -> Thresholds:
        return self.matcher.thresholds

    @property
    def tf(self) -> TermFrequencies:
        return self.matcher.tf

    @property
    def scorer(self) -> Scorer:
        return self.matcher.scorer

    def warm(self, engine: Engine) -> None:
        self.matcher.tf.ensure_fresh(engine)

    def __call__(
        self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter, version: int
    ) -> dict[str, Any]:
        assert encounter.facility_code is not None and encounter.ma_lk is not None
        record, features = _prepared(encounter)
        result = self.link_record(
            connection,
            record=record,
            encounter_id=encounter_id,
            facility_code=encounter.facility_code,
            ma_lk=encounter.ma_lk,
            version=version,
            features=features,
        )
        if "XML9" in encounter.tables:  # a delivery: the certificate names the mother (this record) and child
            births.register(
                connection,
                encounter_id=encounter_id,
                encounter=encounter,
                mother_source_record_id=result["source_record_id"],
            )
        return result

    def link_record(
        self,
        conn: Connection,
        *,
        record: CanonicalRecord,
        encounter_id: int,
        facility_code: str,
        ma_lk: str,
        version: int,
        features: ModelRow | None = None,
    ) -> dict[str, Any]:
        """Link one stored encounter version's demographics to a person; returns the decision's facts.
        ``features``: the record's model row when already built (:func:`prepare`).

        The transaction's feed events are written when it commits (:func:`mpi.identity.links.defer_events`).
        """
        L.defer_events(conn)
        values = source_values(
            record,
            encounter_id=encounter_id,
            facility_code=facility_code,
            ma_lk=ma_lk,
            version=version,
            features=features,
        )
        features = values["features"]
        keys = self.matcher.search_keys(
            values, facility_code=facility_code, patient_code=record.patient_code, ma_lk=ma_lk
        )
        held = ahead.pending(conn)
        if held is not None and held.may_find(keys):  # a record of this transaction not written yet
            held.flush(conn, only=L.sources)
        # An equal CCCD that agrees decides before anything else does, from the records of that number alone:
        # ask that first, and search, score and weigh the whole candidate set only when it does not decide.
        linked = None
        if usable_cccd(features) is not None:
            rows = self.matcher.national_id_candidates(conn, values, facility_code=facility_code, ma_lk=ma_lk)
            if rows is not None:
                candidates, blocked = self._candidates(conn, record, features, rows, facility_code, ma_lk)
                linked = decide_by_national_id(features, candidates, blocked=blocked)
        if linked is not None:
            return self._apply(conn, values, linked, {c.source_record_id: c for c in candidates}, keys)
        rows = self.matcher.candidates(
            conn, values, facility_code=facility_code, patient_code=record.patient_code, ma_lk=ma_lk
        )
        candidates, blocked = self._candidates(conn, record, features, rows, facility_code, ma_lk)
        certificates = births.for_record(conn, features)
        decision = decide(features, candidates, self.thresholds, blocked=blocked, births=certificates)
        result = self._apply(conn, values, decision, {c.source_record_id: c for c in candidates}, keys)
        certificate = decision.evidence.get("birth_certificate_id")
        known = {b.certificate_id for b in certificates if b.child_person_id is not None}
        if certificate is not None and certificate not in known:
            births.set_child(conn, certificate_id=certificate, person_id=result["person_id"])  # the child's first
        return result

    def _candidates(
        self,
        conn: Connection,
        record: CanonicalRecord,
        features: ModelRow,
        rows: list[CandidateRow],
        facility_code: str,
        ma_lk: str,
    ) -> tuple[list[Candidate], set[int]]:
        """The rows scored as the policy's candidates, and the persons a steward said the record is not
        (blocked on an earlier version of the same encounter)."""
        previous = [int(r.id) for r in rows if r.facility_code == facility_code and r.ma_lk == ma_lk]
        blocked = L.blocked_persons(conn, previous) if previous else set()
        patient_code = record.patient_code
        candidates = []
        weights = self.matcher.weights(conn, features, rows)
        # positional arguments, the ids as the driver returns them (integers): a big block has ~200 candidates
        for (row_id, person_id, _, row_features, row_facility, row_patient_code, row_ma_lk), weight in zip(
            rows, weights, strict=True
        ):
            same_facility = row_facility == facility_code
            candidates.append(
                Candidate(
                    row_id,
                    person_id,
                    row_features,
                    same_facility and patient_code is not None and row_patient_code == patient_code,
                    same_facility and row_ma_lk == ma_lk,
                    weight,
                    probability_from_weight(weight),
                )
            )
        return candidates, blocked

    def _apply(
        self,
        conn: Connection,
        values: SourceValues,
        decision: Decision,
        by_id: dict[int, Candidate],
        search_keys: frozenset[tuple[Any, ...]],
    ) -> dict[str, Any]:
        held = ahead.pending(conn)
        if held is not None:  # the ids of the rows below, read in one statement
            tables = (L.sources, L.links) if decision.action is Action.LINK else (L.persons, L.sources, L.links)
            held.reserve(conn, tables)
        if decision.action is Action.LINK:
            assert decision.person_id is not None
            person_id, state = decision.person_id, LinkState.AUTO
        else:
            person_id = L.create_person(conn, actor=SYSTEM)
            state = LinkState.AUTO if decision.action is Action.NEW else LinkState.REVIEW
        source_id = L.add_source_record(conn, values=values, person_id=person_id, state=state, search_keys=search_keys)
        L.link(
            conn,
            source_record_id=source_id,
            person_id=person_id,
            state=state,
            rule=decision.rule,
            actor=SYSTEM,
            match_weight=decision.match_weight,
            match_probability=decision.match_probability,
            model_id=self.model_id if decision.match_weight is not None else None,
            evidence=decision.evidence or None,
            added=True,
        )
        review_id = None
        if decision.action is Action.REVIEW:
            assert decision.person_id is not None and decision.source_record_id is not None
            other = by_id[decision.source_record_id]
            review_id = L.open_review(
                conn,
                source_record_id=source_id,
                candidate_person_id=decision.person_id,
                reason=decision.rule,
                actor=SYSTEM,
                match_weight=decision.match_weight,
                match_probability=decision.match_probability,
                model_id=self.model_id,
                evidence={
                    **decision.evidence,
                    "other_source_record_id": other.source_record_id,
                    "comparisons": self.matcher.explain(conn, values["features"], other.features),
                },
            )
        self.matcher.tf.add(conn, values["features"])
        return {
            "person_id": person_id,
            "source_record_id": source_id,
            "link_state": state,
            "rule": decision.rule,
            "match_probability": decision.match_probability,
            "review_id": review_id,
        }
