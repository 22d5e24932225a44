"""identity: persons, source records, links, events, review, constraints, term frequencies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:54:40.003910
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mpi.store.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('merged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['merged_into_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_merged_into_id'), ['merged_into_id'], unique=False)

    op.create_table('term_frequency',
    sa.Column('column_name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('column_name', 'value')
    )
    op.create_table('source_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('facility_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('ma_lk', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('patient_code', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('link_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('given_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('family_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('dob_date', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('dob_year', sa.Integer(), nullable=True),
    sa.Column('national_id', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('bhxh_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=15), nullable=True),
    sa.Column('commune_code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('encounter_id')
    )
    with op.batch_alter_table('source_record', schema=None) as batch_op:
        batch_op.create_index('ix_source_facility_patient', ['facility_code', 'patient_code'], unique=False)
        batch_op.create_index('ix_source_facility_ma_lk', ['facility_code', 'ma_lk'], unique=False)
        batch_op.create_index('ix_source_family_dob', ['family_key', 'dob_date'], unique=False)
        batch_op.create_index('ix_source_family_given_year', ['family_key', 'given_key', 'dob_year'], unique=False)
        batch_op.create_index('ix_source_given_commune', ['given_key', 'commune_code'], unique=False)
        batch_op.create_index('ix_source_given_dob', ['given_key', 'dob_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_record_bhxh_number'), ['bhxh_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_record_national_id'), ['national_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_record_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_record_phone'), ['phone'], unique=False)

    op.create_table('link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=True),
    sa.Column('match_probability', sa.Float(), nullable=True),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_source_record_id'), ['source_record_id'], unique=False)

    op.create_table('review_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=False),
    sa.Column('candidate_person_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=True),
    sa.Column('match_probability', sa.Float(), nullable=True),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_item_candidate_person_id'), ['candidate_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_item_source_record_id'), ['source_record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_item_status'), ['status'], unique=False)

    op.create_table('steward_constraint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('steward_constraint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_steward_constraint_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_steward_constraint_source_record_id'), ['source_record_id'], unique=False)

    op.create_table('link_event',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('source_record_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('other_person_id', sa.Integer(), nullable=True),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['link.id'], ),
    sa.ForeignKeyConstraint(['other_person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['source_record_id'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('link_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_event_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_event_source_record_id'), ['source_record_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('link_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_event_source_record_id'))
        batch_op.drop_index(batch_op.f('ix_link_event_person_id'))

    op.drop_table('link_event')
    with op.batch_alter_table('steward_constraint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_steward_constraint_source_record_id'))
        batch_op.drop_index(batch_op.f('ix_steward_constraint_person_id'))

    op.drop_table('steward_constraint')
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_item_status'))
        batch_op.drop_index(batch_op.f('ix_review_item_source_record_id'))
        batch_op.drop_index(batch_op.f('ix_review_item_candidate_person_id'))

    op.drop_table('review_item')
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_source_record_id'))
        batch_op.drop_index(batch_op.f('ix_link_person_id'))

    op.drop_table('link')
    with op.batch_alter_table('source_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_record_phone'))
        batch_op.drop_index(batch_op.f('ix_source_record_person_id'))
        batch_op.drop_index(batch_op.f('ix_source_record_national_id'))
        batch_op.drop_index(batch_op.f('ix_source_record_bhxh_number'))
        batch_op.drop_index('ix_source_given_dob')
        batch_op.drop_index('ix_source_given_commune')
        batch_op.drop_index('ix_source_family_given_year')
        batch_op.drop_index('ix_source_family_dob')
        batch_op.drop_index('ix_source_facility_ma_lk')
        batch_op.drop_index('ix_source_facility_patient')

    op.drop_table('source_record')
    op.drop_table('term_frequency')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_merged_into_id'))

    op.drop_table('person')
