"""messages.reason_items

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

A message's reasons as data (matched terms with their category and context, phrases with their
weight, the risk sentence's span, notes), stored at scoring time beside the reason strings so
that the case page no longer takes the strings apart.  Encrypted like ``messages.reasons`` (its
own associated data, ``messages.reason_items``); rows stored before this revision have NULL and
the case page reads their strings as before.

Plain ADD/DROP COLUMN on both databases, as in 0006: a batch rebuild of ``messages`` on SQLite
would drop a table that ``cases`` references.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("reason_items", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN reason_items")
