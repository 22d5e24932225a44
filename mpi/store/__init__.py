"""The store: SQLModel entities, the generated XML-content tables, engine and sessions."""

from sqlmodel import SQLModel

from mpi.store.content import content_tables
from mpi.store.db import create_db_engine, open_store, session_scope
from mpi.store.models import ApiKey, Encounter, Facility, Submission, ValidationIssue

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "Encounter",
    "Facility",
    "Submission",
    "ValidationIssue",
    "content_tables",
    "create_db_engine",
    "metadata",
    "open_store",
    "session_scope",
]
