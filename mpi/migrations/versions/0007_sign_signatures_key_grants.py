"""submission signature outcome, facility signing certificates, per-key sensitive grants

Revision ID: 0007_sign
Revises: 0006_matching
Create Date: 2026-12-01 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007_sign"
down_revision = "0006_matching"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("signature_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("signature_certificate", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive_grants", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.create_table(
        "facility_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("not_before", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("not_after", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["facility_code"], ["facility.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facility_code", "fingerprint", name="uq_facility_certificate"),
    )
    with op.batch_alter_table("facility_certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_facility_certificate_facility_code"), ["facility_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("facility_certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facility_certificate_facility_code"))
    op.drop_table("facility_certificate")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("sensitive_grants")
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("signature_certificate")
        batch_op.drop_column("signature_reason")
        batch_op.drop_column("signature_status")
