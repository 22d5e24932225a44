"""The longitudinal record: find a person, assemble their history across facilities, referrals, appointments.

Read-only services with keyword-only arguments over a SQLAlchemy ``Connection`` (the caller owns the
transaction, so the read and its audit event commit together). Results are plain dataclasses holding
typed values (dates with their precision, exact decimals, codes as sent): the REST layer, the clinician
page and a future FHIR layer each map them to what they disclose. Never logs a value of a record.
"""

from mpi.identity.links import ResolvedPerson, resolve_person
from mpi.records.appointments import Appointment, upcoming_appointments
from mpi.records.detail import EncounterDetail, encounter_detail
from mpi.records.lookup import (
    Candidate,
    DemographicQuery,
    QueryInvalid,
    SearchResult,
    find_persons,
    search_demographics,
    search_identifier,
)
from mpi.records.referrals import Referral, incoming_referrals
from mpi.records.summary import PersonSummary, person_summary
from mpi.records.timeline import TimelineEntry, TimelinePage, person_timeline

__all__ = [
    "Appointment",
    "Candidate",
    "DemographicQuery",
    "EncounterDetail",
    "PersonSummary",
    "QueryInvalid",
    "Referral",
    "ResolvedPerson",
    "SearchResult",
    "TimelineEntry",
    "TimelinePage",
    "encounter_detail",
    "find_persons",
    "incoming_referrals",
    "person_summary",
    "person_timeline",
    "resolve_person",
    "search_demographics",
    "search_identifier",
    "upcoming_appointments",
]
