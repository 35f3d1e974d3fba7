"""paging channels; outbox rows that page them once per case

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``paging_channels`` (Slack, Teams, PagerDuty, e-mail; the target encrypted at rest) and, on
``webhook_deliveries``, ``channel_id`` and ``dedup_key`` with a unique index on the pair: the
database, not the workers, guarantees one page per case per channel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paging_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_paging_channels_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paging_channels")),
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_webhook_deliveries_channel_id_paging_channels"),
            "paging_channels",
            ["channel_id"],
            ["id"],
        )
        batch.create_index("ix_webhook_deliveries_page", ["channel_id", "dedup_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_page")
        batch.drop_constraint(
            op.f("fk_webhook_deliveries_channel_id_paging_channels"), type_="foreignkey"
        )
        batch.drop_column("dedup_key")
        batch.drop_column("channel_id")
    op.drop_table("paging_channels")
