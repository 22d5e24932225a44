"""birth certificates (XML9): the child of each certificate and its mother's record

Revision ID: 0008_accuracy
Revises: 0007_sign
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_accuracy"
down_revision = "0007_sign"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "birth_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("mother_source_record_id", sa.Integer(), nullable=False),
        sa.Column("child_person_id", sa.Integer(), nullable=True),
        sa.Column("dob_date", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("child", sa.JSON(), nullable=False),
        sa.Column("mother", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["child_person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["encounter_id"], ["encounter.id"]),
        sa.ForeignKeyConstraint(["mother_source_record_id"], ["source_record.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("birth_certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_birth_certificate_child_person_id"), ["child_person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_birth_certificate_dob_date"), ["dob_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_birth_certificate_encounter_id"), ["encounter_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_birth_certificate_mother_source_record_id"), ["mother_source_record_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("birth_certificate")
