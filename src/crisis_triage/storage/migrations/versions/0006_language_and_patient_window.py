"""messages.language, messages.window_probability, messages.window_contributors

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

The language detected in each message (a model only scores languages it covers), and the
patient-level risk: the probability of a message read with the patient's earlier messages, and
which of those raised it (ids and numbers only, no text).

Plain ADD/DROP COLUMN on both databases (SQLite has both since 3.35): a batch rebuild of
``messages`` on SQLite would drop a table that ``cases`` references, which foreign keys forbid
once there are rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_COLUMNS = ("language", "window_probability", "window_contributors")


def upgrade() -> None:
    op.add_column("messages", sa.Column("language", sa.String(length=8), nullable=True))
    op.add_column("messages", sa.Column("window_probability", sa.Float(), nullable=True))
    op.add_column("messages", sa.Column("window_contributors", sa.JSON(), nullable=True))


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE messages DROP COLUMN {column}")
