"""The one audited-read path of the API: purposes of use declared per route, and a read context that writes
exactly one audit event per read — also when the read is refused.

A route that discloses patient data declares what it reads and who may read it for which purposes::

    Read = Annotated[AuditedRead, Depends(audited_read("summary", CLINICAL))]

    @router.get("/{person_id}")
    def summary(person_id: int, read: Read) -> ...:
        with read.transaction() as tx:
            s = person_summary(conn=tx.conn, person_id=person_id)
            tx.disclosed(person_id=s.person.person_id, record_ids=s.encounter_ids)

The dependency checks the caller's role and the ``X-Purpose-Of-Use`` header against the route's table; a
refusal is audited (outcome ``denied``) before the 403 goes out. The resource written to the audit is the
route's own method and path template (``GET /api/v1/persons/{person_id}``), never a value from the request.
``transaction()`` is a read-only transaction (on SQLite it never queues for the write lock); the events it
records go to the process's audit writer (:mod:`mpi.audit.writer`) once the read succeeded, so every
disclosure has its event and a read that fails leaves none. An error raised there (not found, refused by
the sensitivity policy, invalid query) is audited on its own with its outcome. A read that returns without
calling ``disclosed`` is a programming error and fails loudly.

A read that changes the store (a steward's decision, merge, move, undo) opens ``transaction(writes=True)``:
its event is written in that transaction, so the change and its event commit together.

The web pages use the same :class:`AuditedRead` through :func:`open_read` (they authenticate by cookie and
take the purpose from a form, or a fixed one, not a header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from api.deps import BearerDep, _engine, authenticate
from api.principal import Principal
from api.ratelimit import throttle
from mpi.audit.log import Reader, audit_row, record_rows
from mpi.audit.writer import writer_for
from mpi.errors import MPIError, PermissionDenied
from mpi.identity.links import ResolvedPerson, resolve_person
from mpi.keys import Role
from mpi.records.person import read_current_encounters
from mpi.records.sensitivity import (
    BreakGlass,
    Decision,
    Disclosure,
    Segmentation,
    Segmented,
    SensitivityPolicy,
    Viewer,
)
from mpi.store.db import read_only

PURPOSE_HEADER: Final = "X-Purpose-Of-Use"
BREAK_GLASS_HEADER: Final = "X-Break-Glass-Reason"
"""The typed reason of a break-glass read, percent-encoded UTF-8 (headers are Latin-1)."""
BREAK_GLASS_ACTION: Final = "break_glass"
DEFAULT_POLICY: Final = SensitivityPolicy()

CLINICAL_PURPOSES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "TREAT": "treatment",
        "ETREAT": "emergency treatment",
        "COC": "coordination of care (referral)",
        "CAREMGT": "care management",
        "PATRQT": "patient requested",
    }
)
"""HL7 v3 PurposeOfUse codes a clinician's read of a patient record may claim. Others (payment, research,
public health...) are not purposes of a clinical read."""

STEWARD_PURPOSES: Final[Mapping[str, str]] = MappingProxyType({"HOPERAT": "healthcare operations (data stewardship)"})
"""What a data steward's read of candidate records is for."""

ADMIN_PURPOSES: Final[Mapping[str, str]] = MappingProxyType(
    {"HOPERAT": "healthcare operations", "PATADMIN": "patient administration", "PATRQT": "patient requested"}
)
"""What an administrator's read of the audit trail of a person is for (the patient-access report)."""

NO_PURPOSE: Final[Mapping[str, str]] = MappingProxyType({})
"""For a role that reads a route without a purpose of use: the route discloses ids only, no patient data
(the identity change feed); the event is written with no purpose."""

Purposes = Mapping[Role, Mapping[str, str]]
"""Per role allowed on a route, the purposes of use that role may claim there (:data:`NO_PURPOSE`: none)."""

CLINICAL: Final[Purposes] = MappingProxyType({Role.CLINICIAN: CLINICAL_PURPOSES})
STEWARD: Final[Purposes] = MappingProxyType({Role.STEWARD: STEWARD_PURPOSES})
CLINICAL_OR_STEWARD: Final[Purposes] = MappingProxyType(
    {Role.CLINICIAN: CLINICAL_PURPOSES, Role.STEWARD: STEWARD_PURPOSES}
)
ADMIN: Final[Purposes] = MappingProxyType({Role.ADMIN: ADMIN_PURPOSES})
FEED: Final[Purposes] = MappingProxyType(
    {Role.SUBSCRIBER: NO_PURPOSE, Role.STEWARD: NO_PURPOSE, Role.ADMIN: NO_PURPOSE}
)

