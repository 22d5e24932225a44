"""All tables of the store in one metadata: what migrations and schema checks compare against."""

from sqlmodel import SQLModel

import mpi.audit.models
import mpi.identity.models
import mpi.store.content
import mpi.store.models  # noqa: F401 - imported for their tables

metadata = SQLModel.metadata
