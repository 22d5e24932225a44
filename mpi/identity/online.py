"""The online path: link each encounter to a person inside its ingest transaction, in milliseconds.

For a new source record: normalise the XML1 demographics (``linkage.normalise_record``), fetch candidate
records through indexed blocking keys (the model's own blocking rules, plus the facility's patient code
and earlier versions of the same encounter), score them in process with the trained model
(``linkage.Scorer``, parity-tested against Splink), apply the policy (:mod:`mpi.identity.matching`) and
write the decision (:mod:`mpi.identity.links`). Plugs into ingest as its ``EncounterLinker``.

Never logs a name, an identifier or a phone number: only ids, rules and probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Select, and_, bindparam, select, union

from linkage import CanonicalRecord, Scorer, load_model, model_row, normalise_record, probability_from_weight
from mpi.identity import links as L
from mpi.identity.matching import Candidate, Decision, Thresholds, decide
from mpi.identity.tf import TermFrequencies
from mpi.settings import Settings
from mpi.store.models import Encounter
from mpi.xml130 import ParsedEncounter

_encounters = Encounter.__table__  # type: ignore[attr-defined]
SYSTEM: Final = "system"

# Blocking keys, as (columns) of source_record; each has an index (mpi.identity.models).
# (columns, at most this many records): the caps bound the work for very common values — a given name
# in a big commune, a shared household phone, a placeholder ID — and so the p95 latency.
BLOCKING_KEY_CAPS: Final[tuple[tuple[tuple[str, ...], int], ...]] = (
    (("given_key", "dob_date"), 100),
    (("family_key", "given_key", "dob_year"), 100),
    (("family_key", "dob_date"), 100),
    (("national_id",), 50),
    (("bhxh_number",), 50),
    (("phone",), 30),
    (("given_key", "commune_code"), 30),
)
BLOCKING_KEYS: Final = tuple(key for key, _ in BLOCKING_KEY_CAPS)
CANDIDATES_PER_KEY: Final = max(cap for _, cap in BLOCKING_KEY_CAPS)
_IDENTITY_FIELDS: Final = (
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
    "MA_BN",
)


_KEY_COLUMNS: Final = (*sorted({c for key in BLOCKING_KEYS for c in key}), "facility_code", "patient_code", "ma_lk")


def _candidate_query() -> Select[Any]:
    """One statement, compiled once: a UNION of indexed look-ups, one per blocking key.

    A key whose value is missing is bound to NULL, and ``column = NULL`` matches nothing, so the same
    statement serves every record. Each look-up is capped (:data:`BLOCKING_KEY_CAPS`).
    """
    s = L.sources
    branches = [
        select(s.c.id).where(and_(*(s.c[c] == bindparam(f"k_{c}") for c in key))).limit(cap)
        for key, cap in BLOCKING_KEY_CAPS
    ]
    same_facility = s.c.facility_code == bindparam("k_facility_code")
    branches.append(select(s.c.id).where(same_facility, s.c.patient_code == bindparam("k_patient_code")))
    branches.append(select(s.c.id).where(same_facility, s.c.ma_lk == bindparam("k_ma_lk")))
    ids = union(*(branch.subquery().select() for branch in branches)).subquery()
    return select(s.c.id, s.c.person_id, s.c.features, s.c.facility_code, s.c.patient_code, s.c.ma_lk).where(
        s.c.id.in_(select(ids.c.id))
    )


_CANDIDATES: Final = _candidate_query()


def _blocked_persons(conn: Connection, source_record_ids: list[int]) -> set[int]:
    """Persons a steward said an earlier version of this encounter is not (followed through merges)."""
    c = L.constraints
    rows = conn.execute(
        select(c.c.person_id).where(c.c.source_record_id.in_(source_record_ids), c.c.kind == "different_person")
    ).scalars()
    return {L.current_person(conn, int(p)) for p in rows}


def canonical_from_encounter(enc: ParsedEncounter) -> CanonicalRecord:
    summary = enc.summary
    raw: dict[str, str | None] = {name: (summary.text(name) if summary else None) for name in _IDENTITY_FIELDS}
    raw["MA_CSKCB"] = enc.facility_code
    return normalise_record(raw)


def source_values(
    record: CanonicalRecord, *, encounter_id: int, facility_code: str, ma_lk: str, version: int
) -> dict[str, Any]:
    """The ``source_record`` row of one encounter version: blocking keys and the model row."""
    features = model_row(record.to_row())
    return {
        "encounter_id": encounter_id,
        "facility_code": facility_code,
        "ma_lk": ma_lk,
        "version": version,
        "patient_code": record.patient_code,
        "given_key": features.get("given_key"),
        "family_key": features.get("family_key"),
        "dob_date": features.get("dob_date"),
        "dob_year": features.get("dob_year"),
        "national_id": record.national_id,
        "bhxh_number": record.bhxh_number,
        "phone": record.phone,
        "commune_code": record.commune_code,
        "features": features,
    }


class OnlineLinker:
    """The identity step of ingest (an ``EncounterLinker``)."""

    def __init__(self, *, scorer: Scorer, model_id: str, thresholds: Thresholds) -> None:
        self.scorer = scorer
        self.model_id = model_id
        self.thresholds = thresholds
        self.tf = TermFrequencies(scorer.tf_columns)

    @classmethod
    def from_settings(cls, settings: Settings) -> OnlineLinker:
        trained = load_model(Path(settings.model_path) if settings.model_path else None)
        return cls(
            scorer=Scorer(trained.model),
            model_id=trained.model_id,
            thresholds=Thresholds(auto=settings.link_auto_probability, review=settings.link_review_probability),
        )

    def warm(self, engine: Engine) -> None:
        self.tf.ensure_fresh(engine)

    def __call__(self, *, connection: Connection, encounter_id: int, encounter: ParsedEncounter) -> dict[str, Any]:
        version = int(
            connection.execute(select(_encounters.c.version).where(_encounters.c.id == encounter_id)).scalar_one()
        )
        assert encounter.facility_code is not None and encounter.ma_lk is not None
        return self.link_record(
            connection,
            record=canonical_from_encounter(encounter),
            encounter_id=encounter_id,
            facility_code=encounter.facility_code,
            ma_lk=encounter.ma_lk,
            version=version,
        )

    def link_record(
        self,
        conn: Connection,
        *,
        record: CanonicalRecord,
        encounter_id: int,
        facility_code: str,
        ma_lk: str,
        version: int,
    ) -> dict[str, Any]:
        """Link one stored encounter version's demographics to a person; returns the decision's facts."""
        self.tf.ensure_fresh(conn)
        values = source_values(
            record, encounter_id=encounter_id, facility_code=facility_code, ma_lk=ma_lk, version=version
        )
        features = values["features"]
        candidates = self._candidates(conn, values)
        scorer = self.scorer.with_tf_tables(self.tf.tables_for([features, *(c.features for c in candidates)]))
        for c in candidates:
            c.match_weight = scorer.match_weight(features, c.features)
            c.match_probability = probability_from_weight(c.match_weight)
        national_id_valid = record.national_id_kind == "CCCD" and not record.national_id_issues
        decision = decide(features, candidates, self.thresholds, national_id_valid=national_id_valid)
        return self._apply(conn, values, decision)

    def _candidates(self, conn: Connection, values: dict[str, Any]) -> list[Candidate]:
        params = {f"k_{column}": values.get(column) for column in _KEY_COLUMNS}
        rows = conn.execute(_CANDIDATES, params).all()
        previous = [r for r in rows if r.facility_code == values["facility_code"] and r.ma_lk == values["ma_lk"]]
        blocked = _blocked_persons(conn, [int(r.id) for r in previous]) if previous else set()
        out: list[Candidate] = []
        for row in rows:
            person_id = int(row.person_id)
            if person_id in blocked:
                continue
            same_facility = row.facility_code == values["facility_code"]
            out.append(
                Candidate(
                    source_record_id=int(row.id),
                    person_id=person_id,
                    features=row.features,
                    same_patient_code=same_facility
                    and values.get("patient_code") is not None
                    and row.patient_code == values["patient_code"],
                    previous_version=same_facility and row.ma_lk == values["ma_lk"],
                )
            )
        return out

    def _apply(self, conn: Connection, values: dict[str, Any], decision: Decision) -> dict[str, Any]:
        if decision.action == "link":
            assert decision.person_id is not None
            person_id, state = decision.person_id, "auto"
        else:
            person_id, state = L.create_person(conn, actor=SYSTEM), "auto" if decision.action == "new" else "review"
        source_id = L.add_source_record(conn, values=values, person_id=person_id, state=state)
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
        )
        review_id = None
        if decision.action == "review":
            assert decision.person_id is not None
            review_id = L.open_review(
                conn,
                source_record_id=source_id,
                candidate_person_id=decision.person_id,
                reason=decision.rule,
                actor=SYSTEM,
                match_weight=decision.match_weight,
                match_probability=decision.match_probability,
                model_id=self.model_id,
            )
        self.tf.add(conn, values["features"])
        return {
            "person_id": person_id,
            "source_record_id": source_id,
            "link_state": state,
            "rule": decision.rule,
            "match_probability": decision.match_probability,
            "review_id": review_id,
        }
