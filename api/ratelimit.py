"""Per-key read limits: bulk harvesting of identities is the main misuse of a patient index.

Searches and person reads of one API key are metered by a token bucket (``MPI_READ_RATE_PER_MINUTE``,
bursts up to ``MPI_READ_BURST``); beyond it the answer is 429 with ``Retry-After``. A key whose reads in
the last hour pass ``MPI_READ_ALERT_PER_HOUR`` gets one ``alert.read_volume`` audit event per hour, so the
audit shows who read unusually much even below the hard limit. Buckets live in each server process:
with ``--workers N`` a key's ceiling is up to N times the rate (set the rate accordingly).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from api.principal import Principal
from mpi.audit.log import Reader, audit_row
from mpi.audit.writer import writer_for
from mpi.errors import MPIError


class RateLimited(MPIError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


@dataclass
class _Bucket:
    tokens: float
    updated: float
    recent: deque[float] = field(default_factory=deque)
    alerted_at: float = float("-inf")


class ReadLimiter:
    def __init__(self, *, per_minute: int, burst: int, alert_per_hour: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.alert_per_hour = alert_per_hour
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, now: float | None = None) -> int | None:
        """Spend one read of ``key_id``; raise :class:`RateLimited` when none is left. Returns the number
        of reads in the last hour when that just crossed the alert threshold (once an hour), else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.setdefault(key_id, _Bucket(tokens=self.burst, updated=now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1:
                wait = max(1, int((1 - bucket.tokens) / self.rate + 0.999))
                raise RateLimited(
                    f"too many reads with this key: at most {round(self.rate * 60)} a minute; retry in {wait} s",
                    retry_after=wait,
                )
            bucket.tokens -= 1
            bucket.recent.append(now)
            while bucket.recent and bucket.recent[0] <= now - 3600:
                bucket.recent.popleft()
            if len(bucket.recent) > self.alert_per_hour and now - bucket.alerted_at >= 3600:
                bucket.alerted_at = now
                return len(bucket.recent)
            return None


def throttle(request: Request, principal: Principal, engine: Engine, resource: str) -> None:
    """Spend one read of the caller's key (429 when none is left); on crossing the hourly alert threshold,
    hand the ``alert.read_volume`` audit event to the audit writer."""
    limiter: ReadLimiter | None = getattr(request.app.state, "read_limiter", None)
    if limiter is None:
        return
    reads_last_hour = limiter.take(principal.key_id)
    if reads_last_hour is None:
        return
    reader = Reader(
        actor=principal.submitter_tag, role=principal.role.value, facility_code=principal.facility_code, purpose=None
    )
    writer_for(engine).append(
        audit_row(
            reader=reader,
            action="alert.read_volume",
            resource=resource,
            outcome="alert",
            details={"reads_last_hour": reads_last_hour, "threshold": limiter.alert_per_hour},
        )
    )
