"""messages.text_purged_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

When the retention policy or a patient's erasure request removed a message's text, reasons and
notes.  The encrypted columns keep their text types: envelopes are text, and JSON columns hold
them as JSON strings, so encryption itself needs no schema change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("text_purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("text_purged_at")