_OUTCOMES: Final[dict[int, str]] = {400: "invalid", 403: "denied", 404: "not_found", 409: "conflict", 422: "invalid"}


def reader_of(principal: Principal, purpose: str | None) -> Reader:
    return Reader(
        actor=principal.submitter_tag, role=principal.role.value, facility_code=principal.facility_code,
        purpose=purpose, granted=principal.grants,
    )  # fmt: skip


def check_purpose(principal: Principal, purposes: Purposes, claimed: str) -> str | None:
    """The purpose code the caller may claim here (None where the role reads without one), or
    :class:`PermissionDenied` saying what is allowed."""
    allowed = purposes.get(principal.role)
    if allowed is None:
        roles = ", ".join(r.value for r in purposes)
        raise PermissionDenied(f"this needs one of the roles: {roles}", code="role_forbidden")
    if allowed is NO_PURPOSE:
        return None
    value = claimed.strip().upper()
    codes = ", ".join(allowed)
    if not value:
        raise PermissionDenied(
            f"reading patient data needs a purpose of use: send the header {PURPOSE_HEADER} with one of {codes} "
            "(HL7 PurposeOfUse)",
            code="purpose_required",
        )
    if value not in allowed:
        raise PermissionDenied(
            f"{PURPOSE_HEADER} must be one of {codes} here (HL7 PurposeOfUse)", code="purpose_invalid"
        )
    return value


@dataclass(frozen=True, slots=True)
class PersonRead:
    """A person as one read sees them (:meth:`ReadTransaction.person`)."""

    person: ResolvedPerson
    segmented: Segmented
    """What this reader sees of each encounter."""
    encounters: Sequence[Any]
    """Every current encounter version of the cluster with its XML1 row
    (:func:`mpi.records.person.current_encounters`), withheld ones included."""


@dataclass(slots=True)
class ReadTransaction:
    """The connection of one audited read; ``disclosed`` records its audit event (written once the read
    succeeded)."""

    conn: Connection
    read: AuditedRead
    recorded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The audit rows of this read, handed to the audit writer when the transaction ends without error."""

    def disclosed(
        self,
        *,
        person_id: int | None = None,
        record_ids: Iterable[int] = (),
        details: dict[str, Any] | None = None,
        person_ids: Iterable[int] | None = None,
    ) -> None:
        """Record what this read disclosed. With ``person_ids`` (a search or list), the event names the person
        only when exactly one was disclosed, and lists them all in its details."""
        if self.recorded:
            raise RuntimeError(f"audited read {self.read.action!r} recorded twice")
        merged = {**self.extra, **(details or {})}
        if person_ids is not None:
            ids = list(dict.fromkeys(person_ids))
            merged["person_ids"] = ids
            if person_id is None and len(ids) == 1:
                person_id = ids[0]
        self.events.append(
            audit_row(
                reader=self.read.reader,
                action=self.read.action,
                resource=self.read.resource,
                person_id=person_id,
                record_ids=record_ids,
                details=merged or None,
            )
        )
        self.recorded = True

    def person(self, person_id: int, *, resolved: ResolvedPerson | None = None) -> PersonRead:
        """Resolve a person (``resolved``: done already in this transaction), read the current encounters of
        their cluster and decide, for each, what this reader sees; a break-glass reveal is audited as such,
        in this transaction. What the read then builds (summary, timeline, Patient) takes the person and
        rows from here rather than reading them again."""
        person = resolved or resolve_person(conn=self.conn, person_id=person_id)
        rows = read_current_encounters(self.conn, person.cluster)
        segmented = self.read.segmentation.of_person(self.conn, person, rows)
        self._audit_reveal(person.person_id, segmented.revealed_ids, segmented.revealed_categories)
        return PersonRead(person, segmented, rows)

    def encounter(self, encounter_id: int, person_id: int | None) -> Decision:
        """The decision for one encounter: :class:`mpi.records.sensitivity.Withheld` (403, audited as denied)
        when withheld; a break-glass reveal is audited as such."""
        decision = self.read.segmentation.check(self.conn, encounter_id)
        if decision.disclosure is Disclosure.REVEALED:
            self._audit_reveal(person_id, [encounter_id], sorted(c.value for c in decision.categories))
        return decision

    def _audit_reveal(self, person_id: int | None, encounter_ids: list[int], categories: list[str]) -> None:
        glass = self.read.segmentation.viewer.break_glass
        if not encounter_ids or glass is None:
            return
        self.events.append(
            audit_row(
                reader=self.read.reader,
                action=BREAK_GLASS_ACTION,
                resource=self.read.resource,
                person_id=person_id,
                record_ids=encounter_ids,
                details={"reason": glass.reason, "categories": categories, "read": self.read.action},
            )
        )


@dataclass(frozen=True, slots=True)
class AuditedRead:
    """Who reads, why, through which route and for what action; opens the read's transaction."""

    engine: Engine
    reader: Reader
    action: str
    resource: str
    principal: Principal
    policy: SensitivityPolicy = DEFAULT_POLICY
    break_glass: BreakGlass | None = None

    @property
    def segmentation(self) -> Segmentation:
        viewer = Viewer(
            facility_code=self.reader.facility_code, purpose=self.reader.purpose,
            granted=self.policy.granted_to(self.reader.facility_code, self.reader.granted),
            break_glass=self.break_glass,
        )  # fmt: skip
        return Segmentation(self.policy, viewer)

    @contextmanager
    def transaction(
        self, *, reads_audit: bool = False, writes: bool = False, **details: Any
    ) -> Iterator[ReadTransaction]:
        """A read-only transaction for the read; ``reads_audit``: it reads the audit log, so this process's
        events still waiting in the audit writer are committed first. ``writes``: the read changes the store;
        its events are written in the same transaction and commit with the change (this process's earlier
        events are committed first, so the audit keeps the order the reads were answered in)."""
        writer = writer_for(self.engine)
        if reads_audit or writes:
            writer.flush()
        try:
            with (self.engine if writes else read_only(self.engine)).begin() as conn:
                tx = ReadTransaction(conn=conn, read=self, extra=dict(details))
                yield tx
                if not tx.recorded:
                    raise RuntimeError(f"audited read {self.action!r} returned without recording what it disclosed")
                if writes:
                    record_rows(conn, tx.events)
        except MPIError as exc:
            self.refused(exc, **details)
            raise
        if not writes:
            writer.extend(tx.events)  # after the transaction: a durable writer must not wait inside it

    def refused(self, exc: MPIError, **details: Any) -> None:
        """Audit a read that did not disclose anything."""
        outcome = _OUTCOMES.get(exc.status, "error")
        writer_for(self.engine).append(
            audit_row(
                reader=self.reader,
                action=self.action,
                resource=self.resource,
                outcome=outcome,
                details={"code": exc.code, **details},
            )
        )


