"""Runtime settings, read from the environment (prefix ``MPI_``) or a ``.env`` file.

The class fails closed: outside development it refuses the built-in development secret, so a
deployment cannot run with a key that is published in this repository.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-do-not-deploy"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Every knob of the hub. Sizes are bytes."""

    model_config = SettingsConfigDict(env_prefix="MPI_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path('data') / 'mpi.sqlite3'}")
    secret_key: str = DEVELOPMENT_SECRET
    """Pepper for API-key hashes. Changing it invalidates every issued key."""

    max_file_bytes: int = 50 * 1024 * 1024
    """Largest GIAMDINHHS file accepted (the raw envelope, before any base64 decoding)."""
    max_table_bytes: int = 10 * 1024 * 1024
    """Largest decoded inner table (one NOIDUNGFILE)."""
    max_hoso_per_file: int = 10_000
    max_body_bytes: int = 1024 * 1024
    """Largest request body of any route but submissions (JSON, forms); refused with 413 before parsing."""
    body_idle_seconds: float = 20.0
    """A client that sends nothing of its request body for this long is answered 408."""
    body_total_seconds: float = 300.0
    """A request body not complete after this long is answered 408, however it trickles."""
    db_pool_size: int = 24
    """Database connections per server process, and as many request threads: a request holds at most one,
    so requests queue for a thread, never for a connection. ``mpi serve --workers N`` divides
    ``db_max_connections`` between its workers instead."""
    read_rate_per_minute: int = 120
    """Searches and person reads one API key may make per minute (per server process); beyond: 429."""
    read_burst: int = 60
    """Reads a key may make at once before the per-minute rate applies."""
    read_alert_per_hour: int = 1000
    """Reads by one key within an hour above which the audit gets an ``alert.read_volume`` event."""
    db_max_connections: int = 72
    """Connections all workers of ``mpi serve`` may open together (keep under PostgreSQL's max_connections)."""
    intake_processes: int = Field(default=1, ge=0, le=1)
    """Per server process, the process that parses and stores received files at a lower CPU priority than
    the server (``api.intake``); 0 does that work in a thread of the server process."""
    audit_write_behind: bool = True
    """Whether a read's audit event is written after its answer left, in a batch (a read never waits for the
    write lock; a killed process loses its last few milliseconds of events), or before (``false``: every
    answered read has its event committed). See ``mpi.audit.writer``. The same goes for the last use an API key
    records (once a minute): beside the request, or before its answer."""
    total_tolerance_vnd: str = "1.00"
    """Largest difference between a declared total and the sum of its lines that is still rounding."""

    access_report_staff: bool = False
    """Whether the patient access report names who read (the reading key's label); by default it shows the
    facility, role, purpose and time only."""
    signature_policy: Literal["warn", "reject"] = "warn"
    """What an ``invalid`` CHUKYDONVI signature means: ``warn`` stores the file with a warning, ``reject``
    refuses it (no encounter stored). Unsigned files and facilities without a registered certificate are
    recorded as such, never refused."""

    link_auto_probability: float = 0.99
    """Match probability at or above which a record is linked to a person without review."""
    link_review_probability: float = 0.30
    """Match probability at or above which (and below the auto threshold) a steward reviews the pair."""
    model_path: str | None = None
    """The linkage model JSON; ``None`` means the model shipped in ``linkage/models``."""

    sensitive_categories: str = "hiv,tb,mental_health,reproductive_health"
    """Categories of sensitive data withheld by default (``mpi.records.sensitivity``), comma-separated;
    checked when the API starts."""
    break_glass_purposes: str = "ETREAT"
    """Purposes of use that may reveal withheld data with a typed reason."""
    sensitive_grants: str = ""
    """Facilities whose clinicians may reveal categories with a typed reason: ``74050:hiv,tb;74051:tb``."""

    @model_validator(mode="after")
    def _fail_closed(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                f"MPI_SECRET_KEY must be set outside development (MPI_ENV={self.env}): the default is public"
            )
        if len(self.secret_key) < 16:
            raise ValueError("MPI_SECRET_KEY must be at least 16 characters")
        if not 0 < self.link_review_probability < self.link_auto_probability <= 1:
            raise ValueError("need 0 < MPI_LINK_REVIEW_PROBABILITY < MPI_LINK_AUTO_PROBABILITY <= 1")
        if self.max_table_bytes > self.max_file_bytes:
            raise ValueError("MPI_MAX_TABLE_BYTES cannot exceed MPI_MAX_FILE_BYTES")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
