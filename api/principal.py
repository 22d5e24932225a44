"""Who is calling: the authenticated API key reduced to what authorisation needs."""

from __future__ import annotations

from dataclasses import dataclass

from mpi.keys import Role


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    role: Role
    facility_code: str | None

    @property
    def submitter_tag(self) -> str:
        return f"key:{self.key_id}"
