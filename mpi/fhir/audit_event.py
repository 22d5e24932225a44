"""``AuditEvent`` resources for a patient's access report, shaped after IHE Basic Audit Log Patterns (BALP):
one RESTful read of patient data per event, the reading organisation as requestor with its role and
purpose of use, the hub as observer, the Patient as entity."""

from __future__ import annotations

from datetime import UTC

from fhir.resources.R4B.auditevent import AuditEvent

from mpi.audit.access import Access
from mpi.fhir import identifiers as sid

AUDIT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
BREAK_GLASS = "BTG"

_OUTCOMES = {"ok": "0", "not_found": "4", "invalid": "4", "conflict": "4", "denied": "4", "error": "8"}
_SEARCHES = {"search", "referrals", "appointments", "fhir.search", "fhir.match", "fhir.pix", "review_queue"}


def to_audit_event(access: Access, *, patient_id: int) -> AuditEvent:
    searched = access.action in _SEARCHES
    agent: dict[str, object] = {
        "type": {"coding": [{"system": DICOM_DCM, "code": "110153", "display": "Source Role ID"}]},
        "role": [{"text": access.role}],
        "requestor": True,
    }
    if access.facility_code:
        agent["who"] = {"identifier": {"system": sid.FACILITY, "value": access.facility_code}}
    else:
        agent["who"] = {"display": access.role}
    purposes = [{"system": PURPOSE_OF_USE, "code": access.purpose}] if access.purpose else []
    if access.action == "break_glass":
        purposes.append({"system": PURPOSE_OF_USE, "code": BREAK_GLASS, "display": "break the glass"})
    if purposes:
        agent["purposeOfUse"] = [{"coding": [p]} for p in purposes]
    recorded = access.occurred_at if access.occurred_at.tzinfo else access.occurred_at.replace(tzinfo=UTC)
    event = {
        "resourceType": "AuditEvent",
        "id": str(access.id),
        "type": {"system": AUDIT_TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [
            {"system": RESTFUL_INTERACTION, "code": "search-type" if searched else "read"},
            {"display": access.action},
        ],
        "action": "E" if searched else "R",
        "recorded": recorded.isoformat(),
        "outcome": _OUTCOMES.get(access.outcome, "8"),
        "agent": [agent],
        "source": {"observer": {"display": "provincial health-data hub (MPI)"}},
        "entity": [
            {
                "what": {"reference": f"Patient/{patient_id}"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        ],
    }
    return AuditEvent.model_validate(event)
