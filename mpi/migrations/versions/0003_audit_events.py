"""audit events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:01:21.081758
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mpi.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
