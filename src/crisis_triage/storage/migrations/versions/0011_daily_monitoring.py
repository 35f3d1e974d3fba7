"""daily monitoring aggregates

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

One row per UTC day of the live score stream (counts, score histogram, language mix, PPV from
dispositions, drift statistics), kept by the service's worker for drift and flag-rate alerts
and the supervisor page.  Numbers and codes only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_monitoring",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("score_histogram", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("ppv_resolved", sa.Integer(), nullable=False),
        sa.Column("ppv_confirmed", sa.Integer(), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("ks_statistic", sa.Float(), nullable=True),
        sa.Column("ks_pvalue", sa.Float(), nullable=True),
        sa.Column("reference_source", sa.String(length=200), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("drift_alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_daily_monitoring")),
    )


def downgrade() -> None:
    op.drop_table("daily_monitoring")
