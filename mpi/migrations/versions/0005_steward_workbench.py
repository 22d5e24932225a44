"""steward workbench: actions (for undo), the event feed head, skipped review items

Revision ID: 0005_steward
Revises: 0005_reports
Create Date: 2026-12-01 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005_steward'
down_revision = '0005_reports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('steward_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('undoes_id', sa.Integer(), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['undoes_id'], ['steward_action.id'], ),
    sa.ForeignKeyConstraint(['undone_by_id'], ['steward_action.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('event_feed_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The head starts at the newest event already stored, so numbering continues without a gap.
    op.execute("INSERT INTO event_feed_head (id, last_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM link_event")
    with op.batch_alter_table('link_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_link_event_action_id'), ['action_id'], unique=False)
        batch_op.create_foreign_key('fk_link_event_action_id', 'steward_action', ['action_id'], ['id'])
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skipped_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.drop_column('skipped_at')
    with op.batch_alter_table('link_event', schema=None) as batch_op:
        batch_op.drop_constraint('fk_link_event_action_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_link_event_action_id'))
        batch_op.drop_column('action_id')
    op.drop_table('event_feed_head')
    op.drop_table('steward_action')
