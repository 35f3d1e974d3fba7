"""score tiers: a fast score at ingest, a final (semantic) score from the background worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``messages.score_tier`` says which tier gave the score shown ("fast" while the semantic
re-scoring is pending, "final" once done); ``semantic_due_at`` / ``semantic_attempts`` /
``semantic_error`` are the re-scoring worker's lease and retry bookkeeping.  Rows stored before
this revision were scored by a one-tier model: their scores are final and nothing is due.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("score_tier", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("final_scored_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("semantic_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column(
                "semantic_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False
            )
        )
        batch.add_column(sa.Column("semantic_error", sa.String(length=64), nullable=True))
    op.execute("UPDATE messages SET score_tier = 'final'")
    op.create_index(
        "ix_messages_semantic_due",
        "messages",
        ["semantic_due_at"],
        unique=False,
        sqlite_where=sa.text("semantic_due_at IS NOT NULL"),
        postgresql_where=sa.text("semantic_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_semantic_due", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in (
            "semantic_error",
            "semantic_attempts",
            "semantic_due_at",
            "final_scored_at",
            "score_tier",
        ):
            batch.drop_column(column)
