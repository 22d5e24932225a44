"""source_record.name_sorted: the order-invariant name key and its blocking index

Revision ID: 0006_matching
Revises: 0005_load
Create Date: 2026-12-01 04:30:00

Existing rows get the key computed from their model row's ``name_key`` (the same tokens), in the column
and in ``features``, so that the new model's reordered-name level and blocking rule see them too.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006_matching"
down_revision = "0005_load"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_sorted", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_source_name_sorted_year", ["name_sorted", "dob_year"], unique=False)
    _backfill()


def _backfill() -> None:
    from linkage.normalise.names import sorted_name_key

    conn = op.get_bind()
    source = sa.table(
        "source_record",
        sa.column("id", sa.Integer),
        sa.column("features", sa.JSON),
        sa.column("name_sorted", sa.String),
    )
    rows = conn.execute(sa.select(source.c.id, source.c.features)).all()
    for row in rows:
        features = row.features if isinstance(row.features, dict) else json.loads(row.features)
        tokens = str(features.get("name_key") or "").split()
        key = (sorted_name_key(tokens) or None) if len(tokens) >= 2 else None
        year = features.get("dob_year")
        features = {**features, "name_sorted": key, "dob_year_text": f"{year:04d}" if isinstance(year, int) else None}
        conn.execute(source.update().where(source.c.id == row.id).values(name_sorted=key, features=features))


def downgrade() -> None:
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.drop_index("ix_source_name_sorted_year")
        batch_op.drop_column("name_sorted")