def route_resource(request: Request) -> str:
    """``METHOD /path/{template}`` of the matched route: what the audit names, never a request value."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


def open_read(
    *,
    engine: Engine,
    principal: Principal,
    purposes: Purposes,
    claimed: str,
    action: str,
    resource: str,
    policy: SensitivityPolicy | None = None,
    break_glass_reason: str | None = None,
) -> AuditedRead:
    """Check role, purpose and any break-glass reason; a refusal is audited and raised (403 / 422)."""
    kept = claimed.strip().upper()[:16] or None
    try:
        purpose = check_purpose(principal, purposes, claimed)
        glass = BreakGlass.parse(break_glass_reason)
    except MPIError as exc:
        AuditedRead(engine, reader_of(principal, kept), action, resource, principal).refused(exc)
        raise
    return AuditedRead(
        engine, reader_of(principal, purpose), action, resource, principal, policy or DEFAULT_POLICY, glass
    )


def audited_read(action: str, purposes: Purposes, *, limited: bool = True) -> Callable[..., AuditedRead]:
    """The dependency of a route that reads patient data: ``Depends(audited_read("timeline", CLINICAL))``.
    ``limited``: the read spends one of the key's metered reads (:mod:`api.ratelimit`); a steward working
    the queue and a subscriber following the feed are not metered."""

    def dependency(request: Request, _credentials: BearerDep, engine: Engine = Depends(_engine)) -> AuditedRead:
        # authenticates here rather than through a dependency of its own: one worker-thread hop per read, not two
        principal = authenticate(request, engine)
        read = open_read(
            engine=engine, principal=principal, purposes=purposes, claimed=request.headers.get(PURPOSE_HEADER, ""),
            action=action, resource=route_resource(request), policy=request.app.state.sensitivity,
            break_glass_reason=unquote(request.headers.get(BREAK_GLASS_HEADER, "")),
        )  # fmt: skip
        if limited:
            throttle(request, principal, engine, read.resource)  # per-key read limit (429) and volume alert
        return read

    dependency.__name__ = f"audited_read_{action.replace('.', '_')}"
    return dependency
