"""key lifecycle (expiry, last use, replacement) and server-side web sessions

Revision ID: 0005_load
Revises: 0005_steward
Create Date: 2026-12-01 05:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005_load'
down_revision = '0005_steward'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('replaced_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_api_key_replaced_by_id_api_key', 'api_key', ['replaced_by_id'], ['id'])

    op.create_table('web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['api_key.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_session_token_hash'), ['token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_token_hash'))
        batch_op.drop_index(batch_op.f('ix_web_session_key_id'))
    op.drop_table('web_session')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_constraint('fk_api_key_replaced_by_id_api_key', type_='foreignkey')
        batch_op.drop_column('replaced_by_id')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
