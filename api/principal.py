"""Who is calling: the authenticated API key reduced to what authorisation needs."""

from __future__ import annotations

from dataclasses import dataclass

from mpi.keys import CheckedKey, Role, key_grants
from mpi.store.models import ApiKey


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    role: Role
    facility_code: str | None
    grants: frozenset[str] = frozenset()
    """Sensitive categories this key may reveal with a typed reason (``mpi keys grant``)."""

    @classmethod
    def of(cls, key: ApiKey | CheckedKey) -> Principal:
        assert key.id is not None
        return cls(key_id=key.id, role=Role(key.role), facility_code=key.facility_code, grants=key_grants(key))

    @property
    def submitter_tag(self) -> str:
        return f"key:{self.key_id}"
