"""indexes for referrals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:24:56.265730
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mpi.store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('xml1', schema=None) as batch_op:
        batch_op.create_index('ix_xml1_ma_noi_den', ['ma_noi_den'], unique=False)

    with op.batch_alter_table('xml13', schema=None) as batch_op:
        batch_op.create_index('ix_xml13_ma_noi_den', ['ma_noi_den'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('xml13', schema=None) as batch_op:
        batch_op.drop_index('ix_xml13_ma_noi_den')

    with op.batch_alter_table('xml1', schema=None) as batch_op:
        batch_op.drop_index('ix_xml1_ma_noi_den')

